"""What Modelyard writes for people carries no live formula and no markup from the data
(engine/results/escape.py): CSV cells a spreadsheet would run are neutralised (numbers
never), a submission keeps only what its sample spells and says so, and column names and
values reach report.md, report.html, MODEL_CARD.md and README.md escaped.

The fast cases use the writers on real frames and a real fitted pipeline; the slow ones
use the shared trained Run (tests/results_run.py) and one Run trained on a table whose
column names and labels are hostile."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelyard.engine.results import predict, submission
from modelyard.engine.results.escape import (
    ALL,
    Strong,
    copy_for_spreadsheets,
    for_spreadsheets,
    html_text,
    md_code,
    md_text,
)
from modelyard.engine.results.report import Block, Report
from modelyard.engine.training.bundle import Predictor

FORMULAS = ['=HYPERLINK("http://x","click")', "+1", "-2+3", "@SUM(A1:A9)", "\tTAB"]
IMG = "<img src=x onerror=alert(1)>"
LINK = "[click](http://x)"


def csv_cells(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# -- CSV: the one helper -----------------------------------------------------------------------
def test_formula_text_is_neutralised_numbers_are_not(tmp_path):
    frame = pd.DataFrame({"id": [*FORMULAS, "-1.5", "plain"],
                          "score": [-1.5, -2.0, 3.0, -0.25, 1e-9, -1e6, -7.0],
                          "=cmd|' /C calc'!A0": ["a"] * 7})
    path = predict.write_table(frame, tmp_path / "p.csv")
    rows = csv_cells(path)
    assert rows[0] == ["id", "score", "'=cmd|' /C calc'!A0"]
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS] + ["-1.5", "plain"]
    # Numbers stay numbers, negative ones included, exactly as pandas writes them.
    assert [float(r[1]) for r in rows[1:]] == frame["score"].tolist()
    assert pd.read_csv(path)["score"].tolist() == frame["score"].tolist()
    # A carriage return starts a formula too (pandas' CSV would split such a cell).
    assert for_spreadsheets(pd.DataFrame({"a": ["\r=1"]}))[0]["a"].tolist() == ["'\r=1"]
    # Parquet is not opened by spreadsheets: every value exact.
    parquet = predict.write_table(frame, tmp_path / "p.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), frame)


def test_what_a_format_demands_is_kept_and_said():
    frame = pd.DataFrame({"=Id": ["=a", "@b", "c"], "label": ["=x", "+y", "z"]})
    safe, done = for_spreadsheets(frame, keep_names=True, keep={"=Id": ALL, "label": {"+y"}})
    assert list(safe.columns) == ["=Id", "label"]
    assert safe["=Id"].tolist() == ["=a", "@b", "c"]
    assert safe["label"].tolist() == ["'=x", "+y", "z"]
    assert done.cells == 1 and set(done.kept) == {"=a", "@b", "+y", "=Id"}
    notes = " ".join(done.notes("submission.csv", "the sample spells them so"))
    assert "1 cell(s) of submission.csv" in notes and "leading '" in notes
    assert "were kept as they are because the sample spells them so" in notes
    # Neutralising twice changes nothing more.
    again, more = for_spreadsheets(safe, keep_names=True, keep={"=Id": ALL, "label": {"+y"}})
    assert again.equals(safe) and more.cells == 0


def test_a_csv_written_elsewhere_is_copied_cell_for_cell(tmp_path):
    source = tmp_path / "predictions.csv"
    pd.DataFrame({"id": ["L1", "=HYPERLINK(1)", "-3"], "p": [0.25, -0.5, 1.0]}).to_csv(
        source, index=False)
    done = copy_for_spreadsheets(source, tmp_path / "out.csv")
    assert done.cells == 1
    assert (tmp_path / "out.csv").read_text() == source.read_text().replace(
        "=HYPERLINK(1)", "'=HYPERLINK(1)")
    plain = tmp_path / "plain.csv"
    pd.DataFrame({"id": ["a", "b"], "p": [0.1, -0.2]}).to_csv(plain, index=False)
    copy_for_spreadsheets(plain, tmp_path / "plain-out.csv")
    assert (tmp_path / "plain-out.csv").read_bytes() == plain.read_bytes()


def test_leaderboard_and_predictions_of_run_out_are_neutralised(tmp_path, capsys):
    from modelyard.app.cli import _write_outputs
    from modelyard.storage.runfolder import RunFolder

    folder = RunFolder(tmp_path / "runs" / "run_x")
    folder.path.mkdir(parents=True)
    pd.DataFrame({"id": ["@SUM(A1)", "b"], "y": [-1.5, 2.0]}).to_csv(
        folder.predictions_path, index=False)
    board = [{"rank": 1, "model": "=HYPERLINK(\"http://x\")", "family": "+linear",
              "cv_score": -0.5, "metric": "r2", "greater_is_better": True,
              "fit_seconds": 0.1, "params": {"C": -1}}]
    ws = SimpleNamespace(ranked_trials=lambda run_id: board)
    plan = SimpleNamespace(model_dump_json=lambda indent: "{}")
    out = tmp_path / "out"
    out.mkdir()
    paths = _write_outputs(ws, folder, plan, out)
    rows = csv_cells(Path(paths["leaderboard"]))
    assert rows[1][:5] == ["1", "'=HYPERLINK(\"http://x\")", "'+linear", "-0.5", "r2"]
    assert json.loads(rows[1][7]) == {"C": -1}
    assert csv_cells(Path(paths["predictions"]))[1:] == [["'@SUM(A1)", "-1.5"], ["b", "2.0"]]
    assert "1 cell(s) of predictions.csv" in capsys.readouterr().err


def _predictor(classes: list[str]) -> Predictor:
    X = pd.DataFrame({"x": np.arange(60, dtype=float)})
    y = np.repeat(np.arange(len(classes)), 60 // len(classes))
    return Predictor(LogisticRegression(max_iter=500).fit(X, y),
                     {"target": "label", "numeric": ["x"], "categorical": [],
                      "classes": classes})


def test_a_submission_keeps_what_its_sample_spells_and_says_so(tmp_path):
    predictor = _predictor(["=cmd", "+ok", "plain"])
    test = pd.DataFrame({"key": ["=1", "@2", "3"], "x": [0.0, 30.0, 59.0]})
    sample = tmp_path / "sample.csv"
    pd.DataFrame({"=key": ["@2", "3", "=1"], "label": ["+ok", "+ok", "plain"]}).to_csv(
        sample, index=False)
    made = submission.make_submission(predictor, sample, test, tmp_path / "submission.csv")
    rows = csv_cells(made.path)
    # The sample's header and ids as the sample spells them; "+ok" because the sample
    # shows it; "=cmd" (not in the sample) neutralised.
    assert rows == [["=key", "label"], ["@2", "+ok"], ["3", "plain"], ["=1", "'=cmd"]]
    notes = " ".join(made.notes)
    assert "1 cell(s) of submission.csv" in notes
    assert "kept as they are because the sample submission spells them so" in notes
    assert "“@2”" in notes or "“=1”" in notes


def test_probabilities_in_a_submission_stay_numbers(tmp_path):
    predictor = _predictor(["no", "yes"])
    test = pd.DataFrame({"key": ["-1", "-2", "-3"], "x": [0.0, 30.0, 59.0]})
    sample = tmp_path / "sample.csv"
    pd.DataFrame({"key": ["-3", "-1", "-2"], "yes": [0.5, 0.5, 0.5]}).to_csv(sample,
                                                                            index=False)
    made = submission.make_submission(predictor, sample, test, tmp_path / "s.csv")
    written = pd.read_csv(made.path)
    assert written["key"].tolist() == [-3, -1, -2] and written["yes"].between(0, 1).all()
    assert made.notes == []


# -- Markdown and HTML -------------------------------------------------------------------------
def test_markdown_escapes_tags_links_images_code_and_table_cells():
    assert md_text(IMG) == "&lt;img src=x onerror=alert(1)&gt;"
    assert md_text(LINK) == "\\[click\\](http://x)"
    assert md_text("![x](http://x/t.png)") == "\\!\\[x\\](http://x/t.png)"
    assert md_text("a|b`c`&d") == "a\\|b\\`c\\`&amp;d"
    assert md_text("# title\nsecond line") == "\\# title second line"
    assert md_text("petal_length") == "petal_length" and md_text("-1.5") == "-1.5"
    assert md_code("a`b") == "``a`b``" and md_code("x|y", in_table=True) == "`x\\|y`"
    assert html_text(IMG) == "&lt;img src=x onerror=alert(1)&gt;"
    assert html_text('"a" & b') == "&quot;a&quot; &amp; b"


def test_report_blocks_are_plain_text_with_only_their_bold_as_markup():
    built = Report(IMG, [
        Block("h1", f"{IMG}: predicting {LINK}"),
        Block("p", ["Predicts ", Strong(IMG), " from ", Strong("**x**"), "."]),
        Block("list", items=[LINK, ["kept: ", Strong("bold")]]),
        Block("table", columns=["column", "share"], rows=[[IMG, 0.5], [LINK, "a|b"]]),
        Block("code", "The Plan as JSON", items=[json.dumps({"target": IMG})])])
    text = built.markdown()
    assert "<img" not in _outside_code(text) and "[click](" not in _outside_code(text)
    assert "# &lt;img src=x onerror=alert(1)&gt;: predicting \\[click\\](http://x)" in text
    assert "Predicts **&lt;img src=x onerror=alert(1)&gt;** from **\\*\\*x\\*\\***." in text
    assert "- kept: **bold**" in text
    assert "| &lt;img src=x onerror=alert(1)&gt; | 0.5 |" in text and "| a\\|b |" in text
    page = built.html()
    assert "<img" not in page and "<b>&lt;img src=x onerror=alert(1)&gt;</b>" in page
    assert "<b>**x**</b>" in page and "<title>&lt;img src=x" in page


def test_chart_labels_from_the_data_carry_no_markup():
    from modelyard.engine.results import figures

    link = '<a href="http://x">income</a>'
    fig = figures.importance_figure(pd.DataFrame({"feature": [IMG, link],
                                                  "importance": [0.6, 0.4], "kind": "gain"}))
    assert list(fig.data[0].y) == ['&lt;a href="http://x"&gt;income&lt;/a&gt;',
                                   "&lt;img src=x onerror=alert(1)&gt;"]
    cm = {"labels": [link, "b"], "counts": [[1, 0], [0, 1]], "share": [[1, 0], [0, 1]]}
    assert "<a" not in "".join(figures.confusion_figure(cm).data[0].x)


def test_data_page_charts_show_names_and_values_as_written(home, tmp_path):
    """The Data page's charts (app/charts.py): a column named with a link, a category
    value with a tag, and a target named with bold markup stay text in every title, axis
    title and tick label plotly draws."""
    from modelyard.app import charts
    from modelyard.engine.intake import ingest
    from modelyard.engine.intake.ingest import load_profile

    link, bold = '<a href="http://x">income</a>', "<b>y</b>"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({link: rng.normal(size=80), "kind": [IMG, "b"] * 40,
                          "gaps": [None, 1.0] * 40, bold: ["yes", "no"] * 40})
    frame.to_csv(tmp_path / "h.csv", index=False)
    profile = load_profile(home, ingest(home, tmp_path / "h.csv", target=bold)["id"])
    figures = [charts.column_chart(c) for c in profile.columns]
    figures += [charts.missingness(profile), charts.associations(profile),
                charts.target_distribution(profile), charts.correlation_heatmap(profile)]
    shown = [f for f in figures if f is not None]
    assert len(shown) >= 6
    for fig in shown:
        layout = fig.layout
        words = [layout.title.text, layout.xaxis.title.text, layout.yaxis.title.text]
        for trace in fig.data:
            words += [str(v) for v in (getattr(trace, "x", None) or ())]
            words += [str(v) for v in (getattr(trace, "y", None) or ())]
        assert not any("<" in w or ">" in w for w in words if w), words
    assert any("&lt;b&gt;y&lt;/b&gt;" in (f.layout.title.text or "") for f in shown)


def _outside_code(markdown: str) -> str:
    """The Markdown with fenced code blocks and code spans taken out: in them nothing is
    markup."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", text)


