"""Charts that do not mislead (a score axis that spans the competing models, a baseline
said or drawn, best-so-far lines to the end of the run, plain time ticks) and the one
count of a Run's trials, in words."""

from __future__ import annotations

import json

import pytest

from modelyard.engine.results import figures, scales, words
from modelyard.engine.results.counts import TrialCounts, from_journal

# A run like the one that misled: a baseline far below, one broken trial, close scores.
SCORES = [0.98, 0.985, 0.99, 0.992, 0.993, 0.994, 0.995, 0.9952, 0.9953, 0.9955, 0.60]


def test_score_axis_spans_the_competing_trials_not_the_baseline():
    axis = scales.score_range(SCORES, True, baseline=0.5)
    assert 0.9 < axis.low < 0.98 and 0.9955 < axis.high < 1.0
    assert axis.hidden == 1  # the broken trial, said as such
    assert not axis.baseline_shown
    assert scales.baseline_words(0.5, axis) == (
        "the baseline that ignores the features scores 0.5 (below the chart)")
    # Lower is better: the axis runs from the best up to the worse end.
    loss = scales.score_range([0.05, 0.06, 0.07, 0.3], False, baseline=0.065)
    assert loss.low < 0.05 and loss.high > 0.07 and loss.baseline_shown
    # With few trials none is left out; one score still gets a readable span.
    assert scales.score_range([0.9, 0.5, 0.7], True).hidden == 0
    single = scales.score_range([0.8], True)
    assert single.low < 0.8 < single.high
    assert scales.score_range([None, float("nan")], True) is None


def test_time_ticks_read_as_durations():
    # Plotly's own log ticks read "6 7 8 9 0.1 2 3"; these say what they are.
    assert scales.time_ticks([0.004, 0.03, 0.6, 2.5]) == ([0.01, 0.1, 1],
                                                          ["10 ms", "0.1 s", "1 s"])
    assert scales.time_ticks([0.3, 130])[1] == ["1 s", "10 s", "1 min"]
    assert scales.time_ticks([0.2, 0.9])[1] == ["0.1 s", "0.2 s", "0.5 s", "1 s"]
    assert scales.time_ticks([]) == ([], [])
    assert words.duration(0.1) == "0.1 s" and words.duration(60) == "1 min"
    assert words.duration(0.005) == "5 ms" and words.duration(7200) == "2 h"


def test_words_for_metrics_plurals_and_families():
    assert words.metric_name("roc_auc") == "ROC AUC" and words.metric_name("log_loss") == \
        "log loss"
    assert words.metric_name("something new") == "something new"
    assert words.plural(1, "run") == "1 run" and words.plural(2, "run") == "2 runs"
    assert words.plural(3, "class", "classes") == "3 classes"
    assert words.family_name("random_forest") == "Random forest"
    assert words.family_name("ensemble") == "Blend of the best"
    assert words.state_name("pruned") == "stopped early"


def test_trial_counts_have_one_definition_and_words():
    # 20 complete (the baseline among them), 5 stopped early, and a blend not chosen.
    records = [("dummy", "complete", 1), ("linear", "complete", 19),
               ("svm", "pruned", 5), ("ensemble", "not chosen", 1)]
    counts = TrialCounts.of(records)
    assert (counts.trials, counts.complete, counts.stopped_early, counts.ranked) == (
        25, 20, 5, 20)
    assert counts.words() == ("25 trials: 20 complete, 5 stopped early; a blend of the "
                              "best was tried and not chosen")
    chosen = TrialCounts.of([("linear", "complete", 1), ("ensemble", "complete", 1)])
    assert chosen.trials == 1 and chosen.ranked == 2
    assert chosen.words() == "1 trial, all complete; and a blend of the best, kept as the model"
    assert chosen.ranked_words() == "2 models: 1 complete trial and their blend"
    # The stack kept over a blend not chosen: the words name the stack (seen in the app).
    stacked = TrialCounts.of([("linear", "complete", 1), ("ensemble", "not chosen", 1),
                              ("stack", "complete", 1)])
    assert stacked.words() == ("1 trial, all complete; and a model over the best models' "
                               "predictions (a stack), kept as the model")
    assert stacked.ranked_words() == "2 models: 1 complete trial and their stack"
    assert TrialCounts().words() == "0 trials"


