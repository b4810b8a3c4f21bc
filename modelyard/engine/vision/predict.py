"""Predicting with an image Model bundle: weights + config, no catalog, no Streamlit.

Images come as a folder, a zip, single image files, or several of these at once (what a
person uploads); every prediction names its image by its path relative to what was
given, and rows are sorted by that path."""

from __future__ import annotations

import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from modelyard.engine.errors import BadInputError
from modelyard.engine.intake.images import check_image, files_under, is_image_name
from modelyard.engine.vision import require_torch
from modelyard.engine.vision.data import ImageSet
from modelyard.storage.files import read_json

Progress = Callable[[float, str], None]
BATCH = 64

def _quiet(fraction: float, message: str) -> None:
    pass



def load_network(model_dir: Path, config: dict):
    """torch and the bundle's timm network named by `config`, its weights loaded and set
    to evaluate (an image or a sound bundle, checked against its manifest beforehand)."""
    torch, timm = require_torch()
    net = timm.create_model(config["backbone"], pretrained=False,
                            num_classes=config["num_classes"])
    # A state dict is tensors only: weights_only unpickles nothing else, whatever the
    # file holds and whichever torch version reads it.
    net.load_state_dict(torch.load(model_dir / "weights.pt", map_location="cpu",
                                   weights_only=True))
    net.eval()
    return torch, net

class ImagePredictor:
    """An image Model bundle, checked against its manifest before its weights are read
    (`trust_unsigned`: let a bundle without one load; engine/training/manifest.py)."""

    def __init__(self, model_dir: Path, *, trust_unsigned: bool = False,
                 shown: str | None = None):
        from modelyard.engine.training.bundle import read_metadata
        from modelyard.engine.training.manifest import check_bundle

        model_dir = Path(model_dir)
        check_bundle(model_dir, trust_unsigned=trust_unsigned, shown=shown)
        self.meta = read_metadata(model_dir).as_dict()
        self.config = read_json(model_dir / "config.json")
        self.torch, self.net = load_network(model_dir, self.config)

    @property
    def classes(self) -> list:
        return self.meta["classes"]

    def predict_paths(self, paths: list[Path], names: list[str],
                      on_progress: Progress | None = None) -> pd.DataFrame:
        """One row per image: `path` (as given in `names`), the label, `proba_<class>`."""
        torch = self.torch
        dataset = ImageSet(list(paths), None, self.config["image_size"])
        loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH)
        chunks, done, began = [], 0, time.monotonic()
        with torch.no_grad():
            for x, _ in loader:
                chunks.append(torch.softmax(self.net(x).float(), dim=1).numpy())
                done += len(x)
                if on_progress:
                    on_progress(done / max(1, len(paths)),
                                f"predicted {done:,} of {len(paths):,} images "
                                f"({time.monotonic() - began:.1f} s)")
        proba = np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)))
        out = pd.DataFrame({"path": names})
        out[self.meta.get("target", "label")] = [self.classes[i] for i in proba.argmax(axis=1)]
        for i, cls in enumerate(self.classes):
            out[f"proba_{cls}"] = proba[:, i]
        return out

    def predict_folder(self, folder: Path, on_progress: Progress | None = None
                       ) -> pd.DataFrame:
        """Every readable image under `folder`, rows sorted by their path relative to it."""
        found = images_under(Path(folder))
        if not found.paths:
            raise BadInputError(f"{folder} holds no images.",
                                "Use .png, .jpg or another common image format.")
        return self.predict_paths(found.paths, found.names, on_progress)


@dataclass
class FoundImages:
    """Images to predict, each with the name its prediction carries, and what was left."""

    paths: list[Path] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "name: why"

    def add(self, other: FoundImages, prefix: str = "") -> None:
        self.paths += other.paths
        self.names += [prefix + n for n in other.names]
        self.skipped += [prefix + s for s in other.skipped]

    def sorted(self) -> FoundImages:
        """Sorted by name; a name given twice gets ` (2)`, ` (3)` … before its suffix."""
        order = sorted(range(len(self.names)), key=lambda i: self.names[i])
        seen: dict[str, int] = {}
        names = []
        for i in order:
            name = self.names[i]
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                stem, dot, suffix = name.rpartition(".")
                name = f"{stem} ({seen[name]}).{suffix}" if dot else f"{name} ({seen[name]})"
            names.append(name)
        pairs = sorted(zip(names, (self.paths[i] for i in order), strict=True))
        return FoundImages([p for _, p in pairs], [n for n, _ in pairs], self.skipped)


def _inputs(predictor) -> tuple:
    """(is_input, check, word) of the files a predictor takes: images, unless the
    predictor names its own (the sound predictor takes recordings)."""
    return (getattr(predictor, "is_input", is_image_name),
            getattr(predictor, "check_input", check_image),
            getattr(predictor, "word", "image"))


def images_under(folder: Path, predictor=None) -> FoundImages:
    """The readable images (or the predictor's kind of file) under `folder` (hidden files
    and archivers' junk left out), named by their path relative to it, sorted; the other
    files with why."""
    is_input, check, word = _inputs(predictor)
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInputError(f"{folder} is not a folder of {word}s.",
                            f"Point to a folder that holds the {word}s to predict.")
    found = FoundImages()
    for path in files_under(folder):
        name = path.relative_to(folder).as_posix()
        why = f"not {'an' if word[0] in 'aeiou' else 'a'} {word} file" \
            if not is_input(path) else check(path)
        if isinstance(why, str):
            found.skipped.append(f"{name}: {why}")
        else:
            found.paths.append(path)
            found.names.append(name)
    return found.sorted()


