structure Tag where
  n : Nat
