"""The CNN feature-map tab: a photo and the controls on the left; the top-5, Grad-CAM, the feature maps and
the enlarged map on the right; the layer table and the comparison of the classic CNNs below."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from core import components, events
from core.zoo import cnn as zoo
from tabs.cnn_features import compute, view
from tabs.cnn_features.text import TEXT

EXAMPLE_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
# The cat first: it is the worked example the tab opens with (Grad-CAM finds the cat's face).
EXAMPLES = [EXAMPLE_DIR / name for name in ("cat.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg")]


def cnn_features(image, model_name, layer, n_maps, scale, cam_class, *, lang: str = "ko"):
    """The main event: the top-5, the N most active maps of a layer, the strongest one enlarged, and Grad-CAM.

    Returns (info, top-5 figure, grid, zoom, Grad-CAM picture, state for grid clicks, channel, layer picker)."""
    lesson = compute.run(image, model_name, layer, n_maps, scale, cam_class)
    result = lesson.analysis
    grid, layout = view.render_grid(result.activation, lesson.channels, lesson.shared_scale)
    zoom = view.zoom_view(result.crop, result.activation, lesson.channels[0])
    cam = view.cam_view(result.crop, result.cam, result.class_index, float(result.probs[result.class_index]))
    # The picker keeps "auto" when it was on auto (so the next example click asks the same, cached, question).
    picked = "" if layer in (None, "") else lesson.layer
    state = {"crop": result.crop, "activation": result.activation.astype(np.float16), "layout": layout}
    return (view.info(lesson, lang), view.top5_figure(result.probs, lang), grid, zoom, cam, state,
            lesson.channels[0], gr.update(choices=view.layer_choices(lesson.facts, lang), value=picked))


def page_lists(model_name, *, lang: str = "ko"):
    """When the page opens: the layer table of the starting model, and the 1000 classes in the page's language."""
    cnn, _ = compute.load(model_name)
    return view.layer_table(compute.facts(cnn), lang), gr.update(choices=view.class_choices(lang))


def on_model(model_name, *, lang: str = "ko"):
    """A model picked: load it (or the offline fallback), list its layers and its layer table."""
    cnn, note = compute.load(model_name)
    facts = compute.facts(cnn)
    info = view.model_in_use(cnn.name, cnn.real_weights, cnn.source, lang)
    if note is not None:
        info = f"**!** {note.say(lang)}\n\n{info}"
    return gr.update(choices=view.layer_choices(facts, lang), value=""), view.layer_table(facts, lang), info


def zoom_from_state(state, channel):
    """The channel typed in, enlarged (from the maps of the last analysis)."""
    if not state:
        raise TEXT.problem("analyse_first")
    return view.zoom_view(state["crop"], state["activation"], compute.check_channel(state["activation"], channel))


def on_grid_click(state, evt: gr.SelectData):
    """A click on the grid: the map under the pointer, enlarged, and its channel number."""
    if not state or evt is None or not isinstance(evt.index, (list, tuple)):
        return gr.skip(), gr.skip()
    channel = view.channel_at(state["layout"], *evt.index[:2])
    if channel is None:
        return gr.skip(), gr.skip()
    return zoom_from_state(state, channel), channel


def compare(again, *, lang: str = "ko"):
    """Measure every CNN (kept between clicks), showing the scatter and the table as they grow."""
    yield TEXT.say(lang, "compare_starting"), None, None
    for done, total, results in compute.compare_cnns(again=bool(again)):
        yield (view.compare_status(done, total, results[-1], lang), view.compare_figure(results, lang),
               view.compare_table(results, lang))


def model_choices() -> list:
    """'ResNet18 · 45 MB': the size says how long a first download takes; Lite0 ships with the app."""
    sizes = {name: mb for name, (_, _, mb, _) in zoo.TORCHVISION_CNNS.items()}
    return [(f"{compute.display_name(name)} · {sizes[name]} MB" if name in sizes else TEXT.ui("lite0_choice"), name)
            for name in compute.model_names()]


def _inputs_section(start: str) -> dict:
    """The left column: the photo, its examples, the model and the controls."""
    ui = TEXT.ui
    image = components.Image(value=str(EXAMPLES[0]), label=ui("image"), height=300,
                             sources=["upload", "webcam", "clipboard"], elem_id="cnn_features-image")
    gr.Examples([[str(p)] for p in EXAMPLES], inputs=[image], label=ui("examples"))
    model = components.Dropdown(model_choices(), value=start, label=ui("model"), elem_id="cnn_features-model")
    # "" = the model's suggested layer (also what API callers may send); the page fills in the stages.
    layer = components.Dropdown([(ui("layer_auto"), "")], value="", label=ui("layer"), elem_id="cnn_features-layer")
    # The radio offers a few counts; its limits (what an API caller may send) come from the declaration.
    n_maps = components.Radio(list(compute.N_CHOICES), value=compute.SETTINGS["n_maps"].default, label=ui("n_maps"))
    scale = components.control(compute.SETTINGS["scale"], choices=[(ui("scale_each"), "each"),
                                                                   (ui("scale_shared"), "shared")], label=ui("scale"))
    # The guesses first; the 1000 class names in the page's language arrive when the page opens.
    # Custom values let API callers pass any class index; compute.read_class checks it.
    cam_class = components.Dropdown([(ui(f"rank_{rank}"), -rank) for rank in compute.RANKS], value=-1,
                                    label=ui("cam_class"), filterable=True, allow_custom_value=True,
                                    elem_id="cnn_features-cam-class")
    run = gr.Button(ui("run"), variant="primary", elem_id="cnn_features-run")
    return dict(image=image, model=model, layer=layer, n_maps=n_maps, scale=scale, cam_class=cam_class, run=run)


