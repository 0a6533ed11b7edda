"""The projector look: a theme and the app's CSS."""
from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SYSTEM_FONTS = ("Noto Sans KR", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", "sans-serif")
MONO_FONTS = ("ui-monospace", "Noto Sans Mono CJK KR", "Consolas", "monospace")


def theme():
    """Large, high-contrast text that reads from the back of a classroom."""
    import gradio as gr

    return gr.themes.Default(
        primary_hue="blue",
        text_size=gr.themes.sizes.text_lg,
        spacing_size=gr.themes.sizes.spacing_md,
        # The fonts already on the students' computers (ChromeOS and Android: Noto Sans CJK; macOS: Apple SD
        # Gothic Neo; Windows: Malgun Gothic): nothing is fetched from another host (a font given by name has no
        # stylesheet, where a GoogleFont makes every browser call Google and fails offline).
        font=list(SYSTEM_FONTS),
        font_mono=list(MONO_FONTS),
    ).set(body_text_color="#111111", block_label_text_weight="700", block_title_text_weight="700")


def css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")
