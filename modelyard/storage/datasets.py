"""Dataset folders (`dataset.json`, `profile.json`, Parquet) and their catalog rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.storage.catalog import Catalog, loads
from modelyard.storage.files import read_json, write_json_atomic
from modelyard.storage.paths import Home


def write_meta(home: Home, meta: dict[str, Any], profile: dict[str, Any],
               folder: Path | None = None) -> None:
    """Write a dataset's profile, then its meta: a folder with meta is complete.

    `folder` is where to write when it is not the dataset's final folder yet (intake
    builds it under a temporary name and renames it into place)."""
    folder = folder or home.dataset_dir(meta["id"])
    write_json_atomic(folder / "profile.json", profile)
    write_json_atomic(folder / "dataset.json", meta)


def read_meta(home: Home, dataset_id: str) -> dict[str, Any]:
    return read_json(home.dataset_dir(dataset_id) / "dataset.json")


def read_profile(home: Home, dataset_id: str) -> dict[str, Any]:
    return read_json(home.dataset_dir(dataset_id) / "profile.json")


def update_meta(home: Home, dataset_id: str, changes: dict[str, Any],
                profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change fields of a dataset's meta (roles, target, ...) and, with it, its profile.
    The catalog picks the change up at the next sync (dataset.json's stamp moved)."""
    meta = {**read_meta(home, dataset_id), **changes}
    if profile is not None:
        write_meta(home, meta, profile)
    else:
        write_json_atomic(home.dataset_dir(dataset_id) / "dataset.json", meta)
    return meta


def list_datasets(catalog: Catalog) -> list[dict[str, Any]]:
    return catalog.query(
        "SELECT id, name, created_at, n_rows, n_cols, target, task, modality, has_test, source "
        "FROM datasets ORDER BY created_at DESC"
    )


def find_all_by_hash(catalog: Catalog, content_hash: str) -> list[dict[str, Any]]:
    """Every data set of this content key, oldest first."""
    return catalog.query(
        "SELECT id, name FROM datasets WHERE content_hash = ? ORDER BY created_at",
        [content_hash],
    )


def resolve(catalog: Catalog, ref: str) -> list[dict[str, Any]]:
    """Datasets whose id is `ref`, else whose name is `ref`."""
    found = catalog.query("SELECT id, name FROM datasets WHERE id = ?", [ref])
    return found or catalog.query(
        "SELECT id, name FROM datasets WHERE name = ? ORDER BY created_at", [ref]
    )


def get_profile(catalog: Catalog, dataset_id: str) -> dict[str, Any] | None:
    found = catalog.query("SELECT profile FROM datasets WHERE id = ?", [dataset_id])
    return loads(found[0]["profile"]) if found else None
