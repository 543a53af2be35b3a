/-
Copyright (c) 2026 lean-batchd contributors. Released under Apache 2.0.
-/
import Helper.Core

/-! # Basic definitions -/

namespace Demo

def triple (n : Nat) : Nat := n + Helper.double n

theorem triple_eq (n : Nat) : triple n = 3 * n := by
  unfold triple
  rw [Helper.double_eq]
  omega

end Demo
