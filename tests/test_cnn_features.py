"""CNN feature-map tab: real checks with the offline EfficientNet-Lite0, and every CNN of the test zoo."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.i18n import UserError
from core.zoo.cnn import load_cnn
from tabs import cnn_features as cf

ROOT = Path(__file__).resolve().parent.parent
BUS_CLASSES = {654, 779, 874}  # minibus, school bus, trolleybus


def bus_jpg() -> Path:
    # Found without importing ultralytics: its import replaces PIL's Image.open process-wide (HEIF plugin).
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("ultralytics is not installed (its sample bus.jpg is the test photo)")
    return Path(list(spec.submodule_search_locations)[0]) / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def lite0():
    cnn, note = load_cnn("efficientnet_lite0", tiny=False)
    assert cnn.real_weights and note is None
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
    return Image.open(ROOT / "assets" / "examples" / "cat.jpg").convert("RGB").crop((130, 20, 330, 230))  # the cat's face


def test_bus_is_a_bus_with_real_lite0(lite0):
    cam, index, crop = cf.grad_cam(lite0, Image.open(bus_jpg()))
    assert index in BUS_CLASSES, lite0.categories[index]
    assert crop.size == (224, 224) and crop.mode == "RGB"
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
        cam, index, _ = cf.grad_cam(lite0, paste_in_quadrant(obj, quadrant, bg))
        masses = quadrant_masses(cam)
        assert index in BUS_CLASSES
        assert int(masses.argmax()) == quadrant, masses
        assert masses[quadrant] > 0.5, masses  # chance would be 0.25


def test_grad_cam_is_class_discriminative(lite0):
    # Cat top-left, bus bottom-right: the cat class lights the cat, the bus class lights the bus.
    canvas = Image.new("RGB", (224, 224), (128, 128, 128))
    canvas.paste(cat_crop().resize((112, 112)), (0, 0))
    canvas.paste(bus_crop().resize((112, 112)), (112, 112))
    cam_cat, _, _ = cf.grad_cam(lite0, canvas, class_index=285)  # Egyptian cat
    cam_bus, _, _ = cf.grad_cam(lite0, canvas, class_index=654)  # minibus
    assert quadrant_masses(cam_cat)[0] > 0.5, quadrant_masses(cam_cat)
    assert quadrant_masses(cam_bus)[3] > 0.5, quadrant_masses(cam_bus)


def test_grad_cam_rejects_bad_class_and_layer(lite0):
    cat = Image.open(ROOT / "assets" / "examples" / "cat.jpg")
    for bad in (-1, 1000, 2.5, float("nan"), "bus"):
        with pytest.raises(UserError):
            cf.grad_cam(lite0, cat, class_index=bad)
    with pytest.raises(UserError):
        cf.grad_cam(lite0, cat, layer="layer4")  # a ResNet name: not in EfficientNet-Lite0
    with pytest.raises(UserError):
        cf.grad_cam(lite0, cat, layer="classifier")  # no 2-D maps there


# ------------------------------------------------------------------ every model path, through the test zoo

import torch  # noqa: E402

from core.zoo import cnn as zoo  # noqa: E402

CAT = ROOT / "assets" / "examples" / "cat.jpg"


@pytest.mark.parametrize("name", zoo.cnn_names())
def test_every_cnn_runs_the_whole_tab(name):
    # Random-init real architectures (the test zoo): one call of the main event per model.
    info, fig, grid, zoom, cam, state, channel, layer_update = cf.run_analysis(str(CAT), name, None, 8, "shared", -1)
    cnn, _ = load_cnn(name)
    layers = [value for _, value in cf.layer_choices(cnn)]
    assert layers == [n for n, _ in zoo.stages(cnn.model)]  # every stage listed, in forward order
    assert layer_update["value"] == cf.default_layer(cnn) in layers
    c, h, w = cf.output_shapes(cnn)[cf.default_layer(cnn)]
    assert h <= 28 and state["activation"].shape == (c, h, w)
    assert grid.dtype == np.uint8 and grid.shape[1] == 8 * (cf.GRID_CELL + cf.GRID_GAP) - cf.GRID_GAP
    assert cam.shape == (cf.ZOOM_SIZE, cf.ZOOM_SIZE, 3) and zoom.shape[0] == cf.ZOOM_SIZE
    assert channel == cf.most_active(state["activation"].astype(np.float32), 1)[0]
    assert len(fig.data[0].y) == 5
    assert "무작위 가중치" in info  # the test zoo says its weights are random (Korean: no request, no language)
    table = cf.layer_table(cnn)
    assert table[-1][-1] == f"{sum(p.numel() for p in cnn.model.parameters()):,}"
    assert sum(int(row[-1].replace(",", "")) for row in table[:-1]) == sum(p.numel() for p in cnn.model.parameters())


def test_layer_list_and_table_of_resnet18():
    cnn, _ = load_cnn("resnet18")
    labels = dict((value, label) for label, value in cf.layer_choices(cnn))
    assert labels["conv1"].endswith("(112x112x64)")
    assert labels["layer1"].endswith("(56x56x64)")
    assert labels["layer4"].endswith("(7x7x512)")
    assert labels["avgpool"].endswith("(1x1x512)")
    assert labels["fc"].endswith("(1000)")
    assert cf.cam_layer(cnn) == "layer4" and cf.default_layer(cnn) == "layer2"
    rows = {row[0]: row for row in cf.layer_table(cnn)}
    assert rows["conv1"][1:] == ["Conv2d", "7x7 / 2x2", "112x112x64", "9,408"]
    assert rows["layer2.0.downsample.0"][2] == "1x1 / 2x2"
    assert rows["fc"][-1] == "513,000"


def test_feature_grid_picks_the_most_active_maps_and_clicks_map_back():
    activation = np.zeros((10, 7, 7), dtype=np.float32)
    activation[3] = 5.0
    activation[7, 0, 0] = 100.0  # mean 2.04
    activation[1] = np.linspace(0, 1, 49).reshape(7, 7)  # mean 0.5
    channels = cf.most_active(activation, 3)
    assert channels == [3, 7, 1]
    grid, layout = cf.render_grid(activation, channels, shared_scale=False)
    pitch = cf.GRID_CELL + cf.GRID_GAP
    assert grid.shape == (cf.GRID_TITLE + cf.GRID_CELL, 3 * pitch - cf.GRID_GAP, 3)
    assert cf.channel_at(layout, 10, 40) == 3
    assert cf.channel_at(layout, pitch + 10, 40) == 7
    assert cf.channel_at(layout, 2 * pitch + 100, cf.GRID_TITLE + 100) == 1
    assert cf.channel_at(layout, cf.GRID_CELL + 1, 40) is None  # the gap between cells
    assert cf.channel_at(layout, 3 * pitch + 5, 40) is None and cf.channel_at(layout, -1, 5) is None
    # Per-map scale: channel 1's ramp spans the whole colormap; shared scale: it is nearly dark next to 100.
    top = cf.GRID_TITLE
    own = grid[top:top + cf.GRID_CELL, 2 * pitch:2 * pitch + cf.GRID_CELL]
    shared, _ = cf.render_grid(activation, channels, shared_scale=True)
    same = shared[top:top + cf.GRID_CELL, 2 * pitch:2 * pitch + cf.GRID_CELL]
    spread = lambda tile: tile.reshape(-1, 3).astype(float).std(axis=0).sum()  # colour spread over the pixels
    assert spread(own) > 50 and spread(same) < 5


def test_grid_click_event_and_zoom():
    _, _, grid, _, _, state, first, _ = cf.run_analysis(str(CAT), "resnet18", "layer3", 16, "each", -1)

    class Click:
        index = [cf.GRID_CELL + cf.GRID_GAP + 5, cf.GRID_TITLE + 5]  # second cell

    zoom, channel = cf.on_grid_click(state, Click())
    assert channel == state["layout"].channels[1] != first
    assert zoom.shape == (cf.ZOOM_SIZE, 2 * cf.ZOOM_SIZE + 8, 3)
    with pytest.raises(UserError):
        cf.zoom_from_state(state, 256)  # layer3 has 256 channels: 0..255
    with pytest.raises(UserError):
        cf.zoom_from_state(None, 0)


def test_bad_inputs_get_clear_messages():
    with pytest.raises(UserError):
        cf.run_analysis(None, "resnet18", None, 16, "each", -1)
    with pytest.raises(UserError):
        cf.run_analysis(str(ROOT / "README.md"), "resnet18", None, 16, "each", -1)  # not an image
    with pytest.raises(UserError):
        cf.run_analysis(str(CAT), "resnet18", "blocks.3", 16, "each", -1)  # a Lite0 layer name on ResNet18
    with pytest.raises(UserError):
        cf.run_analysis(str(CAT), "resnet18", "layer1", 16, "each", 5000)
    with pytest.raises(UserError):
        cf.run_analysis(str(CAT), "resnet18", "layer1", 16, "rainbow", -1)
    with pytest.raises(UserError):
        cf.run_analysis(str(CAT), "lenet", None, 16, "each", -1)
    # Absurd numbers of maps are clamped with a note, not refused.
    info, *_rest = cf.run_analysis(str(CAT), "resnet18", "layer1", float("inf"), "each", -1)
    state = _rest[4]
    assert "16" in info and len(state["layout"].channels) == 16
    info, *_rest = cf.run_analysis(str(CAT), "resnet18", "layer1", 10_000, "each", -1)
    assert len(_rest[4]["layout"].channels) == 64 and "64" in info
    with pytest.raises(UserError):
        cf.run_analysis(str(CAT), "resnet18", "layer1", 16, "each", -6)  # -1..-5 are the 1st..5th guesses
    # The picker's -2 is the network's second guess.
    info, fig, *_rest = cf.run_analysis(str(CAT), "resnet18", "layer1", 8, "each", -2)
    second = fig.data[0].y[-2]  # bars run bottom-up: the last is the top guess
    assert f"**{second.rsplit(' (', 1)[0]}** ({second.rsplit('(', 1)[1]}" in info
    # The 1x1 layers are shown too (each channel one number), and Grad-CAM uses a chosen class.
    info, *_rest = cf.run_analysis(str(CAT), "resnet18", "fc", 8, "each", 281)
    assert _rest[4]["activation"].shape == (1000, 1, 1) and "tabby" in info


def test_missing_weights_fall_back_to_the_offline_cnn(monkeypatch):
    # Real-weight mode, offline, no ResNet18 in the cache: the tab says so and uses EfficientNet-Lite0.
    monkeypatch.setenv("DLCLASS_MODELS", "real")
    monkeypatch.setattr(zoo, "weights_cached", lambda name: name == zoo.OFFLINE_CNN)
    assert cf.starting_model() == zoo.OFFLINE_CNN
    from core import models

    monkeypatch.setattr(models, "offline", lambda: True)
    try:
        models.get("resnet18", tiny=False)
        pytest.skip("ResNet18 weights are cached here: nothing falls back")
    except models.ModelUnavailable:
        pass
    info, *_rest = cf.run_analysis(str(CAT), "resnet18", "layer4", 8, "each", -1)
    assert "EfficientNet-Lite0" in info and "prefetch resnet18" in info
    assert _rest[6]["value"] == "blocks.2"  # the fallback's own default layer


def test_compare_measures_and_caches(monkeypatch):
    calls = []
    real = cf.measure_cnn

    def counted(name, device, runs=None):
        calls.append(name)
        return real(name, device, runs=1)

    monkeypatch.setattr(cf, "measure_cnn", counted)
    monkeypatch.setattr(cf, "_MEASURED", {})
    names = ["mobilenet_v3_large", "efficientnet_lite0"]
    steps = list(cf.compare_cnns([torch.device("cpu")], names=names))
    assert [done for done, _, _ in steps] == [1, 2] and steps[-1][1] == 2
    results = steps[-1][2]
    lite = {r["name"]: r for r in results}["efficientnet_lite0"]
    assert lite["top1"] == 75.1 and 4.0e6 < lite["params"] < 5.5e6 and 0.6 < lite["gflops"] < 1.0
    mobile = {r["name"]: r for r in results}["mobilenet_v3_large"]
    assert mobile["top1"] == pytest.approx(74.042) and mobile["latency_ms"] > 0
    list(cf.compare_cnns([torch.device("cpu")], names=names))
    assert calls == names  # the second pass came from the cache
    fig = cf.compare_figure(results, "en")
    assert set(fig.data[0].text) == {"MobileNetV3-L", "EfficientNet-Lite0"} and fig.layout.xaxis.type == "log"
    assert cf.compare_table(results)[1][:2] == ["EfficientNet-Lite0", "cpu"]


def test_published_figures_of_the_classic_cnns():
    # FLOPs counted at 224 (2 per multiply-add) agree with the architectures' known costs.
    from torch.utils.flop_counter import FlopCounterMode

    model = zoo.build_architecture("resnet18").eval()
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, 224, 224))
    assert counter.get_total_flops() / 2e9 == pytest.approx(1.81, abs=0.05)  # torchvision: 1.81 GMACs
    assert zoo.published_top1("resnet18") == pytest.approx(69.758)
    assert zoo.published_top1("vgg16") == pytest.approx(71.592)


def test_concurrent_requests_on_one_model_do_not_mix():
    # The tab shares one cached model between requests: hooks of one request must ignore the others.
    from concurrent.futures import ThreadPoolExecutor

    cnn, _ = load_cnn("resnet18")
    photos = [Image.open(ROOT / "assets" / "examples" / f"{n}.jpg").convert("RGB") for n in ("cat", "coffee", "rocket")]
    jobs = [(photo, layer) for photo in photos for layer in ("layer1", "layer3")]
    alone = [cf.analyse(cnn, photo, capture=layer, cam_at="layer4") for photo, layer in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: cf.analyse(cnn, job[0], capture=job[1], cam_at="layer4"), jobs * 2))
    for i, result in enumerate(together):
        expected = alone[i % len(jobs)]
        assert result.activation.shape == expected.activation.shape
        np.testing.assert_allclose(result.activation, expected.activation, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result.cam, expected.cam, atol=1e-3)
