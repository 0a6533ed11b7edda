"""Stable Diffusion tab in real Chromium (test zoo): generate, watch the step previews stream, read the tokens."""
from __future__ import annotations

import pytest

from core import i18n
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser

TAB_ID = "diffusion"


def _generate(page, prompt: str, steps: int, table: dict) -> None:
    open_tab(page, TAB_ID)
    page.locator("#sd-prompt textarea").fill(prompt)
    page.locator("#sd-size").get_by_text("256", exact=True).click()
    steps_box = page.locator("#sd-steps input[type='number']")
    steps_box.fill(str(steps))
    steps_box.press("Enter")
    page.locator("#sd-generate").click()
    page.wait_for_selector("#sd-final img", timeout=180_000)


def test_generate_streams_previews_and_shows_tokens_ko(page_ko, screenshots):
    page = page_ko
    long_prompt = "a photo of a cute cat " * 16 + "riding a rocket to the moon"
    _generate(page, long_prompt, steps=3, table=i18n.KO)
    assert page.locator("#sd-gallery img").count() >= 3  # one preview per step
    status = page.inner_text("#sd-status")
    assert "완성" in status and "3/3" in status
    tokens = page.locator("#sd-tokens")
    assert tokens.locator(".sd-token").count() > 77
    assert "잘려서" in page.inner_text("#sd-token-summary") and "moon" in page.inner_text("#sd-token-summary")
    assert "[1, 77, 32]" in page.inner_text("#sd-diagram")
    info = page.inner_text("#sd-info")
    assert "테스트용 작은 무작위 모델" in info and "TAESD" in info
    page.wait_for_selector("#sd-latent img")
    shot(page, screenshots, "diffusion_ko")


def test_generate_and_compare_en(page_en, screenshots):
    page = page_en
    _generate(page, "a photo of a red fox in the snow", steps=2, table=i18n.EN)
    assert "done" in page.inner_text("#sd-status")
    assert "of 77 positions used" in page.inner_text("#sd-token-summary")
    seed_before = page.locator("#sd-seed input").input_value()
    page.locator("#sd-randomize").click()
    page.wait_for_function(
        f"() => document.querySelector('#sd-seed input').value !== '{seed_before}'", timeout=30_000)
    page.locator("#sd-compare").click()
    page.wait_for_function("() => document.querySelectorAll('#sd-compare-gallery img').length >= 3", timeout=180_000)
    shot(page, screenshots, "diffusion_en")
