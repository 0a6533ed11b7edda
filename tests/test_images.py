"""The one image input: every mode becomes RGB, bad files get a Korean/English message."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.text import Problem
from core.images import MAX_PIXELS, load_image


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb), with a tiny IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _gradient(w=64, h=48) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    return np.stack([np.tile(x, (h, 1)), np.tile(x[::-1], (h, 1)), np.full((h, w), 128, np.uint8)], axis=-1)


@pytest.mark.parametrize("name, data, needle", [
    ("empty.png", b"", "0 bytes"),
    ("text.png", b"hello, I am not a picture\n" * 10, "not an image"),
    ("bomb.png", _png_header_only(20000, 20000), "too large"),
])
def test_refused_files_have_a_message_in_each_language(tmp_path, name, data, needle):
    with pytest.raises(Problem) as info:
        load_image(_write(tmp_path, name, data))
    assert needle in info.value.say("en")
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in info.value.say("en")), "English only in English"
    assert any("\uac00" <= ch <= "\ud7a3" for ch in info.value.say("ko")), "the Korean page reads Korean"


def test_truncated_jpeg_is_refused(tmp_path):
    data = _save(Image.fromarray(_gradient(256, 256)), "JPEG", quality=90)
    with pytest.raises(Problem, match="damaged"):
        load_image(_write(tmp_path, "cut.jpg", data[: len(data) // 2]))


def test_nothing_given():
    with pytest.raises(Problem, match="upload an image"):
        load_image(None)


def test_one_pixel_image_is_too_small(tmp_path):
    with pytest.raises(Problem, match="too small"):
        load_image(_write(tmp_path, "one.png", _save(Image.new("RGB", (1, 1)), "PNG")))


@pytest.mark.parametrize("mode", ["L", "LA", "P", "RGBA", "CMYK", "I;16", "I", "F", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    base = Image.fromarray(_gradient())
    if mode == "I;16":
        img = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257))
        assert img.mode.startswith("I;16")
        path = _write(tmp_path, "deep.png", _save(img, "PNG"))
    elif mode == "CMYK":
        path = _write(tmp_path, "cmyk.jpg", _save(base.convert("CMYK"), "JPEG"))
    elif mode in ("I", "F"):
        img = base.convert("L").convert(mode)
        path = _write(tmp_path, f"{mode}.tiff", _save(img, "TIFF"))
    else:
        path = _write(tmp_path, f"{mode}.png", _save(base.convert(mode), "PNG"))
    out = load_image(path)
    assert out.mode == "RGB" and out.size == base.size
    assert np.asarray(out).std() > 10, "the picture must survive the conversion, not turn flat"


def test_rgba_transparency_becomes_white(tmp_path):
    img = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    out = np.asarray(load_image(_write(tmp_path, "clear.png", _save(img, "PNG"))))
    assert (out == 255).all()


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (40, 30), color) for color in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = np.asarray(load_image(_write(tmp_path, "anim.gif", buf.getvalue())))
    assert out.shape == (30, 40, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 50


def test_exif_orientation_is_applied(tmp_path):
    img = Image.fromarray(_gradient(80, 40))  # landscape pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": a portrait photo from a phone
    out = load_image(_write(tmp_path, "phone.jpg", _save(img, "JPEG", exif=exif)))
    assert out.size == (40, 80)


def test_large_image_is_downsized_for_compute(tmp_path):
    out = load_image(_write(tmp_path, "big.png", _save(Image.new("RGB", (4000, 3000), (9, 9, 9)), "PNG")), max_side=1024)
    assert out.size == (1024, 768)


@pytest.mark.parametrize("array", [
    _gradient(),
    _gradient()[..., 0],
    _gradient().astype(np.float32) / 255.0,
    (_gradient().astype(np.uint16) * 257),
    np.dstack([_gradient(), np.full((48, 64), 255, np.uint8)]),
])
def test_numpy_inputs(array):
    out = load_image(array)
    assert out.mode == "RGB" and out.size == (64, 48)


def test_nan_array_does_not_crash():
    arr = np.full((20, 20, 3), np.nan, dtype=np.float32)
    assert load_image(arr).size == (20, 20)


def test_pixel_limit_is_sane():
    assert 20_000 * 20_000 > MAX_PIXELS > 12_000_000  # a phone photo passes, a bomb does not


def test_bytes_and_gradio_dict_inputs(tmp_path):
    data = _save(Image.fromarray(_gradient()), "PNG")
    assert load_image(data).size == (64, 48)
    assert load_image({"path": _write(tmp_path, "x.png", data)}).size == (64, 48)
