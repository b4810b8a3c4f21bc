"""Small, crash-safe file helpers, and the words for a full disk.

Policy: every JSON or text file Modelyard writes goes through `replacing` (write a
temporary file beside it, fsync, rename over it), so a reader, a crash or a full disk
leaves either the old content or the new, never a torn or 0-byte file; a write that fails
removes its temporary file and re-raises.

A full disk (ENOSPC, or EDQUOT for a quota) is told apart from other OSErrors by
`is_disk_full`, which follows the exception chain (libraries wrap it), and described by
`disk_full_reason`: how much is free on which mount, and the next step.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_WORDS = ("no space left on device", "disk quota exceeded")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write `data` as JSON so that `path` holds either the old or the new content."""
    write_text_atomic(path, json.dumps(data, indent=2, default=str, ensure_ascii=False))


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` so that `path` holds either the old or the new content."""
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` to write; on leaving the block it is fsync'd and
    renamed over `path`. On an error it is removed and `path` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # The data must be on disk before the name points at it: a crash after the
        # rename must not leave an empty file under the real name.
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it was raised from) says the disk or quota is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        # pyarrow, DuckDB, joblib and others re-raise with the words but not the errno.
        if any(w in str(exc).lower() for w in _DISK_FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path`."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


def free_mb(path: Path) -> float:
    """Megabytes free (for this user) on the file system holding `path`."""
    try:
        return shutil.disk_usage(mount_point(path)).free / 2**20
    except OSError:
        return 0.0


def disk_full_reason(path: Path, next_step: str = "free space and use Add time to continue",
                     *, nearly: bool = False) -> str:
    """"The disk is full: N MB free on <mount>; <next step>." for the disk holding `path`."""
    full = "nearly full" if nearly else "full"
    return (f"The disk is {full}: {free_mb(path):.0f} MB free on {mount_point(path)}; "
            f"{next_step}.")


class SpaceReserve:
    """A file of `size` bytes kept to be given back when the disk fills, so that the
    reason can still be written (a status, a journal line, run.json).

    The bytes are random, not zeros: a compressing file system would store zeros in
    nothing and free nothing when the file goes.
    """

    def __init__(self, path: Path, size: int = 1 << 20):
        self.path = Path(path)
        self.size = size

    def take(self) -> bool:
        """Claim the space now; False when the disk is already too full for it."""
        try:
            with open(self.path, "wb") as fh:
                fh.write(os.urandom(self.size))
                fh.flush()
                os.fsync(fh.fileno())
            return True
        except OSError:
            self.path.unlink(missing_ok=True)
            return False

    def release(self) -> None:
        """Give the space back (idempotent)."""
        self.path.unlink(missing_ok=True)


def set_aside(path: Path, label: str = "corrupt") -> Path:
    """Rename `path` to `<name>.<label>-<time>` beside it, keeping it for a person to
    look at; returns the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
    os.replace(path, target)
    return target