def _results_section() -> dict:
    """The right column: the info line, the top-5 beside Grad-CAM, the grid of maps and one map enlarged."""
    ui = TEXT.ui
    info = gr.Markdown(elem_id="cnn_features-info")
    with gr.Row():
        top5 = gr.Plot(label=ui("top5"), elem_id="cnn_features-top5", scale=3)
        with gr.Column(scale=2):
            # Headings above the pictures: a floating label would hide the map titles drawn on them.
            gr.Markdown(ui("cam"))
            cam = components.image_output(show_label=False, height=300, elem_id="cnn_features-cam")
    gr.Markdown(ui("grid"))
    grid = components.image_output(show_label=False, elem_id="cnn_features-grid")
    gr.Markdown(ui("zoom"))
    with gr.Row():
        zoom = components.image_output(show_label=False, height=300, elem_id="cnn_features-zoom")
        channel = components.Number(label=ui("zoom_channel"), precision=0, minimum=0, scale=0, min_width=160,
                                    elem_id="cnn_features-channel")
    return dict(info=info, top5=top5, cam=cam, grid=grid, zoom=zoom, channel=channel)


def _below_section() -> dict:
    """Below both columns: the layer table and the comparison of the classic CNNs, folded."""
    ui = TEXT.ui
    with gr.Accordion(ui("layers_tab"), open=False):
        table = gr.Dataframe(interactive=False, elem_id="cnn_features-table", max_height=500)
    with gr.Accordion(ui("compare_tab"), open=False, elem_id="cnn_features-compare"):
        gr.Markdown(ui("compare_help"))
        with gr.Row():
            measure = gr.Button(ui("compare_run"), elem_id="cnn_features-compare-run")
            again = gr.Checkbox(False, label=ui("compare_again"))
        status = gr.Markdown(elem_id="cnn_features-compare-status")
        plot = gr.Plot(label=ui("compare_tab"), elem_id="cnn_features-compare-plot")
        rows = gr.Dataframe(interactive=False)
    return dict(table=table, measure=measure, again=again, compare_outputs=[status, plot, rows])


def build(page) -> None:
    start = compute.starting_model()
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            given = _inputs_section(start)
        with gr.Column(scale=2):
            shown = _results_section()
    below = _below_section()
    image, model, layer, cam_class = given["image"], given["model"], given["layer"], given["cam_class"]
    zoom, channel, table, info = shown["zoom"], shown["channel"], below["table"], shown["info"]

    state = gr.State()
    inputs = [image, model, layer, given["n_maps"], given["scale"], cam_class]
    outputs = [info, shown["top5"], shown["grid"], zoom, shown["cam"], state, channel, layer]
    # One registration for the button, a new photo (an example click too) and every setting: one cache for all.
    analysed = events.on([given["run"].click, image.change, layer.input, given["n_maps"].input, given["scale"].input,
                          cam_class.input], cnn_features, inputs, outputs, kind="model", cache=True,
                         api_name="cnn_features")
    # The teacher mode: the number of maps and their colour scale go to the class (the photo stays each page's).
    page.class_tab(compute.SETTINGS, {"n_maps": given["n_maps"], "scale": given["scale"]}, show=analysed,
                   answers={"class_q1": 3})
    model_picked = events.on(model.input, on_model, [model], [layer, table, info], kind="model", cache=True,
                             api_name="cnn_features_model")
    events.on(model_picked.success, cnn_features, inputs, outputs, kind="model", cache=True,
              api_visibility="private")
    events.on(shown["grid"].select, on_grid_click, [state], [zoom, channel], kind="quick", api_visibility="private")
    events.on(channel.submit, zoom_from_state, [state, channel], [zoom], kind="quick", api_name="cnn_features_zoom")
    events.on(below["measure"].click, compare, [below["again"]], below["compare_outputs"], kind="bench",
              api_name="cnn_features_compare")

    # The worked example when the page opens (the cat, computed at warm-up), the layer table and the class list;
    # and every example photo computed once, so a class clicking the same example gets it at once.
    page.on_open(cnn_features, inputs, outputs, kind="model")
    page.on_open(page_lists, [model], [table, cam_class], kind="model")
    for example in EXAMPLES[1:]:
        page.warm(analysed, str(example), start, "", compute.N_DEFAULT, "each", -1)
