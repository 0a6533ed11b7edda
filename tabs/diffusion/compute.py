"""Stable Diffusion, step by step: a prompt becomes a picture the way diffusers' StableDiffusionPipeline
draws it, written out so that every stage can be shown.

Read top to bottom, as the pipeline runs:
0. the request: model, steps, guidance, size and seed checked against what the model supports
   (`read_request`, from the tab's `SETTINGS`), and how it runs here (`Plan`: dtype, final decoder,
   previews, safety checker);
1-6. `generate`: the stages of pipeline.py in order (tokenizer and text encoder, the random latent, the
   denoising loop with a cheap preview per step, the decoder, the safety checker), timed.
`generate` runs 1-6 and yields a `StepEvent` after every step; its last event carries the `Finished` run.
`text_to_image` serves a run drawn before from `FINISHED` (shared by every event of the tab, both languages).

CPU speed plan (a free Space has 2 vCPUs): the UNet and text encoder run in bfloat16 when this CPU
multiplies bf16 matrices fast (measured once), the final picture is decoded by TAESD, previews use a
linear latent -> RGB map. No Gradio and no language here: notes are `Message`s, bad input raises `Problem`s.
"""
from __future__ import annotations

import dataclasses
import functools
import time
from typing import Iterator

import numpy as np
import torch

from core import memory, models, text, values
from core.zoo import diffusion as zoo
from tabs.diffusion import pipeline
from tabs.diffusion.text import TEXT

# The example prompts. The first one is the worked example the tab opens with; the Korean one shows what
# CLIP's English vocabulary does to Korean (byte pieces): the same cat, drawn much worse.
PRESETS = (
    "a photo of a cute cat wearing a red hat, sitting in a garden, high quality",
    "an astronaut riding a horse on the moon, digital art",
    "a red apple on a wooden table, soft light",
    "빨간 모자를 쓴 귀여운 고양이 사진",
)
DEFAULT_PROMPT = PRESETS[0]
COMPARE_PROMPTS = ("a photo of a cat sitting on a chair", "a photo of a dog sitting on a chair")
DEFAULT_SEED = 42
SEED_MAX = 2**32 - 1
PREVIEW_MODES = ("latent_rgb", "taesd_half", "none")
DECODERS = ("taesd", "vae")

# ---------------------------------------------------------------- 0. the request: what to draw, and how


TURBO = zoo.INFO[zoo.SD_TURBO]  # the model the tab opens with
SIZES = tuple(sorted({size for info in zoo.INFO.values() for size in info.sizes_cpu + info.sizes_gpu}))
GUIDANCE_MAX = int(max(info.guidance_max for info in zoo.INFO.values()))  # the most any model takes


def default_decoder(device: torch.device) -> str:
    return "taesd" if device.type == "cpu" else "vae"


def default_preview(device: torch.device) -> str:
    return "latent_rgb" if device.type == "cpu" else "taesd_half"


# The settings of a run, declared once (the tab makes its controls from them, the teacher may send them to
# the class). Steps, guidance and sizes depend on the model, sizes and the defaults of decoder and previews on
# the device: declared here as the tab opens (sd-turbo on a CPU); `clamp_settings` and `make_plan` apply the
# chosen model's and device's own limits at run time. The prompts are class settings too, but text: `read_prompt`.
SETTINGS = values.settings(
    values.Setting("model", TEXT.msg("name_model"), default=zoo.SD_TURBO, choices=tuple(zoo.INFO)),
    values.Setting("steps", TEXT.msg("name_steps"), default=TURBO.steps_default, low=1, high=TURBO.steps_max,
                   integer=True),
    values.Setting("guidance", TEXT.msg("name_guidance"), default=TURBO.guidance_default, low=0, high=GUIDANCE_MAX,
                   step=0.5),
    values.Setting("size", TEXT.msg("name_size"), default=TURBO.size_default, choices=SIZES),
    values.Setting("seed", TEXT.msg("name_seed"), default=DEFAULT_SEED, low=0, high=SEED_MAX, integer=True),
    values.Setting("preview", TEXT.msg("name_preview"), default=default_preview(torch.device("cpu")),
                   choices=PREVIEW_MODES),
    values.Setting("decoder", TEXT.msg("name_decoder"), default=default_decoder(torch.device("cpu")),
                   choices=DECODERS),
    # Which step of this page's own last run to look into: nothing the teacher could send to other pages.
    values.Setting("latent_step", TEXT.msg("latent_step"), default=0, low=0, high=1, integer=True, for_class=False),
)


