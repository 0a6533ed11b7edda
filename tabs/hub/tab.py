"""The Hugging Face lesson: the hub's table, live. One sub-tab per task of the table; each shows the model's
name (a box the student may change), the one `pipeline(...)` line, the facts read from the loaded model,
and the model's answer. Every row's worked example is on the page when the lesson opens (computed once at
warm-up for the class); every click is a cached "model" event (answers depend on the inputs and on which
model is on this computer: `compute.model_in_use` is part of the key)."""
from __future__ import annotations

import functools

import gradio as gr

from core import components, events
from core.zoo import hub as zoo
from tabs.hub import compute, fill_mask, generate, view
from tabs.hub.text import TEXT

LESSON_ID = "hub"


def hub_fill_mask(sentence, top_k, model_name, lang: str = "ko"):
    """Fill the [MASK]: (facts and pipeline line, top-k chart, the tokens and the best sentence)."""
    return view.fill_outputs(fill_mask.fill(sentence, top_k, model_name), lang)


def hub_generate(prompt, temperature, top_k, new_tokens, seed, model_name, lang: str = "ko"):
    """Write on: (facts and pipeline line, next-token chart, chosen tokens chart, the tokens and the text)."""
    return view.generate_outputs(generate.generate(prompt, temperature, top_k, new_tokens, seed, model_name), lang)


def _name_box(task: str, elem_id: str):
    return gr.Textbox(value=zoo.TASKS[task].repo, label=TEXT.ui("model"), max_lines=1, elem_id=elem_id)


def _fill_row(page) -> None:
    name = _name_box(fill_mask.TASK, "hub-fill-model")
    with gr.Row():
        sentence = gr.Textbox(value=fill_mask.EXAMPLE, label=TEXT.ui("sentence"), max_length=compute.MAX_CHARS,
                              elem_id="hub-fill-sentence", scale=3)
        top_k = components.control(compute.SETTINGS["top_k"], label=TEXT.ui("top_k"), elem_id="hub-fill-k")
    gr.Examples(examples=[[e] for e in fill_mask.EXAMPLES], inputs=[sentence], label=TEXT.ui("examples"))
    run = gr.Button(TEXT.ui("run_fill"), variant="primary", elem_id="hub-fill-run")
    facts = gr.Markdown(elem_id="hub-fill-facts")
    chart = gr.Plot(show_label=False, elem_id="hub-fill-chart")
    words = gr.Markdown(elem_id="hub-fill-words")
    key = functools.partial(compute.model_in_use, fill_mask.TASK)
    inputs, outputs = [sentence, top_k, name], [facts, chart, words]
    filled = events.on([run.click, sentence.submit, name.submit], hub_fill_mask, inputs, outputs, kind="model",
                       cache=True, cache_key=key, api_name="hub_fill_mask")
    # The teacher mode: the class's pages fill their [MASK] with the teacher's top-k (the sentence stays each page's).
    page.class_tab(compute.SETTINGS, {"top_k": top_k}, show=filled, answers={"class_q1": 2})
    page.on_open(hub_fill_mask, inputs, outputs, kind="model", cache_key=key)


def _generate_row(page) -> None:
    settings = compute.SETTINGS
    name = _name_box(generate.TASK, "hub-gen-model")
    prompt = gr.Textbox(value=generate.EXAMPLE, label=TEXT.ui("prompt"), max_length=compute.MAX_CHARS,
                        elem_id="hub-gen-prompt")
    gr.Examples(examples=[[e] for e in generate.EXAMPLES], inputs=[prompt], label=TEXT.ui("examples"))
    with gr.Row():
        temperature = components.control(settings["temperature"], label=TEXT.ui("temperature"), elem_id="hub-gen-t")
        top_k = components.control(settings["top_k"], label=TEXT.ui("top_k"), elem_id="hub-gen-k")
        new_tokens = components.control(settings["new_tokens"], label=TEXT.ui("new_tokens"), elem_id="hub-gen-n")
        seed = components.control(settings["seed"], widget="number", label=TEXT.ui("seed"), elem_id="hub-gen-seed")
    run = gr.Button(TEXT.ui("run_gen"), variant="primary", elem_id="hub-gen-run")
    facts = gr.Markdown(elem_id="hub-gen-facts")
    with gr.Row():
        next_chart = gr.Plot(show_label=False, elem_id="hub-gen-next")
        steps_chart = gr.Plot(show_label=False, elem_id="hub-gen-steps")
    words = gr.Markdown(elem_id="hub-gen-words")
    key = functools.partial(compute.model_in_use, generate.TASK)
    inputs = [prompt, temperature, top_k, new_tokens, seed, name]
    outputs = [facts, next_chart, steps_chart, words]
    events.on([run.click, prompt.submit, name.submit], hub_generate, inputs, outputs, kind="model", cache=True,
              cache_key=key, api_name="hub_generate")
    page.on_open(hub_generate, inputs, outputs, kind="model", cache_key=key)


def build(page) -> None:
    with gr.Tabs(elem_id="hub-rows"):
        with gr.Tab(TEXT.ui("fill_tab"), id="hub-fill", elem_id="hub-fill"):
            _fill_row(page)
        with gr.Tab(TEXT.ui("gen_tab"), id="hub-gen", elem_id="hub-gen"):
            _generate_row(page)
