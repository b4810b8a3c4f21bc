"""Dataset folders (`dataset.json`, `profile.json`, Parquet) and their catalog rows."""

from __future__ import annotations

from typing import Any

from storage.catalog import Catalog, loads
from storage.files import read_json, write_json_atomic
from storage.paths import Home


def write_meta(home: Home, meta: dict[str, Any], profile: dict[str, Any]) -> None:
    """Write a dataset's profile, then its meta: a folder with meta is complete."""
    folder = home.dataset_dir(meta["id"])
    write_json_atomic(folder / "profile.json", profile)
    write_json_atomic(folder / "dataset.json", meta)


def read_meta(home: Home, dataset_id: str) -> dict[str, Any]:
    return read_json(home.dataset_dir(dataset_id) / "dataset.json")


def read_profile(home: Home, dataset_id: str) -> dict[str, Any]:
    return read_json(home.dataset_dir(dataset_id) / "profile.json")


def list_datasets(catalog: Catalog) -> list[dict[str, Any]]:
    return catalog.query(
        "SELECT id, name, created_at, n_rows, n_cols, target, task, modality, has_test, source "
        "FROM datasets ORDER BY created_at DESC"
    )


def find_by_hash(catalog: Catalog, content_hash: str) -> dict[str, Any] | None:
    found = catalog.query(
        "SELECT id, name FROM datasets WHERE content_hash = ? ORDER BY created_at LIMIT 1",
        [content_hash],
    )
    return found[0] if found else None


def resolve(catalog: Catalog, ref: str) -> list[dict[str, Any]]:
    """Datasets whose id is `ref`, else whose name is `ref`."""
    found = catalog.query("SELECT id, name FROM datasets WHERE id = ?", [ref])
    return found or catalog.query(
        "SELECT id, name FROM datasets WHERE name = ? ORDER BY created_at", [ref]
    )


def get_profile(catalog: Catalog, dataset_id: str) -> dict[str, Any] | None:
    found = catalog.query("SELECT profile FROM datasets WHERE id = ?", [dataset_id])
    return loads(found[0]["profile"]) if found else None
