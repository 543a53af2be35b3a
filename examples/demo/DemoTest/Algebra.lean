import Demo.Algebra

example : Demo.triple (1 + 2) = Demo.triple 1 + Demo.triple 2 := Demo.triple_add 1 2
