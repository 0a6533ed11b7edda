"""Shared UI pieces: the projector theme, queue settings per kind of event, and error-safe wrappers."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Concurrency per event (issue 7 tunes these): quick events run many at once; heavy jobs
# (diffusion, fine-tuning, precision benchmarks) share one slot per kind so they cannot starve the quick ones.
QUICK = dict(concurrency_limit=8, concurrency_id="quick")
MODEL = dict(concurrency_limit=4, concurrency_id="model")
HEAVY_DIFFUSION = dict(concurrency_limit=1, concurrency_id="diffusion")
HEAVY_TRAINING = dict(concurrency_limit=2, concurrency_id="training")
HEAVY_BENCH = dict(concurrency_limit=1, concurrency_id="bench")


def theme() -> gr.themes.Base:
    """Large, high-contrast text that reads from the back of a classroom."""
    return gr.themes.Default(
        primary_hue="blue",
        text_size=gr.themes.sizes.text_lg,
        spacing_size=gr.themes.sizes.spacing_md,
        font=[gr.themes.GoogleFont("Noto Sans KR"), "Noto Sans CJK KR", "Malgun Gothic", "sans-serif"],
    ).set(body_text_color="#111111", block_label_text_weight="700", block_title_text_weight="700")


def css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")
