"""A Run's report for someone who does not train models: the data and its warnings, the
Plan and its reasons, the leaderboard, the best model's diagnostics, and a model card
(intended use and limitations). One list of blocks, rendered as HTML (charts embedded,
plotly.js inline: it opens offline) or as Markdown (charts as their key numbers).

A block's text is plain text: names and values from the data (column names, labels, the
goal, the plan's reasons) are escaped by the renderer, through `escape.html_text` or
`escape.md_text`, so none becomes a tag, a link or an image. The only markup is `Strong`,
a part of a text given as a list."""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from modelyard.engine.planning.explain import card, family_title, validation_words
from modelyard.engine.planning.image_setup import bundle_setup
from modelyard.engine.results import diagnostics, figures, report_images, report_sound
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.compare import leader_verdicts
from modelyard.engine.results.counts import TrialCounts
from modelyard.engine.results.escape import Strong, html_text, md_text
from modelyard.engine.results.explain import model_importance, permutation_importance
from modelyard.engine.results.words import family_name, metric_name
from modelyard.schemas import Metric, ValidationKind
from modelyard.storage import runs as run_store
from modelyard.storage.catalog import Catalog

# Column names that often describe protected characteristics of people.
SENSITIVE = re.compile(r"(^|_)(sex|gender|race|ethnic\w*|religio\w*|age|birth\w*|nationality|"
                       r"disab\w*|marital|pregnan\w*|orientation)($|_)", re.IGNORECASE)


# Plain text, or parts of it: plain strings and `Strong`; escaped when rendered.
Text = str | list[str | Strong]


@dataclass
class Block:
    kind: str  # h1 h2 p list table figure code
    text: Text = ""
    items: list[Text] | None = None
    columns: list[str] | None = None
    rows: list[list[Any]] | None = None
    figure: go.Figure | None = None
    fallback: list[Block] | None = None  # what Markdown shows instead of a figure


@dataclass
class Report:
    title: str
    blocks: list[Block]

    def markdown(self) -> str:
        return "\n\n".join(filter(None, (_md(b) for b in self.blocks))) + "\n"

    def html(self) -> str:
        parts, plotly_loaded = [], False
        for b in self.blocks:
            if b.kind == "figure":
                # The first chart carries plotly.js itself (inline, ~4 MB): no CDN, works
                # offline; the later charts reuse it.
                parts.append('<div class="chart">' + b.figure.to_html(
                    full_html=False, include_plotlyjs=not plotly_loaded,
                    config={"displaylogo": False}) + "</div>")
                plotly_loaded = True
            else:
                parts.append(_html(b))
        return _PAGE.format(title=html.escape(self.title), body="\n".join(parts))


# -- rendering ---------------------------------------------------------------------------
def _parts(text: Text) -> list[str | Strong]:
    return [text] if isinstance(text, str) else list(text)


def _inline_html(text: Text) -> str:
    return "".join(f"<b>{html_text(p.text)}</b>" if isinstance(p, Strong) else html_text(p)
                   for p in _parts(text))


