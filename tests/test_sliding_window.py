"""The sliding-window animator: every number against torch, the formula, bad input, the figure."""
from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.text import Problem
from tabs.sliding_window import compute as sw
from tabs.sliding_window import tab, view


def _torch_or_none(x, kernel, s, p, d, op):
    try:
        return sw.torch_reference(x, kernel, s, p, d, op)
    except RuntimeError:
        return None


def test_every_output_cell_matches_torch_over_the_whole_parameter_grid():
    """All 3 operations x k 1..7 x s 1..4 x p 0..3 x d 1..3 (1008 combinations) on random inputs of
    random size: every possible combination matches torch to the number, every impossible one is
    refused by both (or by us with a reason where torch has no such operation)."""
    rng = np.random.default_rng(1234)
    matched = refused = 0
    for op, k, s, p, d in itertools.product(sw.OPERATIONS, range(1, 8), range(1, 5), range(0, 4), range(1, 4)):
        h, w = int(rng.integers(3, 17)), int(rng.integers(3, 17))
        x = rng.normal(0, 5, size=(h, w)).round(2)
        kernel = rng.normal(0, 1, size=(k, k)).round(3) if op == "conv" else np.ones((k, k))
        reason = sw.impossible_reason(h, w, k, s, p, d, op)
        if reason is None:
            steps = sw.slide(x, kernel, s, p, d, op)
            ref = sw.torch_reference(x, kernel, s, p, d, op)
            assert steps.output.shape == ref.shape == (sw.output_size(h, k, s, p, d), sw.output_size(w, k, s, p, d))
            np.testing.assert_allclose(steps.output, ref, rtol=1e-12, atol=1e-10)
            assert steps.positions == ref.size
            matched += 1
        else:
            ko, en = reason.say("ko"), reason.say("en")
            assert ko and en and ko != en
            with pytest.raises(Problem):
                sw.slide(x, kernel, s, p, d, op)
            if not (op == "avg" and d != 1):  # torch's avg_pool2d has no dilation argument at all
                assert _torch_or_none(x, kernel, s, p, d, op) is None, (op, h, w, k, s, p, d)
            refused += 1
    assert matched >= 200, matched
    assert refused > 0


def test_max_pooling_pads_with_minus_infinity_and_average_pooling_counts_zero_padding():
    x = -np.arange(1, 10, dtype=float).reshape(3, 3)  # all negative: zero padding would win a max
    steps = sw.slide(x, np.ones((3, 3)), 1, 1, 1, "max")
    assert steps.output[0, 0] == -1.0  # padding is -inf, so the max is a real value
    assert np.isneginf(steps.padded[0, 0])
    np.testing.assert_array_equal(steps.output, F.max_pool2d(torch.tensor(x)[None, None], 3, 1, 1)[0, 0].numpy())
    avg = sw.slide(np.ones((3, 3)), np.ones((3, 3)), 1, 1, 1, "avg")
    assert avg.output[0, 0] == pytest.approx(4 / 9)  # 4 real ones, 5 zero pads, divided by 9
    assert avg.output[1, 1] == pytest.approx(1.0)


def test_every_position_shows_the_window_torch_sees_and_its_products_sum_to_the_output():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 10, size=(7, 8)).astype(float)
    kernel = sw.named_kernel("sobel_x", 3)
    steps = sw.slide(x, kernel, 2, 1, 2, "conv")
    oh, ow = steps.output.shape
    for index in range(steps.positions):
        i, j = divmod(index, ow)
        top, left = i * 2, j * 2
        np.testing.assert_array_equal(steps.windows[index], steps.padded[top:top + 5:2, left:left + 5:2])
        np.testing.assert_allclose(steps.terms[index], steps.windows[index] * kernel)
        assert steps.terms[index].sum() == pytest.approx(steps.output[i, j])


