"""The kinds-of-networks lesson in real Chromium, in Korean and English: the worked example shown on open
(MLP vs CNN before and after the pixel shuffle, LSTM vs attention timed), a new training, a new timing, a
seed out of range, and one language per message."""
from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.datasets import load_digits

from core import values
from tabs.nn_types.compute import SETTINGS
from tabs.nn_types.text import TEXT
from tests.conftest import open_tab, shot, read_note

pytestmark = pytest.mark.browser

TAB = "nn_types"
HANGUL = re.compile("[\uac00-\ud7a3]")
PLOTS = {name: f"#nn-types-{name} .js-plotly-plot" for name in ("curves", "digits", "timing")}
SIDE = 8  # sklearn's digits are 8x8 scans

# Plotly's own reading of each trace (typed arrays made plain), as the chart draws it.
TRACES_JS = """(sel) => { const g = document.querySelector(sel); if (!g || !g._fullData) return null;
    const plain = (v) => (v == null) ? null : (ArrayBuffer.isView(v) || Array.isArray(v))
        ? Array.from(v, (r) => (ArrayBuffer.isView(r) || Array.isArray(r)) ? Array.from(r) : r) : v;
    return g._fullData.map((t) => ({name: t.name, x: plain(t.x), y: plain(t.y), z: plain(t.z), xaxis: t.xaxis})); }"""


def traces(page, name: str) -> list[dict]:
    return page.evaluate(TRACES_JS, PLOTS[name])


def layout(page, name: str) -> dict:
    return page.evaluate("(sel) => { const l = document.querySelector(sel).layout;"
                         " return {title: l.title && l.title.text, annotations: (l.annotations || []).map(a => a.text),"
                         " yticks: l.yaxis && l.yaxis.ticktext, xticks: l.xaxis && l.xaxis.ticktext}; }", PLOTS[name])


def text_of(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id}").inner_text()


def summary_numbers(summary: str) -> dict[str, list[float]]:
    """The result table as shown: {row label: [MLP, CNN]} (weights, accuracies in %, change in points)."""
    rows = {}
    for line in summary.splitlines():
        cells = [c.strip() for c in line.split("\t") if c.strip()]
        if len(cells) == 3:
            try:
                rows[cells[0]] = [float(c.replace(",", "").replace("%", "")) for c in cells[1:]]
            except ValueError:  # the header row (MLP, CNN)
                pass
    return rows


def check_summary(page, lang: str, seed: int, epochs: int) -> dict[str, list[float]]:
    """The table of the four trainings agrees with itself and with the learning curves beside it."""
    say = lambda key: TEXT.say(lang, key)  # noqa: E731
    rows = summary_numbers(text_of(page, "nn-types-summary"))
    original, permuted, change = rows[say("row_acc_original")], rows[say("row_acc_permuted")], rows[say("row_change")]
    assert rows[say("row_params")][0] > 1000 and rows[say("row_params")][1] > 1000
    for arch in range(2):  # the change row is the shuffled accuracy minus the original one (both shown rounded)
        assert 0 < original[arch] <= 100 and 0 < permuted[arch] <= 100
        assert abs(change[arch] - (permuted[arch] - original[arch])) <= 0.11, rows
    # the curves: four runs, accuracy (left) and loss (right), as many epochs as the summary says
    curves = traces(page, "curves")
    accuracy = [t for t in curves if t["xaxis"] == "x"]
    assert len(accuracy) == 4 and len([t for t in curves if t["xaxis"] == "x2"]) == 4
    run_names = {t["name"]: t for t in accuracy}
    assert set(run_names) == {TEXT.say(lang, "run_name", arch=TEXT.msg(f"arch_{a}"), pixels=TEXT.msg(f"pixels_{p}"))
                              for a in ("mlp", "cnn") for p in ("original", "permuted")}
    epochs_run = len(accuracy[0]["x"])
    assert 1 <= epochs_run <= epochs and all(len(t["x"]) == epochs_run for t in curves)
    setup = text_of(page, "nn-types-summary")
    assert (f"에포크 {epochs_run}, 시드 {seed}" if lang == "ko" else f"{epochs_run} epochs, seed {seed}") in setup
    # the table's accuracies are the last points of the curves
    for arch, column in (("mlp", 0), ("cnn", 1)):
        for pixels, row in (("original", original), ("permuted", permuted)):
            name = TEXT.say(lang, "run_name", arch=TEXT.msg(f"arch_{arch}"), pixels=TEXT.msg(f"pixels_{pixels}"))
            assert abs(100 * run_names[name]["y"][-1] - row[column]) <= 0.051
    return rows


