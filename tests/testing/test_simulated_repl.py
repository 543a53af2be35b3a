"""The SIMULATED REPL reads a command as Lean's lexer would: nothing hidden in a comment,
a docstring or a string invents an error or a warning."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
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


def test_unpickling_a_missing_file_kills_it_as_the_repl_dies(tmp_path: Path) -> None:
    """The REPL unpickles outside any `try` (`REPL/Main.lean`): the process dies, its envs lost."""
    for request in ({"unpickleProofStateFrom": "gone.olean"}, {"unpickleEnvFrom": "gone.olean"}):
        done = subprocess.run(
            simulated_repl_command(), input=json.dumps(request) + "\n\n", capture_output=True, text=True,
            cwd=tmp_path, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 1 and done.stdout == ""
        assert "uncaught exception: no such file or directory (error code: 2)\n  file: gone.olean" in done.stderr


def test_an_env_keeps_its_options_and_declarations_for_what_runs_on_it() -> None:
    """`set_option` holds for every later command on that env (the recorded `options` session);
    a name declared in an env is taken there, not in the env it was made from."""
    replies = ask(
        {"cmd": "import Demo.Basic"},
        {"cmd": "set_option autoImplicit false\nset_option maxSynthPendingDepth 3", "env": 0},
        {"cmd": "theorem shared : True := trivial -- sim:options", "env": 1},
        {"cmd": "theorem shared : True := trivial", "env": 2},
        {"cmd": "theorem shared : True := trivial -- sim:options", "env": 0},
        {"cmd": "set_option sim.undeclared.x true", "env": 0},
    )
    assert replies[1] == {"env": 1}
    (echo,) = replies[2]["messages"]
    assert echo["data"] == "options: autoImplicit=false, maxSynthPendingDepth=3 (simulated)"
    assert replies[3]["messages"][0]["data"] == "'shared' has already been declared (simulated)"
    assert replies[4]["messages"][0]["data"] == "options: none (simulated)"
    assert replies[5]["messages"][0]["data"] == "unknown option 'sim.undeclared.x' (simulated)"


def test_version_string_and_oleans_another_lean_wrote(tmp_path: Path) -> None:
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.24.0\n")
    text = json.dumps({"cmd": "import Demo.Basic\n#eval Lean.versionString"}) + "\n\n"
    ok = subprocess.run(simulated_repl_command(), input=text, capture_output=True, text=True, cwd=tmp_path, check=True)
    assert json.loads(ok.stdout)["messages"][0]["data"] == '"4.24.0" (simulated)'
    stale = subprocess.run(
        [*simulated_repl_command(), "--oleans-from", "4.22.0"], input=text, capture_output=True, text=True,
        cwd=tmp_path, check=True,
    )  # fmt: skip
    error = json.loads(stale.stdout)["messages"][0]
    assert error["severity"] == "error" and error["data"].startswith("failed to read file '")
    assert "Demo/Basic.olean', incompatible header" in error["data"]


def test_an_information_command_echoes_all_of_its_argument_at_its_keyword() -> None:
    """As the recordings show (`dup_msg`: `#check f` answered at columns 0-6): the message sits
    at the keyword; the stand-in, which cannot evaluate, echoes the whole argument, not its
    first token (`#eval 1+1` once read back as `#eval 1`)."""
    [reply] = ask({"cmd": "#eval 1+1\n#check Nat.succ\n  Nat.zero\ndef x := 1"})
    first, second = reply["messages"]
    assert first["data"] == "#eval 1+1 (simulated)"
    assert (first["pos"], first["endPos"]) == ({"line": 1, "column": 0}, {"line": 1, "column": 5})
    assert second["data"] == "#check Nat.succ\n  Nat.zero (simulated)"
    assert (second["pos"], second["endPos"]) == ({"line": 2, "column": 0}, {"line": 2, "column": 6})
