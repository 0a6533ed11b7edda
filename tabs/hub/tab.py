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
from tabs.hub import (clip, compute, fill_mask, generate, speech, translation, view, view_clip, view_speech,
                      view_translation)
from tabs.hub.text import TEXT
from tabs.hub.text_clip import TEXT as TEXT_CLIP
from tabs.hub.text_speech import TEXT as SPEECH_TEXT
from tabs.hub.text_translation import TEXT as TRANSLATION_TEXT

LESSON_ID = "hub"


def hub_fill_mask(sentence, top_k, model_name, lang: str = "ko"):
    """Fill the [MASK]: (facts and pipeline line, top-k chart, the tokens and the best sentence)."""
    return view.fill_outputs(fill_mask.fill(sentence, top_k, model_name), lang)


def hub_generate(prompt, temperature, top_k, new_tokens, seed, model_name, lang: str = "ko"):
    """Write on: (facts and pipeline line, next-token chart, chosen tokens chart, the tokens and the text)."""
    return view.generate_outputs(generate.generate(prompt, temperature, top_k, new_tokens, seed, model_name), lang)


def hub_translate(sentence, beams, model_name, lang: str = "ko"):
    """Translate Korean into English: (facts and code lines, each written token's probability, the pieces,
    the translation, the tokens one by one and beam search's candidates)."""
    return view_translation.translate_outputs(translation.translate(sentence, beams, model_name), lang)


def hub_clip(image, labels, template, model_name, lang: str = "ko"):
    """Labels for a photo: (facts and pipeline line, probability chart, the numbers and the sentences read)."""
    return view_clip.clip_outputs(clip.classify(image, labels, template, model_name), lang)


def hub_speech(recording, language, beams, model_name, lang: str = "ko"):
    """Speech to text: (facts and pipeline line, spectrogram, language chart, tokens chart, the words). The
    uploaded recording is read once and deleted from the server (speech.take); only the answer stays."""
    return view_speech.speech_outputs(speech.transcribe(speech.take(recording), language, beams, model_name), lang)


def _name_box(task: str, elem_id: str):
    return gr.Textbox(value=zoo.TASKS[task].repo, label=TEXT.ui("model"), max_lines=1, elem_id=elem_id)


def _answer_area(prefix: str) -> list:
    """A row's answer: the model's facts and pipeline line, its chart, its words."""
    return [gr.Markdown(elem_id=f"{prefix}-facts"), gr.Plot(show_label=False, elem_id=f"{prefix}-chart"),
            gr.Markdown(elem_id=f"{prefix}-words")]


def _wire(page, task: str, fn, triggers: list, inputs: list, outputs: list, api_name: str):
    """A row's one cached "model" event (the key: which model of `task` is on this computer) and its worked
    example when the sub-tab opens."""
    key = functools.partial(compute.model_in_use, task)
    answered = events.on(triggers, fn, inputs, outputs, kind="model", cache=True, cache_key=key, api_name=api_name)
    page.on_open(fn, inputs, outputs, kind="model", cache_key=key)
    return answered


def _fill_row(page) -> None:
    name = _name_box(fill_mask.TASK, "hub-fill-model")
    with gr.Row():
        sentence = gr.Textbox(value=fill_mask.EXAMPLE, label=TEXT.ui("sentence"), max_length=compute.MAX_CHARS,
                              elem_id="hub-fill-sentence", scale=3)
        top_k = components.control(compute.SETTINGS["top_k"], label=TEXT.ui("top_k"), elem_id="hub-fill-k")
    gr.Examples(examples=[[e] for e in fill_mask.EXAMPLES], inputs=[sentence], label=TEXT.ui("examples"))
    run = gr.Button(TEXT.ui("run_fill"), variant="primary", elem_id="hub-fill-run")
    outputs = _answer_area("hub-fill")
    filled = _wire(page, fill_mask.TASK, hub_fill_mask, [run.click, sentence.submit, name.submit],
                   [sentence, top_k, name], outputs, "hub_fill_mask")
    # The teacher mode: the class's pages fill their [MASK] with the teacher's top-k (the sentence stays each page's).
    page.class_tab(compute.SETTINGS, {"top_k": top_k}, show=filled, answers={"class_q1": 2})


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
    _wire(page, generate.TASK, hub_generate, [run.click, prompt.submit, name.submit],
          [prompt, temperature, top_k, new_tokens, seed, name], [facts, next_chart, steps_chart, words], "hub_generate")


