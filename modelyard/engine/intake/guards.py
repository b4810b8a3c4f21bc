"""What intake refuses before it reads: special files, and archives that unpack too big.

Policy and its trade-offs:

- **Only regular files and folders are read.** `open()` on a FIFO waits for a writer for
  ever (deaf to Ctrl-C), a device never ends, a socket cannot be opened. `os.stat` tells
  the kind without opening, so it comes first: for the path given, and for every visible
  entry of a folder being taken in (hidden ones, such as a `.git` folder's sockets, are
  never read).
- **Archives unpack to a cap.** Zip members, `.gz` streams and the parts of an `.xlsx`
  unpack to at most `$MODELYARD_MAX_UNPACKED_GB` (default 20 GiB; `engine/settings.py`) in
  all: that bound is what keeps the disk from filling. Earlier still, a member bigger than
  8 MiB may be at most `$MODELYARD_MAX_UNPACK_RATIO` (default 500) times its compressed
  size. Measured with deflate: ordinary tables compress 3-30x, sparse ones (one-hot
  columns, empty cells) up to ~250x at level 9, zeros ~1030x; 500 refuses the cheap bombs
  (2 GiB from 2 MB) before their first byte is written without refusing sparse data. A
  zip's declared sizes are checked before unpacking; the bytes written are counted as well
  (a gzip stream declares no size), so unpacking stops as soon as it passes the cap.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path

from modelyard.engine import settings
from modelyard.engine.errors import IntakeError

CAP_ENV = settings.BY_NAME["max_unpacked_gb"].env
RATIO_ENV = settings.BY_NAME["max_unpack_ratio"].env
RATIO_FROM = 8 << 20  # smaller members may compress as well as they like


# -- special files --------------------------------------------------------------------------
def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def require_regular(path: Path) -> os.stat_result:
    """The stat of `path` if it is a regular file or a folder; IntakeError otherwise,
    decided without opening it."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise IntakeError(f"{path}: no such file.", "Check the path and try again.") from exc
    except PermissionError as exc:
        raise IntakeError(f"{path}: this process may not read the file.",
                          "Check its permissions.") from exc
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise IntakeError(f"{path} is {_kind(st.st_mode)}, not a file Modelyard can read.",
                          "Point to a table file, a folder or a zip.")
    return st


def require_plain_folder(root: Path) -> None:
    """IntakeError when a visible entry under `root` is a FIFO, socket or device."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__MACOSX"]
        for name in files:
            if name.startswith("."):
                continue
            entry = Path(folder) / name
            try:
                mode = os.stat(entry).st_mode  # follows a link to what would be read
            except OSError:
                continue  # a dangling link is never read
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise IntakeError(f"{entry.relative_to(root)} in {root.name} is "
                                  f"{_kind(mode)}, not a file Modelyard can read.",
                                  "Remove it from the folder and retry.")


# -- unpacking caps -------------------------------------------------------------------------
def unpack_cap() -> int:
    """The most bytes intake unpacks from one archive or stream ($MODELYARD_MAX_UNPACKED_GB)."""
    return int(settings.resolve().max_unpacked_gb * 2**30)


def max_ratio() -> float:
    """How many times its compressed size a big member may unpack to."""
    return settings.resolve().max_unpack_ratio


def _size(n: float) -> str:
    if n >= 2**30:
        return f"{n / 2**30:,.1f} GiB"
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.0f} KiB"


def _over_cap(shown: str, cap: int, size: float | None = None) -> IntakeError:
    what = f"unpacks to {'more than ' if size is None else ''}{_size(size or cap)}"
    return IntakeError(f"{shown} {what}, past the {_size(cap)} Modelyard unpacks at most "
                       "(a file that unpacks far bigger than it is may be a zip bomb).",
                       f"If the data is genuine, set {CAP_ENV} higher (now "
                       f"{round(cap / 2**30, 6):g}) and retry, or unpack it yourself and point to "
                       "the folder.")


def _over_ratio(shown: str, unpacked: float, packed: float, ratio: float) -> IntakeError:
    return IntakeError(f"{shown} unpacks to {unpacked / max(1.0, packed):,.0f} times its "
                       f"compressed size ({_size(unpacked)} from {_size(packed)}), "
                       f"more than the {ratio:g}:1 Modelyard accepts: it looks like a zip "
                       "bomb.", f"If the data is genuine, set {RATIO_ENV} higher (now "
                       f"{ratio:g}) and retry, or unpack it yourself and point to the "
                       "folder.")


def check_sizes(shown: str, members: Iterable[zipfile.ZipInfo]) -> int:
    """The declared unpacked size of `members`; IntakeError past the cap or the ratio."""
    cap, ratio = unpack_cap(), max_ratio()
    total = 0
    for info in members:
        if info.file_size > RATIO_FROM and info.file_size > ratio * max(1, info.compress_size):
            raise _over_ratio(f"{shown} ({info.filename})", info.file_size,
                              info.compress_size, ratio)
        total += info.file_size
    if total > cap:
        raise _over_cap(shown, cap, total)
    return total


class Meter:
    """Counts bytes as they are unpacked; IntakeError as soon as they pass the cap, or
    (with `packed`, the compressed bytes read so far) the ratio."""

    def __init__(self, shown: str):
        self.shown, self.cap, self.ratio = shown, unpack_cap(), max_ratio()
        self.unpacked = 0

    def add(self, n: int, packed: int | None = None) -> None:
        self.unpacked += n
        if self.unpacked > self.cap:
            raise _over_cap(self.shown, self.cap)
        if packed is not None and self.unpacked > RATIO_FROM \
                and self.unpacked > self.ratio * max(1, packed):
            raise _over_ratio(self.shown, self.unpacked, packed, self.ratio)
