"""The Stable Diffusion tab: prompt and settings on the left, the picture and its step previews on the right,
then the pipeline with its tensor shapes, the prompt's CLIP tokens, the latent itself, and two prompts compared.

Drawing is a "diffusion" event (one at a time, streaming a preview per step), cached: an identical request,
or an example prompt drawn at warm-up, is answered at once. The page's opening never draws: it shows the
tokens and the pipeline for the default prompt (cached), and the first example's picture if warm-up has
drawn it already.
"""
from __future__ import annotations

import functools
import random
from types import SimpleNamespace

import gradio as gr

from core import components, events, models, values
from core.page import initial_input
from core.zoo import diffusion as zoo
from tabs.diffusion import compute, view
from tabs.diffusion.text import TEXT

MAIN_OUTPUTS = 9  # final, gallery, status, info, tokens, diagram, latents, latent slider, latent picture


def _guard_memory(request: compute.Request, outputs):
    """Out of memory in the middle of a run: say which smaller size to try, in the page's language."""
    try:
        yield from outputs
    except Exception as exc:
        if events.is_out_of_memory(exc):
            raise TEXT.problem("oom", smaller=compute.smaller_size(request)) from None
        raise


def finished_outputs(request: compute.Request, finished: compute.Finished, tokens: str, diagram: str, lang: str):
    panels = view.finished_panels(finished, lang)
    return (panels["final"], panels["gallery"], panels["status"],
            view.info_markdown(request, finished.facts, lang, finished), tokens, diagram, panels["latents"],
            gr.update(maximum=panels["last"], value=panels["last"]), panels["latent_image"])


def _draw(request: compute.Request, lang: str):
    """The main outputs as a run goes: each step's preview streamed, then the finished picture."""
    bundle = compute.load_pipeline(request)
    facts = compute.pipeline_facts(bundle, request.settings, request.plan)
    tokens = view.tokens_html(compute.prompt_tokens(bundle, request), lang)
    diagram = view.pipeline_html(facts, lang)
    info = view.info_markdown(request, facts, lang)
    gallery = []
    for event in compute.text_to_image(request, bundle):
        if event.finished is not None:
            yield finished_outputs(request, event.finished, tokens, diagram, lang)
            return
        item = view.preview_item(event, lang)
        if item is not None:
            gallery.append(item)
        yield (gr.skip(), list(gallery), view.progress_html(event.step, event.total, lang), info, tokens, diagram,
               gr.skip(), gr.skip(), gr.skip())


# ---------------------------------------------------------------- events (module level: tests call them)


def sd_generate(prompt, negative, model_name, steps, guidance, size, seed, preview, decoder, *, safety: bool = True,
                lang: str = "ko"):
    """The main event (API sd_generate): streams a preview per step, then the final picture."""
    request = compute.read_request([prompt], negative, model_name, steps, guidance, size, seed, preview, decoder,
                                   safety)
    yield from _guard_memory(request, _draw(request, lang))


def sd_preset(index, negative, model_name, steps, guidance, size, seed, preview, decoder, *, safety: bool = True,
              lang: str = "ko"):
    """An example prompt clicked: it fills the prompt box and is drawn with the current settings."""
    prompt = compute.preset_prompt(index)
    for outputs in sd_generate(prompt, negative, model_name, steps, guidance, size, seed, preview, decoder,
                               safety=safety, lang=lang):
        yield (prompt, *outputs)


def sd_compare(prompt_a, prompt_b, model_name, steps, guidance, size, seed, *, safety: bool = True,
               lang: str = "ko"):
    """Both prompts in one batch from the same noise (API sd_compare): one UNet call per step draws both."""
    request = compute.read_request([prompt_a, prompt_b], "", model_name, steps, guidance, size, seed, None, None,
                                   safety)

    def draw():
        gallery = []
        for event in compute.text_to_image(request):
            if event.finished is not None:
                yield (view.compare_panels(event.finished, lang),
                       view.info_markdown(request, event.finished.facts, lang, event.finished))
                return
            item = view.compare_item(event, lang)
            if item is not None:
                gallery.append(item)
                yield list(gallery), view.notes_markdown(request.notes, lang)

    yield from _guard_memory(request, draw())


def first_look(prompt, negative, model_name, steps, guidance, size, seed, preview, decoder, *, safety: bool = True,
               lang: str = "ko"):
    """On opening: the tokens and the pipeline of the prompt in the box (cheap; computed once at warm-up)."""
    request = compute.read_request([prompt], negative, model_name, steps, guidance, size, seed, preview, decoder,
                                   safety)
    bundle = compute.load_pipeline(request)
    facts = compute.pipeline_facts(bundle, request.settings, request.plan)
    return view.tokens_html(compute.prompt_tokens(bundle, request), lang), view.pipeline_html(facts, lang)


