import Fidelity.Basic

-- `n` is bound only by auto-bound implicits: an error under the lakefile's `autoImplicit = false`,
-- silently accepted by a REPL session that never set it.
theorem double_self (h : double n = n + n) : True := trivial
