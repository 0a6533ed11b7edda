"""Stable Diffusion tab: the test zoo's tiny pipeline through the tab's own functions, and the real TAESD."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core import models
from core.i18n import UserError
from core.images import load_image
from core.zoo import diffusion as zoo
from tabs import diffusion as tab

CPU = torch.device("cpu")


def _final(outputs):
    """The last yield of run_generate (final image, gallery, status, info, tokens, diagram, latents, slider, latent img)."""
    return outputs[-1]


def _generate(prompt="a red cat", seed=3, steps=3, size=256, model=zoo.SD_TURBO, guidance=0, negative=""):
    return list(tab.run_generate(prompt, negative, model, steps, guidance, size, seed, "latent_rgb", "taesd"))


def test_one_preview_per_step_streamed_then_final():
    outputs = _generate(steps=3)
    # the step-0 event (noise), one event per step, then the final picture
    assert len(outputs) == 1 + 3 + 1
    galleries = [o[1] for o in outputs]
    assert [len(g) for g in galleries[1:4]] == [1, 2, 3], "each step adds exactly one preview while streaming"
    final, gallery, status, info, tokens, diagram, latents, slider, latent_img = _final(outputs)
    assert final.shape == (256, 256, 3) and final.dtype == np.uint8
    assert len(gallery) == 3 and all(img.shape == (tab.PREVIEW_SIDE, tab.PREVIEW_SIDE, 3) for img, _ in gallery)
    assert [cap.split(" ")[1] for _, cap in gallery] == ["1/3", "2/3", "3/3"]
    # the latent of every step plus the starting noise: (4, size/8, size/8)
    assert len(latents) == 4 and latents[0].shape == (4, 32, 32)
    assert slider["maximum"] == 3
    assert latent_img.ndim == 3 and latent_img.shape[2] == 3
    assert "[1, 77, 32]" in diagram and "[256, 256, 3]" in diagram  # shapes on the arrows (tiny CLIP is 32 wide)
    assert "3/3" in status
    # the first latent is the seed's pure noise, scaled to the scheduler's largest noise level
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler(**zoo.SD_TURBO_SCHEDULER_CONFIG)
    scheduler.set_timesteps(3)
    noise = latents[0].astype(np.float32) / float(scheduler.init_noise_sigma)
    assert abs(noise.mean()) < 0.15 and 0.85 < noise.std() < 1.15


def test_same_seed_same_image_other_seed_other_image():
    a = _final(_generate(seed=11, steps=2))[0]
    b = _final(_generate(seed=11, steps=2))[0]
    c = _final(_generate(seed=12, steps=2))[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_token_view_reports_truncation():
    tokenizer = zoo.tiny_clip_tokenizer()
    short = tab.token_view(tokenizer, "a photo of a cat")
    assert not short.truncated and short.tokens[0] == "<start>" and short.tokens[-1] == "<end>"
    assert "cat·" in short.tokens and short.kept == len(short.tokens) == 7
    long_prompt = "a red cat " * 30 + "on the moon"
    view = tab.token_view(tokenizer, long_prompt)
    assert view.truncated and view.kept == 77
    assert view.cut_text.endswith("on the moon")  # the end of the prompt is what gets cut
    assert len(view.tokens) == 1 + 90 + 3 + 1
    html = tab.tokens_html(view, "en")
    assert "on the moon" in html and html.count("line-through") == len(view.tokens) - 77
    # and the tab says so when generating
    outputs = _generate(prompt=long_prompt, steps=1)
    info, tokens = _final(outputs)[3], _final(outputs)[4]
    assert "77" in info and "on the moon" in tokens


def test_bad_settings_are_clamped_with_notes():
    s = tab.clamp_settings(zoo.SD_TURBO, 100, 7.5, 999, -5, CPU)
    assert (s.steps, s.guidance, s.size, s.seed) == (4, 0.0, 512, 0)
    assert len(s.notes) == 4
    s = tab.clamp_settings(zoo.SD15, float("nan"), float("inf"), "abc", 2**40, CPU)
    assert (s.steps, s.guidance, s.size, s.seed) == (25, 7.5, 512, tab.SEED_MAX)
    s = tab.clamp_settings(zoo.SD15, 0, 30, 300, 5, CPU)
    assert (s.steps, s.guidance, s.size) == (1, 15.0, 256)
    with pytest.raises(UserError):
        tab.clamp_settings(zoo.SDXL, 30, 7, 1024, 0, CPU)  # GPU only
    with pytest.raises(UserError):
        tab.clamp_settings("nope", 1, 0, 512, 0, CPU)


def test_empty_prompt_uses_the_example_prompt():
    outputs = _generate(prompt="   ", steps=1)
    info = _final(outputs)[3]
    assert "비어 있어" in info and _final(outputs)[0].shape == (256, 256, 3)


def test_guidance_model_runs_a_batch_of_two_and_negative_prompt_matters():
    with_neg = _final(_generate(model=zoo.SD15, steps=2, guidance=7.5, negative="blurry"))
    without = _final(_generate(model=zoo.SD15, steps=2, guidance=7.5, negative="dark"))
    assert "[2, 77, 32]" in with_neg[5]  # (negative, prompt) go through the text encoder together
    assert not np.array_equal(with_neg[0], without[0])


def test_compare_two_prompts_side_by_side_each_step():
    outputs = list(tab.run_compare("a cat", "a dog", zoo.SD_TURBO, 2, 0, 256, 5))
    galleries = [o[0] for o in outputs]
    assert [len(g) for g in galleries] == [1, 2, 3]  # step 1, step 2, final
    left_right = galleries[-1][0][0]
    assert left_right.shape == (tab.PREVIEW_SIDE, 2 * tab.PREVIEW_SIDE + 6, 3)
    final_pair = galleries[-1][-1][0]
    half = final_pair.shape[1] // 2
    assert not np.array_equal(final_pair[40:, :half - 3], final_pair[40:, half + 3:])  # different prompts differ


def test_bf16_path_matches_fp32_on_the_tiny_model():
    settings = tab.clamp_settings(zoo.SD_TURBO, 1, 0, 256, 9, CPU)
    images = {}
    for dtype in (torch.float32, torch.bfloat16):
        plan = tab.make_plan(False, CPU, "taesd", "none", dtype=dtype)
        images[dtype] = list(tab.generate(zoo.SD_TURBO, ["a cat"], "", settings, plan, tiny=True))[-1].final[0]
    diff = np.abs(images[torch.float32].astype(int) - images[torch.bfloat16].astype(int)).mean()
    assert diff < 12, f"bf16 and fp32 differ by {diff:.1f} levels on average"


def test_linear_preview_and_latent_view():
    latents = torch.zeros(1, 4, 8, 8)
    rgb = tab.latent_to_rgb(latents)
    assert rgb.shape == (1, 8, 8, 3) and np.all(rgb == 127)  # zero latent = mid grey
    grid = tab.latent_channels_image(np.random.default_rng(0).normal(size=(4, 8, 8)).astype(np.float16), side=64)
    assert grid.shape == (64 * 2 + 4, 64 * 2 + 4, 3)
    assert tab.show_latent([], 3) is None


def test_missing_real_weights_say_how_to_prefetch(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    loader = models.ModelLoader(tiny=False)
    with pytest.raises(models.ModelUnavailable) as info:
        loader.get(zoo.SD_TURBO, device="cpu")
    assert "--prefetch sd_turbo" in info.value.en


def test_safety_checker_switch(monkeypatch):
    monkeypatch.delenv("DLCLASS_SAFETY_CHECKER", raising=False)
    assert zoo.safety_checker_enabled()
    monkeypatch.setenv("DLCLASS_SAFETY_CHECKER", "0")
    assert not zoo.safety_checker_enabled()
    assert not tab.make_plan(True, CPU, None, None, dtype=torch.float32).safety
    monkeypatch.setenv("DLCLASS_SAFETY_CHECKER", "1")
    assert tab.make_plan(True, CPU, None, None, dtype=torch.float32).safety
    assert not tab.make_plan(False, CPU, None, None, dtype=torch.float32).safety  # the test zoo has none


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / mse)


def test_real_taesd_decodes_a_real_photo(shared_dir):
    enc, dec = shared_dir / "weights" / "taesd_encoder.safetensors", shared_dir / "weights" / "taesd_decoder.safetensors"
    if not (enc.is_file() and dec.is_file()):
        pytest.skip(f"real TAESD weights not found in {enc.parent} (see ../shared/weights/README.md)")
    taesd = zoo.taesd_from_safetensors(enc, dec)
    photo = load_image(str(tab.__file__).replace("tabs/diffusion.py", "assets/examples/cat.jpg"))
    side = 512
    w, h = photo.size
    crop = min(w, h)
    photo = photo.crop(((w - crop) // 2, (h - crop) // 2, (w - crop) // 2 + crop, (h - crop) // 2 + crop))
    pixels = np.array(photo.resize((side, side)), dtype=np.uint8)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        latents = taesd.encode(x).latents
    assert latents.shape == (1, 4, 64, 64)
    decoded = tab.decode_taesd(taesd, latents)[0]
    psnr = _psnr(decoded, pixels)
    assert psnr > 15, f"real TAESD round trip PSNR {psnr:.1f} dB"
    random_taesd = zoo.build_random_taesd(tiny=False)
    assert psnr > _psnr(tab.decode_taesd(random_taesd, latents)[0], pixels) + 5  # the weights matter
