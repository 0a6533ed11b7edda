"""The sliding-window tab: controls above, the animation across the whole width, the photo below."""
from __future__ import annotations

import gradio as gr
import numpy as np

from core import components, events
from core.text import Problem
from tabs.sliding_window import compute, view
from tabs.sliding_window.text import TEXT


def conv_steps(height=5, width=5, kernel_size=3, stride=1, padding=0, dilation=1, operation="conv",
               source="random", seed=0, photo_choice="cat.jpg", photo_upload=None, input_grid=None,
               kernel_name="box", kernel_grid=None, *, lang: str = "ko"):
    """Everything the tab shows for one setting: (animation figure, formula and notes, photo panel)."""
    result = compute.run(height, width, kernel_size, stride, padding, dilation, operation, source, seed,
                         photo_choice, photo_upload, input_grid, kernel_name, kernel_grid)
    return view.build_figure(result.steps, lang), view.explanation(result, lang), view.photo_strip(result, lang)


def conv_steps_ui(height, width, kernel_size, stride, padding, dilation, operation, source, seed, photo_choice,
                  photo_upload, input_grid, kernel_name, kernel_grid, *, lang: str = "ko"):
    """conv_steps for the tab's own controls: a setting that cannot run keeps the last animation on screen
    and says why beside it, instead of blanking every panel (the API, conv_steps, raises the message)."""
    try:
        return conv_steps(height, width, kernel_size, stride, padding, dilation, operation, source, seed,
                          photo_choice, photo_upload, input_grid, kernel_name, kernel_grid, lang=lang)
    except Problem as problem:
        gr.Warning(problem.say(lang), title=problem.title.say(lang))
        return gr.skip(), view.cannot_run(problem.say(lang), lang), gr.skip()


def input_table(height, width, source, seed, photo_choice, photo_upload, input_grid):
    x = compute.current_input(height, width, source, seed, photo_choice, photo_upload, input_grid)
    return x.astype(int).tolist() if np.all(x == np.round(x)) else x.tolist()


def kernel_table(kernel_size, kernel_name, kernel_grid):
    return [[round(float(v), 4) for v in row] for row in compute.current_kernel(kernel_size, kernel_name, kernel_grid)]


# Client-side stepping through the animation's frames (no server call): how = back | next | first | last.
# The slider's `active` is where the animation stands: Plotly writes it back into gd.layout on every frame.
STEP_JS = """() => {{
  const gd = document.querySelector('#sw-plot .js-plotly-plot');
  if (!gd || !window.Plotly || !gd.layout.meta || !gd.layout.meta.sw_frames) return [];
  const last = gd.layout.meta.sw_frames.length - 1;
  const now = gd.layout.sliders[0].active || 0;
  const goal = {{back: Math.max(0, now - 1), next: Math.min(last, now + 1), first: 0, last: last}}['{how}'];
  window.Plotly.animate(gd, [String(goal)], {{mode: 'immediate', frame: {{duration: 0, redraw: true}},
                                             transition: {{duration: 0}}}});
  return [];
}}"""

# Gradio's Plotly component calls Plotly.react(data, layout) and drops `frames`; the frames ride in
# layout.meta and this watcher (run once when the tab renders) hands them back to Plotly.react as a whole
# figure, which replaces the frames of the previous figure by these.
FRAMES_JS = """
if (!window.__swFramesWatcher) {
  window.__swFramesWatcher = setInterval(() => {
    const P = window.Plotly;
    if (!P) return;
    document.querySelectorAll('#sw-plot .js-plotly-plot').forEach((gd) => {
      const meta = gd.layout && gd.layout.meta;
      if (!meta || !meta.sw_frames || gd.__swToken === meta.sw_token) return;
      gd.__swToken = meta.sw_token;
      P.react(gd, {data: gd.data, layout: gd.layout, frames: meta.sw_frames}).then(() => {
        gd.dataset.swFrames = String(meta.sw_frames.length);
        gd.dataset.swToken = meta.sw_token;
      });
    });
  }, 250);
}
"""

SLIDERS = {"height": "sw-height", "width": "sw-width", "kernel_size": "sw-k", "stride": "sw-stride",
           "padding": "sw-padding", "dilation": "sw-dilation"}  # setting: elem_id


def _choices(prefix: str, names) -> list[tuple]:
    """(label, value) pairs of a choice setting, each label from the text table ("op_conv", "k_box", ...)."""
    return [(TEXT.ui(f"{prefix}{name}"), name) for name in names]


def _setting_controls() -> dict:
    """The two rows above the animation: operation, kernel and the run button; the six sizes."""
    ui, settings = TEXT.ui, compute.SETTINGS
    with gr.Row(equal_height=True):
        controls = {
            "operation": components.control(settings["operation"], choices=_choices("op_", compute.OPERATIONS),
                                            scale=3, label=ui("operation"), elem_id="sw-operation"),
            "kernel_name": components.control(settings["kernel_name"], widget="dropdown",
                                              choices=_choices("k_", compute.KERNELS), scale=2, label=ui("kernel"),
                                              elem_id="sw-kernel"),
            "run": gr.Button(ui("run"), variant="primary", size="lg", scale=1, elem_id="sw-run"),
        }
    with gr.Row():
        for name, elem_id in SLIDERS.items():
            controls[name] = components.control(settings[name], label=ui(name), elem_id=elem_id, min_width=160)
    return controls


