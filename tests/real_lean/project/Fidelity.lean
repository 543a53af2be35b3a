import Fidelity.Basic
import Fidelity.AutoImplicit
import Fidelity.Module
import Fidelity.OrderAB
import Fidelity.OrderBA
