import Fidelity.InstA
import Fidelity.InstB

-- Two instances of equal priority: which one `default` finds follows the import order,
-- so Fidelity.OrderBA (the same imports, the other way round) is another session.
#eval (default : Tag).n