def _animation(figure) -> tuple[gr.Plot, dict]:
    """The animation, its step buttons, and the script that hands it its frames."""
    plot = gr.Plot(value=figure, label=TEXT.ui("animation"), elem_id="sw-plot")
    with gr.Row():
        step_buttons = {how: gr.Button(TEXT.ui(f"step_{how}"), size="md", elem_id=f"sw-step-{how}")
                        for how in ("first", "back", "next", "last")}
    gr.HTML("", js_on_load=FRAMES_JS, padding=False, elem_id="sw-frames-js")
    return plot, step_buttons


def _input_controls(explanation: str) -> dict:
    """Where the input values come from (left) and the explanation (right)."""
    ui, settings = TEXT.ui, compute.SETTINGS
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            controls = {
                "source": components.control(settings["source"], choices=_choices("src_", compute.SOURCES),
                                             label=ui("source"), elem_id="sw-source"),
                "seed": components.control(settings["seed"], widget="number", label=ui("seed"), elem_id="sw-seed"),
            }
            photos = compute.example_photos()
            first_photo = "cat.jpg" if "cat.jpg" in photos else photos[0]
            controls["photo_choice"] = components.Dropdown(photos, value=first_photo, label=ui("photo_choice"),
                                                           elem_id="sw-photo")
            controls["photo_upload"] = components.Image(label=ui("photo_upload"), height=170,
                                                        sources=["upload", "clipboard"], elem_id="sw-upload")
        with gr.Column(scale=2):
            controls["explain"] = gr.Markdown(explanation, elem_id="sw-explain", elem_classes=["formula-box"])
    return controls


def _typed_tables() -> dict:
    """The two tables to type values into, each with its 'copy the current one' button."""
    ui = TEXT.ui
    with gr.Accordion(ui("input_grid"), open=False):
        input_grid = gr.Dataframe(value=compute.random_input(5, 5, 0).astype(int).tolist(), datatype="number",
                                  interactive=True, label=ui("input_grid"), elem_id="sw-input-grid")
        copy_input = gr.Button(ui("copy_input"), size="sm")
    with gr.Accordion(ui("kernel_grid"), open=False):
        kernel_grid = gr.Dataframe(value=kernel_table(3, "box", None), datatype="number", interactive=True,
                                   label=ui("kernel_grid"), elem_id="sw-kernel-grid")
        copy_kernel = gr.Button(ui("copy_kernel"), size="sm")
    return {"input_grid": input_grid, "copy_input": copy_input, "kernel_grid": kernel_grid, "copy_kernel": copy_kernel}


def build(page) -> None:
    # The animation gets the full width (three grids side by side must read from the back of a room),
    # with the controls in two rows above it.
    parts = _setting_controls()
    figure, explanation, strip = conv_steps()  # the first picture is in the page from the start
    plot, step_buttons = _animation(figure)
    parts |= _input_controls(explanation)
    parts |= _typed_tables()
    gr.Markdown(TEXT.ui("photo_header"))
    photo_strip = components.image_output(value=strip, label=TEXT.ui("photo_gallery"), elem_id="sw-gallery")

    def named(*names) -> list:
        return [parts[name] for name in names]

    sizes = named(*SLIDERS)
    inputs = sizes + named("operation", "source", "seed", "photo_choice", "photo_upload", "input_grid", "kernel_name",
                           "kernel_grid")
    outputs = [plot, parts["explain"], photo_strip]
    shown = events.on(parts["run"].click, conv_steps, inputs, outputs, kind="quick", cache=True, api_name="conv_steps")
    page.class_tab(compute.SETTINGS, {n: parts[n] for n in compute.SETTINGS if n in parts}, show=shown,
                   answers={"class_q1": 0})
    # Moving a control recomputes at once (a short server call); the animation itself then plays in the browser.
    changing = sizes + named("seed", "operation", "source", "kernel_name", "photo_choice", "photo_upload")
    events.on([control.change for control in changing], conv_steps_ui, inputs, outputs, kind="quick", cache=True,
              api_visibility="private", trigger_mode="always_last")
    # The first picture was built in Korean; each visitor gets it in their own language (cached for all).
    page.on_open(conv_steps, inputs, outputs, kind="quick")
    for how, button in step_buttons.items():
        button.click(None, None, None, js=STEP_JS.format(how=how))
    events.on(parts["copy_input"].click, input_table,
              named("height", "width", "source", "seed", "photo_choice", "photo_upload", "input_grid"),
              parts["input_grid"], kind="quick", api_visibility="private")
    events.on(parts["copy_kernel"].click, kernel_table, named("kernel_size", "kernel_name", "kernel_grid"),
              parts["kernel_grid"], kind="quick", api_visibility="private")
