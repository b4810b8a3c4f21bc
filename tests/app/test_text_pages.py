"""A table with a free-text column through AppTest: the Data page shows the texts' lengths
per class and a few examples of each class; a trained model predicts a file and one row
typed by hand (the text is a text box, not a number)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.app.conftest import MAIN, REPO
from tests.app.test_pages import metric, shown, texts
from tests.results_run import copy_home

PAGES = "../pages"
WORDS = {"positive": ["great", "excellent", "love it", "works perfectly", "very happy"],
         "negative": ["terrible", "broke after a week", "waste of money", "awful"],
         "neutral": ["okay", "as described", "average", "nothing special"]}
FILLER = ["the box was blue", "delivery took three days", "I bought it for my kitchen",
          "my sister recommended it", "the manual is short", "it came with batteries"]


def reviews(n: int = 150, seed: int = 0, long_one: bool = True) -> pd.DataFrame:
    """Product reviews whose words give away the sentiment; a price that does not."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = str(rng.choice(list(WORDS)))
        parts = list(rng.choice(FILLER, size=rng.integers(1, 4))) + \
            list(rng.choice(WORDS[label], size=rng.integers(1, 3)))
        rng.shuffle(parts)
        rows.append({"review": ". ".join(p.capitalize() for p in parts) + ".",
                     "price": round(float(rng.normal(40, 10)), 2), "sentiment": label})
    frame = pd.DataFrame(rows)
    if long_one:  # one very long review: examples are shortened, on one line
        frame.loc[0, "review"] = "Terrible.\n" + "It kept breaking again and again. " * 20
        frame.loc[0, "sentiment"] = "negative"
    return frame


def open_csv(app, frame: pd.DataFrame, name: str = "reviews.csv") -> None:
    app.switch_page(f"{PAGES}/data.py").run()
    app.file_uploader(key="data_upload").upload(name, frame.to_csv(index=False).encode(),
                                                "text/csv")
    app.run()  # choosing the file is enough: it is taken in at once
    assert not app.exception and not app.error, texts(app.error)


def test_data_page_shows_text_lengths_and_examples_per_class(app):
    frame = reviews()
    open_csv(app, frame)
    assert metric(app, "Kind of data") == "Table with text"
    tabs = [t.label for t in app.tabs]
    assert tabs[tabs.index("Text"):] == ["Text", "Columns", "Charts", "Roles", "Preview"]
    lengths = frame["review"].str.len()
    said = texts(app.markdown)
    assert (f"**“review”** is free text: {lengths.min():,} to {lengths.max():,} characters, "
            f"{lengths.mean():,.0f} on average") in said
    assert "Length per class of “sentiment”." in texts(app.caption)
    by_class = next(f.value for f in app.dataframe if "mean characters" in f.value.columns)
    counts = frame["sentiment"].value_counts()
    assert dict(zip(by_class["class"], by_class["rows"], strict=True)) == counts.to_dict()
    assert list(by_class["class"]) == list(counts.index)  # the most common class first
    negative = frame.loc[frame["sentiment"] == "negative", "review"].str.len()
    row = by_class.set_index("class").loc["negative"]
    assert row["longest"] == negative.max()
    assert row["mean characters"] == pytest.approx(negative.mean(), abs=0.05)

    examples = app.table[0].value.rename(index=shown).map(shown)  # as the cells read
    assert set(examples.index) == set(WORDS) and len(examples) == 9  # 3 per class
    assert all(len(t) <= 160 and "\n" not in t for t in examples["text"])
    # Each example really is a text of its class.
    for label, text in examples["text"].items():
        pool = frame.loc[frame["sentiment"] == label, "review"].str.replace(r"\s+", " ",
                                                                            regex=True)
        assert any(p.strip().startswith(text.rstrip("…")) for p in pool), (label, text)
    # The Charts tab sends a person to the Text tab for a text column.
    app.selectbox(key="data_chart_column").select("review").run()
    assert "Free text: its lengths and examples are under Text." in texts(app.caption)


def test_without_a_class_target_the_examples_are_of_all_rows(app):
    frame = reviews(60, long_one=False).drop(columns="sentiment")
    open_csv(app, frame, "notes.csv")
    app.selectbox(key="data_target").select("price").run()
    app.button(key="data_apply_target").click().run()
    assert not app.exception and not app.error, texts(app.error)
    assert "Length over all rows." in texts(app.caption)
    assert set(map(shown, app.table[0].value.index)) == {"(all rows)"}


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, child_env):
    root = tmp_path_factory.mktemp("text-run")
    train = root / "reviews.csv"
    reviews(150).to_csv(train, index=False)
    result = subprocess.run(
        [sys.executable, "-m", "modelyard.app.cli", "run", str(train), "--target", "sentiment",
         "--budget", "8", "--out", str(root / "out"), "--json"],
        capture_output=True, text=True, env=child_env(root / "home"), cwd=REPO, timeout=240)
    assert result.returncode == 0, result.stderr
    new = root / "new.csv"
    reviews(12, seed=3, long_one=False).drop(columns="sentiment").to_csv(new, index=False)
    return root / "home", json.loads(result.stdout)["run_id"], new


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_text_model_predicts_a_file_and_a_typed_review(text_run, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    home, run_id, new = text_run
    monkeypatch.setenv("MODELYARD_HOME", str(copy_home(home, tmp_path / "home")))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(MAIN), default_timeout=120)
    at.run()
    at.session_state["run_id"] = run_id
    at.switch_page(f"{PAGES}/predict.py").run()
    assert not at.exception and not at.error, texts(at.error)
    at.file_uploader(key="predict_upload").upload("new.csv", new.read_bytes(), "text/csv")
    at.run()
    assert "every column the model uses is there" in texts(at.success)
    at.button(key="predict_go").click().run()
    assert not at.exception and not at.error, texts(at.error)
    saved = Path(texts(at.success).split("Predictions saved to ", 1)[1].splitlines()[0])
    got = pd.read_csv(saved)
    assert len(got) == 12 and list(got.columns)[0] == "sentiment"

    # One row by hand: the review is typed into a text box.
    review = next(t for t in at.text_area if t.label == "review")
    review.input("Terrible. Broke after a week. Waste of money.")
    at.number_input(key="predict_field_0").set_value(35.0)
    next(b for b in at.button if b.label == "Predict this row").click().run()
    assert not at.exception and not at.error, texts(at.error)
    assert metric(at, "Predicted sentiment") == "negative"
