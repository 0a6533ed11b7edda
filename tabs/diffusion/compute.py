"""Stable Diffusion, step by step: a prompt becomes a picture the way diffusers' StableDiffusionPipeline
draws it, written out so that every stage can be shown.

Read top to bottom, as the pipeline runs:
0. the request: model, steps, guidance, size and seed checked against what the model supports
   (`read_request`), and how it runs here (`Plan`: dtype, final decoder, previews, safety checker);
1. tokenizer: the prompt -> CLIP token ids in a 77-position window (`token_view` shows what is cut);
2. text encoder (CLIP): 77 ids -> 77 vectors (`encode_prompt`); with guidance, the negative prompt too;
3. the random latent: pure Gaussian noise from the seed, 4 x size/8 x size/8 (`initial_noise`);
4. the loop: at every step the UNet predicts the noise, classifier-free guidance pushes the prediction
   away from the negative prompt, and the scheduler removes part of the noise; the clean picture the
   scheduler predicts is previewed cheaply (`latent_to_rgb`, or TAESD at half resolution);
5. decode: TAESD (tiny, fast) or the full VAE turns the last latent into pixels;
6. the safety checker blanks a picture it flags.
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

import cv2
import numpy as np
import torch

from core import memory, models, text, values
from core.zoo import diffusion as zoo
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
PREVIEW_SIDE = 256  # previews are shown at this size (a timeline, not the final picture)
PREVIEW_MODES = ("latent_rgb", "taesd_half", "none")
DECODERS = ("taesd", "vae")

# Linear latent -> RGB maps (least-squares fits published with ComfyUI's previewer): one 4x3 matrix turns
# the 4 latent channels of each 8x8 patch into an RGB colour. Costs nothing; blurry by design.
LATENT_RGB = {
    "sd": (np.array([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
                     [-0.2120, -0.2616, -0.7177]], dtype=np.float32), np.zeros(3, dtype=np.float32)),
    "sdxl": (np.array([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
                       [-0.3165, -0.2492, -0.2188]], dtype=np.float32),
             np.array([0.1084, -0.0175, -0.0011], dtype=np.float32)),
}


# ---------------------------------------------------------------- 0. the request: what to draw, and how


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
        return self.guidance > 1.0


def _is_one(value) -> bool:
    try:
        return float(value) == 1.0
    except (TypeError, ValueError, OverflowError):
        return False


def clamp_settings(model_name, steps, guidance, size, seed, device: torch.device) -> Settings:
    """What the model supports: anything else (the API accepts any number) is clamped, with a note."""
    if model_name not in zoo.INFO:
        raise TEXT.problem("unknown_model", got=repr(model_name), names=", ".join(model_choices(device)))
    info = zoo.INFO[model_name]
    if info.gpu_only and device.type != "cuda":
        raise TEXT.problem("needs_gpu")
    notes: list[text.Message] = []

    def keep(value_and_note):
        value, note = value_and_note
        if note is not None:
            notes.append(note)
        return value

    steps = keep(values.clamp(steps, 1, info.steps_max, info.steps_default, TEXT.msg("name_steps"), integer=True))
    if info.guidance_max == 0:  # sd-turbo was distilled to draw without guidance (1 means "none" in diffusers)
        _, changed = values.clamp(guidance, 0.0, 0.0, 0.0, TEXT.msg("name_guidance"))
        if changed is not None and not _is_one(guidance):
            notes.append(TEXT.msg("turbo_guidance"))
        guidance = 0.0
    else:
        guidance = float(keep(values.clamp(guidance, 0.0, info.guidance_max, info.guidance_default,
                                           TEXT.msg("name_guidance"))))
    allowed = size_choices(model_name, device)
    size = keep(values.clamp(size, min(allowed), max(allowed), info.size_default, TEXT.msg("name_size"),
                             integer=True))
    nearest = min(allowed, key=lambda s: (abs(s - size), s))
    size = keep(values.choice(size, allowed, nearest, TEXT.msg("name_size")))
    seed = keep(values.clamp(seed, 0, SEED_MAX, DEFAULT_SEED, TEXT.msg("name_seed"), integer=True))
    return Settings(model_name, int(steps), guidance, int(size), int(seed), notes)


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


def compute_dtype(device: torch.device, tiny: bool | None = None) -> torch.dtype:
    """The dtype of the UNet and text encoder: fp16 on GPUs, bf16 on a CPU where it is fast, else fp32.
    The test zoo's tiny models stay in fp32 (their small matrices gain nothing from bf16)."""
    if tiny if tiny is not None else models.tiny_default():
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


