"""The word-attention lesson in real Chromium, in Korean and English: the worked example on open, a typed
Korean and a typed English sentence worked through step by step (the shown numbers recomputed here with
numpy), the encoder's head view for another layer and head, heads that do not divide d, an empty sentence,
and one language per message."""
from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest

from tabs.word_attention import compute
from tabs.word_attention.text import TEXT
from tests.conftest import open_tab, shot, read_note

pytestmark = pytest.mark.browser

TAB = "word_attention"
HANGUL = re.compile("[\uac00-\ud7a3]")
PLOTS = f"#tab-{TAB} .js-plotly-plot"
# The tab's figures, in page order
VECTORS, QKV, SCORES, OUTPUT, HEADS, HEAD_VIEW, MATRIX, HEADS_GRID = range(8)
SENTENCE_KO = "고양이가 창밖을 조용히 본다."
SENTENCE_EN = "The cat sat on the warm mat."

FIGURE_JS = """([sel, i]) => { const g = document.querySelectorAll(sel)[i]; if (!g || !g._fullData) return null;
    const plain = (v) => (v == null) ? null : (ArrayBuffer.isView(v) || Array.isArray(v))
        ? Array.from(v, (r) => (ArrayBuffer.isView(r) || Array.isArray(r)) ? Array.from(r) : r) : v;
    return {title: (g.layout.title && g.layout.title.text) || '',
            traces: g._fullData.map((t) => ({type: t.type, name: t.name, mode: t.mode, showlegend: t.showlegend,
                                             x: plain(t.x), y: plain(t.y), z: plain(t.z), text: plain(t.text)}))}; }"""


def figure(page, index: int) -> dict:
    return page.evaluate(FIGURE_JS, [PLOTS, index])


def heatmaps(page, index: int) -> list[dict]:
    return [t for t in figure(page, index)["traces"] if t["type"] == "heatmap"]


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def pieces_of(sentence: str, part: int = 1) -> list[str]:
    """The pieces the server's tokenizer should show in part 1 (steps) or part 2 (encoder, without [CLS] and
    [SEP]): the same loader's tokenizer, in this process (the test zoo's)."""
    limit = compute.MAX_STEP_TOKENS if part == 1 else compute.MAX_ENCODER_TOKENS - 2
    return compute.load_encoder().tokenizer.tokenize(sentence)[:limit]


