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
    ).set(
        body_text_color="#111111", block_label_text_weight="700", block_title_text_weight="700",
        # WCAG AA (4.5:1 for text): Gradio's defaults give white on blue-500 at 3.67:1 (primary buttons, the
        # selected tab) and its subdued grey at 1.9:1 (slider ends, the footer). Blue-700 on white: 6.7:1;
        # gray-600: 7.6:1.
        body_text_color_subdued="#4b5563",
        color_accent="*primary_700",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="#ffffff",
        slider_color="*primary_700",
        checkbox_background_color_selected="*primary_700",
        checkbox_border_color_selected="*primary_700",
        border_color_accent="*primary_700",
        block_info_text_color="#4b5563",
        input_placeholder_color="#4b5563",
        link_text_color="*primary_700",
    )


def css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")
