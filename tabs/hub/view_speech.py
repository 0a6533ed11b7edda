"""The speech row's answer in the page's language: the spectrogram the model reads, the language
probabilities, each written token's probability, and the words (transcript, prompt tokens, the call line)."""
from __future__ import annotations

import html

import numpy as np

from core import charts
from tabs.hub import compute, view
from tabs.hub.speech import SAMPLE_RATE, SpeechResult
from tabs.hub.text_speech import TEXT

HOP = 160  # samples between spectrogram frames (10 ms at 16 kHz)
POOL = 3  # frames averaged per column drawn: 1,000 columns for 30 s keep the figure light (about 100 kB)


def _shown(piece: str) -> str:
    """A token inside a Markdown code span: shown as it is (the renderer escapes it), backticks swapped."""
    return piece.replace("`", "ˋ")


def mel_figure(result: SpeechResult, lang: str):
    """The log-mel spectrogram as Whisper reads it: 80 bands x 30 s, the recording then the padding."""
    import plotly.graph_objects as go

    mel = result.mel
    columns = mel.shape[1] // POOL
    pooled = mel[:, :columns * POOL].reshape(mel.shape[0], columns, POOL).mean(axis=2)
    low, high = float(pooled.min()), float(pooled.max())
    # One byte per cell (the figure travels as base64): the colours need no more.
    scaled = np.round(255 * (pooled - low) / max(high - low, 1e-6)).astype(np.uint8)
    seconds = (np.arange(columns) * POOL + POOL / 2) * HOP / SAMPLE_RATE
    fig = go.Figure(go.Heatmap(z=scaled, x=seconds, colorscale="Magma", showscale=False, hoverinfo="skip"))
    end = result.audio_frames * HOP / SAMPLE_RATE
    fig.add_vline(x=end, line=dict(color="#16a34a", width=2, dash="dash"))
    fig.add_annotation(x=end, y=mel.shape[0] - 1, text=TEXT.say(lang, "padding"), showarrow=False,
                       xanchor="left", yanchor="top", font=dict(color="#ffffff", size=13), bgcolor="#16a34a")
    fig.update_layout(title=TEXT.say(lang, "fig_mel"), height=300, template="none", font=dict(size=14),
                      xaxis=dict(title=TEXT.say(lang, "axis_time"), range=[0, mel.shape[1] * HOP / SAMPLE_RATE]),
                      yaxis=dict(title=TEXT.say(lang, "axis_mel")), margin=dict(l=60, r=10, t=50, b=50))
    return fig


def language_figure(result: SpeechResult, lang: str):
    return charts.top_k_figure(result.languages, TEXT.say(lang, "fig_language", k=len(result.languages)))


def tokens_figure(result: SpeechResult, lang: str):
    import plotly.graph_objects as go

    labels = [f"{i + 1}. {s.text if s.text.strip() else s.piece}" for i, s in enumerate(result.steps)]
    colours = ["#16a34a" if s.first_choice else "#f59e0b" for s in result.steps]
    fig = go.Figure(go.Bar(x=labels, y=[100 * s.probability for s in result.steps], marker_color=colours,
                           text=[f"{100 * s.probability:.0f}%" for s in result.steps], textposition="auto"))
    fig.update_layout(title=TEXT.say(lang, "fig_tokens"), yaxis=dict(range=[0, 100], ticksuffix="%"),
                      xaxis=dict(title=TEXT.say(lang, "axis_token")), height=300, template="none",
                      margin=dict(l=40, r=10, t=50, b=80), font=dict(size=14))
    return fig


def _language_line(result: SpeechResult, lang: str) -> str:
    best, p_best = result.languages[0]
    if result.language_told:
        return TEXT.say(lang, "language_told", token=result.language_token, best=best, p=f"{100 * p_best:.1f}%")
    return TEXT.say(lang, "language_picked", token=result.language_token, p=f"{100 * p_best:.1f}%")


def words_md(result: SpeechResult, lang: str) -> str:
    transcript = (TEXT.say(lang, "transcript", text=html.escape(result.transcript)) if result.transcript.strip()
                  else TEXT.say(lang, "transcript_empty"))
    chips = " ".join(f"`{_shown(s.text if s.text.strip() else s.piece)}` {100 * s.probability:.0f}%"
                     + ("" if s.first_choice else "✱") for s in result.steps)
    parts = [
        transcript,
        TEXT.say(lang, "recording", seconds=f"{result.seconds:.1f}", rate=f"{result.rate_in:,}",
                 channels=result.channels_in) + (" " + TEXT.say(lang, "deleted") if result.deleted else ""),
        TEXT.say(lang, "mel_note", frames=f"{result.audio_frames:,}"),
        TEXT.say(lang, "prompt", chips=" ".join(f"`{_shown(p)}`" for p in result.prompt)),
        _language_line(result, lang),
        TEXT.say(lang, "tokens", n=len(result.steps), chips=chips),
        TEXT.say(lang, "stopped" if result.stopped else "not_stopped"),
        TEXT.say(lang, "bytes_note"),
        f"{TEXT.say(lang, 'call')}\n\n```python\n{result.call_line}\n```",
    ]
    return "\n\n".join(parts) + _notes(result, lang)


def _notes(result: SpeechResult, lang: str) -> str:
    said = compute.say_notes(result.notes, lang)
    return ("\n\n" + "\n".join(f"- {n}" for n in said)) if said else ""


def speech_outputs(result: SpeechResult, lang: str):
    """(facts Markdown, spectrogram, language chart, tokens chart, words Markdown)."""
    return (view.facts_md(result.facts, lang), mel_figure(result, lang), language_figure(result, lang),
            tokens_figure(result, lang), words_md(result, lang))
