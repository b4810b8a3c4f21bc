"""Mending a language model's reply before anything is sent back to it.

A small local model (135M parameters) makes mistakes that have one obvious mend: it names
a family twice, misspells a column, asks for 500 trials, picks a metric that does not fit
the task, or stops in the middle of its last sentence. Asking it again costs a whole
reply (15-60 s on a laptop) and it often makes the same mistake, so each such mistake is
mended here, in code, and said in a sentence for the person (the plan's provenance shows
every mend). Only what has no obvious mend goes back to the model.

    mend_text(text)                      -> (object or None, mends): cut-off JSON closed
    mend_reply(raw, profile, target)     -> Mended(raw, mends): the fields mended

Every name and value in a mend sentence comes from the reply or the file: quoted
(`quoting.quote`) so that it reaches a page or a terminal as data.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from modelyard.engine.intake.target import task_for
from modelyard.engine.planning.quoting import NAME_CHARS, quote
from modelyard.engine.planning.rules import DEFAULT_METRIC, choose_families, default_trials
from modelyard.engine.planning.schema import MAX_FAMILIES, PlanDraft
from modelyard.engine.planning.time_order import time_order
from modelyard.engine.training import families
from modelyard.schemas import (
    MAX_CLASSES,
    ColumnKind,
    Metric,
    Profile,
    Task,
    ValidationKind,
)

_NOT_TARGETS = frozenset({ColumnKind.id, ColumnKind.text, ColumnKind.datetime,
                          ColumnKind.constant, ColumnKind.image, ColumnKind.ignored})
# How close a misspelt name must be to a real one to be read as it (difflib's ratio).
CLOSE = 0.8
MAX_TRIALS = 1000  # as a Plan allows
MIN_LEARNERS = 2  # kinds of model besides the baseline, as the prompt asks
_DEFAULT = object()  # a family named without trials: the rule planner's number
# Profile findings that a column may give the answer away (engine/intake/warnings.py).
LEAK_CODES = frozenset({"leakage", "target_copy"})
_REASONS = ("goal_reading", "target_reason", "task_reason", "metric_reason",
            "validation_reason", "excluded_reason", "families_reason", "rationale")


@dataclass
class Mended:
    raw: dict[str, Any]
    mends: list[str] = field(default_factory=list)


def _q(name: Any) -> str:
    return quote(str(name), NAME_CHARS)


def mend_text(text: str) -> tuple[Any, list[str]]:
    """The JSON in `text`; a reply cut off in the middle (the token cap) is closed after
    its last complete value by json_repair. (None, []) when nothing JSON-like is there."""
    try:
        return json.loads(text), []
    except ValueError:
        pass
    if not text.strip().startswith("{"):
        return None, []
    import json_repair

    try:
        repaired = json_repair.loads(text)
    except Exception:  # noqa: BLE001 - a reply json_repair cannot read is simply unread
        return None, []
    if not isinstance(repaired, dict) or not repaired:
        return None, []
    return repaired, ["The reply stopped before its end; its complete parts were kept."]


def _closest(name: Any, options: list[str]) -> str | None:
    """The one option `name` stands for: itself, the same but for case, spaces and
    dashes, or the one close spelling. None when there is none or more than one."""
    if not isinstance(name, str):
        return None
    if name in options:
        return name

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    same = [o for o in options if norm(o) == norm(name)]
    if len(same) == 1:
        return same[0]
    if same:
        return None
    by_norm: dict[str, list[str]] = {}
    for o in options:
        by_norm.setdefault(norm(o), []).append(o)
    close = difflib.get_close_matches(norm(name), list(by_norm), n=2, cutoff=CLOSE)
    if len(close) == 1 and len(by_norm[close[0]]) == 1:
        return by_norm[close[0]][0]
    if len(close) == 2:  # two near spellings: ambiguous unless one is clearly closer
        ratios = [difflib.SequenceMatcher(None, norm(name), c).ratio() for c in close]
        if ratios[0] - ratios[1] >= 0.1 and len(by_norm[close[0]]) == 1:
            return by_norm[close[0]][0]
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def mend_reply(raw: dict[str, Any], profile: Profile, target: str | None = None) -> Mended:
    """`raw` with every mistake that has one obvious mend mended, and the mends in words.
    What is left wrong is for the schema and `plan_problems` to find."""
    out = Mended(dict(raw))
    _unknown_keys(out)
    _enums(out)
    _target(out, profile, target)
    _task_and_metric(out, profile)
    _columns(out, profile)
    _validation(out, profile)
    _families(out, profile)
    _words(out)
    return out


def _unknown_keys(m: Mended) -> None:
    extra = [k for k in m.raw if k not in PlanDraft.model_fields]
    for key in extra:
        del m.raw[key]
    if extra:
        m.mends.append(f"Fields the plan does not have were left out: "
                       f"{', '.join(_q(k) for k in extra[:5])}.")


def _enums(m: Mended) -> None:
    for key, enum, what in (("task", Task, "task"), ("metric", Metric, "metric"),
                            ("validation", ValidationKind, "validation")):
        value = m.raw.get(key)
        options = [e.value for e in enum]
        if value is None or value in options:
            continue
        found = _closest(value, options)
        if found is not None:
            m.raw[key] = found
            m.mends.append(f"The {what} {_q(value)} was read as “{found}”.")


def _target(m: Mended, profile: Profile, chosen: str | None) -> None:
    names = profile.column_names
    given = m.raw.get("target")
    if chosen and given != chosen:
        m.raw["target"] = chosen
        m.mends.append(f"The target is {_q(chosen)}, the column you chose"
                       + (f" (the model named {_q(given)})." if given else "."))
        return
    if given in names or given is None:
        return
    found = _closest(given, names)
    if found is not None:
        m.raw["target"] = found
        m.mends.append(f"The target {_q(given)} was read as the column {_q(found)}.")


def _task_and_metric(m: Mended, profile: Profile) -> None:
    target = m.raw.get("target")
    # A target that cannot be one (an identifier, free text) has no mend: it goes back.
    if target in profile.column_names and profile.column(target).kind not in _NOT_TARGETS:
        col = profile.column(target)
        implied = task_for(col, profile.n_rows)
        given = m.raw.get("task")
        try:
            task = Task(given)
        except ValueError:
            task = None
        wrong = (task is None
                 or (task is Task.regression and col.kind is not ColumnKind.numeric)
                 or (task is Task.binary and col.n_distinct != 2)
                 or (task is Task.multiclass and col.n_distinct == 2)
                 or (task is not None and task.is_classification
                     and col.kind is ColumnKind.numeric and col.n_distinct > MAX_CLASSES))
        if wrong and col.n_distinct >= 2:
            m.raw["task"] = implied.value
            said = _q(given) if given is not None else "none"
            m.mends.append(f"The task {said} does not fit {_q(target)} "
                           f"({col.n_distinct} different values): it is {implied.value}.")
            m.raw["task_reason"] = ""
    try:
        task = Task(m.raw.get("task"))
        metric = Metric(m.raw.get("metric"))
    except ValueError:
        return
    if not metric.fits(task):
        m.raw["metric"] = DEFAULT_METRIC[task].value
        m.raw["metric_reason"] = ""
        m.mends.append(f"The metric {metric.value} does not fit a {task.value} task: "
                       f"{DEFAULT_METRIC[task].value} is used.")


def _columns(m: Mended, profile: Profile) -> None:
    names = profile.column_names
    excluded = m.raw.get("excluded_columns")
    if excluded is None:
        return
    if not isinstance(excluded, list):
        excluded = [excluded] if isinstance(excluded, str) and excluded else []
    kept: list[str] = []
    leaks = _flagged_leaks(profile, m.raw.get("target"))
    for name in excluded:
        found = _closest(name, names)
        if found is None:
            m.mends.append(f"{_q(name)} is not a column: it was not excluded.")
        elif found == m.raw.get("target"):
            m.mends.append(f"The target {_q(found)} cannot be left out: it was not "
                           "excluded.")
        elif found in leaks:
            m.mends.append(f"The profile flags {_q(found)} as possibly giving the answer "
                           "away; whether it is known before the outcome is for you to "
                           "say, so it stays in (its warning on the Data page leaves it "
                           "out in one click).")
        elif found not in kept:
            if found != name:
                m.mends.append(f"The excluded column {_q(name)} was read as {_q(found)}.")
            kept.append(found)
    m.raw["excluded_columns"] = kept


def _flagged_leaks(profile: Profile, target: Any) -> set[str]:
    """The columns the profile's warnings flag as giving the answer away, when they were
    found against this plan's target. Both planners leave those to the person (the rule
    planner keeps them too): a near-perfect column may be a leak or a legitimate lag, and
    only the person knows whether it is there at prediction time."""
    if profile.target is None or profile.target.column != target:
        return set()
    return {w.column for w in profile.warnings
            if w.code in LEAK_CODES and w.column is not None}


def _validation(m: Mended, profile: Profile) -> None:
    n = _int(m.raw.get("n_splits"))
    if n is not None and not 2 <= n <= 10:
        m.raw["n_splits"] = min(10, max(2, n))
        m.mends.append(f"{n} folds is out of bounds: {m.raw['n_splits']} are used.")
    try:
        kind = ValidationKind(m.raw.get("validation"))
        task = Task(m.raw.get("task"))
    except ValueError:
        return
    column = m.raw.get("validation_column") or ""
    names = profile.column_names
    if column and column not in names:
        found = _closest(column, names)
        if found is not None:
            m.mends.append(f"The validation column {_q(column)} was read as {_q(found)}.")
        m.raw["validation_column"] = column = found or ""
    if column and column == m.raw.get("target"):
        m.mends.append(f"The target {_q(column)} cannot also group or order the rows for "
                       "validation.")
        m.raw["validation_column"] = column = ""
    if (kind is ValidationKind.group_kfold and column
            and profile.column(column).n_distinct > profile.n_rows / 2):
        m.mends.append(f"{_q(column)} has a different value in almost every row: it does not "
                       "group rows.")
        m.raw["validation_column"] = column = ""
    if kind in (ValidationKind.group_kfold, ValidationKind.time_split) and not column:
        timing = time_order(profile)
        if kind is ValidationKind.time_split and timing is not None:
            m.raw["validation_column"] = timing.column
            m.mends.append(f"A split in time needs a time column: {_q(timing.column)} "
                           "orders the rows, so it is used.")
            return
        plain = (ValidationKind.kfold if task is Task.regression
                 else ValidationKind.stratified_kfold)
        m.raw["validation"] = plain.value
        m.raw["validation_reason"] = ""
        what = "a group column" if kind is ValidationKind.group_kfold else "a time column"
        m.mends.append(f"{kind.value} needs {what} and none was named: rows are shuffled "
                       "into folds instead.")
    elif kind not in (ValidationKind.group_kfold, ValidationKind.time_split) and column:
        m.raw["validation_column"] = ""  # a column with nothing to do: said nowhere


def _trial_pairs(m: Mended) -> list[tuple[Any, Any, dict[str, Any]]]:
    """(name, trials, rest) for each family in either shape of reply."""
    given = m.raw.get("families")
    if isinstance(given, dict):  # {family: trials}
        return [(name, trials, {}) for name, trials in given.items()]
    if isinstance(given, list):
        pairs = []
        for item in given:
            if isinstance(item, dict):
                rest = {k: v for k, v in item.items() if k not in ("family", "max_trials")}
                pairs.append((item.get("family"), item.get("max_trials", 1), rest))
            elif isinstance(item, str):  # the compact shape: names only
                pairs.append((item, _DEFAULT, {}))
        return pairs
    return []


def _cannot_run(family, m: Mended, profile: Profile) -> str | None:
    """Why `family` cannot run on this table here (its weights are missing, the table is
    too large for it), once the target and task are known; else None."""
    target, task = m.raw.get("target"), m.raw.get("task")
    if not isinstance(target, str) or task not in {t.value for t in Task}:
        return None
    return family.fits_table(profile, target, Task(task))


def _families(m: Mended, profile: Profile) -> None:
    if "families" not in m.raw:
        return
    tabular = families.named("tabular")
    chosen: dict[str, dict[str, Any]] = {}
    repeated: set[str] = set()
    for name, trials, rest in _trial_pairs(m):
        count = None if trials is _DEFAULT else _int(trials)
        if count is not None and count <= 0:
            continue  # the compact shape's "not used"
        found = _closest(name, tabular)
        if found is None:
            image = isinstance(name, str) and families.known(name)
            m.mends.append(f"{_q(name)} is " + ("a family for images" if image else
                                                "not a model family Modelyard has")
                           + ": it was left out.")
            continue
        if found != name:
            m.mends.append(f"The family {_q(name)} was read as “{found}”.")
        family = families.get(found)
        if (why := _cannot_run(family, m, profile)) is not None:
            m.mends.append(f"“{found}” was left out: {why}.")
            continue
        if family.max_rows is not None and profile.n_rows > family.max_rows:
            m.mends.append(f"“{found}” is too slow for {profile.n_rows:,} rows (it is "
                           f"used up to {family.max_rows:,}): it was left out.")
            continue
        if trials is _DEFAULT:
            count = default_trials(found)
        elif count is None:
            count = 1
            m.mends.append(f"The trials for “{found}” were not a number: 1 is used.")
        if count > MAX_TRIALS:
            m.mends.append(f"{count} trials for “{found}” is more than {MAX_TRIALS}: "
                           f"{MAX_TRIALS} are used.")
            count = MAX_TRIALS
        if found in chosen:
            repeated.add(found)
            chosen[found]["max_trials"] = max(chosen[found]["max_trials"], count)
            continue
        item = {"family": found, "max_trials": count}
        for key in ("reason", "pros", "cons"):
            if key in rest:
                item[key] = rest[key]
        if isinstance(m.raw.get("task"), str) and m.raw["task"] in {t.value for t in Task}:
            noted = family.plan_reason(Task(m.raw["task"]))
            if noted != family.why:  # what the plan must say (the weights and licence)
                item["reason"] = noted
        chosen[found] = item
    for name in sorted(repeated):
        m.mends.append(f"“{name}” was named more than once: it is used once.")
    items = list(chosen.values())
    if all(f["family"] == "dummy" for f in items):
        # None, or a small model stuck repeating the baseline: the families the rules try.
        added = [f for f in choose_families(profile.n_rows, profile)
                 if f.family not in chosen][:MAX_FAMILIES - len(items)]
        items += [{"family": f.family, "max_trials": f.max_trials} for f in added]
        said = ("The baseline alone learns nothing from the data" if chosen else
                "No model family was named")
        m.mends.append(f"{said}: the families the rule planner tries were added "
                       f"({', '.join(f.family for f in added)}).")
    elif len(items) - ("dummy" in chosen) < MIN_LEARNERS:
        # One kind of model is a plan that fails whole when it cannot finish in the budget
        # (an MLP on a busy machine): the rule planner's next choices make up two.
        added = [f for f in choose_families(profile.n_rows, profile)
                 if f.family not in chosen and f.family != "dummy"]
        added = added[:MIN_LEARNERS - (len(items) - ("dummy" in chosen))]
        items += [{"family": f.family, "max_trials": f.max_trials} for f in added]
        if added:
            m.mends.append(f"A plan tries at least {MIN_LEARNERS} kinds of model, so that "
                           "one that cannot finish in the budget leaves another: "
                           f"{', '.join(f.family for f in added)} was added (the rule "
                           "planner's next choice).")
    if "dummy" not in {f["family"] for f in items}:
        # The yardstick every score is read against; it costs no time.
        items.insert(0, {"family": "dummy", "max_trials": 1})
        m.mends.append("The baseline (dummy) was added: every plan keeps one, so each "
                       "score can be read against it.")
    if len(items) > MAX_FAMILIES:
        items.sort(key=lambda f: -f["max_trials"])
        dropped = [f["family"] for f in items[MAX_FAMILIES:]]
        items = items[:MAX_FAMILIES]
        m.mends.append(f"A plan holds at most {MAX_FAMILIES} families: those with the "
                       f"fewest trials were left out ({', '.join(dropped)}).")
    m.raw["families"] = items


def _words(m: Mended) -> None:
    """Reasons that are missing or not text become empty: the plan is the same without."""
    for key in _REASONS:
        if key in m.raw and not isinstance(m.raw[key], str):
            m.raw[key] = ""
        elif key in m.raw:  # the grammar bounds them; a server without one may not
            limit = 800 if key == "rationale" else 400
            if len(m.raw[key]) > limit:
                m.raw[key] = m.raw[key][:limit - 1] + "…"
