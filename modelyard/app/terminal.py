"""What the command line writes to a terminal: text from a person's file is shown, never
obeyed.

A column name, a cell, a sheet name or a file name is data, and a terminal reads some
characters as instructions: ESC starts a sequence that can move the cursor, clear the
screen, set the window's title or hide the lines before it; a carriage return or a
backspace writes over what was shown; a bidirectional override reorders the characters
after it, so a name can show as something it is not. The `modelyard` program wraps its two
streams once, at its start (`guard_streams`), so whatever any command prints shows such
characters as visible escapes (`\\x1b`, `\\u202e`) and every other character as itself:
letters of every script, emoji, tabs and line breaks.

One exception is ours: a progress line redraws itself by starting with a carriage return,
written as the first character of one `write`; that leading one is kept. Data is never
first in a write: every line the commands print starts with our own words, an id or a
path (`print` writes its text, then the line break), so a carriage return inside data is
escaped like the rest.
`--json` output is already escaped by the JSON encoder, and passes through unchanged.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

# C0 and C1 controls but tab and line feed; DEL; the bidirectional marks, embeddings,
# overrides and isolates; the line and paragraph separators.
_OBEYED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     "\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """`text` as a terminal should show it: the characters it would obey written as
    escapes, everything else as is."""
    return _OBEYED.sub(_escape, text)


class ShownStream:
    """A text stream that writes `shown(text)` to the stream it wraps (a leading carriage
    return kept); everything else (flush, isatty, fileno, encoding) is the wrapped one's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if text.startswith("\r"):
            self._stream.write("\r" + shown(text[1:]))
        else:
            self._stream.write(shown(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def guard_streams() -> None:
    """Wrap stdout and stderr of this process (the `modelyard` program, not a caller's)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, ShownStream):
            setattr(sys, name, ShownStream(stream))