def _is_zip(source: Path, predictor=None) -> bool:
    is_input = _inputs(predictor)[0]
    return source.is_file() and not is_input(source) and zipfile.is_zipfile(source)


def _is_bundle(source: Path, predictor=None) -> bool:
    """A folder or a zip: several images under one name."""
    return source.is_dir() or _is_zip(source, predictor)


def _one_source(source: Path, unpack_to: Path, progress: Progress,
                predictor=None) -> FoundImages:
    from modelyard.engine.intake.archives import extract_zip

    is_input, check, word = _inputs(predictor)
    if source.is_dir():
        return images_under(source, predictor)
    if _is_zip(source, predictor):
        return images_under(extract_zip(source, unpack_to, progress), predictor)
    if is_input(source):
        why = check(source)
        return FoundImages(skipped=[f"{source.name}: {why}"]) if isinstance(why, str) \
            else FoundImages([source], [source.name])
    return FoundImages(skipped=[f"{source.name}: not {'an' if word[0] in 'aeiou' else 'a'} "
                                f"{word}, a zip or a folder"])


@dataclass
class ImagePredictions:
    """Predictions for the images given, and what could not be predicted."""

    frame: pd.DataFrame
    skipped: list[str]
    seconds: float

    @property
    def count(self) -> int:
        return len(self.frame)


def predict_images(predictor: ImagePredictor, sources: Sequence[Path], workdir: Path,
                   on_progress: Progress | None = None) -> ImagePredictions:
    """Predict every image in `sources` (folders, zips, image files). Zips are unpacked
    safely into a temporary folder under `workdir`, removed afterwards. With one source,
    names are relative to it; with several, a folder's or zip's images are prefixed by
    its name, loose files keep theirs."""
    progress = on_progress or _quiet
    sources = [Path(s).expanduser() for s in sources]
    missing = [s for s in sources if not s.exists()]
    if missing:
        raise BadInputError(f"{missing[0]}: no such file or folder.", "Check the path.")
    if not sources:
        raise BadInputError("No images were given.", "Choose a zip, images or a folder.")
    began = time.monotonic()
    Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="images-") as tmp:
        found = FoundImages()
        for i, source in enumerate(sources):
            part = _one_source(source, Path(tmp) / f"unpacked-{i}",
                               lambda f, m: progress(0.1 * f, m), predictor)
            label = source.name if source.is_dir() else source.stem
            prefix = f"{label}/" if len(sources) > 1 and _is_bundle(source, predictor) else ""
            found.add(part, prefix)
        found = found.sorted()
        word = _inputs(predictor)[2]
        if not found.paths:
            why = f" ({'; '.join(found.skipped[:3])})" if found.skipped else ""
            raise BadInputError(f"No readable {word}s were found{why}.",
                                "Use .png, .jpg or another common image format, in a zip, "
                                "as files, or in a folder." if word == "image" else
                                "Use .wav, .flac, .ogg or .mp3 files, in a zip, as files, "
                                "or in a folder.")
        progress(0.1, f"predicting {len(found.paths):,} {word}s…")
        frame = predictor.predict_paths(found.paths, found.names,
                                        lambda f, m: progress(0.1 + 0.9 * f, m))
    return ImagePredictions(frame, found.skipped, time.monotonic() - began)


def predict_uploads(predictor: ImagePredictor, uploads: Iterable[tuple[str, bytes]],
                    workdir: Path, on_progress: Progress | None = None) -> ImagePredictions:
    """`predict_images` for files received as (name, content): zips and image files, as a
    browser uploads them. They are written under `workdir` only while predicting."""
    Path(workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir, prefix="upload-") as tmp:
        paths = []
        for i, (name, content) in enumerate(uploads):
            # Only the last part of the name: a browser's name must not choose the folder.
            safe = Path(str(name).replace("\\", "/")).name or f"upload-{i}"
            path = Path(tmp) / str(i) / safe
            path.parent.mkdir()
            path.write_bytes(content)
            paths.append(path)
        return predict_images(predictor, paths, workdir, on_progress)


def image_mistakes(oof: pd.DataFrame | None, classes: list, dataset_dir: Path
                   ) -> tuple[pd.DataFrame, int]:
    """The validation images the model got wrong, the most confident mistakes first
    (`file`, `actual`, `predicted`, `confidence`), and how many images were validated.

    `oof` is the run's validation predictions: `row` numbers the labelled images of the
    data set's manifest in file order, as the trainer read them."""
    import polars as pl

    columns = ["file", "actual", "predicted", "confidence"]
    if oof is None or oof.empty:
        return pd.DataFrame(columns=columns), 0
    manifest = Path(dataset_dir) / "manifest.parquet"
    if not manifest.exists():
        raise BadInputError(f"The images of this run's data set are gone ({manifest}).",
                            "Its data set was deleted; the model still predicts.")
    paths = (pl.read_parquet(manifest, columns=["path", "label"])
             .filter(pl.col("label").is_not_null())["path"].to_list())
    proba = oof[[f"proba_{c}" for c in classes]].to_numpy()
    names = np.asarray([str(c) for c in classes], dtype=object)
    predicted = names[proba.argmax(axis=1)]
    actual = oof["y"].astype(str).to_numpy()
    wrong = np.flatnonzero(predicted != actual)
    found = pd.DataFrame({
        "file": [Path(dataset_dir) / paths[int(oof["row"].iloc[i])] for i in wrong],
        "actual": actual[wrong], "predicted": predicted[wrong],
        "confidence": proba.max(axis=1)[wrong]})
    return (found.sort_values("confidence", ascending=False, kind="stable")
            .reset_index(drop=True)[columns], len(oof))
