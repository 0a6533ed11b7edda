"""Stable Diffusion, one stage at a time: text -> tokens -> vectors -> noise -> (UNet + scheduler) x steps -> image.

The denoising loop is written out here, top to bottom like the algorithm (the same steps diffusers'
StableDiffusionPipeline runs), so every intermediate can be shown: the CLIP tokens and the 77-position
window, the text embedding's shape, the random latent, the predicted picture after every step (decoded
cheaply and streamed with a progress bar), the 4-channel latent itself, and the final decode.

CPU speed plan (Spaces has 2 vCPUs): the UNet and text encoder run in bfloat16 when the CPU multiplies
bf16 matrices fast (measured once), the final image is decoded by TAESD (the full VAE is an option),
and previews use a linear latent -> RGB map (or TAESD at half resolution). The path in use is shown.
"""
from __future__ import annotations

import dataclasses
import html
import math
import random
import time
from functools import lru_cache
from typing import Iterator

import cv2
import gradio as gr
import numpy as np
import torch

from core import draw, i18n, models, ui
from core.i18n import UserError, t
from core.zoo import diffusion as zoo

TAB_ID = "diffusion"
TITLE = "diffusion.title"

DEFAULT_PROMPT = "a photo of a cute cat wearing a red hat, sitting in a garden, high quality"
PREVIEW_SIDE = 256  # previews are shown at this size (they are a timeline, not the final picture)
SEED_MAX = 2**32 - 1

# Linear latent -> RGB maps (least-squares fits published with ComfyUI's previewer): one 4x3 matrix
# turns the 4 latent channels of each 8x8 patch into an RGB colour. Costs nothing; blurry by design.
LATENT_RGB = {
    "sd": (np.array([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
                     [-0.2120, -0.2616, -0.7177]], dtype=np.float32), np.zeros(3, dtype=np.float32)),
    "sdxl": (np.array([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
                       [-0.3165, -0.2492, -0.2188]], dtype=np.float32),
             np.array([0.1084, -0.0175, -0.0011], dtype=np.float32)),
}

PREVIEW_MODES = ("latent_rgb", "taesd_half", "none")
DECODERS = ("taesd", "vae")

i18n.add({
    "diffusion.title": ("5. Stable Diffusion", "5. Stable Diffusion"),
    "diffusion.prompt": ("프롬프트 (영어가 잘 통합니다)", "Prompt (English works best)"),
    "diffusion.negative": ("네거티브 프롬프트 (가이던스를 쓰는 모델만)", "Negative prompt (models with guidance only)"),
    "diffusion.model": ("모델", "Model"),
    "diffusion.steps": ("단계 수 (denoising steps)", "Denoising steps"),
    "diffusion.guidance": ("가이던스 스케일 (CFG)", "Guidance scale (CFG)"),
    "diffusion.guidance_info": ("sd-turbo는 가이던스 없이(0) 그리도록 증류되어 0으로 고정됩니다",
                                "sd-turbo was distilled to work without guidance, so it stays at 0"),
    "diffusion.seed": ("시드 (같은 시드 = 같은 시작 노이즈)", "Seed (same seed = same starting noise)"),
    "diffusion.randomize": ("무작위 시드", "Random seed"),
    "diffusion.size": ("크기 (픽셀)", "Size (pixels)"),
    "diffusion.preview": ("단계별 미리보기", "Step previews"),
    "diffusion.decoder": ("최종 디코더", "Final decoder"),
    "diffusion.generate": ("그리기", "Generate"),
    "diffusion.final": ("완성된 그림", "Final image"),
    "diffusion.gallery": ("단계마다 모델이 예측한 완성 그림", "The finished picture the model predicts at each step"),
    "diffusion.pipeline": ("### 파이프라인과 각 화살표의 텐서 모양", "### The pipeline and the tensor shape on each arrow"),
    "diffusion.tokens": ("### 프롬프트 → CLIP 토큰 (77칸 제한)", "### Prompt → CLIP tokens (77-position limit)"),
    "diffusion.latent_title": ("### 잠재(latent) 4채널 들여다보기", "### Look inside the 4-channel latent"),
    "diffusion.latent_step": ("단계 (0 = 처음의 순수 노이즈)", "Step (0 = the pure starting noise)"),
    "diffusion.latent_image": ("잠재 4채널 (채널마다 색으로)", "The 4 latent channels (colour-mapped)"),
    "diffusion.compare_title": ("### 두 프롬프트 비교: 같은 시드, 같은 설정, 단계별로 나란히",
                                "### Compare two prompts: same seed and settings, side by side, step by step"),
    "diffusion.prompt_a": ("프롬프트 A", "Prompt A"),
    "diffusion.prompt_b": ("프롬프트 B (한 단어만 바꿔 보세요)", "Prompt B (change one word)"),
    "diffusion.compare": ("나란히 그리기", "Generate side by side"),
    "diffusion.compare_gallery": ("왼쪽 A | 오른쪽 B, 단계별", "Left A | right B, step by step"),
    "diffusion.status": ("진행 상황", "Progress"),
    "diffusion.info": ("실행 경로와 시간", "Path used and timings"),
    "diffusion.preview_latent_rgb": ("선형 근사 (거의 공짜, 흐림)", "Linear approximation (almost free, blurry)"),
    "diffusion.preview_taesd_half": ("TAESD 절반 해상도 (선명, 조금 느림)", "TAESD at half resolution (sharper, a little slower)"),
    "diffusion.preview_none": ("미리보기 없음 (가장 빠름)", "No previews (fastest)"),
    "diffusion.decoder_taesd": ("TAESD (작은 디코더, 빠름)", "TAESD (tiny decoder, fast)"),
    "diffusion.decoder_vae": ("전체 VAE 디코더 (원래 품질, 느림)", "Full VAE decoder (original quality, slow)"),
})



