"""`lakefile.lean` cut into its top-level commands, as Lean's command parser would see them.

A command keyword, `@[`, a doc comment or anything at column 0 (other than a
`field :=` line) starts a command when it opens a line outside brackets; a
`meta if ... then ... else ...` and its branches are one command.
"""

from __future__ import annotations

from .lean_lexer import Kind, Token

TARGET_COMMANDS = frozenset(
    [
        "input_file",
        "input_dir",
        "target",
        "extern_lib",
        "script",
        "module_facet",
        "package_facet",
        "library_facet",
        "post_update",
    ]
)
"""Lake's declarations of targets other than packages, libraries and executables."""

COMMAND_KEYWORDS = TARGET_COMMANDS | frozenset(
    [
        "package",
        "require",
        "lean_lib",
        "lean_exe",
        "meta",
        "def",
        "abbrev",
        "open",
        "import",
        "theorem",
        "instance",
        "namespace",
        "end",
        "section",
        "set_option",
        "attribute",
        "macro",
        "syntax",
        "elab",
        "macro_rules",
        "variable",
        "universe",
        "local",
        "private",
        "protected",
        "noncomputable",
        "partial",
        "unsafe",
        "initialization",
        "example",
        "structure",
        "inductive",
        "class",
        "declare_syntax_cat",
        "notation",
        "infix",
        "infixl",
        "infixr",
        "prefix",
        "postfix",
        "opaque",
        "axiom",
        "mutual",
        "deriving",
        "export",
    ]
)


def split_units(tokens: list[Token]) -> list[list[Token]]:
    """Top-level commands: a command keyword, `@[`, a doc comment or anything at column 0
    (other than a `field :=` line) starts one when it opens a line outside brackets."""
    units: list[list[Token]] = []
    depth = 0
    for k, t in enumerate(tokens):
        starts = False
        if depth == 0 and t.first_on_line:
            nxt = tokens[k + 1] if k + 1 < len(tokens) else None
            is_field = t.kind is Kind.IDENT and nxt is not None and nxt.text == ":="
            starts = (
                (t.kind is Kind.IDENT and t.text in COMMAND_KEYWORDS)
                or t.kind is Kind.DOC
                or t.text in ("@[", "#", "else")
                or (t.column == 0 and not is_field and t.text not in ("then", "do"))
            )
        if starts and not (units and _only_prefix(units[-1])):
            units.append([])
        if not units:
            units.append([])
        units[-1].append(t)
        if t.text in ("(", "[", "{", "#[", "@[", "⟨", "%[", "`(", "``(", "$("):
            depth += 1
        elif t.text in (")", "]", "}", "⟩") and depth > 0:
            depth -= 1
    return _absorb_meta_if(units)


def _only_prefix(unit: list[Token]) -> bool:
    depth = 0
    for t in unit:
        if depth == 0 and t.kind is not Kind.DOC and t.text != "@[":
            return False
        if t.text == "@[":
            depth += 1
        elif t.text == "]":
            depth -= 1
    return True


def _absorb_meta_if(units: list[list[Token]]) -> list[list[Token]]:
    """`meta if c then cmd [else cmd]` (a branch may be a `do` block) becomes one unit."""
    out: list[list[Token]] = []
    i = 0
    while i < len(units):
        unit = units[i]
        i += 1
        if [t.text for t in unit[:2]] != ["meta", "if"]:
            out.append(unit)
            continue
        merged = list(unit)
        column = unit[0].column
        i = _absorb_branch(merged, units, i, column, unit)
        if i < len(units) and units[i][0].text == "else":
            opener = units[i]
            merged.extend(opener)
            i = _absorb_branch(merged, units, i + 1, column, opener)
        out.append(merged)
    return out


def _absorb_branch(merged: list[Token], units: list[list[Token]], i: int, column: int, opener: list[Token]) -> int:
    tail = opener[-1].text
    if tail == "do":
        while i < len(units) and units[i][0].column > column and units[i][0].text != "else":
            merged.extend(units[i])
            i += 1
    elif tail in ("then", "else") and i < len(units) and units[i][0].text != "else":
        merged.extend(units[i])
        i += 1
    return i


def attributes(unit: list[Token]) -> tuple[set[str], int]:
    """Leading doc comments and `@[...]` lists: the attribute names and where the command starts."""
    attrs: set[str] = set()
    k = 0
    while k < len(unit):
        t = unit[k]
        if t.kind is Kind.DOC:
            k += 1
        elif t.text == "@[":
            k += 1
            while k < len(unit) and unit[k].text != "]":
                if unit[k].kind is Kind.IDENT:
                    attrs.add(unit[k].text)
                k += 1
            k += 1
        else:
            break
    return attrs, k


def inside_braces(toks: list[Token]) -> list[Token]:
    """The tokens between a `{` at `toks[0]` and its matching `}` (to the end when unclosed)."""
    depth = 0
    for k, t in enumerate(toks):
        if t.text in ("(", "[", "{", "#[", "⟨", "%["):
            depth += 1
        elif t.text in (")", "]", "}", "⟩"):
            depth -= 1
            if depth == 0:
                return toks[1:k]
    return toks[1:]
