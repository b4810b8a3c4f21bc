"""Sound data sets: intake of class folders, zips and labels tables in every container,
the clips that are left out and why, the profile's findings, and the features."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

from modelyard.engine.audio import decode  # noqa: E402
from modelyard.engine.audio.features import N_MELS, clip_seconds, log_mel, mel_filters  # noqa: E402
from modelyard.engine.errors import IntakeError, PlanError  # noqa: E402
from modelyard.engine.intake.ingest import ingest as add  # noqa: E402
from modelyard.engine.intake.ingest import load_profile  # noqa: E402
from modelyard.engine.planning.problems import plan_problems  # noqa: E402
from modelyard.engine.planning.rules import rule_plan  # noqa: E402

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"),
           ".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", "MPEG_LAYER_III")}


def tone(path: Path, hz: float, seconds: float = 0.6, rate: int = 16000,
         stereo: bool = False, level: float = 0.4) -> Path:
    """A sine tone with a little noise, in the container its suffix names."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(abs(hash(path.name)) % 2**32)
    wave = (level * np.sin(2 * np.pi * hz * t) + 0.01 * rng.standard_normal(len(t)))
    data = np.stack([wave, wave], axis=1) if stereo else wave
    container, subtype = FORMATS[path.suffix]
    sf.write(path, data.astype(np.float32), rate, format=container, subtype=subtype)
    return path


def sound_folders(root: Path) -> Path:
    """Two classes (low and high tones) in all four containers, three sample rates,
    mono and stereo."""
    suffixes = list(FORMATS)
    rates = [8000, 16000, 44100]
    for label, hz in (("low", 300.0), ("high", 2500.0)):
        for i in range(4):
            tone(root / label / f"{label}_{i}{suffixes[i]}", hz * (1 + 0.05 * i),
                 rate=rates[i % 3], stereo=i % 2 == 1)
    return root


def test_folder_per_class_every_container(home, tmp_path):
    root = sound_folders(tmp_path / "tones")
    (root / "low" / "broken.wav").write_bytes(b"RIFF not really a wave file")
    (root / "high" / "empty.ogg").write_bytes(b"")
    (root / "high" / "notes.txt").write_text("not a recording")
    tone(root / "low" / "quiet.wav", 300, level=0.0)  # silent (only faint noise: 0.01 * N)
    loud = tone(root / "high" / "loud.flac", 2500, level=1.5)  # clipped at full scale
    (root / "low" / "copy.wav").write_bytes((root / "low" / "low_0.wav").read_bytes())

    meta = add(home, root)
    profile = load_profile(home, meta["id"])
    assert profile.modality == "audio" and meta["modality"] == "audio"
    audio = profile.audio
    assert dict(audio.class_counts) == {"low": 6, "high": 5}
    assert audio.n_skipped == 3
    assert any(s.startswith("low/broken.wav: not a readable recording") for s in audio.skipped)
    assert "high/empty.ogg: an empty file" in audio.skipped
    assert str(tmp_path) not in " ".join(audio.skipped)  # libsndfile's words, no full path
    # The manifest's bookkeeping columns (path, sha256, ...) are never offered as targets.
    assert {c.column for c in profile.target_candidates} <= {"label"}
    assert any(s.startswith("high/notes.txt: not a recording") for s in audio.skipped)
    assert dict(audio.sample_rates) == {8000: 5, 16000: 4, 44100: 2}
    assert dict(audio.channels) == {1: 7, 2: 4}
    assert audio.n_clipped == 1 and audio.clipped == ["audio/high/loud.flac"]
    assert loud.exists()
    assert audio.n_duplicates == 1
    assert sorted(audio.duplicates[0]) == ["audio/low/copy.wav", "audio/low/low_0.wav"]
    assert 0.55 < audio.seconds["median"] < 0.65
    codes = {w.code for w in profile.warnings}
    assert {"skipped_files", "clipped_clips", "duplicate_clips"} <= codes
    # Every usable recording was copied into the data set, mp3 included.
    folder = home.dataset_dir(meta["id"])
    assert (folder / "audio" / "high" / "high_3.mp3").exists()
    assert profile.target.column == "label"


def test_silent_clip_is_named(home, tmp_path):
    root = sound_folders(tmp_path / "tones")
    path = root / "low" / "hush.wav"
    sf.write(path, np.zeros(8000, dtype=np.float32), 16000)
    profile = load_profile(home, add(home, root)["id"])
    assert profile.audio.silent == ["audio/low/hush.wav"]
    assert any(w.code == "silent_clips" and "hush.wav" in w.message
               for w in profile.warnings)


