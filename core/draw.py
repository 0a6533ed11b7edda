"""Drawing helpers shared by the tabs (OpenCV/PIL): heatmap overlays, grids, labels."""
from __future__ import annotations

import cv2
import numpy as np


def normalize01(values: np.ndarray) -> np.ndarray:
    """Scale to 0..1 (a constant map becomes all zeros); NaN/inf become 0."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


def colorize(heat: np.ndarray, colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """A 2-D map -> HxWx3 uint8 RGB with an OpenCV colormap (after scaling to 0..1)."""
    heat8 = (normalize01(heat) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(heat8, colormap), cv2.COLOR_BGR2RGB)


def overlay_heatmap(image_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.45,
                    colormap: int = cv2.COLORMAP_JET) -> np.ndarray:
    """Blend a 2-D heat map (any size, resized smoothly) over an RGB uint8 image."""
    image_rgb = np.asarray(image_rgb, dtype=np.uint8)
    h, w = image_rgb.shape[:2]
    heat = cv2.resize(np.asarray(heat, dtype=np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    blended = cv2.addWeighted(image_rgb, 1 - alpha, colorize(heat, colormap), alpha, 0)
    return blended


def draw_grid(image_rgb: np.ndarray, rows: int, cols: int, color=(255, 255, 255), thickness: int = 1,
              numbers: bool = False) -> np.ndarray:
    """Draw a rows x cols grid over an image; optionally number the cells row by row from 0."""
    out = np.ascontiguousarray(np.asarray(image_rgb, dtype=np.uint8).copy())
    h, w = out.shape[:2]
    for r in range(1, rows):
        y = round(r * h / rows)
        cv2.line(out, (0, y), (w - 1, y), color, thickness)
    for c in range(1, cols):
        x = round(c * w / cols)
        cv2.line(out, (x, 0), (x, h - 1), color, thickness)
    if numbers:
        scale = max(0.3, min(h / rows, w / cols) / 40)
        for r in range(rows):
            for c in range(cols):
                x, y = round(c * w / cols) + 2, round(r * h / rows) + int(12 * scale) + 2
                put_label(out, str(r * cols + c), (x, y), scale=scale)
    return out


def put_label(image_rgb: np.ndarray, text: str, origin: tuple[int, int], scale: float = 0.5,
              color=(255, 255, 255), background=(0, 0, 0)) -> np.ndarray:
    """Text with a dark outline, readable on any background (in place; also returned). `origin` is the
    left end of the baseline, as in OpenCV. ASCII is drawn by OpenCV (fast); any other text (Korean class
    names) with a font that has Hangul (see `hangul_font`), at the same size."""
    if text.isascii():
        thickness = max(1, round(scale * 2))
        cv2.putText(image_rgb, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, background, thickness + 2, cv2.LINE_AA)
        cv2.putText(image_rgb, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)
        return image_rgb
    from PIL import Image, ImageDraw

    font = hangul_font(_font_px(scale))
    x, y = origin
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    pad = 3
    x0, y0 = max(0, x + left - pad), max(0, y + top - pad)
    x1, y1 = min(image_rgb.shape[1], x + right + pad), min(image_rgb.shape[0], y + bottom + pad)
    if x1 <= x0 or y1 <= y0:
        return image_rgb
    patch = Image.fromarray(np.ascontiguousarray(image_rgb[y0:y1, x0:x1]))
    ImageDraw.Draw(patch).text((x - x0, y - y0), text, font=font, fill=tuple(color), anchor="ls",
                               stroke_width=max(1, round(scale * 2)), stroke_fill=tuple(background))
    image_rgb[y0:y1, x0:x1] = np.asarray(patch)
    return image_rgb


def _font_px(scale: float) -> int:
    return max(10, round(30 * scale))  # OpenCV's simplex font at scale 1 is about 30 px tall


def label_size(text: str, scale: float = 0.5) -> tuple[int, int, int]:
    """(width, height above the baseline, depth below it) of `text` as `put_label` draws it."""
    if text.isascii():
        (width, height), depth = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, round(scale * 2)))
        return width, height, depth
    left, top, right, bottom = hangul_font(_font_px(scale)).getbbox(text, anchor="ls")
    return right - left, -top, bottom


# Fonts with Hangul, in the order we look for them: Debian's fonts-noto-cjk (the tests' machine; on a
# Hugging Face Space `packages.txt` installs it), then Nanum, then what macOS and Windows laptops have.
HANGUL_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/nanum/NanumGothicBold.ttf",
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/System/Library/Fonts/AppleSDGothicNeo.ttc",
    "C:/Windows/Fonts/malgunbd.ttf",
    "C:/Windows/Fonts/malgun.ttf",
]


def hangul_font_path() -> str | None:
    """The first font file with Hangul on this computer, or None (then labels fall back to PIL's own font,
    which has no Hangul: the page's text still shows every Korean name)."""
    from pathlib import Path

    return next((path for path in HANGUL_FONTS if Path(path).is_file()), None)


def picture_lang(lang: str) -> str:
    """The language to draw names in on a picture: the page's, unless it is Korean and this computer has no
    font with Hangul (then English, readable, rather than empty boxes; the page's text keeps the Korean)."""
    return lang if lang != "ko" or hangul_font_path() is not None else "en"


_fonts: dict[int, object] = {}


def hangul_font(size: int):
    from PIL import ImageFont

    font = _fonts.get(size)
    if font is None:
        path = hangul_font_path()
        if path is None:
            import logging

            logging.getLogger("dlclass.draw").warning(
                "no font with Hangul found (install fonts-noto-cjk); Korean labels on pictures will not render")
            font = ImageFont.load_default(size)
        else:
            font = ImageFont.truetype(path, size)
        _fonts[size] = font
    return font
