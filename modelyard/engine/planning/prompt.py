"""The messages sent to the language model: what a careful engineer would want to know
before choosing a plan (the data, the request, the budget, the machine), and the rules
the answer must follow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelyard.engine.planning.family_notes import describe_families
from modelyard.engine.planning.goal import GoalReading
from modelyard.engine.training import families
from modelyard.schemas import METRICS_FOR_TASK, Plan, Profile

# Keep the prompt within a small model's context: wide tables show their first columns.
MAX_COLUMNS = 80
SAMPLE_ROWS = 5
MAX_CELL = 40

_metrics = "; ".join(f"{t.value}: {', '.join(m.value for m in ms)}"
                     for t, ms in METRICS_FOR_TASK.items())
SYSTEM = f"""You are a careful machine-learning engineer. You propose a training plan for a \
table of data; a trusted program runs it. You never write code.
Answer with one JSON object that follows the given schema, and nothing else.
Rules:
- "target" is one of the listed column names, spelled exactly as listed.
- "task": binary (the target has exactly two values), multiclass (three or more \
categories), regression (a quantity).
- "metric" must fit the task. {_metrics}.
- "validation": stratified_kfold for classification, kfold for regression, holdout above \
200000 rows; group_kfold when rows come in groups that must stay together (give the group \
column as "validation_column"), time_split when rows are ordered in time and the future \
is predicted (give the time column); "validation_column" is empty otherwise. "n_splits" \
between 2 and 10 (5 is usual).
- "excluded_columns": identifiers, constants, free text and any column that gives the \
answer away; never the target.
- "families": 2 to 6 distinct families; include dummy (max_trials 1) as the baseline. \
Give more trials to families that suit the data and the time budget.
Families:
{describe_families()}
- Every reason is one plain sentence that a person who has never trained a model can \
follow. "pros" and "cons": up to 3 short phrases each about speed, accuracy, \
interpretability and memory on THIS data."""


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL:
        return value[: MAX_CELL - 1] + "…"
    if isinstance(value, float):
        return round(value, 4)
    return value


def read_sample_rows(path: Path, n: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """The first `n` rows of a Parquet table, cells shortened; empty if unreadable."""
    import polars as pl

    try:
        lf = pl.scan_parquet(path)
        names = lf.collect_schema().names()
        if len(names) > 30:  # wide tables: fewer rows, the columns the prompt lists
            n = min(n, 3)
        frame = lf.select(names[:MAX_COLUMNS]).head(n).collect()
    except Exception:  # a prompt without samples is still a good prompt
        return []
    return [{k: _cell(v) for k, v in row.items()} for row in frame.iter_rows(named=True)]


def _stat(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def profile_summary(profile: Profile) -> str:
    """The Profile as a compact table: names, kinds, types, gaps, statistics, warnings."""
    lines = [f"{profile.n_rows} rows, {profile.n_cols} columns, {profile.duplicate_rows} "
             "duplicate rows.",
             "column | kind | type | missing | distinct | details"]
    for col in profile.columns[:MAX_COLUMNS]:
        if col.mean is not None:
            details = (f"min {_stat(col.min)}, max {_stat(col.max)}, mean {_stat(col.mean)}, "
                       f"std {_stat(col.std)}")
        else:
            details = ""
        if col.top_values:
            top = ", ".join(f"{str(v)[:MAX_CELL]} ({n})" for v, n in col.top_values)
            details = f"{details}; top: {top}" if details else f"top: {top}"
        lines.append(f"{col.name} | {col.kind.value} | {col.dtype} | {col.missing_share:.0%} "
                     f"| {col.n_distinct} | {details}")
    if len(profile.columns) > MAX_COLUMNS:
        lines.append(f"(and {len(profile.columns) - MAX_COLUMNS} more columns)")
    if profile.target:
        t = profile.target
        lines.append(f"Likely target from the names: {t.column} ({t.task.value}, confidence "
                     f"{t.confidence:.0%}): {t.reason}.")
    if profile.warnings:
        lines.append("Warnings:")
        lines += [f"- {w.message} {w.action}".rstrip() for w in profile.warnings]
    return "\n".join(lines)


def hardware_summary(hardware: dict[str, Any]) -> str:
    gpus = hardware.get("gpus") or []
    gpu = ", ".join(f"{g['name']} ({g['memory_free_mb'] / 1024:.1f} of "
                    f"{g['memory_total_mb'] / 1024:.1f} GB free)" for g in gpus) or "none"
    return (f"{hardware.get('cpu_count')} CPU cores, {hardware.get('ram_available_gb')} GB of "
            f"{hardware.get('ram_total_gb')} GB RAM free, GPU: {gpu}. The families above "
            "train on the CPU.")


def _context(profile: Profile, *, budget_seconds: int, hardware: dict[str, Any],
             sample_rows: list[dict[str, Any]]) -> list[str]:
    parts = ["## The data", profile_summary(profile)]
    if sample_rows:
        parts += ["## Sample rows",
                  "\n".join(json.dumps(r, default=str, ensure_ascii=False)
                            for r in sample_rows)]
    slow = ", ".join(f"{f.name} (up to {f.max_rows} rows)" for f in families.REGISTRY.values()
                     if f.max_rows is not None and f.modality == "tabular")
    parts += ["## Time budget",
              f"{budget_seconds} seconds for the whole search and the final refit. Families "
              f"with a row limit: {slow}.",
              "## The machine", hardware_summary(hardware)]
    return parts


def plan_messages(profile: Profile, *, goal: str | None, target: str | None,
                  budget_seconds: int, hardware: dict[str, Any],
                  sample_rows: list[dict[str, Any]],
                  reading: GoalReading | None = None) -> list[dict[str, str]]:
    """The system and user messages asking for a first plan."""
    request = ["## What the person wants"]
    if goal:
        request.append(f"In their words: “{goal.strip()}”. Choose the target, task and "
                       "metric that answer this, and say in goal_reading how you read it.")
        if reading is not None and reading.target:
            request.append(f"A simple name match suggests the column “{reading.target}”; "
                           "use it only if it fits the request.")
    else:
        request.append("They did not say; pick the most sensible target and say so in "
                       "goal_reading.")
    if target:
        request.append(f"The person chose the target themselves: use “{target}”.")
    user = "\n".join(request + _context(profile, budget_seconds=budget_seconds,
                                        hardware=hardware, sample_rows=sample_rows))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def repair_message(problems: list[str], cut_off: bool = False) -> dict[str, str]:
    """The message that sends a reply's problems back to the model."""
    lines = ["Your plan cannot be used:"] + [f"- {p}" for p in problems]
    if cut_off:
        lines.append("Your answer was cut off at the length limit: keep every reason to "
                     "one short sentence.")
    lines.append("Answer again with the whole corrected JSON object and nothing else.")
    return {"role": "user", "content": "\n".join(lines)}


