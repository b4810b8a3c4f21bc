"""Whether a mixed table's plan lists the late-fusion network, and in what words.

With a GPU it is listed by default (`fusion.include_by_default`); on a CPU a person adds
it in the plan editor (or a plan file), and the plan's words say it is slow there. The
choice takes whether CUDA is there as an argument, so it is tested without a GPU."""

from __future__ import annotations

from modelyard.engine.mixed.fusion import FAMILY, include_by_default
from modelyard.schemas import FamilyChoice, Profile

MAX_FAMILIES = 8  # as many as a Plan holds
TRIALS = 4  # a fused network trains for minutes: few trials fill its share of the time


def fusion_choice(profile: Profile, cuda: bool) -> FamilyChoice:
    """The late-fusion network as a plan entry, its reason worded for this machine."""
    from modelyard.engine.training import families

    family = families.get(FAMILY)
    pros, cons = family.pros_cons(profile)
    reason = ("A GPU is here: an image network and a table network trained together "
              "can learn more from the images than fixed image features." if cuda else
              "Slow without a GPU: on this machine it trains for minutes and rarely beats "
              "the image features fed to the table models in the same time.")
    return FamilyChoice(family=FAMILY, max_trials=TRIALS, reason=reason, pros=pros,
                        cons=cons)


def with_fusion(chosen: list[FamilyChoice], profile: Profile,
                cuda: bool) -> list[FamilyChoice]:
    """`chosen` plus the late-fusion network when it belongs in a default plan."""
    if profile.modality != "mixed" or not include_by_default(cuda):
        return chosen
    return [*chosen[:MAX_FAMILIES - 1], fusion_choice(profile, cuda)]
