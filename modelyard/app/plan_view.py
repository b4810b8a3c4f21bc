"""How a Plan reads on the page: the card (each choice and why, in plain words), where the
plan came from (planner, model, fallback, review, edits), and live progress while a
language model writes one.

Words from a language model (how it read the request, reasons, pros, cons, rationale,
what a review changed) are shown with `st.text`, never as Markdown: a model steered by a
cell could otherwise put a link or an image on the page. A column name inside our own
Markdown warning goes in an inline code span (`code`), which shows it literally."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from modelyard.app.literal import code as code_span
from modelyard.app.literal import literal
from modelyard.engine.planning.explain import card, family_title, origin_sentence
from modelyard.engine.planning.image_setup import ImageSetup
from modelyard.engine.planning.labels import (
    TASK_SHORT,
    changes_in_words,
    metric_label,
    validation_short,
    validation_tile,
)
from modelyard.engine.planning.problems import TargetChange
from modelyard.engine.planning.quoting import NAME_CHARS, cut, plain_words
from modelyard.engine.planning.review import limits_in_words
from modelyard.schemas import Plan


def code(text: str) -> str:
    """`text` as a Markdown inline code span, which shows it literally: no links, images,
    emphasis or colours, whatever it holds. Cut to NAME_CHARS, on one line."""
    return code_span(cut(plain_words(str(text)), NAME_CHARS))


def show_words(label: str, text: str) -> None:
    """Our bold label, then `text` (a model's words) as plain text."""
    st.markdown(f"**{label}**")
    st.text(text)


def show_lines(label: str, lines: list[str]) -> None:
    """Our bold label, then `lines` (which may hold a model's words or column names) as a
    plain-text list."""
    st.markdown(f"**{label}**")
    st.text("\n".join(f"• {line}" for line in lines))


def show_target_change(change: TargetChange | None, approved: bool) -> None:
    """The planner's target against the one named or guessed, where the plan is
    reviewed: a warning before approval, a note after it."""
    if change is None:
        return
    sentence = change.sentence(show=code)
    if approved:
        st.info(f"{sentence} This version was approved with it.", icon=":material/info:")
    else:
        st.warning(f"{sentence} Check that this is the column you mean before you approve "
                   "the plan; choose another under **Change the plan → What to predict**.",
                   icon=":material/warning:")


def show_summary(plan: Plan) -> None:
    """The plan's main choices as tiles, in words (never identifiers such as roc_auc)."""
    # Widths for the longest values ("Categories", "20% holdout"): a tile cuts its value.
    c1, c2, c3, c4, c5 = st.columns([1.2, 1, 0.9, 1.3, 0.7])
    c1.metric("Target", literal(plan.target))  # a tile's value is Markdown too
    c2.metric("Kind of problem", TASK_SHORT[plan.task])
    c3.metric("Metric", metric_label(plan.metric))
    c4.metric("Checked on", validation_tile(plan.validation), help=validation_short(
        plan.validation))
    c5.metric("Budget", f"{plan.budget_seconds} s")


def show_card(plan: Plan, setup: ImageSetup | None = None, unit: str | None = None) -> None:
    """The plan as a readable card, for someone who has never trained a model; `setup`
    (image plans) adds the image size and starting weights; `unit` names what the data
    holds when the plan cannot tell ("recording")."""
    if plan.goal:  # the person's own words
        st.markdown(f"**You asked:** {literal(plan.goal)}")
    if plan.goal_reading:
        show_words("How the planner read it", plan.goal_reading)
    with st.container(border=True):
        for item in card(plan, setup, unit):
            st.markdown(f"**{item.label}:** {literal(item.value)}")
            if item.why:  # the planner's reason: a model's words for a model's plan
                st.text(f"Why: {item.why}")
    st.markdown("**Model families**")
    for f in plan.families:
        trials = "1 trial" if f.max_trials == 1 else f"up to {f.max_trials} trials"
        with st.container(border=True):
            st.markdown(f"**{family_title(f.family)}** ({trials})")
            if f.reason:
                st.text(f.reason)
            if f.limits:
                st.caption(f"Searches only with {literal(limits_in_words(f.limits))}.")
            if f.pros or f.cons:
                good, bad = st.columns(2)
                good.text("\n".join(f"+ {p}" for p in f.pros) or " ")
                bad.text("\n".join(f"− {c}" for c in f.cons) or " ")
    if plan.rationale:
        with st.container(border=True):
            show_words("In short", plan.rationale)


def show_origin(doc: dict[str, Any], versions: list[dict[str, Any]]) -> None:
    """Who made this version and why it differs: fallback, review findings, edits."""
    prov = doc.get("provenance") or {}
    by_id = {v["id"]: v for v in versions}
    if prov.get("fallback_reason"):
        # The headline: the reason without the model's words (those are in the detail).
        st.warning(literal(prov.get("fallback_headline") or prov["fallback_reason"]),
                   icon=":material/info:")
        with st.expander("Technical detail"):
            error = prov.get("llm_error") or {}
            st.code(error.get("detail") or error.get("message") or "", language="text")
            for i, problems in enumerate(prov.get("validation_errors") or [], start=1):
                st.markdown(f"Reply {i} was refused:")
                st.code("\n".join(problems), language="text")
    elif prov.get("planner_note"):  # expected (image plans): said, not warned about
        st.caption(literal(prov["planner_note"]))
    elif doc.get("planner") == "ollama" and prov.get("model"):
        st.caption(literal(origin_sentence(prov)))
        if prov.get("mends"):  # our sentences; names in them are quoted data: plain text
            with st.expander(f"What was mended in the model's reply ({len(prov['mends'])})"):
                st.text("\n".join(f"• {m}" for m in prov["mends"]))
    review = prov.get("review")
    if review:
        st.markdown(f"**Why this version:** the review of run "
                    f"{code_span(review.get('run_id'))} found")
        for f in review.get("findings", []):
            st.markdown(f"- {literal(f['message'])}")
        if review.get("changes"):  # a model's revision ends with its own "Why: ..."
            show_lines("What changed", review["changes"])
    edits = prov.get("edits")
    if edits:
        base = by_id.get(prov.get("based_on"))
        if base is not None:  # the same changes, in the words of the page
            edits = changes_in_words(Plan.model_validate(base["plan"]),
                                     Plan.model_validate(doc["plan"])) or edits
        show_lines(f"Your changes from version {base['version']}" if base else "Your changes",
                   edits)


def show_provenance(prov: dict[str, Any]) -> None:
    """Everything recorded about how the plan was made, for whoever wants to check."""
    with st.expander("How this plan was made"):
        keys = ("planner", "requested_planner", "model", "host", "server_version",
                "latency_seconds", "repairs", "prompt_tokens", "reply_tokens",
                "fallback_reason")
        # st.table renders Markdown in its cells: the fallback without the model's words.
        shown = {**prov, "fallback_reason": prov.get("fallback_headline")
                 or prov.get("fallback_reason")}
        st.table({k: [literal(shown.get(k))] for k in keys
                  if shown.get(k) is not None})
        if prov.get("prompt"):
            st.markdown("**Prompt**")
            st.code("\n\n".join(f"[{m['role']}]\n{m['content']}" for m in prov["prompt"]),
                    language="text")
        for i, attempt in enumerate(prov.get("attempts") or [], start=1):
            st.markdown(f"**Reply {i}** ({attempt.get('seconds')} s, "
                        f"{attempt.get('reply_tokens')} tokens)")
            st.code(attempt.get("raw") or "(empty)", language="json")
            if attempt.get("problems"):
                st.code("\n".join(attempt["problems"]), language="text")
            if attempt.get("mends"):
                st.text("Mended: " + " ".join(attempt["mends"]))


class Progress:
    """Live progress inside an `st.status` box while a plan is being written."""

    def __init__(self, box) -> None:
        with box:
            self._line = st.empty()
            self._tail = st.empty()

    def __call__(self, p) -> None:
        self._line.markdown(literal(p.line()))
        if p.tail:
            self._tail.code(p.tail, language="json")


def errors_of(exc) -> list[str]:
    """A pydantic ValidationError as `field: message` lines."""
    return [f"{'.'.join(map(str, e['loc'])) or 'plan'}: {e['msg']}" for e in exc.errors()]


def parse_json(raw: str):
    """(Plan, []) or (None, problems) for the JSON editor's text."""
    from pydantic import ValidationError

    try:
        return Plan.model_validate_json(raw), []
    except ValidationError as exc:
        return None, errors_of(exc)
    except ValueError as exc:  # not JSON at all
        return None, [f"plan: not valid JSON: {exc}"]


def pretty(plan: dict[str, Any]) -> str:
    return json.dumps(plan, indent=2, ensure_ascii=False)
