import Fidelity.InstB
import Fidelity.InstA

#eval (default : Tag).n
