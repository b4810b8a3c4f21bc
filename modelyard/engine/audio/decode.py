"""Reading recordings: any sample rate, mono or stereo, any length, in the containers
libsndfile decodes (.wav .flac .ogg, and .mp3 since libsndfile 1.1).

A recording that does not decode is a reason string, never an exception: intake and
prediction name it and go on with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from modelyard.engine.audio import require_audio

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}
SAMPLE_RATE = 16000  # what every recording is resampled to
# A recording longer than this is refused: one file must not fill the memory.
MAX_SECONDS = 600.0
MAX_BYTES = 256 * 2**20  # and larger than this is refused before it is read
SILENT_PEAK = 1e-3  # peak amplitude below which a recording counts as silent
CLIPPED_SHARE = 0.001  # share of samples at full scale above which it counts as clipped


def is_audio_name(path: Path | str) -> bool:
    return PurePosixPath(str(path)).suffix.lower() in AUDIO_SUFFIXES


@dataclass(frozen=True)
class ClipInfo:
    """What intake learns of one recording."""

    seconds: float
    sample_rate: int
    channels: int
    peak: float
    clipped: bool

    @property
    def silent(self) -> bool:
        return self.peak < SILENT_PEAK


def _read(path: Path) -> tuple[np.ndarray, int]:
    sf = require_audio()
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return data, int(rate)


def probe(path: Path) -> ClipInfo | str:
    """What a recording holds, or why it cannot be used."""
    sf = require_audio()
    size = Path(path).stat().st_size
    if size == 0:
        return "an empty file"
    if size > MAX_BYTES:
        return (f"{size / 2**20:,.0f} MB; recordings of at most {MAX_BYTES // 2**20} MB are "
                "used (cut it into clips)")
    try:
        info = sf.info(str(path))
        if info.frames > 0 and info.duration > MAX_SECONDS:
            return (f"{info.duration / 60:.0f} minutes long; recordings of at most "
                    f"{MAX_SECONDS / 60:.0f} minutes are used (cut it into clips)")
        data, rate = _read(path)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        # libsndfile's own words ("Format not recognised."), without the path it opened.
        why = getattr(exc, "error_string", None) or str(exc).replace(str(path), "")
        return f"not a readable recording ({why.strip().rstrip('.')[:80]})"
    if data.shape[0] == 0:
        return "an empty recording (no sound in it)"
    if not np.isfinite(data).all():
        return "a damaged recording (samples that are not numbers)"
    mono = np.abs(data).max(axis=1)
    return ClipInfo(seconds=data.shape[0] / rate, sample_rate=rate, channels=data.shape[1],
                    peak=float(mono.max()),
                    clipped=bool((mono >= 0.999).mean() > CLIPPED_SHARE))


def load(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The recording as mono float32 at `sample_rate` (channels averaged)."""
    data, rate = _read(path)
    mono = data.mean(axis=1)
    if rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def fit_length(wave: np.ndarray, n: int, offset: int | None = None) -> np.ndarray:
    """Exactly `n` samples: a longer clip is cut (around its middle, or from `offset`),
    a shorter one padded with silence on both sides."""
    if len(wave) >= n:
        start = (len(wave) - n) // 2 if offset is None else min(offset, len(wave) - n)
        return wave[start:start + n]
    left = (n - len(wave)) // 2
    return np.pad(wave, (left, n - len(wave) - left))
