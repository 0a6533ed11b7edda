"""Shared drawing helpers."""
from __future__ import annotations

import numpy as np

from core import draw
from core.draw import draw_grid, normalize01, overlay_heatmap


def test_normalize01_uses_the_data_range():
    out = normalize01(np.array([[0.5, 0.6], [0.7, 0.9]]))
    assert np.isclose(out.min(), 0) and np.isclose(out.max(), 1) and np.isclose(out[0, 1], 0.25)


def test_normalize01_constant_nan_and_empty():
    assert not normalize01(np.full((3, 3), 7.0)).any()
    assert np.isfinite(normalize01(np.array([np.nan, 1.0, np.inf]))).all()
    assert normalize01(np.zeros((0, 4))).shape == (0, 4)


def test_overlay_keeps_image_size_and_draws_heat_where_it_is():
    image = np.full((60, 80, 3), 128, np.uint8)
    heat = np.zeros((7, 7))
    heat[0, 0] = 1.0
    out = overlay_heatmap(image, heat, alpha=0.5)
    assert out.shape == image.shape and out.dtype == np.uint8
    # JET maps 1.0 to dark red, 0 to dark blue: the top-left corner is redder than the bottom-right.
    assert out[2, 2, 0] > out[-3, -3, 0] and out[-3, -3, 2] > out[2, 2, 2]


def test_grid_lines_land_on_cell_edges():
    out = draw_grid(np.zeros((40, 40, 3), np.uint8), rows=4, cols=4, color=(255, 255, 255))
    assert (out[10, :, 0] == 255).all() and (out[:, 20, 0] == 255).all() and out[5, 5, 0] == 0


def test_korean_labels_are_drawn_with_a_hangul_font():
    """Two different Hangul syllables must give two different pictures: a font without Hangul draws the
    same empty box (tofu) for both."""
    assert draw.hangul_font_path() is not None, "no Hangul font (apt-get install fonts-noto-cjk; Spaces: packages.txt)"
    pictures = []
    for word in ("군", "복"):
        img = np.zeros((60, 60, 3), np.uint8)
        draw.put_label(img, word, (8, 45), scale=1.0)
        assert (img > 0).any(axis=2).sum() > 80  # a glyph with its outline, not nothing
        pictures.append(img)
    assert not np.array_equal(pictures[0], pictures[1])
    ascii_img = np.zeros((40, 120, 3), np.uint8)
    assert draw.put_label(ascii_img, "bus 0.91", (4, 30)) is ascii_img and ascii_img.any()