def fit_section(plan: Plan, fit: list[str]) -> list[str]:
    """Train against held-out scores per family, with what they mean; empty without any."""
    if not fit:
        return []
    better = "higher" if plan.metric.greater_is_better else "lower"
    return ["## Train and held-out scores (best trial per family)",
            f"Train is {plan.metric.value} on rows the model was fitted on, CV on held-out "
            f"folds ({better} is better): train far better than CV means it memorises "
            "(regularise it); both near the baseline means it underfits (more capacity).",
            *fit]


def revision_messages(profile: Profile, plan: Plan, *, findings: list[str],
                      budget_seconds: int, hardware: dict[str, Any],
                      sample_rows: list[dict[str, Any]],
                      draft: dict[str, Any], fit: list[str] | None = None
                      ) -> list[dict[str, str]]:
    """Messages asking for a revised plan after a Run, from what the Run showed; `fit`
    holds `review.fit_lines` (train against CV score per family) when recorded."""
    user = "\n".join(
        ["## The plan that was run", json.dumps(draft, ensure_ascii=False),
         "## What the results showed"] + [f"- {f}" for f in findings]
        + fit_section(plan, fit or [])
        + [f"The person's request: “{plan.goal}”." if plan.goal else "",
           "Propose a revised plan. Change only what the findings justify; keep the same "
           "target and task. In rationale, say what you changed and why, in plain words."]
        + _context(profile, budget_seconds=budget_seconds, hardware=hardware,
                   sample_rows=sample_rows))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
