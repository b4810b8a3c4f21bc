"""Data shown as typed: `literal` and `code` (app/literal.py) against a real CommonMark
parser, and the Data page through AppTest with a file whose column names are Markdown."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from modelyard.app.literal import code, literal
from tests.app.test_pages import PAGES, shown, texts

JOINER = "\u2060"
TRICKY = [
    "see [link](http://example.com/)",
    "a **bold** col _it_ ~~gone~~ ~one~",
    "![img](http://example.com/i.png) <b>html</b> <http://example.com/auto>",
    "$x^2$ and $$y$$",
    ":red[x] :blue-background[y] :material/home: :smile: :+1:",
    "# heading",
    "- item",
    "+ item",
    "1. item",
    "2024) item",
    "> quote",
    "a | b",
    "===",
    "---",
    "```fence",
    "back\\slash \\* and trailing\\",
    "&copy; &amp; &#65;",
    "[ref][y]",
    "foot[^1]",
    "{attr} = ^up^",
    "bare http://example.com/x www.example.com a@b.com HTTPS://q.org",
    "two\n# lines\n\n    indented\n- item",
]


def lines(text: str) -> str:
    return re.sub(r"\s*\n\s*", "\n", text.strip())


def rendered(body: str) -> str:
    """`body` as CommonMark HTML (with strikethrough and tables, as GitHub's flavour)."""
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable(["strikethrough", "table"]).render(body)


def test_literal_text_renders_as_one_paragraph_of_the_same_characters():
    for text in TRICKY:
        page = rendered(literal(text))
        tags = set(re.findall(r"</?([a-z0-9]+)", page))
        assert tags <= {"p"}, (text, page)  # no link, image, emphasis, heading, list, code
        words = html.unescape(re.sub(r"</?p>", "", page)).replace(JOINER, "")
        # Line breaks stay (Markdown shows them as spaces); indentation after one goes.
        assert lines(words) == lines(text), (text, words)


def test_literal_escapes_what_only_streamlit_gives_meaning_to():
    for text in ["$x$", ":red[x]", ":material/home:", ":smile:"]:
        body = literal(text)
        assert not re.search(r"(?<!\\)[$:]", body), body  # maths, colours, emoji, icons
        # Streamlit swaps ":material/" for an icon name before it parses anything.
        assert ":material/" not in body
    assert literal(":material/home:") == r"\:material\/home\:"


def test_literal_breaks_bare_links_with_an_invisible_joiner():
    # GitHub-flavoured Markdown links these after escapes are undone (seen in a browser),
    # so what the parser reads must no longer hold them.
    text = shown(literal("http://a.org https://b.org www.c.org d@e.org"))
    assert text == "http://a.org https://b.org www.c.org d@e.org"
    parsed = re.sub(r"\\(.)", r"\1", literal("http://a.org https://b.org www.c.org d@e.org"))
    assert not re.search(r"https?://|www\.|\w@\w", parsed)


def test_literal_leaves_plain_sentences_alone():
    assert literal("2,000 rows; 15% missing, it's “y”?") == "2,000 rows; 15% missing, it's “y”?"
    assert literal(None) == "None"


@pytest.mark.parametrize("text", ["plain", "a`b", "``two``", "`", " padded ", "x\n# y",
                                  "[l](http://e.com) $x$ :red[r] **b**"])
def test_code_shows_any_name_in_one_code_span(text):
    page = rendered(code(text))
    spans = re.findall(r"<code>(.*?)</code>", page, flags=re.S)
    assert len(spans) == 1, page
    assert html.unescape(spans[0]) == text.replace("\n", " "), page
    assert re.sub(r"<code>.*?</code>", "", page).strip() in ("<p></p>",), page


def test_code_keeps_streamlit_from_making_an_icon():
    assert ":material/" not in code(":material/home:")
    assert code(":material/home:").replace(JOINER, "") == "`:material/home:`"


# -- the Data page -------------------------------------------------------------------------

BOLD, LINK, MATHS, COLOUR = "a **bold** col", "see [link](http://example.com/)", "$x$", ":red[x]"


def markdown_csv(path):
    """20 rows; the link column is constant (a finding quotes it), the bold and colour
    columns are the next likely targets (their buttons name them)."""
    rng = np.random.default_rng(0)
    rows = [f"{BOLD},{LINK},{MATHS},{COLOUR},y"]
    rows += [f"{rng.integers(0, 100)},7,{rng.normal():.3f},{rng.choice(['p', 'q'])},"
             f"{rng.choice(['yes', 'no'])}" for _ in range(20)]
    path.write_text("\n".join(rows) + "\n")
    return path


def markdown_bodies(at) -> list[str]:
    """Every text the page hands Streamlit to render as Markdown: bodies and labels."""
    bodies = [str(e.value) for kind in ("title", "header", "subheader", "markdown", "caption",
                                        "info", "warning", "error", "success", "toast")
              for e in getattr(at, kind)]
    return bodies + [str(e.label) for kind in ("button", "expander", "tabs", "metric",
                                               "selectbox", "text_input", "radio")
                     for e in getattr(at, kind)]


def test_the_data_page_shows_markdown_in_column_names_as_typed(app, tmp_path):
    app.switch_page(f"{PAGES}/data.py").run()
    app.text_input(key="data_path").input(str(markdown_csv(tmp_path / "md.csv"))).run()
    app.button(key="data_open").click().run()
    assert not app.exception, app.exception
    # Outside code spans (which show their text as it is), no Markdown from the file.
    bodies = [re.sub(r"(`+).*?\1", "", b) for b in markdown_bodies(app)]
    for made in ("](", "**bold**", "$x$", ":red[", ":material/"):
        assert not [b for b in bodies if made in b], made
    # The finding quotes the constant column, whole.
    assert f"“{LINK}” has the same value in every row" in texts(app.info)
    # The next likely targets: each named in a code span and on its button.
    offered = [b.label for b in app.button if b.key and b.key.startswith("data_other_target_")]
    assert [shown(label) for label in offered] == [f"Predict {BOLD}", f"Predict {COLOUR}"]
    assert f"`{BOLD}` — a number" in texts(app.markdown)
    assert f"`{COLOUR}` — yes or no" in texts(app.markdown)
    # Our own bold stays bold (the raw body, not as read).
    assert any(m.value.startswith("**Likely target:** `y` — ") for m in app.markdown)
    # Choosing one by its button still works with the real name.
    next(b for b in app.button if b.label == offered[0]).click().run()
    assert not app.exception and not app.error
    assert f"**Target:** `{BOLD}` — " in texts(app.markdown)
