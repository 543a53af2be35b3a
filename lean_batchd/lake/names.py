"""Lean names as Lake sees them: identifier characters, escapes, module <-> file.

A module name is carried around as its canonical rendering (`Name.toString`
with `«»` escapes where a component is not an identifier). The rendering is
unambiguous, so prefix tests and dictionary keys work on plain strings, and
it is what users see in Lean's own messages.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# Lean's `isLetterLike` (Init/Meta): Greek without λ, Π, Σ; Coptic; Greek
# Extended; the Letterlike block; math alphanumerics; Latin-1 letters and
# Latin Extended-A (newer Lean).
_LETTER_LIKE = (
    "\u03b1-\u03ba\u03bc-\u03c9"
    "\u0391-\u039f\u03a1\u03a2\u03a4-\u03a9"
    "\u03ca-\u03fb"
    "\u1f00-\u1ffe"
    "\u2100-\u214f"
    "\U0001d49c-\U0001d59f"
    "\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
    "\u0100-\u017f"
)
# `isSubScriptAlnum`: subscript digits and letters.
_SUBSCRIPT = "\u2080-\u2089\u2090-\u209c\u1d62-\u1d6a\u2c7c"

ASCII_ID_FIRST = "A-Za-z_"
ASCII_ID_REST = "A-Za-z0-9_'!?"
ID_FIRST = f"A-Za-z_{_LETTER_LIKE}"
ID_REST = f"A-Za-z0-9_'!?{_LETTER_LIKE}{_SUBSCRIPT}"

# One component: an identifier or a «»-escaped run (anything but `»`).
PART_PATTERN = f"(?:[{ID_FIRST}][{ID_REST}]*|«[^»]*»)"
NAME_PATTERN = f"{PART_PATTERN}(?:\\.{PART_PATTERN})*"

ASCII_NAME_PATTERN = (
    f"(?:[{ASCII_ID_FIRST}][{ASCII_ID_REST}]*|«[^»]*»)(?:\\.(?:[{ASCII_ID_FIRST}][{ASCII_ID_REST}]*|«[^»]*»))*"
)

_IDENT_RE = re.compile(f"[{ID_FIRST}][{ID_REST}]*")
_PART_RE = re.compile(PART_PATTERN)
_NAME_RE = re.compile(NAME_PATTERN)

CORE_ROOTS = frozenset({"Init", "Std", "Lean", "Lake"})

# Tokens that cannot be a single-component identifier without `«»`.
KEYWORDS = frozenset(
    [
        "abbrev",
        "at",
        "axiom",
        "by",
        "calc",
        "class",
        "def",
        "deriving",
        "do",
        "else",
        "end",
        "example",
        "export",
        "extends",
        "from",
        "fun",
        "have",
        "if",
        "import",
        "in",
        "inductive",
        "instance",
        "let",
        "local",
        "macro",
        "match",
        "mutual",
        "namespace",
        "noncomputable",
        "open",
        "partial",
        "prelude",
        "private",
        "protected",
        "public",
        "section",
        "show",
        "structure",
        "syntax",
        "termination_by",
        "then",
        "theorem",
        "universe",
        "variable",
        "where",
        "with",
        "opaque",
        "unsafe",
        "decreasing_by",
    ]
)

Components = tuple[str, ...]


def is_identifier(part: str) -> bool:
    return _IDENT_RE.fullmatch(part) is not None


def escape_part(part: str) -> str:
    """Render one component the way `Name.toString` does."""
    if is_identifier(part) or "»" in part:
        return part
    return f"«{part}»"


def render(components: Components) -> str:
    return ".".join(escape_part(p) for p in components)


def unescape_part(token: str) -> str:
    return token[1:-1] if token.startswith("«") else token


def parse_name(text: str) -> Components | None:
    """The components of `text` when it is exactly a Lean name (identifiers or `«»`)."""
    if _NAME_RE.fullmatch(text) is None:
        return None
    return tuple(unescape_part(m.group(0)) for m in _PART_RE.finditer(text))


def legal_or_simple(text: str) -> Components:
    """Lake's `stringToLegalOrSimpleName`: a dotted name if it parses, else one component."""
    parsed = parse_name(text)
    return parsed if parsed is not None else (text,)


def to_name(text: str) -> Components | None:
    """Lean's `String.toName`: a Lean name if the text is one, else the text split at `.`
    (components need not be identifiers); None for text with an empty component."""
    parsed = parse_name(text)
    if parsed is not None:
        return parsed
    parts = tuple(text.split("."))
    return None if "" in parts else parts


def canonical(text: str) -> str:
    """The canonical rendering of a name written in source (`«Foo»` becomes `Foo`)."""
    if "«" not in text:
        return text
    return render(components(text))


def components(name: str) -> Components:
    """Split a canonical rendering back into components."""
    if "«" not in name:
        return tuple(name.split("."))
    parsed = parse_name(name)
    return parsed if parsed is not None else (name,)


def is_prefix(prefix: str, name: str) -> bool:
    """`Name.isPrefixOf` on canonical renderings."""
    return name == prefix or name.startswith(prefix + ".")


def root_of(name: str) -> str:
    return escape_part(components(name)[0])


def module_relpath(name: str) -> PurePosixPath:
    """`modToFilePath`: components become folders, the last one `X.lean`."""
    parts = components(name)
    return PurePosixPath(*parts[:-1], parts[-1] + ".lean")


def module_from_relpath(parts: tuple[str, ...]) -> str:
    """The module Lake names for a file at `parts` (folders..., `Stem.lean`) below a source dir."""
    *folders, file = parts
    return render((*folders, file[: -len(".lean")]))


def component_problem(part: str) -> str | None:
    """Why a file-derived component is not a plain identifier, or None when it is."""
    if part == "":
        return "an empty component"
    if "»" in part:
        return "a `»`, which no escape can express, so no file can import it"
    if part.startswith("."):
        return "a leading dot (a hidden file)"
    if not is_identifier(part):
        return "characters that are not identifier characters (it needs `«»` to be imported)"
    return None
