"""SIMULATED Lean REPL: a stand-in that speaks the REPL's protocol. It is not Lean.

No Lean toolchain can be installed where lean-batchd is built and tested, so
this program stands in for `repl` wherever the pool can tell the difference,
and answers with the shapes and ids the REPL's recorded sessions show
(`tests/data/repl-transcripts`; read against leanprover-community/repl
v4.33.0-rc2, `REPL/Main.lean`):

- framing: requests are lines up to a blank line, joined without their
  newlines (a raw newline inside a JSON string is deleted, as in the real
  REPL); blocks starting with `#` or `--` get no reply; EOF exits 0; replies
  are pretty-printed JSON followed by a blank line;
- a malformed or unknown request kills it with `uncaught exception: ...` on
  stderr, as the real REPL dies; so does unpickling a file that is not there;
- its first env-less command "imports" the header: it sleeps and allocates
  real (dirty, private) memory in proportion to the import closure; a second
  import in one process leaks the same again, like the real REPL;
- every later command allocates `--memory-mb-per-command` more and keeps it:
  the real REPL frees nothing (it keeps each command's environment, messages
  and info trees for the life of the process);
- when an allocation fails (an address-space limit), it dies the way Lean's
  runtime does: `INTERNAL PANIC: out of memory` on stderr, exit code 1
  (`lean_internal_panic_out_of_memory`, leanprover/lean4 src/runtime/object.cpp);
- `env` and `proofState` ids are numbered per process exactly as the REPL
  numbers them: a command's sorries first, then its `rootGoals`, then its
  `allTactics` entries; a tactic step's sorries, then the step itself; a
  proof state's `pickleTo` records a new state (an env's keeps its id);
  an unknown id gets the REPL's error (`Unknown environment.`, ...);
- an env remembers what its command set and declared: `set_option` holds for
  every command run on it or on an env made from it (options under
  `sim.undeclared` are unknown to it, as an option no import declares), and
  declaring a name its env already has is an error;
- replies read the text as Lean's lexer would (`lean_text`): each `sorry` gives
  a sorry with a proof state (without a position in a tactic step), each
  declaration using one a single warning at its name, `#check`/`#print`/`#eval`
  an info message (`#eval Lean.versionString` the version it stands in for), an
  `import` after the header an error, and other text elaborates silently; every
  message says "(simulated)";
- faults for tests, written as comments in the command text:
  `-- sim:crash`, `-- sim:hang`, `-- sim:slow=SECONDS`, `-- sim:grow=MB` (allocate
  and keep MB more, in the order written: `-- sim:grow=300 -- sim:slow=5` grows,
  then runs on), `-- sim:garbage`, `-- sim:error` (an error message),
  `-- sim:big=MB` (a reply that large), `-- sim:options` (an info message listing
  the env's options).

    python -m lean_batchd.testing.repl [--import-seconds S] [--import-seconds-per-module S]
        [--memory-mb M] [--memory-mb-per-module M] [--memory-mb-per-command M] [--mapped-mb M]
        [--closures FILE] [--lean-version V] [--oleans-from V] [--replay TRANSCRIPT]

`--lean-version` is the Lean version it stands in for (default: the one the
`lean-toolchain` of its working folder names); `--oleans-from V` makes every
import fail as Lean fails on `.olean` files another version wrote.
`--replay NAME` answers with a recorded transcript instead (`NAME.in` and
`NAME.expected.out`): each request must equal the recorded one, and the
recorded reply bytes are written back unchanged.
"""

from __future__ import annotations

import argparse
import errno
import json
import mmap
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..lake.lean_lexer import Kind
from ..lake.toolchain import read_toolchain_file
from .lean_text import LeanText, message, span

BANNER = "lean-batchd SIMULATED REPL: not Lean; replies are stand-ins\n"
_IMPORT_RE = re.compile(r"^\s*(?:public\s+)?(?:meta\s+)?import\s+(?:all\s+)?(\S+)", re.MULTILINE)
_FAULT_RE = re.compile(r"--\s*sim:(crash|hang|garbage|error|slow=([0-9.]+)|grow=([0-9.]+)|big=([0-9.]+))")
_OPTIONS_RE = re.compile(r"--\s*sim:options")
UNDECLARED = "sim.undeclared"
"""Options under this name are unknown to the stand-in, as an option no import declares is to Lean."""
GOAL = "⊢ (simulated goal)"
_HOLD: list[Any] = []


def pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1, ensure_ascii=False)


