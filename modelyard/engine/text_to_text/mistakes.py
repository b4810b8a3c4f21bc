"""The held-out pairs of a text-to-text model, wrong ones first, for the Model page."""

from __future__ import annotations

import pandas as pd

from modelyard.engine.text_to_text.score import edits


def held_out(oof: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(wrong, right): each held-out input with the output wanted and the model's output
    side by side; the wrong ones with the characters to fix, fewest first."""
    table = pd.DataFrame({"Input": oof["input"].astype(str),
                          "Right output": oof["y"].astype(str),
                          "Model's output": oof["prediction"].fillna("").astype(str)})
    hit = table["Right output"] == table["Model's output"]
    wrong = table[~hit].copy()
    wrong["Characters to fix"] = [edits(a, b) for a, b in
                                  zip(wrong["Model's output"], wrong["Right output"],
                                      strict=True)]
    wrong = wrong.sort_values("Characters to fix", kind="stable").reset_index(drop=True)
    return wrong, table[hit].reset_index(drop=True)
