"""core/components.py: Gradio templates that hand raw values on. These tests fail when Gradio changes in
a way that matters: the page must draw the same component, with all its properties, and Gradio's own
checks (that the templates step around) must still be the English-only ones they replace."""
from __future__ import annotations

import base64
import io

import gradio as gr
import numpy as np
import pytest
from PIL import Image as PILImage

from core import components
from core.images import load_image

TEMPLATES = [
    (components.Slider, gr.Slider, dict(minimum=0, maximum=10, value=3, label="n")),
    (components.Number, gr.Number, dict(value=1, minimum=0, maximum=5, label="n")),
    (components.Radio, gr.Radio, dict(choices=["a", "b"], value="a", label="r")),
    (components.Dropdown, gr.Dropdown, dict(choices=["a", "b"], value="a", label="d")),
    (components.CheckboxGroup, gr.CheckboxGroup, dict(choices=["a", "b"], value=["a"], label="c")),
    (components.Image, gr.Image, dict(label="photo", sources=["upload"], height=170)),
]


@pytest.mark.parametrize("ours, theirs, kwargs", TEMPLATES)
def test_the_page_draws_the_same_component_with_all_its_properties(ours, theirs, kwargs):
    with gr.Blocks() as demo:
        mine = ours(**kwargs, elem_id="mine")
        base = theirs(**kwargs, elem_id="base")
    assert mine.get_block_name() == base.get_block_name() == theirs.__name__.lower()
    config = {c["id"]: c for c in demo.get_config_file()["components"]}
    mine_props, base_props = config[mine._id]["props"], config[base._id]["props"]
    # Gradio builds the props from the component's __init__ signature: a template must not hide them
    # (an __init__ of our own made the page draw nothing at all).
    assert set(base_props) - {"elem_id"} <= set(mine_props)
    assert mine_props["label"] == kwargs["label"]


def test_gradio_still_refuses_out_of_range_values_in_english_so_the_templates_are_still_needed():
    with pytest.raises(gr.Error, match="greater than maximum"):
        gr.Slider(0, 10).preprocess(99)
    with pytest.raises(gr.Error, match="not in the list of choices"):
        gr.Radio(["a", "b"]).preprocess("z")
    with pytest.raises(gr.Error, match="not in the list of choices"):
        gr.Dropdown(["a", "b"]).preprocess("z")
    # ours pass the value on, for the lesson to clamp with a note in the page's language
    assert components.Slider(0, 10).preprocess(99) == 99
    assert components.Radio(["a", "b"]).preprocess("z") == "z"
    assert components.Dropdown(["a", "b"]).preprocess("z") == "z"
    assert components.CheckboxGroup(["a", "b"]).preprocess(["a", "z"]) == ["a", "z"]


def test_gradio_image_still_converts_uploads_so_the_one_image_input_is_still_needed(tmp_path):
    """gr.Image's own preprocess turns a 16-bit grayscale PNG into an almost white RGB picture; ours hands
    the original file to load_image, which stretches its real range."""
    gradient = (np.linspace(1000, 3000, 64 * 64).reshape(64, 64)).astype(np.uint16)
    path = tmp_path / "gray16.png"
    PILImage.fromarray(gradient).save(path)
    payload = gr.FileData(path=str(path), orig_name="gray16.png")
    theirs = gr.Image(type="numpy").preprocess(payload)
    assert theirs.mean() > 250  # the whitewash the one image input avoids
    ours = components.Image().preprocess(payload)
    assert ours == str(path)
    assert PILImage.open(ours).mode.startswith("I;16")  # the file itself, untouched
    loaded = np.asarray(load_image(ours))
    assert loaded.min() == 0 and loaded.max() == 255  # load_image stretches the real range


def test_a_streamed_webcam_frame_arrives_as_its_bytes():
    buffer = io.BytesIO()
    PILImage.new("RGB", (32, 24), (200, 10, 10)).save(buffer, format="JPEG")
    url = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
    frame = components.Image(streaming=True, sources=["webcam"]).preprocess(gr.FileData(url=url, path=""))
    assert isinstance(frame, bytes) and load_image(frame).size == (32, 24)
    assert components.Image().preprocess(None) is None


def test_output_pictures_are_jpeg_unless_asked():
    assert components.image_output().format == "jpeg"
    assert components.image_output(format="png").format == "png"
