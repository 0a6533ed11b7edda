"""Every endpoint gets its bad inputs through the real API (gradio_client), as a stranger would send them.

Each case must end in a clear message in the page's language (Korean for a caller that sends no
Accept-Language, English for one that asks for it; never both at once) or a sensible (clamped) result, and
the server must answer the next request.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import urllib.request
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

HANGUL = range(0xAC00, 0xD7A4)


def _korean(text: str) -> bool:
    """A message for a Korean page: in Korean (code names such as `conv2d` or a file name may appear)."""
    return any(ord(ch) in HANGUL for ch in text)


def _english(text: str) -> bool:
    """A message for an English page: no Korean at all."""
    return bool(text.strip()) and not any(ord(ch) in HANGUL for ch in text)


def _png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _photo(w=96, h=72) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    return Image.fromarray(np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.uint8))


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gif() -> bytes:
    frames = [_photo().convert("P"), _photo().rotate(90).convert("P")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


BAD_FILES = {  # name -> (bytes, must the app refuse it?)
    "zero.png": (lambda: b"", True),
    "text_renamed.png": (lambda: b"this is a text file, not a picture\n" * 20, True),
    "truncated.jpg": (lambda: _encode(_photo(256, 256), "JPEG")[:1500], True),
    "one_pixel.png": (lambda: _encode(Image.new("RGB", (1, 1)), "PNG"), True),
    "bomb_20000.png": (lambda: _png_bomb(20000, 20000), True),
    "deep_16bit.png": (lambda: _encode(Image.fromarray(np.asarray(_photo().convert("L"), np.uint16) * 257), "PNG"), False),
    "cmyk.jpg": (lambda: _encode(_photo().convert("CMYK"), "JPEG"), False),
    "rgba.png": (lambda: _encode(_photo().convert("RGBA"), "PNG"), False),
    "palette.png": (lambda: _encode(_photo().convert("P"), "PNG"), False),
    "animated.gif": (_gif, False),
}

# (api_name, name of the image parameter, other arguments)
IMAGE_ENDPOINTS = [
    ("cnn_features", "image", {}),
    ("vit_attention", "image", {}),
    ("yolo_detect", "image", {}),
]

WEIRD_NUMBERS = [math.nan, math.inf, -math.inf, 1e400, -1e9, 1e9]


@pytest.fixture(scope="module")
def client(app_url):
    """A caller that sends no language: answered in Korean (the class is Korean)."""
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=False, analytics_enabled=False)


@pytest.fixture(scope="module")
def client_en(app_url):
    """A caller whose page is in English."""
    from gradio_client import Client

    return Client(app_url, verbose=False, download_files=False, analytics_enabled=False,
                  headers={"Accept-Language": "en-US,en;q=0.9"})


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_files")
    paths = {}
    for name, (make, _) in BAD_FILES.items():
        (folder / name).write_bytes(make())
        paths[name] = str(folder / name)
    return paths


def _call(client, api_name: str, **kwargs):
    """(result, None) on success, (None, message) on an error the server sent."""
    from gradio_client.exceptions import AppError

    try:
        return client.predict(api_name=f"/{api_name}", **kwargs), None
    except AppError as exc:
        return None, str(exc)


def _upload(app_url: str, path: str) -> dict:
    """Upload a file over plain HTTP; returns the FileData dict the API takes."""
    boundary = "dlclassbadinput"
    data = open(path, "rb").read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{app_url}gradio_api/upload", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        server_path = json.loads(response.read())[0]
    return {"path": server_path, "orig_name": os.path.basename(path), "meta": {"_type": "gradio.FileData"}}


def _raw_call(client, app_url: str, api_name: str, **overrides):
    """Call an endpoint with hand-written JSON, as a script could: NaN and Infinity included
    (gradio_client refuses to send them, a raw HTTP request does not)."""
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"][f"/{api_name}"]
    data = [overrides.get(p["parameter_name"], p.get("parameter_default")) for p in info["parameters"]]
    body = json.dumps({"data": data}, allow_nan=True).encode()  # NaN, Infinity: what json.loads accepts
    request = urllib.request.Request(f"{app_url}gradio_api/call/{api_name}", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{app_url}gradio_api/call/{api_name}/{event_id}", timeout=300) as response:
        stream = response.read().decode("utf-8", errors="replace")
    events = re.findall(r"event: (\w+)\ndata: (.*)", stream)
    kind, payload = events[-1]
    if kind == "error":
        error = json.loads(payload) if payload and payload != "null" else ""
        return None, error.get("error") or "" if isinstance(error, dict) else str(error)
    return json.loads(payload), None


def _still_serving(client):
    result, error = _call(client, "float_bits", text="0.1")
    assert error is None and result is not None, "the server stopped answering after the previous case"


@pytest.mark.parametrize("file_name", list(BAD_FILES))
@pytest.mark.parametrize("api_name, param, extra", IMAGE_ENDPOINTS, ids=[e[0] for e in IMAGE_ENDPOINTS])
def test_image_endpoints_with_bad_files(client, bad_files, api_name, param, extra, file_name):
    from gradio_client import handle_file

    must_refuse = BAD_FILES[file_name][1]
    result, error = _call(client, api_name, **{param: handle_file(bad_files[file_name])}, **extra)
    if must_refuse:
        assert error is not None, f"{api_name} accepted {file_name}"
        assert _korean(error), f"{api_name} on {file_name}: message not in Korean: {error!r}"
    else:
        assert error is None, f"{api_name} refused a valid odd image {file_name}: {error}"
    _still_serving(client)


@pytest.mark.parametrize("value", WEIRD_NUMBERS, ids=str)
@pytest.mark.parametrize("param", ["height", "width", "kernel_size", "stride", "padding", "dilation"])
def test_conv_steps_with_absurd_numbers(client, app_url, param, value):
    result, error = _raw_call(client, app_url, "conv_steps", **{param: value})
    assert error is None or _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("kwargs", [
    {"conf": math.nan}, {"conf": 5.0}, {"iou": -1.0}, {"conf": 1e400},
], ids=str)
def test_yolo_with_absurd_numbers(client, app_url, kwargs):
    from tests.conftest import ROOT

    image = _upload(app_url, str(ROOT / "assets" / "examples" / "astronaut.jpg"))
    result, error = _raw_call(client, app_url, "yolo_detect", image=image, **kwargs)
    assert error is None or _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("prompt", ["", "   ", "고양이 " * 1000, "a " * 2500], ids=["empty", "spaces", "korean_5000", "english_5000"])
def test_sd_generate_prompts(client, prompt):
    result, error = _call(client, "sd_generate", prompt=prompt, size=256, steps=1)
    assert error is None or _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("kwargs", [{"steps": 1e9}, {"steps": math.nan}, {"guidance": 1e400}, {"seed": -5}], ids=str)
def test_sd_generate_absurd_settings(client, app_url, kwargs):
    result, error = _raw_call(client, app_url, "sd_generate", prompt="a cat", size=256, **{"steps": 1, **kwargs})
    assert error is None or _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("text", ["", "abc", "1e400", "-1e400", "nan", "inf", "-0", "0x10", "1,5", "9" * 500])
def test_float_bits_text(client, text):
    result, error = _call(client, "float_bits", text=text)
    assert error is None or _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("kwargs", [{"batch_size": 1e9}, {"batch_size": math.nan}, {"budget_s": -1.0}, {"budget_s": 1e400}], ids=str)
def test_precision_compare_absurd_settings(client, app_url, kwargs):
    settings = {"precisions": ["fp32"], "matmul_size": 256, "budget_s": 5.0, **kwargs}
    result, error = _raw_call(client, app_url, "precision_compare", **settings)
    assert error is None or _korean(error), error
    _still_serving(client)


def test_dropdown_value_outside_choices_is_said_in_korean(client, bad_files):
    from gradio_client import handle_file

    result, error = _call(client, "cnn_features", image=handle_file(bad_files["rgba.png"]), model_name="no_such_net")
    assert error is not None and _korean(error), error
    _still_serving(client)


@pytest.mark.parametrize("api_name", [e[0] for e in IMAGE_ENDPOINTS])
def test_an_english_page_gets_english_only(client_en, bad_files, api_name):
    from gradio_client import handle_file

    result, error = _call(client_en, api_name, image=handle_file(bad_files["text_renamed.png"]))
    assert error is not None and _english(error), error
    assert "not an image" in error
    result, error = _call(client_en, "float_bits", text="abc")
    assert error is None or _english(error), error
