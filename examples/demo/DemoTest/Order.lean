import Demo.Order

example : Demo.triple 1 ≤ Demo.triple 2 := Demo.triple_mono (by decide)
