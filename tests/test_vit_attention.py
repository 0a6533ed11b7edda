"""ViT lesson: rollout maths, patch-grid arithmetic, position similarity, the stored forward pass, ImageNet
names in the page's language, and the full path on the test zoo (no browser)."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from PIL import Image

from core import charts, classnames, memory, models, text
from core.zoo import vit as vit_zoo
from tabs.vit_attention import compute, tab, view

CAT = str(compute.EXAMPLES / "cat.jpg")
HANGUL = range(0xAC00, 0xD7A4)


def has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


def softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def small_vit(name: str, **kwargs):
    shape = dict(hidden_size=24, num_hidden_layers=2, num_attention_heads=3)
    return vit_zoo.build_vit(name, **{**shape, **kwargs})


def counted_forwards(vit) -> list:
    """A forward hook (torch's own) that records every forward pass of the model."""
    calls = []
    vit.model.register_forward_hook(lambda module, args, output: calls.append(1))
    return calls


# ---------------------------------------------------------------- rollout on hand-made attention


def test_rollout_of_identity_attention_is_identity():
    layers = np.stack([np.eye(5)] * 4)
    np.testing.assert_allclose(compute.attention_rollout(layers), np.eye(5), atol=1e-6)


def test_rollout_of_uniform_attention_has_closed_form():
    # Each layer: (U + I) / 2 with U the uniform matrix (U @ U = U), so L layers give
    # 0.5^L I + (1 - 0.5^L) U.
    tokens, depth = 5, 3
    uniform = np.full((tokens, tokens), 1 / tokens)
    rollout = compute.attention_rollout(np.stack([uniform] * depth))
    expected = 0.5 ** depth * np.eye(tokens) + (1 - 0.5 ** depth) * uniform
    np.testing.assert_allclose(rollout, expected, atol=1e-6)
    assert rollout[0, 0] == pytest.approx(0.125 + 0.875 / 5, abs=1e-6)


def test_rollout_two_layers_worked_by_hand():
    a1 = np.array([[1.0, 0.0], [0.5, 0.5]])
    a2 = np.array([[0.5, 0.5], [0.0, 1.0]])
    # (A1 + I) rows renormalised: [[1, 0], [0.25, 0.75]]; (A2 + I): [[0.75, 0.25], [0, 1]].
    # R = A2' @ A1' = [[0.75*1 + 0.25*0.25, 0.25*0.75], [0.25, 0.75]] = [[0.8125, 0.1875], [0.25, 0.75]].
    rollout = compute.attention_rollout(np.stack([a1, a2]))
    np.testing.assert_allclose(rollout, [[0.8125, 0.1875], [0.25, 0.75]], atol=1e-6)
    np.testing.assert_allclose(compute.attention_rollout(np.stack([a1, a2]), upto=1), [[1, 0], [0.25, 0.75]], atol=1e-6)
    np.testing.assert_allclose(compute.attention_rollout(np.stack([a1, a2]), upto=0), np.eye(2), atol=1e-6)


def test_rollout_rows_stay_distributions_and_order_matters():
    rng = np.random.default_rng(0)
    layers = softmax_rows(rng.normal(size=(6, 9, 9)) * 3)
    rollout = compute.attention_rollout(layers)
    np.testing.assert_allclose(rollout.sum(axis=1), 1.0, atol=1e-5)
    assert (rollout >= 0).all()
    reversed_rollout = compute.attention_rollout(layers[::-1])
    assert not np.allclose(rollout, reversed_rollout, atol=1e-3)  # a product, not a sum: layer order counts


def test_rollout_row_matches_the_full_rollout():
    rng = np.random.default_rng(1)
    layers = softmax_rows(rng.normal(size=(5, 11, 11)) * 2)
    for upto in (None, 0, 1, 3, 5):
        full = compute.attention_rollout(layers, upto=upto)
        for token in (0, 4):
            np.testing.assert_allclose(compute.rollout_row(layers, token, upto), full[token], atol=1e-5)


def test_rollout_rejects_non_square_attention():
    with pytest.raises(ValueError):
        compute.attention_rollout(np.ones((2, 3, 4)))


# ---------------------------------------------------------------- patch-grid arithmetic


@pytest.mark.parametrize("patch, side", [(14, 16), (16, 14), (32, 7)])
def test_patch_grid_for_224_pixels(patch, side):
    assert compute.patch_grid(224, patch) == (side, side)


def test_patch_grid_non_square_remainders_and_errors():
    assert compute.patch_grid(384, 16) == (24, 24)
    assert compute.patch_grid((224, 160), 32) == (7, 5)
    assert compute.patch_grid(230, 16) == (14, 14)  # the strided convolution drops the 6 leftover pixels
    assert compute.patch_grid(224, (16, 32)) == (14, 7)
    with pytest.raises(ValueError):
        compute.patch_grid(16, 32)


@pytest.mark.parametrize("patch", [14, 16, 32])
def test_patch_box_and_patch_at_round_trip(patch):
    rows, cols = compute.patch_grid(224, patch)
    height, width = view.picture_size((224, 224), view.GRID_SIDE)
    scale = view.display_scale((224, 224), view.GRID_SIDE)
    assert (height, width) == (224 * scale, 224 * scale)
    for index in range(rows * cols):
        x0, y0, x1, y1 = compute.patch_box(index, rows, cols, height, width)
        assert x1 - x0 == patch * scale and y1 - y0 == patch * scale  # integer zoom keeps patches whole
        assert compute.patch_at((x0 + x1) / 2, (y0 + y1) / 2, rows, cols, height, width) == index
        assert compute.patch_at(x0, y0, rows, cols, height, width) == index
    assert compute.patch_at(-50, -50, rows, cols, height, width) == 0
    assert compute.patch_at(10 * width, 10 * height, rows, cols, height, width) == rows * cols - 1
    assert compute.patch_at(width - 1, 0, rows, cols, height, width) == cols - 1


# ---------------------------------------------------------------- position embeddings


def test_position_similarity_of_smooth_2d_embeddings_peaks_at_the_patch_and_falls_with_distance():
    rows = cols = 7
    ys, xs = np.divmod(np.arange(rows * cols), cols)
    freqs = np.array([0.3, 0.6, 0.9])
    patch_embed = np.concatenate([np.sin(np.outer(ys, freqs)), np.cos(np.outer(ys, freqs)),
                                  np.sin(np.outer(xs, freqs)), np.cos(np.outer(xs, freqs))], axis=1)
    pos_embed = np.concatenate([np.full((1, patch_embed.shape[1]), 5.0), patch_embed])  # [CLS] first, ignored
    sim = compute.position_similarity(pos_embed, n_prefix=1)
    assert sim.shape == (49, 49)
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-9)
    np.testing.assert_allclose(sim, sim.T, atol=1e-12)
    for p in range(49):
        assert int(np.argmax(sim[p])) == p
    centre = 3 * cols + 3
    assert sim[centre, centre + 1] > sim[centre, centre + 3]  # nearer positions are more alike


