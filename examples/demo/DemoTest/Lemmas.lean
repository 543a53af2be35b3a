import Demo.Lemmas

example : Demo.triple 2 = 6 := by decide
