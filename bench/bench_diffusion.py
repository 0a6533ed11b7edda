"""Stable Diffusion lesson: one 512x512 sd-turbo image on the CPU, the lesson's path against the plain diffusers
pipeline; the warm-up that draws the example prompts; a drawn run served again (store) against drawing it.

Random-init models of the REAL sd-turbo architecture (SD 2.1 UNet, OpenCLIP ViT-H text encoder with 23
layers, SD AutoencoderKL, TAESD), built from the configs in core/zoo/diffusion.py: no download, and the
compute cost is the same as with the trained weights.

- baseline: diffusers StableDiffusionPipeline, FP32, full VAE decode, 1 step, guidance 0 (what a
  tutorial would run);
- the lesson's path: tabs.diffusion.compute.generate with UNet + text encoder in BF16 (when the CPU has
  fast bf16), TAESD final decode, linear previews.
Also: one UNet step FP32 vs BF16, full VAE vs TAESD decode, how far the BF16 image is from the FP32 one for
the same seed (mean absolute difference in 0-255 levels, PSNR), the warm-up's drawing of every example
prompt at the default settings, and what a run drawn before costs when asked for again.
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
    from tabs.diffusion import compute, tab

    cpu = torch.device("cpu")
    speedup = compute.cpu_bf16_speedup()
    fast_dtype = torch.bfloat16 if speedup >= 1.5 else torch.float32
    fast_name = str(fast_dtype).removeprefix("torch.")
    fp32 = zoo.build_random_sd(zoo.SD_TURBO, tiny=False)
    taesd32 = zoo.build_random_taesd(tiny=False)
    fast = copy.copy(fp32)
    fast.unet = copy.deepcopy(fp32.unet).to(fast_dtype)
    fast.text_encoder = copy.deepcopy(fp32.text_encoder).to(fast_dtype)
    taesd_fast = copy.deepcopy(taesd32).to(fast_dtype)
    info = zoo.INFO[zoo.SD_TURBO]
    settings = compute.clamp_settings(zoo.SD_TURBO, info.steps_default, 0, info.size_default, 42, cpu)
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

    def lesson_path(bundle, decoder_model, dtype, prompt=PROMPT) -> compute.Finished:
        plan = compute.make_plan(cpu, "taesd", "latent_rgb", False, dtype=dtype)
        events = list(compute.generate(zoo.SD_TURBO, [prompt], "", settings, plan, bundle=bundle,
                                       taesd=decoder_model))
        return events[-1].finished

    fast_ms = _timed(lambda: lesson_path(fast, taesd_fast, fast_dtype))
    _log(f"lesson path {fast_ms:.0f} ms")
    out.append(row(TAB, f"sd-turbo 512x512 1 step end to end, lesson path ({fast_name} UNet+CLIP, TAESD, "
                        f"linear previews)", fast_ms, target="<= 4000 ms", baseline=baseline_ms,
                   baseline_what="diffusers pipeline FP32 + full VAE"))

    # the same seed in FP32 and in the fast dtype: how different is the picture? (the FP32 run is timed too)
    started = time.perf_counter()
    image32 = lesson_path(fp32, taesd32, torch.float32).images[0]
    fp32_ms = (time.perf_counter() - started) * 1000
    out.append(row(TAB, "sd-turbo 512x512 1 step, lesson path all FP32 (TAESD decode), one run", fp32_ms))
    image_fast = lesson_path(fast, taesd_fast, fast_dtype).images[0]
    diff = np.abs(image32.astype(np.float64) - image_fast.astype(np.float64))
    mse = float(np.mean(diff**2))
    psnr = 10 * math.log10(255.0**2 / mse) if mse > 0 else float("inf")
    out.append(row(TAB, f"{fast_name} vs FP32 image, same seed: mean |difference| (0-255 levels; "
                        f"PSNR {psnr:.1f} dB)", float(diff.mean()), unit="levels", target="visibly the same"))

    # Warm-up: every example prompt drawn once at the default settings (the second language and the
    # Generate button's answer come from the store). Loading the real weights comes on top (not timed here).
    started = time.perf_counter()
    drawn = {prompt: lesson_path(fast, taesd_fast, fast_dtype, prompt) for prompt in compute.PRESETS}
    warm_s = time.perf_counter() - started
    out.append(row(TAB, f"warm-up: the {len(compute.PRESETS)} example prompts drawn at the defaults "
                        f"(sd-turbo {info.size_default}x{info.size_default}, {info.steps_default} step), in the "
                        f"background after start", warm_s, unit="s", target="< 60 s on a 2-vCPU Space"))

    # A run drawn before, asked for again (another language, the Generate button, the page's opening):
    # the store answers; what is left is making the panels. Baseline: drawing it.
    request = compute.read_request([compute.DEFAULT_PROMPT], "", zoo.SD_TURBO, info.steps_default, 0,
                                   info.size_default, compute.DEFAULT_SEED, "latent_rgb", "taesd", True, device=cpu)
    compute.FINISHED.put(compute.run_key(request), drawn[compute.DEFAULT_PROMPT])
    inputs = (compute.DEFAULT_PROMPT, "", zoo.SD_TURBO, info.steps_default, 0, info.size_default,
              compute.DEFAULT_SEED, "latent_rgb", "taesd")

    def from_store():
        events = list(compute.text_to_image(request))
        assert len(events) == 1 and events[0].finished.from_store
        return tab.finished_outputs(request, events[0].finished, "", "", "ko")

    store_ms = median_ms(from_store, runs=7, warmup=1)
    out.append(row(TAB, "a drawn run asked for again: from the store, panels made (Korean)", store_ms,
                   target="<= 100 ms", baseline=fast_ms, baseline_what="drawing it"))
    opening_ms = median_ms(lambda: tab.first_picture(*inputs, lang="ko"), runs=7, warmup=1)
    out.append(row(TAB, "page opening: the first example's picture from the store (first_picture, no model)",
                   opening_ms, target="<= 100 ms", baseline=fast_ms, baseline_what="drawing it"))
    compute.FINISHED.clear()

    # the parts
    latents = torch.randn(1, 4, 64, 64)
    embeds = torch.randn(1, 77, 1024)
    for name, unet, dtype in (("FP32", fp32.unet, torch.float32), (fast_name, fast.unet, fast_dtype)):
        with torch.inference_mode():
            ms = _timed(lambda: unet(latents.to(dtype), 999, encoder_hidden_states=embeds.to(dtype)), runs=1, warmup=0)
        out.append(row(TAB, f"one sd-turbo UNet step 512x512 ({name})", ms))
    with torch.inference_mode():
        vae_ms = _timed(lambda: compute.decode_full(fp32, latents), warmup=0)
        taesd_ms = median_ms(lambda: compute.decode_taesd(taesd_fast, latents), runs=3, warmup=1)
        linear_ms = median_ms(lambda: compute.latent_to_rgb(latents), runs=5, warmup=1)
    out.append(row(TAB, f"TAESD decode 512x512 ({fast_name})", taesd_ms, baseline=vae_ms,
                   baseline_what="full VAE decode FP32"))
    out.append(row(TAB, "linear latent->RGB preview", linear_ms))
    out.append(row(TAB, "CPU bf16/fp32 matmul speed (measured at start)", speedup, unit="x"))
    for r in out:
        _log(f"{r['what']}: {r['value']:.1f} {r['unit']}")
    return out
