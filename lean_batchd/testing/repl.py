"""SIMULATED Lean REPL: a stand-in that speaks the REPL's protocol. It is not Lean.

No Lean toolchain can be installed where lean-batchd is built and tested, so
this program stands in for `repl` wherever the pool can tell the difference:

- framing: requests are lines up to a blank line, joined without their
  newlines (a raw newline inside a JSON string is deleted, as in the real
  REPL); blocks starting with `#` or `--` get no reply; EOF exits 0; replies
  are pretty-printed JSON followed by a blank line;
- a malformed or unknown request kills it with `uncaught exception: ...` on
  stderr, as the real REPL dies;
- its first env-less command "imports" the header: it sleeps and allocates
  real (dirty, private) memory in proportion to the import closure; a second
  import in one process leaks the same again, like the real REPL;
- `env` and `proofState` ids are numbered per process exactly as the REPL
  numbers them; an unknown id gets `{"message": "Unknown environment."}`;
- replies are deterministic and read the text as Lean's lexer would
  (comments, docstrings and strings hide nothing): each `sorry` gives a sorry
  with a proof state, each declaration using one a single warning at its name,
  `#check`/`#print`/`#eval` an info message, an `import` after the header an
  error, and other text elaborates silently; every message says "(simulated)";
- faults for tests, written as comments in the command text:
  `-- sim:crash`, `-- sim:hang`, `-- sim:slow=SECONDS`, `-- sim:spike=MB`,
  `-- sim:garbage`, `-- sim:error` (an error message).

    python -m lean_batchd.testing.repl [--import-seconds S] [--import-seconds-per-module S]
        [--memory-mb M] [--memory-mb-per-module M] [--mapped-mb M] [--closures FILE] [--replay TRANSCRIPT]

`--replay NAME` answers with a recorded transcript instead (`NAME.in` and
`NAME.expected.out`): each request must equal the recorded one, and the
recorded reply bytes are written back unchanged.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..lake.lean_lexer import Kind, Token, tokenize

BANNER = "lean-batchd SIMULATED REPL: not Lean; replies are stand-ins\n"
_IMPORT_RE = re.compile(r"^\s*(?:public\s+)?(?:meta\s+)?import\s+(?:all\s+)?(\S+)", re.MULTILINE)
_FAULT_RE = re.compile(r"--\s*sim:(crash|hang|garbage|error|slow=([0-9.]+)|spike=([0-9.]+))")
_DECLARATIONS = frozenset({"theorem", "lemma", "def", "example", "instance", "abbrev", "opaque"})
_HOLD: list[Any] = []


def span(first: Token, last: Token | None = None) -> dict[str, Any]:
    """The REPL's `pos`/`endPos` (1-based line, 0-based column) of tokens `first` to `last`."""
    last = last or first
    return {
        "pos": {"line": first.line, "column": first.column},
        "endPos": {"line": last.line, "column": last.column + len(last.text)},
    }


def message(severity: str, first: Token, text: str, last: Token | None = None) -> dict[str, Any]:
    return {"severity": severity, **span(first, last), "data": f"{text} (simulated)"}


def sorry_declarations(tokens: list[Token]) -> list[Token]:
    """Where Lean warns that a declaration uses `sorry`: once per declaration, at its name
    (at the keyword for `example` and anonymous instances); a `sorry` outside any
    declaration is warned at itself. Comments, docstrings and strings never count: the
    text is tokenised as Lean would read it."""
    out: list[Token] = []
    current: Token | None = None
    warned = False
    for i, token in enumerate(tokens):
        if token.kind is Kind.IDENT and token.value in _DECLARATIONS:
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            named = token.value != "example" and after is not None and after.kind is Kind.IDENT
            current, warned = (after if named and after is not None else token), False
        elif token.kind is Kind.IDENT and token.value == "sorry" and not warned:
            out.append(current or token)
            warned = current is not None
    return out


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


def die(message: str) -> None:
    sys.stderr.write(f"uncaught exception: {json.dumps({'message': message})}\n")
    sys.stderr.flush()
    os._exit(1)


def allocate(mb: float) -> None:
    """Real private dirty memory: every page written."""
    if mb <= 0:
        return
    block = bytearray(int(mb * 1024 * 1024))
    view = memoryview(block)
    view[::4096] = b"\x01" * len(range(0, len(block), 4096))
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