def first_picture(prompt, negative, model_name, steps, guidance, size, seed, preview, decoder, *,
                  safety: bool = True, lang: str = "ko"):
    """On opening: the picture of these settings if it was drawn already (warm-up draws the first example).
    Never draws and never loads a model, so a class opening the page at once costs almost nothing."""
    request = compute.read_request([prompt], negative, model_name, steps, guidance, size, seed, preview, decoder,
                                   safety)
    finished = compute.finished_run(request)
    if finished is None:
        return (gr.skip(), gr.skip(), f"<p id='sd-progress'>{TEXT.say(lang, 'not_ready')}</p>", gr.skip(),
                gr.skip(), gr.skip(), gr.skip())
    panels = view.finished_panels(finished, lang)
    return (panels["final"], panels["gallery"], panels["status"],
            view.info_markdown(request, finished.facts, lang, finished), panels["latents"],
            gr.update(maximum=panels["last"], value=panels["last"]), panels["latent_image"])


def show_latent(latents, step):
    """The latent after one step (API sd_latent), from the latents of the last run in this page."""
    if not latents:
        return None
    last = len(latents) - 1
    index, _ = values.clamp(step, 0, last, last, compute.SETTINGS["latent_step"].label, integer=True)
    return view.latent_channels_image(latents[index])


def random_seed() -> int:
    return random.randint(0, 2**31 - 1)


def model_defaults(model_name):
    """Another model: its own step range, guidance and sizes."""
    info = zoo.INFO.get(model_name, zoo.INFO[zoo.SD_TURBO])
    sizes = compute.size_choices(model_name if model_name in zoo.INFO else zoo.SD_TURBO,
                                 models.default_device())
    return (gr.update(maximum=info.steps_max, value=info.steps_default),
            gr.update(maximum=max(info.guidance_max, 1.0), value=info.guidance_default,
                      interactive=info.guidance_max > 0),
            gr.update(choices=list(sizes), value=info.size_default))


def _bound(fn, **settings):
    """`fn` with the server's settings bound, keeping its name (the event's name in logs and the cache)."""
    return functools.update_wrapper(functools.partial(fn, **settings), fn)


# ---------------------------------------------------------------- the tab, section by section


def request_controls(device) -> SimpleNamespace:
    """The left column: the prompt and its examples, then the settings of a run (declared in compute.SETTINGS)."""
    ui, setting = TEXT.ui, compute.SETTINGS
    c = SimpleNamespace()
    c.prompt = gr.Textbox(value=compute.DEFAULT_PROMPT, lines=2, label=ui("prompt"), elem_id="sd-prompt")
    c.presets = gr.Dataset(components=[c.prompt], samples=[[p] for p in compute.PRESETS], type="index",
                           label=ui("presets"), samples_per_page=len(compute.PRESETS), elem_id="sd-presets")
    c.negative = gr.Textbox(value="", lines=1, label=ui("negative"), elem_id="sd-negative")
    with gr.Row():
        c.model = components.control(setting["model"], widget="dropdown", label=ui("model"), elem_id="sd-model",
                                     choices=[(ui(f"model_{m}"), m) for m in compute.model_choices(device)])
        c.size = components.control(setting["size"], label=ui("size"), elem_id="sd-size",
                                    choices=list(compute.size_choices(setting["model"].default, device)))
    with gr.Row():
        c.steps = components.control(setting["steps"], label=ui("steps"), elem_id="sd-steps")
        c.guidance = components.control(setting["guidance"], label=ui("guidance"), info=ui("guidance_info"),
                                        interactive=compute.TURBO.guidance_max > 0, elem_id="sd-guidance")
    with gr.Row():
        c.seed = components.control(setting["seed"], widget="number", label=ui("seed"), elem_id="sd-seed")
        c.randomize = gr.Button(ui("randomize"), elem_id="sd-randomize", scale=0)
    with gr.Row():
        c.preview = components.control(setting["preview"], value=compute.default_preview(device), label=ui("preview"),
                                       choices=[(ui(f"preview_{m}"), m) for m in compute.PREVIEW_MODES],
                                       elem_id="sd-preview")
        c.decoder = components.control(setting["decoder"], value=compute.default_decoder(device), label=ui("decoder"),
                                       choices=[(ui(f"decoder_{m}"), m) for m in compute.DECODERS],
                                       elem_id="sd-decoder")
    c.generate = gr.Button(ui("generate"), variant="primary", elem_id="sd-generate")
    c.status = gr.HTML(label=ui("status"), elem_id="sd-status")
    c.info = gr.Markdown(elem_id="sd-info")
    return c


def picture_outputs() -> SimpleNamespace:
    """The right column: the finished picture and the picture predicted at each step."""
    ui = TEXT.ui
    return SimpleNamespace(
        final=components.image_output(label=ui("final"), elem_id="sd-final", height=420),
        gallery=gr.Gallery(label=ui("gallery"), columns=4, height=260, elem_id="sd-gallery", format="jpeg",
                           allow_preview=True, object_fit="contain"))