def test_similarity_pictures_have_the_grid_shape():
    sim = np.eye(16)
    one = view.similarity_picture(sim[5], 4, 4, 5, side=80)
    assert one.shape == (80, 80, 3)
    grid = view.similarity_grid_picture(sim, 4, 4, side=64)
    cell, gap = 64 // 16, 2
    assert grid.shape == (4 * (4 * cell + gap) + gap,) * 2 + (3,)


# ---------------------------------------------------------------- bringing what the API may send into range


def test_choose_keeps_good_values_and_uses_the_defaults_for_none():
    ok = compute.choose(2, "3", 10, num_layers=12, num_heads=3, rows=14, cols=14)
    assert (ok.layer, ok.head, ok.patch, ok.notes) == (2, 3, 10, [])
    assert compute.choose(5, 2.0, 0, 12, 3, 14, 14).head == 2  # a number from the API is the same head
    default = compute.choose(None, None, None, 12, 3, 14, 14)
    assert (default.layer, default.head, default.patch, default.notes) == (12, None, 7 * 14 + 7, [])
    assert default.head_value == "mean"


def test_choose_fixes_absurd_values_with_one_note_each_in_one_language():
    bad = compute.choose(float("nan"), "7", -5, 12, 3, 14, 14)
    assert (bad.layer, bad.head, bad.patch) == (12, None, 0)
    assert len(bad.notes) == 3
    for note in bad.notes:
        korean, english = note.say("ko"), note.say("en")
        assert has_hangul(korean) and not has_hangul(english)
    assert "0" in bad.notes[2].say("en") and "195" in bad.notes[2].say("en")  # the range it was clamped into
    big = compute.choose(99, None, float("inf"), 12, 3, 14, 14)
    assert (big.layer, big.head, big.patch) == (12, None, 195)
    assert compute.choose("abc", 1, 400, 2, 3, 7, 7).patch == 48
    assert compute.choose(1.6, "mean", 3.4, 2, 3, 7, 7).layer == 2  # whole numbers: rounded, with a note