def model_choices(device: torch.device) -> list[str]:
    names = [zoo.SD_TURBO, zoo.SD15]
    if device.type == "cuda":
        names.append(zoo.SDXL)
    return names


def size_choices(model_name: str, device: torch.device) -> tuple[int, ...]:
    info = zoo.INFO[model_name]
    return info.sizes_gpu if device.type != "cpu" else info.sizes_cpu


@dataclasses.dataclass
class Settings:
    """The numbers of one run, as the model supports them."""

    model: str
    steps: int
    guidance: float
    size: int
    seed: int
    notes: list[text.Message]  # what was changed from what was asked, and why

    @property
    def uses_guidance(self) -> bool:
        return pipeline.uses_guidance(self.guidance)


def model_info(model_name, device: torch.device) -> zoo.ModelInfo:
    """The model asked for, if this tab knows it and it runs on `device`; else a Problem."""
    if model_name not in zoo.INFO:
        raise TEXT.problem("unknown_model", got=repr(model_name), names=", ".join(model_choices(device)))
    info = zoo.INFO[model_name]
    if info.gpu_only and device.type != "cuda":
        raise TEXT.problem("needs_gpu")
    return info


def _means_no_guidance(value) -> bool:
    """0, or 1 (what "no guidance" means in diffusers)."""
    try:
        return float(value) in (0.0, 1.0)
    except (TypeError, ValueError, OverflowError):
        return False


def read_guidance(guidance, info: zoo.ModelInfo, notes: list) -> float:
    if info.guidance_max == 0:  # sd-turbo was distilled to draw without guidance (1 means "none" in diffusers)
        if not _means_no_guidance(guidance):
            notes.append(TEXT.msg("turbo_guidance"))
        return 0.0
    take = values.keep(notes)
    return float(take(values.clamp(guidance, 0.0, info.guidance_max, info.guidance_default,
                                   SETTINGS["guidance"].label)))


def read_size(size, model_name: str, device: torch.device, notes: list) -> int:
    """One of the model's sizes on this device: a number between them becomes the nearest one (noted)."""
    allowed = size_choices(model_name, device)
    take, label = values.keep(notes), SETTINGS["size"].label
    size = take(values.clamp(size, min(allowed), max(allowed), zoo.INFO[model_name].size_default, label,
                             integer=True))
    nearest = min(allowed, key=lambda s: (abs(s - size), s))
    return int(take(values.choice(size, allowed, nearest, label)))


def clamp_settings(model_name, steps, guidance, size, seed, device: torch.device) -> Settings:
    """What the model supports: anything else (the API accepts any number) is clamped, with a note."""
    info = model_info(model_name, device)
    notes: list[text.Message] = []
    take = values.keep(notes)
    steps = take(values.clamp(steps, 1, info.steps_max, info.steps_default, SETTINGS["steps"].label, integer=True))
    guidance = read_guidance(guidance, info, notes)
    size = read_size(size, model_name, device, notes)
    seed = SETTINGS["seed"].take(seed, notes)
    return Settings(model_name, int(steps), guidance, size, int(seed), notes)


@functools.lru_cache(maxsize=1)
def cpu_bf16_speedup() -> float:
    """How much faster a bf16 matrix multiply is than fp32 on this CPU (measured once, ~0.3 s).

    CPUs with AMX / AVX-512 BF16 units run bf16 several times faster; on others bf16 is emulated and slower.
    """
    a32, b32 = torch.randn(512, 512), torch.randn(512, 512)
    a16, b16 = a32.bfloat16(), b32.bfloat16()

    def best(a, b) -> float:
        times = []
        for _ in range(6):
            started = time.perf_counter()
            for _ in range(4):
                torch.mm(a, b)
            times.append(time.perf_counter() - started)
        return min(times[1:])

    return best(a32, b32) / max(best(a16, b16), 1e-9)


def compute_dtype(device: torch.device, model_name: str) -> torch.dtype:
    """The dtype of the UNet and text encoder: fp16 on GPUs, bf16 on a CPU where it is fast, else fp32.
    The test zoo's tiny models stay in fp32 (their small matrices gain nothing from bf16): the loader says
    whether `model_name` would be one."""
    if models.source(model_name) == "tiny":
        return torch.float32
    if device.type == "cuda":
        return torch.float16
    if device.type == "cpu" and cpu_bf16_speedup() >= 1.5:
        return torch.bfloat16
    return torch.float32