def test_counts_from_a_journal_match_what_the_catalog_indexes(tmp_path):
    lines = [{"seq": i, "kind": "trial", "model": m, "family": f, "state": s}
             for i, (m, f, s) in enumerate([
                 ("dummy_0", "dummy", "complete"), ("lightgbm_0", "lightgbm", "complete"),
                 ("lightgbm_1", "lightgbm", "pruned"), ("xgboost_0", "xgboost", "failed"),
                 ("ensemble", "ensemble", "not chosen"),
                 # A later session of the Run: its own trials, and a new blend that wins.
                 ("lightgbm_2", "lightgbm", "complete"), ("ensemble", "ensemble", "complete")])]
    lines.insert(3, {"seq": 99, "kind": "progress", "message": "2 trials"})
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    counts = from_journal(path)
    assert (counts.trials, counts.complete, counts.stopped_early, counts.failed,
            counts.blend) == (5, 3, 1, 1, "complete")


RUN = {"metric": "roc_auc", "greater_is_better": True, "created_at": 1000.0,
       "started_at": 1000.0, "finished_at": 1120.0, "status": "succeeded"}


def _trials(scores):
    return [{"model": f"lightgbm_{i}", "family": "lightgbm", "cv_score": s,
             "finished_at": 1001.0 + i * 0.1} for i, s in enumerate(scores)]


def test_best_so_far_reaches_the_end_of_the_run_on_a_competitive_axis():
    fig = figures.trials_figure(_trials(SCORES), RUN, baseline=0.5)
    best = next(t for t in fig.data if t.name == "best so far")
    assert best.x[-1] == pytest.approx(120.0)  # a 120 s run, not one second long
    assert best.y[-1] == pytest.approx(0.9955)
    low, high = fig.layout.yaxis.range
    assert 0.9 < low < 0.98 and high < 1.0
    title = fig.layout.title.text
    assert "0.5 (below the chart)" in title and "1 weaker trial off the scale" in title
    assert "ROC AUC" in title and "roc_auc" not in title
    # The baseline in range: drawn as a labelled line, not said in the title.
    near = figures.trials_figure(_trials(SCORES), RUN, baseline=0.99)
    assert [s.y0 for s in near.layout.shapes] == [0.99]
    assert near.layout.annotations[0].text == "baseline 0.99"
    assert "baseline that ignores" not in near.layout.title.text


def test_best_over_time_extends_each_run_and_starts_above_the_baseline():
    points = [{"run_id": "a", "run_name": "a #1", "seconds": 0.2, "best": 0.5,
               "model": "dummy_0", "end_seconds": 120.0, "worse_end": 0.98},
              {"run_id": "a", "run_name": "a #1", "seconds": 1.0, "best": 0.995,
               "model": "linear_0", "end_seconds": 120.0, "worse_end": 0.98}]
    fig = figures.best_over_time_figure(points, "roc_auc", True)
    assert list(fig.data[0].x) == [0.2, 1.0, 120.0]
    low, high = fig.layout.yaxis.range
    assert 0.97 < low < 0.98 and 0.995 < high < 1.0
    assert "0.5 (below the chart)" in fig.layout.title.text


def test_speed_ticks_are_plain_durations_and_family_dots_are_scaled():
    points = [{"model": f"m{i}", "family": "dummy" if i == 0 else "lightgbm",
               "cv_score": s, "fit_seconds": t, "predict_seconds": t / 10,
               "fit_front": True, "predict_front": True}
              for i, (s, t) in enumerate([(0.5, 0.006), (0.98, 0.05), (0.995, 2.0)])]
    fig = figures.speed_figure({"points": points, "total": 3}, "roc_auc")
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.ticktext) and all(
        t.endswith((" ms", " s", " min")) for t in fig.layout.xaxis.ticktext)
    assert fig.layout.yaxis.range[0] > 0.9
    summary = [{"family": "dummy", "best_score": 0.5}, {"family": "lightgbm", "best_score": 0.99},
               {"family": "linear", "best_score": 0.98}]
    dots = figures.family_bars_figure(summary, "roc_auc", True)
    assert list(dots.data[0].y) == ["Linear model", "LightGBM"]
    assert dots.layout.xaxis.range[0] > 0.9
    assert "0.5 (left of the chart)" in dots.layout.title.text
