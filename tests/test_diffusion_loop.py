"""The diffusion tab's explicit denoising loop against diffusers' own StableDiffusionPipeline.

The tab writes the loop out (tokenize, encode, noise, UNet + scheduler per step) so it can show every
step; it claims to be the algorithm StableDiffusionPipeline runs. Here both run on the same tiny models,
the same prompt, seed and scheduler, and the latents after every step must agree (the pipeline's latents
are captured with its `callback_on_step_end`). For sd-turbo's scheduler (Euler, "trailing" spacing, no
guidance) and SD 1.5's (Euler, "leading" spacing, classifier-free guidance with a negative prompt).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.zoo import diffusion as zoo
from tabs.diffusion import compute as tab

CPU = torch.device("cpu")
SIZE = 256  # pixels: a 32x32 latent


def _pipeline_latents(bundle: zoo.SDBundle, prompt: str, negative: str | None, steps: int, guidance: float,
                      seed: int) -> list[torch.Tensor]:
    """Latents after each step of diffusers' StableDiffusionPipeline on the same parts."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(vae=bundle.vae, text_encoder=bundle.text_encoder, tokenizer=bundle.tokenizer,
                                   unet=bundle.unet, scheduler=type(bundle.scheduler).from_config(bundle.scheduler.config),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    captured = []

    def grab(pipeline, step, timestep, tensors):
        captured.append(tensors["latents"].detach().clone())
        return tensors

    pipe(prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance, height=SIZE, width=SIZE,
         generator=torch.Generator("cpu").manual_seed(seed), output_type="latent", callback_on_step_end=grab)
    return captured


@pytest.mark.parametrize("model_name, steps, guidance, negative", [
    (zoo.SD_TURBO, 4, 0.0, ""),
    (zoo.SD15, 6, 7.5, "blurry, dark"),
])
def test_the_tabs_loop_gives_the_pipelines_latents_at_every_step(model_name, steps, guidance, negative):
    bundle = zoo.build_random_sd(model_name, tiny=True)
    assert bundle.scheduler.config.timestep_spacing == ("trailing" if model_name == zoo.SD_TURBO else "leading")
    seed, prompt = 1234, "a photo of a cat wearing a red hat"
    settings = tab.Settings(model_name, steps, guidance, SIZE, seed, notes=[])
    assert settings.uses_guidance == (guidance > 1)
    plan = tab.Plan(CPU, torch.float32, decoder="vae", preview="none", safety=False)
    events = list(tab.generate(model_name, [prompt], negative, settings, plan, bundle=bundle))
    loop = [torch.from_numpy(e.latents.astype(np.float32)) for e in events[1:-1]]  # after step 1..N

    expected = _pipeline_latents(bundle, prompt, negative or None, steps, guidance, seed)
    assert len(loop) == len(expected) == steps
    for step, (ours, theirs) in enumerate(zip(loop, expected), start=1):
        # The tab hands its latents out in float16: compare at that precision.
        torch.testing.assert_close(ours, theirs.half().float(), rtol=2e-3, atol=2e-3,
                                   msg=lambda m: f"step {step}/{steps}: {m}")
    # The comparison is not trivially true: the latents change from step to step, and the final step differs
    # from pure noise by far more than the tolerance.
    assert (loop[-1] - torch.from_numpy(events[0].latents.astype(np.float32))).abs().max() > 0.5
    assert all((a - b).abs().max() > 1e-2 for a, b in zip(loop, loop[1:]))