@dataclasses.dataclass
class Plan:
    """How a run goes on this machine."""

    device: torch.device
    dtype: torch.dtype  # of the UNet and the text encoder
    decoder: str  # "taesd" | "vae"
    preview: str  # "latent_rgb" | "taesd_half" | "none"
    safety: bool  # the server's setting (`--no-safety-checker` turns it off); the test zoo has no checker


def make_plan(device: torch.device, decoder, preview, safety: bool, dtype: torch.dtype,
              notes: list | None = None) -> Plan:
    """The plan for `device`; None picks the device's default decoder or preview, and a value that is not
    one of the choices becomes the default too (noted)."""
    take = values.keep(notes if notes is not None else [])
    decoder = take(values.choice(decoder if decoder is not None else default_decoder(device), DECODERS,
                                 default_decoder(device), SETTINGS["decoder"].label))
    preview = take(values.choice(preview if preview is not None else default_preview(device), PREVIEW_MODES,
                                 default_preview(device), SETTINGS["preview"].label))
    return Plan(device, dtype, decoder, preview, bool(safety))


@dataclasses.dataclass
class Request:
    """One run, checked: the prompts (one, or two side by side), the settings, the plan, and the notes."""

    prompts: list[str]
    negative: str  # "" when guidance is off (then it would not be used)
    settings: Settings
    plan: Plan
    notes: list[text.Message]

    @property
    def model(self) -> str:
        return self.settings.model


# CLIP reads 77 tokens; no prompt needs more characters than this to fill them (a token is at least one
# character, a Korean character up to three tokens). Longer ones are cut here, with a note, before anything
# reads them (the tokenizer, the result cache's key, the token view).
MAX_PROMPT_CHARS = 1000


def read_prompt(prompt, notes: list) -> str:
    prompt = str(prompt or "").strip()
    if not prompt:
        notes.append(TEXT.msg("empty_prompt"))
        return DEFAULT_PROMPT
    if len(prompt) > MAX_PROMPT_CHARS:
        notes.append(TEXT.msg("prompt_chars_cut", limit=f"{MAX_PROMPT_CHARS:,}", got=f"{len(prompt):,}"))
        prompt = prompt[:MAX_PROMPT_CHARS]
    return prompt


def preset_prompt(index) -> str:
    """The example prompt number `index` (what the example list sends)."""
    number, note = values.clamp(index, 0, len(PRESETS) - 1, 0, TEXT.msg("name_preset"), integer=True)
    if note is not None:
        raise TEXT.problem("bad_preset", last=len(PRESETS) - 1, got=repr(index))
    return PRESETS[number]


def read_request(prompts: list, negative, model_name, steps, guidance, size, seed, preview, decoder,
                 safety: bool, device: torch.device | None = None) -> Request:
    """Everything a run needs, checked; what was changed is in `notes` (said by the view)."""
    device = device or models.default_device()
    settings = clamp_settings(model_name, steps, guidance, size, seed, device)
    notes = list(settings.notes)
    prompts = [read_prompt(p, notes) for p in prompts]
    negative = str(negative or "").strip()[:MAX_PROMPT_CHARS]
    if negative and not settings.uses_guidance:
        notes.append(TEXT.msg("negative_unused"))
        negative = ""
    plan = make_plan(device, decoder, preview, safety, compute_dtype(device, settings.model), notes)
    return Request(prompts, negative, settings, plan, notes)


def load_pipeline(request: Request) -> zoo.SDBundle:
    """The model's parts (tokenizer, text encoder, UNet, scheduler, VAE), from the shared loader."""
    return models.get(request.model, device=request.plan.device, dtype=request.plan.dtype)


@dataclasses.dataclass(frozen=True)
class Facts:
    """The tensor shapes on the pipeline's arrows, and what the run uses (for the diagram)."""

    text_batch: int  # 2 with guidance: (negative, prompt)
    tokens: int  # 77
    embed_dim: int
    latent: tuple[int, int, int, int]
    image: tuple[int, int, int]
    steps: int
    seed: int
    guidance: float
    decoder: str
    refiner: bool
    safety_checker: bool  # the checker runs on the final picture
    real_weights: bool


def pipeline_facts(bundle: zoo.SDBundle, settings: Settings, plan: Plan) -> Facts:
    side = settings.size // bundle.vae_scale_factor
    return Facts(text_batch=2 if settings.uses_guidance else 1, tokens=bundle.tokenizer.model_max_length,
                 embed_dim=bundle.embed_dim, latent=(1, bundle.latent_channels, side, side),
                 image=(settings.size, settings.size, 3), steps=settings.steps, seed=settings.seed,
                 guidance=settings.guidance, decoder=plan.decoder, refiner=bundle.refiner is not None,
                 safety_checker=plan.safety and bundle.real_weights, real_weights=bundle.real_weights)