def read_requests(stream: Any) -> Any:
    """Yield request texts the way the REPL reads them."""
    lines: list[str] = []
    for raw in stream:
        line = raw.rstrip("\n")
        if line.strip():
            lines.append(line)
            continue
        if lines:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def out_of_memory() -> None:
    """What Lean's runtime does when an allocation fails (`lean_internal_panic`: message, exit 1)."""
    _HOLD.clear()
    sys.stderr.write("INTERNAL PANIC: out of memory\n")
    sys.stderr.flush()
    os._exit(1)


def die(message: str, raw: bool = False) -> None:
    """Exit as the REPL does on an exception nothing catches: a parse error's text is JSON, an
    I/O error's is Lean's own (`raw`)."""
    text = message if raw else json.dumps({"message": message})
    sys.stderr.write(f"uncaught exception: {text}\n")
    sys.stderr.flush()
    os._exit(1)


def allocate(mb: float) -> None:
    """Real private dirty memory, every page present: an anonymous private mapping populated by
    the kernel in one call (half the cost of touching each page; the pages count as private
    dirty all the same). A refused mapping is running out of memory, as in Lean."""
    if mb <= 0:
        return
    size = int(mb * 1024 * 1024)
    populate = getattr(mmap, "MAP_POPULATE", 0)
    try:
        block = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | populate)
    except OSError as e:
        if e.errno == errno.ENOMEM:
            raise MemoryError from e
        raise
    if not populate:
        memoryview(block)[::4096] = b"\x01" * len(range(0, size, 4096))
    _HOLD.append(block)


def map_shared(mb: float) -> None:
    """Memory-mapped, read-only, shared pages: what `.olean` files look like to the kernel."""
    if mb <= 0:
        return
    with tempfile.NamedTemporaryFile(prefix="lean-batchd-sim-olean-", delete=True) as f:
        f.truncate(int(mb * 1024 * 1024))
        mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    total = 0
    for offset in range(0, len(mapped), 4096):
        total += mapped[offset]
    _HOLD.append(mapped)


def project_lean_version(folder: Path) -> str:
    """The version `folder`'s `lean-toolchain` names (a REPL built for the project runs it)."""
    toolchain, _ = read_toolchain_file(folder / "lean-toolchain")
    return toolchain.version or toolchain.spec or "unknown"


@dataclass(frozen=True, slots=True)
class EnvState:
    """What a command left behind that later commands on its env see."""

    options: dict[str, str] = field(default_factory=dict)
    declared: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        return {"options": self.options, "declared": sorted(self.declared)}


class Simulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.envs: list[EnvState] = []
        self.proof_states: list[list[str]] = []
        """Each proof state's goals."""
        self.imports_done = 0
        self.closures: dict[str, int] = json.loads(Path(args.closures).read_text()) if args.closures else {}
        self.lean_version: str = args.lean_version or project_lean_version(Path.cwd())

    def closure_size(self, header: str) -> int:
        modules = _IMPORT_RE.findall(header)
        return sum(self.closures.get(m, 1) for m in modules) if self.closures else len(modules)

    def do_import(self, cmd: str) -> dict[str, Any] | None:
        """Load the header's imports; the error Lean reports when their `.olean` files are another
        version's (`lean_compacted_region_read`: "incompatible header")."""
        a = self.args
        size = self.closure_size(cmd)
        time.sleep(a.import_seconds + a.import_seconds_per_module * size)
        allocate(a.memory_mb + a.memory_mb_per_module * size)
        if self.imports_done == 0:
            map_shared(a.mapped_mb)
        self.imports_done += 1
        modules = _IMPORT_RE.findall(cmd)
        if a.oleans_from and a.oleans_from != self.lean_version and modules:
            olean = Path(".lake/build/lib/lean", *modules[0].split(".")).with_suffix(".olean").resolve()
            return {
                "severity": "error",
                "pos": {"line": 1, "column": 0},
                "endPos": {"line": 1, "column": 0},
                "data": f"failed to read file '{olean}', incompatible header (simulated)",
            }
        return None

    def new_state(self, goals: list[str]) -> int:
        self.proof_states.append(goals)
        return len(self.proof_states) - 1

    def faults(self, text: str) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for m in _FAULT_RE.finditer(text):
            kind = m.group(1)
            if kind == "crash":
                sys.stderr.write("INTERNAL PANIC: simulated crash\n")
                sys.stderr.flush()
                os._exit(134)
            if kind == "hang":
                while True:
                    time.sleep(3600)
            if kind == "garbage":
                sys.stdout.write("this is not JSON }{\n\n")
                sys.stdout.flush()
            if m.group(2):
                time.sleep(float(m.group(2)))
            if m.group(3):
                allocate(float(m.group(3)))
            if kind == "error" or m.group(4):
                big = "x" * int(float(m.group(4)) * 1024 * 1024) if m.group(4) else ""
                out.append(
                    {
                        "severity": "error",
                        "pos": {"line": 1, "column": 0},
                        "endPos": {"line": 1, "column": 1},
                        "data": f"simulated error (sim:{kind}){big}",
                    }
                )
        return {"messages": out}

    def command(self, text: str, env: int | None, obj: dict[str, Any]) -> dict[str, Any]:
        if env is not None and not (0 <= env < len(self.envs)):
            return {"message": "Unknown environment."}
        messages: list[dict[str, Any]] = []
        if env is None:
            failed = self.do_import(text)
            messages += [failed] if failed is not None else []
        else:
            allocate(self.args.memory_mb_per_command)
        parent = EnvState() if env is None else self.envs[env]
        messages += self.faults(text)["messages"]
        lean = LeanText.read(text)
        for token in lean.tokens:
            if token.kind is Kind.IDENT and token.value == "import" and token.first_on_line and env is not None:
                messages.append(
                    message("error", token, "invalid 'import' command, it must be used in the beginning of the file")
                )
        options = dict(parent.options)
        for option in lean.set_options():
            if option.name.startswith(UNDECLARED):
                messages.append(message("error", option.at, f"unknown option '{option.name}'"))
            else:
                options[option.name] = option.value
        declared = set(parent.declared)
        for name, at in lean.declarations():
            if name in declared:
                messages.append(message("error", at, f"'{name}' has already been declared"))
            declared.add(name)
        sorries = [{"proofState": self.new_state([GOAL]), **span(t), "goal": GOAL} for t in lean.sorries()]
        for at in lean.sorry_declarations():
            messages.append(message("warning", at, "declaration uses `sorry`"))
        for info in lean.infos():
            asked = f"#{info.command} {info.argument}"
            shown = f'"{self.lean_version}"' if info.argument == "Lean.versionString" else asked
            messages.append(message("info", info.first, shown, info.keyword))
        if _OPTIONS_RE.search(text) and lean.tokens:
            listed = ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "none"
            messages.append(message("info", lean.tokens[0], f"options: {listed}"))
        messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
        if obj.get("rootGoals"):
            for by in lean.root_goals():
                where = {"line": by.line, "column": by.column}
                sorries.append({"proofState": self.new_state([GOAL]), "pos": where, "goal": GOAL, "endPos": where})
        reply: dict[str, Any] = {}
        if obj.get("allTactics"):
            reply["tactics"] = [
                {
                    "usedConstants": [],
                    "tactic": lean.source(first, last),
                    "proofState": self.new_state([GOAL]),
                    **span(first, last),
                    "goals": GOAL,
                }
                for first, last in lean.tactics()
            ]
        if sorries:
            reply["sorries"] = sorries
        if messages:
            reply["messages"] = messages
        self.envs.append(EnvState(options, frozenset(declared)))
        reply["env"] = len(self.envs) - 1
        return reply

    def proof_step(self, tactic: str, proof_state: object) -> dict[str, Any]:
        """A tactic on a proof state: its sorries (no positions: the tactic is its own input) get
        proof states first, then the step itself."""
        if not (isinstance(proof_state, int) and 0 <= proof_state < len(self.proof_states)):
            return {"message": "Unknown proof state."}
        self.faults(tactic)
        sorries = [{"proofState": self.new_state([GOAL]), "goal": GOAL} for _ in LeanText.read(tactic).sorries()]
        reply: dict[str, Any] = {"sorries": sorries} if sorries else {}
        reply["proofStatus"] = "Incomplete: contains sorry" if sorries else "Completed"
        reply["proofState"] = self.new_state([])
        reply["goals"] = []
        return reply

    def proof_reply(self, goals: list[str]) -> dict[str, Any]:
        """`createProofStepReponse`: records a new state for a pickled or unpickled one."""
        status = "Incomplete: open goals remain" if goals else "Completed"
        return {"proofStatus": status, "proofState": self.new_state(list(goals)), "goals": list(goals)}

    def write_pickle(self, path: str, state: dict[str, Any]) -> None:
        try:
            Path(path).write_text(json.dumps({"simulated": True, **state}), encoding="utf-8")
        except OSError as e:
            die(f"{e.strerror} (error code: {e.errno})\n  file: {path}", raw=True)

    def read_pickle(self, path: str) -> dict[str, Any]:
        """The REPL unpickles outside any `try`: a missing file kills it (`REPL/Main.lean`)."""
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            die(f"{e.strerror.lower() if e.strerror else e} (error code: {e.errno})\n  file: {path}", raw=True)
        except ValueError:
            die(f"failed to read file '{path}', invalid header", raw=True)
        return state if isinstance(state, dict) else {}

    def handle(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            die("expected a JSON object")
        if "tactic" in obj and "proofState" in obj:
            return self.proof_step(str(obj["tactic"]), obj["proofState"])
        if "pickleTo" in obj and "env" in obj:
            env = obj["env"]
            if not (isinstance(env, int) and 0 <= env < len(self.envs)):
                return {"message": "Unknown environment."}
            self.write_pickle(str(obj["pickleTo"]), self.envs[env].to_json())
            return {"env": env}
        if "unpickleEnvFrom" in obj:
            state = self.read_pickle(str(obj["unpickleEnvFrom"]))
            self.do_import("")
            self.envs.append(EnvState(dict(state.get("options", {})), frozenset(state.get("declared", ()))))
            return {"env": len(self.envs) - 1}
        if "pickleTo" in obj and "proofState" in obj:
            ps = obj["proofState"]
            if not (isinstance(ps, int) and 0 <= ps < len(self.proof_states)):
                return {"message": "Unknown proof State."}
            self.write_pickle(str(obj["pickleTo"]), {"goals": self.proof_states[ps]})
            return self.proof_reply(self.proof_states[ps])
        if "unpickleProofStateFrom" in obj:
            env = obj.get("env")
            if env is not None and not (isinstance(env, int) and 0 <= env < len(self.envs)):
                return {"message": "Unknown environment."}
            state = self.read_pickle(str(obj["unpickleProofStateFrom"]))
            goals = state.get("goals", [])
            return self.proof_reply([str(g) for g in goals] if isinstance(goals, list) else [])
        env = obj.get("env")
        if env is not None and not isinstance(env, int):
            die("env must be a natural number")
        if "cmd" in obj and isinstance(obj["cmd"], str):
            return self.command(obj["cmd"], env, obj)
        if "path" in obj and isinstance(obj["path"], str):
            try:
                text = Path(obj["path"]).read_text()
            except OSError as e:
                return {"message": f"no such file or directory (error code: 2)\n  file: {obj['path']} ({e.strerror})"}
            return self.command(text, env, obj)
        die(f"could not parse request: {json.dumps(obj)[:200]}")
        return {}


def replay(name: str) -> int:
    """Answer with a recorded transcript, checking each request against the recording."""
    with open(name + ".in", encoding="utf-8") as f:
        recorded = list(read_requests(f))
    replies = [b for b in Path(name + ".expected.out").read_text(encoding="utf-8").split("\n\n") if b.strip()]
    expected = [json.loads(r) for r in recorded if not r.startswith(("#", "--"))]
    for i, text in enumerate(read_requests(sys.stdin)):
        if text.startswith(("#", "--")):
            continue
        got = json.loads(text)
        if i >= len(expected) or got != expected[i]:
            die(f"replay mismatch at request {i + 1}: got {text[:200]}")
        sys.stdout.write(replies[i] + "\n\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--import-seconds", type=float, default=0.0)
    p.add_argument("--import-seconds-per-module", type=float, default=0.0)
    p.add_argument("--memory-mb", type=float, default=0.0)
    p.add_argument("--memory-mb-per-module", type=float, default=0.0)
    p.add_argument("--memory-mb-per-command", type=float, default=0.0, help="kept by every command after the import")
    p.add_argument("--mapped-mb", type=float, default=0.0, help="shared read-only mapped memory, like .olean files")
    p.add_argument("--closures", help="JSON file: module -> closure size (default: 1 per import)")
    p.add_argument("--lean-version", help="the Lean version it stands in for (default: the project's)")
    p.add_argument("--oleans-from", metavar="VERSION", help="imports fail: their .olean files are this version's")
    p.add_argument("--replay", help="answer with a recorded transcript (path without .in)")
    args = p.parse_args(argv)
    sys.stderr.write(BANNER)
    sys.stderr.flush()
    if args.replay:
        return replay(args.replay)
    sim = Simulator(args)
    try:
        for text in read_requests(sys.stdin):
            if text.startswith(("#", "--")):
                continue
            try:
                obj = json.loads(text)
            except ValueError as e:
                die(f"invalid JSON: {e}")
            reply = sim.handle(obj)
            sys.stdout.write(pretty(reply) + "\n\n")
            sys.stdout.flush()
    except MemoryError:
        out_of_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
