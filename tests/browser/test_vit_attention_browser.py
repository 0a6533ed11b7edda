"""ViT lesson in real Chromium, Korean and English: the worked example is there as the tab opens, a click on
a patch moves the chosen patch, the top-5 names ImageNet classes in the page's language, another head, an
example photo and another model redraw everything."""
from __future__ import annotations

import pytest

from tabs.vit_attention.text import TEXT
from tests.conftest import open_tab, shot, wait_for_picture

pytestmark = pytest.mark.browser

TAB = "vit_attention"
ROWS = COLS = 14  # the test zoo's ViTs: 224 px input, 16 px patches
HANGUL = range(0xAC00, 0xD7A4)


def has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


def _click_patch(page, selector: str, row: int, col: int) -> None:
    """Click the centre of patch (row, col) on a displayed picture, allowing for object-fit letterboxing."""
    img = page.locator(f"{selector} img").first
    img.scroll_into_view_if_needed()
    box = img.evaluate("""el => {
        const r = el.getBoundingClientRect();
        const scale = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
        const w = el.naturalWidth * scale, h = el.naturalHeight * scale;
        return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w: w, h: h};
    }""")
    page.mouse.click(box["x"] + box["w"] * (col + 0.5) / COLS, box["y"] + box["h"] * (row + 0.5) / ROWS)


def _patch_value(page) -> int:
    return int(float(page.locator("#vit-patch input[type='number']").first.input_value()))


def _src(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} img").first.get_attribute("src")


def _wait_src_change(page, elem_id: str, before: str) -> None:
    page.wait_for_function(f"document.querySelector('#{elem_id} img').src != {before!r}", timeout=60_000)


def _top5_names(page, elem_id: str) -> list[str]:
    return page.evaluate(f"""() => Array.from(document.querySelectorAll('#{elem_id} .ytick text'))
                                      .map(t => t.textContent)""")


def _worked_example_on_opening(page, lang: str) -> None:
    """Open the tab and, without any click, find the first example worked: patches, maps, top-5, Grad-CAM."""
    open_tab(page, TAB)
    tab = page.locator(f"#tab-{TAB}")
    assert TEXT.say(lang, "run") in tab.inner_text()
    for elem_id in ("vit-input", "vit-patches", "vit-strip", "vit-pos-one", "vit-pos-all", "vit-cls",
                    "vit-rollout", "vit-patch-attn", "vit-heads", "vit-gradcam"):
        wait_for_picture(page, f"#{elem_id}", timeout=120_000)
    for plot in ("vit-top5", "vit-cnn-top5"):
        page.wait_for_function(f"document.querySelectorAll('#{plot} .ytick text').length == 5", timeout=120_000)


@pytest.mark.parametrize("fixture, lang", [("page_ko", "ko"), ("page_en", "en")])
def test_worked_example_click_a_patch_and_switch_model(request, fixture, lang, screenshots):
    page = request.getfixturevalue(fixture)
    _worked_example_on_opening(page, lang)
    page.locator("#vit-patches").scroll_into_view_if_needed()
    shot(page, screenshots, f"vit_attention_open_{lang}")

    info = page.locator("#vit-info").inner_text()
    assert "196" in info and "197" in info  # 14x14 patches, plus [CLS]
    assert has_hangul(info) == (lang == "ko")
    assert _patch_value(page) == 7 * COLS + 7  # the middle patch is chosen first
    names = _top5_names(page, "vit-top5") + _top5_names(page, "vit-cnn-top5")
    assert len(names) == 10
    if lang == "ko":  # "군복 (military uniform)": the Korean name, the model's English name beside it
        assert all(has_hangul(name) and name.endswith(")") for name in names), names
    else:
        assert not any(has_hangul(name) for name in names), names
    assert TEXT.say(lang, "heads") in page.locator("#vit-heads").inner_text()  # the label says what the numbers are

    # A click on a patch of the numbered grid chooses it; the maps are drawn again for it.
    before = _src(page, "vit-patch-attn")
    _click_patch(page, "#vit-patches", 2, 3)
    page.wait_for_function("document.querySelector(\"#vit-patch input[type='number']\").value == '31'",
                           timeout=60_000)
    _wait_src_change(page, "vit-patch-attn", before)

    # A click on the attention map itself moves the chosen patch too.
    _click_patch(page, "#vit-patch-attn", 10, 12)
    page.wait_for_function(f"document.querySelector(\"#vit-patch input[type='number']\").value == '{10 * COLS + 12}'",
                           timeout=60_000)

    # Another head: the [CLS] map changes.
    before = _src(page, "vit-cls")
    page.locator("#vit-head input").click()
    page.get_by_role("option", name="2", exact=True).click()
    _wait_src_change(page, "vit-cls", before)

    # Another example photo: the forward pass of that photo, every panel.
    before = _src(page, "vit-patches")
    page.locator(f"#tab-{TAB}").locator(".gallery-item, tr.tr-body").nth(2).click()  # coffee.jpg (sorted)
    _wait_src_change(page, "vit-patches", before)

    # Another model: the same photo runs through it by itself (the test zoo's ViT-Base has 4 heads).
    page.locator("#vit-model input").click()
    page.get_by_role("option", name="ViT-Base (google/vit-base-patch16-224)").click()
    page.wait_for_function("document.querySelector('#vit-info').innerText.match(/× (4 heads|헤드 4개)/)",
                           timeout=120_000)
    assert page.locator(".toast-body.error").count() == 0
    page.locator("#vit-patches").scroll_into_view_if_needed()
    shot(page, screenshots, f"vit_attention_{lang}")
