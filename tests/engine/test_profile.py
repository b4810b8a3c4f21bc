"""The profile a person acts on: statistics, the target and task with reasons, the
warnings and their one-click fixes, roles and target overrides that persist."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn import datasets

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import ingest
from modelyard.engine.intake import profile as profile_module
from modelyard.engine.intake.ingest import load_profile
from modelyard.engine.training.data import choose_features
from modelyard.schemas import ColumnKind, ColumnRole, Plan, Task
from modelyard.storage.datasets import list_datasets


def ingest_frame(home, tmp_path, frame: pd.DataFrame, name="t", **kwargs):
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    meta = ingest(home, path, **kwargs)
    return meta, load_profile(home, meta["id"])


def codes(profile) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for w in profile.warnings:
        found.setdefault(w.code, []).append(w.column)
    return found


# -- target and task on scikit-learn's bundled sets ---------------------------------------
SKLEARN = {
    "iris": (datasets.load_iris, Task.multiclass, "species"),
    "wine": (datasets.load_wine, Task.multiclass, "cultivar"),
    "breast_cancer": (datasets.load_breast_cancer, Task.binary, "diagnosis"),
    "diabetes": (datasets.load_diabetes, Task.regression, "progression"),
    "digits": (datasets.load_digits, Task.multiclass, "label"),
}


@pytest.mark.parametrize("key", list(SKLEARN))
def test_sklearn_sets_as_shipped(home, tmp_path, key):
    loader, task, _ = SKLEARN[key]
    frame = loader(as_frame=True).frame  # the target is the last column, "target"
    meta, profile = ingest_frame(home, tmp_path, frame, key)
    assert (meta["target"], meta["task"]) == ("target", task.value)
    assert profile.target.confidence >= 0.8


@pytest.mark.parametrize("key", list(SKLEARN))
def test_sklearn_sets_with_the_target_named_and_moved_first(home, tmp_path, key):
    loader, task, name = SKLEARN[key]
    bunch = loader(as_frame=True)
    frame = bunch.data.copy()
    target = bunch.target
    if task.is_classification and hasattr(bunch, "target_names") and key != "digits":
        target = pd.Series(np.asarray(bunch.target_names)[bunch.target])
    frame.insert(0, name, target)
    meta, profile = ingest_frame(home, tmp_path, frame, key)
    assert (meta["target"], meta["task"]) == (name, task.value)
    assert name in profile.target.reason


# -- messy generated tables ------------------------------------------------------------------
def churn_table(n=400, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, size=n)
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-(1.5 - 0.06 * tenure))), "Yes", "No")
    return pd.DataFrame({
        "Unnamed: 0": np.arange(n),
        "CustomerRef": [f"C-{i:05d}" for i in rng.permutation(n)],
        "Churn?": churn,
        "tenure": tenure,
        "plan": rng.choice(["basic", "plus", "pro"], size=n),
        "monthly fee": rng.normal(40, 10, size=n).round(2),
        "signup": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
    })


def test_messy_table_target_ids_and_dates(home, tmp_path):
    meta, profile = ingest_frame(home, tmp_path, churn_table())
    assert (meta["target"], meta["task"]) == ("Churn?", "binary")
    kinds = {c.name: c.kind for c in profile.columns}
    assert kinds["Unnamed: 0"] is ColumnKind.id
    assert kinds["CustomerRef"] is ColumnKind.id
    assert kinds["signup"] is ColumnKind.datetime
    assert profile.time_column == "signup"
    assert [c.column for c in profile.target_candidates][0] == "Churn?"
    assert dict(profile.class_balance).keys() == {"Yes", "No"}


def test_regression_target_with_whole_numbers(home, tmp_path):
    rng = np.random.default_rng(2)
    area = rng.integers(40, 300, size=500)
    frame = pd.DataFrame({"LotArea": area, "Rooms": rng.integers(1, 8, size=500),
                          "Neighborhood": rng.choice(list("ABCDEFG"), size=500),
                          "SalePrice": (area * 1500 + rng.integers(0, 50_000, size=500))})
    meta, profile = ingest_frame(home, tmp_path, frame)
    assert (meta["target"], meta["task"]) == ("SalePrice", "regression")
    assert profile.column("LotArea").association > 0.8


def test_boolean_target_not_last(home, tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"visits": rng.integers(0, 30, size=300),
                          "converted": rng.random(300) < 0.3,
                          "channel": rng.choice(["ads", "mail", "web"], size=300),
                          "country": rng.choice(["DE", "FR", "IT"], size=300)})
    meta, profile = ingest_frame(home, tmp_path, frame)
    assert (meta["target"], meta["task"]) == ("converted", "binary")
    assert profile.column("converted").kind is ColumnKind.boolean


def test_an_outcome_named_first_beats_an_input_with_a_target_like_name(home, tmp_path):
    # As in R's data sets: the outcome first, an income among the inputs, last.
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"default": rng.choice(["No", "Yes"], size=400, p=[0.8, 0.2]),
                          "student": rng.choice(["No", "Yes"], size=400),
                          "balance": rng.normal(800, 300, size=400).round(2),
                          "income": rng.normal(30_000, 9_000, size=400).round(2)})
    meta, profile = ingest_frame(home, tmp_path, frame)
    assert (meta["target"], meta["task"]) == ("default", "binary")
    # The next likely ones are offered too, each with its reason.
    assert [c.column for c in profile.target_candidates[:3]][0] == "default"
    assert "income" in [c.column for c in profile.target_candidates[:3]]


def test_a_key_the_profile_did_not_call_an_id_is_not_offered_first(home, tmp_path):
    rng = np.random.default_rng(8)
    n = 300
    frame = pd.DataFrame({"row_ref": rng.integers(1, 120, n),  # repeats: not an id kind
                          "plan": rng.choice(["a", "b", "c"], n),
                          "age": rng.integers(18, 80, n),
                          "no_show": rng.choice(["yes", "no"], n)})
    meta, profile = ingest_frame(home, tmp_path, frame)
    assert meta["target"] == "no_show"
    assert profile.target_candidates[-1].column == "row_ref"


def test_coordinates_are_not_targets_and_a_price_among_them_is(home, tmp_path):
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame({"carat": rng.random(n).round(2), "cut": rng.choice(list("ABC"), n),
                          "price": rng.integers(300, 9000, n), "x": rng.random(n),
                          "y": rng.random(n), "z": rng.random(n)})
    meta, _ = ingest_frame(home, tmp_path, frame)
    assert meta["target"] == "price"


# -- statistics ---------------------------------------------------------------------------------
def test_statistics_of_each_kind(home, tmp_path):
    rng = np.random.default_rng(5)
    n = 500
    x = rng.normal(10, 2, size=n)
    frame = pd.DataFrame({
        "x": x, "x2": x * 3 + rng.normal(0, 0.01, size=n),
        "review": [" ".join(rng.choice(["good", "bad", "fine", "slow", "great", "awful"],
                                       size=8)) + f" #{i}" for i in range(n)],
        "label": rng.choice(["a", "b"], size=n),
    })
    _, profile = ingest_frame(home, tmp_path, frame)
    col = profile.column("x")
    assert col.quantiles["50%"] == pytest.approx(np.quantile(x, 0.5))
    assert sum(count for _, _, count in col.histogram) == n
    assert col.histogram[0][0] == pytest.approx(x.min())
    review = profile.column("review")
    assert review.kind is ColumnKind.text
    assert review.text_length["min"] >= 30
    corr = profile.correlations
    i, j = corr.columns.index("x"), corr.columns.index("x2")
    assert corr.values[i][j] == corr.values[j][i] > 0.99
    assert profile.modality == "tabular+text"
    assert profile.sampled_rows is None  # small enough to read whole


def test_big_tables_are_sampled_but_counts_stay_exact(home, tmp_path, monkeypatch):
    monkeypatch.setattr(profile_module, "SAMPLE_ROWS", 300)
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"a": rng.normal(size=3_000), "g": rng.choice(["x", "y"], size=3_000)})
    _, profile = ingest_frame(home, tmp_path, frame)
    assert 200 <= profile.sampled_rows <= 400
    assert dict(profile.column("g").top_values) == frame["g"].value_counts().to_dict()
    assert profile.column("a").mean == pytest.approx(frame["a"].mean())


def test_text_only_modality(home, tmp_path):
    rng = np.random.default_rng(7)
    words = ["movie", "plot", "acting", "boring", "superb", "music", "ending", "long"]
    frame = pd.DataFrame({
        "review": [" ".join(rng.choice(words, size=12)) + f" ({i})" for i in range(200)],
        "sentiment": rng.choice(["positive", "negative"], size=200)})
    meta, profile = ingest_frame(home, tmp_path, frame)
    assert (profile.modality, meta["target"]) == ("text", "sentiment")


# -- warnings -----------------------------------------------------------------------------------
def test_each_column_warning_with_its_fix(home, tmp_path):
    rng = np.random.default_rng(8)
    n = 600
    y = rng.choice(["no", "yes"], size=n, p=[0.7, 0.3])
    sparse = rng.normal(size=n)
    sparse[rng.random(n) < 0.95] = np.nan
    frame = pd.DataFrame({
        "order_id": rng.permutation(n) + 1_000,
        "country": "DE",
        "flag": np.where(np.arange(n) < 3, "rare", "common"),
        "email": [f"user{i}@example.org" for i in range(n)],
        "coupon": sparse,
        "status_code": np.where(y == "yes", 2, 7),  # the answer under another name
        "score": np.where(y == "yes", 0.9, 0.1) + rng.normal(0, 0.001, size=n),
        "closed_date": np.where(y == "yes", "2024-03-01", None),
        "x": rng.normal(size=n),
        "churn": y,
    })
    _, profile = ingest_frame(home, tmp_path, frame)
    assert profile.target.column == "churn"
    found = codes(profile)
    assert found["constant"] == ["country"]
    assert found["near_constant"] == ["flag"]
    assert set(found["id_like"]) >= {"order_id", "email"}
    assert set(found["missing"]) == {"coupon", "closed_date"}  # 95% and 70% missing
    assert found["target_copy"] == ["status_code"]
    assert set(found["leakage"]) == {"score", "closed_date"}
    assert "x" not in sum(found.values(), [])
    by = {(w.code, w.column): w for w in profile.warnings}
    assert by[("leakage", "closed_date")].message.startswith("The date “closed_date”")
    assert by[("leakage", "score")].suggested_role is ColumnRole.ignore
    assert by[("target_copy", "status_code")].severity == "error"
    assert by[("missing", "coupon")].suggested_role is ColumnRole.ignore
    assert by[("id_like", "order_id")].suggested_role is ColumnRole.id
    assert profile.warnings[0].severity == "error"  # errors come first


def test_high_cardinality_and_a_date_that_sounds_late(home, tmp_path):
    rng = np.random.default_rng(9)
    n = 3_000
    frame = pd.DataFrame({
        "zip": rng.integers(0, 1_500, size=n).astype(str),
        "cancel_date": pd.Series(pd.date_range("2021-01-01", periods=n, freq="h"))
        .sample(frac=1, random_state=1).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(),
        "amount": rng.normal(size=n),
        "label": rng.choice(["a", "b"], size=n),
    })
    frame.loc[:2, "zip"] = ["z1", "z2", "z3"]  # text, not numbers
    _, profile = ingest_frame(home, tmp_path, frame)
    found = codes(profile)
    assert found["high_cardinality"] == ["zip"]
    assert found["future_date"] == ["cancel_date"]


def test_target_warnings(home, tmp_path):
    rng = np.random.default_rng(10)
    frame = pd.DataFrame({"x": rng.normal(size=200),
                          "grade": ["A"] * 120 + ["B"] * 77 + ["C"] * 3})
    _, profile = ingest_frame(home, tmp_path, frame, "rare")
    rare = [w for w in profile.warnings if w.code == "rare_classes"]
    assert rare and "“C” (3)" in rare[0].message

    frame = pd.DataFrame({"x": rng.normal(size=50), "y": ["only"] * 50})
    _, profile = ingest_frame(home, tmp_path, frame, "single", target="y")
    assert "single_class" in codes(profile)


def test_not_supported_yet_multi_label_forecasting_no_target(home, tmp_path):
    rng = np.random.default_rng(11)
    genres = ["action", "comedy", "drama", "horror"]
    frame = pd.DataFrame({
        "budget": rng.normal(size=200),
        "genres": ["|".join(sorted(set(rng.choice(genres, size=rng.integers(1, 3)))))
                   for _ in range(200)]})
    _, profile = ingest_frame(home, tmp_path, frame, "movies", target="genres")
    # Multi-label is trained now (engine/multilabel): found, taken, and said as such.
    multi = [w for w in profile.warnings if w.code == "multi_label"]
    assert multi and "not supported yet" not in multi[0].message and multi[0].severity == "info"
    assert profile.target.task.value == "multilabel"
    assert "One of several categories" in multi[0].action  # the other reading, offered

    days = pd.date_range("2022-01-01", periods=365, freq="D")
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"),
                          "promo": rng.integers(0, 2, size=365),
                          "sales": (100 + np.arange(365) * 0.5 + rng.normal(0, 5, size=365))})
    _, profile = ingest_frame(home, tmp_path, frame, "shop")
    assert profile.target.column == "sales"
    forecast = [w for w in profile.warnings if w.code == "forecasting"]
    assert forecast and "can forecast" in forecast[0].message
    assert "--time date --horizon" in forecast[0].action
    # The date follows the sales' trend (it alone explains them): in a series that is
    # the trend to forecast, not a leak to ignore.
    assert profile.column("date").alone_score > 0.97 and "leakage" not in codes(profile)

    frame = pd.DataFrame({"uid": [f"u{i}" for i in range(100)], "const": 1,
                          "when": pd.date_range("2020-01-01", periods=100).strftime("%Y-%m-%d")})
    meta, profile = ingest_frame(home, tmp_path, frame, "nothing")
    assert meta["target"] is None and profile.target is None
    assert [w.severity for w in profile.warnings if w.code == "no_target"] == ["error"]


# -- roles and overrides --------------------------------------------------------------------------
def test_roles_and_target_override_persist(ws, home, tmp_path):
    path = tmp_path / "churn.csv"
    churn_table().to_csv(path, index=False)
    meta = ws.ingest(path)
    dsid = meta["id"]
    meta = ws.set_roles(dsid, roles={"plan": "ignore", "tenure": "group"})
    assert meta["roles"] == {"plan": "ignore", "tenure": "group"}
    profile = load_profile(home, dsid)
    plan_col = profile.column("plan")
    assert (plan_col.role, plan_col.kind, plan_col.detected_kind) == (
        ColumnRole.ignore, ColumnKind.ignored, ColumnKind.categorical)
    on_disk = json.loads((home.dataset_dir(dsid) / "dataset.json").read_text())
    assert on_disk["roles"] == meta["roles"]
    # The trainer leaves ignored and group columns out.
    plan = Plan(dataset_id=dsid, target="Churn?", task=Task.binary, metric="roc_auc",
                families=[{"family": "dummy"}])
    features = choose_features(plan, profile)
    assert "plan" not in features.all and "tenure" not in features.all
    assert "monthly fee" in features.all

    meta = ws.set_roles(dsid, roles={"plan": None}, target="plan", task="multiclass")
    assert (meta["target"], meta["task"], meta["target_chosen"]) == ("plan", "multiclass", True)
    profile = load_profile(home, dsid)
    assert profile.column("plan").kind is ColumnKind.categorical
    assert profile.target.reason == "chosen by you"
    assert dict(profile.class_balance).keys() == {"basic", "plus", "pro"}
    row = next(r for r in list_datasets(ws.catalog) if r["id"] == dsid)
    assert (row["target"], row["task"]) == ("plan", "multiclass")  # the catalog followed

    meta = ws.set_roles(dsid, target="")  # back to the guess
    assert (meta["target"], meta["target_chosen"]) == ("Churn?", False)


def test_bad_role_changes_are_refused(ws, home, tmp_path):
    path = tmp_path / "churn.csv"
    churn_table(n=100).to_csv(path, index=False)
    dsid = ws.ingest(path)["id"]
    with pytest.raises(IntakeError, match="no column “nope”"):
        ws.set_roles(dsid, roles={"nope": "ignore"})
    with pytest.raises(IntakeError, match="“sideways” is not a column role"):
        ws.set_roles(dsid, roles={"plan": "sideways"})
    with pytest.raises(IntakeError, match="target “Churn\\?” cannot also be ignore"):
        ws.set_roles(dsid, roles={"Churn?": "ignore"}, target="Churn?")
    with pytest.raises(IntakeError, match="cannot be predicted by regression"):
        ws.set_roles(dsid, target="plan", task="regression")
    assert load_profile(home, dsid).column("plan").role is None  # nothing half-applied


def test_an_old_profile_still_loads(home, tmp_path):
    """Profiles written before the in-depth fields existed keep loading."""
    meta, profile = ingest_frame(home, tmp_path, churn_table(n=80))
    old = {"n_rows": 80, "n_cols": 1, "modality": "tabular", "duplicate_rows": 0,
           "columns": [{"name": "a", "dtype": "Int64", "kind": "numeric", "n_missing": 0,
                        "missing_share": 0.0, "n_distinct": 5}],
           "warnings": [{"severity": "info", "message": "m"}]}
    (home.dataset_dir(meta["id"]) / "profile.json").write_text(json.dumps(old))
    again = load_profile(home, meta["id"])
    assert again.column("a").quantiles == {} and again.findings == {}
    assert pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet").height == 80


@pytest.mark.parametrize("style", ["Z", "+02:00", ".250Z"])
def test_iso_times_with_a_zone_are_dates_in_utc(home, tmp_path, style):
    """Exports from web services write "2017-01-01T06:00:42Z": a time, not an identifier."""
    table = churn_table()
    stamps = pd.date_range("2020-01-01 06:00:42", periods=len(table), freq="37min")
    table["signup"] = [t.strftime("%Y-%m-%dT%H:%M:%S") + style for t in stamps]
    meta, profile = ingest_frame(home, tmp_path, table)
    assert {c.name: c.kind for c in profile.columns}["signup"] is ColumnKind.datetime
    stored = pl.read_parquet(home.dataset_dir(meta["id"]) / "train.parquet")["signup"]
    shift = pd.Timedelta(hours=2) if style == "+02:00" else pd.Timedelta(0)
    fraction = pd.Timedelta(milliseconds=250) if style == ".250Z" else pd.Timedelta(0)
    assert stored.dtype == pl.Datetime and stored.dtype.time_zone is None
    assert stored[0] == (stamps[0] - shift + fraction).to_pydatetime()


def test_word_findings_count_in_plain_words():
    """One cell is "1 cell"; several words in a column are listed most common first; a
    free-text column's words are "kept as a value", a category's "kept as a category"."""
    from modelyard.engine.intake.warnings import warnings_for
    from modelyard.schemas import ColumnProfile, MissingWords, Profile

    def column(name, kind):
        return ColumnProfile(name=name, dtype="String", kind=kind, n_missing=0,
                             missing_share=0.0, n_distinct=3)

    profile = Profile(n_rows=10, n_cols=2, columns=[column("plan", ColumnKind.categorical),
                                                    column("memo", ColumnKind.text)],
                      missing_words=[MissingWords(column="plan", counts={"NA": 1,
                                                                         "None": 3})])
    said = {w.code: w.message for w in warnings_for(profile)}
    assert said["words_kept"] == ("“plan” has 3 cells reading “None” and 1 reading “NA”: "
                                  "kept as a category.")
    profile.missing_words = [MissingWords(column="memo", counts={"null": 1})]
    assert {w.code: w.message for w in warnings_for(profile)}["words_kept"] == \
        "“memo” has 1 cell reading “null”: kept as a value."
