"""What each model family is good and bad at, in words, for the prompt and the planners.

The words are the family's own (`ModelFamily.summary`, `pros_cons`, ...); this module
only lays them out, so the language model's brief and the rule planner's pros and cons
describe a family alike.
"""

from __future__ import annotations

from modelyard.engine.training import families
from modelyard.schemas import Profile, Task


def offered() -> list[str]:
    """The table families a language model may choose here: those whose package (and
    weights) are present, and, without a GPU, not the networks that only a person adds on
    a CPU (`ModelFamily.offered_on_cpu`). The prompt lists them and the reply's schema
    (a grammar for the model) allows no other."""
    from modelyard.engine.training.families.base import cuda_available

    names = []
    gpu: bool | None = None
    for name in families.named("tabular"):  # the language model plans tables
        f = families.get(name)
        if f.unavailable(Task.binary) and f.unavailable(Task.regression):
            continue  # its package or weights are not here: not worth a word
        if not f.offered_on_cpu:
            gpu = cuda_available() if gpu is None else gpu
            if not gpu:
                continue  # a person's choice on a CPU, as for the rule planner
        names.append(name)
    return names


def describe_families() -> str:
    """The families for the prompt: their names, on one line, with the row limits (a small
    model reads every word of the prompt before it writes one; a larger one knows what
    lightgbm is)."""
    return ", ".join(f"{name} (up to {families.get(name).max_rows:,} rows)"
                     if families.get(name).max_rows else name for name in offered()) + "."


def pros_cons(family: str, profile: Profile) -> tuple[list[str], list[str]]:
    """Pros and cons of `family` for this data: speed, accuracy, interpretability, memory."""
    return families.get(family).pros_cons(profile)
