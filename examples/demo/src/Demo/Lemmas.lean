import Demo.Algebra
import Demo.Order

namespace Demo

theorem triple_le_add (a b : Nat) (h : a ≤ b) : triple a ≤ triple a + triple b :=
  Nat.le_add_right _ _

example : triple 2 = 6 := by decide

end Demo