# -- on real trained Runs ----------------------------------------------------------------------
def cli(*args, env, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelyard.app.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=240)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, child_env):
    from tests.results_run import shared_run

    return shared_run(tmp_path_factory, child_env)


def _hostile_ids(test: Path, dest: Path) -> pd.DataFrame:
    rows = pd.read_csv(test)
    ids = [*FORMULAS[:4], "-1.5"]
    rows["lot_code"] = ids + [f"L{i}" for i in range(len(rows) - len(ids))]
    rows.to_csv(dest, index=False)
    return rows


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_predictions_neutralise_formula_ids_and_keep_numbers(trained, tmp_path):
    rows = _hostile_ids(trained.test, tmp_path / "rows.csv")
    made = cli("predict", trained.run_id, tmp_path / "rows.csv", "--out", tmp_path / "p.csv",
               env=trained.env)
    assert made.returncode == 0, made.stderr
    assert "4 cell(s) of p.csv start with =, +, -, @" in made.stderr
    cells = csv_cells(tmp_path / "p.csv")
    assert [r[0] for r in cells[1:6]] == ["'" + f for f in FORMULAS[:4]] + ["-1.5"]
    written = pd.read_csv(tmp_path / "p.csv")
    expected = pd.read_csv(trained.out / "predictions.csv")
    probabilities = [c for c in expected.columns if c.startswith("proba_")]
    # The same rows in the same order as the run's own predictions: the same numbers.
    np.testing.assert_array_equal(written[probabilities].to_numpy(),
                                  expected[probabilities].to_numpy())
    assert len(written) == len(rows)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_submission_keeps_the_samples_ids_and_header_and_says_so(trained, tmp_path):
    rows = _hostile_ids(trained.test, tmp_path / "test.csv")
    sample = pd.read_csv(trained.sample)
    by_old = dict(zip(pd.read_csv(trained.test)["lot_code"], rows["lot_code"], strict=True))
    sample["Id"] = sample["Id"].map(by_old)
    sample = sample.rename(columns={"Id": "=Id"})
    sample.to_csv(tmp_path / "sample.csv", index=False)
    made = cli("submission", trained.run_id, "--sample", tmp_path / "sample.csv", "--test",
               tmp_path / "test.csv", "--out", tmp_path / "s.csv", env=trained.env)
    assert made.returncode == 0, made.stderr
    assert "because the sample submission spells them so" in made.stderr
    cells = csv_cells(tmp_path / "s.csv")
    assert cells[0] == ["=Id", *sample.columns[1:]]
    assert [r[0] for r in cells[1:]] == sample["=Id"].tolist()  # the sample's ids, as spelled
    written = pd.read_csv(tmp_path / "s.csv", dtype={"=Id": str})
    assert written[sample.columns[1:]].sum(axis=1).round(9).eq(1.0).all()  # numbers


