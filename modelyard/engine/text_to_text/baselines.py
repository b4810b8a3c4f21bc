"""The two baselines every text-to-text Run is judged against: copy the input, and the
most frequent output seen for each input (copying the input when it was never seen).

Both save as JSON (no pickle): a bundle of them holds no code.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from modelyard.storage.files import write_json_atomic


class CopyInput:
    """Predicts every input unchanged: the score of doing nothing."""

    kind = "copy_input"

    def fit(self, inputs: list[str], outputs: list[str], **_) -> CopyInput:
        return self

    def predict(self, inputs: list[str]) -> list[str]:
        return list(inputs)

    def save(self, folder: Path) -> None:
        write_json_atomic(Path(folder) / "text_model.json", {"kind": self.kind})

    @classmethod
    def load(cls, folder: Path) -> CopyInput:
        return cls()


class FrequentOutput:
    """The output most often seen for each input in training; unseen inputs are copied."""

    kind = "frequent_output"

    def __init__(self, table: dict[str, str] | None = None):
        self.table = table or {}

    def fit(self, inputs: list[str], outputs: list[str], **_) -> FrequentOutput:
        seen: dict[str, Counter] = defaultdict(Counter)
        for x, y in zip(inputs, outputs, strict=True):
            seen[x][y] += 1
        # Ties go to the output seen first, so the table is the same every run.
        self.table = {x: counts.most_common(1)[0][0] for x, counts in seen.items()}
        return self

    def predict(self, inputs: list[str]) -> list[str]:
        return [self.table.get(x, x) for x in inputs]

    def save(self, folder: Path) -> None:
        write_json_atomic(Path(folder) / "text_model.json",
                          {"kind": self.kind, "table": self.table})

    @classmethod
    def load(cls, folder: Path) -> FrequentOutput:
        data = json.loads((Path(folder) / "text_model.json").read_text(encoding="utf-8"))
        return cls(data["table"])
