"""Intake: a file becomes a dataset folder, or nothing at all; target and task guessed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest

from modelyard.engine.errors import BadInputError, IntakeError
from modelyard.engine.intake import ingest
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.intake.samples import SAMPLES, write_sample
from modelyard.schemas import ColumnKind, Task
from modelyard.storage.datasets import list_datasets


def folder_files(home, dataset_id):
    return {p.name for p in home.dataset_dir(dataset_id).iterdir()}


def assert_nothing_left(home):
    assert list(home.datasets.iterdir()) == [], "a partial dataset folder was left behind"


def test_ingest_csv_builds_the_dataset_folder(ws, home, messy_csv, make_messy):
    meta = ws.ingest(messy_csv)
    assert folder_files(home, meta["id"]) == {"train.parquet", "profile.json", "dataset.json"}
    assert [p.name for p in home.datasets.iterdir()] == [meta["id"]]  # no .partial left
    expected = make_messy()
    table = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")
    assert table.columns == list(expected.columns)
    assert table.height == len(expected)
    assert table["customer_id"].to_list() == expected["customer_id"].tolist()
    assert meta["name"] == "customers"
    assert (meta["n_rows"], meta["n_cols"]) == (len(expected), expected.shape[1])
    assert meta["has_test"] is False
    assert json.loads((home.dataset_dir(meta["id"]) / "dataset.json").read_text()) == meta
    profile = load_profile(home, meta["id"])
    assert profile.n_rows == len(expected)
    # The catalog knows it at once.
    rows = list_datasets(ws.catalog)
    assert [(r["id"], r["target"], r["task"]) for r in rows] == [(meta["id"], "churn", "binary")]


def test_ingest_parquet_and_a_test_table(ws, home, tmp_path, make_messy):
    frame = make_messy(n=120)
    frame.iloc[:100].to_parquet(tmp_path / "train.parquet", index=False)
    frame.iloc[100:].drop(columns="churn").to_parquet(tmp_path / "test.pq", index=False)
    meta = ws.ingest(tmp_path / "train.parquet", name="Customers", target="churn",
                     test_path=tmp_path / "test.pq")
    assert folder_files(home, meta["id"]) == {"train.parquet", "test.parquet", "profile.json",
                                              "dataset.json"}
    assert meta["name"] == "Customers" and meta["has_test"] is True
    assert meta["n_rows"] == 100
    test = pl.read_parquet(home.dataset_dir(meta["id"]) / "test.parquet")
    assert test.height == 20 and "churn" not in test.columns
    assert meta["target"] == "churn"


def test_ingest_tsv(home, tmp_path, make_messy):
    path = tmp_path / "t.tsv"
    make_messy(n=50).to_csv(path, sep="\t", index=False)
    meta = ingest(home, path)
    assert meta["n_cols"] == 6 and meta["n_rows"] == 50


def test_reuse_finds_the_same_content(ws, messy_csv):
    first = ws.ingest(messy_csv, reuse=True)
    again = ws.ingest(messy_csv, reuse=True)
    assert again["id"] == first["id"]
    assert again["reused"].startswith("Using data set “customers” (same content, added 20")
    assert "reused" not in first
    assert len(list_datasets(ws.catalog)) == 1
    other = ws.ingest(messy_csv)  # without reuse, a second dataset
    assert other["id"] != first["id"]


def test_reuse_needs_the_same_test_file(ws, tmp_path, make_messy):
    """The same training table with another test file (or none) is another data set."""
    frame = make_messy(n=120)
    frame.iloc[:100].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[100:].to_csv(tmp_path / "test.csv", index=False)
    frame.iloc[105:].to_csv(tmp_path / "other_test.csv", index=False)
    with_test = ws.ingest(tmp_path / "train.csv", test_path=tmp_path / "test.csv", reuse=True)
    alone = ws.ingest(tmp_path / "train.csv", reuse=True)
    assert alone["id"] != with_test["id"] and "reused" not in alone
    assert ws.ingest(tmp_path / "train.csv", reuse=True)["id"] == alone["id"]
    assert ws.ingest(tmp_path / "train.csv", test_path=tmp_path / "test.csv",
                     reuse=True)["id"] == with_test["id"]
    other = ws.ingest(tmp_path / "train.csv", test_path=tmp_path / "other_test.csv",
                      reuse=True)
    assert other["id"] not in (alone["id"], with_test["id"])


# -- words such as "None": kept as values until the person says otherwise ------------------
def _internet_csv(path, n=2_000):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "internet_service": np.where(np.arange(n) % 5 == 0, "None",
                                     rng.choice(["DSL", "Fiber optic"], size=n)),
        "tenure": rng.integers(0, 70, size=n),
        "churn": rng.choice(["yes", "no"], size=n),
    })
    frame.to_csv(path, index=False)
    return path


def test_words_as_missing_is_a_choice_that_can_be_undone(ws, home, tmp_path):
    path = _internet_csv(tmp_path / "churn.csv")
    (tmp_path / "test.csv").write_text("internet_service,tenure\nNone,3\nDSL,4\n")
    meta = ws.ingest(path, target="churn", test_path=tmp_path / "test.csv")
    folder = home.dataset_dir(meta["id"])
    before = load_profile(home, meta["id"])
    assert before.column("internet_service").n_missing == 0
    kept = next(w for w in before.warnings if w.code == "words_kept")
    assert kept.message == "“internet_service” has 400 cells reading “None”: kept as a category."

    first_read = pl.read_parquet(folder / "train.parquet")
    chosen = ws.treat_words_as_missing(meta["id"])
    assert chosen["missing_words"] == {"internet_service": ["None"]}
    after = load_profile(home, meta["id"])
    assert after.column("internet_service").n_missing == 400
    assert after.column("internet_service").missing_share == pytest.approx(0.2)
    assert [w.code for w in after.warnings if w.code.startswith("words")] == ["words_missing"]
    assert after.target.column == "churn" and after.target.confidence == 1.0
    train = pl.read_parquet(folder / "train.parquet")
    assert train["internet_service"].null_count() == 400
    assert pl.read_parquet(folder / "test.parquet")["internet_service"].to_list() == [None,
                                                                                      "DSL"]
    # The catalog follows, so the pages and plans do.
    assert ws.dataset(meta["id"]).profile.column("internet_service").n_missing == 400
    assert "None" not in dict(after.column("internet_service").top_values)

    undone = ws.treat_words_as_missing(meta["id"], False)
    assert undone["missing_words"] == {}
    again = load_profile(home, meta["id"])
    assert again.column("internet_service").n_missing == 0
    assert [w.code for w in again.warnings if w.code.startswith("words")] == ["words_kept"]
    assert pl.read_parquet(folder / "train.parquet").equals(first_read)
    assert not (folder / "as_read").exists()


def test_words_as_missing_follows_into_the_model_bundle(tmp_path):
    """A Model bundle carries the words its training read as missing; predicting reads a
    new row's "None" as it reads an empty cell."""
    from sklearn.dummy import DummyClassifier

    from modelyard.engine.training.bundle import Predictor

    class Echo(DummyClassifier):
        """Says, per row, whether the column is missing: what the model was shown."""

        def predict_proba(self, X):
            gap = X["internet_service"].isna().to_numpy(dtype=float)
            return np.column_stack([1 - gap, gap])

    meta = {"target": "churn", "classes": ["kept", "gap"], "numeric": [],
            "categorical": ["internet_service"], "missing_words": {"internet_service":
                                                                  ["None"]}}
    rows = pd.DataFrame({"internet_service": ["None", None, "DSL"]})
    told = Predictor(Echo(), meta).predict_frame(rows)["churn"].tolist()
    assert told == ["gap", "gap", "kept"]
    meta.pop("missing_words")
    assert Predictor(Echo(), meta).predict_frame(rows)["churn"].tolist() == ["kept", "gap",
                                                                            "kept"]


