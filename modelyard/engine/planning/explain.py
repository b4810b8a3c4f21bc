"""A Plan in plain words, for someone who has never trained a model: the card the Plan
page shows and `modelyard plan` prints. An image Plan reads in images and networks, and says
what matters for them (image size, starting weights) instead of which columns are used."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.engine.planning.image_setup import ImageSetup
from modelyard.engine.training import families
from modelyard.schemas import Metric, Plan, Task, ValidationKind

TASK_WORDS = {
    Task.binary: "a yes/no question: each {unit} gets one of two answers",
    Task.multiclass: "a choice among several categories",
    Task.regression: "a number (how much, how many)",
    Task.forecast: "future values of a series, from its past",
    Task.multilabel: "several yes/no labels at once: each {unit} may have none, one or "
                     "several of them",
    Task.text_to_text: "a text written from another text (each {unit}'s input rewritten)",
}
METRIC_WORDS = {
    Metric.roc_auc: "ROC AUC: how well the model ranks the yes-cases above the no-cases "
                    "(1 is perfect, 0.5 is guessing)",
    Metric.log_loss: "log loss: how confident and right the predicted probabilities are "
                     "(lower is better)",
    Metric.accuracy: "accuracy: the share of {unit}s predicted right (higher is better)",
    Metric.f1_macro: "F1 (macro): right answers balanced across every class, so rare "
                     "classes count as much as common ones (higher is better)",
    Metric.rmse: "RMSE: the typical size of a prediction error, with big misses counting "
                 "extra (lower is better)",
    Metric.mae: "MAE: the average size of a prediction error, in the target's units "
                "(lower is better)",
    Metric.r2: "R²: the share of the target's variation the model explains (1 is perfect, "
               "0 is no better than the average)",
    Metric.mase: "MASE: the forecast's average error divided by that of repeating the "
                 "last season (below 1 beats that simple rule; lower is better)",
    Metric.smape: "sMAPE: the average error as a percentage of the values (0 to 200; "
                  "lower is better)",
    Metric.f1_micro: "F1 (micro): right yes-answers over every label and {unit} together "
                     "(higher is better)",
    Metric.hamming_loss: "Hamming loss: the share of (row, label) answers that are wrong "
                         "(lower is better)",
    Metric.exact_match: "exact match: the share of outputs written exactly right (higher is "
                        "better)",
    Metric.cer: "character error rate: the characters to fix per character wanted (0 is "
                "perfect, lower is better)",
}


def is_image_plan(plan: Plan) -> bool:
    return any(families.is_image(f.family) for f in plan.families)


def unit_of(plan: Plan) -> str:
    """What the plan's data consists of: "image" or "row"."""
    return "image" if is_image_plan(plan) else "row"


def validation_words(plan: Plan, unit: str | None = None) -> str:
    """How the plan's scores are checked, in words; `unit` as for `card`."""
    v = plan.validation
    unit = unit or unit_of(plan)
    if is_image_plan(plan):
        scored = "models" if unit == "recording" else "networks"
        return (f"a single {v.holdout_fraction:.0%} holdout: that share of the {unit}s, "
                f"taken from every class alike, is kept aside and only used to score the "
                f"{scored}")
    if v.kind is ValidationKind.holdout:
        return (f"a {v.holdout_fraction:.0%} holdout: that share of rows is kept aside and "
                "only used to score the models")
    if v.kind is ValidationKind.time_split:
        return (f"{v.n_splits} splits in time order by “{v.time_column}”: each time the model "
                "learns from the earlier rows and is scored on the block of rows that "
                "follows")
    words = (f"{v.n_splits}-fold cross-validation: the rows are split into {v.n_splits} "
             f"parts, and each part is predicted by a model trained on the other "
             f"{v.n_splits - 1}")
    if v.kind is ValidationKind.stratified_kfold:
        words += ", keeping the share of each class the same in every part"
    elif v.kind is ValidationKind.group_kfold:
        words += f", keeping all rows of one “{v.group_column}” in the same part"
    return words


@dataclass(frozen=True)
class CardItem:
    label: str
    value: str
    why: str


def card(plan: Plan, setup: ImageSetup | None = None, unit: str | None = None
         ) -> list[CardItem]:
    """Each choice of the plan, what it means, and why it was made. `setup` (image plans)
    adds the image size and starting weights, which follow from the images and the disk.
    `unit` is what the data set holds when the plan alone cannot tell: "recording" for
    sound, whose plan trains image networks on spectrograms (else "image" or "row")."""
    why = plan.reasons
    unit = unit or unit_of(plan)
    files = unit in ("image", "recording")
    first = [
        CardItem("What to predict", _predicted(plan),
                 why.get("target") or (f"Each {unit}'s class: the folder it sits in, or its "
                                       "label in the labels table." if files else
                                       "This column holds the answer the model learns.")),
        CardItem("Kind of problem", TASK_WORDS[plan.task].format(unit=unit),
                 why.get("task") or (f"It follows from the classes the {unit}s are sorted "
                                     "into." if files else
                                     "It follows from the values in the target column.")),
        CardItem("How models are scored", METRIC_WORDS[plan.metric].format(unit=unit),
                 why.get("metric") or "A usual measure for this kind of problem."),
    ]
    budget = CardItem("Time budget", f"{plan.budget_seconds} seconds",
                      why.get("budget_seconds") or "The search stops then and keeps the best "
                                                   "model found.")
    if files:
        return first + _image_items(plan, setup, unit) + [budget]
    if plan.forecast is not None:
        f = plan.forecast
        first.append(CardItem(
            "Forecast", f"{f.horizon} steps ahead, frequency {f.frequency}, time in "
            f"“{f.time_column}”" + (f", one series per “{f.series_column}”"
                                     if f.series_column else ", one series"),
            why.get("forecast") or "As you asked."))
    excluded = ", ".join(plan.excluded_columns) or "none"
    if plan.input_column:  # text to text: the column each output is written from
        first.insert(1, CardItem("Written from", plan.input_column,
                                 "Each output is a rewriting of this column's text."))
    return first + [
        CardItem("How scores are checked", validation_words(plan),
                 why.get("validation") or "Every score comes from rows the model did not "
                                          "see while training, so it predicts how the model "
                                          "does on new data."),
        CardItem("Columns left out", excluded,
                 why.get("excluded_columns") or ("Every other column is used."
                                                 if not plan.excluded_columns else "")),
        budget,
    ]


