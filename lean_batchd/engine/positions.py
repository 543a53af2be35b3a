"""From REPL positions (relative to the text sent) back to the file.

A worker elaborates the text after the header; the REPL numbers lines from 1
and columns in code points from 0, relative to that text. Its first line is
the rest of the header's last line, so columns there shift by the header's
end column. LSP wants 0-based lines and UTF-16 code units.
"""

from __future__ import annotations

from ..lake.header import Position
from ..workers.protocol import Pos
from .values import Range


def file_position(header_end: Position, pos: Pos) -> tuple[int, int]:
    """(line 1-based, column 0-based in code points) in the file."""
    line = header_end.line + pos.line - 1
    column = pos.column + (header_end.column if pos.line == 1 else 0)
    return line, column


def utf16(text_line: str, column: int) -> int:
    return len(text_line[:column].encode("utf-16-le")) // 2


def file_range(lines: list[str], header_end: Position, start: Pos | None, end: Pos | None) -> Range:
    """An LSP range in the file; a missing end is the start, a missing start is the header's end."""
    first = file_position(header_end, start) if start is not None else (header_end.line, header_end.column)
    last = file_position(header_end, end) if end is not None else first

    def lsp(at: tuple[int, int]) -> tuple[int, int]:
        line0 = max(at[0] - 1, 0)
        text = lines[line0] if line0 < len(lines) else ""
        return line0, utf16(text, at[1])

    (sl, sc), (el, ec) = lsp(first), lsp(last)
    return Range(sl, sc, el, ec)
