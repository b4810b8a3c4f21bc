"""A data set's size in the words of its kind: an image set counts images, a table rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def size_words(meta: Mapping[str, Any], *, columns: bool = False) -> str:
    """“400 images” or “1,200 rows” (“1,200 rows × 8 columns” with `columns`), from a data
    set's meta or catalog row."""
    n = int(meta.get("n_rows") or 0)
    if meta.get("modality") == "image":
        return f"{n:,} image{'' if n == 1 else 's'}"
    if meta.get("modality") == "audio":
        return f"{n:,} recording{'' if n == 1 else 's'}"
    rows = f"{n:,} row{'' if n == 1 else 's'}"
    return f"{rows} × {meta.get('n_cols') or 0} columns" if columns else rows