def _predicted(plan: Plan) -> str:
    """The target in words; a multi-label plan names its labels."""
    labels = plan.labels
    if labels is None:
        return plan.target
    if labels.columns:
        return f"{len(labels.columns)} labels, one column each: {', '.join(labels.columns)}"
    found = f": {', '.join(labels.names)}" if labels.names else ""
    return (f"the labels listed in “{plan.target}”, separated by “{labels.separator}”"
            f"{found}")


def _image_items(plan: Plan, setup: ImageSetup | None, unit: str = "image"
                 ) -> list[CardItem]:
    sound = unit == "recording"

    def network(name: str) -> str:
        known = families.REGISTRY.get(name)
        size = getattr(known, "params_m", None)
        if sound and not families.is_image(name):  # a table family on MFCC statistics
            return f"{family_title(name)} (on MFCC statistics, the fast baseline)"
        return (f"{known.title} ({size:g} M parameters, {known.summary}"
                + (", on spectrograms)" if sound else ")")
                if known and size else family_title(name))

    device = {True: "They train on the GPU.", False: "They train on the CPU, where small "
              "networks and small images keep each epoch quick.", None: ""}
    items = [
        CardItem("How scores are checked", validation_words(plan, unit),
                 plan.reasons.get("validation") or f"Every score comes from {unit}s the "
                 f"{'models' if sound else 'networks'} did not see while training. One "
                 "split rather than several folds: each fold would mean training every "
                 "network again, and the time budget is better spent on the search."),
        CardItem("Models" if sound else "Networks",
                 "; ".join(network(f.family) for f in plan.families),
                 device[setup.on_gpu if setup else None]),
    ]
    if setup is None:
        return items
    if setup.size:
        why = "Every image is resized to this square"
        if setup.typical_side:
            why += (f": the images' typical side ({setup.typical_side:.0f} px) rounded up to "
                    f"a multiple of 32, within what the {'GPU' if setup.on_gpu else 'CPU'} "
                    "handles quickly")
        items.append(CardItem("Image size", f"{setup.size}×{setup.size} pixels",
                              why + ". Detail finer than that is lost."))
    if setup.weights:
        value = "; ".join(f"{family_title(name)}: {source}" for name, source in
                          setup.weights.items())
        reason = ""
        if setup.from_scratch:
            files = " and ".join(f"{name}.safetensors" for name in setup.from_scratch)
            where = f"in {setup.weights_dir}" if setup.weights_dir else "in the weights folder"
            reason = ("Nothing is downloaded, and from scratch a network needs many more "
                      f"images and time. To start from pretrained weights, put {files} (or "
                      f".pth) {where}, or fill the Hugging Face cache on this machine.")
        elif all(source.startswith("pretrained") for source in setup.weights.values()):
            reason = ("Networks that start from weights learned on millions of photos need "
                      "far fewer images.")
        items.append(CardItem("Starting weights", value, reason))
    return items


def family_title(value: str) -> str:
    """The family's name for people (the registry's title); the name itself if unknown."""
    return families.title(value)


def as_text(plan: Plan, setup: ImageSetup | None = None, unit: str | None = None) -> str:
    """The card as lines of text, for the terminal (`unit` as for `card`)."""
    lines = []
    if plan.goal:
        lines.append(f"You asked: {plan.goal}")
    if plan.goal_reading:
        lines.append(f"Read as: {plan.goal_reading}")
    for item in card(plan, setup, unit):
        lines.append(f"{item.label}: {item.value}")
        if item.why:
            lines.append(f"    why: {item.why}")
    lines.append("Model families:")
    for f in plan.families:
        trials = "1 trial" if f.max_trials == 1 else f"up to {f.max_trials} trials"
        lines.append(f"  - {family_title(f.family)} ({f.family}, {trials}): "
                     f"{f.reason}")
        if f.pros:
            lines.append(f"      + {'; '.join(f.pros)}")
        if f.cons:
            lines.append(f"      - {'; '.join(f.cons)}")
    if plan.rationale:
        lines.append(f"In short: {plan.rationale}")
    return "\n".join(lines)


def origin_sentence(provenance: dict) -> str:
    """Who wrote a language model's plan, how long it took, in how many tries and with
    how many mends: one sentence for the Plan page and `modelyard plan`."""
    from modelyard.engine.results.words import plural

    tries = len(provenance.get("attempts") or []) or 1
    mends = len(provenance.get("mends") or [])
    said = [plural(tries, "try", "tries")]
    if mends:
        said.append(f"{plural(mends, 'mend')} made in code")
    return (f"Proposed by the language model {provenance.get('model')} in "
            f"{provenance.get('latency_seconds') or 0:.1f} s ({'; '.join(said)}).")
