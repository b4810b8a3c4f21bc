"""Text from a person's data, shown as it is: Streamlit renders every message, label and
caption as Markdown, so a column called `see [x](http://…)` would otherwise become a link,
`$x$` a formula and `:red[x]` red text.

The engine's messages are plain text (the CLI prints them too); they are made literal here,
at display time. A page that writes its own Markdown around a name (`**{name}**`) escapes
the name only; a message from the engine, which never holds deliberate Markdown, is escaped
whole.

What Streamlit 1.67 was seen to do in a browser (and why each step is here):
- a backslash before any ASCII punctuation shows that character: links, images, bold,
  strikethrough, `$` maths, `:red[...]` colours, `:smile:` emoji, headings, lists, HTML
  and `&copy;` entities all stay as typed, in bodies and in labels alike;
- Streamlit turns `:material/` into an icon name before parsing, even inside escapes that
  leave those characters together, so `/` is escaped too, and inside code spans
  (where backslashes are literal) a word joiner keeps `:material/` apart;
- bare `http://`, `www.` and `a@b.com` become links after escapes are undone, so an
  invisible word joiner (U+2060) breaks them up;
- leading spaces after a line break could start a code block; they are dropped, as
  Markdown would have dropped them from the text anyway.
"""

from __future__ import annotations

import re

# Characters with no meaning in Markdown or Streamlit stay as they are, so that sentences
# (and the tests that read them) stay readable: , ; ? % ' " @ and the rest of Unicode.
_MEANINGFUL = frozenset("\\`*_{}[]()#+-.!|<>~$:=&/^")
_ESCAPE = str.maketrans({c: "\\" + c for c in _MEANINGFUL})
_JOINER = "\u2060"  # WORD JOINER: invisible, and keeps a line from breaking there
# What GitHub-flavoured Markdown links without brackets; the joiner goes where it breaks
# the pattern: after the scheme's colon, after "www", before "@".
_AUTOLINK = re.compile(r"(?i)(?<=\bhttps:)|(?<=\bhttp:)|(?<=\bwww)(?=\.)|(?=@)")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def literal(text: object) -> str:
    """`text` escaped so that Streamlit's Markdown shows exactly these characters."""
    lines = _LINE_BREAK.split(str(text))
    lines = [lines[0]] + [line.lstrip(" \t") for line in lines[1:]]
    return "\n".join(_AUTOLINK.sub(_JOINER, line).translate(_ESCAPE) for line in lines)


def code(text: object) -> str:
    """`text` as one inline code span, whatever backticks or line breaks it holds."""
    text = " ".join(_LINE_BREAK.split(str(text)))  # a line break inside ends the span
    text = text.replace(":material/", f":{_JOINER}material/")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # A space each side lets the text start or end with a backtick; Markdown removes one
    # space from each side, so text already padded keeps its own spaces.
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return f"{fence}{pad}{text or ' '}{pad}{fence}"