def default_decoder(device: torch.device) -> str:
    return "taesd" if device.type == "cpu" else "vae"


def default_preview(device: torch.device) -> str:
    return "latent_rgb" if device.type == "cpu" else "taesd_half"


def make_plan(device: torch.device, decoder, preview, safety: bool, dtype: torch.dtype | None = None,
              notes: list | None = None) -> Plan:
    """The plan for `device`; None picks the device's default decoder or preview, and a value that is not
    one of the choices becomes the default too (noted)."""
    decoder, note_d = values.choice(decoder if decoder is not None else default_decoder(device), DECODERS,
                                    default_decoder(device), TEXT.msg("name_decoder"))
    preview, note_p = values.choice(preview if preview is not None else default_preview(device), PREVIEW_MODES,
                                    default_preview(device), TEXT.msg("name_preview"))
    if notes is not None:
        notes.extend(note for note in (note_d, note_p) if note is not None)
    return Plan(device, dtype or compute_dtype(device), decoder, preview, bool(safety))


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


def read_prompt(prompt, notes: list) -> str:
    prompt = str(prompt or "").strip()
    if not prompt:
        notes.append(TEXT.msg("empty_prompt"))
        return DEFAULT_PROMPT
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
    negative = str(negative or "").strip()
    if negative and not settings.uses_guidance:
        notes.append(TEXT.msg("negative_unused"))
        negative = ""
    plan = make_plan(device, decoder, preview, safety, notes=notes)
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


# ---------------------------------------------------------------- 1. tokenizer: the prompt as CLIP reads it


@dataclasses.dataclass
class TokenView:
    tokens: list[str]  # every token of the prompt, with <start> and <end>, readable
    kept: int  # how many of them fit into the 77 positions (the last kept one is <end>)
    cut_text: str  # the words past the window (empty when nothing was cut)

    @property
    def truncated(self) -> bool:
        return bool(self.cut_text)


SPECIAL_TOKENS = {"<|startoftext|>": "<start>", "<|endoftext|>": "<end>"}


def _readable(tokenizer, token_id: int, token: str) -> str:
    """A CLIP byte-level token as text; '·' marks a word's end. Korean splits into bytes: those show as �."""
    if token in SPECIAL_TOKENS:
        return SPECIAL_TOKENS[token]
    return tokenizer.decode([token_id]) + ("·" if token.endswith("</w>") else "")


def token_view(tokenizer, prompt: str) -> TokenView:
    """The prompt as CLIP sees it: <start>, up to 75 tokens, <end>; whatever is past the window is cut."""
    ids = tokenizer(prompt, truncation=False, verbose=False).input_ids
    limit = tokenizer.model_max_length
    readable = [_readable(tokenizer, i, t) for i, t in zip(ids, tokenizer.convert_ids_to_tokens(ids))]
    if len(ids) <= limit:
        return TokenView(readable, len(ids), "")
    # kept: <start> + 75 tokens + the final <end>; cut: what lies between the last kept token and that <end>
    kept, cut = readable[:limit - 1] + [readable[-1]], readable[limit - 1:-1]
    return TokenView(kept + cut, limit, tokenizer.decode(ids[limit - 1:-1]).strip())


def prompt_tokens(bundle: zoo.SDBundle, request: Request) -> TokenView:
    """The first prompt's tokens; a cut prompt is noted in the request."""
    view = token_view(bundle.tokenizer, request.prompts[0])
    if view.truncated:
        request.notes.append(TEXT.msg("truncated"))
    return view


# ---------------------------------------------------------------- 2. text encoder: 77 ids -> 77 vectors


