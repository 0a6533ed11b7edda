"""Stable Diffusion lesson in real Chromium (test zoo), Korean and English: the worked example is there as the
tab opens (tokens, pipeline, and the first example's picture drawn at warm-up), an example prompt draws at a
click, Generate streams a preview per step, the tokens show what is cut, and two prompts are compared."""
from __future__ import annotations

import time

import pytest

from tabs.diffusion import compute
from tabs.diffusion.text import TEXT
from tests.conftest import open_tab, shot, wait_for_picture

pytestmark = pytest.mark.browser

TAB_ID = "diffusion"
HANGUL = range(0xAC00, 0xD7A4)


def _has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


def _worked_example_on_opening(page, lang: str) -> None:
    """Without any click: the tokens and the pipeline of the prompt in the box, and the first example's
    finished picture (drawn at warm-up; until warm-up has drawn it the tab says so, and a reload shows it)."""
    deadline = time.monotonic() + 300
    while True:
        open_tab(page, TAB_ID)
        page.wait_for_selector("#sd-tokens .sd-token", timeout=120_000)
        page.wait_for_selector("#sd-status #sd-progress", timeout=60_000)
        if page.locator("#sd-final img").count():
            break
        assert TEXT.say(lang, "not_ready") in page.inner_text("#sd-status")
        assert time.monotonic() < deadline, "warm-up never drew the first example"
        page.wait_for_timeout(5_000)
        page.reload()
        page.wait_for_selector("#app-header")
    assert page.locator("#sd-prompt textarea").input_value() == compute.DEFAULT_PROMPT
    assert page.locator("#sd-tokens .sd-token").count() == 20  # <start> + 18 tokens + <end> (test zoo's CLIP)
    assert TEXT.say(lang, "tokens_used", used=20, rest=57) in page.inner_text("#sd-token-summary")
    diagram = page.inner_text("#sd-diagram")
    assert "[1, 77, 32]" in diagram and "[1, 4, 64, 64]" in diagram and "[512, 512, 3]" in diagram
    assert TEXT.say(lang, "box_text_encoder") in diagram
    status, info = page.inner_text("#sd-status"), page.inner_text("#sd-info")
    assert TEXT.say(lang, "progress_done", total=1) in status
    assert TEXT.say(lang, "from_store") in info  # drawn at warm-up, not for this page
    wait_for_picture(page, "#sd-gallery")
    wait_for_picture(page, "#sd-latent")
    for words in (status, info, diagram):
        assert _has_hangul(words) == (lang == "ko"), words


def _generate(page, prompt: str, steps: int) -> None:
    page.locator("#sd-prompt textarea").fill(prompt)
    page.locator("#sd-size").get_by_text("256", exact=True).click()
    steps_box = page.locator("#sd-steps input[type='number']")
    steps_box.fill(str(steps))
    steps_box.press("Enter")
    before = page.locator("#sd-final img").get_attribute("src")
    page.locator("#sd-generate").click()
    page.wait_for_function(f"() => {{ const img = document.querySelector('#sd-final img');"
                           f" return img && img.src !== {before!r}; }}", timeout=180_000)


def test_worked_example_then_generate_streams_previews_and_shows_tokens_ko(page_ko, screenshots):
    page = page_ko
    _worked_example_on_opening(page, "ko")
    shot(page, screenshots, "diffusion_open_ko")
    long_prompt = "a photo of a cute cat " * 16 + "riding a rocket to the moon"
    _generate(page, long_prompt, steps=3)
    page.wait_for_function("() => document.querySelectorAll('#sd-gallery img').length >= 3")  # a preview per step
    status = page.inner_text("#sd-status")
    assert TEXT.say("ko", "progress_done", total=3) in status
    assert page.locator("#sd-tokens .sd-token").count() > 77
    summary = page.inner_text("#sd-token-summary")
    assert TEXT.say("ko", "tokens_cut") in summary and "moon" in summary
    assert "[1, 77, 32]" in page.inner_text("#sd-diagram") and "× 3" in page.inner_text("#sd-diagram")
    info = page.inner_text("#sd-info")
    assert "테스트용 작은 무작위 모델" in info and "TAESD" in info and TEXT.say("ko", "truncated") in info
    assert TEXT.say("en", "truncated") not in info
    page.wait_for_function("() => document.querySelector('#sd-latent-step input[type=number]').value === '3'")
    shot(page, screenshots, "diffusion_ko")


def test_worked_example_example_prompt_and_compare_en(page_en, screenshots):
    page = page_en
    _worked_example_on_opening(page, "en")
    shot(page, screenshots, "diffusion_open_en")
    # An example prompt: the box shows it and the picture comes (drawn at warm-up: from the cache)
    before = page.locator("#sd-final img").get_attribute("src")
    page.locator("#sd-presets").get_by_text(compute.PRESETS[1], exact=True).click()
    page.wait_for_function(f"() => document.querySelector('#sd-prompt textarea').value === {compute.PRESETS[1]!r}")
    page.wait_for_function(f"() => document.querySelector('#sd-final img').src !== {before!r}", timeout=60_000)
    assert page.locator("#sd-tokens .sd-token").filter(has_text="astronaut").count() == 1
    _generate(page, "a photo of a red fox in the snow", steps=2)
    assert TEXT.say("en", "progress_done", total=2) in page.inner_text("#sd-status")
    assert "of 77 positions used" in page.inner_text("#sd-token-summary")
    seed_before = page.locator("#sd-seed input").input_value()
    page.locator("#sd-randomize").click()
    page.wait_for_function(
        f"() => document.querySelector('#sd-seed input').value !== '{seed_before}'", timeout=30_000)
    page.locator("#sd-compare").click()
    page.wait_for_function("() => document.querySelectorAll('#sd-compare-gallery img').length >= 3", timeout=180_000)
    assert not _has_hangul(page.inner_text("#sd-compare-info"))
    shot(page, screenshots, "diffusion_en")
