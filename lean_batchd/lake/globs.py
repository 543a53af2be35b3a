"""Glob and name strings as Lake's TOML decoder reads them (`Glob.ofString?`, `decodeName`)."""

from __future__ import annotations

import re

from .config import Glob, GlobKind
from .names import ID_FIRST, ID_REST, render

_IDENT = re.compile(f"[{ID_FIRST}][{ID_REST}]*")


def parse_glob(text: str) -> Glob | str:
    """A `Glob`, or the reason the string is not one.

    `"Foo"` is one module, `"Foo.+"` its submodules, `"Foo.*"` both; `«»`
    escapes work; whatever follows `+` or `*` is ignored, as in Lake.
    """
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        if i >= n:
            return "expected glob: a name is missing"
        c = text[i]
        if c == "«":
            close = text.find("»", i + 1)
            if close < 0:
                return "expected glob: unterminated `«`"
            parts.append(text[i + 1 : close])
            i = close + 1
        elif "0" <= c <= "9":
            j = i
            while j < n and "0" <= text[j] <= "9":
                j += 1
            return (
                f"numeric component `{text[i:j]}`: Lake accepts it but no file can match it "
                "(building it panics with 'ill-formed import')"
            )
        else:
            m = _IDENT.match(text, i)
            if m is None:
                return f"expected glob: unexpected character {c!r}"
            parts.append(m.group(0))
            i = m.end()
        if i == n:
            return Glob(GlobKind.ONE, render(tuple(parts)))
        if text[i] != ".":
            return f"expected glob: unexpected character {text[i]!r}"
        if i + 1 < n and text[i + 1] == "+":
            return Glob(GlobKind.SUBMODULES, render(tuple(parts)))
        if i + 1 < n and text[i + 1] == "*":
            return Glob(GlobKind.AND_SUBMODULES, render(tuple(parts)))
        i += 1