# ---------------------------------------------------------------- choices and clamping


def model_choices() -> list[str]:
    names = [zoo.SD_TURBO, zoo.SD15]
    if models.default_device().type == "cuda":
        names.append(zoo.SDXL)
    return names


def size_choices(model_name: str, device: torch.device) -> tuple[int, ...]:
    info = zoo.INFO[model_name]
    return info.sizes_gpu if device.type != "cpu" else info.sizes_cpu


@dataclasses.dataclass
class Settings:
    model: str
    steps: int
    guidance: float
    size: int
    seed: int
    notes: list[tuple[str, str]]  # (ko, en) notes about what was changed and why

    @property
    def uses_guidance(self) -> bool:
        return self.guidance > 1.0


def _number(value, default: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def clamp_settings(model_name: str, steps, guidance, size, seed, device: torch.device) -> Settings:
    """What the model supports: anything else (the API accepts any number) is clamped, with a note."""
    if model_name not in zoo.INFO:
        raise UserError(f"알 수 없는 모델입니다: {model_name!r}", f"Unknown model: {model_name!r}")
    info = zoo.INFO[model_name]
    if info.gpu_only and device.type != "cuda":
        raise UserError("SDXL은 GPU가 있을 때만 쓸 수 있습니다. sd-turbo를 골라 주세요.",
                        "SDXL needs a GPU. Please pick sd-turbo.")
    notes: list[tuple[str, str]] = []
    raw_steps = _number(steps, info.steps_default)
    new_steps = int(min(max(round(raw_steps), 1), info.steps_max))
    if new_steps != raw_steps:
        notes.append((f"단계 수를 {new_steps}(으)로 맞췄습니다 (이 모델은 1~{info.steps_max}).",
                      f"Steps set to {new_steps} (this model takes 1-{info.steps_max})."))
    raw_guidance = _number(guidance, info.guidance_default)
    if info.guidance_max == 0:
        new_guidance = 0.0
        if raw_guidance not in (0.0, 1.0):
            notes.append(("sd-turbo는 가이던스 없이(0) 그리도록 증류된 모델이라 가이던스를 0으로 두었습니다. "
                          "네거티브 프롬프트도 쓰이지 않습니다.",
                          "sd-turbo was distilled to draw without guidance, so guidance is set to 0 "
                          "(and the negative prompt is not used)."))
    else:
        new_guidance = float(min(max(raw_guidance, 0.0), info.guidance_max))
        if new_guidance != raw_guidance:
            notes.append((f"가이던스를 {new_guidance:g}(으)로 맞췄습니다 (0~{info.guidance_max:g}).",
                          f"Guidance set to {new_guidance:g} (0-{info.guidance_max:g})."))
    allowed = size_choices(model_name, device)
    raw_size = _number(size, info.size_default)
    new_size = min(allowed, key=lambda s: (abs(s - raw_size), s))
    if new_size != raw_size:
        notes.append((f"크기를 {new_size}x{new_size}(으)로 맞췄습니다 (가능: {', '.join(map(str, allowed))}).",
                      f"Size set to {new_size}x{new_size} (allowed: {', '.join(map(str, allowed))})."))
    raw_seed = _number(seed, 0)
    new_seed = int(min(max(round(raw_seed), 0), SEED_MAX))
    if new_seed != raw_seed:
        notes.append((f"시드를 {new_seed}(으)로 맞췄습니다 (0~{SEED_MAX}).", f"Seed set to {new_seed} (0-{SEED_MAX})."))
    return Settings(model_name, new_steps, new_guidance, new_size, new_seed, notes)


# ---------------------------------------------------------------- CPU precision: is bf16 fast here?


@lru_cache(maxsize=1)
def cpu_bf16_speedup() -> float:
    """How much faster a bf16 matrix multiply is than fp32 on this CPU (measured once, ~0.3 s).

    CPUs with AMX / AVX-512 BF16 units run bf16 several times faster; on others bf16 is emulated and slower.
    """
    a32 = torch.randn(512, 512)
    b32 = torch.randn(512, 512)
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


# ---------------------------------------------------------------- tokens


@dataclasses.dataclass
class TokenView:
    tokens: list[str]  # every token of the prompt, with <start> and <end>, readable
    kept: int  # how many of them fit into the 77 positions (the last kept one is <end>)
    cut_text: str  # the words past the window (empty when nothing was cut)

    @property
    def truncated(self) -> bool:
        return bool(self.cut_text)


@lru_cache(maxsize=1)
def _byte_decoder() -> dict[str, int]:
    return {ch: b for b, ch in zoo._bytes_to_unicode().items()}


def _readable(token: str) -> str:
    """A CLIP byte-level token as text (Korean splits into bytes: those show as �)."""
    if token.startswith("<|"):
        return {"<|startoftext|>": "<start>", "<|endoftext|>": "<end>"}.get(token, token)
    word_end = token.endswith("</w>")
    core_part = token[:-4] if word_end else token
    raw = bytes(_byte_decoder().get(ch, 63) for ch in core_part)
    return raw.decode("utf-8", errors="replace") + ("·" if word_end else "")


def token_view(tokenizer, prompt: str) -> TokenView:
    """The prompt as CLIP sees it: <start>, up to 75 tokens, <end>; whatever is past the window is cut."""
    ids = tokenizer(prompt, truncation=False, verbose=False).input_ids
    limit = tokenizer.model_max_length
    tokens = tokenizer.convert_ids_to_tokens(ids)
    if len(ids) <= limit:
        return TokenView([_readable(x) for x in tokens], len(ids), "")
    cut_ids = ids[limit - 1:-1]  # between the last kept token and the final <end>
    kept = tokens[:limit - 1] + [tokens[-1]]
    cut = tokens[limit - 1:-1]
    return TokenView([_readable(x) for x in kept + cut], limit, tokenizer.decode(cut_ids).strip())


def tokens_html(view: TokenView, lang: str) -> str:
    ko = lang == "ko"
    chips = []
    for i, token in enumerate(view.tokens):
        special = token in ("<start>", "<end>")
        if i >= view.kept:
            style = "background:#fecaca;border-color:#dc2626;text-decoration:line-through;"
        elif special:
            style = "background:#e5e7eb;border-color:#6b7280;"
        else:
            style = "background:#dbeafe;border-color:#2563eb;"
        position = i if i < view.kept else "✂"
        chips.append(f"<span class='sd-token' style='display:inline-block;margin:2px;padding:2px 6px;border:2px solid;"
                     f"border-radius:6px;font-family:monospace;color:#111;{style}'><sup style='color:#555'>{position}</sup>"
                     f"{html.escape(token)}</span>")
        if i == view.kept - 1 and view.truncated:
            chips.append("<span style='display:inline-block;border-left:4px solid #dc2626;height:1.6em;margin:0 6px;"
                         "vertical-align:middle' title='77'></span>")
    used = view.kept
    if view.truncated:
        summary = (f"<b style='color:#b91c1c'>77칸이 모두 찼습니다. 빨간 토큰(✂)은 잘려서 모델이 보지 못합니다:</b> "
                   f"“{html.escape(view.cut_text)}”" if ko else
                   f"<b style='color:#b91c1c'>All 77 positions are used. The red tokens (✂) are cut off; the model never "
                   f"sees them:</b> “{html.escape(view.cut_text)}”")
    else:
        summary = (f"77칸 중 <b>{used}</b>칸 사용 (나머지 {77 - used}칸은 &lt;end&gt;로 채움)." if ko else
                   f"<b>{used}</b> of 77 positions used (the other {77 - used} are padded with &lt;end&gt;).")
    if any("\ufffd" in tok for tok in view.tokens):
        summary += (" 한글은 CLIP 어휘에 거의 없어 바이트 조각(�)으로 쪼개집니다: 영어 프롬프트가 더 잘 통합니다." if ko else
                    " Korean is barely in CLIP's vocabulary, so it splits into byte pieces (�): English prompts work better.")
    return f"<div id='sd-token-view' style='line-height:2.1'>{''.join(chips)}</div><p id='sd-token-summary'>{summary}</p>"


# ---------------------------------------------------------------- the pipeline diagram


def pipeline_html(bundle: zoo.SDBundle, settings: Settings, decoder: str, lang: str) -> str:
    ko = lang == "ko"
    batch = 2 if settings.uses_guidance else 1
    h = w = settings.size // bundle.vae_scale_factor
    c = bundle.latent_channels
    dim = bundle.embed_dim
    boxes = [
        ("프롬프트" if ko else "Prompt", "text"),
        ("토크나이저" if ko else "Tokenizer", f"[{batch}, 77] ids"),
        ("텍스트 인코더 (CLIP)" if ko else "Text encoder (CLIP)", f"[{batch}, 77, {dim}]"),
        (f"UNet + {'스케줄러' if ko else 'scheduler'} × {settings.steps}",
         f"[1, {c}, {h}, {w}] latent"),
        ("TAESD" if decoder == "taesd" else ("VAE 디코더" if ko else "VAE decoder"),
         f"[{settings.size}, {settings.size}, 3] image"),
    ]
    parts = []
    for i, (name, shape) in enumerate(boxes):
        parts.append(f"<div style='border:3px solid #2563eb;border-radius:10px;padding:8px 12px;background:#eff6ff;"
                     f"color:#111;font-weight:700;text-align:center;min-width:120px'>{html.escape(name)}</div>")
        if i < len(boxes) - 1:
            parts.append(f"<div style='text-align:center;color:#111;font-family:monospace;font-size:0.9em;padding:0 4px'>"
                         f"{html.escape(shape)}<br><span style='font-size:1.6em'>→</span></div>")
        else:
            parts.append(f"<div style='font-family:monospace;color:#111;padding-left:6px'>→ {html.escape(shape)}</div>")
    noise = (f"시드 {settings.seed} → 순수 노이즈 [1, {c}, {h}, {w}] 가 UNet 루프로 들어갑니다" if ko else
             f"seed {settings.seed} → pure noise [1, {c}, {h}, {w}] enters the UNet loop")
    cfg = ""
    if settings.uses_guidance:
        cfg = (f" · 가이던스 {settings.guidance:g}: 매 단계 UNet이 (네거티브, 프롬프트) 2개를 함께 계산해 차이를 키웁니다" if ko else
               f" · guidance {settings.guidance:g}: each step the UNet runs (negative, prompt) as a batch of 2 and the "
               f"difference is amplified")
    return (f"<div id='sd-pipeline' style='display:flex;flex-wrap:wrap;align-items:center;gap:2px'>{''.join(parts)}</div>"
            f"<p style='color:#111'>{html.escape(noise)}{html.escape(cfg)}</p>")


# ---------------------------------------------------------------- latents -> pictures


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
    vae = bundle.vae
    param = next(vae.parameters())
    with torch.inference_mode():
        return to_uint8(vae.decode((latents / vae.config.scaling_factor).to(param.device, param.dtype)).sample)


def decode_taesd(taesd, latents: torch.Tensor) -> np.ndarray:
    """TAESD takes the scaled latents the UNet works in (its scaling factor is 1)."""
    param = next(taesd.parameters())
    with torch.inference_mode():
        return to_uint8(taesd.decode(latents.to(param.device, param.dtype)).sample)


def resize_square(image: np.ndarray, side: int, nearest: bool = False) -> np.ndarray:
    return cv2.resize(image, (side, side), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def latent_channels_image(latent: np.ndarray, side: int = 192, lang: str = "ko") -> np.ndarray:
    """One latent (4, h, w) -> a 2x2 grid of colour-mapped channels, each scaled to its own range."""
    tiles = []
    for ch in range(latent.shape[0]):
        channel = latent[ch].astype(np.float32)
        tile = resize_square(draw.colorize(channel, cv2.COLORMAP_VIRIDIS), side, nearest=True)
        label = f"ch{ch} {channel.min():+.1f}..{channel.max():+.1f}"
        draw.put_label(tile, label, (6, side - 8), scale=0.5)  # bottom: the image label covers the top-left
        tiles.append(tile)
    while len(tiles) % 2:
        tiles.append(np.zeros_like(tiles[0]))
    gap = np.full((side, 4, 3), 255, np.uint8)
    rows = [np.concatenate([tiles[i], gap, tiles[i + 1]], axis=1) for i in range(0, len(tiles), 2)]
    hgap = np.full((4, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([rows[0], hgap, *rows[1:]], axis=0) if len(rows) > 1 else rows[0]


def side_by_side(images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    tiles = []
    for image, label in zip(images, labels):
        tile = np.ascontiguousarray(image.copy())
        draw.put_label(tile, label, (8, 28), scale=0.8)
        tiles.append(tile)
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    out = tiles[0]
    for tile in tiles[1:]:
        out = np.concatenate([out, gap, tile], axis=1)
    return out


# ---------------------------------------------------------------- the generation loop


@dataclasses.dataclass
class StepEvent:
    step: int  # 1..total (0 for the event before the first step)
    total: int
    timestep: float
    previews: list[np.ndarray] | None  # one picture per prompt (None when previews are off)
    latents: np.ndarray  # (B, 4, h, w) float16, after this step
    final: list[np.ndarray] | None = None  # the decoded images, on the last event only
    flagged: list[bool] | None = None  # safety checker verdicts (None when no checker ran)
    seconds: dict | None = None  # time per stage, on the last event


@dataclasses.dataclass
class Plan:
    device: torch.device
    dtype: torch.dtype
    decoder: str
    preview: str
    safety: bool

    def describe(self, bundle: zoo.SDBundle, lang: str) -> str:
        ko = lang == "ko"
        dtype = str(self.dtype).replace("torch.", "")
        lines = [
            (f"장치 **{self.device.type}**, UNet·텍스트 인코더 **{dtype}**" if ko else
             f"Device **{self.device.type}**, UNet and text encoder in **{dtype}**"),
            (f"최종 디코더 **{self.decoder.upper()}**, 미리보기 **{i18n.KO['diffusion.preview_' + self.preview]}**" if ko else
             f"Final decoder **{self.decoder.upper()}**, previews **{i18n.EN['diffusion.preview_' + self.preview]}**"),
        ]
        if self.device.type == "cpu":
            speed = cpu_bf16_speedup()
            lines.append((f"이 CPU에서 bf16 행렬곱은 fp32보다 {speed:.1f}배 빠릅니다 (한 번 측정; 1.5배 이상이면 bf16 사용"
                           f"{', 작은 테스트 모델은 늘 fp32' if not bundle.real_weights else ''})" if ko else
                          f"On this CPU a bf16 matrix multiply is {speed:.1f}x faster than fp32 (measured once; bf16 is used "
                          f"from 1.5x{', the tiny test models always run in fp32' if not bundle.real_weights else ''})"))
        if not bundle.real_weights:
            lines.append(("**테스트용 작은 무작위 모델**입니다: 그림은 의미 없는 색 얼룩이고, 안전 검사기는 쓰지 않습니다" if ko else
                          "This is the **test zoo's tiny random model**: pictures are meaningless colour blobs, and no "
                          "safety checker runs"))
        elif self.safety:
            lines.append(("안전 검사기 켜짐 (Stable Diffusion 표준)" if ko else "Safety checker on (the standard SD one)"))
        else:
            lines.append(("안전 검사기 꺼짐 (서버 설정 DLCLASS_SAFETY_CHECKER=0)" if ko else
                          "Safety checker off (server setting DLCLASS_SAFETY_CHECKER=0)"))
        return "\n".join(f"- {line}" for line in lines)


def make_plan(bundle_real: bool, device: torch.device, decoder: str | None, preview: str | None,
              dtype: torch.dtype | None = None) -> Plan:
    decoder = decoder if decoder in DECODERS else ("taesd" if device.type == "cpu" else "vae")
    preview = preview if preview in PREVIEW_MODES else ("latent_rgb" if device.type == "cpu" else "taesd_half")
    return Plan(device, dtype or compute_dtype(device), decoder, preview, bundle_real and zoo.safety_checker_enabled())


def _encode(bundle: zoo.SDBundle, texts: list[str], dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
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


def _is_oom(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in text or "can't allocate" in text


# Inference mode is entered around each step of the generator, not held across its yields: Gradio resumes
# generators in any worker thread, and a mode held across a yield would leak into other requests.
@torch.inference_mode()
def generate(model_name: str, prompts: list[str], negative: str, settings: Settings, plan: Plan,
             tiny: bool | None = None, bundle: zoo.SDBundle | None = None, taesd=None) -> Iterator[StepEvent]:
    """Run text-to-image for one or more prompts from the same starting noise, yielding after every step.

    The models come from the loader; the bench passes its own `bundle`/`taesd` (random real-size weights)."""
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
    try:
        # 1-2. tokenizer + text encoder: each prompt -> 77 token ids -> 77 vectors
        t0 = time.perf_counter()
        cond, pooled = _encode(bundle, prompts, dtype)
        if settings.uses_guidance:
            uncond, pooled_u = _encode(bundle, [negative or ""] * batch, dtype)
            if bundle.is_xl and not negative:  # SDXL's convention: an empty negative prompt is all zeros
                uncond, pooled_u = torch.zeros_like(uncond), torch.zeros_like(pooled_u)
            embeds = torch.cat([uncond, cond])
            pooled = torch.cat([pooled_u, pooled]) if pooled is not None else None
        else:
            embeds = cond
        seconds["text"] = time.perf_counter() - t0

        # 3. the starting latent: pure Gaussian noise from the seed (the same for every prompt)
        side = settings.size // bundle.vae_scale_factor
        generator = torch.Generator("cpu").manual_seed(settings.seed)
        noise = torch.randn((1, bundle.latent_channels, side, side), generator=generator, dtype=torch.float32)
        latents = noise.repeat(batch, 1, 1, 1).to(device)
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
        yield StepEvent(0, len(timesteps), float(timesteps[0]), None, latents.half().cpu().numpy())

        # 4. the loop: the UNet predicts the noise, the scheduler removes a bit of it
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
            previews = None
            if plan.preview == "latent_rgb":
                previews = [resize_square(im, PREVIEW_SIDE) for im in latent_to_rgb(predicted, kind)]
            elif plan.preview == "taesd_half":
                half = torch.nn.functional.avg_pool2d(predicted, 2)
                previews = [resize_square(im, PREVIEW_SIDE) for im in decode_taesd(taesd, half)]
            preview_seconds += time.perf_counter() - p0
            yield StepEvent(i + 1, len(timesteps), float(timestep), previews, latents.half().cpu().numpy())
        seconds["unet"] = time.perf_counter() - t0 - preview_seconds
        seconds["previews"] = preview_seconds

        if bundle.is_xl and bundle.refiner is not None:  # SDXL: hand the latent to the refiner
            t0 = time.perf_counter()
            latents = bundle.refiner(prompt=prompts, negative_prompt=[negative or ""] * batch if negative else None,
                                     image=latents.to(bundle.refiner.unet.dtype), num_inference_steps=settings.steps,
                                     denoising_start=0.8, guidance_scale=max(settings.guidance, 1.0),
                                     output_type="latent").images.float()
            seconds["refiner"] = time.perf_counter() - t0

        # 5. decode the final latent into pixels
        t0 = time.perf_counter()
        images = decode_taesd(taesd, latents) if plan.decoder == "taesd" else decode_full(bundle, latents)
        seconds["decode"] = time.perf_counter() - t0
        flagged = None
        if checker is not None:
            t0 = time.perf_counter()
            flagged = checker.flags(list(images))
            images = np.stack([np.zeros_like(im) if bad else im for im, bad in zip(images, flagged)])
            seconds["safety"] = time.perf_counter() - t0
    except Exception as exc:
        if _is_oom(exc):
            smaller = max(256, settings.size - 128)
            raise UserError(f"메모리가 부족합니다. 더 작은 크기({smaller}x{smaller})나 더 가벼운 모델로 다시 해 보세요.",
                            f"Out of memory. Try a smaller size ({smaller}x{smaller}) or a lighter model.") from None
        raise
    seconds["total"] = time.perf_counter() - started
    yield StepEvent(len(timesteps), len(timesteps), float(timesteps[-1]), None, latents.half().cpu().numpy(),
                    final=list(images), flagged=flagged, seconds=seconds)


# ---------------------------------------------------------------- Gradio glue


def _progress_html(step: int, total: int, text: str) -> str:
    pct = 100 * step / max(total, 1)
    return (f"<div id='sd-progress' style='color:#111'><b>{html.escape(text)}</b>"
            f"<div style='background:#e5e7eb;border-radius:6px;height:18px;margin-top:4px'>"
            f"<div style='background:#2563eb;width:{pct:.0f}%;height:18px;border-radius:6px'></div></div></div>")


def _prepare(prompts: list[str], model_name: str, steps, guidance, size, seed, lang: str):
    device = models.default_device()
    settings = clamp_settings(model_name, steps, guidance, size, seed, device)
    notes = list(settings.notes)
    cleaned = []
    for p in prompts:
        p = (p or "").strip()
        if not p:
            notes.append(("프롬프트가 비어 있어 예시 프롬프트로 그립니다.", "The prompt was empty, so an example prompt is used."))
            p = DEFAULT_PROMPT
        cleaned.append(p)
    return device, settings, notes, cleaned


def _notes_md(notes: list[tuple[str, str]], lang: str) -> str:
    return "\n".join(f"- **(!)** {ko if lang == 'ko' else en}" for ko, en in notes)


def _timings_md(seconds: dict, lang: str) -> str:
    names = {"load": ("불러오기", "load"), "text": ("텍스트 인코더", "text encoder"), "unet": ("UNet 루프", "UNet loop"),
             "previews": ("미리보기", "previews"), "refiner": ("리파이너", "refiner"), "decode": ("디코더", "decoder"),
             "safety": ("안전 검사", "safety check"), "total": ("전체", "total")}
    parts = [f"{names[k][0] if lang == 'ko' else names[k][1]} {v:.2f} s" for k, v in seconds.items() if k in names]
    return (("- 시간: " if lang == "ko" else "- Time: ") + " · ".join(parts)) if parts else ""


def run_generate(prompt, negative, model_name, steps, guidance, size, seed, preview, decoder,
                 request: gr.Request = None, progress=gr.Progress()):
    """The main event (api_name sd_generate): streams the previews, then the final picture."""
    lang = i18n.lang_of(request)
    device, settings, notes, (prompt,) = _prepare([prompt], model_name, steps, guidance, size, seed, lang)
    if not settings.uses_guidance and (negative or "").strip():
        notes.append(("가이던스를 쓰지 않으면 네거티브 프롬프트는 쓰이지 않습니다.",
                      "Without guidance the negative prompt is not used."))
    bundle = models.get(settings.model, device=device, dtype=compute_dtype(device))
    plan = make_plan(bundle.real_weights, device, decoder, preview)
    view = token_view(bundle.tokenizer, prompt)
    if view.truncated:
        notes.append(("프롬프트가 77토큰을 넘어 뒷부분이 잘렸습니다 (아래 토큰 보기의 빨간 부분).",
                      "The prompt is longer than 77 tokens; the end was cut (red in the token view below)."))
    tokens = tokens_html(view, lang)
    diagram = pipeline_html(bundle, settings, plan.decoder, lang)
    info = "\n".join(x for x in (_notes_md(notes, lang), plan.describe(bundle, lang)) if x)
    gallery: list[tuple[np.ndarray, str]] = []
    latents: list[np.ndarray] = []
    word = "단계" if lang == "ko" else "step"
    for event in generate(settings.model, [prompt], negative, settings, plan):
        latents.append(event.latents[0])
        if event.final is None:
            progress((event.step, event.total), desc=f"{word} {event.step}/{event.total}")
            if event.previews:
                gallery.append((event.previews[0], f"{word} {event.step}/{event.total} · t={event.timestep:.0f}"))
            status = _progress_html(event.step, event.total, f"{word} {event.step}/{event.total}")
            yield (gr.skip(), list(gallery), status, info, tokens, diagram, gr.skip(), gr.skip(), gr.skip())
            continue
        latents.pop()  # the last event repeats the final latent
        final = event.final[0]
        if event.flagged and event.flagged[0]:
            notes.append(("안전 검사기가 이 그림을 가렸습니다. 다른 프롬프트로 해 보세요.",
                          "The safety checker blocked this picture. Please try another prompt."))
            gallery = [(np.zeros_like(im), cap) for im, cap in gallery]
        info = "\n".join(x for x in (_notes_md(notes, lang), plan.describe(bundle, lang),
                                     _timings_md(event.seconds, lang)) if x)
        done = "완성" if lang == "ko" else "done"
        status = _progress_html(event.total, event.total, f"{done}: {word} {event.total}/{event.total}")
        last = len(latents) - 1
        yield (final, gallery, status, info, tokens, diagram, latents,
               gr.update(maximum=last, value=last), latent_channels_image(latents[last], lang=lang))


def show_latent(latents, step):
    if not latents:
        return None
    index = int(min(max(round(_number(step, 0)), 0), len(latents) - 1))
    return latent_channels_image(latents[index])


def run_compare(prompt_a, prompt_b, model_name, steps, guidance, size, seed, request: gr.Request = None,
                progress=gr.Progress()):
    """Both prompts in one batch from the same noise: one UNet call per step draws both."""
    lang = i18n.lang_of(request)
    device, settings, notes, prompts = _prepare([prompt_a, prompt_b], model_name, steps, guidance, size, seed, lang)
    bundle = models.get(settings.model, device=device, dtype=compute_dtype(device))
    plan = make_plan(bundle.real_weights, device, None, None)
    if plan.preview == "none":
        plan.preview = "latent_rgb"
    gallery: list[tuple[np.ndarray, str]] = []
    word = "단계" if lang == "ko" else "step"
    for event in generate(settings.model, prompts, "", settings, plan):
        if event.final is None:
            progress((event.step, event.total), desc=f"{word} {event.step}/{event.total}")
            if event.previews:
                gallery.append((side_by_side(event.previews, ["A", "B"]), f"{word} {event.step}/{event.total}"))
                yield list(gallery), _notes_md(notes, lang)
            continue
        finals = [resize_square(im, 384) for im in event.final]
        if event.flagged:
            finals = [np.zeros_like(im) if bad else im for im, bad in zip(finals, event.flagged)]
            if any(event.flagged):
                gallery = [(np.zeros_like(im), cap) for im, cap in gallery]
        gallery.append((side_by_side(finals, ["A", "B"]), "완성" if lang == "ko" else "final"))
        yield gallery, "\n".join(x for x in (_notes_md(notes, lang), _timings_md(event.seconds, lang)) if x)


def random_seed() -> int:
    return random.randint(0, 2**31 - 1)


def build() -> None:
    device = models.default_device()
    default_model = zoo.SD_TURBO
    info = zoo.INFO[default_model]
    with gr.Row():
        with gr.Column(scale=2):
            prompt = gr.Textbox(value=DEFAULT_PROMPT, lines=2, label=t("diffusion.prompt"), elem_id="sd-prompt")
            negative = gr.Textbox(value="", lines=1, label=t("diffusion.negative"), elem_id="sd-negative")
            with gr.Row():
                model = gr.Dropdown([(zoo.INFO[m].label, m) for m in model_choices()], value=default_model,
                                    label=t("diffusion.model"), elem_id="sd-model")
                size = gr.Radio(list(size_choices(default_model, device)), value=info.size_default,
                                label=t("diffusion.size"), elem_id="sd-size")
            with gr.Row():
                steps = gr.Slider(1, info.steps_max, value=info.steps_default, step=1, label=t("diffusion.steps"),
                                  elem_id="sd-steps")
                guidance = gr.Slider(0, 15, value=info.guidance_default, step=0.5, label=t("diffusion.guidance"),
                                     info=t("diffusion.guidance_info"), interactive=info.guidance_max > 0,
                                     elem_id="sd-guidance")
            with gr.Row():
                seed = gr.Number(value=42, precision=0, minimum=0, maximum=SEED_MAX, label=t("diffusion.seed"),
                                 elem_id="sd-seed")
                randomize = gr.Button(t("diffusion.randomize"), elem_id="sd-randomize", scale=0)
            with gr.Row():
                plan = make_plan(False, device, None, None, dtype=torch.float32)  # only the defaults
                preview = gr.Radio([(t(f"diffusion.preview_{m}"), m) for m in PREVIEW_MODES], value=plan.preview,
                                   label=t("diffusion.preview"), elem_id="sd-preview")
                decoder = gr.Radio([(t(f"diffusion.decoder_{m}"), m) for m in DECODERS], value=plan.decoder,
                                   label=t("diffusion.decoder"), elem_id="sd-decoder")
            generate_btn = gr.Button(t("diffusion.generate"), variant="primary", elem_id="sd-generate")
            status = gr.HTML(label=t("diffusion.status"), elem_id="sd-status")
            info_md = gr.Markdown(elem_id="sd-info")
        with gr.Column(scale=2):
            final = gr.Image(label=t("diffusion.final"), interactive=False, elem_id="sd-final", height=420)
            gallery = gr.Gallery(label=t("diffusion.gallery"), columns=4, height=260, elem_id="sd-gallery",
                                 allow_preview=True, object_fit="contain")
    gr.Markdown(t("diffusion.pipeline"))
    diagram = gr.HTML(elem_id="sd-diagram")
    gr.Markdown(t("diffusion.tokens"))
    tokens = gr.HTML(elem_id="sd-tokens")
    gr.Markdown(t("diffusion.latent_title"))
    latent_state = gr.State([])
    with gr.Row():
        latent_step = gr.Slider(0, 1, value=0, step=1, label=t("diffusion.latent_step"), elem_id="sd-latent-step")
        latent_image = gr.Image(label=t("diffusion.latent_image"), interactive=False, elem_id="sd-latent", height=400)
    gr.Markdown(t("diffusion.compare_title"))
    with gr.Row():
        prompt_a = gr.Textbox(value="a photo of a cat sitting on a chair", label=t("diffusion.prompt_a"),
                              elem_id="sd-prompt-a")
        prompt_b = gr.Textbox(value="a photo of a dog sitting on a chair", label=t("diffusion.prompt_b"),
                              elem_id="sd-prompt-b")
        compare_btn = gr.Button(t("diffusion.compare"), elem_id="sd-compare", scale=0)
    compare_gallery = gr.Gallery(label=t("diffusion.compare_gallery"), columns=3, height=360,
                                 elem_id="sd-compare-gallery", object_fit="contain")
    compare_info = gr.Markdown(elem_id="sd-compare-info")

    randomize.click(random_seed, None, seed, api_name="sd_random_seed", **ui.QUICK)
    generate_btn.click(run_generate, [prompt, negative, model, steps, guidance, size, seed, preview, decoder],
                       [final, gallery, status, info_md, tokens, diagram, latent_state, latent_step, latent_image],
                       api_name="sd_generate", **ui.HEAVY_DIFFUSION)
    latent_step.change(show_latent, [latent_state, latent_step], latent_image, api_name="sd_latent", **ui.QUICK)
    compare_btn.click(run_compare, [prompt_a, prompt_b, model, steps, guidance, size, seed],
                      [compare_gallery, compare_info], api_name="sd_compare", **ui.HEAVY_DIFFUSION)
    model.change(_model_defaults, model, [steps, guidance, size], api_name=False, **ui.QUICK)


def _model_defaults(model_name: str):
    info = zoo.INFO.get(model_name, zoo.INFO[zoo.SD_TURBO])
    device = models.default_device()
    return (gr.update(maximum=info.steps_max, value=info.steps_default),
            gr.update(maximum=max(info.guidance_max, 1.0), value=info.guidance_default, interactive=info.guidance_max > 0),
            gr.update(choices=list(size_choices(model_name, device)), value=info.size_default))
