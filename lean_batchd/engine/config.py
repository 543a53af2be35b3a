"""What an engine is made with: its pool, how workers and Lean start, watching, the store."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..executors import ExecutorChoice
from ..lake.project import ProjectOptions
from ..lake.workspace import WorkspaceOptions
from ..workers.pool import PoolConfig


@dataclass(frozen=True, slots=True)
class EngineConfig:
    pool: PoolConfig = field(default_factory=PoolConfig)
    worker_command: tuple[str, ...] | None = None
    """Overrides finding the REPL (the command line passes the SIMULATED REPL here)."""
    lean_command: tuple[str, ...] | None = None
    """Runs Lean on one file where a REPL session cannot (default `lake env lean`)."""
    lake_command: tuple[str, ...] | None = None
    """Asks Lake whether builds are up to date (default: `lake` on PATH; without it, mtimes)."""
    simulated: bool = False
    repl_setting: str | None = None
    watch: bool = True
    debounce: float = 0.1
    max_delay: float = 1.0
    verify_interval: float | None = 60.0
    """A periodic stat rescan catches events the watcher may have lost."""
    prewarm_on_open: bool = True
    store: bool = True
    """Remember each project's model and plan across runs (and its outcomes, with `result_cache`)."""
    result_cache: bool = True
    """Answer a `check` from the project's store when nothing its outcome depends on changed."""
    executor: ExecutorChoice = field(default_factory=ExecutorChoice)
    """Where sessions run: the local pool, or Ray actors (`executors`)."""

    def project_options(self) -> ProjectOptions:
        """How the engine opens a project's model: asking `lean --version` only for real Lean. A
        model a caller opened with these options can be handed to the engine (`Engine(models=)`)."""
        return ProjectOptions(workspace=WorkspaceOptions(query_lean_version=not self.simulated))
