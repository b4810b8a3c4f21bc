"""Exact-match accuracy and character error rate (CER) of predicted texts.

CER is corpus-level: the edits (insertions, deletions, substitutions) needed to turn
every prediction into its reference, over the characters of all the references; 0 is
perfect and a prediction of nothing scores 1.
"""

from __future__ import annotations

from collections.abc import Sequence


def edits(a: str, b: str) -> int:
    """Levenshtein distance between `a` and `b`."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def exact_match(predicted: Sequence[str], wanted: Sequence[str]) -> float:
    if not wanted:
        return 0.0
    return sum(p == w for p, w in zip(predicted, wanted, strict=True)) / len(wanted)


def cer(predicted: Sequence[str], wanted: Sequence[str]) -> float:
    total = sum(len(w) for w in wanted)
    wrong = sum(edits(p, w) for p, w in zip(predicted, wanted, strict=True))
    return wrong / max(1, total)


def scores(predicted: Sequence[str], wanted: Sequence[str]) -> dict[str, float]:
    """Both measures, keyed by their Metric values."""
    # The Metric values (modelyard.schemas), written out: this module needs no pydantic.
    return {"exact_match": exact_match(predicted, wanted), "cer": cer(predicted, wanted)}