def test_zip_and_labels_table(home, tmp_path):
    root = sound_folders(tmp_path / "tones")
    archive = tmp_path / "tones.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(root.rglob("*.*")):
            zf.write(f, f"tones/{f.relative_to(root).as_posix()}")
    meta = add(home, archive)
    assert load_profile(home, meta["id"]).audio.n_clips == 8

    flat = tmp_path / "flat"
    rows = ["file,kind"]
    for f in sorted(root.rglob("*.*")):
        dest = flat / "clips" / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
        rows.append(f"clips/{f.name},{f.parent.name}")
    rows.append("clips/missing.wav,low")
    (flat / "labels.csv").write_text("\n".join(rows) + "\n")
    profile = load_profile(home, add(home, flat)["id"])
    assert profile.modality == "audio"
    assert dict(profile.audio.class_counts) == {"high": 4, "low": 4}
    assert "“kind” column of labels.csv" in profile.target.reason
    assert profile.audio.skipped == ["clips/missing.wav: listed in labels.csv but not found"]


def test_only_undecodable_files_are_refused_by_name(home, tmp_path):
    root = tmp_path / "bad"
    (root / "a").mkdir(parents=True)
    (root / "a" / "one.wav").write_bytes(b"garbage")
    (root / "a" / "two.mp3").write_bytes(b"")
    with pytest.raises(IntakeError) as caught:
        add(home, root)
    assert "holds no recording Modelyard can open" in str(caught.value)
    assert "one.wav" in str(caught.value) or "two.mp3" in str(caught.value)
    assert list(home.datasets.iterdir()) == []  # nothing half-made is left behind


def test_huge_and_overlong_files_are_skipped_with_a_reason(home, tmp_path, monkeypatch):
    root = sound_folders(tmp_path / "tones")
    tone(root / "low" / "long.wav", 300, seconds=3.0)
    monkeypatch.setattr(decode, "MAX_SECONDS", 2.0)
    profile = load_profile(home, add(home, root)["id"])
    assert any(s.startswith("low/long.wav:") and "at most" in s
               for s in profile.audio.skipped)
    monkeypatch.setattr(decode, "MAX_BYTES", 20_000)
    profile = load_profile(home, add(home, root, name="again")["id"])
    big = [s for s in profile.audio.skipped if "MB are used" in s]
    assert big, profile.audio.skipped


def test_one_class_gets_a_plan_error(home, tmp_path):
    root = tmp_path / "one"
    for i in range(3):
        tone(root / "only" / f"c{i}.wav", 440 + 10 * i)
    meta = add(home, root)
    profile = load_profile(home, meta["id"])
    with pytest.raises(PlanError) as caught:
        rule_plan(profile, meta["id"])
    assert "same label" in str(caught.value)


def test_audio_plan_mixes_backbone_and_mfcc_baselines(home, tmp_path):
    meta = add(home, sound_folders(tmp_path / "tones"))
    profile = load_profile(home, meta["id"])
    plan = rule_plan(profile, meta["id"], budget_seconds=60)
    assert [c.family for c in plan.families] == ["resnet18", "linear", "lightgbm"]
    assert plan_problems(plan, profile) == []
    assert "MFCC" in plan.rationale



def test_the_sound_plan_reads_in_recordings_and_the_rules_make_it(home, tmp_path):
    from modelyard.engine.planning.explain import as_text, card
    from modelyard.engine.planning.propose import propose

    meta = add(home, sound_folders(tmp_path / "tones"))
    profile = load_profile(home, meta["id"])
    # Ollama's address is a closed port: the sound rules plan without trying it.
    made = propose(profile, meta["id"], planner="auto", host="http://127.0.0.1:9")
    assert made.planner == "rules" and made.fallback_reason is None
    assert "Sound plans come from the sound rules" in made.provenance["planner_note"]
    with pytest.raises(PlanError, match="not sound data sets") as caught:
        propose(profile, meta["id"], planner="ollama", host="http://127.0.0.1:9")
    assert "auto or rules planner" in caught.value.hint
    items = {i.label: i for i in card(made.plan, None, "recording")}
    assert items["What to predict"].why.startswith("Each recording's class")
    assert "share of recordings predicted right" in items["How models are scored"].value
    assert "that share of the recordings" in items["How scores are checked"].value
    assert items["Models"].value.count("on MFCC statistics") == 2
    assert "on spectrograms" in items["Models"].value
    text = as_text(made.plan, None, "recording")
    # The spectrogram is read "as an image" (the plan's reasons say so); the data are not.
    for wrong in ("Each image", "the images", "Image size", "Networks:", "pixels"):
        assert wrong not in text, wrong


def test_features_place_a_tone_in_its_mel_band():
    rate = 16000
    t = np.arange(rate) / rate
    low = log_mel((0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32))
    high = log_mel((0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32))
    assert low.shape == (N_MELS, 51)
    assert low.mean(axis=1).argmax() < high.mean(axis=1).argmax()
    # Filters cover the spectrum without gaps between the first and the last band.
    assert (mel_filters().sum(axis=0)[2:-10] > 0).all()
    assert clip_seconds(np.array([0.7, 0.9, 1.1])) == 1.0
    assert clip_seconds(np.array([30.0])) == 10.0


def test_fit_length_pads_and_cuts():
    wave = np.arange(10, dtype=np.float32)
    assert decode.fit_length(wave, 4).tolist() == [3, 4, 5, 6]
    padded = decode.fit_length(wave, 14)
    assert len(padded) == 14 and padded[:2].tolist() == [0, 0] and padded[2] == 0
