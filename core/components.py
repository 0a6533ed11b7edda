"""The input components of the app: Gradio's own, with their input checks left to the lessons.

Gradio checks some inputs before our functions run, and says what is wrong in English only (a
number out of its slider's range: "Value 900 is greater than maximum value 640."; a radio value not
among its choices), and `gr.Image` opens and converts every upload with PIL first (its default
`image_mode="RGB"` turns a 16-bit grayscale PNG into an almost white picture). The class is Korean,
and `core.images.load_image` is the one place that converts pictures.

So each component here is a Gradio *template* of the same component (`is_template = True`: the page
draws the very same Svelte component; this is Gradio's public mechanism for templates such as
`gr.TextArea`), whose `preprocess` hands the raw value on. The lesson checks it with
`core.values.clamp` / `choice` and says what it changed in the page's language; pictures go to
`load_image` exactly as they were sent (the original file, or the bytes of a webcam frame).

`tests/test_components.py` fails when Gradio's own behaviour changes in a way that matters here (the
frontend name, or the checks we step around).
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path

import gradio as gr

from core import text


class Slider(gr.Slider):
    """gr.Slider; out-of-range API values reach the lesson, which clamps them with a note."""

    is_template = True

    def preprocess(self, payload):
        return payload


class Number(gr.Number):
    """gr.Number; out-of-range API values reach the lesson, which clamps them with a note."""

    is_template = True

    def preprocess(self, payload):
        return payload


class Radio(gr.Radio):
    """gr.Radio passing the value on (`type="value"` only); the lesson checks it against its choices."""

    is_template = True

    def preprocess(self, payload):
        return payload


class Dropdown(gr.Dropdown):
    """gr.Dropdown passing the value on (`type="value"` only); the lesson checks it against its choices."""

    is_template = True

    def preprocess(self, payload):
        return payload


class CheckboxGroup(gr.CheckboxGroup):
    """gr.CheckboxGroup passing the values on (`type="value"` only); the lesson keeps the known ones."""

    is_template = True

    def preprocess(self, payload):
        return payload


class Image(gr.Image):
    """The one image input: passes the uploaded file on untouched (its path), or the bytes of a webcam
    frame, so that `core.images.load_image` sees every pixel as it was sent (16-bit, CMYK, palette with
    transparency, EXIF rotation) and refuses a non-image in the page's language."""

    is_template = True
    # No __init__ of our own: Gradio reads a component's properties from its __init__ signature.
    # `type` and `image_mode` do not matter here: this preprocess never opens the picture.

    def preprocess(self, payload):
        if payload is None:
            return None
        url = getattr(payload, "url", None)
        if url and url.startswith("data:"):  # a streamed webcam frame: data:image/...;base64,...
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=False)
            except (IndexError, binascii.Error):
                return b""
        path = getattr(payload, "path", None)
        return str(Path(path)) if path else None


def image_output(**kwargs) -> gr.Image:
    """An output picture: JPEG unless the caller asks for PNG (sharp-edged drawings), not editable,
    with a full-screen button for the projector. Its alt text (what a screen reader says) is its label in the
    page's language unless the caller gives a better one (`alt_text=`, e.g. what the picture shows)."""
    kwargs.setdefault("alt_text", kwargs.get("label"))
    kwargs.setdefault("format", "jpeg")
    kwargs.setdefault("interactive", False)
    kwargs.setdefault("buttons", ["fullscreen"])
    return gr.Image(**kwargs)


def control(setting, *, widget: str | None = None, **kwargs):
    """The control of a lesson's declared setting (`core.values.Setting`): its range, step, choices, default
    and label come from the one declaration. widget: "slider" (default for numbers), "number", "radio" (default
    for choices) or "dropdown"; other keyword arguments go to the component (info, scale, elem_id, ...)."""
    kwargs.setdefault("label", text.ui(setting.label.key))
    kwargs.setdefault("value", setting.default)
    if setting.choices is not None:
        widget = widget or "radio"
        maker = {"radio": Radio, "dropdown": Dropdown}[widget]
        kwargs.setdefault("choices", list(setting.choices))
        return maker(**kwargs)
    widget = widget or "slider"
    step = setting.step if setting.step is not None else (1 if setting.integer else None)
    if widget == "number":
        return Number(minimum=setting.low, maximum=setting.high, step=step, precision=0 if setting.integer else None,
                      **kwargs)
    if widget == "dropdown":  # a number picked from a few good values (or typed: allow_custom_value)
        return Dropdown(**kwargs)
    return Slider(setting.low, setting.high, step=step, **kwargs)
