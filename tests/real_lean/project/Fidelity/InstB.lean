import Fidelity.Tag

instance instTagB : Inhabited Tag := ⟨⟨2⟩⟩
