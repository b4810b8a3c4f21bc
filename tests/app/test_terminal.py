"""What the command line writes is shown by a terminal, never obeyed (terminal.py)."""

from __future__ import annotations

import io

from modelyard.app.terminal import ShownStream, shown


def test_the_characters_a_terminal_obeys_become_visible_escapes():
    assert shown("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert shown("x\x08\x7f\x9b") == "x\\x08\\x7f\\x9b"  # backspace, DEL, C1 CSI
    assert shown("txt.exe\u202e") == "txt.exe\\u202e"
    assert shown("a\u2066b\u2069\u2028") == "a\\u2066b\\u2069\\u2028"


def test_every_other_character_is_itself():
    text = "größe ✓ 数据 مرحبا 👩‍👩‍👧 tab\there\nnext line"
    assert shown(text) == text


def test_a_progress_line_may_redraw_itself_but_data_may_not():
    out = io.StringIO()
    stream = ShownStream(out)
    stream.write("\r[ 12s] trial 3: column a\rb")
    stream.write("done\n")
    assert out.getvalue() == "\r[ 12s] trial 3: column a\\x0db" + "done\n"
    print("col\x1b]0;t\x07", file=stream, flush=True)
    assert out.getvalue().endswith("col\\x1b]0;t\\x07\n")
