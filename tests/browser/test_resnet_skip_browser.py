"""The skip-connection lesson in real Chromium, in Korean and English: on open, the gradient per layer of a
deep plain and a deep residual network (the plain one's vanishes) and both trained; then another depth and
activation, a new training, a seed out of range, and one language per message."""
from __future__ import annotations

import re
import time

import pytest

from core import values
from tabs.resnet_skip.compute import SETTINGS
from tabs.resnet_skip.text import TEXT
from tests.conftest import open_tab, shot, read_note

pytestmark = pytest.mark.browser

TAB = "resnet_skip"
HANGUL = re.compile("[\uac00-\ud7a3]")
GRADIENTS = "#resnet-skip-gradients .js-plotly-plot"
TRAINING = "#resnet-skip-training .js-plotly-plot"

TRACES_JS = """(sel) => { const g = document.querySelector(sel); if (!g || !g._fullData) return null;
    const plain = (v) => (v == null) ? null : Array.from(v);
    return g._fullData.map((t) => ({name: t.name, x: plain(t.x), y: plain(t.y), xaxis: t.xaxis})); }"""


def traces(page, selector: str) -> list[dict]:
    return page.evaluate(TRACES_JS, selector)


def title(page, selector: str) -> str:
    return page.evaluate("(sel) => document.querySelector(sel)?.layout?.title?.text ?? ''", selector)


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def pattern(lang: str, key: str, **known) -> re.Pattern:
    """The lesson's sentence `key` with the `known` values filled in and every other value a named group."""
    names = re.findall(r"{(\w+)}", TEXT.say(lang, key))  # without values: the sentence as written
    regex = re.escape(TEXT.say(lang, key, **{name: known.get(name, f"@{name}@") for name in names}))
    for name in names:
        if name not in known:
            regex = regex.replace(re.escape(f"@{name}@"), f"(?P<{name}>.+?)", 1)
    return re.compile(regex)


