"""The kinds-of-networks tab: part 1 (MLP vs CNN, pixels shuffled) above, part 2 (LSTM vs attention) below."""
from __future__ import annotations

import math

import gradio as gr

from core import components, events
from tabs.nn_types import compute, view
from tabs.nn_types.text import TEXT

LENGTH_CHOICES = [n for n in compute.LENGTHS if n >= 64]


# ---------------------------------------------------------------- events (module level: tests and the bench call them)


def _permutation_views(result: compute.PermutationResult, lang: str):
    return (view.summary_markdown(result, lang), view.curves_figure(result, lang), view.digits_figure(result, lang),
            view.layers_markdown(result, lang))


def permutation_run(seed=0, epochs=15, *, lang: str = "ko"):
    """(summary, curves, digits, layer table) of the four trainings, within the time budget."""
    return _permutation_views(compute.permutation_experiment(seed, epochs), lang)


def permutation_example(seed=0, epochs=15, *, lang: str = "ko"):
    """The worked example, computed at start-up in the background: no time budget (nobody is waiting), so
    it is complete and kept, and a click on the default settings answers from it at once."""
    return _permutation_views(compute.permutation_experiment(seed, epochs, budget_s=None), lang)


def sequence_timing(max_length=1024, device="cpu", *, lang: str = "ko"):
    """(chart, table) of LSTM and attention time and memory against length, measured now."""
    timing = compute.time_sequence_models(max_length, device)
    return view.timing_figure(timing, lang), view.timing_markdown(timing, lang)


def sequence_timing_example(max_length=1024, device="cpu", *, lang: str = "ko"):
    """The worked example, measured at start-up in the background: no time budget (nobody is waiting). Start-up
    is the machine's busiest moment and the process's first profiler run: the budget's estimate then skipped
    every length after 16, and that one-point chart was kept for every visitor."""
    timing = compute.time_sequence_models(max_length, device, budget_s=math.inf)
    return view.timing_figure(timing, lang), view.timing_markdown(timing, lang)


# ---------------------------------------------------------------- the tab


def build(page) -> None:
    ui = TEXT.ui
    gr.Markdown(ui("part1"))
    with gr.Row(equal_height=True):
        seed = components.control(compute.SETTINGS["seed"], widget="number", label=ui("seed"), elem_id="nn-types-seed")
        epochs = components.control(compute.SETTINGS["epochs"], label=ui("epochs"), elem_id="nn-types-epochs")
        train = gr.Button(ui("train"), variant="primary", elem_id="nn-types-train")
    with gr.Row(equal_height=False):
        # 2:3, not 1:2: at 1:2 the English row names squeezed the number columns until "19,210" broke in two
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="nn-types-summary")
        with gr.Column(scale=3):
            curves = gr.Plot(label=ui("curves"), elem_id="nn-types-curves")
    digits = gr.Plot(label=ui("digits"), elem_id="nn-types-digits")
    with gr.Accordion(ui("layers"), open=False):
        layers = gr.Markdown(elem_id="nn-types-layers")

    gr.Markdown(ui("part2"))
    with gr.Row(equal_height=True):
        max_length = components.control(compute.SETTINGS["max_length"], widget="dropdown", choices=LENGTH_CHOICES,
                                        label=ui("max_length"), elem_id="nn-types-max-length")
        devices = compute.device_choices()
        device = components.Radio(devices, value=devices[-1], label=ui("device"), elem_id="nn-types-device")
        measure = gr.Button(ui("measure"), variant="primary", elem_id="nn-types-measure")
    timing_plot = gr.Plot(label=ui("timing_plot"), elem_id="nn-types-timing")
    timing_table = gr.Markdown(elem_id="nn-types-timing-table")

    permutation_inputs, permutation_outputs = [seed, epochs], [summary, curves, digits, layers]
    timing_inputs, timing_outputs = [max_length, device], [timing_plot, timing_table]
    # Four trainings side by side within a time budget. Not cached here: a run the budget cut short depends on
    # the machine's load; complete runs are kept by the compute layer, once for both languages.
    trained = events.on(train.click, permutation_run, permutation_inputs, permutation_outputs, kind="training",
                        api_name="nn_types_permutation")
    # The teacher mode: the class trains with the teacher's seed and epochs (complete runs are kept, so the
    # class's copies of one run cost one training); the question's right answer is the CNN (class_q1_choices).
    page.class_tab(compute.SETTINGS, {"seed": seed, "epochs": epochs}, show=trained, answers={"class_q1": 1})
    # A measurement is new each time: never cached.
    events.on(measure.click, sequence_timing, timing_inputs, timing_outputs, kind="bench", api_name="nn_types_timing")
    # When the page opens: the default training (computed once at warm-up), and one measurement of the default
    # lengths (a few seconds, no budget), kept from warm-up so that every visitor sees a whole chart at once.
    page.on_open(permutation_example, permutation_inputs, permutation_outputs, kind="training")
    page.on_open(sequence_timing_example, timing_inputs, timing_outputs, kind="bench")
