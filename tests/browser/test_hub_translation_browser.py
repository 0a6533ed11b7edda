"""The Hugging Face lesson's translation row in real Chromium, in Korean and English, with the test zoo: the
worked example when the sub-tab opens (the model's name, the pipeline line and the transformers 5 code, the
facts, the chart of each written token's probability, the source pieces and the translation the loader's model
gives here), greedy search for a typed sentence, an empty sentence and a typed model name refused at once
(offline), in the page's language."""
from __future__ import annotations

import re
import time

import pytest

from tabs.hub import translation
from tabs.hub.text import TEXT as HUB_TEXT
from tabs.hub.text_translation import TEXT
from tests.browser.test_hub_browser import HANGUL, expect_toast, plot_title, text_of, wait_until
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB = "hub"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_hub_translation_row(request, lang, screenshots):
    page = request.getfixturevalue(f"page_{lang}")
    open_tab(page, TAB)
    page.locator("#hub-translation-button").click()
    expected = translation.translate(translation.EXAMPLE)  # the same test zoo model, here
    wait_until(page, lambda: 'pipeline("translation", model="Helsinki-NLP/opus-mt-ko-en")'
               in text_of(page, "hub-translation-facts"), "the translation facts")
    facts = text_of(page, "hub-translation-facts")
    assert "model.generate(" in facts and bool(HANGUL.search(facts.split("pipeline")[0])) == (lang == "ko")
    wait_until(page, lambda: plot_title(page, "hub-translation-chart") == TEXT.say(lang, "fig_steps"), "the chart")
    words = text_of(page, "hub-translation-words")
    for piece in expected.source_tokens:
        assert piece in words
    assert TEXT.say(lang, "candidates") in words  # beam search, the model's own 6 beams
    assert expected.finished[0].text.strip()[:40] in words
    shot(page, screenshots, f"hub_translation_{lang}")

    # a typed sentence, greedy search
    typed = "오늘 수업에서 트랜스포머를 배웠어요."
    greedy = translation.translate(typed, 1)
    page.locator("#hub-translation-sentence textarea").fill(typed)
    beams = page.locator("#hub-translation-beams input[type='number']").first
    beams.fill("1")
    beams.press("Enter")
    page.locator("#hub-translation-run").click()
    wait_until(page, lambda: greedy.source_tokens[0] in text_of(page, "hub-translation-words")
               and TEXT.say(lang, "candidates") not in text_of(page, "hub-translation-words"), "the greedy answer")
    assert greedy.steps[0].token in text_of(page, "hub-translation-words")
    shot(page, screenshots, f"hub_translation_greedy_{lang}")

    # an empty sentence; a model that is not on this offline computer: refused at once, in the page's language
    page.locator("#hub-translation-sentence textarea").fill("")
    page.locator("#hub-translation-run").click()
    expect_toast(page, lang, HUB_TEXT.say(lang, "empty"))
    page.locator("#hub-translation-sentence textarea").fill(translation.EXAMPLE)
    page.locator("#hub-translation-model input, #hub-translation-model textarea").first.fill("facebook/m2m100_418M")
    started = time.monotonic()
    page.locator("#hub-translation-run").click()
    expect_toast(page, lang, HUB_TEXT.say(lang, "offline_name", name="facebook/m2m100_418M",
                                                          default="Helsinki-NLP/opus-mt-ko-en"))
    assert time.monotonic() - started < 15
    assert not re.search("Traceback|Error:", text_of(page, "hub-translation-words"))
