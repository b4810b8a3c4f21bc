"""Demo data sets from scikit-learn's bundled files (no download), written as CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Sample:
    key: str
    title: str
    task: str
    target: str
    blurb: str


SAMPLES = {
    s.key: s
    for s in (
        Sample("breast_cancer", "Breast cancer diagnosis", "binary", "diagnosis",
               "569 tumour measurements; predict whether a tumour is malignant or benign."),
        Sample("wine", "Wine cultivar", "multiclass", "cultivar",
               "178 wines' chemical analyses; predict which of 3 cultivars made each."),
        Sample("diabetes", "Diabetes progression", "regression", "progression",
               "442 patients; predict a measure of disease progression one year later."),
    )
}


def write_sample(key: str, folder: Path) -> Path:
    """Write sample `key` as CSV in `folder` (once) and return its path."""
    from sklearn import datasets

    sample = SAMPLES[key]
    path = Path(folder) / f"{key}.csv"
    if path.exists():
        return path
    if key == "breast_cancer":
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame[sample.target] = np.asarray(bunch.target_names)[bunch.target]
    elif key == "wine":
        bunch = datasets.load_wine(as_frame=True)
        frame = bunch.data.copy()
        frame[sample.target] = [f"cultivar_{i + 1}" for i in bunch.target]
    elif key == "diabetes":
        bunch = datasets.load_diabetes(as_frame=True, scaled=False)
        frame = bunch.data.copy()
        frame[sample.target] = bunch.target
    else:  # pragma: no cover - SAMPLES and this function are edited together
        raise KeyError(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)
    return path
