"""The projector look: a theme and the app's CSS."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def theme():
    """Large, high-contrast text that reads from the back of a classroom."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="blue",
        text_size=gr.themes.sizes.text_lg,
        spacing_size=gr.themes.sizes.spacing_md,
        font=[gr.themes.GoogleFont("Noto Sans KR"), "Noto Sans CJK KR", "Malgun Gothic", "sans-serif"],
    ).set(body_text_color="#111111", block_label_text_weight="700", block_title_text_weight="700")


def css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")
