"""Guess which column is the target and what kind of problem it poses, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelyard.schemas import ColumnKind, ColumnProfile, Profile, TargetGuess, Task

# Names people give the thing they want to predict. Strong names are rarely anything but
# an outcome; weak names are outcomes as often as they are inputs (a price, an income),
# so a strong name outranks a weak one wherever each sits.
_STRONG_WORDS = (
    "target", "label", "labels", "class", "y", "outcome", "response", "survived", "churn",
    "default", "diagnosis", "species", "fraud", "is_fraud", "converted", "clicked",
    "purchase", "purchased", "attrition", "exited", "approved", "readmitted", "sentiment",
    "dependent", "goal", "output", "result", "medv", "survival", "died", "death", "deaths",
    "mortality", "disease", "malignant", "won", "winner", "success", "passed", "admitted",
    "accepted", "cultivar", "progression", "saleprice",
)
_WEAK_WORDS = (
    "price", "sales", "quality", "income", "category", "score", "rating", "status", "grade",
    "salary", "wage", "wages", "earnings", "pay", "cost", "charges", "revenue", "profit",
    "tip", "mpg", "yield", "demand", "amount", "value",
)
_TARGET_WORDS = _STRONG_WORDS + _WEAK_WORDS
_COORDINATES = {"x", "y", "z"}
# Name parts of keys and references (a key the profile did not call an id, such as a
# reference number with repeats): never the outcome, wherever they sit.
# ("no" and "code" are left out: no_show and status_code are outcomes.)
_KEY_PARTS = {"id", "ids", "ref", "key", "uuid", "index", "idx"}
_UNUSABLE = {ColumnKind.id, ColumnKind.constant, ColumnKind.text, ColumnKind.datetime,
             ColumnKind.image, ColumnKind.ignored}
MAX_CLASSES = 100


@dataclass
class Hints:
    """What else tells the target apart: a test file, a sample submission."""

    missing_from_test: list[str] = field(default_factory=list)
    submission_outputs: list[str] = field(default_factory=list)


def task_for(col: ColumnProfile, n_rows: int) -> Task:
    """The problem type a column implies as a target."""
    if col.kind is ColumnKind.boolean or col.n_distinct == 2:
        return Task.binary
    if col.kind is ColumnKind.numeric:
        whole = col.dtype.startswith(("Int", "UInt")) or _all_whole(col)
        few = col.n_distinct <= max(10, min(30, n_rows // 20))
        return Task.multiclass if (whole and few) else Task.regression
    return Task.multiclass


def _all_whole(col: ColumnProfile) -> bool:
    # Top values are only kept for low-cardinality columns, which is when it matters.
    if not col.top_values:
        return False
    try:
        return all(float(v).is_integer() for v, _ in col.top_values)
    except ValueError:
        return False


def _normal(name: str) -> str:
    return name.lower().strip().replace(" ", "_").replace("-", "_").rstrip("?")


def candidates(profile: Profile, hints: Hints | None = None) -> list[TargetGuess]:
    """Every column that could be the target, most likely first."""
    hints = hints or Hints()
    scored: list[tuple[float, int, TargetGuess]] = []
    names = profile.column_names
    usable = [c.name for c in profile.columns if c.kind not in _UNUSABLE and c.role is None]
    last = names[-1] if names else None
    first = names.index(usable[0]) if usable and len(names) > 2 else None
    for position, col in enumerate(profile.columns):
        if col.kind in _UNUSABLE or col.role is not None:
            continue
        if col.kind is ColumnKind.categorical and col.n_distinct > MAX_CLASSES:
            continue
        if col.n_distinct < 2:
            continue
        score, reasons = 0.0, []
        lowered = _normal(col.name)
        if col.name in hints.submission_outputs:
            score += 5.0
            reasons.append(f"the sample submission asks for “{col.name}”")
        if col.name in hints.missing_from_test and len(hints.missing_from_test) <= 3:
            score += 4.0 if len(hints.missing_from_test) == 1 else 2.5
            reasons.append("it is the column the test file lacks")
        coordinate = lowered in _COORDINATES and len(
            _COORDINATES & {_normal(n) for n in names}) > 1  # x, y and z: a position
        strong = lowered in _STRONG_WORDS and not coordinate
        if strong or lowered in _WEAK_WORDS:
            score += 3.0 if strong else 1.2
            reasons.append(f"its name “{col.name}” is a usual name for a target")
        elif any(_matches(lowered, w) for w in _TARGET_WORDS if len(w) > 3):
            score += 1.2 if any(_matches(lowered, w) for w in _STRONG_WORDS
                                if len(w) > 3) else 0.6
            reasons.append(f"its name “{col.name}” suggests an outcome")
        keyish = bool(_KEY_PARTS & set(lowered.replace(".", "_").split("_")))
        if keyish and not strong:
            score -= 1.5  # e.g. row_ref, customer_no: a key, not an outcome
        elif col.name == last:
            score += 1.0
            reasons.append("it is the last column")
        elif position == first:
            # Outcomes come first almost as often as last (R's data sets, many exports);
            # keys, which also come first, are not candidates at all (kind id).
            score += 0.8
            reasons.append("it is the first column")
        if col.kind is ColumnKind.boolean or col.n_distinct == 2:
            score += 0.5  # a yes/no column: the commonest kind of outcome
            if not reasons:
                reasons.append("it has two values")
        elif col.kind is ColumnKind.categorical and col.n_distinct <= 20:
            score += 0.3
            if not reasons:
                reasons.append(f"it has few values ({col.n_distinct})")
        if col.missing_share > 0.2:
            score -= 1.0
        if col.top_share is not None and col.top_share > 0.995:
            score -= 1.0  # almost one value: a poor thing to predict
        task = task_for(col, profile.n_rows)
        reason = " and ".join(reasons) or "no better candidate was found"
        scored.append((score, -position, TargetGuess(column=col.name, task=task,
                                                     confidence=0.1, reason=reason)))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    out = []
    for i, (score, _, guess) in enumerate(scored):
        runner_up = scored[i + 1][0] if i + 1 < len(scored) else score - 3
        margin = score - runner_up if i == 0 else 0.0
        confidence = 0.3 + score / 5 - (0.15 if i == 0 and margin < 0.5 else 0.0)
        guess.confidence = round(max(0.05, min(0.97, confidence)), 2)
        out.append(guess)
    return out


def _matches(lowered: str, word: str) -> bool:
    parts = lowered.split("_")
    return lowered.endswith(word) or lowered.startswith(word) or word in parts


# The reason given for a target the person named rather than one guessed.
CHOSEN = "chosen by you"


def guess_target(profile: Profile, explicit: str | None = None,
                 hints: Hints | None = None) -> TargetGuess | None:
    """The most likely target, with a confidence and the reason in words."""
    if explicit is not None:
        col = profile.column(explicit)
        return TargetGuess(column=explicit, task=task_for(col, profile.n_rows),
                           confidence=1.0, reason=CHOSEN)
    found = candidates(profile, hints)
    return found[0] if found else None
