"""Free-text columns read for a person (engine/intake/texts.py): lengths per class and
short examples, from the data set's Parquet."""

from __future__ import annotations

import polars as pl

from modelyard.engine.intake.texts import NO_CLASS, look_at_text, shorten


def test_shorten_keeps_one_line_and_cuts_at_a_word():
    assert shorten("  two\nlines\there ", 50) == "two lines here"
    cut = shorten("alpha beta gamma delta epsilon zeta", 20)
    assert cut == "alpha beta gamma…" and len(cut) <= 20
    assert shorten("x" * 40, 10) == "x" * 9 + "…"  # one long word: cut inside it


def test_lengths_and_examples_per_class(tmp_path):
    table = tmp_path / "train.parquet"
    pl.DataFrame({
        "note": ["short", "a bit longer text", None, "   ", "mid size", "z" * 300, "ok"],
        "label": ["a", "a", "a", "b", "b", "b", None],
    }).write_parquet(table)
    look = look_at_text(table, "note", "label", per_class=1, max_chars=40)
    assert look.rows_read == 7
    rows = {r["class"]: r for r in look.lengths}
    # Blank and missing texts and rows without a class are left out.
    assert (rows["a"]["rows"], rows["a"]["shortest"], rows["a"]["longest"]) == (2, 5, 17)
    assert rows["a"]["mean words"] == 2.5  # 1 and 4 words
    assert (rows["b"]["rows"], rows["b"]["longest"]) == (2, 300)
    assert [len(v) for v in look.samples.values()] == [1, 1]
    assert all(len(t) <= 40 for v in look.samples.values() for t in v)
    overall = look_at_text(table, "note", None)
    assert overall.target is None and list(overall.samples) == [NO_CLASS]
    assert overall.lengths[0]["rows"] == 5


def test_numbers_as_classes_and_the_most_common_classes_only(tmp_path):
    table = tmp_path / "train.parquet"
    pl.DataFrame({"text": [f"text {i}" for i in range(30)],
                  "stars": [i % 5 for i in range(28)] + [0, 0]}).write_parquet(table)
    look = look_at_text(table, "text", "stars", max_classes=2)
    assert [r["class"] for r in look.lengths] == ["0", "1"]  # 8 rows, then 6 (ties: by name)
    assert list(look.samples) == ["0", "1"] and len(look.samples["0"]) == 3