def wait_until(page, check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        page.wait_for_timeout(250)


def head_view_tokens(page) -> list[str] | None:
    fig = figure(page, HEAD_VIEW)
    if fig is None:
        return None
    texts = [t["text"] for t in fig["traces"] if t["mode"] == "markers+text"]
    return texts[0] if texts else None


def wait_for_sentence(page, sentence: str) -> None:
    """Both parts redrawn for the sentence: its tokens in step 1 and in the head view ([CLS] ... [SEP])."""
    chips = " ".join(f"{i + 1}: {p}" for i, p in enumerate(pieces_of(sentence)))
    wait_until(page, lambda: chips in text_of(page, "word-attention-tokens"), f"tokens {chips}")
    encoder = pieces_of(sentence, part=2)
    wait_until(page, lambda: (head_view_tokens(page) or [])[1:-1] == encoder, f"head view of {encoder}")


def check_steps(page, lang: str, sentence: str, d: int, heads: int) -> None:
    """Steps 1-7 show the sentence's pieces, and the shown numbers are self-attention: recomputed here from
    the shown Q, K and V with numpy, the scores, each row's softmax and the weighted sum are the ones shown."""
    pieces = pieces_of(sentence)
    n = len(pieces)
    labels = [f"{i + 1} {p}" for i, p in enumerate(pieces)]
    expected_titles = {VECTORS: TEXT.say(lang, "fig_vectors"), QKV: TEXT.say(lang, "fig_qkv"),
                       SCORES: TEXT.say(lang, "fig_scores"), OUTPUT: TEXT.say(lang, "fig_output"),
                       HEADS: TEXT.say(lang, "fig_heads", h=heads)}
    for index, title in expected_titles.items():
        assert figure(page, index)["title"] == title
    x = heatmaps(page, VECTORS)[0]
    assert x["y"] == labels and np.array(x["z"]).shape == (n, d)
    q, k, v = (np.array(t["z"], dtype=float) for t in heatmaps(page, QKV))
    assert q.shape == k.shape == v.shape == (n, d)
    for trace in heatmaps(page, QKV) + heatmaps(page, SCORES):
        assert trace["y"] == labels
    shown_scores, shown_weights = (np.array(t["z"], dtype=float) for t in heatmaps(page, SCORES))
    scores = q @ k.T / math.sqrt(d)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(shown_scores, scores, atol=1e-4)
    np.testing.assert_allclose(shown_weights, weights, atol=1e-4)
    np.testing.assert_allclose(np.array(heatmaps(page, OUTPUT)[2]["z"], dtype=float), weights @ v, atol=1e-4)
    # step 7: one weight matrix per head, each row a softmax
    per_head = heatmaps(page, HEADS)[:heads]
    assert len(heatmaps(page, HEADS)) == heads + 1
    for trace in per_head:
        np.testing.assert_allclose(np.array(trace["z"], dtype=float).sum(axis=1), 1.0, atol=1e-4)
    explanation = text_of(page, "word-attention-explanation")
    for piece in pieces:
        assert f"'{piece}'" in explanation
    assert TEXT.say(lang, "explain_torch").split("`")[0] in explanation


def check_encoder(page, lang: str, sentence: str, layer: int, head: int) -> None:
    """The head view, the matrix and the layer's heads for (1-based) `layer` and `head` (0: every head)."""
    pieces = pieces_of(sentence, part=2)
    every = head == 0
    head_name = TEXT.say(lang, "all_heads") if every else TEXT.say(lang, "legend_head", head=head)
    wait_until(page, lambda: figure(page, HEAD_VIEW)["title"] == TEXT.say(lang, "fig_head_view", layer=layer,
                                                                          head=head_name), f"layer {layer} head {head}")
    view = figure(page, HEAD_VIEW)
    assert head_view_tokens(page)[1:-1] == pieces
    legend = [t["name"] for t in view["traces"] if t["showlegend"]]
    layers, heads_of_encoder = compute.text_zoo.model_shape()
    assert legend == ([TEXT.say(lang, "legend_head", head=h + 1) for h in range(heads_of_encoder)] if every
                      else [head_name])
    matrix_name = TEXT.say(lang, "mean_heads") if every else head_name
    matrix = figure(page, MATRIX)
    assert matrix["title"] == TEXT.say(lang, "fig_matrix", layer=layer, head=matrix_name)
    weights = np.array(matrix["traces"][0]["z"], dtype=float)
    assert weights.shape == (len(pieces) + 2,) * 2
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-4)  # every row of attention sums to 1
    grid = figure(page, HEADS_GRID)
    assert grid["title"] == TEXT.say(lang, "fig_heads_grid", layer=layer, heads=heads_of_encoder)
    assert len([t for t in grid["traces"] if t["type"] == "heatmap"]) == heads_of_encoder
    encoder = text_of(page, "word-attention-encoder")
    assert TEXT.say(lang, "encoder_source", source="@", layers=layers, heads=heads_of_encoder,
                    n=len(pieces) + 2).split("@")[1] in encoder


def computed_words(page) -> str:
    parts = [text_of(page, f"word-attention-{name}") for name in ("tokens", "explanation", "encoder")]
    parts += page.locator(PLOTS).all_inner_texts()
    return "\n".join(parts)


def without(words: str, pieces: list[str]) -> str:
    """The words with the typed sentence's pieces taken out (they are the student's, in any language)."""
    for piece in sorted(set(pieces) | {p.removeprefix("##") for p in pieces}, key=len, reverse=True):
        words = words.replace(piece, "")
    return words


def check_language(page, lang: str, sentence: str) -> None:
    words = without(computed_words(page), pieces_of(sentence, part=2))
    assert bool(HANGUL.search(words)) == (lang == "ko"), HANGUL.findall(words)[:20]


