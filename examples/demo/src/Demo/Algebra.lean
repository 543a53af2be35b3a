module

public import Demo.Basic
import Std.Data.HashMap

/-! Algebraic facts about `Demo.triple`. -/

namespace Demo

public theorem triple_add (a b : Nat) : triple (a + b) = triple a + triple b := by
  simp only [triple_eq]
  omega

end Demo