def test_output_size_formula_and_the_worked_example_of_the_notes():
    assert sw.output_size(5, 3, 1, 0, 1) == 3
    assert sw.output_size(5, 3, 2, 0, 1) == 2
    assert sw.output_size(16, 3, 1, 1, 1) == 16  # "same" padding for a 3x3 kernel
    assert sw.output_size(16, 3, 1, 3, 1) == 20
    assert sw.output_size(7, 3, 1, 0, 2) == 3  # dilated span 5
    fig, text, gallery = tab.conv_steps(5, 5, 3, 2, 0, 1, "conv", "random", 0, "cat.jpg", None, None, "box", None)
    assert "⌊(5 + 2·0 − 1·(3−1) − 1) / 2⌋ + 1 = ⌊2 / 2⌋ + 1 = **2**" in text
    assert "**3×3**" in text and "**2×2**" in text  # the notes' example: stride 1 -> 3x3, stride 2 -> 2x2
    assert "교차상관" in text
    assert len(fig.frames) == 4


def test_pooling_text_states_the_padding_convention_in_both_languages():
    _, ko_text, _ = tab.conv_steps(6, 6, 3, 2, 1, 1, "avg", "random", 3, "cat.jpg", None, None, "box", None)
    assert "count_include_pad=True" in ko_text and "0으로 채워서 개수에 포함" in ko_text

    _, en_text, _ = tab.conv_steps(6, 6, 3, 2, 1, 1, "max", "random", 3, "cat.jpg", None, None, "box", None,
                                   lang="en")
    assert "−∞" in en_text and "never win" in en_text


@pytest.mark.parametrize("case", [
    dict(height=3, width=3, kernel_size=5, padding=0),  # window larger than the input
    dict(height=4, width=4, kernel_size=3, dilation=3, padding=0),  # dilated span 7 > 4
    dict(operation="max", kernel_size=3, padding=2),  # pooling padding > k//2
    dict(operation="avg", kernel_size=3, dilation=2),  # average pooling has no dilation
    dict(kernel_name="sobel_x", kernel_size=4),  # Sobel exists for odd sizes only
    dict(kernel_name="laplacian", kernel_size=1),
])
def test_impossible_combinations_get_a_message_in_both_languages(case):
    args = dict(height=5, width=5, kernel_size=3, stride=1, padding=0, dilation=1, operation="conv",
                source="random", seed=0, kernel_name="box")
    args.update(case)
    with pytest.raises(Problem) as err:
        tab.conv_steps(**args)
    ko, en = err.value.say("ko"), err.value.say("en")
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ko)  # Korean text
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in en) and en != ko  # English only


def test_absurd_api_values_are_clamped_with_a_note_or_refused():
    fig, text, _ = tab.conv_steps(float("inf"), 1e400, -5, 99, -1, 2.6, "conv", "random", -3, "cat.jpg", None, None,
                                 "identity", None)
    # inf -> 16, 1e400 (inf) -> 16, -5 -> 1, 99 -> 4, -1 -> 0, 2.6 -> 3, seed -3 -> 0
    assert text.startswith("> **바꾼 값**")
    adjusted = text.splitlines()[0]
    assert adjusted.count("<br>") + 1 == 7 and adjusted.count("맞췄습니다") == 6 and "반올림" in adjusted
    assert "⌊(16 + 2·0 − 3·(1−1) − 1) / 4⌋ + 1 = ⌊15 / 4⌋ + 1 = **4**" in text
    assert len(fig.frames) == 16
    # NaN and text have no nearest value: the default is used, and the note says so
    _, text, _ = tab.conv_steps(5, float("nan"), lang="en")
    assert "Input width was not a number; using 5" in text
    _, text, _ = tab.conv_steps("five", lang="en")
    assert "Input height was not a number; using 5" in text
    for bad in (dict(operation="median"), dict(kernel_name="emboss"), dict(source="camera")):
        with pytest.raises(Problem):
            tab.conv_steps(**bad)


def test_settings_are_clamped_into_range_with_notes():
    st = sw.read_setting(height=float("inf"), stride=-1e300, padding=2.4, dilation=3)
    assert (st.height, st.stride, st.padding, st.dilation) == (16, 1, 2, 3)
    assert len(st.notes) == 3
    assert [n.say("en") for n in st.notes] == ["Input height must be from 3 to 16; using 16.",
                                               "Stride must be from 1 to 4; using 1.",
                                               "Padding must be a whole number; rounded to 2."]
    st = sw.read_setting(height=None)
    assert st.height == 5 and "숫자가 아니어서" in st.notes[0].say("ko")


