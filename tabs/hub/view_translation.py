"""The translation row's answer in the page's language: the facts and the code lines, the chart of the
probability of each token the decoder wrote, and the words (the source pieces, the translation, the tokens
one by one, beam search's complete candidates)."""
from __future__ import annotations

import html
import json

from tabs.hub import compute, view
from tabs.hub.text_translation import TEXT
from tabs.hub.translation import TranslateResult

FIRST_COLOUR, OTHER_COLOUR = "#16a34a", "#f59e0b"
CANDIDATES_SHOWN = 8


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%" if p >= 0.01 else f"{100 * p:.2f}%"


def _code(value: str) -> str:
    """A piece as inline code: shown as it is (Markdown escapes '<' and '&' in code itself: `</s>` stays
    `</s>`); a backtick inside would end the code, so it becomes a look-alike."""
    return f"`{value.replace('`', 'ˋ')}`"


def _chips(pieces: list[str]) -> str:
    return " ".join(_code(p) for p in pieces)


def facts_md(result: TranslateResult, lang: str) -> str:
    """The hub lesson's facts and pipeline line, then the same answer with transformers 5 (no pipeline)."""
    repo = result.facts.repo
    generate_code = ("```python\nfrom transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"
                     f'tokenizer = AutoTokenizer.from_pretrained("{repo}")\n'
                     f'model = AutoModelForSeq2SeqLM.from_pretrained("{repo}")\n'
                     f"ids = model.generate(**tokenizer({_python_string(result.sentence)}, return_tensors=\"pt\")"
                     f"{'' if result.beams == result.model_beams else f', num_beams={result.beams}'})\n"
                     "print(tokenizer.decode(ids[0], skip_special_tokens=True))\n```")
    return f"{view.facts_md(result.facts, lang)}\n\n{TEXT.say(lang, 'generate_line')}\n\n{generate_code}"


def _python_string(value: str) -> str:
    """A Python string literal of `value` that keeps Hangul readable (json escapes quotes and backslashes)."""
    return json.dumps(value, ensure_ascii=False)


def steps_figure(result: TranslateResult, lang: str):
    """A bar per written token: its probability at its step; orange where it was not the decoder's first
    choice there (beam search took it for the whole sentence's score)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for first, colour, legend in ((True, FIRST_COLOUR, "legend_first"), (False, OTHER_COLOUR, "legend_other")):
        chosen = [(i, s) for i, s in enumerate(result.steps) if (s.token == s.first_choice) == first]
        fig.add_trace(go.Bar(x=[f"{i + 1}. {s.token}" for i, s in chosen], y=[100 * s.probability for _, s in chosen],
                             marker_color=colour, name=TEXT.say(lang, legend),
                             text=[_pct(s.probability) for _, s in chosen], textposition="auto"))
    order = [f"{i + 1}. {s.token}" for i, s in enumerate(result.steps)]
    fig.update_layout(title=TEXT.say(lang, "fig_steps"), yaxis=dict(range=[0, 100], ticksuffix="%"),
                      xaxis=dict(title=TEXT.say(lang, "axis_step"), categoryorder="array", categoryarray=order),
                      height=320, template="none", barmode="overlay", legend=dict(orientation="h", y=-0.35),
                      margin=dict(l=40, r=10, t=50, b=90), font=dict(size=14))
    return fig


def _written(result: TranslateResult, lang: str) -> str:
    chips = []
    for step in result.steps:
        chip = f"{_code(step.token)} ({_pct(step.probability)}"
        if step.token != step.first_choice:
            chip += "; " + TEXT.say(lang, "not_first", first=step.first_choice.replace("`", "ˋ"),
                                    p=_pct(step.first_probability))
        chips.append(chip + ")")
    return TEXT.say(lang, "written", n=len(result.steps), chips=" ".join(chips))


def _candidates(result: TranslateResult, lang: str) -> str:
    header = " | ".join(TEXT.say(lang, k) for k in ("col_rank", "col_text", "col_tokens", "col_log_prob", "col_score"))
    rows = [f"| {header} |", "|---|---|---|---|---|"]
    for rank, done in enumerate(result.finished[:CANDIDATES_SHOWN], start=1):
        words = html.escape(done.text).replace("|", "&#124;")
        rows.append(f"| {rank} | {words} | {len(done.token_ids) - 1} | {done.log_prob:.3f} | {done.score:.3f} |")
    return f"**{TEXT.say(lang, 'candidates')}**\n\n" + "\n".join(rows)


def words_md(result: TranslateResult, lang: str) -> str:
    parts = [
        TEXT.say(lang, "source_tokens", n=len(result.source_tokens), chips=_chips(result.source_tokens)),
        TEXT.say(lang, "translation", text=html.escape(result.translation)),
        _written(result, lang),
        TEXT.say(lang, "stopped", n=len(result.steps)) if result.stopped
        else TEXT.say(lang, "limit", limit=result.limit),
    ]
    if result.beams == 1:
        parts.append(TEXT.say(lang, "greedy", log_prob=f"{result.finished[0].log_prob:.3f}"))
    else:
        parts += [TEXT.say(lang, "beam", beams=result.beams), _candidates(result, lang)]
    parts += [f"- {note}" for note in compute.say_notes(result.notes, lang)]
    return "\n\n".join(parts)


def translate_outputs(result: TranslateResult, lang: str):
    """(facts Markdown, chart of each written token's probability, words Markdown)."""
    return facts_md(result, lang), steps_figure(result, lang), words_md(result, lang)
