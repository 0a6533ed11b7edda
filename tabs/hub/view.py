"""The Hugging Face lesson's results in the page's language: the facts line, the pipeline line, the charts."""
from __future__ import annotations

import html

from core import charts, text
from tabs.hub import compute
from tabs.hub.fill_mask import FillResult
from tabs.hub.generate import GenerateResult
from tabs.hub.text import TEXT


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _chips(pieces: list[str]) -> str:
    return " ".join(f"`{html.escape(p).replace('`', 'ˋ')}`" for p in pieces)


def facts_md(facts: compute.Facts, lang: str) -> str:
    """The model's facts and the one line a student runs in Colab."""
    params = text.count(lang, facts.parameters)
    if facts.real_weights:
        line = TEXT.say(lang, "facts", repo=facts.repo, params=params, disk=_size(facts.disk_bytes),
                        licence=facts.licence or TEXT.say(lang, "unknown"), folder=facts.folder or "-")
    else:
        line = TEXT.say(lang, "facts_tiny", repo=facts.repo, params=params, disk=_size(facts.disk_bytes))
    parts = [line, f"{TEXT.say(lang, 'pipeline')}\n\n```python\nfrom transformers import pipeline\n"
                   f"{facts.pipeline_line}\n```"]
    if not facts.real_weights:
        parts.append(TEXT.say(lang, "random_note", spec=facts.spec))
    return "\n\n".join(parts)


def _notes(notes: list, lang: str) -> str:
    said = compute.say_notes(notes, lang)
    return ("\n\n" + "\n".join(f"- {n}" for n in said)) if said else ""


def fill_outputs(result: FillResult, lang: str):
    """(facts Markdown, top-k chart, words Markdown)."""
    entries = [(c.token, c.probability) for c in result.candidates]
    fig = charts.top_k_figure(entries, TEXT.say(lang, "fig_fill", k=len(entries)))
    best = result.candidates[0]
    words = "\n\n".join([
        TEXT.say(lang, "fill_tokens", n=len(result.tokens), mask=result.mask_token, chips=_chips(result.tokens)),
        TEXT.say(lang, "fill_best", sequence=html.escape(best.sequence), p=f"{100 * best.probability:.2f}%"),
    ]) + _notes(result.notes, lang)
    return facts_md(result.facts, lang), fig, words


def _steps_figure(result: GenerateResult, lang: str):
    import plotly.graph_objects as go

    labels = [f"{i + 1}. {s.token}" for i, s in enumerate(result.steps)]
    fig = go.Figure(go.Bar(x=labels, y=[100 * s.probability for s in result.steps], marker_color="#16a34a",
                           text=[f"{100 * s.probability:.0f}%" for s in result.steps], textposition="auto"))
    fig.update_layout(title=TEXT.say(lang, "fig_steps"), yaxis=dict(range=[0, 100], ticksuffix="%"),
                      xaxis=dict(title=TEXT.say(lang, "axis_step")), height=300, template="none",
                      margin=dict(l=40, r=10, t=50, b=60), font=dict(size=14))
    return fig


def generate_outputs(result: GenerateResult, lang: str):
    """(facts Markdown, next-token chart, chosen-token chart, words Markdown)."""
    next_fig = charts.top_k_figure(result.next_top, TEXT.say(lang, "fig_next", k=len(result.next_top),
                                                             t=f"{result.temperature:g}"))
    written = " ".join(f"`{html.escape(s.token)}` ({100 * s.probability:.0f}%)" for s in result.steps)
    parts = [
        TEXT.say(lang, "gen_prompt_tokens", n=len(result.prompt_tokens), chips=_chips(result.prompt_tokens)),
        TEXT.say(lang, "gen_written", n=len(result.steps), chips=written),
        TEXT.say(lang, "gen_text", text=html.escape(result.text)),
        TEXT.say(lang, "gen_sum", vocab=text.count(lang, len(result.next_probs)),
                 total=f"{result.next_probs.sum():.6f}"),
    ]
    if result.stopped:
        parts.append(TEXT.say(lang, "gen_stopped", n=len(result.steps)))
    words = "\n\n".join(parts) + _notes(result.notes, lang)
    return facts_md(result.facts, lang), next_fig, _steps_figure(result, lang), words