def check_digits(page, lang: str) -> None:
    """Top row: real sklearn digits, one of each class; bottom row: the same digits under ONE pixel shuffle."""
    shown = layout(page, "digits")
    assert shown["title"] == TEXT.say(lang, "digits_title")
    assert shown["yticks"] == [TEXT.say(lang, "pixels_original"), TEXT.say(lang, "pixels_permuted")]
    labels = [int(t) for t in shown["xticks"]]
    assert sorted(labels) == list(range(10))
    canvas = np.array(traces(page, "digits")[0]["z"], dtype=float)
    assert canvas.shape == (2 * SIDE + 1, 10 * (SIDE + 1) - 1)
    tiles = lambda row: [canvas[row:row + SIDE, i * (SIDE + 1):i * (SIDE + 1) + SIDE] for i in range(10)]  # noqa: E731
    top, bottom = tiles(0), tiles(SIDE + 1)
    digits = load_digits()
    for label, picture in zip(labels, top):
        scans = digits.images[digits.target == label] / 16.0
        assert np.abs(scans - picture).max(axis=(1, 2)).min() < 1e-6, f"digit {label} is not one of sklearn's"
    # one permutation for all ten: bottom pixel p = top pixel perm[p] in every digit at once
    flat_top = np.stack([t.ravel() for t in top])  # (10, 64)
    flat_bottom = np.stack([t.ravel() for t in bottom])
    mismatch = (np.abs(flat_bottom[:, :, None] - flat_top[:, None, :]) > 1e-6).sum(axis=0)  # (64 new, 64 old)
    rows, cols = linear_sum_assignment(mismatch)
    assert mismatch[rows, cols].sum() == 0, "the shuffled digits are not one permutation of the originals"
    assert (cols != np.arange(SIDE * SIDE)).sum() > SIDE * SIDE / 2  # and it really moves the pixels
    assert not np.allclose(flat_top, flat_bottom)


def check_timing(page, lang: str, max_length: int, whole: bool = False) -> None:
    """One line per model in time and memory, lengths doubling up to the chosen one (`whole`: all of them; a
    click's time budget may leave the longest out); the scores grow as n²."""
    lines = traces(page, "timing")
    names = [t["name"] for t in lines]
    lstm, attention = TEXT.say(lang, "model_lstm"), TEXT.say(lang, "model_attention")
    assert names.count(lstm) == 2 and names.count(attention) == 2 and TEXT.say(lang, "model_scores") in names
    lengths = lines[0]["x"]
    assert lengths[0] == 16 and all(b == 2 * a for a, b in zip(lengths, lengths[1:])) and len(lengths) >= 3
    assert lengths[-1] == max_length if whole else lengths[-1] <= max_length
    for line in lines:
        assert line["x"] == lengths and all(v is not None and v > 0 for v in line["y"])
    scores = next(t for t in lines if t["name"] == TEXT.say(lang, "model_scores"))["y"]
    assert all(abs(b / a - 4) < 1e-9 for a, b in zip(scores, scores[1:]))  # twice the length, four times the scores
    table = text_of(page, "nn-types-timing-table")
    table_lengths = [int(line.split("\t")[0]) for line in table.splitlines() if re.match(r"^\d+\t", line)]
    assert table_lengths == lengths
    assert layout(page, "timing")["annotations"][:2] == [TEXT.say(lang, "time_axis"), TEXT.say(lang, "memory_axis")]


def computed_words(page) -> str:
    """Every word the lesson computed for the page (tables, notes, chart texts), not the fixed labels."""
    return "\n".join([text_of(page, "nn-types-summary"), text_of(page, "nn-types-timing-table"),
                      page.locator("#nn-types-curves").inner_text(), page.locator("#nn-types-digits").inner_text(),
                      page.locator("#nn-types-timing").inner_text()])


