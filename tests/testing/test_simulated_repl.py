"""The SIMULATED REPL reads a command as Lean's lexer would: nothing hidden in a comment,
a docstring or a string invents an error or a warning."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from lean_batchd.testing import simulated_repl_command


def ask(*commands: dict[str, Any]) -> list[dict[str, Any]]:
    text = "".join(json.dumps(c) + "\n\n" for c in commands)
    done = subprocess.run(simulated_repl_command(), input=text, capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(block) for block in done.stdout.split("\n\n") if block.strip()]


BODY = """/-! A module docstring that shows an example:
```
import Mathlib.Tactic
theorem shown : True := sorry
```
-/
/- A commented-out block:
import Old.Stuff
-/
-- sorry: not yet
def greeting := "sorry, import failed"

@[simp] theorem two_sorries (n : Nat) : n = n ∧ True := by
  constructor
  · sorry
  · sorry

example : True := sorry
"""


def test_comments_docstrings_and_strings_hide_imports_and_sorries() -> None:
    _, reply = ask({"cmd": "import Demo.Basic"}, {"cmd": BODY, "env": 0})
    messages = reply["messages"]
    assert [m["severity"] for m in messages] == ["warning", "warning"]  # no invented `import` error
    lines = BODY.split("\n")
    theorem = next(i for i, line in enumerate(lines, 1) if "two_sorries" in line)
    example = next(i for i, line in enumerate(lines, 1) if line.startswith("example"))
    column = lines[theorem - 1].index("two_sorries")
    assert messages[0]["pos"] == {"line": theorem, "column": column}  # once per declaration, at its name
    assert messages[0]["endPos"] == {"line": theorem, "column": column + len("two_sorries")}
    assert messages[1]["pos"] == {"line": example, "column": 0}  # `example`: at the keyword
    assert all(m["data"] == "declaration uses `sorry` (simulated)" for m in messages)
    assert [s["proofState"] for s in reply["sorries"]] == [0, 1, 2]  # every sorry term has its goal


def test_an_import_after_the_header_is_an_error_where_it_stands() -> None:
    _, reply = ask({"cmd": "import Demo.Basic"}, {"cmd": "def x := 1\n  import Demo.Order\n", "env": 0})
    (error,) = reply["messages"]
    assert error["severity"] == "error" and error["pos"] == {"line": 2, "column": 2}
    assert "must be used in the beginning of the file" in error["data"]