def wait_for_text(page, elem_id: str, expected: re.Pattern, timeout: float = 90) -> re.Match:
    """Poll the element's text until it matches (events here answer in seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = expected.search(text_of(page, elem_id))
        if found or time.monotonic() > deadline:
            assert found, f"#{elem_id} never showed {expected.pattern!r}: {text_of(page, elem_id)!r}"
            return found
        page.wait_for_timeout(250)


def wait_for_title(page, selector: str, expected: re.Pattern, timeout: float = 90) -> re.Match:
    deadline = time.monotonic() + timeout
    while True:
        found = expected.fullmatch(title(page, selector))
        if found or time.monotonic() > deadline:
            assert found, f"{selector} title never matched {expected.pattern!r}: {title(page, selector)!r}"
            return found
        page.wait_for_timeout(250)


def check_gradients(page, lang: str, depth: int, activation: str) -> dict[str, list]:
    """One line per network, one point per weight layer (stem, the blocks, head); the title's
    first-over-last ratios are those of the plotted points."""
    found = wait_for_title(page, GRADIENTS, pattern(lang, "gradients_title", depth=depth,
                                                    activation=TEXT.say(lang, f"act_{activation}"), bn=""))
    lines = {t["name"]: t for t in traces(page, GRADIENTS)}
    assert set(lines) == {TEXT.say(lang, "variant_plain"), TEXT.say(lang, "variant_residual")}
    norms = {}
    for variant in ("plain", "residual"):
        line = lines[TEXT.say(lang, f"variant_{variant}")]
        assert line["x"] == list(range(1, depth + 3))
        norms[variant] = line["y"]  # None where the norm is exactly 0 (a log axis cannot show it)
        shown = float(found.group(variant))
        first, last = line["y"][0], line["y"][-1]
        assert last is not None and last > 0
        if first is None:
            assert shown == 0
        else:
            assert abs(shown - first / last) <= 0.06 * (first / last), (variant, shown, first / last)
    return norms


def check_training(page, lang: str, depth: int, activation: str, epochs: int, seed: int) -> dict[str, float]:
    """Learning curves of both networks and the table beside them agree; returns the final accuracies (%)."""
    setup = wait_for_text(page, "resnet-skip-training-text", pattern(
        lang, "training_setup", depth=depth, activation=TEXT.say(lang, f"act_{activation}"), bn="", seed=seed))
    epochs_run = int(setup.group("epochs"))
    assert 1 <= epochs_run <= epochs
    # The text and the chart are separate outputs: the chart of this run may be drawn a moment after the text.
    page.wait_for_function(f"(sel) => {{ const g = document.querySelector(sel); return g && g._fullData &&"
                           f" g._fullData.length === 4 && g._fullData.every(t => t.x && t.x.length === {epochs_run}); }}",
                           arg=TRAINING, timeout=30_000)
    curves = traces(page, TRAINING)
    accuracy = {t["name"]: t for t in curves if t["xaxis"] == "x"}
    assert len(curves) == 4 and set(accuracy) == {TEXT.say(lang, "variant_plain"), TEXT.say(lang, "variant_residual")}
    assert all(t["x"] == list(range(1, epochs_run + 1)) for t in curves)
    row = TEXT.say(lang, "training_table").splitlines()[2].split("|")[1].strip()  # "final validation accuracy"
    shown = next(line for line in text_of(page, "resnet-skip-training-text").splitlines() if line.startswith(row))
    plain, residual = (float(cell.rstrip("%")) for cell in shown.split("\t")[1:3])
    assert abs(plain - 100 * accuracy[TEXT.say(lang, "variant_plain")]["y"][-1]) <= 0.051
    assert abs(residual - 100 * accuracy[TEXT.say(lang, "variant_residual")]["y"][-1]) <= 0.051
    return {"plain": plain, "residual": residual}


def computed_words(page) -> str:
    return "\n".join([text_of(page, "resnet-skip-gradients-text"), text_of(page, "resnet-skip-training-text"),
                      page.locator("#resnet-skip-gradients").inner_text(),
                      page.locator("#resnet-skip-training").inner_text()])


def set_number(page, selector: str, value) -> None:
    box = page.locator(selector)
    box.fill(str(value))
    box.blur()


def run_lesson(page, lang: str, screenshots) -> None:
    assert page.locator(f"#tab-{TAB}-button").first.inner_text().strip() == TEXT.say(lang, "title")
    open_tab(page, TAB)
    # Before any click: the default 30 sigmoid blocks. The plain network's first layers get (almost) nothing,
    # the residual one's get about as much as its last layer; trained, the plain one stays near guessing.
    note = read_note(page, TAB)
    assert ("기울기 소실" if lang == "ko" else "vanishing-gradient problem") in note
    norms = check_gradients(page, lang, depth=30, activation="sigmoid")
    plain_first = norms["plain"][0] or 0.0
    assert plain_first < 1e-6 * norms["plain"][-1]
    assert norms["residual"][0] > 1e-2 * norms["residual"][-1]
    vanish = TEXT.say(lang, "plain_vanishes_zero") if norms["plain"][0] is None else None
    assert vanish is None or vanish in text_of(page, "resnet-skip-gradients-text")
    accuracy = check_training(page, lang, depth=30, activation="sigmoid", epochs=10, seed=0)
    assert accuracy["plain"] < 25 and accuracy["residual"] > 60, accuracy
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    shot(page, screenshots, f"resnet_skip_{lang}_open")

    # another depth and activation: the chart follows at once (no button)
    set_number(page, "#resnet-skip-depth input[type=number]", 10)
    page.locator("#resnet-skip-activation label").filter(has_text=TEXT.say(lang, "act_relu")).click()
    check_gradients(page, lang, depth=10, activation="relu")
    # and both trained for 3 epochs
    set_number(page, "#resnet-skip-epochs input[type=number]", 3)
    page.locator("#resnet-skip-train").click()
    check_training(page, lang, depth=10, activation="relu", epochs=3, seed=0)
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    shot(page, screenshots, f"resnet_skip_{lang}_relu10")

    # a seed out of range: a note in the page's language under the chart, and the page keeps answering
    high = SETTINGS["seed"].high
    _, note = values.clamp(99999, 0, high, 0, TEXT.msg("name_seed"), integer=True)
    set_number(page, "#resnet-skip-seed input", 99999)
    wait_for_text(page, "resnet-skip-gradients-text", re.compile(re.escape(note.say(lang))))
    assert bool(HANGUL.search(note.say(lang))) == (lang == "ko")
    check_gradients(page, lang, depth=10, activation="relu")
    page.locator("#resnet-skip-train").click()
    check_training(page, lang, depth=10, activation="relu", epochs=3, seed=high)
    assert note.say(lang) in text_of(page, "resnet-skip-training-text")
    assert page.locator(".toast-body.error").count() == 0
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    shot(page, screenshots, f"resnet_skip_{lang}_seed_clamped")


def test_skip_connections_ko(page_ko, screenshots):
    run_lesson(page_ko, "ko", screenshots)


def test_skip_connections_en(page_en, screenshots):
    run_lesson(page_en, "en", screenshots)
