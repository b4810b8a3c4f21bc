"""The side-by-side bench's arithmetic: metrics, level, normalised scores, wins/ties/losses."""

from __future__ import annotations

import numpy as np
import pytest

from bench import scoring
from bench.automl_report import markdown


def rec(table, system, score, metric="roc_auc", split=0, budget=60, rows=5000):
    task = {"roc_auc": "binary", "log_loss": "multiclass", "rmse": "regression"}[metric]
    return {"budget": budget, "table": table, "split": split, "system": system, "rows": rows,
            "task": task, "metric": metric, "score": score, "wall_s": 61.0, "peak_mib": 900}


def test_metrics_match_their_definitions():
    y = np.array(["a", "b", "b", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    # Positives (b) at 0.8 and 0.4, negatives at 0.1 and 0.7: 3 of 4 pairs ranked right.
    assert scoring.score("binary", y, proba, ["a", "b"]) == pytest.approx(0.75)
    expected = -np.mean(np.log([0.9, 0.8, 0.4, 0.3]))
    assert scoring.score("multiclass", y, proba, ["a", "b"]) == pytest.approx(expected)
    assert scoring.score("regression", [1.0, 3.0], [2.0, 5.0], []) == pytest.approx(
        np.sqrt((1 + 4) / 2))


def test_level_is_within_half_a_percent_in_the_metric_direction():
    assert scoring.verdict("roc_auc", 0.800, 0.803) == "level"  # 0.37% below
    assert scoring.verdict("roc_auc", 0.800, 0.805) == "worse"  # 0.62% below
    assert scoring.verdict("roc_auc", 0.810, 0.800) == "better"
    # Lower is better for losses and errors.
    assert scoring.verdict("log_loss", 0.20, 0.25) == "better"
    assert scoring.verdict("rmse", 110.0, 100.0) == "worse"
    assert scoring.verdict("rmse", 100.4, 100.0) == "level"


def test_normalised_puts_best_at_one_and_worst_at_zero():
    got = scoring.normalised("roc_auc", {"modelyard": 0.80, "autogluon": 0.90, "flaml": 0.85})
    assert got == pytest.approx({"modelyard": 0.0, "autogluon": 1.0, "flaml": 0.5})
    got = scoring.normalised("rmse", {"modelyard": 10.0, "autogluon": 30.0, "flaml": 15.0})
    assert got == pytest.approx({"modelyard": 1.0, "autogluon": 0.0, "flaml": 0.75})
    assert scoring.normalised("rmse", {"a": 2.0, "b": 2.0}) == {"a": 1.0, "b": 1.0}
    got = scoring.normalised("roc_auc", {"modelyard": 0.8, "autogluon": None, "flaml": 0.7})
    assert got == {"modelyard": 1.0, "autogluon": 0.0, "flaml": 0.0}


def test_a_table_score_is_the_mean_over_splits_and_one_failed_split_fails_it():
    records = [rec("wine", "modelyard", 0.1, "log_loss", split=i) for i in range(3)]
    records[1]["score"] = 0.4
    records += [rec("wine", "flaml", 0.2, "log_loss", split=i) for i in range(3)]
    records[-1]["score"] = None
    got = scoring.table_scores(records)[(60, "wine")]["scores"]
    assert got["modelyard"] == pytest.approx(0.2)
    assert got["flaml"] is None
    assert scoring.splits_for(1999) == 3 and scoring.splits_for(2000) == 1


def test_summary_counts_wins_ties_losses_and_averages_normalised_scores():
    records = [
        # t1: Modelyard best, AutoGluon level, FLAML worst.
        rec("t1", "modelyard", 0.900), rec("t1", "autogluon", 0.898), rec("t1", "flaml", 0.800),
        # t2 (RMSE): Modelyard worst against both.
        rec("t2", "modelyard", 12.0, "rmse"), rec("t2", "autogluon", 10.0, "rmse"),
        rec("t2", "flaml", 11.0, "rmse"),
        # t3: FLAML failed (a win for Modelyard), AutoGluon better.
        rec("t3", "modelyard", 0.70), rec("t3", "autogluon", 0.75), rec("t3", "flaml", None),
        # The reference column is neither compared nor normalised.
        rec("t1", "lightgbm", 0.999),
        # Another budget is summed apart.
        rec("t1", "modelyard", 0.5, budget=300), rec("t1", "autogluon", 0.9, budget=300),
    ]
    got = scoring.summary(records)
    assert got[60]["tables"] == 3
    assert got[60]["wtl"]["autogluon"] == {"wins": 0, "ties": 1, "losses": 2}
    assert got[60]["wtl"]["flaml"] == {"wins": 2, "ties": 0, "losses": 1}
    assert "lightgbm" not in got[60]["normalised"] and "lightgbm" not in got[60]["wtl"]
    # t1: M 1, A 0.98, F 0; t2: M 0, A 1, F 0.5; t3: M 0, A 1, F 0 (failed).
    assert got[60]["normalised"]["modelyard"] == pytest.approx(1 / 3)
    assert got[60]["normalised"]["autogluon"] == pytest.approx((0.98 + 1 + 1) / 3)
    assert got[60]["normalised"]["flaml"] == pytest.approx(0.5 / 3)
    assert got[300]["wtl"]["autogluon"] == {"wins": 0, "ties": 0, "losses": 1}


def test_the_report_shows_scores_verdicts_and_the_summary():
    records = [rec("t1", "modelyard", 0.900), rec("t1", "autogluon", 0.898),
               rec("t1", "flaml", None)]
    records[-1]["error"] = "it broke"
    text = markdown(records)
    assert "| t1 | 5000 | 1 | roc_auc | 0.9 | 0.898 | failed | level | - |" in text
    assert "| Modelyard vs AutoGluon | 0/1/0 |" in text
    assert "| Modelyard vs FLAML | 1/0/0 |" in text
    assert "it broke" in text