def test_typed_tables_are_fitted_and_bad_cells_refused():
    notes = []
    grid = sw.parse_grid([[1, 2, 3, 4], [5, None, "7", ""]], 3, 3, "input", notes)
    np.testing.assert_array_equal(grid, [[1, 2, 3], [5, 0, 7], [0, 0, 0]])
    assert notes and "fitted to 3×3" in notes[0].say("en")
    for bad in ([[1, "x"]], [[float("nan")]], [[float("inf")]], [[1e300]]):
        with pytest.raises(Problem) as err:
            sw.parse_grid(bad, 2, 2, "input", [])
        assert "row 1" in err.value.say("en")
    typed = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    kernel = [[0, 0, 0], [0, 2, 0], [0, 0, 0]]
    fig, text, _ = tab.conv_steps(3, 3, 3, 1, 1, 1, "conv", "typed", 0, "cat.jpg", None, typed, "typed", kernel)
    ref = F.conv2d(torch.tensor(typed, dtype=torch.float64)[None, None],
                   torch.tensor(kernel, dtype=torch.float64)[None, None], padding=1)[0, 0].numpy()
    out_trace = fig.to_dict()["data"][-3]  # output values, then the cover, then the current-cell box
    np.testing.assert_allclose(np.array(out_trace["z"], dtype=float), ref)
    np.testing.assert_allclose(ref, 2 * np.array(typed))