# ---------------------------------------------------------------- the forward pass, stored per photo


@pytest.mark.parametrize("patch", [14, 16, 32])
def test_full_path_for_any_patch_size(patch):
    vit = small_vit(f"test_p{patch}", image_size=224, patch_size=patch)
    rows, cols = compute.patch_grid(224, patch)
    n = rows * cols
    result = compute.analyse(vit, CAT, layer=2, head="mean", patch=None)
    f = result.forward
    assert (f.rows, f.cols, f.n_prefix) == (rows, cols, 1)
    assert f.attentions.shape == (2, 3, n + 1, n + 1)
    np.testing.assert_allclose(f.attentions.sum(axis=-1), 1.0, atol=1e-4)  # softmax rows
    assert f.pos_embed.shape == (n + 1, 24)
    assert f.view.shape == (224, 224, 3)
    assert result.choice.patch == (rows // 2) * cols + cols // 2
    panels = {**view.photo_panels(result, "en"), **view.choice_panels(result, "en")}
    grid_side = 224 * view.display_scale((224, 224), view.GRID_SIDE)
    side = 224 * view.display_scale((224, 224))
    assert panels["patches"].shape == (grid_side, grid_side, 3)
    for name in ("cls", "rollout", "patch_attention"):
        assert panels[name].shape == (side, side, 3) and panels[name].dtype == np.uint8
    strip_tiles = math.ceil((n + 1) / 24)
    assert panels["strip"].shape[0] == strip_tiles * (28 + 14 + 4) + 4
    tile = view.HEAD_TILE
    assert panels["heads"].shape == (tile + 12, 4 * (tile + 6) + 6, 3)  # the mean + 3 heads in one line
    assert len(result.predictions) == 5 and 0 < sum(p.probability for p in result.predictions) <= 1.0 + 1e-6


def test_maps_are_the_rows_of_the_attention_the_lesson_names():
    vit = small_vit("test_rows")
    result = compute.analyse(vit, CAT, layer=1, head="2", patch=17)
    a = result.forward.attentions  # L x H x T x T, [CLS] is token 0, patch p is token p + 1
    np.testing.assert_allclose(result.maps.cls, a[0, 1, 0, 1:])
    np.testing.assert_allclose(result.maps.patch, a[0, 1, 18, 1:])
    np.testing.assert_allclose(result.maps.every_head[0], a[0, :, 0, 1:].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(result.maps.every_head[1:], a[0, :, 0, 1:])
    full = compute.attention_rollout(a.mean(axis=1), upto=1)
    np.testing.assert_allclose(result.maps.rollout, full[0, 1:], atol=1e-6)
    np.testing.assert_allclose(result.maps.similarity,
                               compute.position_similarity(result.forward.pos_embed)[17], atol=1e-6)


def test_chosen_patch_is_marked_in_yellow():
    vit = small_vit("test_mark", patch_size=32, num_hidden_layers=1)
    result = compute.analyse(vit, CAT, patch=8)
    panels = view.choice_panels(result, "ko")
    x0, y0, x1, y1 = compute.patch_box(8, 7, 7, *panels["patch_attention"].shape[:2])
    assert tuple(panels["patch_attention"][y0 + 1, (x0 + x1) // 2]) == view.HIGHLIGHT
    assert tuple(panels["patches"][0, 0]) != view.HIGHLIGHT


def test_another_layer_head_or_patch_reuses_the_stored_forward_pass():
    vit = small_vit("test_store")
    calls = counted_forwards(vit)
    first = compute.analyse(vit, CAT, layer=1, head="1", patch=3)
    second = compute.analyse(vit, CAT, layer=2, head="2", patch=40)
    assert len(calls) == 1  # one forward pass for the photo; the second choice only reads it
    assert first.forward is second.forward
    assert not np.array_equal(first.maps.cls, second.maps.cls)
    assert not np.array_equal(first.maps.rollout, second.maps.rollout)
    other = compute.analyse(vit, str(compute.EXAMPLES / "coffee.jpg"), layer=1)
    assert len(calls) == 2 and other.forward is not first.forward  # another photo: its own pass


def test_stored_forward_passes_count_in_the_one_memory_budget():
    assert compute.FORWARDS.budget is memory.BUDGET and compute.FORWARDS in memory.BUDGET.stores
    vit = small_vit("test_budget")
    forward = compute.forward_of(vit, CAT)
    expected = (forward.attentions.nbytes + forward.view.nbytes + forward.probs.nbytes + forward.pos_embed.nbytes
                + forward.similarity.nbytes)
    assert forward.nbytes == expected
    row = memory.BUDGET.report()["vit_attention.forward"]
    assert row["bytes"] == compute.FORWARDS.bytes() >= expected


def test_the_same_photo_through_another_model_is_its_own_pass():
    first, second = small_vit("test_model_a"), small_vit("test_model_b", seed=1)
    a, b = compute.forward_of(first, CAT), compute.forward_of(second, CAT)
    assert a is not b and not np.allclose(a.attentions, b.attentions)
    assert compute.forward_of(first, CAT) is a


def test_head_and_layer_choices_change_the_maps():
    vit = small_vit("test_heads")
    first = compute.analyse(vit, CAT, layer=1, head="1", patch=3)
    mean = compute.head_attention(first.forward.attentions, 0, None)
    np.testing.assert_allclose(mean, first.forward.attentions[0].mean(axis=0))


# ---------------------------------------------------------------- the prediction, named in the page's language


def hugging_face_imagenet_labels() -> list[str]:
    """ImageNet-1k's labels as the ViT repositories' config.json writes them ("tench, Tinca tinca", ...),
    rebuilt independently from timm's copy of the WordNet synsets and their lemmas."""
    import timm

    folder = os.path.join(os.path.dirname(timm.__file__), "data", "_info")
    with open(os.path.join(folder, "imagenet_synsets.txt")) as handle:
        synsets = handle.read().split()
    with open(os.path.join(folder, "imagenet_synset_to_lemma.txt")) as handle:
        lemmas = dict(line.rstrip("\n").split("\t", 1) for line in handle)
    return [lemmas[s] for s in synsets]


def test_imagenet_label_sets_are_recognised_in_either_spelling():
    hf = hugging_face_imagenet_labels()
    assert hf[0] == "tench, Tinca tinca" and len(hf) == 1000
    assert compute.imagenet_order(hf)
    assert compute.imagenet_order(classnames.imagenet("en"))  # torchvision's names (the test zoo's)
    assert compute.imagenet_order(vit_zoo.build_vit("test_labels", hidden_size=12, num_hidden_layers=1).labels)
    rng = np.random.default_rng(0)
    assert not compute.imagenet_order([hf[i] for i in rng.permutation(1000)])  # ImageNet's names, another order
    assert not compute.imagenet_order(["tabby, tabby cat", "tiger cat", "lynx"])
    assert not compute.imagenet_order([f"LABEL_{i}" for i in range(1000)])


@pytest.mark.parametrize("labels_from", ["torchvision", "hugging_face"])
def test_top5_names_imagenet_classes_in_the_pages_language(labels_from):
    labels = classnames.imagenet("en") if labels_from == "torchvision" else hugging_face_imagenet_labels()
    probs = softmax_rows(np.random.default_rng(3).normal(size=1000) * 4)
    predictions = compute.top5(probs, labels)
    expected = list(np.argsort(-probs)[:5])
    assert [p.index for p in predictions] == expected
    assert [p.probability for p in predictions] == pytest.approx(list(probs[expected]))
    for p in predictions:
        korean, english = view.class_name(p, "ko"), view.class_name(p, "en")
        assert korean == classnames.imagenet_label("ko", p.index) and has_hangul(korean)
        assert english == classnames.imagenet("en")[p.index] and not has_hangul(english)
        assert korean.endswith(f"({english})")  # "군복 (military uniform)"
    figure = view.top5_figure(predictions, "deit_tiny", "ko")
    assert list(figure.data[0].y) == [view.class_name(p, "ko") for p in predictions][::-1]  # most likely on top
    assert has_hangul(figure.layout.title.text)


def test_other_label_sets_are_shown_as_the_model_names_them():
    predictions = compute.top5(np.array([0.2, 0.7, 0.1]), ["tabby, tabby cat", "tiger cat", "lynx"])
    assert [(p.index, p.label, p.imagenet) for p in predictions] == [
        (1, "tiger cat", False), (0, "tabby, tabby cat", False), (2, "lynx", False)]
    assert view.class_name(predictions[0], "ko") == "tiger cat"
    assert charts.top_k(np.array([0.2, 0.7, 0.1]), 5) == [(1, 0.7), (0, 0.2), (2, 0.1)]


# ---------------------------------------------------------------- models: the test zoo, the real loader


def test_loader_test_zoo_and_defaults():
    vit = compute.load_vit("deit_tiny")
    assert not vit.real_weights
    assert vit.grid == (14, 14) and vit.attn_implementation == "eager"
    assert len(vit.labels) == 1000 and compute.imagenet_order(vit.labels)
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
    vit = small_vit("test_fit", num_hidden_layers=1)
    wide = Image.new("RGB", (600, 300), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 150, 300))  # a red band on the left quarter
    assert vit.fit_image(wide).size == (224, 224)
    vit.resize, vit.crop = 256, (224, 224)  # shortest edge 256, then a centre crop (DeiT-style)
    cropped = vit.fit_image(wide)
    assert cropped.size == (224, 224)
    assert np.asarray(cropped)[112, 0, 2] > 200  # the red band fell outside the centre crop
    vit.resize = (256, 256)
    assert vit.fit_image(wide).size == (224, 224)


def test_model_without_eager_attention_gets_a_clear_message_in_each_language():
    vit = small_vit("test_sdpa", num_hidden_layers=1, attn_implementation="sdpa")
    with pytest.raises(text.Problem) as info:
        compute.run_forward(vit, vit.fit_image(Image.open(CAT)))
    korean, english = info.value.say("ko"), info.value.say("en")
    assert "eager" in korean and has_hangul(korean)
    assert "eager" in english and not has_hangul(english)
    assert info.value.title.say("en") == "No attention weights"


@pytest.mark.parametrize("bad", [None, b"not an image", ""])
def test_bad_images_are_refused_in_the_pages_language(bad):
    vit = small_vit("test_bad", num_hidden_layers=1)
    with pytest.raises(text.Problem) as info:
        compute.analyse(vit, bad)
    assert has_hangul(info.value.say("ko")) and not has_hangul(info.value.say("en"))


def test_unknown_or_non_vit_model_names_are_refused():
    for name in ("resnet18", "no_such_model"):
        with pytest.raises(text.Problem) as info:
            tab.vit_attention(CAT, name, 1, "mean", 0, lang="en")
        assert "deit_tiny" in info.value.say("en") and repr(name) in info.value.say("en")
    assert compute.check_model_name(None) == vit_zoo.default_vit_name()


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
    _fake_hub_cache(tmp_path, "facebook/deit-tiny-patch16-224", vit_zoo.PREPROCESSOR_CONFIGS["deit_tiny"])
    _fake_hub_cache(tmp_path, "google/vit-base-patch16-224", vit_zoo.PREPROCESSOR_CONFIGS["vit_base"])

    deit = models.spec("deit_tiny").load(torch.device("cpu"), torch.float32, False)
    assert deit.real_weights and deit.attn_implementation == "eager"
    assert (deit.resize, deit.crop) == ((256, 256), (224, 224))
    assert deit.mean == pytest.approx((0.485, 0.456, 0.406)) and deit.grid == (14, 14)
    assert deit.labels == ["tabby, tabby cat", "tiger cat", "lynx"]
    vit_base = models.spec("vit_base").load(torch.device("cpu"), torch.float32, False)
    assert (vit_base.resize, vit_base.crop, vit_base.mean) == ((224, 224), None, (0.5, 0.5, 0.5))
    result = compute.analyse(deit, CAT)
    assert result.forward.attentions.shape == (2, 3, 197, 197)
    probabilities = [p.probability for p in result.predictions]
    assert probabilities == sorted(probabilities, reverse=True) and len(result.predictions) == 3
    assert not any(p.imagenet for p in result.predictions)  # three classes: named as the config names them


# ---------------------------------------------------------------- the tab's event functions (no browser)


def test_main_event_returns_every_output_in_one_language():
    outputs = tab.vit_attention(CAT, "deit_tiny", float("nan"), "mean", 9999, lang="en")
    assert len(outputs) == tab.MAIN_OUTPUTS
    info = outputs[0]
    assert "196" in info and "197" in info and not has_hangul(info)
    notes = [line for line in info.splitlines() if line.startswith("> ")]
    assert len(notes) == 2 and "195" in notes[1]  # the layer and the patch were brought into range
    layer, head, patch = outputs[-3:]
    assert (layer["maximum"], layer["value"]) == (2, 2) and patch["value"] == 195
    assert head["choices"][0] == ("Mean of the heads", "mean") and head["value"] == "mean"
    top5 = outputs[9]
    assert len(top5.data[0].y) == 5 and not any(has_hangul(name) for name in top5.data[0].y)
    korean = tab.vit_attention(CAT, "deit_tiny", None, "mean", None, lang="ko")
    assert has_hangul(korean[0]) and all(has_hangul(name) for name in korean[9].data[0].y)
    assert korean[8].shape[2] == 3 and korean[8].dtype == np.uint8  # the heads: numbers only, no words drawn


def test_patch_clicks_layer_and_head_changes_only_draw():
    import gradio as gr

    vit = compute.load_vit("deit_tiny")
    calls = counted_forwards(vit)
    tab.vit_attention(CAT, "deit_tiny", None, "mean", None, lang="ko")  # the photo's pass (may be stored already)
    before = len(calls)
    pick = tab.patch_picker(view.GRID_SIDE)
    scale = view.display_scale((224, 224), view.GRID_SIDE)
    event = gr.SelectData(None, {"index": [3 * 16 * scale + 5, 2 * 16 * scale + 5], "value": None})
    assert pick("deit_tiny", event) == 2 * 14 + 3
    redrawn = tab.redraw(CAT, "deit_tiny", 1, "2", 2 * 14 + 3, lang="ko")
    assert len(redrawn) == 7
    assert len(calls) == before  # no forward pass for a click
    assert tab.redraw(None, "deit_tiny", 1, "2", 3, lang="ko") == tuple(gr.skip() for _ in range(7))


def test_model_switch_and_cleared_photo():
    import gradio as gr

    layer, head, patch = tab.reset_controls("vit_base", lang="en")
    assert (layer["maximum"], layer["value"], patch["maximum"], patch["value"]) == (2, 2, 195, 105)
    assert len(head["choices"]) == 1 + 4  # mean + the test zoo's 4 heads
    cleared = tab.photo_changed(None, "vit_base", 2, "mean", 0, lang="ko")
    assert cleared == tuple(gr.skip() for _ in range(tab.MAIN_OUTPUTS))
    assert len(tab.photo_changed(CAT, "vit_base", 2, "mean", 0, lang="ko")) == tab.MAIN_OUTPUTS
    with pytest.raises(text.Problem):
        tab.reset_controls("resnet18", lang="ko")


def test_cnn_gradcam_beside_the_vit():
    result = compute.cnn_gradcam(CAT)
    assert result.crop.shape == (224, 224, 3) and result.heat.shape == (224, 224)
    assert 0.0 <= result.heat.min() and result.heat.max() <= 1.0
    assert len(result.predictions) == 5 and all(p.imagenet for p in result.predictions)
    gradcam, top5, note = tab.cnn_beside(CAT, lang="ko")
    assert gradcam.shape == (224, 224, 3) and gradcam.dtype == np.uint8
    assert "ResNet18" in note and has_hangul(note)
    assert all(has_hangul(name) for name in top5.data[0].y)


def test_the_tab_registers_cached_events_of_the_right_kinds_and_warms_every_example():
    import gradio as gr

    from core import events
    from core.page import Page
    from core.settings import Settings

    already = len(events.REGISTERED)
    with gr.Blocks() as demo:
        page = Page(Settings(), demo)
        tab.build(page)
    registered = events.REGISTERED[already:]
    by_name = {}
    for record in registered:
        by_name.setdefault(record.name, set()).add((record.kind.name, record.cache))
    assert by_name["vit_attention"] == {("model", True)}  # the button (API vit_attention) and the page's opening
    assert by_name["photo_changed"] == {("model", True)}
    assert by_name["cnn_beside"] == {("model", True)}
    assert by_name["redraw"] == {("quick", True)}  # layer, head, patch: drawing only
    assert by_name["reset_controls"] == {("quick", True)}
    assert {kind for name, kinds in by_name.items() if "pick_patch" in name for kind in kinds} == {("quick", False)}
    api = [d for d in demo.config["dependencies"] if d.get("api_name") == "vit_attention"]
    assert len(api) == 1
    warmed = {(name, os.path.basename(str(args[0]))) for name, args in page.warmed() if args}
    photos = {p.name for p in compute.example_photos()}
    assert {(name, photo) for name in ("photo_changed", "cnn_beside") for photo in photos} <= warmed
    assert ("on_open:vit_attention", "cat.jpg") in warmed  # the worked example on opening