class Simulator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.envs = 0
        self.proof_states = 0
        self.imports_done = 0
        self.closures: dict[str, int] = json.loads(Path(args.closures).read_text()) if args.closures else {}

    def closure_size(self, header: str) -> int:
        modules = _IMPORT_RE.findall(header)
        return sum(self.closures.get(m, 1) for m in modules) if self.closures else len(modules)

    def do_import(self, cmd: str) -> None:
        a = self.args
        size = self.closure_size(cmd)
        time.sleep(a.import_seconds + a.import_seconds_per_module * size)
        allocate(a.memory_mb + a.memory_mb_per_module * size)
        if self.imports_done == 0:
            map_shared(a.mapped_mb)
        self.imports_done += 1

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
            if kind == "error":
                out.append(
                    {
                        "severity": "error",
                        "pos": {"line": 1, "column": 0},
                        "endPos": {"line": 1, "column": 1},
                        "data": "simulated error (sim:error)",
                    }
                )
        return {"messages": out}

    def command(self, text: str, env: int | None, obj: dict[str, Any]) -> dict[str, Any]:
        if env is not None and not (0 <= env < self.envs):
            return {"message": "Unknown environment."}
        if env is None:
            self.do_import(text)
        messages: list[dict[str, Any]] = list(self.faults(text)["messages"])
        tokens, _ = tokenize(text)
        sorries: list[dict[str, Any]] = []
        for token in tokens:
            if token.kind is not Kind.IDENT:
                continue
            if token.value == "import" and token.first_on_line and env is not None:
                messages.append(
                    message("error", token, "invalid 'import' command, it must be used in the beginning of the file")
                )
            elif token.value == "sorry":
                sorries.append({"proofState": self.proof_states, **span(token), "goal": "⊢ (simulated goal)"})
                self.proof_states += 1
        for at in sorry_declarations(tokens):
            messages.append(message("warning", at, "declaration uses `sorry`"))
        for i, token in enumerate(tokens[:-1]):
            if token.text == "#" and tokens[i + 1].value in ("check", "print", "eval") and len(tokens) > i + 2:
                what = tokens[i + 2]
                messages.append(message("info", token, f"#{tokens[i + 1].value} {what.text}", what))
        messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
        reply: dict[str, Any] = {}
        if sorries:
            reply["sorries"] = sorries
        if messages:
            reply["messages"] = messages
        if obj.get("allTactics"):
            reply["tactics"] = []
        reply["env"] = self.envs
        self.envs += 1
        return reply

    def handle(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            die("expected a JSON object")
        if "tactic" in obj and "proofState" in obj:
            if not (isinstance(obj["proofState"], int) and 0 <= obj["proofState"] < self.proof_states):
                return {"message": "Unknown proof state."}
            self.faults(str(obj["tactic"]))
            self.proof_states += 1
            done = "sorry" not in obj["tactic"]
            return {
                "proofStatus": "Completed" if done else "Incomplete: contains sorry",
                "proofState": self.proof_states - 1,
                "goals": [],
            }
        if "pickleTo" in obj and "env" in obj:
            known = isinstance(obj["env"], int) and 0 <= obj["env"] < self.envs
            return {"env": obj["env"]} if known else {"message": "Unknown environment."}
        if "unpickleEnvFrom" in obj:
            self.do_import("")
            self.envs += 1
            return {"env": self.envs - 1}
        if "pickleTo" in obj and "proofState" in obj:
            return (
                {"proofState": obj["proofState"], "goals": []}
                if 0 <= obj["proofState"] < self.proof_states
                else {"message": "Unknown proof State."}
            )
        if "unpickleProofStateFrom" in obj:
            self.proof_states += 1
            return {"proofState": self.proof_states - 1, "goals": []}
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
    p.add_argument("--mapped-mb", type=float, default=0.0, help="shared read-only mapped memory, like .olean files")
    p.add_argument("--closures", help="JSON file: module -> closure size (default: 1 per import)")
    p.add_argument("--replay", help="answer with a recorded transcript (path without .in)")
    args = p.parse_args(argv)
    sys.stderr.write(BANNER)
    sys.stderr.flush()
    if args.replay:
        return replay(args.replay)
    sim = Simulator(args)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
