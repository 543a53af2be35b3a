"""The daemon core: watchers + model + planner + pool. No LSP."""

from .config import EngineConfig
from .engine import Engine
from .values import EngineError, ErrorKind, FileMessage, ModuleInfo, Range, RunResult

__all__ = ["Engine", "EngineConfig", "EngineError", "ErrorKind", "FileMessage", "ModuleInfo", "Range", "RunResult"]
