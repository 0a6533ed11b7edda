"""Word attention tab: a typed sentence, self-attention worked through step by step, then a real
multilingual encoder's attention per layer and head.

Two events share the Run button: part 1 is numpy on a few numbers (kind "quick"); part 2 is a forward
pass of the encoder (kind "model"). Changing d, the heads or the worked token re-runs part 1 only;
changing the layer or head re-draws part 2 from the forward pass kept for that sentence.
"""
from __future__ import annotations

import gradio as gr

from core import components, events, models
from core.zoo import text as text_zoo
from tabs.word_attention import compute, view
from tabs.word_attention.text import TEXT

LESSON_ID = "word_attention"


def attention_steps(sentence, d, heads, focus, lang: str = "ko"):
    """Part 1: tokens, X, Q/K/V, scores and softmax, output, the heads side by side, the worked example."""
    return view.steps_outputs(compute.run_steps(sentence, d, heads, focus), lang)


def encoder_attention(sentence, layer, head, lang: str = "ko"):
    """Part 2: the head view, the chosen head's matrix, every head of the layer, and what was shown."""
    return view.encoder_outputs(compute.run_encoder(sentence, layer, head), lang)


def encoder_in_use() -> bool:
    """Whether the real encoder's weights are on this computer (the test zoo's otherwise): part of the cache key."""
    return models.source(text_zoo.ENCODER) == "cached"


def build(page) -> None:
    layers, heads_of_encoder = text_zoo.model_shape()

    sentence = gr.Textbox(value=compute.EXAMPLE_KO, label=TEXT.ui("sentence"), lines=2,
                          max_length=compute.MAX_CHARS, elem_id="word-attention-sentence")
    gr.Examples(examples=[[compute.EXAMPLE_KO], [compute.EXAMPLE_EN]], inputs=[sentence],
                label=TEXT.ui("examples"))
    with gr.Row():
        d = components.control(compute.SETTINGS["d"], label=TEXT.ui("d"), elem_id="word-attention-d")
        heads = components.control(compute.SETTINGS["heads"], label=TEXT.ui("heads"), elem_id="word-attention-heads")
        focus = components.Slider(1, compute.MAX_STEP_TOKENS, value=1, step=1, label=TEXT.ui("focus"),
                                  elem_id="word-attention-focus")
    run = gr.Button(TEXT.ui("run"), variant="primary", elem_id="word-attention-run")

    gr.Markdown(TEXT.ui("part1"))
    tokens_md = gr.Markdown(elem_id="word-attention-tokens")
    vectors_plot = gr.Plot(show_label=False)
    qkv_plot = gr.Plot(show_label=False)
    scores_plot = gr.Plot(show_label=False)
    output_plot = gr.Plot(show_label=False)
    heads_plot = gr.Plot(show_label=False)
    explanation_md = gr.Markdown(elem_id="word-attention-explanation")

    gr.Markdown(TEXT.ui("part2"))
    with gr.Row():
        layer = components.Slider(1, layers, value=1, step=1, label=TEXT.ui("layer"), elem_id="word-attention-layer")
        head = components.Slider(0, heads_of_encoder, value=0, step=1, label=TEXT.ui("head"),
                                 elem_id="word-attention-head")
    with gr.Row():
        head_view_plot = gr.Plot(show_label=False)
        matrix_plot = gr.Plot(show_label=False)
    heads_grid_plot = gr.Plot(show_label=False)
    encoder_md = gr.Markdown(elem_id="word-attention-encoder")

    step_inputs = [sentence, d, heads, focus]
    step_outputs = [tokens_md, vectors_plot, qkv_plot, scores_plot, output_plot, heads_plot, explanation_md]
    encoder_inputs = [sentence, layer, head]
    encoder_outputs = [head_view_plot, matrix_plot, heads_grid_plot, encoder_md]

    # Cached: both answers depend on the sentence and settings, and on which encoder is on this computer
    # (part 1 falls back to the test zoo's tokenizer, part 2 says the model is missing): `encoder_in_use`
    # is part of the key, so a model a teacher prefetches while the app runs gets fresh answers.
    cached = dict(cache=True, cache_key=encoder_in_use)
    typed = events.on([run.click, sentence.submit], attention_steps, step_inputs, step_outputs, kind="quick",
                      api_name="word_attention_steps", **cached)
    # The teacher mode: d and the number of heads go to the class (the sentence stays each page's).
    page.class_tab(compute.SETTINGS, {"d": d, "heads": heads}, show=typed, answers={"class_q1": 1})
    # Part 2 after part 1 succeeded: a bad sentence is reported once, by part 1.
    events.on(typed.success, encoder_attention, encoder_inputs, encoder_outputs, kind="model",
              api_name="word_attention_encoder", **cached)
    # always_last: Gradio's default for a release ("once") drops a second slider moved while the first one's
    # answer is on its way, and the figures would then disagree with the sliders.
    events.on([d.release, heads.release, focus.release], attention_steps, step_inputs, step_outputs, kind="quick",
              api_visibility="private", trigger_mode="always_last", **cached)
    events.on([layer.release, head.release], encoder_attention, encoder_inputs, encoder_outputs, kind="model",
              api_visibility="private", trigger_mode="always_last", **cached)
    # The worked example is on the page as soon as it opens (computed once at warm-up, for the whole class).
    page.on_open(attention_steps, step_inputs, step_outputs, kind="quick", cache_key=encoder_in_use)
    page.on_open(encoder_attention, encoder_inputs, encoder_outputs, kind="model", cache_key=encoder_in_use)