_HOSTILE_TARGET = "verdict"
_WIN, _LOSE = '=HYPERLINK("http://x","win")', "@lose"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, child_env):
    """A real Run trained on columns named like markup and labels that are formulas."""
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(3)
    signal = rng.normal(size=150)
    frame = pd.DataFrame({IMG: signal, LINK: rng.normal(size=150),
                          _HOSTILE_TARGET: np.where(signal > 0, _WIN, _LOSE)})
    frame.iloc[:120].to_csv(root / "train.csv", index=False)
    frame.iloc[120:].drop(columns=_HOSTILE_TARGET).to_csv(root / "test.csv", index=False)
    env = child_env(root / "home")
    made = cli("run", root / "train.csv", "--target", _HOSTILE_TARGET, "--test",
               root / "test.csv", "--budget", "6", "--out", root / "out", "--json", env=env,
               cwd=root)
    assert made.returncode == 0, made.stderr
    return SimpleNamespace(root=root, env=env, out=root / "out",
                           run_id=json.loads(made.stdout)["run_id"])


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_documents_escape_hostile_column_names_and_labels(hostile):
    root, env = hostile.root, hostile.env
    for out in ("r.md", "r.html"):
        made = cli("report", hostile.run_id, "--out", root / out, env=env)
        assert made.returncode == 0, made.stderr
    exported = cli("export", hostile.run_id, "--out", root / "bundle", env=env)
    assert exported.returncode == 0, exported.stderr
    escaped_img = "&lt;img src=x onerror=alert(1)&gt;"
    for name in ("r.md", "bundle/MODEL_CARD.md", "bundle/README.md"):
        text = (root / name).read_text()
        plain = _outside_code(text)
        assert "<img" not in plain and "[click](" not in plain, name
        assert escaped_img in text and "\\[click\\](http://x)" in text, name
    readme = (root / "bundle" / "README.md").read_text()
    assert f"| {escaped_img} | numeric |" in readme
    page = (root / "r.html").read_text()
    assert "<img src=x" not in page and escaped_img in page


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_run_out_predictions_neutralise_formula_labels(hostile):
    cells = csv_cells(hostile.out / "predictions.csv")
    header, rows = cells[0], cells[1:]
    assert header[0] == _HOSTILE_TARGET
    assert {r[0] for r in rows} <= {"'" + _WIN, "'" + _LOSE} and len(rows) == 30
    proba = pd.read_csv(hostile.out / "predictions.csv").iloc[:, 1:]
    assert proba.sum(axis=1).round(9).eq(1.0).all()  # numbers, untouched
    # The run's own record keeps the labels exact (a machine reads it).
    raw = pd.read_csv(hostile.root / "home" / "runs" / hostile.run_id / "predictions.csv")
    assert set(raw[_HOSTILE_TARGET]) <= {_WIN, _LOSE}
