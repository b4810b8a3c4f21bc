"""The rule plan for a text-to-text table: which families, which metric, and why."""

from __future__ import annotations

from pathlib import Path

from modelyard.engine.errors import PlanError
from modelyard.engine.text_to_text.charformer import MAX_OUTPUT_CHARS
from modelyard.engine.training import families
from modelyard.schemas import FamilyChoice, Metric, Plan, Profile, Task, Validation

BASELINES = ("copy_input", "frequent_output")


def t5_weights_present(weights: Path | None = None) -> bool:
    """Whether a local T5-small folder is there (`$MODELYARD_HOME/weights/t5-small`)."""
    from modelyard.engine.text_to_text.t5 import weights_dir
    from modelyard.storage.paths import Home

    folder = weights_dir(weights if weights is not None else Home.from_env().weights)
    return (folder / "config.json").exists()


def text_plan(profile: Profile, dataset_id: str, *, target: str | None = None,
              budget_seconds: int = 300, seed: int = 0,
              weights: Path | None = None) -> Plan:
    """Baselines, the character transformer (when the outputs fit its cap) and T5-small
    (when its weights are here), scored by exact match on held-out inputs."""
    found = profile.findings.get("text_to_text") or {}
    source = found.get("input")
    target = target or (profile.target.column if profile.target else None)
    if not source or not target:
        raise PlanError("This table does not look like inputs and output texts.",
                        "Name the column of output texts as the target.")
    col = profile.column(target)
    longest = int(col.text_length.get("max") or 0)
    chosen = list(BASELINES)
    note = ""
    if longest <= MAX_OUTPUT_CHARS:
        chosen.append("char_transformer")
    else:
        note = (f" The character model is left out: some outputs are {longest} characters "
                f"long and it writes at most {MAX_OUTPUT_CHARS}.")
    if t5_weights_present(weights):
        chosen.append("t5_small")
    choices = [FamilyChoice(family=name, max_trials=1, reason=families.get(name).why,
                            pros=list(families.get(name).pros)[:3],
                            cons=list(families.get(name).cons)[:3]) for name in chosen]
    rationale = (
        f"“{target}” is a short text written from “{source}”, so this is text to text. "
        "The models learn from 80% of the distinct inputs and are compared on the other "
        "20% (inputs they never saw) by exact match: the share of outputs exactly right; "
        "the character error rate is shown too. Copying the input and looking it up in "
        "the training pairs are the baselines to beat." + note
        + f" The training stops after {budget_seconds} seconds.")
    reasons = {
        "target": f"It is a short text made from “{source}”.",
        "task": f"“{target}” has {col.n_distinct} different texts, far too many to be "
                "classes, and shares its characters with “" + source + "”.",
        "metric": "Exact match says how many outputs need no correction at all.",
        "validation": "Scores come from inputs held out of training, so they show how the "
                      "model does on new inputs.",
    }
    return Plan(dataset_id=dataset_id, target=target, task=Task.text_to_text,
                metric=Metric.exact_match, input_column=source,
                validation=Validation(kind="holdout", holdout_fraction=0.2),
                families=choices,
                excluded_columns=[c.name for c in profile.columns
                                  if c.name not in (source, target)][:10_000],
                budget_seconds=budget_seconds, seed=seed, rationale=rationale,
                reasons=reasons)
