"""CNN feature-map lesson: real checks with the offline EfficientNet-Lite0, and every CNN of the test zoo."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.bench_cnn_features import different_photos as photos
from core import classnames, cnn_analysis, models
from core.batching import MicroBatcher
from core.text import Problem
from core.zoo import cnn as zoo
from tabs.cnn_features import compute, tab, view

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"
CAT = EXAMPLES / "cat.jpg"
BUS_CLASSES = {654, 779, 874}  # minibus, school bus, trolleybus
HANGUL = range(0xAC00, 0xD7A4)


def has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


def bus_jpg() -> Path:
    # Found without importing ultralytics: its import replaces PIL's Image.open process-wide (HEIF plugin).
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("ultralytics is not installed (its sample bus.jpg is the test photo)")
    return Path(list(spec.submodule_search_locations)[0]) / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def lite0():
    cnn = models.get("efficientnet_lite0", tiny=False)
    assert cnn.real_weights
    return cnn


def quadrant_masses(cam: np.ndarray) -> np.ndarray:
    h, w = cam.shape
    masses = np.array([cam[:h // 2, :w // 2].sum(), cam[:h // 2, w // 2:].sum(),
                       cam[h // 2:, :w // 2].sum(), cam[h // 2:, w // 2:].sum()])
    return masses / masses.sum()


def paste_in_quadrant(obj: Image.Image, quadrant: int, background: Image.Image) -> Image.Image:
    canvas = background.copy()
    half = canvas.width // 2
    canvas.paste(obj.resize((half, half)), ((quadrant % 2) * half, (quadrant // 2) * half))
    return canvas


def bus_crop() -> Image.Image:
    return Image.open(bus_jpg()).convert("RGB").crop((0, 230, 810, 900))  # the bus, without the people's heads


def cat_crop() -> Image.Image:
    return Image.open(CAT).convert("RGB").crop((130, 20, 330, 230))  # the cat's face


# ---------------------------------------------------------------- Grad-CAM on real weights


def test_bus_is_a_bus_with_real_lite0(lite0):
    cam, index, crop = cnn_analysis.grad_cam(lite0, Image.open(bus_jpg()))
    assert index in BUS_CLASSES, lite0.categories[index]
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    assert cam.shape == (224, 224) and cam.dtype == np.float32
    assert 0.0 <= cam.min() and cam.max() == pytest.approx(1.0)


@pytest.mark.parametrize("background", ["gray", "noise"])
def test_grad_cam_finds_the_object_in_each_quadrant(lite0, background):
    # A real object (the bus from bus.jpg) pasted into one quadrant of an empty background: with real
    # weights the class is still 'bus', and Grad-CAM must put most of its mass where the bus is.
    rng = np.random.default_rng(0)
    bg = (Image.new("RGB", (224, 224), (128, 128, 128)) if background == "gray"
          else Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)))
    obj = bus_crop()
    for quadrant in range(4):
        cam, index, _ = cnn_analysis.grad_cam(lite0, paste_in_quadrant(obj, quadrant, bg))
        masses = quadrant_masses(cam)
        assert index in BUS_CLASSES
        assert int(masses.argmax()) == quadrant, masses
        assert masses[quadrant] > 0.5, masses  # chance would be 0.25


def test_grad_cam_is_class_discriminative(lite0):
    # Cat top-left, bus bottom-right: the cat class lights the cat, the bus class lights the bus.
    canvas = Image.new("RGB", (224, 224), (128, 128, 128))
    canvas.paste(cat_crop().resize((112, 112)), (0, 0))
    canvas.paste(bus_crop().resize((112, 112)), (112, 112))
    cam_cat, _, _ = cnn_analysis.grad_cam(lite0, canvas, class_index=285)  # Egyptian cat
    cam_bus, _, _ = cnn_analysis.grad_cam(lite0, canvas, class_index=654)  # minibus
    assert quadrant_masses(cam_cat)[0] > 0.5, quadrant_masses(cam_cat)
    assert quadrant_masses(cam_bus)[3] > 0.5, quadrant_masses(cam_bus)


def test_grad_cam_rejects_bad_class_and_layer(lite0):
    cat = Image.open(CAT)
    for bad in (-1, 1000, 2.5, float("nan"), "bus"):
        with pytest.raises(Problem):
            cnn_analysis.grad_cam(lite0, cat, class_index=bad)
    with pytest.raises(Problem):
        cnn_analysis.grad_cam(lite0, cat, layer="layer4")  # a ResNet name: not in EfficientNet-Lite0
    with pytest.raises(Problem):
        cnn_analysis.grad_cam(lite0, cat, layer="classifier")  # no 2-D maps there


# ---------------------------------------------------------------- one batch = each photo on its own


def grad_cam_by_hand(cnn, photo: Image.Image, layer: str, class_index: int) -> np.ndarray:
    """Grad-CAM of one photo, written another way (no batch, no thread checks): one pass to read the maps
    of `layer`, a second pass with those maps put back as a leaf that needs a gradient, then autograd."""
    maps_holder = {}
    module = dict(zoo.stages(cnn.model))[layer]
    handle = module.register_forward_hook(lambda m, i, out: maps_holder.__setitem__("maps", out))
    x = cnn.to_tensor(cnn.crop_image(photo))
    try:
        with torch.no_grad():
            cnn.model(x)
    finally:
        handle.remove()
    maps = maps_holder["maps"].detach().clone().requires_grad_(True)
    # Rerun from the maps to the scores with the maps swapped in (forward hook returning them).
    handle = module.register_forward_hook(lambda m, i, out: maps)
    try:
        with torch.enable_grad():
            score = cnn.model(x)[0, class_index]
            (grad,) = torch.autograd.grad(score, maps)
    finally:
        handle.remove()
    weights = grad[0].mean(dim=(1, 2))
    cam = torch.relu((weights[:, None, None] * maps[0].detach()).sum(0))
    cam = torch.nn.functional.interpolate(cam[None, None], size=(cnn.crop, cnn.crop), mode="bilinear",
                                          align_corners=False)[0, 0].numpy()
    return (cam - cam.min()) / (cam.max() - cam.min())


def requests_for(cnn, imgs, capture, cam_at, classes):
    out = []
    for img, cls in zip(imgs, classes):
        crop = cnn.crop_image(img)
        out.append(cnn_analysis.Request(cnn, np.asarray(crop), cnn.to_tensor(crop), capture, cam_at, cls, 1))
    return out


@pytest.mark.parametrize("name", ["efficientnet_lite0", "resnet18"])
def test_one_batch_gives_each_photo_its_own_grad_cam(name, lite0):
    # Six different photos, each with its own class, as ONE batch (one forward, one backward of the sum of
    # the chosen scores) against each photo alone, and against Grad-CAM written by hand for one photo.
    cnn = lite0 if name == "efficientnet_lite0" else models.get(name)
    imgs = photos(6)
    classes = [285, 654, 967, None, 3, None]  # None: the photo's own top-1
    cam_at, capture = compute.facts(cnn).cam_layer, compute.facts(cnn).default_layer
    together = cnn_analysis.analyse_batch(requests_for(cnn, imgs, capture, cam_at, classes))
    alone = [cnn_analysis.analyse_batch(requests_for(cnn, [img], capture, cam_at, [cls]))[0]
             for img, cls in zip(imgs, classes)]
    for b, (t, a) in enumerate(zip(together, alone)):
        assert t.class_index == a.class_index == (classes[b] if classes[b] is not None else int(a.probs.argmax()))
        np.testing.assert_allclose(t.probs, a.probs, atol=1e-5)
        np.testing.assert_allclose(t.activation, a.activation, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(t.cam, a.cam, atol=2e-3)
        np.testing.assert_array_equal(t.crop, a.crop)
    np.testing.assert_allclose(together[0].cam, grad_cam_by_hand(cnn, imgs[0], cam_at, 285), atol=2e-3)
    # The cams differ between photos (a batch that handed every photo the same map would fail above too).
    assert np.abs(together[0].cam - together[1].cam).mean() > 0.01


def test_the_batch_check_can_fail_when_photos_do_mix():
    # The test above relies on eval mode. In train mode batch norm mixes the photos of a batch (batch
    # statistics), and the same comparison must see it: proof that it can tell mixed from independent.
    cnn = models.get("resnet18")
    own = zoo.build_architecture("resnet18")
    own.load_state_dict(cnn.model.state_dict())
    mixing = type(cnn)(**{**cnn.__dict__, "model": own.train().requires_grad_(False)})
    imgs = photos(4)
    together = cnn_analysis.analyse_batch(requests_for(mixing, imgs, None, "layer4", [None] * 4))
    alone = [cnn_analysis.analyse_batch(requests_for(mixing, [img], None, "layer4", [None]))[0] for img in imgs[:1]]
    assert np.abs(together[0].probs - alone[0].probs).max() > 1e-4


def test_thirty_threads_share_one_model_through_the_batcher():
    # 30 requests at once on one shared model: different photos, two capture layers (two batch keys),
    # chosen classes and guesses; each must get exactly what it gets alone, and batches must have formed.
    cnn = models.get("resnet18")
    imgs = photos(30)
    jobs = [(imgs[i], ("layer1", "layer3")[i % 2], (None, 281)[i % 3 == 0], 1 + i % 3) for i in range(30)]
    alone = [cnn_analysis.analyse(cnn, img, capture=layer, cam_at="layer4", class_index=cls, rank=rank,
                             batcher=MicroBatcher(lambda _k, r: cnn_analysis.analyse_batch(r), max_batch=1))
             for img, layer, cls, rank in jobs]
    batcher = MicroBatcher(lambda _k, r: cnn_analysis.analyse_batch(r), max_batch=8, window_s=0.02)
    barrier = threading.Barrier(30)

    def one(job):
        img, layer, cls, rank = job
        barrier.wait(timeout=30)
        return cnn_analysis.analyse(cnn, img, capture=layer, cam_at="layer4", class_index=cls, rank=rank, batcher=batcher)

    with ThreadPoolExecutor(30) as pool:
        together = list(pool.map(one, jobs))
    for job, t, a in zip(jobs, together, alone):
        assert t.activation.shape == a.activation.shape == compute.facts(cnn).shapes[job[1]]
        np.testing.assert_allclose(t.activation, a.activation, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(t.cam, a.cam, atol=2e-3)
        assert t.class_index == a.class_index
    assert batcher.batches() < 30 and max(batcher.sizes) > 1, batcher.sizes


def test_hooks_of_one_request_ignore_other_threads_forward_passes():
    # Another lesson runs the same model in its own thread while a request's hooks are on it: the hooks
    # must keep only their own thread's maps.
    cnn = models.get("resnet18")
    cat, coffee = Image.open(CAT).convert("RGB"), Image.open(EXAMPLES / "coffee.jpg").convert("RGB")
    expected = cnn_analysis.analyse(cnn, cat, capture="layer2")
    stop = threading.Event()

    def other_forwards():
        x = cnn.preprocess(coffee)
        while not stop.is_set():
            with torch.inference_mode():
                cnn.model(x)

    thread = threading.Thread(target=other_forwards)
    thread.start()
    try:
        for _ in range(5):
            np.testing.assert_allclose(cnn_analysis.analyse(cnn, cat, capture="layer2").activation, expected.activation,
                                       rtol=1e-4, atol=1e-4)
    finally:
        stop.set()
        thread.join()


# ---------------------------------------------------------------- every model path, through the test zoo


@pytest.mark.parametrize("name", zoo.cnn_names())
def test_every_cnn_runs_the_whole_tab(name):
    # Random-init real architectures (the test zoo): one call of the main event per model.
    info, fig, grid, zoom, cam, state, channel, layer_update = tab.cnn_features(str(CAT), name, "", 8, "shared", -1,
                                                                                lang="ko")
    cnn = models.get(name)
    facts = compute.facts(cnn)
    assert list(facts.stages) == [n for n, _ in zoo.stages(cnn.model)]  # every stage listed, in forward order
    assert [value for _, value in layer_update["choices"]] == [""] + list(facts.stages)
    assert layer_update["value"] == ""  # auto stays auto
    c, h, w = facts.shapes[facts.default_layer]
    assert h <= 28 and state["activation"].shape == (c, h, w)
    assert f"**{facts.default_layer}**" in info
    assert grid.dtype == np.uint8 and grid.shape[1] == 8 * (view.GRID_CELL + view.GRID_GAP) - view.GRID_GAP
    assert cam.shape == (view.ZOOM_SIZE, view.ZOOM_SIZE, 3) and zoom.shape[0] == view.ZOOM_SIZE
    assert channel == compute.most_active(state["activation"].astype(np.float32), 1)[0]
    assert len(fig.data[0].y) == 5
    assert "무작위 가중치" in info  # the test zoo says its weights are random, in the page's language
    table = view.layer_table(facts, "ko")
    total = sum(p.numel() for p in cnn.model.parameters())
    assert table["data"][-1] == ["합계", "", "", "", f"{total:,}"]
    assert sum(int(row[-1].replace(",", "")) for row in table["data"][:-1]) == total


def test_layer_list_and_table_of_resnet18():
    cnn = models.get("resnet18")
    facts = compute.facts(cnn)
    labels = {value: label for label, value in view.layer_choices(facts, "en")}
    assert labels[""] == "auto: layer2 (suggested layer)"
    assert labels["conv1"].endswith("(112x112x64)")
    assert labels["layer1"].endswith("(56x56x64)")
    assert labels["layer4"].endswith("(7x7x512)")
    assert labels["avgpool"].endswith("(1x1x512)")
    assert labels["fc"].endswith("(1000)")
    assert facts.cam_layer == "layer4" and facts.default_layer == "layer2"
    table = view.layer_table(facts, "en")
    assert table["headers"] == ["layer", "type", "kernel / stride", "output (HxWxC)", "parameters"]
    assert view.layer_table(facts, "ko")["headers"][0] == "층"
    rows = {row[0]: row for row in table["data"]}
    assert rows["conv1"][1:] == ["Conv2d", "7x7 / 2x2", "112x112x64", "9,408"]
    assert rows["layer2.0.downsample.0"][2] == "1x1 / 2x2"
    assert rows["fc"][-1] == "513,000"


def test_model_facts_are_found_once_per_model():
    cnn = models.get("googlenet")
    cnn_analysis.FACTS.pop((cnn.name, cnn.source, cnn.crop))
    forwards = []
    handle = cnn.model.register_forward_hook(lambda *_: forwards.append(1))
    try:
        misses = cnn_analysis.FACTS.misses
        for _ in range(3):
            tab.cnn_features(str(CAT), "googlenet", "", 8, "each", -1, lang="en")
        assert cnn_analysis.FACTS.misses == misses + 1
        assert len(forwards) == 1 + 3  # the one probe on zeros, then one forward per analysis
    finally:
        handle.remove()


def test_feature_grid_picks_the_most_active_maps_and_clicks_map_back():
    activation = np.zeros((10, 7, 7), dtype=np.float32)
    activation[3] = 5.0
    activation[7, 0, 0] = 100.0  # mean 2.04
    activation[1] = np.linspace(0, 1, 49).reshape(7, 7)  # mean 0.5
    channels = compute.most_active(activation, 3)
    assert channels == [3, 7, 1]
    grid, layout = view.render_grid(activation, channels, shared_scale=False)
    pitch = view.GRID_CELL + view.GRID_GAP
    assert grid.shape == (view.GRID_TITLE + view.GRID_CELL, 3 * pitch - view.GRID_GAP, 3)
    assert view.channel_at(layout, 10, 40) == 3
    assert view.channel_at(layout, pitch + 10, 40) == 7
    assert view.channel_at(layout, 2 * pitch + 100, view.GRID_TITLE + 100) == 1
    assert view.channel_at(layout, view.GRID_CELL + 1, 40) is None  # the gap between cells
    assert view.channel_at(layout, 3 * pitch + 5, 40) is None and view.channel_at(layout, -1, 5) is None
    # Per-map scale: channel 1's ramp spans the whole colormap; shared scale: it is nearly dark next to 100.
    top = view.GRID_TITLE
    own = grid[top:top + view.GRID_CELL, 2 * pitch:2 * pitch + view.GRID_CELL]
    shared, _ = view.render_grid(activation, channels, shared_scale=True)
    same = shared[top:top + view.GRID_CELL, 2 * pitch:2 * pitch + view.GRID_CELL]
    spread = lambda tile: tile.reshape(-1, 3).astype(float).std(axis=0).sum()  # colour spread over the pixels
    assert spread(own) > 50 and spread(same) < 5


def test_grid_click_event_and_zoom():
    _, _, grid, _, _, state, first, _ = tab.cnn_features(str(CAT), "resnet18", "layer3", 16, "each", -1, lang="en")

    class Click:
        index = [view.GRID_CELL + view.GRID_GAP + 5, view.GRID_TITLE + 5]  # second cell

    zoom, channel = tab.on_grid_click(state, Click())
    assert channel == state["layout"].channels[1] != first
    assert zoom.shape == (view.ZOOM_SIZE, 2 * view.ZOOM_SIZE + 8, 3)
    np.testing.assert_array_equal(tab.zoom_from_state(state, channel), zoom)
    with pytest.raises(Problem, match="0 to 255"):
        tab.zoom_from_state(state, 256)  # layer3 has 256 channels: 0..255
    with pytest.raises(Problem, match="whole number"):
        tab.zoom_from_state(state, 2.5)
    with pytest.raises(Problem):
        tab.zoom_from_state(None, 0)


def test_bad_inputs_get_clear_messages():
    def run(*args, lang="en"):
        return tab.cnn_features(*args, lang=lang)

    for bad in [(None, "resnet18", "", 16, "each", -1),
                (str(ROOT / "README.md"), "resnet18", "", 16, "each", -1),  # not an image
                (str(CAT), "resnet18", "blocks.3", 16, "each", -1),  # a Lite0 layer name on ResNet18
                (str(CAT), "resnet18", "layer1", 16, "each", 5000),
                (str(CAT), "resnet18", "layer1", 16, "each", -6),  # -1..-5 are the 1st..5th guesses
                (str(CAT), "lenet", "", 16, "each", -1)]:
        with pytest.raises(Problem) as caught:
            run(*bad)
        assert not has_hangul(caught.value.say("en")) and has_hangul(caught.value.say("ko"))
    # Absurd numbers of maps and an unknown colour scale are clamped with a note in the page's language.
    info, *rest = run(str(CAT), "resnet18", "layer1", float("inf"), "rainbow", -1)
    assert len(rest[4]["layout"].channels) == 64
    assert "The number of maps must be from 1 to 64; using 64." in info
    assert "The colour scale must be one of each, shared; using each." in info
    info, *rest = run(str(CAT), "resnet18", "layer1", 10.4, "shared", -1, lang="ko")
    assert len(rest[4]["layout"].channels) == 10
    assert info.startswith("**!** 맵 개수: 정수여야 해서 10(으)로 반올림했습니다.\n\n**사용 중인 모델:**")


def test_the_class_picker_and_the_guess_rank():
    # The picker's -2 is the network's second guess, the one second from the top in the top-5 chart.
    info, fig, *_ = tab.cnn_features(str(CAT), "resnet18", "layer1", 8, "each", -2, lang="en")
    second = fig.data[0].y[-2]  # bars run bottom-up: the last is the top guess
    index = int(second.split(":")[0])
    assert f"({index})." in info and f"**{second.split(': ', 1)[1]}**" in info
    # A chosen class: Grad-CAM explains it, whatever the guesses are; the 1x1 layers are shown too.
    info, *rest = tab.cnn_features(str(CAT), "resnet18", "fc", 8, "each", 281, lang="en")
    assert rest[4]["activation"].shape == (1000, 1, 1) and "**tabby** (281)" in info and "1x1" in info


def test_korean_class_names_in_the_top5_and_the_picker():
    info_ko, fig_ko, *_ = tab.cnn_features(str(CAT), "resnet18", "", 8, "each", 281, lang="ko")
    info_en, fig_en, *_ = tab.cnn_features(str(CAT), "resnet18", "", 8, "each", 281, lang="en")
    # Same classes, same order; Korean labels carry the English name under them (a second line).
    for ko, en in zip(fig_ko.data[0].y, fig_en.data[0].y):
        index, english = en.split(": ", 1)
        korean = ko.split("<br>")[0].split(": ", 1)[1]
        assert ko == f"{index}: {korean}<br>({english})" and has_hangul(korean)
        assert korean == classnames.imagenet("ko")[int(index)] and english == classnames.imagenet("en")[int(index)]
        assert not has_hangul(en)
    assert "**얼룩무늬 고양이(태비) (tabby)** (281)" in info_ko and "**tabby** (281)" in info_en
    assert not has_hangul(info_en)
    table_ko, picker_ko = tab.page_lists("resnet18", lang="ko")
    _, picker_en = tab.page_lists("resnet18", lang="en")
    choices_ko, choices_en = picker_ko["choices"], picker_en["choices"]
    assert len(choices_ko) == len(choices_en) == 5 + 1000
    assert choices_ko[0] == ("1위 예측", -1) and choices_en[1] == ("2nd guess", -2)
    assert choices_ko[5 + 281] == ("281: 얼룩무늬 고양이(태비) (tabby)", 281) and choices_en[5 + 281] == ("281: tabby", 281)
    assert table_ko["headers"][-1] == "파라미터"
    assert view.class_choices("ko") is view.class_choices("ko")  # built once per language


def test_missing_weights_fall_back_to_the_offline_cnn(monkeypatch):
    # Real-weight mode, offline, no ResNet18 in the cache: the tab says so and uses EfficientNet-Lite0.
    monkeypatch.setenv("DLCLASS_MODELS", "real")
    monkeypatch.setattr(models, "offline", lambda: True)
    if models.is_cached("resnet18"):
        pytest.skip("ResNet18 weights are cached here: nothing falls back")
    assert compute.starting_model() == zoo.OFFLINE_CNN
    info, *rest = tab.cnn_features(str(CAT), "resnet18", "layer4", 8, "each", -1, lang="en")
    assert "EfficientNet-Lite0" in info and "prefetch resnet18" in info and "no layer 'layer4'" in info
    assert rest[6]["value"] == "blocks.2"  # the fallback's own default layer
    layer_update, table, info = tab.on_model("resnet18", lang="ko")
    assert "EfficientNet-Lite0" in info and "가중치가 없어" in info and table["data"][0][0] == "conv_stem"


# ---------------------------------------------------------------- the classic CNNs compared


def count_flops_by_hand(model: torch.nn.Module, size: int = 224) -> int:
    """2 x multiply-adds of every convolution and linear layer, from their output shapes (independent of
    torch's FlopCounterMode, which the lesson uses)."""
    total = [0]

    def conv(m, inputs, out):
        kh, kw = m.kernel_size
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear(m, inputs, out):
        total[0] += 2 * out.numel() * m.in_features

    handles = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    handles += [m.register_forward_hook(linear) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return total[0]


class SlowNet(torch.nn.Module):
    """Takes 40 ms per forward: the comparison must report about that."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x):
        import time

        time.sleep(0.04)
        return self.fc(x.mean(dim=(2, 3)))


def test_compare_measures_and_caches(monkeypatch):
    calls = []
    real = compute.measure_cnn

    def counted(name, device, runs=None):
        calls.append(name)
        return real(name, device, runs=1)

    monkeypatch.setattr(compute, "measure_cnn", counted)
    names = ["mobilenet_v3_large", "efficientnet_lite0"]
    for name in names:
        compute.MEASURED.pop((name, "cpu"))
    steps = list(compute.compare_cnns([torch.device("cpu")], names=names))
    assert [done for done, _, _ in steps] == [1, 2] and steps[-1][1] == 2
    results = {r["name"]: r for r in steps[-1][2]}
    for name in names:  # parameters and FLOPs counted on the real architecture, checked independently
        model = zoo.build_architecture(name).eval()
        assert results[name]["params"] == sum(p.numel() for p in model.parameters())
        assert results[name]["gflops"] == pytest.approx(count_flops_by_hand(model) / 1e9, rel=1e-6)
        assert results[name]["latency_ms"] > 0
    assert results["mobilenet_v3_large"]["top1"] == pytest.approx(74.042)  # torchvision's published figure
    list(compute.compare_cnns([torch.device("cpu")], names=names))
    assert calls == names  # the second pass came from the kept measurements
    monkeypatch.setitem(compute._again, "last", None)
    list(compute.compare_cnns([torch.device("cpu")], names=names[:1], again=True))
    assert calls == names + names[:1]  # "again" measures again
    list(compute.compare_cnns([torch.device("cpu")], names=names[:1], again=True))
    assert calls == names + names[:1]  # ... but a student may throw the class's measurements away once per N min
    assert compute.again_in_seconds() > compute.AGAIN_EVERY_S - 60
    assert compute.forget_measurements() == len(names)  # the teacher may, at any time
    list(compute.compare_cnns([torch.device("cpu")], names=names[:1]))
    assert calls == names + names[:1] * 2
    fig = view.compare_figure(steps[-1][2], "en")
    assert set(fig.data[0].text) == {"MobileNetV3-L", "EfficientNet-Lite0"} and fig.layout.xaxis.type == "log"
    table = view.compare_table(steps[-1][2], "ko")
    assert table["data"][1][:2] == ["EfficientNet-Lite0", "cpu"] and table["headers"][0] == "모델"


def test_compare_reports_the_time_a_forward_takes(monkeypatch):
    monkeypatch.setattr(zoo, "build_architecture", lambda name: SlowNet())
    monkeypatch.setattr(zoo, "published_top1", lambda name: 50.0)
    result = compute.measure_cnn("slow", torch.device("cpu"), runs=3)
    assert 38 <= result["latency_ms"] <= 120, result
    assert result["params"] == 3 * 2 + 2


def test_published_figures_of_the_classic_cnns():
    # FLOPs counted at 224 (2 per multiply-add) agree with the architectures' known costs.
    model = zoo.build_architecture("resnet18").eval()
    assert count_flops_by_hand(model) / 2e9 == pytest.approx(1.81, abs=0.05)  # torchvision: 1.81 GMACs
    assert zoo.published_top1("resnet18") == pytest.approx(69.758)
    assert zoo.published_top1("vgg16") == pytest.approx(71.592)
