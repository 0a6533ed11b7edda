"""What a student sees first, in real Chromium: a Chromebook (1366x768), a phone (390x844) and a projector
(1920x1080), in Korean and English, every tab right after it opens.

- the tab's main picture (its first chart or picture) starts inside the first screen on the Chromebook;
- no two pieces of text overlap (their boxes measured in the page);
- on the phone nothing is wider than the screen;
- every lesson is reachable by a visible button named with its title;
- the lesson note shows its first sentence and folds the rest;
- the projector view (?view=projector) centres the page and draws text 1.5 times larger.
"""
from __future__ import annotations

import pytest

import tabs
from core import layout, text
from tests.conftest import shot

pytestmark = pytest.mark.browser

SCREENS = {"chromebook": (1366, 768), "phone": (390, 844), "projector": (1920, 1080)}
LOCALES = {"ko": "ko-KR", "en": "en-US"}

# The first chart or picture of the open tab, 100 px or more each way (example thumbnails are smaller).
MAIN_PICTURE_JS = """(id) => {
  const panel = document.querySelector('#tab-' + id);
  const found = [...panel.querySelectorAll('.js-plotly-plot, img, canvas, video')].find(el => {
    const r = el.getBoundingClientRect();
    return r.width >= 100 && r.height >= 100 && !el.closest('.gallery, .lesson-note');
  });
  return found ? found.getBoundingClientRect().top + window.scrollY : null;
}"""

# Boxes of the visible text (HTML text nodes, not chart SVG) that overlap by more than 2 px each way.
OVERLAPS_JS = """(id) => {
  const root = document.querySelector('#tab-' + id);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const boxes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    // (Gradio keeps a hidden copy of tab titles and table cells for measuring: clipped, or drawn in the same box)
    if (!node.textContent.trim() || el.closest('svg, .hide, [hidden], .visually-hidden')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.opacity === '0') continue;
    const range = document.createRange(); range.selectNodeContents(node);
    for (const r of range.getClientRects()) if (r.width > 1 && r.height > 1) boxes.push([r, el, node.textContent.trim().slice(0, 30)]);
  }
  const found = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const [a, ea, ta] = boxes[i], [b, eb, tb] = boxes[j];
    if (ea === eb || (ta === tb && Math.abs(a.left - b.left) < 1 && Math.abs(a.top - b.top) < 1)) continue;
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left), h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 2 && h > 2) found.push(ta + ' <> ' + tb);
  }
  return found.slice(0, 10);
}"""

# Elements sticking out of the screen sideways that no scrolling container around them holds.
TOO_WIDE_JS = """() => {
  const scroller = (el) => { for (let p = el.parentElement; p; p = p.parentElement) {
    const s = getComputedStyle(p); if (['auto', 'scroll', 'hidden', 'clip'].includes(s.overflowX) && p !== document.body
      && p !== document.documentElement) return true; } return false; };
  return [...document.querySelectorAll('body *')].filter(el => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (r.right > innerWidth + 1 || r.left < -1) && !scroller(el)
      && getComputedStyle(el).visibility !== 'hidden'
      && !el.closest('#js-plotly-tester');  // Plotly's text-measuring SVG, placed off-screen on purpose
  }).slice(0, 10).map(el => el.tagName + '.' + [...el.classList].join('.') + '#' + el.id);
}"""


def _open(browser, url: str, lang: str, size: tuple[int, int], query: str = ""):
    width, height = size
    context = browser.new_context(locale=LOCALES[lang], viewport={"width": width, "height": height},
                                  is_mobile=width < 500, has_touch=width < 500,
                                  extra_http_headers={"Accept-Language": LOCALES[lang]})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url + query)
    page.wait_for_selector("#app-header")
    return context, page


