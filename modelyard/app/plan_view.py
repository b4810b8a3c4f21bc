"""How a Plan reads on the page: the card (each choice and why, in plain words), where the
plan came from (planner, model, fallback, review, edits), and live progress while a
language model writes one."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from modelyard.engine.planning.explain import card, family_title
from modelyard.engine.planning.image_setup import ImageSetup
from modelyard.engine.planning.review import limits_in_words
from modelyard.schemas import Plan


def show_card(plan: Plan, setup: ImageSetup | None = None) -> None:
    """The plan as a readable card, for someone who has never trained a model; `setup`
    (image plans) adds the image size and starting weights."""
    if plan.goal:
        st.markdown(f"**You asked:** {plan.goal}")
    if plan.goal_reading:
        st.markdown(f"**How the planner read it:** {plan.goal_reading}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Target", plan.target)
    c2.metric("Task", plan.task.value)
    c3.metric("Metric", plan.metric.value)
    c4.metric("Budget", f"{plan.budget_seconds} s")
    with st.container(border=True):
        for item in card(plan, setup):
            st.markdown(f"**{item.label}:** {item.value}"
                        + (f"  \n*Why:* {item.why}" if item.why else ""))
    st.markdown("**Model families**")
    for f in plan.families:
        trials = "1 trial" if f.max_trials == 1 else f"up to {f.max_trials} trials"
        with st.container(border=True):
            st.markdown(f"**{family_title(f.family)}** (`{f.family}`, {trials}): "
                        f"{f.reason}")
            if f.limits:
                st.caption(f"Searches only with {limits_in_words(f.limits)}.")
            if f.pros or f.cons:
                good, bad = st.columns(2)
                good.markdown("\n".join(f"- :green[+] {p}" for p in f.pros) or " ")
                bad.markdown("\n".join(f"- :red[−] {c}" for c in f.cons) or " ")
    if plan.rationale:
        st.info(plan.rationale)


def show_origin(doc: dict[str, Any], versions: list[dict[str, Any]]) -> None:
    """Who made this version and why it differs: fallback, review findings, edits."""
    prov = doc.get("provenance") or {}
    by_id = {v["id"]: v for v in versions}
    if prov.get("fallback_reason"):
        st.warning(prov["fallback_reason"], icon=":material/info:")
        with st.expander("Technical detail"):
            error = prov.get("llm_error") or {}
            st.code(error.get("detail") or error.get("message") or "", language="text")
            for i, problems in enumerate(prov.get("validation_errors") or [], start=1):
                st.markdown(f"Reply {i} was refused:")
                st.code("\n".join(problems), language="text")
    elif prov.get("planner_note"):  # expected (image plans): said, not warned about
        st.caption(prov["planner_note"])
    elif doc.get("planner") == "ollama" and prov.get("model"):
        repairs = prov.get("repairs") or 0
        st.caption(f"Proposed by the language model {prov['model']} in "
                   f"{prov.get('latency_seconds', 0):.1f} s"
                   + (f" after {repairs} repair{'s' if repairs > 1 else ''}." if repairs
                      else "."))
    review = prov.get("review")
    if review:
        st.markdown(f"**Why this version:** the review of run `{review.get('run_id')}` found")
        for f in review.get("findings", []):
            st.markdown(f"- {f['message']}")
        if review.get("changes"):
            st.markdown("**What changed:**\n" + "\n".join(f"- {c}" for c in review["changes"]))
    edits = prov.get("edits")
    if edits:
        base = by_id.get(prov.get("based_on"))
        since = f" from version {base['version']}" if base else ""
        st.markdown(f"**Your changes{since}:**\n" + "\n".join(f"- {e}" for e in edits))


def show_provenance(prov: dict[str, Any]) -> None:
    """Everything recorded about how the plan was made, for whoever wants to check."""
    with st.expander("How this plan was made"):
        keys = ("planner", "requested_planner", "model", "host", "server_version",
                "latency_seconds", "repairs", "prompt_tokens", "reply_tokens",
                "fallback_reason")
        st.table({k: [str(prov.get(k))] for k in keys if prov.get(k) is not None})
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


class Progress:
    """Live progress inside an `st.status` box while a plan is being written."""

    def __init__(self, box) -> None:
        with box:
            self._line = st.empty()
            self._tail = st.empty()

    def __call__(self, p) -> None:
        self._line.markdown(p.line())
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
