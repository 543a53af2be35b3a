"""What the SIMULATED REPL and SIMULATED `lean` read in Lean text. Not Lean.

The text is tokenised as Lean's lexer would (comments, docstrings and strings
hide nothing) and read for the few things whose shape the REPL's replies
show without elaborating anything: `sorry` terms, the declarations that use
them (Lean warns once per declaration, at its name), the declarations a
command adds, the tactics of each `by` block (what `allTactics` lists: every
tactic of a sequence, nested ones after the one holding them), the outermost
`by` blocks (what `rootGoals` reports, at `by`), `set_option` commands and the
`#check`/`#print`/`#eval` commands that answer with information.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..lake.lean_lexer import Kind, Token, tokenize

DECLARATIONS = frozenset({"theorem", "lemma", "def", "example", "instance", "abbrev", "opaque"})
NAMED = frozenset({"theorem", "lemma", "def", "instance", "abbrev", "opaque", "structure", "inductive", "class"})
_OPEN = frozenset({"(", "[", "{", "⟨", "#[", "@[", "%[", "`(", "``(", "$("})
_CLOSE = frozenset({")", "]", "}", "⟩"})


def span(first: Token, last: Token | None = None) -> dict[str, Any]:
    """The REPL's `pos`/`endPos` (1-based line, 0-based column) of tokens `first` to `last`."""
    last = last or first
    return {
        "pos": {"line": first.line, "column": first.column},
        "endPos": {"line": last.line, "column": last.column + len(last.text)},
    }


def message(severity: str, first: Token, text: str, last: Token | None = None) -> dict[str, Any]:
    return {"severity": severity, **span(first, last), "data": f"{text} (simulated)"}


@dataclass(frozen=True, slots=True)
class SetOption:
    name: str
    value: str
    at: Token


@dataclass(frozen=True, slots=True)
class Info:
    """An information command: Lean reports its answer at the command's keyword (`#check`)."""

    command: str
    first: Token
    keyword: Token
    argument: str


@dataclass(frozen=True, slots=True)
class LeanText:
    """One command text, read."""

    text: str
    tokens: list[Token]

    @classmethod
    def read(cls, text: str) -> LeanText:
        return cls(text, tokenize(text)[0])

    def source(self, first: Token, last: Token) -> str:
        """The text from `first` to the end of `last`, as Lean's `Syntax` prints an original span."""
        return self.text[first.offset : last.offset + len(last.text)]

    def sorries(self) -> list[Token]:
        return [t for t in self.tokens if t.kind is Kind.IDENT and t.value == "sorry"]

    def sorry_declarations(self) -> list[Token]:
        """Where Lean warns that a declaration uses `sorry`: once per declaration, at its name (at
        the keyword for `example` and anonymous instances); a `sorry` outside any declaration is
        warned at itself."""
        out: list[Token] = []
        current: Token | None = None
        warned = False
        tokens = self.tokens
        for i, token in enumerate(tokens):
            if token.kind is Kind.IDENT and token.value in DECLARATIONS:
                after = tokens[i + 1] if i + 1 < len(tokens) else None
                named = token.value != "example" and after is not None and after.kind is Kind.IDENT
                current, warned = (after if named and after is not None else token), False
            elif token.kind is Kind.IDENT and token.value == "sorry" and not warned:
                out.append(current or token)
                warned = current is not None
        return out

    def declarations(self) -> list[tuple[str, Token]]:
        """The names the text declares, with their namespace (`namespace`/`section` ... `end`)."""
        scopes: list[tuple[str, str]] = []
        out: list[tuple[str, Token]] = []
        tokens = self.tokens
        for i, token in enumerate(tokens):
            if token.kind is not Kind.IDENT:
                continue
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            if token.value in ("namespace", "section") and token.first_on_line:
                scopes.append((token.value, after.value if after is not None and after.kind is Kind.IDENT else ""))
            elif token.value == "end" and token.first_on_line and scopes:
                scopes.pop()
            elif token.value in NAMED and after is not None and after.kind is Kind.IDENT:
                prefix = ".".join(name for kind, name in scopes if kind == "namespace" and name)
                out.append((f"{prefix}.{after.value}" if prefix else after.value, after))
        return out

    def set_options(self) -> list[SetOption]:
        """`set_option NAME VALUE` commands (not `set_option ... in`, which scopes one command)."""
        out: list[SetOption] = []
        tokens = self.tokens
        for i, token in enumerate(tokens[:-2]):
            if token.kind is Kind.IDENT and token.value == "set_option" and token.first_on_line:
                following = tokens[i + 3] if i + 3 < len(tokens) else None
                if following is None or following.value != "in":
                    out.append(SetOption(tokens[i + 1].value, tokens[i + 2].text, token))
        return out

    def infos(self) -> list[Info]:
        """`#check X`, `#print X`, `#eval X`, X running to where the next command starts (a line
        starting at or left of the `#`)."""
        tokens = self.tokens
        out = []
        for i, token in enumerate(tokens[:-2]):
            if token.text == "#" and tokens[i + 1].value in ("check", "print", "eval"):
                last = i + 2
                while last + 1 < len(tokens) and not (
                    tokens[last + 1].first_on_line and tokens[last + 1].column <= token.column
                ):
                    last += 1
                argument = self.source(tokens[i + 2], tokens[last])
                out.append(Info(tokens[i + 1].value, token, tokens[i + 1], argument))
        return out

    def blocks(self) -> list[tuple[int, list[tuple[int, int]]]]:
        """Each `by` (its token index) with its tactics as (first, last) token indices. A block
        whose first tactic starts a line holds the lines at or right of that column, each line at
        it starting a tactic; one starting on the `by` line holds the lines indented past that
        line's start. `;` outside brackets also separates tactics."""
        tokens = self.tokens
        out: list[tuple[int, list[tuple[int, int]]]] = []
        for b, token in enumerate(tokens):
            if token.kind is not Kind.IDENT or token.value != "by" or b + 1 >= len(tokens):
                continue
            first = tokens[b + 1]
            if first.first_on_line:
                column, aligned = first.column, True
            else:
                line_start = next(t for t in reversed(tokens[: b + 1]) if t.first_on_line or t is tokens[0])
                column, aligned = line_start.column + 1, False
            tactics: list[tuple[int, int]] = []
            start, depth, i = b + 1, 0, b + 1
            while i < len(tokens):
                t = tokens[i]
                if i > start and depth == 0 and t.first_on_line and t.column <= column:
                    if t.column < column or not aligned:
                        break
                    tactics.append((start, i - 1))
                    start = i
                if t.text in _OPEN:
                    depth += 1
                elif t.text in _CLOSE:
                    depth = max(0, depth - 1)
                elif t.text == ";" and depth == 0:
                    tactics.append((start, i - 1))
                    start = i + 1
                i += 1
            tactics.append((start, i - 1))
            out.append((b, [(f, last) for f, last in tactics if f <= last]))
        return out

    def tactics(self) -> list[tuple[Token, Token]]:
        """Every tactic of every `by` block, in source order (a tactic before those nested in it)."""
        spans = sorted({s for _, tactics in self.blocks() for s in tactics})
        return [(self.tokens[first], self.tokens[last]) for first, last in spans]

    def root_goals(self) -> list[Token]:
        """The outermost `by` of each proof (the REPL's `findRootGoals` stops at the first tactic)."""
        out: list[Token] = []
        inside_until = -1
        for b, tactics in self.blocks():
            if b > inside_until:
                out.append(self.tokens[b])
                inside_until = max((last for _, last in tactics), default=b)
        return out
