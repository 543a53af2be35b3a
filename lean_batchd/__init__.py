"""lean-batchd: keep Lean 4 imports warm, plan work by import set, serve editors."""

__version__ = "0.1.0"