def _translation_row(page) -> None:
    name = _name_box(translation.TASK, "hub-translation-model")
    with gr.Row():
        sentence = gr.Textbox(value=translation.EXAMPLE, label=TRANSLATION_TEXT.ui("sentence"),
                              max_length=compute.MAX_CHARS, elem_id="hub-translation-sentence", scale=3)
        beams = components.control(translation.SETTINGS["beams"], label=TRANSLATION_TEXT.ui("beams"),
                                   elem_id="hub-translation-beams")
    gr.Examples(examples=[[e] for e in translation.EXAMPLES], inputs=[sentence],
                label=TRANSLATION_TEXT.ui("examples"))
    run = gr.Button(TRANSLATION_TEXT.ui("run"), variant="primary", elem_id="hub-translation-run")
    _wire(page, translation.TASK, hub_translate, [run.click, sentence.submit, name.submit], [sentence, beams, name],
          _answer_area("hub-translation"), "hub_translate")


def _clip_row(page) -> None:
    ui = TEXT_CLIP.ui
    name = _name_box(clip.TASK, "hub-clip-model")
    with gr.Row():
        with gr.Column(scale=1):
            # The one image input: an upload, a webcam snapshot or a pasted picture, read by core.images.load_image.
            image = components.Image(value=clip.EXAMPLE[0], label=ui("image"), height=300,
                                     sources=["upload", "webcam", "clipboard"], elem_id="hub-clip-image")
        with gr.Column(scale=1):
            labels = gr.Textbox(value=clip.EXAMPLE[1], label=ui("labels"), info=ui("labels_info"), max_lines=2,
                                max_length=clip.MAX_TEXT_CHARS, elem_id="hub-clip-labels")
            template = components.control(clip.SETTINGS["template"], label=ui("template"),
                                          elem_id="hub-clip-template")
            run = gr.Button(ui("run"), variant="primary", elem_id="hub-clip-run")
    gr.Examples(examples=[list(example) for example in clip.EXAMPLES], inputs=[image, labels, template],
                label=ui("examples"))
    _wire(page, clip.TASK, hub_clip, [run.click, labels.submit, name.submit], [image, labels, template, name],
          _answer_area("hub-clip"), "hub_clip")


def _speech_row(page) -> None:
    settings = speech.SETTINGS
    name = _name_box(speech.TASK, "hub-speech-model")
    # type="filepath": Gradio hands over the uploaded file untouched (no ffmpeg: type="numpy" would decode it with
    # pydub first, before any size or length check, and fail in English alone on anything but WAV). The browser's
    # recorder uploads a 16-bit WAV at waveform_options' sample rate: 16 kHz, what Whisper reads.
    recording = gr.Audio(value=speech.EXAMPLE, sources=["microphone", "upload"], type="filepath",
                         label=SPEECH_TEXT.ui("audio"), elem_id="hub-speech-audio",
                         waveform_options=gr.WaveformOptions(sample_rate=speech.SAMPLE_RATE))
    gr.Examples(examples=[[e] for e in speech.EXAMPLES], inputs=[recording], label=SPEECH_TEXT.ui("examples"))
    with gr.Row():
        language = components.control(settings["language"], label=SPEECH_TEXT.ui("language"),
                                      elem_id="hub-speech-language")
        beams = components.control(settings["beams"], label=SPEECH_TEXT.ui("beams"), elem_id="hub-speech-beams")
    run = gr.Button(SPEECH_TEXT.ui("run"), variant="primary", elem_id="hub-speech-run")
    facts = gr.Markdown(elem_id="hub-speech-facts")
    mel = gr.Plot(show_label=False, elem_id="hub-speech-mel")
    with gr.Row():
        languages = gr.Plot(show_label=False, elem_id="hub-speech-languages")
        tokens = gr.Plot(show_label=False, elem_id="hub-speech-tokens")
    words = gr.Markdown(elem_id="hub-speech-words")
    # Once per recording: when the microphone stops (Gradio fires stop_recording after the WAV is uploaded) or
    # a file is uploaded, or on the button. Never streamed.
    _wire(page, speech.TASK, hub_speech, [run.click, recording.stop_recording, recording.upload, name.submit],
          [recording, language, beams, name], [facts, mel, languages, tokens, words], "hub_speech")


def build(page) -> None:
    with gr.Tabs(elem_id="hub-rows", overflow_behavior="wrap"):  # every row named, none behind a "⋯"
        with gr.Tab(TEXT.ui("fill_tab"), id="hub-fill", elem_id="hub-fill"):
            _fill_row(page)
        with gr.Tab(TEXT.ui("gen_tab"), id="hub-gen", elem_id="hub-gen"):
            _generate_row(page)
        with gr.Tab(TRANSLATION_TEXT.ui("tab"), id="hub-translation", elem_id="hub-translation"):
            _translation_row(page)
        with gr.Tab(TEXT_CLIP.ui("tab"), id="hub-clip", elem_id="hub-clip"):
            _clip_row(page)
        with gr.Tab(SPEECH_TEXT.ui("tab"), id="hub-speech", elem_id="hub-speech"):
            _speech_row(page)
