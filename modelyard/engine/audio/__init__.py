"""Audio classification: recordings become log-mel spectrograms for the image backbones
(`engine/vision`), or MFCC summary statistics for the table families.

soundfile (decoding) and soxr (resampling) are imported only inside the functions that
need them (the `audio` extra); without them, audio features say how to install it. The
spectrograms are numpy (engine/audio/features.py says why not librosa).
"""

from __future__ import annotations

from modelyard.engine.errors import BadInputError

INSTALL_HINT = "Install the audio extra: pip install 'modelyard[audio]' (soundfile + soxr)."


def require_audio():
    """soundfile (with soxr beside it), or a plain message saying how to get them."""
    try:
        import soundfile
        import soxr  # noqa: F401  (resampling; checked here so the message names it)
    except ImportError as exc:
        raise BadInputError("Sound recordings need soundfile and soxr, which are not "
                            "installed.", INSTALL_HINT) from exc
    return soundfile
