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
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets" / "bus.jpg"


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
