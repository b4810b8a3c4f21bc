"""A Model bundle's SHA-256 manifest, and the check made before anything in it is loaded.

Policy and its trade-offs:

- **A bundle is code.** `pipeline.joblib` is a pickle: unpickling it runs whatever its
  author put in it, with every right of the person who loads it. (An image bundle's
  `weights.pt` is read with `torch.load(weights_only=True)`, which unpickles tensors only.)
- **Every file is listed, last.** `manifest.json` lists each file of the bundle (path,
  size, SHA-256). `bundle.seal` writes it after the bundle's last file, so a bundle with a
  manifest is complete. The winner's out-of-fold predictions (`oof.parquet`) that the
  worker keeps beside a run's model are data for diagnostics, rewritten when a run gets
  more time, and never exported: they are not part of the bundle.
- **Checked before loading.** A listed file that changed or is missing refuses the bundle,
  naming the file; so does an unlisted file that can carry code (a pickle, weights, Python,
  a native library, or a file the loader reads). Other unlisted files (a person's notes)
  are ignored: the loader never opens them.
- **A bundle without a manifest** was made before this check (or by something else). In
  this Modelyard's own run folders it loads: this install wrote it, into its private home,
  and refusing it would lock people out of their own models. Anywhere else (a folder or a
  zip given by path) it is refused unless the person says they trust it
  (`modelyard predict --trust-unsigned`, `trust_unsigned=True` in Python), or exports it
  again from its run, which writes a manifest.
- **What it is not: a signature.** Whoever can rewrite the pickle can rewrite the
  manifest. It catches a bundle changed after it was made (a swapped pickle, a damaged
  copy) and makes loading a bundle without one a deliberate act; it does not make a
  stranger's bundle safe. Load only bundles you trust.

Hashing reads every byte: about 1 s per GB here, paid once per load (pages cache the
loaded model).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from modelyard.engine.errors import BadInputError
from modelyard.schemas import BundleManifest, ManifestEntry
from modelyard.storage.files import read_json, write_json_atomic

MANIFEST_FILE = "manifest.json"
# Kept beside a run's model, not part of the bundle (see the policy above).
SIDE_FILES = frozenset({"oof.parquet"})
# What the loaders open, and the kinds of file that can carry code when opened.
LOADED_FILES = frozenset({"pipeline.joblib", "metadata.json", "weights.pt", "config.json"})
CODE_SUFFIXES = frozenset({
    ".joblib", ".pkl", ".pickle", ".dill", ".sav", ".pt", ".pth", ".ckpt", ".bin",
    ".npy", ".npz", ".h5", ".keras", ".py", ".pyc", ".pyz", ".so", ".pyd", ".dll",
    ".dylib",
})
_CHUNK = 1 << 20
NEXT_STEP = ("Export the model again from its run (`modelyard export`), or get the bundle "
             "again from someone you trust.")
UNSIGNED_STEP = ("If you trust where it came from, pass --trust-unsigned (in Python: "
                 "trust_unsigned=True); better, export it again from its run with "
                 "`modelyard export`, which writes a manifest.")


def loading_warning(verb: str) -> str:
    """What every command that loads bundles says in its help (`verb`: load, serve)."""
    return (f"Loading a bundle runs its code (pipeline.joblib is a Python pickle): {verb} "
            "only bundles you trust. A bundle is checked against its manifest.json before "
            "it is loaded, and refused if a file was changed")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bundle_files(folder: Path) -> dict[str, Path]:
    """Every file under `folder` by its bundle path, the manifest and side files left out."""
    found = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != MANIFEST_FILE and name not in SIDE_FILES:
            found[name] = path
    return found


def write_manifest(folder: Path) -> BundleManifest:
    """List every file of the bundle in `folder` with its size and SHA-256; call it last."""
    folder = Path(folder)
    entries = [ManifestEntry(path=name, size=path.stat().st_size, sha256=sha256_of(path))
               for name, path in _bundle_files(folder).items()]
    manifest = BundleManifest(created_at=time.time(), files=entries)
    write_json_atomic(folder / MANIFEST_FILE, manifest.model_dump(mode="json"))
    return manifest


def update_entry(folder: Path, name: str) -> None:
    """After a deliberate rewrite of one listed file (metadata.json), its new hash; a
    bundle without a manifest stays without one."""
    path = Path(folder) / MANIFEST_FILE
    if not path.exists():
        return
    manifest = read_manifest(Path(folder), str(folder))
    target = Path(folder) / name
    entry = ManifestEntry(path=name, size=target.stat().st_size, sha256=sha256_of(target))
    others = [e for e in manifest.files if e.path != name]
    manifest.files = sorted([*others, entry], key=lambda e: e.path)
    write_json_atomic(path, manifest.model_dump(mode="json"))


def has_manifest(folder: Path) -> bool:
    return (Path(folder) / MANIFEST_FILE).is_file()


def read_manifest(folder: Path, shown: str) -> BundleManifest:
    try:
        return BundleManifest.model_validate(read_json(Path(folder) / MANIFEST_FILE))
    except (ValueError, ValidationError, OSError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise BadInputError(f"The manifest of the model bundle {shown} cannot be read "
                            f"({reason[:200]}); it was not loaded.", NEXT_STEP) from None


def _can_carry_code(name: str) -> bool:
    path = PurePosixPath(name)
    return name in LOADED_FILES or path.suffix.lower() in CODE_SUFFIXES


def _unsafe(name: str) -> bool:
    path = PurePosixPath(name)
    return path.is_absolute() or ".." in path.parts or "\\" in name


def check_bundle(folder: Path, *, trust_unsigned: bool = False, shown: str | None = None
                 ) -> bool:
    """Check the bundle in `folder` against its manifest before anything is unpickled:
    True when it matches, False for a bundle without a manifest that `trust_unsigned`
    lets load; BadInputError (naming the file and the next step) otherwise."""
    folder = Path(folder)
    shown = shown or str(folder)
    if not has_manifest(folder):
        if trust_unsigned:
            return False
        raise BadInputError(
            f"The model bundle {shown} has no manifest.json, so nothing shows it is the "
            "bundle that was made: it was made before Modelyard checked bundles, or by "
            "something else. Loading a bundle runs its code, so it was not loaded.",
            UNSIGNED_STEP)
    manifest = read_manifest(folder, shown)
    listed = {e.path for e in manifest.files}
    for entry in manifest.files:
        if _unsafe(entry.path):
            raise BadInputError(f"The manifest of the model bundle {shown} names a file "
                                f"outside it ({entry.path}); it was not loaded.", NEXT_STEP)
        path = folder / entry.path
        if not path.is_file():
            raise BadInputError(f"The model bundle {shown} is missing {entry.path}, which "
                                "its manifest lists; it was not loaded.", NEXT_STEP)
        if path.stat().st_size != entry.size or sha256_of(path) != entry.sha256:
            raise BadInputError(
                f"The model bundle {shown} was changed after it was made: {entry.path} "
                "differs from its manifest. Loading a bundle runs its code, so it was not "
                "loaded.", NEXT_STEP)
    for name in _bundle_files(folder):
        if name not in listed and _can_carry_code(name):
            raise BadInputError(
                f"The model bundle {shown} holds {name}, which its manifest does not list; "
                "a file that can carry code is never loaded unlisted, so the bundle was "
                "not loaded.", NEXT_STEP)
    return True