def test_named_kernels():
    np.testing.assert_array_equal(sw.named_kernel("sobel_x", 3), [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    np.testing.assert_array_equal(sw.named_kernel("sobel_y", 3), [[-1, -2, -1], [0, 0, 0], [1, 2, 1]])
    np.testing.assert_array_equal(sw.named_kernel("laplacian", 3), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    for k in range(1, 8):
        assert sw.named_kernel("box", k).sum() == pytest.approx(1.0)
        assert sw.named_kernel("identity", k).sum() == 1.0
        assert sw.named_kernel("sharpen", k).sum() == pytest.approx(1.0)  # keeps flat areas unchanged
    for k in (5, 7):
        assert sw.named_kernel("sobel_x", k).sum() == 0 and sw.named_kernel("laplacian", k).sum() == 0
        assert (sw.named_kernel("sobel_x", k)[:, -1] > 0).all()  # bright on the right -> positive


def test_photo_input_is_the_photo_shrunk_to_the_grid():
    gray = sw.photo_gray("cat.jpg", None)
    assert gray.dtype == np.uint8 and max(gray.shape) == sw.PHOTO_SIDE
    small = sw.photo_input(gray, 8, 12)
    assert small.shape == (8, 12) and 0 <= small.min() and small.max() <= 255
    assert abs(small.mean() - gray.mean()) < 3  # area averaging keeps the brightness
    with pytest.raises(Problem):
        sw.photo_gray("missing.jpg", None)


def test_filter2d_on_the_photo_is_torch_conv2d_and_stride_keeps_every_sth_result():
    gray = sw.photo_gray("coffee.jpg", None, max_side=64)
    for kernel, s, p, d in [(sw.named_kernel("sobel_x", 3), 2, 1, 1), (sw.named_kernel("laplacian", 5), 3, 0, 2),
                            (np.arange(16.0).reshape(4, 4) - 8, 1, 3, 1)]:
        full, strided = sw.conv_photo(gray, kernel, s, p, d)
        ref = F.conv2d(torch.tensor(gray, dtype=torch.float64)[None, None],
                       torch.tensor(kernel, dtype=torch.float64)[None, None], stride=s, padding=p, dilation=d)[0, 0]
        np.testing.assert_allclose(strided, ref.numpy(), rtol=1e-4, atol=1e-2)
        assert full.shape == (sw.output_size(gray.shape[0], kernel.shape[0], 1, p, d),
                              sw.output_size(gray.shape[1], kernel.shape[0], 1, p, d))


def test_photo_panel_shows_original_kernel_stride_and_both_poolings():
    gray = sw.photo_gray("rocket.jpg", None)
    result = sw.run(kernel_size=3, stride=2, padding=1, dilation=1, kernel_name="sobel_y", photo_choice="rocket.jpg")
    items = view.photo_panel(result, "en")
    captions = [c for _, c in items]
    assert len(items) == 5
    assert captions[0].startswith("Original") and "|value|" in captions[1] and "s=2" in captions[2]
    assert captions[3].startswith("Max pool") and captions[4].startswith("Avg pool")
    h, w = gray.shape
    assert f"{sw.output_size(w, 3, 2, 1, 1)}×{sw.output_size(h, 3, 2, 1, 1)}" in captions[2]
    assert all(img.dtype == np.uint8 and img.ndim == 3 for img, _ in items)
    edges = items[1][0]
    assert edges.std() > 10  # an edge kernel on a real photo finds edges, not a flat image


def test_animation_figure_has_one_light_frame_per_position():
    x = sw.random_input(16, 16, 0)
    steps = sw.slide(x, sw.named_kernel("sharpen", 3), 1, 3, 1, "conv")
    fig = view.build_figure(steps, "ko")
    spec = fig.to_dict()
    frames = fig.frames
    assert len(frames) == steps.positions == 400
    assert len(spec["layout"]["sliders"][0]["steps"]) == 400
    assert [b["method"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["animate"] * 3
    # each frame updates only the moving traces (5 of them), never the whole input or output map
    assert all(len(f["traces"]) == 5 for f in frames)
    moving = frames[0]["traces"]
    n_traces = len(spec["data"])
    assert max(moving) < n_traces
    cover = spec["data"][moving[3]]
    assert cover["type"] == "heatmap"
    # the cover hides cells after the current one: at the last frame nothing is hidden
    last = frames[-1]["data"][3]
    assert (399 - last["zmin"]) / (last["zmax"] - last["zmin"]) < 0.5
    first = frames[0]["data"][3]
    assert (1 - first["zmin"]) / (first["zmax"] - first["zmin"]) > 0.5
    size = len(fig.to_json())
    assert size < 700_000, size
    assert frames[5]["data"][2]["text"][0].startswith("Σ = ")
    go_fig = fig.to_figure()  # a valid plotly figure with real frames
    assert len(go_fig.frames) == 400
    json.loads(fig.to_json())


def test_main_event_is_public_as_conv_steps():
    import gradio as gr

    from core.page import Page
    from core.settings import Settings

    with gr.Blocks() as demo:
        tab.build(Page(Settings(), demo))
    names = [fn.api_name for fn in demo.fns.values() if getattr(fn, "api_name", None)]
    assert "conv_steps" in names


def test_the_controls_are_made_from_the_declared_settings():
    import gradio as gr

    from core.page import Page
    from core.settings import Settings

    with gr.Blocks() as demo:
        tab.build(Page(Settings(), demo))
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    for name, elem_id in tab.SLIDERS.items():
        setting, slider = sw.SETTINGS[name], by_id[elem_id]
        assert (slider.minimum, slider.maximum, slider.step, slider.value) == (setting.low, setting.high, 1,
                                                                               setting.default)
    assert (by_id["sw-k"].minimum, by_id["sw-k"].maximum, by_id["sw-stride"].maximum) == (1, 7, 4)  # the page's ranges
    assert by_id["sw-seed"].precision == 0 and by_id["sw-seed"].value == 0
    for name, elem_id in (("operation", "sw-operation"), ("source", "sw-source"), ("kernel_name", "sw-kernel")):
        control = by_id[elem_id]
        assert [value for _, value in control.choices] == list(sw.SETTINGS[name].choices)
        assert control.value == sw.SETTINGS[name].default


def test_the_settings_a_teacher_sends_the_class_are_read_as_a_students_are():
    class_settings = {setting.name for setting in sw.SETTINGS.for_class()}
    assert {"kernel_size", "stride", "padding", "dilation", "operation"} <= class_settings
    assert "photo_upload" not in sw.SETTINGS  # a student's own photo is never sent to the class
    notes = []
    sent = sw.SETTINGS.take_all({"kernel_size": 5, "stride": 2, "operation": "max", "padding": 9}, notes)
    assert sent == {"kernel_size": 5, "stride": 2, "operation": "max", "padding": 3}
    assert [note.say("en") for note in notes] == ["Padding must be from 0 to 3; using 3."]
    result = sw.run(height=9, width=9, **{**sent, "padding": 2})
    assert (result.setting.kernel_size, result.setting.stride, result.steps.operation) == (5, 2, "max")
    assert result.steps.output.shape == (sw.output_size(9, 5, 2, 2, 1),) * 2


def test_the_step_buttons_and_the_frames_use_plotlys_public_api_only():
    for script in (tab.STEP_JS, tab.FRAMES_JS):
        # no private Plotly state (gd._fullLayout, gd._transitionData); our own marks are gd.__sw...
        assert not re.search(r"\._[A-Za-z]", script), script
    assert "gd.layout.sliders[0].active" in tab.STEP_JS and "Plotly.animate" in tab.STEP_JS
    assert "frames: meta.sw_frames" in tab.FRAMES_JS  # Plotly.react with a whole figure replaces the frames


def test_ui_events_keep_the_last_animation_and_explain_an_impossible_setting(monkeypatch):
    import gradio as gr

    warnings = []
    monkeypatch.setattr(gr, "Warning", lambda message, **kw: warnings.append(message))
    plot, text, gallery = tab.conv_steps_ui(5, 5, 3, 1, 3, 1, "max", "random", 0, "cat.jpg", None, None, "box", None)
    assert isinstance(plot, type(gr.skip())) and isinstance(gallery, type(gr.skip()))
    assert "계산할 수 없는 설정" in text and "p ≤ k//2 = 1" in text
    assert warnings == [text.split("\n\n", 1)[1]]  # the same one-language message, as a warning too
    _, english, _ = tab.conv_steps_ui(5, 5, 3, 1, 3, 1, "max", "random", 0, "cat.jpg", None, None, "box", None,
                                      lang="en")
    assert "This setting cannot run" in english and "pooling the padding must be at most half" in english
    assert "풀링" not in english
    fig, text, gallery = tab.conv_steps_ui(5, 5, 3, 1, 1, 1, "max", "random", 0, "cat.jpg", None, None, "box", None)
    assert len(fig.frames) == 25 and gallery.ndim == 3 and gallery.shape[1] > 5 * gallery.shape[0] // 2


@pytest.mark.parametrize("k, s, p, d, op", [(3, 2, 1, 1, "max"), (2, 2, 0, 1, "max"), (3, 1, 1, 2, "max"),
                                             (5, 3, 2, 1, "avg"), (4, 2, 2, 1, "avg")])
def test_photo_pooling_is_torch_pooling(k, s, p, d, op):
    gray = sw.photo_gray("astronaut.jpg", None, max_side=48)
    ours = sw.pool_photo(gray, k, s, p, d, op)
    xt = torch.tensor(gray, dtype=torch.float32)[None, None]
    ref = (F.max_pool2d(xt, k, s, p, d) if op == "max" else F.avg_pool2d(xt, k, s, p, count_include_pad=True))[0, 0]
    np.testing.assert_allclose(ours, ref.numpy(), rtol=1e-5, atol=1e-3)


def test_the_photo_panel_is_one_picture_with_a_caption_over_each_part():
    result = sw.run(kernel_size=3, stride=2, padding=1, kernel_name="sobel_x", photo_choice="cat.jpg")
    items = view.photo_panel(result, "ko")
    strip = view.photo_strip(result, "ko")
    assert strip.shape[0] == view.CAPTION_H + max(p.shape[0] for p, _ in items)
    assert strip.shape[1] == sum(p.shape[1] for p, _ in items) + view.STRIP_GAP * (len(items) - 1)
    x = 0
    for picture, _ in items:  # every part sits under its caption band, unchanged
        np.testing.assert_array_equal(strip[view.CAPTION_H:view.CAPTION_H + picture.shape[0], x:x + picture.shape[1]],
                                      picture)
        assert (strip[: view.CAPTION_H - 4, x:x + picture.shape[1]] != (40, 40, 40)).any()  # a caption is drawn
        x += picture.shape[1] + view.STRIP_GAP
