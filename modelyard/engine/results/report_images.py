"""The report's words for an image Run, where a table's would mislead: images and classes
instead of rows and columns, the image size and starting weights instead of input columns.
Plain text (or parts of it with `Strong`); report.py puts it into its blocks and escapes it."""

from __future__ import annotations

from modelyard.engine.planning.explain import validation_words
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.escape import Strong
from modelyard.schemas import Profile


def the_images(profile: Profile) -> str:
    """“48 images in 3 classes, typically 20×20 pixels (from … to …).”"""
    images = profile.images
    if images is None:
        return f"{profile.n_rows:,} images."
    w, h = images.width, images.height
    text = (f"{images.n_images:,} images in {images.n_classes} classes, typically "
            f"{w['median']:.0f}×{h['median']:.0f} pixels")
    if (w["min"], h["min"]) != (w["max"], h["max"]):
        text += (f" (from {w['min']:.0f}×{h['min']:.0f} to {w['max']:.0f}×{h['max']:.0f})")
    text += "."
    if images.n_skipped:
        text += (f" {images.n_skipped:,} file(s) were left out: they are not images Modelyard "
                 "can open.")
    if images.n_test_images:
        text += f" {images.n_test_images:,} unlabelled test images came with them."
    return text


def intended_use(result: RunResult, things: str = "images",
                 alike: str = "the same kind of subject, taken the same way") -> list:
    """What the model is for: sorting new `things` like the training ones (`alike`)."""
    classes = result.classes
    named = ", ".join(map(str, classes[:10])) + (", …" if len(classes) > 10 else "")
    return [Strong("Intended use:"),
            f" sorting new {things} into the {len(classes)} classes it learned ({named}), "
            f"for {things} like the training ones: {alike}. Given anything else, it still "
            "answers with one of these classes. It supports a person's decision; it "
            "should not make decisions about people on its own."]


def limits(result: RunResult, profile: Profile | None) -> list[str]:
    """What the scores and the network hold for, and what they do not."""
    meta, oof = result.meta, result.oof
    said = [f"The scores are estimated by {validation_words(result.plan)}. They hold for "
            "images like the training images; other cameras, lighting, framing or subjects "
            "can be predicted worse."]
    n_valid = len(oof) if oof is not None else 0
    n_all = (profile.images.n_images if profile is not None and profile.images is not None
             else None)
    if n_valid and n_all:
        said.append(f"It learned from {n_all - n_valid:,} images and was checked on the "
                    f"other {n_valid:,}" + ("; with so few, the score is a rough estimate."
                                            if n_valid < 100 else "."))
    if meta.get("image_size"):
        side = meta["image_size"]
        said.append(f"Every image is resized to {side}×{side} pixels before the network sees "
                     "it: detail finer than that is lost.")
    weights = meta.get("weights") or ""
    if "scratch" in weights:
        said.append("The network was trained from scratch (no pretrained weights were found "
                    "on this machine); with few images, pretrained weights usually do much "
                    "better.")
    elif weights:
        said.append(f"The network started from {weights}.")
    return said


def inputs(result: RunResult) -> list:
    side = result.meta.get("image_size")
    size = f", resized to {side}×{side} pixels" if side else ""
    return [Strong("Inputs:"), f" one image file of any size (converted to RGB{size})."]
