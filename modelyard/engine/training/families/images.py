"""Image classifiers: timm backbones fine-tuned by the image search (`engine/vision`).

They are families like the tabular ones (a Plan names them, the registry describes them),
but the vision trainer fits them epoch by epoch, so `build` returns the network rather
than a scikit-learn estimator. torch and timm are imported only inside `build`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from modelyard.engine.training.families.base import Choice, FitContext, Float, ModelFamily, Space

# What the image search tunes for a network fine-tuned on images (the image families and
# the late-fusion network of mixed tables), and where it starts.
NETWORK_DEFAULTS = {"learning_rate": 1e-3, "batch_size": 32, "augment": 0.3}


def network_space() -> Space:
    return {"learning_rate": Float(1e-4, 5e-3, log=True),
            "batch_size": Choice((16, 32, 64)), "augment": Float(0.0, 1.0)}


class ImageBackbone(ModelFamily):
    modality = "image"
    preprocessing = "none"  # the vision trainer resizes and normalises the images itself
    takes_limits = False  # the image search tries its own fixed ranges
    interpretability = "low: a network of millions of weights"
    cons = ("needs many images, or pretrained weights",
            "far slower to train than table models, above all on a CPU")
    params_m: ClassVar[float]  # millions of parameters, for the plan card

    def search_space(self, ctx: FitContext) -> Space:
        return network_space()

    def default_params(self, ctx: FitContext) -> dict[str, Any]:
        return dict(NETWORK_DEFAULTS)

    def build(self, params: dict[str, Any], ctx: FitContext) -> Any:
        from modelyard.engine.vision.backbones import create

        return create(self.name, ctx.n_classes)[0]


class ResNet18(ImageBackbone):
    name = "resnet18"
    title = "ResNet-18"
    params_m = 11.7
    summary = "a classic, fast residual network"
    speed = "fast"
    accuracy = "good, better with pretrained weights"
    memory = "moderate"
    why = "A classic, fast residual network; a safe first choice."
    pros = ("fast per image, even on a CPU", "a safe first choice")


class EfficientNetB0(ImageBackbone):
    name = "efficientnet_b0"
    title = "EfficientNet-B0"
    params_m = 5.3
    summary = "small and accurate; slower per image on a CPU"
    speed = "moderate; slower per image on a CPU"
    accuracy = "high for its size"
    memory = "small"
    why = "Small and accurate; worth it with a GPU."
    pros = ("accurate for its small size",)


class ConvNeXtNano(ImageBackbone):
    name = "convnext_nano"
    title = "ConvNeXt nano"
    params_m = 15.6
    summary = "a modern convolutional network; strongest with pretrained weights"
    speed = "moderate"
    accuracy = "the strongest of the three with pretrained weights"
    memory = "moderate"
    why = "A modern network; strongest with pretrained weights."
    pros = ("a modern design, strongest with pretrained weights",)