def prompt_tokens(bundle: zoo.SDBundle, request: Request) -> pipeline.TokenView:
    """1. The first prompt's tokens as CLIP reads them; a cut prompt is noted in the request."""
    view = pipeline.token_view(bundle.tokenizer, request.prompts[0])
    if view.truncated:
        request.notes.append(TEXT.msg("truncated"))
    return view


# ---------------------------------------------------------------- the whole pipeline, one step at a time


@dataclasses.dataclass
class StepEvent:
    step: int  # 0 (the starting noise) .. total
    total: int
    timestep: float
    previews: list[np.ndarray] | None  # one picture per prompt (None at step 0 and when previews are off)
    latents: np.ndarray  # (B, 4, h, w) float16, after this step
    finished: "Finished | None" = None  # on the last event only


@dataclasses.dataclass
class Finished:
    """A whole run: what the view of a finished picture needs (also when it comes from FINISHED)."""

    images: list[np.ndarray]  # one per prompt (blank where the safety checker flagged it)
    flagged: list[bool] | None  # the safety checker's verdicts (None when no checker ran)
    steps: list[StepEvent]  # step 0 (noise) .. total (previews blanked where flagged)
    seconds: dict[str, float]  # time per stage
    facts: Facts
    from_store: bool = False  # served from FINISHED, not drawn now


@dataclasses.dataclass
class Parts:
    """The models of one run: the pipeline's parts, TAESD (when the decoder or the previews use it) and the
    safety checker (when it runs)."""

    bundle: zoo.SDBundle
    taesd: object | None
    checker: object | None

    @property
    def kind(self) -> str:  # which linear latent -> RGB map fits
        return "sdxl" if self.bundle.is_xl else "sd"


def load_parts(model_name: str, plan: Plan, tiny: bool | None = None, bundle: zoo.SDBundle | None = None,
               taesd=None) -> Parts:
    """The models from the loader; the bench and tests may pass their own `bundle`/`taesd` (and `tiny`)."""
    device, dtype = plan.device, plan.dtype
    bundle = bundle or models.get(model_name, device=device, dtype=dtype, tiny=tiny)
    if taesd is None and (plan.decoder == "taesd" or plan.preview == "taesd_half"):
        taesd = models.get(zoo.TAESDXL if bundle.is_xl else zoo.TAESD, device=device, dtype=dtype, tiny=tiny)
    checker = None
    if plan.safety and bundle.real_weights:  # the test zoo has no checker
        checker = models.get(zoo.SAFETY_CHECKER, device=device, dtype=torch.float32, tiny=tiny)
    return Parts(bundle, taesd, checker)


def denoise(parts: Parts, loop: pipeline.Loop, embeds: torch.Tensor, settings: Settings, plan: Plan,
            steps: list[StepEvent], seconds: dict) -> Iterator[StepEvent]:
    """4. The loop: one denoising step per noise level, and a preview of the clean picture the scheduler
    predicts after it (each step appended to `steps` and yielded)."""
    started, preview_seconds = time.perf_counter(), 0.0
    total = len(loop.timesteps)
    for i, timestep in enumerate(loop.timesteps):
        out = pipeline.denoise_step(parts.bundle, loop, timestep, embeds, settings.guidance, plan.dtype)
        loop.latents = out.prev_sample
        predicted = out.pred_original_sample if out.pred_original_sample is not None else loop.latents
        p0 = time.perf_counter()
        previews = pipeline.preview(predicted, plan.preview, parts.taesd, parts.kind)
        preview_seconds += time.perf_counter() - p0
        steps.append(StepEvent(i + 1, total, float(timestep), previews, loop.latents.half().cpu().numpy()))
        yield steps[-1]
    seconds["unet"] = time.perf_counter() - started - preview_seconds
    seconds["previews"] = preview_seconds


def check_safety(checker, images: np.ndarray, steps: list[StepEvent]) -> tuple[np.ndarray, list[bool]]:
    """6. The safety checker: a flagged picture (and its previews) is blanked."""
    flagged = checker.flags(list(images))
    for event in steps:
        if event.previews is not None:
            event.previews = pipeline.blank(event.previews, flagged)
    return np.stack(pipeline.blank(images, flagged)), flagged


def _timed(seconds: dict, stage: str, fn, *args):
    """fn(*args), its time written to seconds[stage]."""
    started = time.perf_counter()
    result = fn(*args)
    seconds[stage] = time.perf_counter() - started
    return result


