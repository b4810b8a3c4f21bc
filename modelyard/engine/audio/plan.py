"""The rule plan for a sound data set: a backbone on spectrograms, and table families on
MFCC statistics as the fast baseline it must beat."""

from __future__ import annotations

from modelyard.engine.errors import PlanError
from modelyard.engine.system import gpus
from modelyard.schemas import FamilyChoice, Metric, Plan, Profile, Task, Validation

# resnet18 is quick enough on a CPU; efficientnet_b0 is the better network given a GPU.
CPU_BACKBONE, GPU_BACKBONE = "resnet18", "efficientnet_b0"
BASELINES = ("linear", "lightgbm")  # on MFCC summary statistics


def audio_plan(profile: Profile, dataset_id: str, *, budget_seconds: int = 240,
               seed: int = 0) -> Plan:
    if profile.target is None or "label" not in profile.column_names:
        raise PlanError("These recordings have no labels to learn from.",
                        "Sort them into one folder per class, or add a labels table.")
    label = profile.column("label")
    if label.n_distinct < 2:
        raise PlanError("All recordings carry the same label: there is nothing to tell "
                        "apart.", "Add recordings of at least one more class.")
    task = Task.binary if label.n_distinct == 2 else Task.multiclass
    on_gpu = bool(gpus())
    backbone = GPU_BACKBONE if on_gpu else CPU_BACKBONE
    choices = [FamilyChoice(family=backbone, max_trials=20,
                            reason="A network reading the recordings' log-mel spectrograms "
                                   "as images, with time and frequency masking.")]
    choices += [FamilyChoice(family=name, max_trials=1,
                             reason="The fast baseline: summary statistics of the MFCCs "
                                    "(the sound's spectral shape) in a table model.")
                for name in BASELINES]
    where = "the GPU" if on_gpu else "the CPU"
    rationale = (
        f"The recordings are sorted into {label.n_distinct} classes, so this is a sound "
        "classification. Models learn from 80% of the recordings and are compared on the "
        "other 20% by accuracy. First a fast baseline: table models on MFCC summary "
        f"statistics. Then {backbone} on {where} reads each recording's log-mel spectrogram "
        "as an image (pretrained weights only from a local copy; nothing is downloaded); "
        f"the search tries learning rates, batch sizes and masking for {budget_seconds} "
        "seconds and keeps the best model.")
    return Plan(dataset_id=dataset_id, target="label", task=task, metric=Metric.accuracy,
                validation=Validation(kind="holdout", holdout_fraction=0.2),
                families=choices, budget_seconds=budget_seconds, seed=seed,
                rationale=rationale)
