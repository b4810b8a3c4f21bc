"""Spoken-word recordings for tests and benchmarks, made by a real speech synthesiser.

`espeak-ng` speaks each word in many voices (an accent + a voice variant), speeds and
pitches; `sox` pads the clip, resamples it and mixes in noise. The voices are split in
two: the training folder hears some, the test folder only the others, so a model must
recognise words said by voices it never heard. Sets are cached by their parameters.

Get the tools with `make audio-tools` (apt-get install espeak-ng sox).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
# Accents shipped with espeak-ng itself (the mbrola voices need extra packages).
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc",
           "en-gb-x-gbclan", "en-gb-x-gbcwmd")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "croak", "whisper", "Alex", "Andy", "john",
            "max", "linda", "steph", "david")
NOISES = ("whitenoise", "pinknoise", "brownnoise")


def tools_missing() -> str | None:
    """Why spoken sets cannot be made here, or None when espeak-ng and sox are there."""
    missing = [t for t in ("espeak-ng", "sox") if shutil.which(t) is None]
    return (f"{' and '.join(missing)} not installed (make audio-tools)" if missing
            else None)


@dataclass(frozen=True)
class SpokenSpec:
    words: tuple[str, ...] = DIGITS
    train_voices: int = 48  # voices heard in training
    test_voices: int = 12  # voices only in the test folder
    takes: int = 1  # recordings per word and voice (other speed, pitch, noise)
    test_takes: int = 1
    sample_rate: int = 16000
    noise: float = 0.02  # noise amplitude (sox vol), drawn up to this
    seed: int = 0
    formats: tuple[str, ...] = ("wav",)  # cycled through: wav, flac, ogg, mp3
    stereo_share: float = 0.0  # this share of clips is written in stereo

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()
                              ).hexdigest()[:12]


@dataclass
class SpokenSet:
    train: Path  # one subfolder per word
    test: Path  # the held-out voices' clips, <word>_<n>.<ext>, no folders
    answers: dict[str, str] = field(default_factory=dict)  # test file name -> word
    train_voices: list[str] = field(default_factory=list)
    test_voices: list[str] = field(default_factory=list)


def voices(n: int, seed: int) -> list[str]:
    """`n` distinct accent+variant voices in a seeded order."""
    every = [f"{a}+{v}" for a in ACCENTS for v in VARIANTS]
    random.Random(seed).shuffle(every)
    return every[:n]


def speak(word: str, voice: str, out: Path, *, speed: int, pitch: int, noise: str,
          level: float, sample_rate: int, pad: tuple[float, float]) -> None:
    """One recording: espeak-ng says `word`, sox pads, resamples and adds noise."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                        "-w", str(raw), word], check=True, capture_output=True)
        padded = Path(tmp) / "padded.wav"
        subprocess.run(["sox", str(raw), "-r", str(sample_rate), str(padded),
                        "pad", f"{pad[0]:.3f}", f"{pad[1]:.3f}"], check=True,
                       capture_output=True)
        # Noise as long as the clip (synth takes the length of its input), mixed in.
        subprocess.run(["sox", "-m", str(padded),
                        f"|sox {padded} -p synth {noise} vol {level:.4f}",
                        str(out)], check=True, capture_output=True)


def _convert(wav: Path, fmt: str, stereo: bool) -> Path:
    """The clip in another container (soundfile writes flac, ogg and mp3) or channels."""
    import numpy as np
    import soundfile as sf

    if fmt == "wav" and not stereo:
        return wav
    data, rate = sf.read(wav, dtype="float32")
    if stereo:
        data = np.stack([data, 0.8 * data], axis=1)
    out = wav.with_suffix(f".{fmt}")
    kinds = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"),
             "ogg": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III")}
    container, subtype = kinds[fmt]
    sf.write(out, data, rate, format=container, subtype=subtype)
    if out != wav:
        wav.unlink()
    return out


def _record(word: str, voice: str, out: Path, rng: random.Random, spec: SpokenSpec,
            index: int) -> Path:
    speak(word, voice, out, speed=rng.randint(120, 210), pitch=rng.randint(15, 85),
          noise=rng.choice(NOISES), level=rng.uniform(0.0, spec.noise),
          sample_rate=spec.sample_rate, pad=(rng.uniform(0.0, 0.3), rng.uniform(0.0, 0.3)))
    fmt = spec.formats[index % len(spec.formats)]
    return _convert(out, fmt, rng.random() < spec.stereo_share)


def make_spoken(root: Path, spec: SpokenSpec = SpokenSpec()) -> SpokenSet:
    """Build (or reuse, when `root` already holds it) the set `spec` describes."""
    root = Path(root) / f"spoken-{spec.key()}"
    done = root / "answers.json"
    heard_all = voices(spec.train_voices + spec.test_voices, spec.seed)
    heard, unheard = heard_all[:spec.train_voices], heard_all[spec.train_voices:]
    if done.exists():
        answers = json.loads(done.read_text())
        return SpokenSet(root / "train", root / "test", answers, heard, unheard)
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(spec.seed)
    count = 0
    for word in spec.words:
        folder = root / "train" / word
        folder.mkdir(parents=True)
        for v, voice in enumerate(heard):
            for take in range(spec.takes):
                _record(word, voice, folder / f"{word}_{v:02d}_{take}.wav", rng, spec, count)
                count += 1
    (root / "test").mkdir(parents=True)
    answers: dict[str, str] = {}
    n = 0
    for voice in unheard:
        for _ in range(spec.test_takes):
            for word in spec.words:
                path = _record(word, voice, root / "test" / f"clip_{n:04d}.wav", rng, spec,
                               count)
                answers[path.name] = word
                n += 1
                count += 1
    done.write_text(json.dumps(answers, indent=1))
    return SpokenSet(root / "train", root / "test", answers, heard, unheard)
