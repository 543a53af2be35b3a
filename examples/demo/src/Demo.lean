import Demo.Basic
import Demo.Algebra
import Demo.Order
import Demo.Lemmas
