"""The daemon core: watchers + model + planner + pool. No LSP."""

from .engine import Engine, EngineConfig
from .values import EngineError, ErrorKind, FileMessage, ModuleInfo, Range, RunResult

__all__ = ["Engine", "EngineConfig", "EngineError", "ErrorKind", "FileMessage", "ModuleInfo", "Range", "RunResult"]
