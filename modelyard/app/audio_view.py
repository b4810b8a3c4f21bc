"""What the pages show of a sound data set or a sound model: examples per class to
listen to, each with its waveform and log-mel spectrogram, and the misclassified clips.
Display only; the numbers come from the engine through the Workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from modelyard.app.literal import code, literal
from modelyard.app.ui import show_error
from modelyard.engine.results.escape import plotly_text
from modelyard.schemas import AudioSummary

MIME = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg"}


def count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _play(path: Path) -> None:
    st.audio(str(path), format=MIME.get(path.suffix.lower(), "audio/wav"))


def _picture(look) -> go.Figure:
    """Waveform over the log-mel spectrogram of one clip."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.35, 0.65],
                        vertical_spacing=0.04)
    fig.add_scatter(x=look.times, y=look.wave, mode="lines", line={"width": 1},
                    showlegend=False, row=1, col=1)
    fig.add_heatmap(x=look.frame_times, z=look.mel, colorscale="Magma", showscale=False,
                    row=2, col=1)
    fig.update_yaxes(title_text="sound", row=1, col=1)
    fig.update_yaxes(title_text="mel band", row=2, col=1)
    fig.update_xaxes(title_text="seconds", row=2, col=1)
    fig.update_layout(height=260, margin={"l": 40, "r": 10, "t": 10, "b": 30})
    return fig


def summary_caption(audio: AudioSummary) -> str:
    rates = ", ".join(f"{r / 1000:g} kHz" for r, _ in audio.sample_rates)
    stereo = sum(n for c, n in audio.channels if c > 1)
    return (f"{count(audio.n_clips, 'recording')} in "
            f"{count(audio.n_classes, 'class', 'classes')}; "
            f"{audio.seconds.get('min', 0):.2f}–{audio.seconds.get('max', 0):.2f} s long "
            f"(typically {audio.seconds.get('median', 0):.2f} s); sampled at {rates}"
            + (f"; {stereo:,} in stereo (mixed to mono)" if stereo else "")
            + (f"; {count(audio.n_test_clips, 'test recording')}" if audio.n_test_clips
               else "") + ".")


def sound_tab(ws, dataset_id: str, audio: AudioSummary) -> None:
    """Class counts, then a few recordings of each class to play and look at."""
    st.caption(summary_caption(audio))
    if audio.class_counts:
        labels, counts = zip(*audio.class_counts[:40], strict=True)
        fig = go.Figure()
        fig.add_bar(x=[plotly_text(v) for v in labels], y=list(counts))
        fig.update_layout(title="Recordings per class", xaxis_type="category", height=280)
        st.plotly_chart(fig, key="data_chart_sounds")
    examples = ws.sound_examples(dataset_id)
    st.markdown("**Listen to each class.** Above: the sound wave; below: its log-mel "
                "spectrogram, the picture the network learns from (time across, pitch up, "
                "brighter is louder).")
    for label, paths in examples.items():
        st.markdown(f"**{literal(label)}**")
        columns = st.columns(len(paths)) if paths else []
        for i, (column, path) in enumerate(zip(columns, paths, strict=True)):
            with column:
                st.caption(literal(path.name))
                _play(path)
                try:
                    st.plotly_chart(_picture(ws.sound_look(path)),
                                    key=f"data_sound_{label}_{i}")
                except Exception as exc:
                    show_error(exc, f"Could not draw {path.name}")


def sound_mistakes(shown: pd.DataFrame) -> None:
    """The misclassified clips, each playable, with actual → predicted (confidence)."""
    for row in shown.itertuples(index=False):
        left, right = st.columns([2, 3])
        left.markdown(f"{code(Path(row.file).name)}: **{literal(row.actual)}** → "
                      f"**{literal(row.predicted)}** "
                      f"({row.confidence:.0%})")
        with right:
            _play(Path(row.file))