def _inline_md(text: Text) -> str:
    return "".join(f"**{md_text(p.text)}**" if isinstance(p, Strong) else md_text(p)
                   for p in _parts(text))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _html(b: Block) -> str:
    if b.kind in ("h1", "h2", "h3", "p"):
        return f"<{b.kind}>{_inline_html(b.text)}</{b.kind}>"
    if b.kind == "list":
        return "<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "</ul>"
    if b.kind == "table":
        head = "".join(f"<th>{html_text(c)}</th>" for c in b.columns)
        body = "".join("<tr>" + "".join(f"<td>{html_text(_cell(v))}</td>" for v in row)
                       + "</tr>" for row in b.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if b.kind == "code":
        return (f"<details><summary>{_inline_html(b.text)}</summary><pre>"
                f"{html_text(b.items[0])}</pre></details>")
    raise ValueError(b.kind)


def _md(b: Block) -> str:
    if b.kind == "h1":
        return f"# {_inline_md(b.text)}"
    if b.kind == "h2":
        return f"## {_inline_md(b.text)}"
    if b.kind == "h3":
        return f"### {_inline_md(b.text)}"
    if b.kind == "p":
        return _inline_md(b.text)
    if b.kind == "list":
        return "\n".join(f"- {_inline_md(i)}" for i in b.items)
    if b.kind == "table":
        esc = lambda v: md_text(_cell(v))  # noqa: E731
        lines = ["| " + " | ".join(esc(c) for c in b.columns) + " |",
                 "|" + "---|" * len(b.columns)]
        return "\n".join(lines + ["| " + " | ".join(esc(v) for v in row) + " |"
                                  for row in b.rows])
    if b.kind == "figure":
        return "\n\n".join(_md(f) for f in (b.fallback or []))
    if b.kind == "code":
        # Inside a fence nothing is markup; JSON escapes line breaks, so no line of it
        # can close the fence.
        return (f"<details><summary>{_inline_html(b.text)}</summary>\n\n```json\n"
                f"{b.items[0]}\n```\n</details>")
    raise ValueError(b.kind)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 980px;
       margin: 2em auto; padding: 0 1em; color: #1f2328; line-height: 1.5; }}
h1 {{ border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }}
h2 {{ margin-top: 2em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }}
th, td {{ border: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }}
th {{ background: #f6f8fa; }}
code, pre {{ background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }}
pre {{ padding: 1em; overflow-x: auto; }}
.chart {{ margin: 1em 0; }}
</style></head>
<body>
{body}
<p style="color:#656d76;font-size:.85em">Written by Modelyard. Every chart works offline.</p>
</body></html>
"""


# -- content ------------------------------------------------------------------------------
def feature_names(meta: dict[str, Any]) -> list[str]:
    return [*meta.get("numeric", []), *meta.get("categorical", []), *meta.get("datetime", [])]


def metric_sentence(metric: Metric, value: float, target: str, classes: list[Any],
                    unit: str = "row") -> str:
    """What a score means, in one sentence without jargon; `unit` is what is predicted
    ("row", "image")."""
    if metric is Metric.roc_auc:
        positive = f"“{classes[1]}”" if len(classes) == 2 else "the right class"
        return (f"ROC AUC {value:.3f}: given one {unit} of each kind, the model gives "
                f"{positive} the higher probability {value:.1%} of the time (0.5 is "
                "guessing, 1 is perfect).")
    if metric is Metric.log_loss:
        return (f"Log loss {value:.3f}: how far the predicted probabilities are from what "
                "happened; 0 is perfect, lower is better.")
    if metric is Metric.accuracy:
        return f"Accuracy {value:.1%}: that share of {unit}s gets the right answer."
    if metric is Metric.f1_macro:
        return (f"F1 (macro) {value:.3f}: right answers balanced across the classes, rare "
                "classes counting as much as common ones (1 is perfect).")
    if metric is Metric.rmse:
        return (f"RMSE {value:.4g}: a typical prediction of {target} is off by about "
                f"{value:.3g}, big misses counting extra.")
    if metric is Metric.mae:
        return f"MAE {value:.4g}: on average a prediction of {target} is off by {value:.3g}."
    return (f"R² {value:.3f}: the model explains {max(value, 0):.0%} of how much {target} "
            "varies (0 is no better than always guessing the average).")


def build(result: RunResult, catalog: Catalog) -> Report:
    """The report of a succeeded Run."""
    if result.is_text_to_text:
        from modelyard.engine.text_to_text.limits import no_report

        raise no_report(result.run_id)
    plan, meta, run = result.plan, result.meta, result.record
    metric = Metric(plan.metric)
    leaders = run_store.run_leaders(catalog, run_ids=[result.run_id], top=10)
    families = run_store.family_summary(catalog, run_ids=[result.run_id])
    profile = result.profile
    title = f"{result.name}: predicting {plan.target}"
    b: list[Block] = [Block("h1", title)]
    b += _summary(result, metric, leaders, families)
    b += _data(result, profile)
    b += _plan(result)
    b += _leaderboard(metric, leaders, families, _one_split(plan))
    b += _diagnostics(result)
    b += _card(result, profile, metric)
    when = time.strftime("%Y-%m-%d %H:%M",
                         time.localtime(run.get("started_at") or run.get("created_at") or 0))
    versions = ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())
    b.append(Block("h2", "Reproduce"))
    b.append(Block("p", f"Seed {plan.seed}; trained {when} with {versions}."))
    b.append(Block("code", "The Plan as JSON", items=[json.dumps(run["plan"], indent=2)]))
    return Report(title, b)


def _one_split(plan) -> bool:
    """Scored on one validation split (a holdout): no spread across folds to speak of."""
    return plan.validation.kind is ValidationKind.holdout


def _count(n: int, word: str, plural: str | None = None) -> str:
    """“1 image”, “400 images”."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _unit(result: RunResult) -> str:
    return "recording" if result.is_audio else "image" if result.is_image else "row"


def _images_in_classes(result: RunResult) -> str:
    """“400 images in 4 classes”, from the profile (the classes from the model)."""
    profile = result.profile
    classes = _count(len(result.classes), "class", "classes")
    if profile is None:
        return f"images in {classes}"
    n = profile.images.n_images if profile.images is not None else profile.n_rows
    return f"{_count(n, 'image')} in {classes}"


def _recordings_in_classes(result: RunResult) -> str:
    """“24 recordings in 3 classes”, from the profile (the classes from the model)."""
    audio = result.profile.audio if result.profile is not None else None
    classes = _count(len(result.classes), "class", "classes")
    return (f"{_count(audio.n_clips, 'recording')} in {classes}" if audio is not None
            else f"recordings in {classes}")


def _summary(result, metric, leaders, families) -> list[Block]:
    plan, meta, run = result.plan, result.meta, result.record
    best = next((r for r in leaders if r["rank"] == 1), None)
    # The one count (engine/results/counts.py): a blend of the best is no configuration.
    trials = TrialCounts.of((f["family"], state, f[column]) for f in families
                            for state, column in (("complete", "complete"),
                                                  ("pruned", "stopped_early"),
                                                  ("failed", "failed"))).trials
    took = (run.get("finished_at") or 0) - (run.get("started_at") or 0)
    source = (_recordings_in_classes(result) if result.is_audio
              else _images_in_classes(result) if result.is_image
              else _count(len(feature_names(meta)), "column"))
    kinds = len({f["family"] for f in families} - {"ensemble", "stack"})
    text = ["This model predicts ", Strong(plan.target), f" ({plan.task.value}) from {source} "
            "of the data set ", Strong(result.dataset_name), ". Modelyard tried "
            f"{_count(trials, 'configuration')} of {_count(kinds, 'kind')} of model in "
            f"{took:.0f} seconds and kept the best: ", Strong(str(meta.get("model"))),
            f" ({_kind_of_model(meta)})."]
    blocks = [Block("h2", "Summary"), Block("p", text)]
    unit = _unit(result)
    points = [metric_sentence(metric, meta["cv_score"], plan.target, result.classes, unit)]
    if _one_split(plan):
        points.append(_holdout_sentence(metric, result.oof, unit))
    elif best and best.get("cv_std") is not None:
        points.append(f"Across the {len(best['fold_scores'])} validation folds the score "
                      f"varied by ± {best['cv_std']:.3g} (standard deviation).")
    dummy = next((f for f in families if f["family"] == "dummy" and f["best_score"]
                  is not None), None)
    if dummy:
        points.append(f"A baseline that ignores the data scores {dummy['best_score']:.4g}: "
                      "the model must beat it to be useful.")
    verdict = leader_verdicts(leaders).get(result.run_id)
    if verdict:
        points.append(verdict.text)
    if meta.get("threshold"):
        t = meta["threshold"]
        points.append(f"For yes/no decisions the default cut-off is 0.5; a cut-off of "
                      f"{t['threshold']:.2f} gives the best F1 ({t['f1_at_threshold']:.3f} "
                      f"instead of {t['f1_at_0.5']:.3f}).")
    return blocks + [Block("list", items=points)]


def _holdout_sentence(metric: Metric, oof, unit: str) -> str:
    """What one validation split can and cannot tell."""
    n = len(oof) if oof is not None else 0
    on = f"on {_count(n, unit)}" if n else f"on {unit}s"
    text = (f"Scored once, {on} kept out of training (a single holdout split): there is "
            "no spread across folds to report, so small differences between models may be "
            "chance.")
    if metric is Metric.accuracy and n:
        text += (f" One {unit} more or less predicted right moves the accuracy by "
                 f"{100 / n:.2g} percentage points.")
    return text


def _kind_of_model(meta: dict[str, Any]) -> str:
    how = f": {meta['delivered']}" if meta.get("delivered") else ""
    if meta.get("family") == "stack":
        members = meta.get("params", {}).get("members", [])
        return (f"a stack: a {meta['params'].get('stacker')} over the predictions of "
                + ", ".join(m["model"] for m in members))
    if meta.get("family") == "ensemble":
        members = meta.get("params", {}).get("members", [])
        return (f"a weighted blend of {len(members)} models: "
                + ", ".join(f"{m['model']} ×{m['weight']:.2f}" for m in members)) + how
    return family_title(meta.get("family", "")) + how


def _data(result: RunResult, profile) -> list[Block]:
    blocks = [Block("h2", "The data")]
    if profile is None:
        return blocks + [Block("p", "The data set's profile is no longer available.")]
    if result.is_audio:
        blocks.append(Block("p", report_sound.the_recordings(profile)))
    elif result.is_image:
        blocks.append(Block("p", report_images.the_images(profile)))
    else:
        kinds: dict[str, int] = {}
        for c in profile.columns:
            kinds[c.kind.value] = kinds.get(c.kind.value, 0) + 1
        blocks.append(Block("p", f"{profile.n_rows:,} rows and {profile.n_cols} columns ("
                                 + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
                                 + ")."))
    if profile.class_balance:
        total = sum(n for _, n in profile.class_balance)
        blocks.append(Block("table", columns=["class", f"{_unit(result)}s", "share"], rows=[
            [label, n, f"{n / total:.1%}"] for label, n in profile.class_balance[:20]]))
    if profile.warnings:
        blocks.append(Block("h3", "Warnings about the data"))
        blocks.append(Block("table", columns=["severity", "column", "finding", "what to do"],
                            rows=[[w.severity, w.column or "", w.message, w.action]
                                  for w in profile.warnings]))
    else:
        blocks.append(Block("p", "No data-quality warnings."))
    return blocks


def _plan(result: RunResult) -> list[Block]:
    plan = result.plan
    blocks = [Block("h2", "The plan and its reasons")]
    if plan.goal:
        blocks.append(Block("p", f"Asked for: “{plan.goal}”"))
    # An image Run's card says the image size and starting weights its network used.
    setup = (bundle_setup(result.meta, result.record.get("hardware"), result.home.weights)
             if result.is_image and not result.is_audio else None)
    unit = "recording" if result.is_audio else None
    blocks.append(Block("table", columns=["choice", "value", "why"],
                        rows=[[i.label, i.value, i.why] for i in card(plan, setup, unit)]))
    blocks.append(Block("table", columns=["model family", "trials at most", "why"], rows=[
        [family_title(f.family), f.max_trials, f.reason] for f in plan.families]))
    if plan.rationale:
        blocks.append(Block("p", plan.rationale))
    return blocks


def _leaderboard(metric: Metric, leaders, families, one_split: bool) -> list[Block]:
    scored = (f"{metric_name(metric)} on the holdout" if one_split
              else f"cross-validated {metric_name(metric)}")
    blocks = [Block("h2", "Leaderboard"),
              Block("p", f"The best configurations by {scored} ("
                         f"{'higher' if metric.greater_is_better else 'lower'} is better).")]
    # One split has no spread across folds: no column of zeros that reads as certainty.
    spread = [] if one_split else ["± folds"]
    blocks.append(Block("table", columns=["rank", "model", "family", metric_name(metric), *spread,
                                          "fit time (s)"],
                        rows=[[r["rank"], r["model"], family_title(r["family"]), r["cv_score"],
                               *([] if one_split else [r["cv_std"]]), r["fit_seconds"]]
                              for r in leaders]))
    blocks.append(Block("h3", "Per model family"))
    blocks.append(Block("table", columns=["family", "trials", "completed", "stopped early",
                                          "failed", f"best {metric_name(metric)}"],
                        rows=[[family_name(f["family"]), f["trials"], f["complete"],
                               f["stopped_early"], f["failed"], f["best_score"]]
                              for f in families]))
    return blocks


def _diagnostics(result: RunResult) -> list[Block]:
    blocks = [Block("h2", "How good is the best model")]
    oof = result.oof
    if oof is None:
        return blocks + [Block("p", "This run kept no out-of-fold predictions.")]
    if result.is_image:
        unit = _unit(result)
        blocks.append(Block("p", f"Each of the {len(oof):,} validation {unit}s was predicted "
                                 "by a model that had not seen it while training, so these "
                                 f"charts show how the model does on new {unit}s like these."))
    else:
        blocks.append(Block("p", "Every row below was predicted by a model that had not seen "
                                 "it during training, so these charts show how the model "
                                 "does on new rows like these."))
    classes, target = result.classes, result.plan.target
    if classes:
        cm = diagnostics.confusion(oof, classes)
        blocks.append(Block("figure", figure=figures.confusion_figure(cm), fallback=[
            Block("p", f"Confusion matrix (rows: true class, columns: predicted), accuracy "
                       f"{cm['accuracy']:.1%}:"),
            Block("table", columns=["true \\ predicted", *cm["labels"]],
                  rows=[[label, *row] for label, row in zip(cm["labels"], cm["counts"],
                                                            strict=True)])]))
        curves = diagnostics.roc(oof, classes)
        blocks.append(Block("figure", figure=figures.roc_figure(curves), fallback=[
            Block("p", "ROC AUC per class: " + ", ".join(f"{c['class']} {c['auc']:.3f}"
                                                         for c in curves))]))
        pr = diagnostics.precision_recall(oof, classes)
        blocks.append(Block("figure", figure=figures.pr_figure(pr), fallback=[
            Block("p", "Average precision per class: " + ", ".join(
                f"{c['class']} {c['average_precision']:.3f} (random: {c['base_rate']:.3f})"
                for c in pr))]))
        cal = diagnostics.calibration(oof, classes)
        blocks.append(Block("figure", figure=figures.calibration_figure(cal), fallback=[
            Block("p", f"Calibration ({cal['label']}): Brier score {cal['brier']:.4f} "
                       "(0 is perfect).")]))
    else:
        reg = diagnostics.regression(oof)
        numbers = Block("p", f"RMSE {reg['rmse']:.4g}, MAE {reg['mae']:.4g}, R² "
                             f"{reg['r2']:.3f}; the middle 90% of errors lie between "
                             f"{reg['residual_quantiles']['5%']:.3g} and "
                             f"{reg['residual_quantiles']['95%']:.3g}.")
        blocks.append(Block("figure", figure=figures.predicted_vs_actual_figure(reg, target),
                            fallback=[numbers]))
        blocks.append(Block("figure", figure=figures.residuals_figure(reg, target),
                            fallback=[]))
    if not result.is_image:
        importance = model_importance(result.predictor)
        if importance is None:  # a blend, k-NN, SVM, network: shuffle columns instead
            importance = permutation_importance(result.predictor, result.training_rows(),
                                                max_rows=1000, repeats=2)
        if importance is not None:
            top = importance.head(10)
            shares = "spread" not in top  # the model's own importance sums to 1
            blocks.append(Block("figure", figure=figures.importance_figure(importance),
                                fallback=[Block("p", "The columns the model leans on most ("
                                                     f"{top['kind'].iloc[0]}):"),
                                          Block("table", columns=[
                                              "column", "share" if shares else "worsens by"],
                                                rows=[[f, f"{v:.1%}" if shares else v]
                                                      for f, v in zip(top["feature"],
                                                                      top["importance"],
                                                                      strict=True)])]))
    return blocks


def _card(result: RunResult, profile, metric: Metric) -> list[Block]:
    plan, meta = result.plan, result.meta
    features = feature_names(meta)
    blocks = [Block("h2", "Model card: intended use and limitations")]
    words = report_sound if result.is_audio else report_images
    if result.is_image:
        blocks.append(Block("p", words.intended_use(result)))
        limits = words.limits(result, profile)
    else:
        blocks.append(Block("p", [
            Strong("Intended use:"), f" predicting {plan.target} for new rows that come "
            "from the same source as the training data, with the same columns measured the "
            "same way. It supports a person's decision; it should not make decisions about "
            "people on its own."]))
        limits = [
            f"The scores are estimated by {validation_words(plan)}. They hold for rows like "
            "the training rows; data that drifts (new customers, new products, a later "
            "period) can be predicted worse.",
            f"It was trained on {profile.n_rows:,} rows." if profile else "",
            "Rows predicted with columns missing or out of the training range get less "
            "reliable answers; the Predict page names such columns before predicting.",
        ]
    if profile is not None:
        limits += [f"Data warning: {w.message}" for w in profile.warnings
                   if w.severity in ("warning", "error")]
        if profile.class_balance and len(profile.class_balance) > 1:
            counts = [n for _, n in profile.class_balance]
            if min(counts) / max(counts) < 0.2:
                limits.append("The classes are imbalanced: the rare class is predicted less "
                              "well; look at its row of the confusion matrix.")
    sensitive = [c for c in features if SENSITIVE.search(c)]
    if sensitive:
        limits.append("Columns that may describe protected characteristics of people are "
                      f"used: {', '.join(sensitive)}. Check that this is lawful and fair for "
                      "the intended use, and compare errors across these groups.")
    blocks.append(Block("list", items=[x for x in limits if x]))
    blocks.append(Block("p", words.inputs(result) if result.is_image
                        else [Strong("Inputs:"), f" {', '.join(features)}."]))
    if plan.excluded_columns:
        blocks.append(Block("p", [Strong("Left out on purpose:"),
                                  f" {', '.join(plan.excluded_columns)}."]))
    return blocks
