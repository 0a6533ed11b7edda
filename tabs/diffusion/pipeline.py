"""The stages of Stable Diffusion as diffusers' StableDiffusionPipeline runs them, one function each, on the
model's parts (`core.zoo.diffusion.SDBundle`) and tensors: compute.py's `generate` calls them in order and
shows what comes out of each.

1. tokenizer: the prompt -> CLIP token ids in a 77-position window (`token_view` shows what is cut);
2. text encoder (CLIP): 77 ids -> 77 vectors (`encode_prompts`); with guidance, the negative prompt too;
3. the random latent: pure Gaussian noise from the seed, 4 x size/8 x size/8 (`initial_noise`, `start_loop`);
4. one denoising step: the UNet predicts the noise, classifier-free guidance pushes the prediction away from
   the negative prompt, the scheduler removes part of the noise (`denoise_step`); the clean picture the
   scheduler predicts is previewed cheaply (`preview`: `latent_to_rgb`, or TAESD at half resolution);
   SDXL's refiner takes the last 20 % of the noise levels (`refine`);
5. decode: TAESD (tiny, fast) or the full VAE turns the last latent into pixels (`decode`);
6. a picture the safety checker flags is blanked (`blank`).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import torch

from core.zoo import diffusion as zoo

PREVIEW_SIDE = 256  # previews are shown at this size (a timeline, not the final picture)
REFINER_START = 0.8  # SDXL: the base does the first 80 % of the noise levels, the refiner the rest


def uses_guidance(guidance: float) -> bool:
    """Classifier-free guidance runs above 1 (diffusers' convention: 1 means the prompt alone)."""
    return guidance > 1.0


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
# The cut part is shown by its first and last CUT_SHOWN tokens, "…" between: the view's size is bounded
# whatever the prompt's length (a 100,000-character prompt once made a 26 MB token view).
CUT_SHOWN = 16
ELLIPSIS = "…"


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
    kept, cut, cut_ids = readable[:limit - 1] + [readable[-1]], readable[limit - 1:-1], ids[limit - 1:-1]
    if len(cut) <= 2 * CUT_SHOWN:
        return TokenView(kept + cut, limit, tokenizer.decode(cut_ids).strip())
    head, tail = tokenizer.decode(cut_ids[:CUT_SHOWN]).strip(), tokenizer.decode(cut_ids[-CUT_SHOWN:]).strip()
    return TokenView(kept + cut[:CUT_SHOWN] + [ELLIPSIS] + cut[-CUT_SHOWN:], limit, f"{head} {ELLIPSIS} {tail}")


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


def encode_prompts(bundle: zoo.SDBundle, prompts: list[str], negative: str, guidance: float,
                   dtype) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every prompt encoded; with guidance the negative prompt (or "") is encoded too, and the UNet runs both as
    one batch: (negative, prompt)."""
    cond, pooled = encode_prompt(bundle, prompts, dtype)
    if not uses_guidance(guidance):
        return cond, pooled
    uncond, pooled_u = encode_prompt(bundle, [negative or ""] * len(prompts), dtype)
    if bundle.is_xl and not negative:  # SDXL's convention: an empty negative prompt is all zeros
        uncond, pooled_u = torch.zeros_like(uncond), torch.zeros_like(pooled_u)
    return torch.cat([uncond, cond]), (torch.cat([pooled_u, pooled]) if pooled is not None else None)


# ---------------------------------------------------------------- 3. the random latent


def initial_noise(bundle: zoo.SDBundle, size: int, seed: int) -> torch.Tensor:
    """Pure Gaussian noise (1, 4, size/8, size/8) from the seed, drawn on the CPU so every device agrees."""
    side = size // bundle.vae_scale_factor
    generator = torch.Generator("cpu").manual_seed(seed)
    return torch.randn((1, bundle.latent_channels, side, side), generator=generator, dtype=torch.float32)


@dataclasses.dataclass
class Loop:
    """What the denoising loop runs with: its own scheduler (it keeps state), the noise levels it visits, the
    latents as they are now and SDXL's extra conditioning."""

    scheduler: object
    timesteps: torch.Tensor
    latents: torch.Tensor
    added: dict | None


def start_loop(bundle: zoo.SDBundle, steps: int, size: int, seed: int, batch: int, pooled, device,
               dtype) -> Loop:
    """The same starting noise for every prompt, scaled for the scheduler, and the noise levels to go through."""
    latents = initial_noise(bundle, size, seed).repeat(batch, 1, 1, 1).to(device)
    scheduler = type(bundle.scheduler).from_config(bundle.scheduler.config)  # per run: it keeps state
    scheduler.set_timesteps(steps, device=device)
    timesteps = scheduler.timesteps
    added = None
    if bundle.is_xl:  # the base stops where the refiner starts; SDXL is told the picture's size too
        timesteps = timesteps[timesteps >= 1000 * (1 - REFINER_START)]
        time_ids = torch.tensor([[size, size, 0, 0, size, size]], device=device, dtype=dtype)
        added = {"text_embeds": pooled, "time_ids": time_ids.repeat(len(pooled), 1)}
    return Loop(scheduler, timesteps, latents * scheduler.init_noise_sigma, added)


# ---------------------------------------------------------------- 4. one denoising step


def denoise_step(bundle: zoo.SDBundle, loop: Loop, timestep, embeds: torch.Tensor, guidance: float, dtype):
    """The UNet predicts the noise, guidance sharpens it, the scheduler removes a part of it. Returns the
    scheduler's output: the next latents (`prev_sample`) and the clean picture it predicts."""
    latents = loop.latents
    guided = uses_guidance(guidance)
    model_input = loop.scheduler.scale_model_input(torch.cat([latents] * 2) if guided else latents, timestep)
    noise_pred = bundle.unet(model_input.to(dtype), timestep, encoder_hidden_states=embeds,
                             added_cond_kwargs=loop.added).sample.float()
    if guided:  # classifier-free guidance: push away from the negative prompt
        noise_uncond, noise_text = noise_pred.chunk(2)
        noise_pred = noise_uncond + guidance * (noise_text - noise_uncond)
    return loop.scheduler.step(noise_pred, timestep, latents)


def refine(bundle: zoo.SDBundle, latents: torch.Tensor, prompts: list[str], negative: str, steps: int,
           guidance: float) -> torch.Tensor:
    """SDXL: the base's latent goes on to the refiner for the last noise levels."""
    negatives = [negative] * len(prompts) if negative else None
    return bundle.refiner(prompt=list(prompts), negative_prompt=negatives,
                          image=latents.to(bundle.refiner.unet.dtype), num_inference_steps=steps,
                          denoising_start=REFINER_START, guidance_scale=max(guidance, 1.0),
                          output_type="latent").images.float()


# ---------------------------------------------------------------- 4-5. latents -> pictures (previews and decode)


# Linear latent -> RGB maps (least-squares fits published with ComfyUI's previewer): one 4x3 matrix turns
# the 4 latent channels of each 8x8 patch into an RGB colour. Costs nothing; blurry by design.
LATENT_RGB = {
    "sd": (np.array([[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721],
                     [-0.2120, -0.2616, -0.7177]], dtype=np.float32), np.zeros(3, dtype=np.float32)),
    "sdxl": (np.array([[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362],
                       [-0.3165, -0.2492, -0.2188]], dtype=np.float32),
             np.array([0.1084, -0.0175, -0.0011], dtype=np.float32)),
}


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


def preview(predicted: torch.Tensor, mode: str, taesd, kind: str) -> list[np.ndarray] | None:
    """The clean picture the scheduler predicts after a step, cheaply, at PREVIEW_SIDE (None: previews off)."""
    if mode == "latent_rgb":
        return [resize_square(im, PREVIEW_SIDE) for im in latent_to_rgb(predicted, kind)]
    if mode == "taesd_half":
        half = torch.nn.functional.avg_pool2d(predicted, 2)
        return [resize_square(im, PREVIEW_SIDE) for im in decode_taesd(taesd, half)]
    return None


def decode(bundle: zoo.SDBundle, taesd, decoder: str, latents: torch.Tensor) -> np.ndarray:
    """The last latent into pixels: TAESD or the full VAE."""
    return decode_taesd(taesd, latents) if decoder == "taesd" else decode_full(bundle, latents)


# ---------------------------------------------------------------- 6. the safety checker's verdicts


def blank(pictures, flagged: list[bool]) -> list[np.ndarray]:
    """The pictures with every flagged one black."""
    return [np.zeros_like(p) if bad else p for p, bad in zip(pictures, flagged)]
