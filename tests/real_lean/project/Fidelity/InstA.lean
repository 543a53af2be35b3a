import Fidelity.Tag

instance instTagA : Inhabited Tag := ⟨⟨1⟩⟩
