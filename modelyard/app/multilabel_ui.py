"""The Model page's part for a multi-label model: its scores over every label, and a row
per label (how often it is on, its decision threshold, F1 there, ROC AUC). Display only:
the numbers are the bundle's, measured on out-of-fold predictions by the worker."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from modelyard.engine.multilabel.views import label_table, score_lines


def quality(meta: dict) -> None:
    """Scores over every label, then the per-label table."""
    st.caption("Each row was predicted by a model that had not seen it, and each label's "
               "threshold was chosen on those predictions: honest estimates for new rows "
               "like these.")
    st.markdown(" · ".join(score_lines(meta)))
    st.dataframe(pd.DataFrame(label_table(meta)), hide_index=True, key="model_labels",
                 placeholder="—")
    st.caption("Threshold: the label is predicted when its probability reaches it (chosen "
               "for the best F1 of that label). Support: training rows with the label.")
