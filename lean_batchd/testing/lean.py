"""SIMULATED `lean --json FILE`: stands in for Lean run on one whole file. It is not Lean.

    python -m lean_batchd.testing.lean [--json] [-R ROOT] [-D NAME=VALUE ...] FILE

It reads the file as the SIMULATED REPL reads a command (`lean_text`), with the
header's imports allowed, and prints Lean's `--json` messages, one per line
(`severity` `information`/`warning`/`error`, `pos`/`endPos`, `data`). `-D`
options are taken as Lean takes them: one under `sim.undeclared` is unknown
(Lean stops: `invalid -D parameter`), unless written `weak.` (then skipped).
`-- sim:options` in the file adds an info message with the options set and the
main module Lean names from the path under `-R`; `-- sim:error` an error on its
line. It
exits 1 when a message is an error, as `lean` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .lean_text import LeanText, message
from .repl import UNDECLARED

BANNER = "lean-batchd SIMULATED lean: not Lean; messages are stand-ins\n"


def main_module(path: Path, root: Path) -> str:
    """What `lean -R ROOT` names the module in PATH (`moduleNameOfFileName`)."""
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return "_stdin"
    return ".".join(rel.with_suffix("").parts)


def lean_message(reply_message: dict[str, Any], file: str) -> dict[str, Any]:
    severity = {"info": "information"}.get(reply_message["severity"], reply_message["severity"])
    return {"fileName": file, "caption": "", **reply_message, "severity": severity}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true")
    p.add_argument("-R", "--root", default=".")
    p.add_argument("-D", action="append", default=[], dest="defines", metavar="NAME=VALUE")
    p.add_argument("file")
    args = p.parse_args(argv)
    sys.stderr.write(BANNER)
    options: dict[str, str] = {}
    for define in args.defines:
        name, _, value = define.partition("=")
        weak = name.startswith("weak.")
        name = name.removeprefix("weak.")
        if name.startswith(UNDECLARED):
            if weak:
                continue
            sys.stderr.write(f"invalid -D parameter, unknown configuration option '{name}'\n")
            return 1
        options[name] = value
    path = Path(args.file)
    text = path.read_text(encoding="utf-8")
    lean = LeanText.read(text)
    messages = [message("warning", at, "declaration uses `sorry`") for at in lean.sorry_declarations()]
    messages += [message("info", i.first, f"#{i.command} {i.argument}", i.keyword) for i in lean.infos()]
    if "-- sim:options" in text and lean.tokens:
        listed = ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "none"
        shown = f"options: {listed}; main module: {main_module(path, Path(args.root))}"
        messages.append(message("info", lean.tokens[0], shown))
    for number, line in enumerate(text.split("\n"), 1):
        if "-- sim:error" in line:
            where = {"line": number, "column": 0}
            messages.append({"severity": "error", "pos": where, "endPos": where, "data": "simulated error (sim:error)"})
    seen: set[str] = set()
    for name, at in lean.declarations():
        if name in seen:
            messages.append(message("error", at, f"'{name}' has already been declared"))
        seen.add(name)
    messages.sort(key=lambda m: (m["pos"]["line"], m["pos"]["column"]))
    for m in messages:
        sys.stdout.write(json.dumps(lean_message(m, args.file), ensure_ascii=False) + "\n")
    return 1 if any(m["severity"] == "error" for m in messages) else 0


if __name__ == "__main__":
    sys.exit(main())
