"""Predicting images as a person hands them over (engine/vision/predict.py): a zip, image
files, a folder, or several at once; names, order, what is left out, unsafe zips."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from modelyard.engine.errors import ModelyardError
from modelyard.engine.training.bundle import seal
from modelyard.engine.vision.predict import (
    ImagePredictor,
    images_under,
    predict_images,
    predict_uploads,
)


def png(colour=(200, 20, 20), size=(12, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> ImagePredictor:
    """An untrained two-class bundle: predictions are arbitrary, their layout is not."""
    import timm
    import torch

    folder = tmp_path_factory.mktemp("bundle")
    net = timm.create_model("resnet18", pretrained=False, num_classes=2)
    torch.save(net.state_dict(), folder / "weights.pt")
    (folder / "config.json").write_text(json.dumps(
        {"backbone": "resnet18", "num_classes": 2, "image_size": 32}))
    (folder / "metadata.json").write_text(json.dumps(
        {"format": 1, "kind": "image", "classes": ["cat", "dog"], "target": "animal"}))
    seal(folder)  # as every writer of a bundle does last: the manifest
    return ImagePredictor(folder)


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def test_a_zip_is_stepped_into_and_its_junk_left_out(model, tmp_path):
    upload = make_zip({"batch/b/2.png": png(), "batch/a/1.jpg.png": png(),
                       "batch/a/10.png": png(), "batch/readme.txt": b"hello",
                       "__MACOSX/batch/._2.png": b"junk", "batch/.DS_Store": b"junk"})
    seen = []
    made = predict_uploads(model, [("batch.zip", upload)], tmp_path / "work",
                           on_progress=lambda f, m: seen.append(f))
    assert made.frame["path"].tolist() == ["a/1.jpg.png", "a/10.png", "b/2.png"]
    assert list(made.frame.columns) == ["path", "animal", "proba_cat", "proba_dog"]
    assert made.skipped == ["readme.txt: not an image file"]
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert list((tmp_path / "work").iterdir()) == []  # nothing left behind


def test_several_uploads_keep_loose_names_and_prefix_zips(model, tmp_path):
    made = predict_uploads(model, [
        ("../../escape.png", png()), ("photo.png", png()), ("photo.png", png()),
        ("more.zip", make_zip({"x.png": png()})), ("broken.png", b"nope"),
        ("table.csv", b"a,b\n1,2\n")], tmp_path)
    assert made.frame["path"].tolist() == ["escape.png", "more/x.png", "photo (2).png",
                                           "photo.png"]
    assert made.skipped == ["broken.png: not a readable image",
                            "table.csv: not an image, a zip or a folder"]


def test_an_unsafe_zip_is_refused(model, tmp_path):
    with pytest.raises(ModelyardError, match="climbs out"):
        predict_uploads(model, [("evil.zip", make_zip({"../evil.png": png()}))], tmp_path)
    assert not (tmp_path.parent / "evil.png").exists()


def test_nothing_readable_says_why(model, tmp_path):
    with pytest.raises(ModelyardError, match=r"No readable images.*notes.txt"):
        predict_uploads(model, [("images.zip", make_zip({"notes.txt": b"hi"}))], tmp_path)
    with pytest.raises(ModelyardError, match="no such file"):
        predict_images(model, [tmp_path / "nowhere"], tmp_path)


def test_a_folder_is_read_in_place(model, tmp_path):
    folder = tmp_path / "shots"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.png").write_bytes(png())
    (folder / "a.png").write_bytes(png((0, 0, 255), (40, 30)))
    (folder / ".hidden.png").write_bytes(png())
    assert images_under(folder).names == ["a.png", "sub/b.png"]
    made = predict_images(model, [folder], tmp_path / "work")
    assert made.frame["path"].tolist() == ["a.png", "sub/b.png"]
    assert made.frame[["proba_cat", "proba_dog"]].sum(axis=1).round(5).eq(1).all()
    assert model.predict_folder(folder)["path"].tolist() == ["a.png", "sub/b.png"]
    assert Path(folder / "a.png").exists()  # read, not moved
