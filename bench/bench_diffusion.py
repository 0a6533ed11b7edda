"""Stable Diffusion tab: one 512x512 sd-turbo image on the CPU, the tab's path against the plain diffusers pipeline.

Random-init models of the REAL sd-turbo architecture (SD 2.1 UNet, OpenCLIP ViT-H text encoder with 23
layers, SD AutoencoderKL, TAESD), built from the configs in core/zoo/diffusion.py: no download, and the
compute cost is the same as with the trained weights.

- baseline: diffusers StableDiffusionPipeline, FP32, full VAE decode, 1 step, guidance 0 (what a
  tutorial would run);
- the tab's path: tabs.diffusion.generate with UNet + text encoder in BF16 (when the CPU has fast bf16),
  TAESD final decode, linear previews.
Also: one UNet step FP32 vs BF16, full VAE vs TAESD decode, and how far the BF16 image is from the
FP32 one for the same seed (mean absolute difference in 0-255 levels, PSNR).
"""
from __future__ import annotations

import copy
import math
import sys
import time

import numpy as np
import torch

from bench.common import median_ms, row

TAB = "diffusion"
PROMPT = "a photo of a cute cat wearing a red hat"


def _timed(fn, runs: int = 1, warmup: int = 1) -> float:
    return median_ms(fn, runs=runs, warmup=warmup)


def _log(text: str) -> None:
    print(f"# bench_diffusion: {text}", file=sys.stderr, flush=True)


def rows() -> list[dict]:
    from diffusers import StableDiffusionPipeline

    from core.zoo import diffusion as zoo
    from tabs import diffusion as tab

    cpu = torch.device("cpu")
    speedup = tab.cpu_bf16_speedup()
    fast_dtype = torch.bfloat16 if speedup >= 1.5 else torch.float32
    fp32 = zoo.build_random_sd(zoo.SD_TURBO, tiny=False)
    taesd32 = zoo.build_random_taesd(tiny=False)
    fast = copy.copy(fp32)
    fast.unet = copy.deepcopy(fp32.unet).to(fast_dtype)
    fast.text_encoder = copy.deepcopy(fp32.text_encoder).to(fast_dtype)
    taesd_fast = copy.deepcopy(taesd32).to(fast_dtype)
    settings = tab.clamp_settings(zoo.SD_TURBO, 1, 0, 512, 42, cpu)
    out: list[dict] = []

    # the plain FP32 diffusers pipeline (baseline, same run)
    pipe = StableDiffusionPipeline(vae=fp32.vae, text_encoder=fp32.text_encoder, tokenizer=fp32.tokenizer,
                                   unet=fp32.unet, scheduler=fp32.scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)

    def baseline():
        return pipe(PROMPT, num_inference_steps=1, guidance_scale=0.0, height=512, width=512,
                    generator=torch.Generator("cpu").manual_seed(42), output_type="np").images

    started = time.perf_counter()
    baseline_ms = _timed(baseline)
    _log(f"baseline FP32 pipeline {baseline_ms:.0f} ms (with its warm-up: {time.perf_counter() - started:.0f} s)")

    def tab_path(bundle, decoder_model, dtype):
        plan = tab.make_plan(False, cpu, "taesd", "latent_rgb", dtype=dtype)
        events = list(tab.generate(zoo.SD_TURBO, [PROMPT], "", settings, plan, bundle=bundle, taesd=decoder_model))
        return events[-1].final[0]

    fast_ms = _timed(lambda: tab_path(fast, taesd_fast, fast_dtype))
    _log(f"tab path {fast_ms:.0f} ms")
    out.append(row(TAB, f"sd-turbo 512x512 1 step end to end, tab path ({str(fast_dtype)[6:]} UNet+CLIP, TAESD, "
                        f"linear previews)", fast_ms, target="<= 4000 ms", baseline=baseline_ms,
                   baseline_what="diffusers pipeline FP32 + full VAE"))

    # the same seed in FP32 and in the fast dtype: how different is the picture? (the FP32 run is timed too)
    started = time.perf_counter()
    image32 = tab_path(fp32, taesd32, torch.float32)
    fp32_tab_ms = (time.perf_counter() - started) * 1000
    out.append(row(TAB, "sd-turbo 512x512 1 step, tab path all FP32 (TAESD decode), one run", fp32_tab_ms))
    image_fast = tab_path(fast, taesd_fast, fast_dtype)
    diff = np.abs(image32.astype(np.float64) - image_fast.astype(np.float64))
    mse = float(np.mean(diff**2))
    psnr = 10 * math.log10(255.0**2 / mse) if mse > 0 else float("inf")
    out.append(row(TAB, f"{str(fast_dtype)[6:]} vs FP32 image, same seed: mean |difference| (0-255 levels; "
                        f"PSNR {psnr:.1f} dB)", float(diff.mean()), unit="levels", target="visibly the same"))

    # the parts
    latents = torch.randn(1, 4, 64, 64)
    embeds = torch.randn(1, 77, 1024)
    for name, unet, dtype in (("FP32", fp32.unet, torch.float32), (str(fast_dtype)[6:], fast.unet, fast_dtype)):
        with torch.inference_mode():
            ms = _timed(lambda: unet(latents.to(dtype), 999, encoder_hidden_states=embeds.to(dtype)), runs=1, warmup=0)
        out.append(row(TAB, f"one sd-turbo UNet step 512x512 ({name})", ms))
    with torch.inference_mode():
        vae_ms = _timed(lambda: tab.decode_full(fp32, latents), warmup=0)
        taesd_ms = median_ms(lambda: tab.decode_taesd(taesd_fast, latents), runs=3, warmup=1)
        linear_ms = median_ms(lambda: tab.latent_to_rgb(latents), runs=5, warmup=1)
    out.append(row(TAB, f"TAESD decode 512x512 ({str(fast_dtype)[6:]})", taesd_ms, baseline=vae_ms,
                   baseline_what="full VAE decode FP32"))
    out.append(row(TAB, "linear latent->RGB preview", linear_ms))
    out.append(row(TAB, "CPU bf16/fp32 matmul speed (measured at start)", speedup, unit="x"))
    for r in out:
        _log(f"{r['what']}: {r['value']:.1f} {r['unit']}")
    return out
