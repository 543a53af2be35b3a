"""Test and benchmark support: a simulated Lean REPL and generated Lake trees.

Nothing here is Lean. Everything that stands in for Lean says so (SIMULATED).
"""
