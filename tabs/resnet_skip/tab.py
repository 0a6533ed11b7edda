"""The skip-connection tab: the settings of both networks, then the gradient per layer, then a short training."""
from __future__ import annotations

import gradio as gr

from core import components, events
from tabs.resnet_skip import compute, view
from tabs.resnet_skip.compute import SETTINGS
from tabs.resnet_skip.text import TEXT


# ---------------------------------------------------------------- events (module level: tests and the bench call them)


def gradients(depth=30, activation="sigmoid", batch_norm=False, seed=0, *, lang: str = "ko"):
    """(chart, explanation) of every layer's gradient norm on one batch, plain vs residual."""
    result = compute.gradient_norms(depth, activation, batch_norm, seed)
    return view.gradients_figure(result, lang), view.gradients_markdown(result, lang)


def training(depth=30, activation="sigmoid", batch_norm=False, seed=0, epochs=10, *, lang: str = "ko"):
    """(learning curves, result table) of both networks trained on the digits, within the time budget."""
    result = compute.train_both(depth, activation, batch_norm, seed, epochs)
    return view.training_figure(result, lang), view.training_markdown(result, lang)


def training_example(depth=30, activation="sigmoid", batch_norm=False, seed=0, epochs=10, *, lang: str = "ko"):
    """The worked example, computed at start-up in the background: no time budget (nobody is waiting), so
    it is complete and kept, and a click on the default settings answers from it at once."""
    result = compute.train_both(depth, activation, batch_norm, seed, epochs, budget_s=None)
    return view.training_figure(result, lang), view.training_markdown(result, lang)


# ---------------------------------------------------------------- the tab


def build(page) -> None:
    ui = TEXT.ui
    gr.Markdown(ui("setup_h"))
    with gr.Row(equal_height=True):
        depth = components.control(SETTINGS["depth"], label=ui("depth"), elem_id="resnet-skip-depth")
        activation = components.control(SETTINGS["activation"], choices=[(ui(f"act_{name}"), name)
                                                                         for name in SETTINGS["activation"].choices],
                                        label=ui("activation"), elem_id="resnet-skip-activation")
        # A checkbox (not one of `components.control`'s widgets): on or off, from the same declaration.
        batch_norm = gr.Checkbox(SETTINGS["batch_norm"].default, label=ui("batch_norm"), elem_id="resnet-skip-bn")
        seed = components.control(SETTINGS["seed"], widget="number", label=ui("seed"), elem_id="resnet-skip-seed")
    gr.Markdown(ui("gradients_h"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            gradient_plot = gr.Plot(label=ui("gradients_plot"), elem_id="resnet-skip-gradients")
        with gr.Column(scale=1):
            gradient_text = gr.Markdown(elem_id="resnet-skip-gradients-text")
    gr.Markdown(ui("training_h"))
    with gr.Row(equal_height=True):
        epochs = components.control(SETTINGS["epochs"], label=ui("epochs"), elem_id="resnet-skip-epochs")
        train = gr.Button(ui("train"), variant="primary", elem_id="resnet-skip-train")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            training_plot = gr.Plot(label=ui("training_plot"), elem_id="resnet-skip-training")
        with gr.Column(scale=1):
            training_text = gr.Markdown(elem_id="resnet-skip-training-text")

    settings = [depth, activation, batch_norm, seed]
    gradient_outputs = [gradient_plot, gradient_text]
    training_inputs, training_outputs = settings + [epochs], [training_plot, training_text]
    # One forward and backward pass of two small networks: recomputed as the settings move.
    events.on([c.change for c in settings], gradients, settings, gradient_outputs, kind="model", cache=True,
              api_name="resnet_skip_gradients", trigger_mode="always_last")
    # Training within a time budget. Not cached here: a run the budget cut short depends on the machine's load;
    # complete runs are kept by the compute layer, once for both languages.
    trained = events.on(train.click, training, training_inputs, training_outputs, kind="training",
                        api_name="resnet_skip_training")
    # The teacher mode: every setting of the two networks goes to the class, which then trains them.
    page.class_tab(SETTINGS, {"depth": depth, "activation": activation, "batch_norm": batch_norm, "seed": seed,
                              "epochs": epochs}, show=trained, answers={"class_q1": 1})
    page.on_open(gradients, settings, gradient_outputs, kind="model")
    page.on_open(training_example, training_inputs, training_outputs, kind="training")
