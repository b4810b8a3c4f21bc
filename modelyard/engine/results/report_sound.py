"""The report's words for a sound Run, where an image's would mislead: a sound model
trains image networks on spectrograms, but a person brought recordings, so the report
speaks of recordings, their lengths and voices, not of pixels and cameras. Plain text
(or parts of it with `Strong`), like report_images.py."""

from __future__ import annotations

from modelyard.engine.planning.explain import validation_words
from modelyard.engine.results import report_images
from modelyard.engine.results.artifacts import RunResult
from modelyard.engine.results.escape import Strong
from modelyard.schemas import Profile


def the_recordings(profile: Profile) -> str:
    """“24 recordings in 3 classes, 0.70 to 1.83 s long (typically 1.10 s).”"""
    audio = profile.audio
    if audio is None:
        return f"{profile.n_rows:,} recordings."
    s = audio.seconds
    text = f"{audio.n_clips:,} recordings in {audio.n_classes} classes"
    if s:
        text += (f", {s.get('min', 0):.2f} to {s.get('max', 0):.2f} s long (typically "
                 f"{s.get('median', 0):.2f} s)")
    text += "."
    if audio.n_skipped:
        text += (f" {audio.n_skipped:,} file(s) were left out: they are not recordings "
                 "Modelyard can open.")
    if audio.n_test_clips:
        text += f" {audio.n_test_clips:,} unlabelled test recordings came with them."
    return text


def intended_use(result: RunResult) -> list:
    return report_images.intended_use(
        result, "recordings", "the same kind of sound, recorded the same way")


def limits(result: RunResult, profile: Profile | None) -> list[str]:
    """What the scores hold for, and what they do not."""
    oof = result.oof
    said = [f"The scores are estimated by {validation_words(result.plan, 'recording')}. "
            "They hold for recordings like the training ones; other microphones, voices, "
            "rooms or background noise can be predicted worse."]
    n_valid = len(oof) if oof is not None else 0
    n_all = (profile.audio.n_clips if profile is not None and profile.audio is not None
             else None)
    if n_valid and n_all:
        said.append(f"It learned from {n_all - n_valid:,} recordings and was checked on the "
                    f"other {n_valid:,}" + ("; with so few, the score is a rough estimate."
                                            if n_valid < 100 else "."))
    return said


def inputs(result: RunResult) -> list:
    return [Strong("Inputs:"), " one recording (.wav, .flac, .ogg or .mp3; any sample rate, "
            "mono or stereo), turned into a log-mel spectrogram or MFCC statistics as in "
            "training."]
