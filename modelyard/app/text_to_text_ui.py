"""The Model page's view of a text-to-text model: its held-out scores, and the inputs it
rewrote wrongly next to those it got right (display only)."""

from __future__ import annotations

import streamlit as st

from modelyard.app.literal import literal
from modelyard.engine.text_to_text.mistakes import held_out

SHOWN = 200


def show_held_out(result, oof) -> None:
    """Scores and the held-out pairs of `result`, wrong ones first."""
    meta = result.meta
    scores = meta.get("held_out") or {}
    source, target = meta.get("input_column", "input"), meta.get("target", "output")
    if scores:
        st.markdown(f"On inputs it never saw in training, the model wrote **"
                    f"{scores.get('exact_match', 0):.1%}** of the outputs exactly right; "
                    f"the character error rate is **{scores.get('cer', 0):.1%}** (the "
                    "characters to fix for every hundred wanted).")
    if oof is None:
        st.info("This run kept no held-out predictions.")
        return
    wrong, right = held_out(oof)
    st.caption(f"Each row: the “{literal(source)}” text given, the “{literal(target)}” text "
               "wanted, and what "
               "the model wrote.")
    st.subheader(f"Wrong outputs ({len(wrong):,})")
    if len(wrong):
        st.dataframe(wrong.head(SHOWN), hide_index=True, key="model_text_wrong")
    else:
        st.success("Every held-out output was exactly right.")
    st.subheader(f"Right outputs ({len(right):,})")
    st.dataframe(right.head(SHOWN), hide_index=True, key="model_text_right")
    st.caption("The trials behind this model are on the Leaderboard page.")


def show_limit(error) -> None:
    """What this kind of model cannot do yet and the way that works (its message holds
    both), as a note: it is no failure of the person's."""
    st.info(literal(error), icon=":material/info:")
