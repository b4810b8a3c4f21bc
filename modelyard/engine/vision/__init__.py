"""Image classification with timm backbones: same Plan, Run and leaderboard as tables.

torch and timm are imported only inside the functions that need them (the `vision`
extra); without them, image features say how to install it.
"""

from __future__ import annotations

from modelyard.engine.errors import BadInputError

INSTALL_HINT = "Install the vision extra: pip install 'modelyard[vision]' (torch + timm)."


def require_torch():
    """torch and timm, or a plain message saying how to get them."""
    try:
        import timm
        import torch
    except ImportError as exc:
        raise BadInputError("Image models need PyTorch and timm, which are not installed.",
                            INSTALL_HINT) from exc
    return torch, timm
