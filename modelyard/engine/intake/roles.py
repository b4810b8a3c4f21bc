"""Column roles and target overrides: what the person says beats what was detected.

Roles live in `dataset.json` ("roles": {column: role}); the profile carries their effect:
a column's `kind` becomes the one its role implies (the trainer reads kinds) and
`detected_kind` keeps what the profile found, so removing the role restores it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from modelyard.engine.errors import IntakeError, did_you_mean
from modelyard.schemas import ColumnKind, ColumnRole, Profile, Task, dump

ROLE_KIND = {
    ColumnRole.ignore: ColumnKind.ignored,
    ColumnRole.id: ColumnKind.id,
    # A group (a customer, a patient) keeps rows together in validation; not a feature.
    ColumnRole.group: ColumnKind.ignored,
    ColumnRole.time: ColumnKind.datetime,
    ColumnRole.text: ColumnKind.text,
}
ROLE_WORDS = {
    ColumnRole.ignore: "ignored",
    ColumnRole.id: "an identifier (kept to label predictions)",
    ColumnRole.group: "a group (rows of one group stay together when validating)",
    ColumnRole.time: "the time order",
    ColumnRole.text: "free text",
}


def apply_roles(profile: Profile, roles: dict[str, str]) -> Profile:
    """Set each column's role and the kind it implies; columns without one go back to
    the kind that was detected."""
    for col in profile.columns:
        detected = col.detected_kind or col.kind
        role = roles.get(col.name)
        if role:
            col.role = ColumnRole(role)
            col.kind = ROLE_KIND[col.role]
            col.detected_kind = detected
        else:
            col.role, col.kind, col.detected_kind = None, detected, None
    return profile


def check_roles(profile: Profile, roles: dict[str, str], target: str | None) -> None:
    names = set(profile.column_names)
    for column, role in roles.items():
        if column not in names:
            raise IntakeError(f"There is no column “{column}” in this data set.",
                              did_you_mean(column, profile.column_names)
                              + "Choose one of its columns.")
        try:
            ColumnRole(role)
        except ValueError as exc:
            allowed = ", ".join(r.value for r in ColumnRole)
            raise IntakeError(f"“{role}” is not a column role.", f"Use one of: {allowed}.") \
                from exc
        if column == target:
            raise IntakeError(f"The target “{column}” cannot also be {role}.",
                              "Choose another target first, or leave its role empty.")


def check_task(profile: Profile, target: str, task: Task) -> None:
    col = profile.column(target)
    kind = col.detected_kind or col.kind
    if task is Task.regression and kind is not ColumnKind.numeric:
        raise IntakeError(f"“{target}” is not a number, so it cannot be predicted by "
                          "regression.", "Choose classification, or another target.")
    if task is Task.binary and col.n_distinct != 2:
        raise IntakeError(f"A yes/no (binary) task needs exactly 2 classes; “{target}” has "
                          f"{col.n_distinct}.", "Choose multiclass or regression.")
    if task.is_classification and col.n_distinct < 2:
        raise IntakeError(f"“{target}” has a single value: there is nothing to learn.",
                          "Choose another target.")


def update(home, dataset_id: str, *, roles: dict[str, str | None] | None = None,
           target: str | None = None, task: Task | str | None = None) -> dict[str, Any]:
    """Change roles (a role of None removes it) and/or the target and task; rewrite the
    profile's target analysis and warnings; return the new meta.

    `target=""` gives the choice back to the guess."""
    from modelyard.engine.intake.ingest import load_profile, table_path
    from modelyard.engine.intake.profile import analyse_target, load_sample, modality_of
    from modelyard.engine.intake.target import Hints
    from modelyard.engine.intake.warnings import warnings_for
    from modelyard.storage import datasets as dataset_store

    meta = dataset_store.read_meta(home, dataset_id)
    profile = load_profile(home, dataset_id)
    merged = dict(meta.get("roles") or {})
    for column, role in (roles or {}).items():
        if role:
            merged[column] = str(role)
        else:
            merged.pop(column, None)
    chosen = meta.get("target_chosen", False)
    if target == "":
        explicit, chosen = None, False
    elif target is not None:
        explicit, chosen = target, True
    else:
        explicit = meta.get("target") if chosen else None
    if explicit is not None and explicit not in profile.column_names:
        raise IntakeError(f"There is no column “{explicit}” in this data set.",
                          did_you_mean(explicit, profile.column_names)
                          + "Choose one of its columns as the target.")
    check_roles(profile, merged, explicit)
    apply_roles(profile, merged)
    task_value = Task(task) if task else (Task(meta["task"]) if chosen and explicit
                                          and meta.get("task_chosen") else None)
    if explicit is not None and task_value is not None:
        check_task(profile, explicit, task_value)

    lf = pl.scan_parquet(table_path(home, dataset_id))
    sample = load_sample(lf, profile.n_rows, profile.n_cols)
    hints = Hints()
    folder = home.dataset_dir(dataset_id)
    if (folder / "test.parquet").exists():
        test_names = set(pl.read_parquet_schema(folder / "test.parquet"))
        hints.missing_from_test = [n for n in profile.column_names if n not in test_names]
    if profile.competition and profile.competition.get("target"):
        hints.submission_outputs = [profile.competition["target"]]
    previous = profile.target
    analyse_target(profile, lf, sample, explicit=explicit, task=task_value, hints=hints)
    if explicit is None and profile.images is not None and previous is not None and \
            profile.target is not None and previous.column == profile.target.column:
        profile.target.reason, profile.target.confidence = previous.reason, previous.confidence
    if profile.images is None:
        profile.modality = modality_of(profile)
    profile.warnings = warnings_for(profile)
    changes = {
        "roles": merged,
        "target": profile.target.column if profile.target else None,
        "task": profile.target.task.value if profile.target else None,
        "target_chosen": chosen and profile.target is not None,
        "task_chosen": bool(task_value) and chosen,
        "modality": profile.modality,
    }
    return dataset_store.update_meta(home, dataset_id, changes, dump(profile))
