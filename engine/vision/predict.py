"""Predicting with an image Model bundle: weights + config, no catalog, no Streamlit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import BadInputError
from engine.vision import require_torch
from engine.vision.data import ImageSet
from storage.files import read_json

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImagePredictor:
    def __init__(self, model_dir: Path):
        torch, timm = require_torch()
        self.torch = torch
        self.meta = read_json(model_dir / "metadata.json")
        self.config = read_json(model_dir / "config.json")
        self.net = timm.create_model(self.config["backbone"], pretrained=False,
                                     num_classes=self.config["num_classes"])
        self.net.load_state_dict(torch.load(model_dir / "weights.pt", map_location="cpu"))
        self.net.eval()

    @property
    def classes(self) -> list:
        return self.meta["classes"]

    def predict_paths(self, paths: list[Path], names: list[str]) -> pd.DataFrame:
        """One row per image: `path` (as given in `names`), the label, `proba_<class>`."""
        torch = self.torch
        dataset = ImageSet(list(paths), None, self.config["image_size"])
        loader = torch.utils.data.DataLoader(dataset, batch_size=64)
        chunks = []
        with torch.no_grad():
            for x, _ in loader:
                chunks.append(torch.softmax(self.net(x).float(), dim=1).numpy())
        proba = np.concatenate(chunks) if chunks else np.zeros((0, len(self.classes)))
        out = pd.DataFrame({"path": names})
        out[self.meta.get("target", "label")] = [self.classes[i] for i in proba.argmax(axis=1)]
        for i, cls in enumerate(self.classes):
            out[f"proba_{cls}"] = proba[:, i]
        return out

    def predict_folder(self, folder: Path) -> pd.DataFrame:
        """Every image under `folder`, rows sorted by their path relative to it."""
        folder = Path(folder)
        if not folder.is_dir():
            raise BadInputError(f"{folder} is not a folder of images.",
                                "Point to a folder that holds the images to predict.")
        paths = sorted((p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES),
                       key=lambda p: p.relative_to(folder).as_posix())
        if not paths:
            raise BadInputError(f"{folder} holds no images.",
                                "Use .png, .jpg or another common image format.")
        return self.predict_paths(paths, [p.relative_to(folder).as_posix() for p in paths])
