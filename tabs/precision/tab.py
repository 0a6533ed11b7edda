"""Precision tab: one number bit by bit in every format, the same CNN in many precisions on each device,
and this machine's devices.

Events: the bits view is "quick" and cached (a pure function of the typed text and the page's language);
the page opens with 0.1 already shown, and every example number is computed at warm-up. The comparison
is a "bench" event: never cached, because it measures this machine now, within its time budget.
"""
from __future__ import annotations

import gradio as gr

from core import components, events
from tabs.precision import compare, compute, hardware, view
from tabs.precision.text import TEXT

FIRST_EXAMPLE = compute.EXAMPLES[0]


def float_bits(text, *, lang: str = "ko"):
    """The typed number in FP32, FP16, BF16, FP8 E4M3 and E5M2: (bits, values and errors as HTML, gap chart)."""
    result = compute.float_bits(text)
    return view.bits_html(result, lang), view.spacing_figure(result, lang)


def example_bits(index, *, lang: str = "ko"):
    """A click on an example number: the number goes into the box and its bits are shown."""
    typed = compute.EXAMPLES[index] if isinstance(index, int) and 0 <= index < len(compute.EXAMPLES) else FIRST_EXAMPLE
    return (typed, *float_bits(typed, lang=lang))


def device_panel(*, lang: str = "ko"):
    return view.device_panel(lang)


def precision_compare(model_name, precisions, devices, batch_size, matmul_size, budget_s, progress=gr.Progress(),
                      *, lang: str = "ko"):
    """Time the CNN and an N x N matmul in each chosen precision on each chosen device: (chart, table, notes)."""
    def tell(fraction: float, what) -> None:
        progress(fraction, desc=what.say(lang))

    result = compare.run(model_name, precisions, devices, batch_size, matmul_size, budget_s, progress=tell)
    return view.compare_figure(result, lang), view.compare_table(result, lang), view.compare_notes(result, lang)


def build(page) -> None:
    device_names = hardware.devices()
    with gr.Tabs(elem_id="precision-tabs"):
        with gr.Tab(TEXT.ui("numbers_tab"), id="precision-numbers", elem_id="precision-numbers"):
            with gr.Row():
                number = gr.Textbox(value=FIRST_EXAMPLE, label=TEXT.ui("number"), elem_id="precision-number", scale=3)
                show = gr.Button(TEXT.ui("show_bits"), variant="primary", elem_id="precision-show", scale=1)
            # A Dataset (what gr.Examples draws) whose click fills the box and shows the bits in one cached event.
            examples = gr.Dataset(components=[number], samples=[[e] for e in compute.EXAMPLES], type="index",
                                  label=TEXT.ui("examples"), samples_per_page=len(compute.EXAMPLES),
                                  elem_id="precision-examples")
            bits_html = gr.HTML(elem_id="precision-bits")
            spacing = gr.Plot(label=TEXT.ui("spacing"), elem_id="precision-spacing")
        with gr.Tab(TEXT.ui("compare_tab"), id="precision-compare", elem_id="precision-compare"):
            settings = compare.SETTINGS
            with gr.Row():
                model = components.control(settings["model_name"], widget="dropdown", label=TEXT.ui("model"))
                precisions = components.CheckboxGroup([(compare.PRECISION_LABEL[p], p) for p in compare.PRECISIONS],
                                                      value=compare.PRECISIONS, label=TEXT.ui("precisions"))
                devices = components.CheckboxGroup(device_names, value=device_names, label=TEXT.ui("devices"))
            with gr.Row():
                batch = components.control(settings["batch_size"], label=TEXT.ui("batch"), elem_id="precision-batch")
                matmul = components.control(settings["matmul_size"], widget="dropdown", choices=compare.MATMUL_SIZES,
                                            label=TEXT.ui("matmul"))
                budget = components.control(settings["budget_s"], label=TEXT.ui("budget"), elem_id="precision-budget")
            run = gr.Button(TEXT.ui("run"), variant="primary", elem_id="precision-run")
            chart = gr.Plot(label=TEXT.ui("chart"), elem_id="precision-chart")
            gr.Markdown(TEXT.ui("notes_heading"))
            notes = gr.Markdown(TEXT.ui("compare_hint"), elem_id="precision-notes")
            table = gr.Dataframe(label=TEXT.ui("table"), wrap=True, elem_id="precision-table", max_height=900,
                                 column_widths=["5%", "7%", "6%", "7%", "5%", "6%", "6%", "6%", "6%", "6%", "5%", "7%", "28%"])
        with gr.Tab(TEXT.ui("device_tab"), id="precision-device", elem_id="precision-device"):
            panel = gr.Markdown(elem_id="precision-device-panel")

    bits = events.on([show.click, number.submit], float_bits, [number], [bits_html, spacing], kind="quick",
                     cache=True, api_name="float_bits")
    example = events.on(examples.click, example_bits, [examples], [number, bits_html, spacing], kind="quick",
                        cache=True, api_visibility="private")
    events.on(run.click, precision_compare, [model, precisions, devices, batch, matmul, budget], [chart, table, notes],
              kind="bench", api_name="precision_compare")
    # The teacher mode: the comparison's settings go to the class, and each page shows its bits view (a bench per
    # student would queue the class behind one benchmark slot: each student presses Run when the teacher says).
    page.class_tab(compare.SETTINGS, {"model_name": model, "batch_size": batch, "matmul_size": matmul,
                                      "budget_s": budget}, show=bits, answers={"class_q1": 2})

    # The worked example on opening (0.1), and every example number ready before anyone clicks it.
    page.on_open(float_bits, [number], [bits_html, spacing], kind="quick")
    page.on_open(device_panel, [], [panel], kind="quick")
    for index, typed in enumerate(compute.EXAMPLES):
        page.warm(example, index)
        page.warm(bits, typed)
