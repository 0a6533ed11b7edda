"""The CLIP row's answer in the page's language: the facts and pipeline line, the labels' probabilities as
bars, and the numbers behind them (cosine similarity, logit, probability) with the sentences the model read."""
from __future__ import annotations

import html
import json

from core import charts
from tabs.hub import compute
from tabs.hub.clip import ClipResult
from tabs.hub.text_clip import TEXT
from tabs.hub.view import facts_md


def _cell(words: str) -> str:
    return html.escape(words).replace("|", "\\|")


def _table(result: ClipResult, lang: str) -> str:
    heads = [TEXT.say(lang, f"col_{c}") for c in ("label", "prompt", "tokens", "similarity", "logit", "probability")]
    rows = [f"| {_cell(s.label)} | {_cell(s.prompt)} | {s.tokens} | {s.similarity:+.4f} | {s.logit:.2f} | "
            f"{100 * s.probability:.2f}% |" for s in result.scores]
    return "\n".join([f"| {' | '.join(heads)} |", "|---|---|--:|--:|--:|--:|", *rows])


def call_line(result: ClipResult) -> str:
    """The pipeline call that gives the same answer (labels in the order typed are not needed: it sorts)."""
    labels = json.dumps(result.labels, ensure_ascii=False)
    return (f"{result.facts.pipeline_line}(image, candidate_labels={labels}, "
            f"hypothesis_template={json.dumps(result.template, ensure_ascii=False)})")


def clip_outputs(result: ClipResult, lang: str):
    """(facts Markdown, probability chart, words Markdown)."""
    entries = [(s.label, s.probability) for s in result.scores]
    fig = charts.top_k_figure(entries, TEXT.say(lang, "fig_probs_sigmoid" if result.sigmoid else "fig_probs"))
    best = result.scores[0]
    how = (TEXT.say(lang, "how_sigmoid", n=len(result.scores), dim=result.embed_dim, scale=f"{result.logit_scale:.2f}",
                    bias=f"{result.logit_bias:.2f}") if result.sigmoid else
           TEXT.say(lang, "how", n=len(result.scores), dim=result.embed_dim, scale=f"{result.logit_scale:.2f}"))
    width, height = result.picture
    parts = [
        TEXT.say(lang, "best", label=_cell(best.label), p=f"{100 * best.probability:.2f}%"),
        TEXT.say(lang, "template_used", template=result.template.replace("`", "ˋ")),
        _table(result, lang),
        how,
        TEXT.say(lang, "picture", width=width, height=height, patches=result.patches),
        f"{TEXT.say(lang, 'call')}\n\n```python\n{call_line(result)}\n```",
    ]
    said = compute.say_notes(result.notes, lang)
    if said:
        parts.append("\n".join(f"- {note}" for note in said))
    return facts_md(result.facts, lang), fig, "\n\n".join(parts)
