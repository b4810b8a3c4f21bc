"""Unpack a zip archive safely: no member may land outside the folder it is unpacked in,
and none may unpack past the caps of `guards` (checked before, counted while unpacking).
A refused archive leaves nothing behind."""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from modelyard.engine.errors import IntakeError
from modelyard.engine.intake import guards
from modelyard.engine.intake.formats import Progress, no_progress

# Files archivers add that are never data.
_JUNK = re.compile(r"(^|/)(__MACOSX/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)")


def check_members(path: Path, zf: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The members worth unpacking; IntakeError for any that would escape the folder."""
    keep = []
    for info in zf.infolist():
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
            raise IntakeError(f"{path.name} holds a file with an absolute path ({name}); "
                              "Modelyard will not unpack it.",
                              "Re-create the archive with relative paths only.")
        if ".." in PurePosixPath(name).parts:
            raise IntakeError(f"{path.name} holds a path that climbs out of the archive "
                              f"({name}); Modelyard will not unpack it.",
                              "Re-create the archive from the folder itself.")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise IntakeError(f"{path.name} holds a symbolic link ({name}).",
                              "Re-create the archive without links.")
        if info.is_dir() or _JUNK.search(name):
            continue
        keep.append(info)
    return keep


def extract_zip(path: Path, dest: Path, progress: Progress = no_progress) -> Path:
    """Unpack `path` into `dest`; return the folder holding the content (a lone top
    folder, as archivers make, is stepped into)."""
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise IntakeError(f"{path.name} is not a valid zip archive.",
                          "Create the archive again and retry.") from exc
    with zf:
        members = check_members(path, zf)
        if not members:
            raise IntakeError(f"{path.name} is an empty archive.",
                              "Zip the folder with your data and retry.")
        total = guards.check_sizes(path.name, members) or 1
        free = shutil.disk_usage(_existing(dest)).free
        if total > free:
            raise IntakeError(f"{path.name} unpacks to {total / 2**30:.1f} GiB; only "
                              f"{free / 2**30:.1f} GiB is free.", "Free some disk space.")
        created = not dest.exists()
        try:
            _unpack(path, zf, members, dest, total, progress)
        except BaseException:
            if created:
                shutil.rmtree(dest, ignore_errors=True)
            raise
    return step_into(dest)


def _existing(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def _unpack(path: Path, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], dest: Path,
            total: int, progress: Progress) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    meter = guards.Meter(path.name)
    root = dest.resolve()
    for info in members:
        target = (dest / info.filename.replace("\\", "/")).resolve()
        if not target.is_relative_to(root):  # belt and braces after check_members
            raise IntakeError(f"{path.name} holds an unsafe path ({info.filename}).",
                              "Re-create the archive from the folder itself.")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with zf.open(info) as src, open(target, "wb") as out:
                while block := src.read(1 << 20):
                    meter.add(len(block))  # declared sizes may lie: count what comes
                    out.write(block)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise IntakeError(f"{path.name}: {info.filename} could not be unpacked "
                              f"({exc}).", "Create the archive again and retry.") from exc
        progress(meter.unpacked / total, f"Unpacking {path.name}")


def step_into(folder: Path) -> Path:
    """A folder whose only entry is one folder stands for that folder."""
    while True:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            return folder
