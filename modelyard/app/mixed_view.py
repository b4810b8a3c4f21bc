"""What the Data page shows of a table whose rows point at images: how many rows have
a readable image, the files left out, and a few rows with their thumbnails. Display
only; the rows come from the engine through the Workspace."""

from __future__ import annotations

import streamlit as st

from modelyard.app.literal import literal
from modelyard.app.ui import show_error
from modelyard.schemas import MixedSummary


def count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def images_tab(ws, dataset_id: str, mixed: MixedSummary) -> None:
    """The Images tab of a mixed data set."""
    names = ", ".join(f"“{literal(c)}”" for c in mixed.image_columns)
    w, h = mixed.width, mixed.height
    st.caption(f"{mixed.n_with_image:,} of {count(mixed.n_rows, 'row')} have a readable "
               f"image ({names})"
               + (f"; images {w['min']:.0f}–{w['max']:.0f} × {h['min']:.0f}–{h['max']:.0f} px"
                  if w and h else "")
               + (f"; {count(mixed.n_test_images, 'test image')}" if mixed.n_test_images
                  else "") + ". Training compares models on the table alone, the images "
               "alone and both joined.")
    if mixed.n_skipped:
        with st.expander(f"{count(mixed.n_skipped, 'file')} left out"):
            st.write("\n".join(f"- {literal(s)}" for s in mixed.skipped)
                     + ("\n- …" if mixed.n_skipped > len(mixed.skipped) else ""))
    try:
        rows = ws.mixed_examples(dataset_id)
    except Exception as exc:
        show_error(exc, "Could not read the example rows")
        return
    for values, paths in rows:
        left, right = st.columns([1, 4])
        left.image([str(p) for p in paths], width=96)
        right.caption(" · ".join(f"**{literal(k)}**: {literal(v)}" for k, v in values.items()
                                 if k not in mixed.image_columns))
