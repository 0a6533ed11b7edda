"""ViT tab: rollout maths, patch-grid arithmetic, position similarity, and the full path on the test zoo."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from core import models
from core.i18n import UserError
from core.zoo import vit as vit_zoo
from tabs import vit_attention as va

ROOT = va.EXAMPLES.parent.parent
CAT = str(va.EXAMPLES / "cat.jpg")


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------- rollout on hand-made attention


def test_rollout_of_identity_attention_is_identity():
    layers = np.stack([np.eye(5)] * 4)
    np.testing.assert_allclose(va.attention_rollout(layers), np.eye(5), atol=1e-6)


def test_rollout_of_uniform_attention_has_closed_form():
    # Each layer: (U + I) / 2 with U the uniform matrix (U @ U = U), so L layers give
    # 0.5^L I + (1 - 0.5^L) U.
    tokens, depth = 5, 3
    uniform = np.full((tokens, tokens), 1 / tokens)
    rollout = va.attention_rollout(np.stack([uniform] * depth))
    expected = 0.5 ** depth * np.eye(tokens) + (1 - 0.5 ** depth) * uniform
    np.testing.assert_allclose(rollout, expected, atol=1e-6)
    assert rollout[0, 0] == pytest.approx(0.125 + 0.875 / 5, abs=1e-6)


def test_rollout_two_layers_worked_by_hand():
    a1 = np.array([[1.0, 0.0], [0.5, 0.5]])
    a2 = np.array([[0.5, 0.5], [0.0, 1.0]])
    # (A1 + I) rows renormalised: [[1, 0], [0.25, 0.75]]; (A2 + I): [[0.75, 0.25], [0, 1]].
    # R = A2' @ A1' = [[0.75*1 + 0.25*0.25, 0.25*0.75], [0.25, 0.75]] = [[0.8125, 0.1875], [0.25, 0.75]].
    rollout = va.attention_rollout(np.stack([a1, a2]))
    np.testing.assert_allclose(rollout, [[0.8125, 0.1875], [0.25, 0.75]], atol=1e-6)
    np.testing.assert_allclose(va.attention_rollout(np.stack([a1, a2]), upto=1), [[1, 0], [0.25, 0.75]], atol=1e-6)
    np.testing.assert_allclose(va.attention_rollout(np.stack([a1, a2]), upto=0), np.eye(2), atol=1e-6)


def test_rollout_rows_stay_distributions_and_order_matters():
    rng = np.random.default_rng(0)
    layers = softmax_rows(rng.normal(size=(6, 9, 9)) * 3)
    rollout = va.attention_rollout(layers)
    np.testing.assert_allclose(rollout.sum(axis=1), 1.0, atol=1e-5)
    assert (rollout >= 0).all()
    reversed_rollout = va.attention_rollout(layers[::-1])
    assert not np.allclose(rollout, reversed_rollout, atol=1e-3)  # a product, not a sum: layer order counts


def test_rollout_row_matches_the_full_rollout():
    rng = np.random.default_rng(1)
    layers = softmax_rows(rng.normal(size=(5, 11, 11)) * 2)
    for upto in (None, 0, 1, 3, 5):
        full = va.attention_rollout(layers, upto=upto)
        for token in (0, 4):
            np.testing.assert_allclose(va.rollout_row(layers, token, upto), full[token], atol=1e-5)


def test_rollout_rejects_non_square_attention():
    with pytest.raises(ValueError):
        va.attention_rollout(np.ones((2, 3, 4)))


# ---------------------------------------------------------------- patch-grid arithmetic


@pytest.mark.parametrize("patch, side", [(14, 16), (16, 14), (32, 7)])
def test_patch_grid_for_224_pixels(patch, side):
    assert va.patch_grid(224, patch) == (side, side)


def test_patch_grid_non_square_remainders_and_errors():
    assert va.patch_grid(384, 16) == (24, 24)
    assert va.patch_grid((224, 160), 32) == (7, 5)
    assert va.patch_grid(230, 16) == (14, 14)  # the strided convolution drops the 6 leftover pixels
    assert va.patch_grid(224, (16, 32)) == (14, 7)
    with pytest.raises(ValueError):
        va.patch_grid(16, 32)


@pytest.mark.parametrize("patch", [14, 16, 32])
def test_patch_box_and_patch_at_round_trip(patch):
    rows, cols = va.patch_grid(224, patch)
    scale = va.display_scale((224, 224), va.GRID_SIDE)
    height = width = 224 * scale
    for index in range(rows * cols):
        x0, y0, x1, y1 = va.patch_box(index, rows, cols, height, width)
        assert x1 - x0 == patch * scale and y1 - y0 == patch * scale  # integer zoom keeps patches whole
        assert va.patch_at((x0 + x1) / 2, (y0 + y1) / 2, rows, cols, height, width) == index
        assert va.patch_at(x0, y0, rows, cols, height, width) == index
    assert va.patch_at(-50, -50, rows, cols, height, width) == 0
    assert va.patch_at(10 * width, 10 * height, rows, cols, height, width) == rows * cols - 1
    assert va.patch_at(width - 1, 0, rows, cols, height, width) == cols - 1


# ---------------------------------------------------------------- position embeddings


def test_position_similarity_of_smooth_2d_embeddings_peaks_at_the_patch_and_falls_with_distance():
    rows = cols = 7
    ys, xs = np.divmod(np.arange(rows * cols), cols)
    freqs = np.array([0.3, 0.6, 0.9])
    patch_embed = np.concatenate([np.sin(np.outer(ys, freqs)), np.cos(np.outer(ys, freqs)),
                                  np.sin(np.outer(xs, freqs)), np.cos(np.outer(xs, freqs))], axis=1)
    pos_embed = np.concatenate([np.full((1, patch_embed.shape[1]), 5.0), patch_embed])  # [CLS] first, ignored
    sim = va.position_similarity(pos_embed, n_prefix=1)
    assert sim.shape == (49, 49)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-9)
    np.testing.assert_allclose(sim, sim.T, atol=1e-12)
    for p in range(49):
        assert int(np.argmax(sim[p])) == p
    centre = 3 * cols + 3
    assert sim[centre, centre + 1] > sim[centre, centre + 3]  # nearer positions are more alike


def test_similarity_pictures_have_the_grid_shape():
    sim = np.eye(16)
    one = va.render_similarity(sim[5], 4, 4, 5, side=80)
    assert one.shape == (80, 80, 3)
    grid = va.render_similarity_grid(sim, 4, 4, side=64)
    cell, gap = 64 // 16, 2
    assert grid.shape == (4 * (4 * cell + gap) + gap,) * 2 + (3,)


# ---------------------------------------------------------------- clamping what the API may send


def test_clamp_choice_fixes_absurd_values_with_notes():
    ok = va.clamp_choice(2, "3", 10, num_layers=12, num_heads=3, num_patches=196)
    assert (ok.layer, ok.head, ok.patch, ok.notes) == (2, 3, 10, [])
    mean = va.clamp_choice(5, "mean", 0, 12, 3, 196)
    assert mean.head is None and mean.notes == []
    bad = va.clamp_choice(float("nan"), "7", -5, 12, 3, 196)
    assert (bad.layer, bad.head, bad.patch) == (12, None, 0)
    assert len(bad.notes) == 3 and all("\n" in n for n in bad.notes)  # Korean line, then English
    big = va.clamp_choice(99, None, float("inf"), 12, 3, 196)
    assert (big.layer, big.head, big.patch) == (12, None, 0)
    assert va.clamp_choice("abc", 1, 400, 2, 3, 49).patch == 48


# ---------------------------------------------------------------- the full path on the test zoo


@pytest.mark.parametrize("patch", [14, 16, 32])
def test_full_path_for_any_patch_size(patch):
    vit = vit_zoo.build_vit(f"test_p{patch}", image_size=224, patch_size=patch, hidden_size=24,
                            num_hidden_layers=2, num_attention_heads=3)
    rows, cols = va.patch_grid(224, patch)
    n = rows * cols
    result = va.analyze(vit, CAT, layer=2, head="mean", patch=None, use_cache=False)
    f = result.forward
    assert (f.rows, f.cols, f.n_prefix) == (rows, cols, 1)
    assert f.attentions.shape == (2, 3, n + 1, n + 1)
    np.testing.assert_allclose(f.attentions.sum(axis=-1), 1.0, atol=1e-4)  # softmax rows
    assert f.pos_embed.shape == (n + 1, 24)
    assert f.view.size == (224, 224)
    assert result.choice.patch == (rows // 2) * cols + cols // 2
    grid_side = 224 * va.display_scale((224, 224), va.GRID_SIDE)
    side = 224 * va.display_scale((224, 224))
    assert result.patches.shape == (grid_side, grid_side, 3)
    for picture in (result.cls_attention, result.rollout, result.patch_attention):
        assert picture.shape == (side, side, 3) and picture.dtype == np.uint8
    strip_tiles = math.ceil((n + 1) / 24)
    assert result.strip.shape[0] == strip_tiles * (28 + 14 + 4) + 4
    assert result.heads.shape == (168 + 12, 4 * (168 + 6) + 6, 3)  # mean + 3 heads in one line
    assert len(result.top5) == 5 and 0 < sum(result.top5.values()) <= 1.0 + 1e-6


def test_chosen_patch_is_marked_in_yellow():
    vit = vit_zoo.build_vit("test_mark", patch_size=32, hidden_size=24, num_hidden_layers=1)
    result = va.analyze(vit, CAT, patch=8, use_cache=False)
    x0, y0, x1, y1 = va.patch_box(8, 7, 7, *result.patch_attention.shape[:2])
    assert tuple(result.patch_attention[y0 + 1, (x0 + x1) // 2]) == va.HIGHLIGHT
    assert tuple(result.patches[0, 0]) != va.HIGHLIGHT


def test_head_and_layer_choices_change_the_maps():
    vit = vit_zoo.build_vit("test_heads", hidden_size=24, num_hidden_layers=2, num_attention_heads=3)
    first = va.analyze(vit, CAT, layer=1, head="1", patch=3)
    second = va.analyze(vit, CAT, layer=2, head="2", patch=3)
    assert first.forward is second.forward  # one forward pass per photo, then the cache answers
    assert not np.array_equal(first.cls_attention, second.cls_attention)
    assert not np.array_equal(first.rollout, second.rollout)
    mean = va.head_attention(first.forward.attentions, 0, None)
    np.testing.assert_allclose(mean, first.forward.attentions[0].mean(axis=0))


def test_loader_test_zoo_and_defaults():
    vit = vit_zoo.load_vit("deit_tiny", device="cpu")
    assert not vit.real_weights
    assert vit.grid == (14, 14) and vit.attn_implementation == "eager"
    assert len(vit.labels) == 1000
    layers, heads, patches = vit_zoo.model_shape("deit_tiny")
    assert (vit.num_layers, vit.num_heads, 196) == (layers, heads, patches)
    assert vit_zoo.model_shape("vit_base", tiny=False) == (12, 12, 196)
    assert vit_zoo.default_vit_name(torch.device("cpu")) == "deit_tiny"
    assert vit_zoo.default_vit_name(torch.device("cuda")) == "vit_base"
    assert {s.name for s in models.specs("vit")} == {"deit_tiny", "vit_base"}


def test_real_weights_missing_offline_give_the_prefetch_message():
    for name in ("deit_tiny", "vit_base"):
        spec = models.spec(name)
        try:
            spec.load(torch.device("cpu"), torch.float32, False)
        except models.WeightsMissing:
            pass
        else:
            pytest.skip(f"{name} weights are cached on this machine")
    loader = models.ModelLoader(tiny=False)
    with pytest.raises(models.ModelUnavailable) as info:
        loader.get("vit_base", device="cpu")
    assert "--prefetch vit_base" in str(info.value)


def test_fit_image_follows_the_processor_resize_and_crop():
    vit = vit_zoo.build_vit("test_fit", hidden_size=24, num_hidden_layers=1)
    wide = Image.new("RGB", (600, 300), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 150, 300))  # a red band on the left quarter
    assert vit.fit_image(wide).size == (224, 224)
    vit.resize, vit.crop = 256, (224, 224)  # shortest edge 256, then a centre crop (DeiT-style)
    cropped = vit.fit_image(wide)
    assert cropped.size == (224, 224)
    assert np.asarray(cropped)[112, 0, 2] > 200  # the red band fell outside the centre crop
    vit.resize = (256, 256)
    assert vit.fit_image(wide).size == (224, 224)


def test_model_without_eager_attention_gets_a_clear_message():
    vit = vit_zoo.build_vit("test_sdpa", hidden_size=24, num_hidden_layers=1, attn_implementation="sdpa")
    with pytest.raises(UserError) as info:
        va.run_forward(vit, Image.open(CAT), use_cache=False)
    assert "eager" in info.value.ko and "eager" in info.value.en


@pytest.mark.parametrize("bad", [None, b"not an image", ""])
def test_bad_images_are_refused_in_both_languages(bad):
    vit = vit_zoo.build_vit("test_bad", hidden_size=24, num_hidden_layers=1)
    with pytest.raises(UserError) as info:
        va.analyze(vit, bad)
    assert info.value.ko and info.value.en


def test_event_functions_return_every_output():
    outputs = va.vit_attention(CAT, "deit_tiny", float("nan"), "mean", 9999, None)
    assert len(outputs) == 13
    info = outputs[0]
    assert "196" in info and "> " in info  # the shapes, then the notes about the clamped inputs
    assert outputs[-3].maximum == 2 and outputs[-1].value == 195

    import gradio as gr

    select = va._patch_selector(va.GRID_SIDE)
    scale = va.display_scale((224, 224), va.GRID_SIDE)
    event = gr.SelectData(None, {"index": [3 * 16 * scale + 5, 2 * 16 * scale + 5], "value": None})
    outputs = select(CAT, "deit_tiny", 2, "1", event, None)
    assert outputs[-1].value == 2 * 14 + 3

    layer, head, patch = va.reset_controls("vit_base")
    assert (layer.maximum, layer.value, patch.maximum) == (2, 2, 195)
    assert len(head.choices) == 1 + 4  # mean + the test zoo's 4 heads
    assert all(out is not None for out in va.rerun_if_photo(None, "vit_base", 2, "mean", 0, None))
    assert len(va.rerun_if_photo(CAT, "vit_base", 2, "mean", 0, None)) == 13


def test_unknown_or_non_vit_model_names_are_refused():
    for name in ("resnet18", "no_such_model"):
        with pytest.raises(UserError):
            va.vit_attention(CAT, name, 1, "mean", 0, None)


def test_cnn_gradcam_beside_the_vit():
    overlay, top5, which, note = va.cnn_gradcam(CAT)
    assert overlay.ndim == 3 and overlay.shape[2] == 3 and overlay.dtype == np.uint8
    assert len(top5) == 5 and which.startswith("resnet18")
    assert note is None or "\n" in note


def _fake_hub_cache(root, repo: str, preprocessor_config: dict) -> None:
    """A Hugging Face cache entry laid out as a download leaves it (refs/main -> snapshots/<commit>/...)."""
    from transformers import ViTConfig, ViTForImageClassification

    folder = root / ("models--" + repo.replace("/", "--"))
    snapshot = folder / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text("0123456789abcdef")
    config = ViTConfig(image_size=224, patch_size=16, hidden_size=24, num_hidden_layers=2, num_attention_heads=3,
                       intermediate_size=48, num_labels=3, id2label={0: "tabby, tabby cat", 1: "tiger cat", 2: "lynx"},
                       label2id={"tabby, tabby cat": 0, "tiger cat": 1, "lynx": 2})
    ViTForImageClassification(config).save_pretrained(snapshot)
    (snapshot / "preprocessor_config.json").write_text(json.dumps(preprocessor_config))


def test_real_loader_reads_a_cached_checkpoint_and_its_preprocessing(tmp_path, monkeypatch):
    # The real loading code on a checkpoint in the cache layout (the hub itself is out of reach in tests).
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(models.WeightsMissing):
        models.spec("deit_tiny").load(torch.device("cpu"), torch.float32, False)
    # The two repos' preprocessor_config.json as published (old feature-extractor style).
    _fake_hub_cache(tmp_path, "facebook/deit-tiny-patch16-224", {
        "crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "DeiTFeatureExtractor", "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "resample": 3, "size": 256})
    _fake_hub_cache(tmp_path, "google/vit-base-patch16-224", {
        "do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": 224})

    deit = models.spec("deit_tiny").load(torch.device("cpu"), torch.float32, False)
    assert deit.real_weights and deit.attn_implementation == "eager"
    assert (deit.resize, deit.crop) == ((256, 256), (224, 224))
    assert deit.mean == pytest.approx((0.485, 0.456, 0.406)) and deit.grid == (14, 14)
    assert deit.labels == ["tabby, tabby cat", "tiger cat", "lynx"]
    vit_base = models.spec("vit_base").load(torch.device("cpu"), torch.float32, False)
    assert (vit_base.resize, vit_base.crop, vit_base.mean) == ((224, 224), None, (0.5, 0.5, 0.5))
    result = va.analyze(deit, CAT, use_cache=False)
    assert result.forward.attentions.shape == (2, 3, 197, 197)
    assert list(result.top5) == sorted(result.top5, key=result.top5.get, reverse=True) and len(result.top5) == 3
