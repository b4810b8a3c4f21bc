"""What the models see of a recording: a log-mel spectrogram (an image for the timm
backbones) or MFCC summary statistics (a row for the table families).

Every clip is brought to one length first (the data's typical duration, `clip_seconds`),
so a batch is one array; the spectrogram's loudness is relative to the clip's own peak,
so a quiet and a loud speaker look alike.

Written in numpy and scipy (the mel filters are Slaney's, as librosa's default): librosa
0.11 gave the same arrays but compiled itself with numba for ~9 s in every new worker
and took ~100 ms a clip here, against ~1 ms for this.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from modelyard.engine.audio.decode import SAMPLE_RATE

N_FFT = 512  # 32 ms windows at 16 kHz
HOP = 320  # 20 ms steps: 50 frames a second (a small image keeps a CPU epoch short)
N_MELS = 32
N_MFCC = 20
TOP_DB = 80.0


def clip_seconds(durations: np.ndarray) -> float:
    """The length every clip is brought to: the median duration rounded up to a quarter
    second, at least half a second, at most ten."""
    typical = float(np.median(durations)) if len(durations) else 1.0
    return float(min(max(np.ceil(typical * 4) / 4, 0.5), 10.0))


def _hz_to_mel(hz):
    # Slaney's scale: linear below 1 kHz, logarithmic above.
    hz = np.asarray(hz, dtype=np.float64)
    lin = hz / (200.0 / 3)
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0)
                    / (np.log(6.4) / 27.0), lin)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)),
                    mel * (200.0 / 3))


@cache
def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT,
                n_mels: int = N_MELS) -> np.ndarray:
    """Triangular, area-normalised mel filters: n_mels × (n_fft // 2 + 1)."""
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2), n_mels + 2))
    lower = (freqs[None, :] - edges[:-2, None]) / np.diff(edges)[:-1, None]
    upper = (edges[2:, None] - freqs[None, :]) / np.diff(edges)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def _power(wave: np.ndarray) -> np.ndarray:
    """Power spectrogram, centred frames with reflected edges: (n_fft//2+1) × frames."""
    padded = np.pad(wave.astype(np.float32), N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    window = np.hanning(N_FFT + 1)[:-1].astype(np.float32)  # periodic Hann
    return (np.abs(np.fft.rfft(frames * window, axis=1)) ** 2).T


def _db(mel_power: np.ndarray) -> np.ndarray:
    db = 10.0 * np.log10(np.maximum(mel_power, 1e-10))
    return np.maximum(db - db.max(), -TOP_DB)


def _mel_power(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    return mel_filters(sample_rate) @ _power(wave)


def log_mel(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
            mel_power: np.ndarray | None = None) -> np.ndarray:
    """N_MELS × frames, in decibels below the clip's peak, scaled to about [-2, 2]."""
    power = _mel_power(wave, sample_rate) if mel_power is None else mel_power
    return ((_db(power) + TOP_DB / 2) / (TOP_DB / 4)).astype(np.float32)


def mfcc_stats(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, *,
               mel_power: np.ndarray | None = None) -> np.ndarray:
    """One row per clip: mean and standard deviation over time of N_MFCC MFCCs and of
    their changes from frame to frame (4 × N_MFCC numbers)."""
    from scipy.fft import dct

    power = _mel_power(wave, sample_rate) if mel_power is None else mel_power
    db = 10.0 * np.log10(np.maximum(power, 1e-10))
    mfcc = dct(db, type=2, axis=0, norm="ortho")[:N_MFCC]
    delta = np.gradient(mfcc, axis=1)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), delta.mean(axis=1),
                           delta.std(axis=1)]).astype(np.float32)


def both(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """(log-mel spectrogram, MFCC statistics) of one clip, its spectrum computed once."""
    power = _mel_power(wave, sample_rate)
    return log_mel(wave, mel_power=power), mfcc_stats(wave, mel_power=power)


def mfcc_names() -> list[str]:
    return [f"{part}_{i}" for part in ("mfcc_mean", "mfcc_std", "delta_mean", "delta_std")
            for i in range(N_MFCC)]


@dataclass(frozen=True)
class Look:
    """One recording as the Data page draws it: its wave (thinned to at most `points`
    values) and its log-mel spectrogram in decibels below its peak."""

    times: np.ndarray
    wave: np.ndarray
    frame_times: np.ndarray
    mel: np.ndarray


def look(path: Path, points: int = 2000) -> Look:
    from modelyard.engine.audio.decode import load

    wave = load(Path(path))
    step = max(1, len(wave) // points)
    mel = _db(_mel_power(wave, SAMPLE_RATE))
    return Look(times=np.arange(0, len(wave), step) / SAMPLE_RATE, wave=wave[::step],
                frame_times=np.arange(mel.shape[1]) * HOP / SAMPLE_RATE, mel=mel)