def encode_prompt(bundle: zoo.SDBundle, texts: list[str], dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Text -> embeddings (B, 77, D). SDXL: both encoders' penultimate layers side by side, + pooled vector."""
    device = next(bundle.unet.parameters()).device
    ids = bundle.tokenizer(texts, padding="max_length", max_length=bundle.tokenizer.model_max_length,
                           truncation=True, return_tensors="pt").input_ids.to(device)
    if not bundle.is_xl:
        return bundle.text_encoder(ids)[0].to(dtype), None
    ids_2 = bundle.tokenizer_2(texts, padding="max_length", max_length=bundle.tokenizer_2.model_max_length,
                               truncation=True, return_tensors="pt").input_ids.to(device)
    first = bundle.text_encoder(ids, output_hidden_states=True).hidden_states[-2]
    second = bundle.text_encoder_2(ids_2, output_hidden_states=True)
    return torch.cat([first, second.hidden_states[-2]], dim=-1).to(dtype), second.text_embeds.to(dtype)


# ---------------------------------------------------------------- 3. the random latent


def initial_noise(bundle: zoo.SDBundle, size: int, seed: int) -> torch.Tensor:
    """Pure Gaussian noise (1, 4, size/8, size/8) from the seed, drawn on the CPU so every device agrees."""
    side = size // bundle.vae_scale_factor
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((1, bundle.latent_channels, side, side), generator=generator, dtype=torch.float32)


# ---------------------------------------------------------------- 4-5. latents -> pictures (previews and decode)


def latent_to_rgb(latents: torch.Tensor, kind: str = "sd") -> np.ndarray:
    """(B, 4, h, w) scaled latents -> (B, h, w, 3) uint8 with the linear approximation (no network)."""
    weights, bias = LATENT_RGB[kind]
    x = latents.float().cpu().numpy().transpose(0, 2, 3, 1) @ weights + bias
    return (np.clip((x + 1) / 2, 0, 1) * 255).astype(np.uint8)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8."""
    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def decode_full(bundle: zoo.SDBundle, latents: torch.Tensor) -> np.ndarray:
    """The full VAE decoder (it takes unscaled latents)."""
    vae = bundle.vae
    param = next(vae.parameters())
    with torch.inference_mode():
        return to_uint8(vae.decode((latents / vae.config.scaling_factor).to(param.device, param.dtype)).sample)


def decode_taesd(taesd, latents: torch.Tensor) -> np.ndarray:
    """TAESD takes the scaled latents the UNet works in (its scaling factor is 1)."""
    param = next(taesd.parameters())
    with torch.inference_mode():
        return to_uint8(taesd.decode(latents.to(param.device, param.dtype)).sample)


def resize_square(image: np.ndarray, side: int) -> np.ndarray:
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_LINEAR)


def preview(predicted: torch.Tensor, plan: Plan, taesd, kind: str) -> list[np.ndarray] | None:
    """The clean picture the scheduler predicts after a step, cheaply, at PREVIEW_SIDE (None: previews off)."""
    if plan.preview == "latent_rgb":
        return [resize_square(im, PREVIEW_SIDE) for im in latent_to_rgb(predicted, kind)]
    if plan.preview == "taesd_half":
        half = torch.nn.functional.avg_pool2d(predicted, 2)
        return [resize_square(im, PREVIEW_SIDE) for im in decode_taesd(taesd, half)]
    return None


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


# Inference mode is entered around each step of the generator, not held across its yields: Gradio resumes
# generators in any worker thread, and a mode held across a yield would leak into other requests.
@torch.inference_mode()
def generate(model_name: str, prompts: list[str], negative: str, settings: Settings, plan: Plan,
             tiny: bool | None = None, bundle: zoo.SDBundle | None = None, taesd=None) -> Iterator[StepEvent]:
    """Text-to-image for one or more prompts from the same starting noise, yielding after every step.

    The models come from the loader; the bench and tests may pass their own `bundle`/`taesd`."""
    device, dtype = plan.device, plan.dtype
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    bundle = bundle or models.get(model_name, device=device, dtype=dtype, tiny=tiny)
    if taesd is None and (plan.decoder == "taesd" or plan.preview == "taesd_half"):
        taesd = models.get(zoo.TAESDXL if bundle.is_xl else zoo.TAESD, device=device, dtype=dtype, tiny=tiny)
    checker = None
    if plan.safety and bundle.real_weights:
        checker = models.get(zoo.SAFETY_CHECKER, device=device, dtype=torch.float32, tiny=tiny)
    seconds["load"] = time.perf_counter() - started
    batch = len(prompts)
    kind = "sdxl" if bundle.is_xl else "sd"
    facts = pipeline_facts(bundle, settings, plan)

    # 1-2. tokenizer + text encoder: each prompt -> 77 token ids -> 77 vectors
    t0 = time.perf_counter()
    cond, pooled = encode_prompt(bundle, prompts, dtype)
    if settings.uses_guidance:  # the negative prompt (or "") is encoded too: the UNet runs both as one batch
        uncond, pooled_u = encode_prompt(bundle, [negative or ""] * batch, dtype)
        if bundle.is_xl and not negative:  # SDXL's convention: an empty negative prompt is all zeros
            uncond, pooled_u = torch.zeros_like(uncond), torch.zeros_like(pooled_u)
        embeds = torch.cat([uncond, cond])
        pooled = torch.cat([pooled_u, pooled]) if pooled is not None else None
    else:
        embeds = cond
    seconds["text"] = time.perf_counter() - t0

    # 3. the starting latent: pure Gaussian noise from the seed (the same for every prompt)
    latents = initial_noise(bundle, settings.size, settings.seed).repeat(batch, 1, 1, 1).to(device)
    scheduler = type(bundle.scheduler).from_config(bundle.scheduler.config)  # per run: it keeps state
    scheduler.set_timesteps(settings.steps, device=device)
    timesteps = scheduler.timesteps
    if bundle.is_xl:  # the base does the first 80 % of the noise levels, the refiner the rest
        timesteps = timesteps[timesteps >= 1000 * (1 - 0.8)]
    latents = latents * scheduler.init_noise_sigma
    added = None
    if bundle.is_xl:
        time_ids = torch.tensor([[settings.size, settings.size, 0, 0, settings.size, settings.size]],
                                device=device, dtype=dtype).repeat(embeds.shape[0], 1)
        added = {"text_embeds": pooled, "time_ids": time_ids}
    total = len(timesteps)
    steps = [StepEvent(0, total, float(timesteps[0]), None, latents.half().cpu().numpy())]
    yield steps[0]

    # 4. the loop: the UNet predicts the noise, guidance sharpens it, the scheduler removes a part of it
    t0 = time.perf_counter()
    preview_seconds = 0.0
    for i, timestep in enumerate(timesteps):
        model_input = torch.cat([latents] * 2) if settings.uses_guidance else latents
        model_input = scheduler.scale_model_input(model_input, timestep)
        noise_pred = bundle.unet(model_input.to(dtype), timestep, encoder_hidden_states=embeds,
                                 added_cond_kwargs=added).sample.float()
        if settings.uses_guidance:  # classifier-free guidance: push away from the negative prompt
            noise_uncond, noise_text = noise_pred.chunk(2)
            noise_pred = noise_uncond + settings.guidance * (noise_text - noise_uncond)
        out = scheduler.step(noise_pred, timestep, latents)
        latents = out.prev_sample
        predicted = out.pred_original_sample if out.pred_original_sample is not None else latents
        p0 = time.perf_counter()
        previews = preview(predicted, plan, taesd, kind)
        preview_seconds += time.perf_counter() - p0
        steps.append(StepEvent(i + 1, total, float(timestep), previews, latents.half().cpu().numpy()))
        yield steps[-1]
    seconds["unet"] = time.perf_counter() - t0 - preview_seconds
    seconds["previews"] = preview_seconds

    if bundle.is_xl and bundle.refiner is not None:  # SDXL: the base's latent goes on to the refiner
        t0 = time.perf_counter()
        latents = bundle.refiner(prompt=list(prompts), negative_prompt=[negative or ""] * batch if negative else None,
                                 image=latents.to(bundle.refiner.unet.dtype), num_inference_steps=settings.steps,
                                 denoising_start=0.8, guidance_scale=max(settings.guidance, 1.0),
                                 output_type="latent").images.float()
        seconds["refiner"] = time.perf_counter() - t0

    # 5. decode the last latent into pixels
    t0 = time.perf_counter()
    images = decode_taesd(taesd, latents) if plan.decoder == "taesd" else decode_full(bundle, latents)
    seconds["decode"] = time.perf_counter() - t0

    # 6. the safety checker: a flagged picture (and its previews) is blanked
    flagged = None
    if checker is not None:
        t0 = time.perf_counter()
        flagged = checker.flags(list(images))
        images = np.stack([np.zeros_like(im) if bad else im for im, bad in zip(images, flagged)])
        for event in steps:
            if event.previews is not None:
                event.previews = [np.zeros_like(p) if bad else p for p, bad in zip(event.previews, flagged)]
        seconds["safety"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - started
    finished = Finished(list(images), flagged, steps, seconds, facts)
    yield StepEvent(total, total, float(timesteps[-1]), None, latents.half().cpu().numpy(), finished)


# ---------------------------------------------------------------- runs drawn before


# Finished runs by everything that decides their pictures. The result cache of the events holds each
# event's answer per language; this store holds the language-free run itself, so the same picture asked
# for by another event (the Generate button, an example prompt, the page's opening) or in the other
# language is never drawn twice. Counted in the app's memory budget.
FINISHED = memory.Store("diffusion_runs", size=memory.nbytes, max_entries=32)


def run_key(request: Request, tiny: bool | None = None) -> tuple:
    s, plan = request.settings, request.plan
    return (s.model, tuple(request.prompts), request.negative, s.steps, s.guidance, s.size, s.seed,
            str(plan.device), str(plan.dtype), plan.decoder, plan.preview, plan.safety,
            models.tiny_default() if tiny is None else tiny)


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