def open_with_worked_example(page, lang: str) -> None:
    assert page.locator(f"#tab-{TAB}-button").first.inner_text().strip() == TEXT.say(lang, "title")
    open_tab(page, TAB)
    # before any click: the four trainings (computed at warm-up), the digits and one timing
    page.wait_for_function("(words) => document.querySelector('#nn-types-summary')?.innerText.includes(words)",
                           arg=TEXT.say(lang, "row_change"), timeout=120_000)
    page.wait_for_function("() => document.querySelector('#nn-types-timing-table')?.innerText.includes('1024')",
                           timeout=120_000)
    for plot in PLOTS.values():
        page.wait_for_selector(plot, timeout=60_000)
    note = read_note(page, TAB)
    assert ("MLP는 모든 입력을" if lang == "ko" else "An MLP connects every input") in note
    check_summary(page, lang, seed=0, epochs=15)
    check_digits(page, lang)
    check_timing(page, lang, max_length=1024, whole=True)  # measured at start-up without a time budget
    assert layout(page, "curves")["annotations"][:2] == [TEXT.say(lang, "val_acc_axis"),
                                                         TEXT.say(lang, "train_loss_axis")]


def set_number(page, selector: str, value) -> None:
    box = page.locator(selector)
    box.fill(str(value))
    box.blur()


def train(page, seed, epochs: int, expect: str) -> None:
    """Set seed and epochs, press the training button, wait for the summary that mentions `expect`."""
    set_number(page, "#nn-types-seed input", seed)
    set_number(page, "#nn-types-epochs input[type=number]", epochs)
    page.locator("#nn-types-train").click()
    page.wait_for_function("(words) => document.querySelector('#nn-types-summary')?.innerText.includes(words)",
                           arg=expect, timeout=90_000)


def measure(page, max_length: int) -> None:
    page.locator("#nn-types-max-length input").click()
    page.get_by_role("option", name=str(max_length), exact=True).click()
    page.locator("#nn-types-measure").click()
    page.wait_for_function(
        """([sel, n]) => { const g = document.querySelector(sel);
             return g && g._fullData && g._fullData.length && g._fullData[0].x[g._fullData[0].x.length - 1] === n; }""",
        arg=[PLOTS["timing"], max_length], timeout=60_000)


def seed_words(lang: str, seed: int) -> str:
    return f"시드 {seed}." if lang == "ko" else f"seed {seed}."


def run_lesson(page, lang: str, screenshots) -> None:
    open_with_worked_example(page, lang)
    shot(page, screenshots, f"nn_types_{lang}_open")
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    digits_before = traces(page, "digits")[0]["z"]

    # a new training: seed 1, 3 epochs (within the time budget even on a busy 2-core machine)
    train(page, 1, 3, seed_words(lang, 1))
    check_summary(page, lang, seed=1, epochs=3)
    check_digits(page, lang)
    assert traces(page, "digits")[0]["z"] != digits_before  # seed 1: another split and another shuffle
    # a new timing, up to 256
    measure(page, 256)
    check_timing(page, lang, max_length=256)
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    shot(page, screenshots, f"nn_types_{lang}_trained")

    # a seed out of range: a note in the page's language, and the training still answers (with the highest seed)
    high = SETTINGS["seed"].high
    _, note = values.clamp(99999, 0, high, 0, TEXT.msg("name_seed"), integer=True)
    train(page, 99999, 2, note.say(lang))
    check_summary(page, lang, seed=high, epochs=2)
    assert bool(HANGUL.search(note.say(lang))) == (lang == "ko")
    assert page.locator(".toast-body.error").count() == 0
    measure(page, 128)  # and the rest of the page keeps working
    check_timing(page, lang, max_length=128)
    assert bool(HANGUL.search(computed_words(page))) == (lang == "ko")
    shot(page, screenshots, f"nn_types_{lang}_seed_clamped")


def test_kinds_of_networks_ko(page_ko, screenshots):
    run_lesson(page_ko, "ko", screenshots)


def test_kinds_of_networks_en(page_en, screenshots):
    run_lesson(page_en, "en", screenshots)
