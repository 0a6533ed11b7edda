"""The Hugging Face lesson's CLIP row in real Chromium, in Korean and English, with the test zoo: the worked
example when the sub-tab opens (the model's name, the pipeline line, the facts, the probability chart, the
similarity table and the template), the Korean example and its notes, labels the student types and the same
answer as the loader's model gives here, and bad input refused in the page's language (no labels, one label,
a typed model name that is not on this offline computer)."""
from __future__ import annotations

import re
import time

import pytest

from tabs.hub import clip
from tabs.hub.text_clip import TEXT
from tabs.hub.text import TEXT as HUB_TEXT
from tests.browser.test_hub_browser import HANGUL, expect_toast, plot_title, text_of, wait_until
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB = "hub"


def plot_labels(page, elem_id: str) -> list:
    return page.evaluate("(sel) => { const g = document.querySelector(sel + ' .js-plotly-plot');"
                         " return g && g.data ? Array.from(g.data[0].y) : []; }", f"#{elem_id}")


def run_with_labels(page, labels: str) -> None:
    page.locator("#hub-clip-labels textarea").fill(labels)
    page.locator("#hub-clip-run").click()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hub_clip_row(request, lang, screenshots):
    page = request.getfixturevalue(f"page_{lang}")
    open_tab(page, TAB)
    page.locator("#hub-clip-button").click()

    # the worked example: the cat photo and five English labels, shown without a click
    expected = clip.classify(*clip.EXAMPLE)  # the same test zoo model, here
    wait_until(page, lambda: 'pipeline("zero-shot-image-classification", model="openai/clip-vit-base-patch32")'
               in text_of(page, "hub-clip-facts"), "the CLIP facts")
    wait_until(page, lambda: plot_title(page, "hub-clip-chart") == TEXT.say(lang, "fig_probs"), "the chart")
    assert plot_labels(page, "hub-clip-chart")[::-1] == expected.labels
    words = text_of(page, "hub-clip-words")
    assert "a photo of {}." in words and "a photo of a cat." in words
    assert f"{100 * expected.scores[0].probability:.2f}%" in words
    assert bool(HANGUL.search(words.split("a photo")[0])) == (lang == "ko")
    assert page.locator("#hub-clip-image img").count() >= 1  # the photo is in the one image input
    shot(page, screenshots, f"hub_clip_{lang}")

    # the Korean example (the last row of the examples): the English CLIP says it reads English
    page.locator("#hub-clip").locator(".gallery-item, tr.tr-body").nth(len(clip.EXAMPLES) - 1).click()
    wait_until(page, lambda: page.locator("#hub-clip-labels textarea").input_value() == clip.LABELS_KO,
               "the Korean example's labels")
    page.locator("#hub-clip-run").click()
    korean = clip.classify(*clip.EXAMPLES[-1])
    wait_until(page, lambda: plot_labels(page, "hub-clip-chart")[::-1] == korean.labels, "the Korean labels")
    wait_until(page, lambda: "Bingsu/clip-vit-base-patch32-ko" in text_of(page, "hub-clip-words"), "the note")
    assert "고양이 사진" in text_of(page, "hub-clip-words")

    # typed labels: the answer the loader's model gives here
    typed = "a rocket, a cat, a cup of coffee"
    page.locator("#hub-clip-template label", has_text=clip.ENGLISH).click()
    run_with_labels(page, typed)
    answer = clip.classify(*clip.EXAMPLES[-1][:1], typed, clip.ENGLISH)
    wait_until(page, lambda: plot_labels(page, "hub-clip-chart")[::-1] == answer.labels, "the typed labels' answer")

    # bad input, refused in the page's language
    run_with_labels(page, "")
    expect_toast(page, lang, TEXT.say(lang, "no_labels"))
    run_with_labels(page, "고양이")
    expect_toast(page, lang, TEXT.say(lang, "one_label", label="고양이"), typed="고양이")
    page.locator("#hub-clip-labels textarea").fill(clip.LABELS)
    page.locator("#hub-clip-model input, #hub-clip-model textarea").first.fill("Bingsu/clip-vit-base-patch32-ko")
    started = time.monotonic()
    page.locator("#hub-clip-run").click()
    expect_toast(page, lang, HUB_TEXT.say(lang, "offline_name", name="Bingsu/clip-vit-base-patch32-ko",
                                          default="openai/clip-vit-base-patch32"))
    assert time.monotonic() - started < 15
    shot(page, screenshots, f"hub_clip_refused_{lang}")