def type_and_run(page, sentence: str) -> None:
    page.locator("#word-attention-sentence textarea").fill(sentence)
    page.locator("#word-attention-run").click()


def set_number(page, elem_id: str, value: int) -> None:
    """A slider's number box: typing and leaving it is a release of the slider (what the events listen to)."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.blur()


def run_lesson(page, lang: str, screenshots) -> None:
    assert page.locator(f"#tab-{TAB}-button").first.inner_text().strip() == TEXT.say(lang, "title")
    open_tab(page, TAB)
    # before any click: the Korean example sentence, worked through, and the encoder's layer 1
    wait_for_sentence(page, compute.EXAMPLE_KO)
    note = read_note(page, TAB)
    assert ("셀프 어텐션" if lang == "ko" else "self-attention") in note
    assert TEXT.say(lang, "tokens_md").split("{n}")[0].replace("**", "") in text_of(page, "word-attention-tokens")
    check_steps(page, lang, compute.EXAMPLE_KO, d=compute.D_DEFAULT, heads=compute.HEADS_DEFAULT)
    check_encoder(page, lang, compute.EXAMPLE_KO, layer=1, head=0)
    check_language(page, lang, compute.EXAMPLE_KO)
    shot(page, screenshots, f"word_attention_{lang}_open")

    # a typed Korean sentence, then a typed English one: both parts follow
    for sentence in (SENTENCE_KO, SENTENCE_EN):
        type_and_run(page, sentence)
        wait_for_sentence(page, sentence)
        check_steps(page, lang, sentence, d=compute.D_DEFAULT, heads=compute.HEADS_DEFAULT)
        check_encoder(page, lang, sentence, layer=1, head=0)
        check_language(page, lang, sentence)
    if lang == "en":  # an English sentence on the English page: no Korean anywhere in what was computed
        assert not HANGUL.search(computed_words(page))

    # another layer and one head of the encoder
    set_number(page, "word-attention-layer", 2)
    check_encoder(page, lang, SENTENCE_EN, layer=2, head=0)
    set_number(page, "word-attention-head", 1)
    check_encoder(page, lang, SENTENCE_EN, layer=2, head=1)
    shot(page, screenshots, f"word_attention_{lang}_layer2_head1")

    # 4 heads do not divide d = 6: a note in the page's language, and 3 heads are used
    set_number(page, "word-attention-d", 6)
    set_number(page, "word-attention-heads", 4)
    heads_note = TEXT.say(lang, "heads_divide", d=6, wanted=4, used=3)
    wait_until(page, lambda: heads_note in text_of(page, "word-attention-explanation"), "the heads note")
    wait_until(page, lambda: figure(page, HEADS)["title"] == TEXT.say(lang, "fig_heads", h=3), "3 heads")
    check_steps(page, lang, SENTENCE_EN, d=6, heads=3)
    check_language(page, lang, SENTENCE_EN)

    # an empty sentence: a message in the page's language; what was shown stays, and the next sentence works
    type_and_run(page, "   ")
    toast = page.locator(".toast-body", has_text=TEXT.say(lang, "empty")).first
    toast.wait_for(timeout=30_000)
    assert bool(HANGUL.search(toast.locator("[data-testid='toast-text']").inner_text())) == (lang == "ko")
    page.wait_for_timeout(600)  # the toast's fade-in, for the screenshot
    shot(page, screenshots, f"word_attention_{lang}_empty")
    toast.locator("[data-testid='toast-close']").click()
    assert head_view_tokens(page)[1:-1] == pieces_of(SENTENCE_EN, part=2)
    type_and_run(page, SENTENCE_KO)
    wait_for_sentence(page, SENTENCE_KO)
    check_steps(page, lang, SENTENCE_KO, d=6, heads=3)
    check_encoder(page, lang, SENTENCE_KO, layer=2, head=1)
    check_language(page, lang, SENTENCE_KO)


def test_word_attention_ko(page_ko, screenshots):
    run_lesson(page_ko, "ko", screenshots)


def test_word_attention_en(page_en, screenshots):
    run_lesson(page_en, "en", screenshots)
