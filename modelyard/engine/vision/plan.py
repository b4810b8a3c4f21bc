"""The rule plan for an image data set: which backbones, which metric, and why."""

from __future__ import annotations

from modelyard.engine.errors import PlanError
from modelyard.engine.system import gpus
from modelyard.engine.training import families
from modelyard.schemas import FamilyChoice, Metric, Plan, Profile, Task, Validation

# The backbones tried on every machine, and those added when a GPU makes them affordable.
ALWAYS = ("resnet18",)
WITH_GPU = ("efficientnet_b0", "convnext_nano")


def image_plan(profile: Profile, dataset_id: str, *, budget_seconds: int = 300,
               seed: int = 0) -> Plan:
    if profile.target is None or "label" not in profile.column_names:
        raise PlanError("These images have no labels to learn from.",
                        "Sort them into one folder per class, or add a labels table.")
    label = profile.column("label")
    if label.n_distinct < 2:
        raise PlanError("All images carry the same label: there is nothing to tell apart.",
                        "Add images of at least one more class.")
    task = Task.binary if label.n_distinct == 2 else Task.multiclass
    on_gpu = bool(gpus())
    chosen = ALWAYS + (WITH_GPU if on_gpu else ())
    choices = [FamilyChoice(family=name, max_trials=20, reason=families.get(name).why)
               for name in chosen]
    where = "the GPU" if on_gpu else "the CPU (small images and a small network)"
    rationale = (
        f"The images are sorted into {label.n_distinct} classes, so this is an image "
        "classification. Networks learn from 80% of the images and are compared on the other "
        "20% by accuracy. They train on "
        f"{where}, with pretrained weights when a local copy exists (nothing is downloaded); "
        f"the search tries learning rates, batch sizes and augmentation for "
        f"{budget_seconds} seconds and keeps the best network.")
    return Plan(dataset_id=dataset_id, target="label", task=task, metric=Metric.accuracy,
                validation=Validation(kind="holdout", holdout_fraction=0.2),
                families=choices, budget_seconds=budget_seconds, seed=seed,
                rationale=rationale)
