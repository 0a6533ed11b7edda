"""The Hugging Face lesson in real Chromium, in Korean and English, with the test zoo: the worked examples
on open (fill-mask and text generation: the model's name, the pipeline line, the facts, the charts), a typed
sentence and the same answer as the loader's model gives here, a typed model name refused at once (offline),
a sentence without [MASK], and one language per message."""
from __future__ import annotations

import re
import time

import pytest

from tabs.hub import fill_mask, generate
from tabs.hub.text import TEXT
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB = "hub"
HANGUL = re.compile("[\uac00-\ud7a3]")


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def wait_until(page, check, what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        page.wait_for_timeout(250)


def plot_title(page, elem_id: str) -> str:
    return page.evaluate("(sel) => { const g = document.querySelector(sel + ' .js-plotly-plot');"
                         " return g && g.layout && g.layout.title ? g.layout.title.text : ''; }", f"#{elem_id}")


def expect_toast(page, lang: str, words: str, typed: str = "") -> None:
    """The message `words` shows, in the page's language (what the student typed, quoted in it, aside)."""
    toast = page.locator(".toast-body", has_text=words[:30]).first
    toast.wait_for(timeout=30_000)
    said = toast.locator("[data-testid='toast-text']").inner_text().replace(typed, "") if typed else \
        toast.locator("[data-testid='toast-text']").inner_text()
    assert bool(HANGUL.search(said)) == (lang == "ko")
    toast.locator("[data-testid='toast-close']").click()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hub_lesson(request, lang, screenshots):
    page = request.getfixturevalue(f"page_{lang}")
    open_tab(page, TAB)
    # the worked example of row 1, on open
    wait_until(page, lambda: 'pipeline("fill-mask", model="klue/bert-base")' in text_of(page, "hub-fill-facts"),
               "the fill-mask facts")
    wait_until(page, lambda: plot_title(page, "hub-fill-chart") == TEXT.say(lang, "fig_fill", k=5), "the top-k chart")
    expected = fill_mask.fill(fill_mask.EXAMPLE, 5).candidates[0].sequence  # the same test zoo model, here
    assert expected in text_of(page, "hub-fill-words")
    assert bool(HANGUL.search(text_of(page, "hub-fill-facts").split("pipeline")[0].replace("klue", ""))) == (lang == "ko")
    shot(page, screenshots, f"hub_fill_{lang}")

    # a typed English sentence
    typed = "The capital of Korea is [MASK]."
    page.locator("#hub-fill-sentence textarea").fill(typed)
    page.locator("#hub-fill-run").click()
    best = fill_mask.fill(typed, 5).candidates[0].sequence
    wait_until(page, lambda: best in text_of(page, "hub-fill-words"), "the typed sentence's answer")

    # no [MASK]; a model name that is not on this offline computer: refused at once, in the page's language
    page.locator("#hub-fill-sentence textarea").fill("서울은 한국의 수도입니다.")
    page.locator("#hub-fill-run").click()
    expect_toast(page, lang, TEXT.say(lang, "no_mask"))
    page.locator("#hub-fill-sentence textarea").fill(fill_mask.EXAMPLE)
    page.locator("#hub-fill-model input, #hub-fill-model textarea").first.fill("google-bert/bert-base-multilingual-cased")
    started = time.monotonic()
    page.locator("#hub-fill-run").click()
    expect_toast(page, lang, TEXT.say(lang, "offline_name", name="google-bert/bert-base-multilingual-cased",
                                      default="klue/bert-base"))
    assert time.monotonic() - started < 15
    shot(page, screenshots, f"hub_refused_{lang}")

    # row 2: text generation, its worked example when its sub-tab opens
    page.locator("#hub-gen-button").click()
    result = generate.generate(generate.EXAMPLE)
    wait_until(page, lambda: result.text in text_of(page, "hub-gen-words"), "the generated text")
    words = text_of(page, "hub-gen-words")
    for piece in result.prompt_tokens:
        assert piece in words
    assert plot_title(page, "hub-gen-next") == TEXT.say(lang, "fig_next", k=5, t="1")
    assert 'pipeline("text-generation", model="skt/kogpt2-base-v2")' in text_of(page, "hub-gen-facts")
    shot(page, screenshots, f"hub_generate_{lang}")