def test_the_choice_is_refused_without_such_words(ws, messy_csv):
    meta = ws.ingest(messy_csv)
    with pytest.raises(IntakeError, match="No text column of this data set has cells"):
        ws.treat_words_as_missing(meta["id"])


# -- failures: a clear IntakeError, and no folder ---------------------------------------
def _empty(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    return {"path": path}


def _missing(tmp_path):
    return {"path": tmp_path / "does-not-exist.csv"}


def _fake_excel(tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    return {"path": path}


def _missing_target(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    return {"path": path, "target": "nope"}


def _target_in_other_case(tmp_path):
    path = tmp_path / "churn.csv"
    path.write_text("tenure,churn\n1,yes\n3,no\n")
    return {"path": path, "target": "Churn"}


def _header_only(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b,c\n")
    return {"path": path}


def _missing_test_file(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    return {"path": path, "test_path": tmp_path / "no-test.csv"}


def _empty_folder(tmp_path):
    path = tmp_path / "a-folder.csv"
    path.mkdir()
    return {"path": path}


def _test_is_a_folder(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "tests").mkdir()
    return {"path": path, "test_path": tmp_path / "tests"}


def _corrupt_parquet(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet at all\n" * 10)
    return {"path": path}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_empty, r"empty\.csv is empty"),
        (_missing, r"does-not-exist\.csv: no such file"),
        (_fake_excel, r"book\.xlsx is not a valid Excel workbook"),
        (_missing_target, r"There is no column “nope” in small\.csv.*Columns are: a, b"),
        (_target_in_other_case, r"no column “Churn” in churn\.csv\. Did you mean “churn”\? "
                                r"Columns are: tenure, churn"),
        (_header_only, r"header but no rows"),
        (_missing_test_file, r"no-test\.csv: no such file"),
        (_empty_folder, r"a-folder\.csv holds no table and no images"),
        (_test_is_a_folder, r"tests is a folder, not a file"),
        (_corrupt_parquet, r"broken\.parquet could not be read as a table"),
    ],
    ids=["empty", "missing", "fake-excel", "missing-target", "target-case", "header-only",
         "missing-test-file", "empty-folder", "test-is-a-folder", "corrupt-parquet"],
)
def test_failed_intake_raises_and_leaves_nothing(ws, home, tmp_path, make, message):
    kwargs = make(tmp_path)
    with pytest.raises(IntakeError, match=message) as info:
        ws.ingest(**kwargs)
    assert isinstance(info.value, BadInputError) and info.value.exit_code == 2
    assert info.value.hint, "every intake error tells the person what to do next"
    assert "\n" not in str(info.value)
    assert_nothing_left(home)
    assert list_datasets(ws.catalog) == []


# -- target and task -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "target", "task", "n_classes"),
    [("breast_cancer", "diagnosis", Task.binary, 2),
     ("wine", "cultivar", Task.multiclass, 3),
     ("diabetes", "progression", Task.regression, None)],
)
def test_target_and_task_of_the_samples(home, tmp_path, key, target, task, n_classes):
    path = write_sample(key, tmp_path)
    assert SAMPLES[key].target == target and SAMPLES[key].task == task.value
    meta = ingest(home, path)  # no target given: it is guessed
    assert (meta["target"], meta["task"]) == (target, task.value)
    profile = load_profile(home, meta["id"])
    guess = profile.target
    assert guess.column == target and guess.task is task
    assert guess.confidence >= 0.5 and target in guess.reason
    col = profile.column(target)
    if n_classes is not None:
        assert col.n_distinct == n_classes
    else:
        assert col.kind is ColumnKind.numeric and col.n_distinct > 30


def test_profile_of_a_messy_table(home, messy_csv, make_messy):
    expected = make_messy()
    meta = ingest(home, messy_csv)
    profile = load_profile(home, meta["id"])
    assert (profile.target.column, profile.target.task) == ("churn", Task.binary)
    kinds = {c.name: c.kind for c in profile.columns}
    assert kinds == {"customer_id": ColumnKind.id, "tenure_months": ColumnKind.numeric,
                     "monthly_charges": ColumnKind.numeric,
                     "contract": ColumnKind.categorical, "region": ColumnKind.categorical,
                     "churn": ColumnKind.categorical}
    contract = profile.column("contract")
    assert contract.n_missing == int(expected["contract"].isna().sum()) > 0
    assert contract.n_distinct == 3  # a gap is not a category
    assert {v for v, _ in contract.top_values} == {"monthly", "yearly", "two-year"}
    churn = profile.column("churn")
    assert churn.n_distinct == 2
    assert dict(churn.top_values) == expected["churn"].value_counts().to_dict()
    tenure = profile.column("tenure_months")
    assert tenure.min == expected["tenure_months"].min()
    assert tenure.max == expected["tenure_months"].max()
    assert tenure.mean == pytest.approx(expected["tenure_months"].mean())
    # The id is called out for the person, with what will happen to it.
    id_warnings = [w for w in profile.warnings if w.column == "customer_id"]
    assert id_warnings and "identifier" in id_warnings[0].message


def test_missing_target_values_and_duplicates_are_warned_about(home, tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 1.0, 6.0] * 5,
                          "label": ["a", "b", None, "a", "a", "b"] * 5})
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)
    meta = ingest(home, path, target="label")
    profile = load_profile(home, meta["id"])
    messages = " ".join(w.message for w in profile.warnings)
    assert "The target “label” is missing in 5 rows" in messages
    assert profile.duplicate_rows == len(frame) - len(frame.drop_duplicates())
    assert "exact duplicates" in messages


def test_explicit_target_wins_over_the_guess(home, messy_csv):
    meta = ingest(home, messy_csv, target="region")
    profile = load_profile(home, meta["id"])
    assert (profile.target.column, profile.target.task, profile.target.confidence) == (
        "region", Task.multiclass, 1.0)


def test_integer_codes_with_few_values_are_classes(home, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200),
                          "grade": rng.integers(0, 4, size=200)})
    path = tmp_path / "grades.csv"
    frame.to_csv(path, index=False)
    assert ingest(home, path)["task"] == "multiclass"
    frame["grade"] = rng.normal(size=200) * 10
    frame.to_csv(path, index=False)
    assert ingest(home, path)["task"] == "regression"