def inside_outputs() -> SimpleNamespace:
    """Below: the pipeline with its tensor shapes, the prompt's CLIP tokens and the latent of any step."""
    ui = TEXT.ui
    c = SimpleNamespace()
    gr.Markdown(ui("pipeline"))
    c.diagram = gr.HTML(elem_id="sd-diagram")
    gr.Markdown(ui("tokens"))
    c.tokens = gr.HTML(elem_id="sd-tokens")
    gr.Markdown(ui("latent_title"))
    c.latent_state = gr.State([])
    with gr.Row():
        c.latent_step = components.control(compute.SETTINGS["latent_step"], elem_id="sd-latent-step")
        # Colour-mapped cells with sharp edges: PNG keeps them crisp.
        c.latent_image = components.image_output(label=ui("latent_image"), format="png", elem_id="sd-latent",
                                                 height=400)
    return c


def compare_section() -> SimpleNamespace:
    """Two prompts side by side, from the same noise."""
    ui = TEXT.ui
    c = SimpleNamespace()
    gr.Markdown(ui("compare_title"))
    with gr.Row():
        c.prompt_a = gr.Textbox(value=compute.COMPARE_PROMPTS[0], label=ui("prompt_a"), elem_id="sd-prompt-a")
        c.prompt_b = gr.Textbox(value=compute.COMPARE_PROMPTS[1], label=ui("prompt_b"), elem_id="sd-prompt-b")
        c.button = gr.Button(ui("compare"), elem_id="sd-compare", scale=0)
    c.gallery = gr.Gallery(label=ui("compare_gallery"), columns=3, height=360, format="jpeg",
                           elem_id="sd-compare-gallery", object_fit="contain")
    c.info = gr.Markdown(elem_id="sd-compare-info")
    return c


def run_settings(controls: SimpleNamespace) -> list:
    """The controls every drawing reads besides its prompt, in the events' order."""
    c = controls
    return [c.negative, c.model, c.steps, c.guidance, c.size, c.seed, c.preview, c.decoder]


CLASS_SETTINGS = ("steps", "guidance", "size", "seed", "preview", "decoder")  # the teacher mode's (see build)


def build(page) -> None:
    device = models.default_device()
    with gr.Row():
        with gr.Column(scale=2):
            controls = request_controls(device)
        with gr.Column(scale=2):
            picture = picture_outputs()
    inside = inside_outputs()
    compare = compare_section()
    safety = dict(safety=page.settings.safety_checker)  # `python app.py --no-safety-checker` turns it off
    main, example = drawing_events(controls, picture, inside, safety)
    # The teacher mode: the run's settings go to the class (the model is left out: choosing one resets the others).
    page.class_tab(compute.SETTINGS, {name: getattr(controls, name) for name in CLASS_SETTINGS}, show=main,
                   answers={"class_q1": 0})
    compare_events(controls, compare, safety)
    opening(page, controls, picture, inside, safety)
    # Warm-up draws every example prompt at the default settings (the first one is the prompt in the box), and
    # the Generate button's answer for the box as it opens (from the drawn run: no second drawing).
    defaults = [initial_input(component) for component in run_settings(controls)]
    for index in range(len(compute.PRESETS)):
        page.warm(example, index, *defaults)
    page.warm(main, initial_input(controls.prompt), *defaults)


def drawing_events(controls, picture, inside, safety: dict):
    """Generate, an example prompt, the seed, the latent of a step and a change of model. Returns the events
    that draw (Generate, an example), for the warm-up."""
    c, private = controls, dict(api_visibility="private")
    settings = run_settings(c)
    outputs = [picture.final, picture.gallery, c.status, c.info, inside.tokens, inside.diagram, inside.latent_state,
               inside.latent_step, inside.latent_image]
    main = events.on(c.generate.click, _bound(sd_generate, **safety), [c.prompt] + settings, outputs,
                     kind="diffusion", cache=True, api_name="sd_generate")
    example = events.on(c.presets.click, _bound(sd_preset, **safety), [c.presets] + settings, [c.prompt] + outputs,
                        kind="diffusion", cache=True, **private)
    events.on(c.randomize.click, random_seed, None, c.seed, kind="quick", api_name="sd_random_seed")
    events.on(inside.latent_step.change, show_latent, [inside.latent_state, inside.latent_step], inside.latent_image,
              kind="quick", api_name="sd_latent")
    events.on(c.model.change, model_defaults, [c.model], [c.steps, c.guidance, c.size], kind="quick", cache=True,
              **private)
    return main, example


def compare_events(controls, compare, safety: dict) -> None:
    c = controls
    events.on(compare.button.click, _bound(sd_compare, **safety),
              [compare.prompt_a, compare.prompt_b, c.model, c.steps, c.guidance, c.size, c.seed],
              [compare.gallery, compare.info], kind="diffusion", cache=True, api_name="sd_compare")


def opening(page, controls, picture, inside, safety: dict) -> None:
    """The page's opening: tokens and pipeline at once (cached), the first example's picture when warm-up drew it."""
    c = controls
    inputs = [c.prompt] + run_settings(c)
    page.on_open(_bound(first_look, **safety), inputs, [inside.tokens, inside.diagram], kind="quick")
    page.on_open(_bound(first_picture, **safety), inputs,
                 [picture.final, picture.gallery, c.status, c.info, inside.latent_state, inside.latent_step,
                  inside.latent_image], kind="quick", cache=False)