# Inference mode is entered around each step of the generator, not held across its yields: Gradio resumes
# generators in any worker thread, and a mode held across a yield would leak into other requests.
@torch.inference_mode()
def generate(model_name: str, prompts: list[str], negative: str, settings: Settings, plan: Plan,
             tiny: bool | None = None, bundle: zoo.SDBundle | None = None, taesd=None) -> Iterator[StepEvent]:
    """Text-to-image for one or more prompts from the same starting noise, yielding after every step.

    The models come from the loader; the bench and tests may pass their own `bundle`/`taesd`."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    parts = _timed(seconds, "load", load_parts, model_name, plan, tiny, bundle, taesd)
    bundle = parts.bundle
    facts = pipeline_facts(bundle, settings, plan)
    # 1-2. tokenizer + text encoder: each prompt -> 77 token ids -> 77 vectors
    embeds, pooled = _timed(seconds, "text", pipeline.encode_prompts, bundle, prompts, negative, settings.guidance,
                            plan.dtype)
    # 3. the starting latent: pure Gaussian noise from the seed (the same for every prompt)
    loop = pipeline.start_loop(bundle, settings.steps, settings.size, settings.seed, len(prompts), pooled,
                               plan.device, plan.dtype)
    total = len(loop.timesteps)
    steps = [StepEvent(0, total, float(loop.timesteps[0]), None, loop.latents.half().cpu().numpy())]
    yield steps[0]
    # 4. the loop: the UNet predicts the noise, guidance sharpens it, the scheduler removes a part of it
    yield from denoise(parts, loop, embeds, settings, plan, steps, seconds)
    latents = loop.latents
    if bundle.is_xl and bundle.refiner is not None:
        latents = _timed(seconds, "refiner", pipeline.refine, bundle, latents, prompts, negative, settings.steps,
                         settings.guidance)
    # 5. decode the last latent into pixels; 6. the safety checker
    images = _timed(seconds, "decode", pipeline.decode, bundle, parts.taesd, plan.decoder, latents)
    flagged = None
    if parts.checker is not None:
        images, flagged = _timed(seconds, "safety", check_safety, parts.checker, images, steps)
    seconds["total"] = time.perf_counter() - started
    finished = Finished(list(images), flagged, steps, seconds, facts)
    yield StepEvent(total, total, float(loop.timesteps[-1]), None, latents.half().cpu().numpy(), finished)


# ---------------------------------------------------------------- runs drawn before


# Finished runs by everything that decides their pictures. The result cache of the events holds each
# event's answer per language; this store holds the language-free run itself, so the same picture asked
# for by another event (the Generate button, an example prompt, the page's opening) or in the other
# language is never drawn twice. Counted in the app's memory budget.
FINISHED = memory.Store("diffusion_runs", size=memory.nbytes, max_entries=32)


def run_key(request: Request) -> tuple:
    s, plan = request.settings, request.plan
    # The test zoo's tiny model draws other pictures than the real weights; cached or still to be downloaded,
    # the real weights draw the same ones (so the first download does not change the key).
    tiny = models.source(s.model) == "tiny"
    return (s.model, tuple(request.prompts), request.negative, s.steps, s.guidance, s.size, s.seed,
            str(plan.device), str(plan.dtype), plan.decoder, plan.preview, plan.safety, tiny)


def finished_run(request: Request) -> Finished | None:
    """The run of `request` if it was drawn before (never draws; for the page's opening)."""
    done = FINISHED.get(run_key(request))
    return dataclasses.replace(done, from_store=True) if done is not None else None


def text_to_image(request: Request, bundle: zoo.SDBundle | None = None) -> Iterator[StepEvent]:
    """`generate` for a checked request; a run drawn before comes back at once, as its last event alone."""
    key = run_key(request)
    done = FINISHED.get(key)
    if done is not None:
        last = done.steps[-1]
        yield StepEvent(last.step, last.total, last.timestep, None, last.latents,
                        dataclasses.replace(done, from_store=True))
        return
    for event in generate(request.model, request.prompts, request.negative, request.settings, request.plan,
                          bundle=bundle):
        if event.finished is not None:
            FINISHED.put(key, event.finished)
        yield event


def smaller_size(request: Request) -> int:
    """The size to suggest after running out of memory."""
    allowed = size_choices(request.model, request.plan.device)
    below = [s for s in allowed if s < request.settings.size]
    return max(below) if below else min(allowed)