def _visible_tab_titles(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll("button[role='tab'][id^='tab-']")]
        .filter(b => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0
                       && getComputedStyle(b).visibility !== 'hidden'; })
        .map(b => [b.id.replace(/^tab-/, '').replace(/-button$/, ''), b.innerText.trim()]))""")


def _open_tab(page, lesson_id: str) -> None:
    page.locator(f"#tab-{lesson_id}-button").click()
    page.wait_for_selector(f"#tab-{lesson_id}", state="visible")
    # the worked example: its first chart or picture drawn (or a few seconds for a tab without one)
    try:
        page.wait_for_function(f"({MAIN_PICTURE_JS})('{lesson_id}') !== null", timeout=20_000)
    except Exception:  # noqa: BLE001 - a tab whose example has no picture: measured as it is
        pass
    page.wait_for_timeout(800)


# What still stands between a student and a tab's idea, by screen, tab and kind of problem, each with its
# reason (issue 23 stays open on them). Any other problem fails the test.
KNOWN = {
    ("chromebook", "word_attention", "below the fold"): "the three sliders come before its first chart (tab.py)",
    ("chromebook", "precision", "below the fold"): "the bits table and its controls come before the charts (tab.py)",
    ("chromebook", "hub", "below the fold"): "two rows of controls before the fill-mask chart (tab.py)",
    ("chromebook", "vit_attention", "overlap"): "the CNN Grad-CAM label over its caption",
    ("chromebook", "yolo_detect", "overlap"): "box labels drawn over each other in the example",
    ("phone", "vit_attention", "overlap"): "picture labels over their captions",
    ("phone", "yolo_detect", "overlap"): "box labels drawn over each other in the example",
    ("phone", "diffusion", "overlap"): "the step caption over the pipeline diagram's title",
    ("phone", "finetune", "overlap"): "the confusion matrix's tick labels",
    ("projector", "yolo_detect", "overlap"): "box labels drawn over each other in the example",
    ("projector", "finetune", "overlap"): "the data preview's class captions over the step titles while it loads",
}


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("screen", [
    "chromebook",
    # Not strict: whether it fails depends on how the six rows of titles wrap in each language.
    # A wide table no longer widens the page (style.css: the page's flex boxes at min-width 0, the container at
    # width 100%), which was what stacked the phone's tab rows on each other; what is left is measured while
    # pictures load, so it varies from run to run (issue 23).
    pytest.param("phone", marks=pytest.mark.xfail(strict=False, reason=(
        "text over text while a tab's pictures load (confusion matrix ticks, example captions) (issue 23)"))),
    pytest.param("projector", marks=pytest.mark.xfail(strict=False, reason=(
        "text over text while a tab's pictures load (issue 23)"))),
])
def test_every_tab_opens_on_its_idea(browser, app_url, screenshots, screen, lang):
    context, page = _open(browser, app_url, lang, SCREENS[screen])
    try:
        lessons = tabs.load_all()
        table = text.KO if lang == "ko" else text.EN
        # every lesson reachable by a visible button named with its title; the header counts them
        titles = _visible_tab_titles(page)
        assert titles == {lesson.id: table[lesson.title_key] for lesson in lessons}, titles
        assert str(len(lessons)) in page.inner_text("#app-header")
        problems = []
        for lesson in lessons:
            _open_tab(page, lesson.id)
            note = page.locator(f"#tab-{lesson.id} .lesson-note").first
            lead = layout.split_note(lesson.note[0 if lang == "ko" else 1])[0].strip("* ")
            assert lead in note.inner_text(), (lesson.id, lead)
            assert note.bounding_box()["height"] < 160, f"{lesson.id}: the folded note is too tall"
            top = page.evaluate(MAIN_PICTURE_JS, lesson.id)
            found = []
            if screen == "chromebook" and top is not None and top >= SCREENS[screen][1]:
                found.append(("below the fold", f"main picture at y={top:.0f}"))
            overlaps = page.evaluate(OVERLAPS_JS, lesson.id)
            if overlaps:
                found.append(("overlap", f"text overlaps {overlaps}"))
            if screen == "phone":
                wide = page.evaluate(TOO_WIDE_JS)
                if wide or page.evaluate("document.documentElement.scrollWidth") > SCREENS[screen][0] + 1:
                    found.append(("too wide", f"wider than the phone {wide}"))
            problems += [f"{lesson.id}: {detail}" for kind, detail in found if (screen, lesson.id, kind) not in KNOWN]
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(screenshots / f"layout_{screen}_{lang}_{lesson.id}.png"))
        assert not problems, "\n".join(problems)
    finally:
        context.close()


def test_projector_view(browser, app_url, screenshots):
    context, page = _open(browser, app_url, "ko", SCREENS["projector"], "?view=projector")
    try:
        page.wait_for_function("document.body.classList.contains('projector')")
        switch = page.locator("#projector-switch")
        assert switch.is_visible() and switch.get_attribute("aria-pressed") == "true"
        box = page.locator(".gradio-container").first.bounding_box()
        assert abs(box["x"] + box["width"] / 2 - 960) < 20 and box["width"] > 1800, box  # centred, full width
        size = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#tab-nn_types p, .lesson-lead p')).fontSize)"
                             " * (parseFloat(getComputedStyle(document.querySelector('.gradio-container')).zoom) || 1)")
        shot(page, screenshots, "layout_projector_on")
        switch.click()  # and back: the page at its normal size, the address without the view
        page.wait_for_function("!document.body.classList.contains('projector')")
        normal = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#tab-nn_types p, .lesson-lead p')).fontSize)")
        assert size >= 1.4 * normal, (size, normal)
        assert "view=projector" not in page.url and switch.get_attribute("aria-pressed") == "false"
        box = page.locator(".gradio-container").first.bounding_box()
        assert abs(box["x"] + box["width"] / 2 - 960) < 20, box  # centred without it too
    finally:
        context.close()
