module

-- Same header as Demo.Algebra: one warm session serves both.
public import Demo.Basic
import Std.Data.HashMap

namespace Demo

public theorem triple_mono {a b : Nat} (h : a ≤ b) : triple a ≤ triple b := by
  simp only [triple_eq]
  omega

end Demo
