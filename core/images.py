"""The one image input: every tab that takes an image calls `load_image`.

It accepts what Gradio hands over (a PIL image, a numpy array, a file path or bytes), applies the
EXIF orientation, converts every mode to 8-bit RGB, refuses what is not an image (or is a
decompression bomb) with a `Problem` (said in the page's language by the event layer), and shrinks very large images for compute.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core import text

TEXT = text.table("images", {
    "not_image": ("이미지 파일이 아니거나 손상된 파일입니다. JPG, PNG, WEBP, BMP, GIF 사진을 올려 주세요.",
                  "This is not an image file, or it is damaged. Please upload a JPG, PNG, WEBP, BMP or GIF photo."),
    "not_found": ("파일을 찾을 수 없습니다.", "The file could not be found."),
    "empty": ("빈 파일(0바이트)입니다.", "The file is empty (0 bytes)."),
    "file_too_large": ("파일이 너무 큽니다 ({mb} MB). {limit} MB 이하로 올려 주세요.",
                       "The file is too large ({mb} MB). Please keep it under {limit} MB."),
    "too_many_pixels": ("이미지가 너무 큽니다{size}. {limit}메가픽셀 이하의 사진을 올려 주세요.",
                        "The image is too large{size}. Please use a photo of at most {limit} megapixels."),
    "missing": ("이미지를 먼저 올리거나 예시를 골라 주세요.", "Please upload an image or pick an example first."),
    "too_small": ("이미지가 너무 작습니다 ({width}x{height}). 가로세로 {min_side}픽셀 이상이어야 합니다.",
                  "The image is too small ({width}x{height}). It needs at least {min_side} pixels on each side."),
})

# A 20000x20000 PNG is 400 MP: far past what a classroom photo needs. 50 MP covers every phone camera.
MAX_PIXELS = 50_000_000
# Longest side used for compute; a 12 MP photo becomes 1024 px on its long side.
DEFAULT_MAX_SIDE = 1024
MAX_FILE_BYTES = 50 * 1024 * 1024

# PIL's own bomb guard raises at 2x this; we check the header size ourselves first.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _refuse_not_image() -> text.Problem:
    return TEXT.problem("not_image")


def _open(value) -> Image.Image:
    """Open whatever Gradio gives us as a PIL image, without decoding the pixels yet."""
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, dict):  # gr.Image / gr.File payloads as dicts ({"path": ...}) from the API
        value = value.get("path") or value.get("name") or value.get("url")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise TEXT.problem("not_found")
        size = path.stat().st_size
        if size == 0:
            raise TEXT.problem("empty")
        if size > MAX_FILE_BYTES:
            raise TEXT.problem("file_too_large", mb=f"{size / 1e6:.0f}", limit=MAX_FILE_BYTES // 1_000_000)
        value = path.read_bytes()
    if isinstance(value, (bytes, bytearray)):
        if len(value) == 0:
            raise TEXT.problem("empty")
        try:
            return Image.open(io.BytesIO(value))
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, ImportError):
            # ImportError: ultralytics (imported by the warm-up) patches Image.open to fetch a HEIF
            # plugin when PIL cannot identify a file; offline that raises ModuleNotFoundError.
            raise _refuse_not_image() from None
        except Image.DecompressionBombError:
            raise _too_many_pixels(None) from None
    raise _refuse_not_image()


def _too_many_pixels(img: Image.Image | None) -> text.Problem:
    size = f" ({img.width}x{img.height})" if img is not None else ""
    return TEXT.problem("too_many_pixels", size=size, limit=MAX_PIXELS // 1_000_000)


def _array_to_rgb(arr: np.ndarray) -> Image.Image:
    """Numpy arrays from Gradio or tests: HxW, HxWx1, HxWx3 or HxWx4; uint8, uint16 or float."""
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
        raise _refuse_not_image()
    if arr.shape[0] * arr.shape[1] > MAX_PIXELS:
        raise _too_many_pixels(None)
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    else:
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
    img = Image.fromarray(arr)
    return _mode_to_rgb(img)


def _mode_to_rgb(img: Image.Image) -> Image.Image:
    """Every PIL mode to RGB. Transparent areas become white, as a viewer would show them."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float images: stretch their real range to 0..255 instead of clipping to white.
        arr = np.asarray(img, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode == "CMYK":
        # PIL's CMYK->RGB is the naive formula; Adobe JPEGs store inverted CMYK, which it handles on open.
        return img.convert("RGB")
    return img.convert("RGB")


def load_image(value, *, max_side: int | None = DEFAULT_MAX_SIDE, min_side: int = 8) -> Image.Image:
    """Any image Gradio gives us -> an upright 8-bit RGB PIL image, at most `max_side` on its long side.

    Raises UserError (Korean/English) for: nothing given, non-images, empty or truncated files,
    decompression bombs, and images too small to mean anything.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise TEXT.problem("missing")
    if isinstance(value, np.ndarray):
        img = _array_to_rgb(value)
    else:
        img = _open(value)
        if img.width * img.height > MAX_PIXELS:
            raise _too_many_pixels(img)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img.seek(0)  # animated GIF/WEBP: the first frame
                img.load()
                img = ImageOps.exif_transpose(img)
        except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombWarning):
            raise _refuse_not_image() from None
        except Image.DecompressionBombError:
            raise _too_many_pixels(img) from None
        img = _mode_to_rgb(img)
    if min(img.size) < min_side:
        raise TEXT.problem("too_small", width=img.width, height=img.height, min_side=min_side)
    if max_side is not None and max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def load_image_array(value, **kwargs) -> np.ndarray:
    """`load_image` as an HxWx3 uint8 numpy array."""
    return np.asarray(load_image(value, **kwargs))
