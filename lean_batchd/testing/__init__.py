"""Test and benchmark support: a simulated Lean REPL and generated Lake trees.

Nothing here is Lean. Everything that stands in for Lean says so (SIMULATED).
"""

import sys


def simulated_repl_command(
    import_seconds: float = 0.0,
    memory_mb: float = 0.0,
    memory_mb_per_module: float = 0.0,
    import_seconds_per_module: float = 0.0,
    memory_mb_per_command: float = 0.0,
    mapped_mb: float = 0.0,
    closures: str | None = None,
) -> tuple[str, ...]:
    """The worker command that runs the SIMULATED REPL (see `lean_batchd.testing.repl`)."""
    argv = [sys.executable, "-P", "-m", "lean_batchd.testing.repl"]
    for flag, value in (
        ("--import-seconds", import_seconds),
        ("--import-seconds-per-module", import_seconds_per_module),
        ("--memory-mb", memory_mb),
        ("--memory-mb-per-module", memory_mb_per_module),
        ("--memory-mb-per-command", memory_mb_per_command),
        ("--mapped-mb", mapped_mb),
    ):
        if value:
            argv += [flag, str(value)]
    if closures:
        argv += ["--closures", closures]
    return tuple(argv)


def simulated_lean_command() -> tuple[str, ...]:
    """The command that runs the SIMULATED `lean` on one file (see `lean_batchd.testing.lean`)."""
    return (sys.executable, "-P", "-m", "lean_batchd.testing.lean")


def simulated_lake_command() -> tuple[str, ...]:
    """The command that runs the SIMULATED `lake build` (see `lean_batchd.testing.lake`)."""
    return (sys.executable, "-P", "-m", "lean_batchd.testing.lake")
