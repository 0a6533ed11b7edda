"""Stable Diffusion lesson: the test zoo's tiny pipeline through the lesson's compute, view and tab functions,
the events the tab registers (kinds, cache, warm-up, the safety setting from the command line), and the real
TAESD. (tests/test_diffusion_loop.py checks the loop itself against diffusers' StableDiffusionPipeline.)"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from core import models
from core.images import load_image
from core.text import Problem
from core.zoo import diffusion as zoo
from tabs.diffusion import compute, pipeline, tab, view
from tabs.diffusion.text import TEXT
from tests.conftest import ROOT

CPU = torch.device("cpu")
HANGUL = re.compile("[\uac00-\ud7a3]")
LESSON = ROOT / "tabs" / "diffusion"


@pytest.fixture(autouse=True)
def no_stored_runs():
    """Each test draws for itself (a run stored by another test would answer at once)."""
    compute.FINISHED.clear()
    yield
    compute.FINISHED.clear()


def _generate(prompt="a red cat", seed=3, steps=3, size=256, model=zoo.SD_TURBO, guidance=0, negative="", lang="en",
              preview="latent_rgb", decoder="taesd", safety=True):
    return list(tab.sd_generate(prompt, negative, model, steps, guidance, size, seed, preview, decoder, safety=safety,
                                lang=lang))


def _request(prompt="a red cat", steps=1, size=256, seed=3, safety=True, **kwargs) -> compute.Request:
    return compute.read_request([prompt], "", zoo.SD_TURBO, steps, 0, size, seed, "latent_rgb", "taesd", safety,
                                device=CPU, **kwargs)


def _english_words() -> set[str]:
    """Every English sentence of the lesson's table that has no Korean counterpart spelled the same."""
    from core import text

    return {text.EN[k] for k in text.EN if k.startswith("diffusion.") and text.EN[k] != text.KO[k]}


# ---------------------------------------------------------------- the run, streamed


def test_one_preview_per_step_streamed_then_final():
    outputs = _generate(steps=3)
    # the step-0 event (noise), one event per step, then the finished picture
    assert len(outputs) == 1 + 3 + 1
    galleries = [o[1] for o in outputs]
    assert [len(g) for g in galleries[:4]] == [0, 1, 2, 3], "each step adds exactly one preview while streaming"
    final, gallery, status, info, tokens, diagram, latents, slider, latent_img = outputs[-1]
    assert final.shape == (256, 256, 3) and final.dtype == np.uint8
    side = pipeline.PREVIEW_SIDE
    assert len(gallery) == 3 and all(img.shape == (side, side, 3) for img, _ in gallery)
    assert [cap.split(" ")[1] for _, cap in gallery] == ["1/3", "2/3", "3/3"]
    # the latent of every step plus the starting noise: (4, size/8, size/8)
    assert len(latents) == 4 and latents[0].shape == (4, 32, 32)
    assert slider["maximum"] == 3 and slider["value"] == 3
    assert latent_img.ndim == 3 and latent_img.shape[2] == 3
    assert "[1, 77, 32]" in diagram and "[256, 256, 3]" in diagram  # shapes on the arrows (tiny CLIP is 32 wide)
    assert "[1, 4, 32, 32]" in diagram and "× 3" in diagram
    assert "3/3" in status and "done" in status
    assert "Time:" in info and "UNet loop" in info
    # the first latent is the seed's pure noise, scaled to the scheduler's largest noise level
    from diffusers import EulerDiscreteScheduler

    scheduler = EulerDiscreteScheduler(**zoo.SD_TURBO_SCHEDULER_CONFIG)
    scheduler.set_timesteps(3)
    noise = latents[0].astype(np.float32) / float(scheduler.init_noise_sigma)
    expected = pipeline.initial_noise(zoo.build_random_sd(zoo.SD_TURBO, tiny=True), 256, 3).numpy()[0]
    np.testing.assert_allclose(noise, expected, atol=0.01 * float(np.abs(expected).max()))
    assert abs(noise.mean()) < 0.15 and 0.85 < noise.std() < 1.15


def test_same_seed_same_image_other_seed_other_image():
    a = _generate(seed=11, steps=2)[-1][0]
    compute.FINISHED.clear()  # draw again, not from the store
    b = _generate(seed=11, steps=2)[-1][0]
    c = _generate(seed=12, steps=2)[-1][0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_run_drawn_before_comes_from_the_store_at_once_in_the_other_language(monkeypatch):
    first = _generate(seed=21, steps=2, lang="en")
    drawn = []
    monkeypatch.setattr(compute, "generate", lambda *a, **k: drawn.append(a) or iter(()))
    again = _generate(seed=21, steps=2, lang="ko")
    assert not drawn, "the same request was drawn a second time"
    assert len(again) == 1  # no stream: the finished picture at once
    assert np.array_equal(first[-1][0], again[-1][0])
    assert len(again[-1][1]) == len(first[-1][1]) == 2  # every step's preview is kept with the run
    info = again[-1][3]
    assert TEXT.say("ko", "from_store") in info and TEXT.say("en", "from_store") not in first[-1][3]
    monkeypatch.undo()
    other = _generate(seed=22, steps=2, lang="ko")  # another seed is another run
    assert len(other) == 4 and not np.array_equal(other[-1][0], first[-1][0])


# ---------------------------------------------------------------- tokens


def test_token_view_reports_truncation():
    tokenizer = zoo.tiny_clip_tokenizer()
    short = pipeline.token_view(tokenizer, "a photo of a cat")
    assert not short.truncated and short.tokens[0] == "<start>" and short.tokens[-1] == "<end>"
    assert "cat·" in short.tokens and short.kept == len(short.tokens) == 7
    long_prompt = "a red cat " * 30 + "on the moon"
    tokens = pipeline.token_view(tokenizer, long_prompt)
    assert tokens.truncated and tokens.kept == 77
    assert tokens.cut_text.endswith("on the moon")  # the end of the prompt is what gets cut
    assert len(tokens.tokens) == 1 + 90 + 3 + 1
    # the tokens the model sees are exactly what the pipeline's tokenizer call keeps
    ids = tokenizer(long_prompt, padding="max_length", max_length=77, truncation=True).input_ids
    assert [pipeline._readable(tokenizer, i, t) for i, t in zip(ids, tokenizer.convert_ids_to_tokens(ids))] \
        == tokens.tokens[:77]
    html = view.tokens_html(tokens, "en")
    assert "on the moon" in html and html.count("line-through") == len(tokens.tokens) - 77
    # and the tab says so when generating
    final = _generate(prompt=long_prompt, steps=1)[-1]
    info, tokens_html = final[3], final[4]
    assert TEXT.say("en", "truncated") in info and "on the moon" in tokens_html


def test_korean_prompt_splits_into_bytes_and_says_so():
    tokens = pipeline.token_view(zoo.tiny_clip_tokenizer(), compute.PRESETS[3])
    assert any("\ufffd" in token for token in tokens.tokens)
    assert TEXT.say("ko", "tokens_bytes") in view.tokens_html(tokens, "ko")
    english = pipeline.token_view(zoo.tiny_clip_tokenizer(), compute.PRESETS[0])
    assert TEXT.say("en", "tokens_bytes") not in view.tokens_html(english, "en")
    assert "of 77 positions used" in view.tokens_html(english, "en")


# ---------------------------------------------------------------- the request


def test_bad_settings_are_clamped_with_notes():
    s = compute.clamp_settings(zoo.SD_TURBO, 100, 7.5, 999, -5, CPU)
    assert (s.steps, s.guidance, s.size, s.seed) == (4, 0.0, 512, 0)
    assert len(s.notes) == 4 and TEXT.msg("turbo_guidance") in s.notes
    s = compute.clamp_settings(zoo.SD_TURBO, 1, 1.0, 512, 0, CPU)  # guidance 1 means "none": nothing to say
    assert s.notes == [] and s.guidance == 0.0
    s = compute.clamp_settings(zoo.SD15, float("nan"), float("inf"), "abc", 2**40, CPU)
    assert (s.steps, s.guidance, s.size, s.seed) == (25, 15.0, 512, compute.SEED_MAX)
    assert len(s.notes) == 4
    s = compute.clamp_settings(zoo.SD15, 0, 30, 300, 5, CPU)
    assert (s.steps, s.guidance, s.size) == (1, 15.0, 256)  # 300 is not a size: the nearest one is
    assert any("256" in note.say("en") and "384" in note.say("en") for note in s.notes)
    with pytest.raises(Problem):
        compute.clamp_settings(zoo.SDXL, 30, 7, 1024, 0, CPU)  # GPU only
    with pytest.raises(Problem) as unknown:
        compute.clamp_settings("nope", 1, 0, 512, 0, CPU)
    assert "'nope'" in unknown.value.say("en") and HANGUL.search(unknown.value.say("ko"))


def test_plan_defaults_and_unknown_choices():
    notes = []
    plan = compute.make_plan(CPU, None, None, True, dtype=torch.float32, notes=notes)
    assert (plan.decoder, plan.preview, plan.safety) == ("taesd", "latent_rgb", True) and notes == []
    plan = compute.make_plan(CPU, "jpeg", "all of them", False, dtype=torch.float32, notes=notes)
    assert (plan.decoder, plan.preview, plan.safety) == ("taesd", "latent_rgb", False) and len(notes) == 2
    gpu = compute.make_plan(torch.device("cuda"), None, None, True, dtype=torch.float16)
    assert (gpu.decoder, gpu.preview) == ("vae", "taesd_half")


def test_empty_prompt_uses_the_example_prompt_and_says_it_in_one_language():
    korean = _generate(prompt="   ", steps=1, lang="ko")[-1]
    assert TEXT.say("ko", "empty_prompt") in korean[3] and korean[0].shape == (256, 256, 3)
    for output in korean[2:6]:  # status, info, tokens, diagram: nothing of the English table
        assert not any(words in output for words in _english_words() if len(words) > 12)
    english = _generate(prompt="", steps=1, lang="en")[-1]
    assert TEXT.say("en", "empty_prompt") in english[3]
    assert not any(HANGUL.search(output) for output in english[2:6])


def test_guidance_model_runs_a_batch_of_two_and_negative_prompt_matters():
    with_neg = _generate(model=zoo.SD15, steps=2, guidance=7.5, negative="blurry")[-1]
    without = _generate(model=zoo.SD15, steps=2, guidance=7.5, negative="dark")[-1]
    assert "[2, 77, 32]" in with_neg[5]  # (negative, prompt) go through the text encoder together
    assert "Guidance 7.5" in with_neg[5]
    assert not np.array_equal(with_neg[0], without[0])


def test_negative_prompt_without_guidance_is_dropped_with_a_note():
    request = compute.read_request(["a cat"], "blurry", zoo.SD_TURBO, 1, 0, 256, 1, None, None, True, device=CPU)
    assert request.negative == "" and TEXT.msg("negative_unused") in request.notes


def test_example_prompts_by_number():
    assert compute.preset_prompt(0) == compute.DEFAULT_PROMPT
    assert compute.preset_prompt(len(compute.PRESETS) - 1) == compute.PRESETS[-1]
    for bad in (-1, len(compute.PRESETS), 1.5, "x", None):
        with pytest.raises(Problem):
            compute.preset_prompt(bad)
    outputs = list(tab.sd_preset(1, "", zoo.SD_TURBO, 1, 0, 256, 7, "latent_rgb", "taesd", lang="en"))
    assert all(o[0] == compute.PRESETS[1] for o in outputs)  # the prompt box shows the example from the start
    assert outputs[-1][1].shape == (256, 256, 3)


# ---------------------------------------------------------------- two prompts side by side


def test_compare_two_prompts_side_by_side_each_step():
    outputs = list(tab.sd_compare("a cat", "a dog", zoo.SD_TURBO, 2, 0, 256, 5, lang="en"))
    galleries = [o[0] for o in outputs]
    assert [len(g) for g in galleries] == [1, 2, 3]  # step 1, step 2, final
    left_right = galleries[-1][0][0]
    assert left_right.shape == (pipeline.PREVIEW_SIDE, 2 * pipeline.PREVIEW_SIDE + 6, 3)
    final_pair = galleries[-1][-1][0]
    assert final_pair.shape == (view.FINAL_PAIR_SIDE, 2 * view.FINAL_PAIR_SIDE + 6, 3)
    half = final_pair.shape[1] // 2
    assert not np.array_equal(final_pair[40:, :half - 3], final_pair[40:, half + 3:])  # different prompts differ
    # The pair is drawn from the same noise in one batch: prompt A alone gives A's half of the pair.
    compute.FINISHED.clear()
    alone = _generate(prompt="a cat", seed=5, steps=2)[-1][0]
    left = final_pair[:, :view.FINAL_PAIR_SIDE]
    expected = pipeline.resize_square(alone, view.FINAL_PAIR_SIDE)
    assert np.abs(left[60:].astype(int) - expected[60:].astype(int)).mean() < 2  # below the drawn "A" label


# ---------------------------------------------------------------- precision, pictures, memory, safety


def test_bf16_path_matches_fp32_on_the_tiny_model():
    settings = compute.clamp_settings(zoo.SD_TURBO, 1, 0, 256, 9, CPU)
    images = {}
    for dtype in (torch.float32, torch.bfloat16):
        plan = compute.make_plan(CPU, "taesd", "none", False, dtype=dtype)
        images[dtype] = list(compute.generate(zoo.SD_TURBO, ["a cat"], "", settings, plan, tiny=True))[-1] \
            .finished.images[0]
    diff = np.abs(images[torch.float32].astype(int) - images[torch.bfloat16].astype(int)).mean()
    assert diff < 12, f"bf16 and fp32 differ by {diff:.1f} levels on average"


def test_linear_preview_and_latent_view():
    latents = torch.zeros(1, 4, 8, 8)
    rgb = pipeline.latent_to_rgb(latents)
    assert rgb.shape == (1, 8, 8, 3) and np.all(rgb == 127)  # zero latent = mid grey
    one = torch.zeros(1, 4, 1, 1)
    one[0, 0] = 1.0  # channel 0 alone: its row of the 4x3 map, as colour
    weights, _ = pipeline.LATENT_RGB["sd"]
    expected = np.clip((weights[0] + 1) / 2, 0, 1) * 255
    np.testing.assert_allclose(pipeline.latent_to_rgb(one)[0, 0, 0], expected, atol=1)
    grid = view.latent_channels_image(np.random.default_rng(0).normal(size=(4, 8, 8)).astype(np.float16), side=64)
    assert grid.shape == (64 * 2 + 4, 64 * 2 + 4, 3)
    assert tab.show_latent([], 3) is None
    steps = [np.full((4, 8, 8), v, np.float16) + np.arange(64, dtype=np.float16).reshape(8, 8) for v in (0, 5)]
    assert np.array_equal(tab.show_latent(steps, 99), view.latent_channels_image(steps[1]))  # clamped to the last
    assert np.array_equal(tab.show_latent(steps, "x"), view.latent_channels_image(steps[1]))
    assert np.array_equal(tab.show_latent(steps, 0), view.latent_channels_image(steps[0]))


def test_out_of_memory_says_which_smaller_size_to_try(monkeypatch):
    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield  # a generator, like the real one

    monkeypatch.setattr(compute, "generate", out_of_memory)
    with pytest.raises(Problem) as problem:
        _generate(size=512, steps=1)
    assert "384x384" in problem.value.say("en") and "384x384" in problem.value.say("ko")
    assert HANGUL.search(problem.value.say("ko")) and not HANGUL.search(problem.value.say("en"))

    def broken(*args, **kwargs):
        raise ValueError("not a memory problem")
        yield

    monkeypatch.setattr(compute, "generate", broken)
    with pytest.raises(ValueError):  # anything else is not called a memory problem
        _generate(size=256, steps=1)


def _with_fake_checker(monkeypatch, verdict: bool):
    """The loader hands out a checker with a fixed verdict; the test zoo has none of its own."""
    class Checker:
        calls = 0

        def flags(self, images):
            Checker.calls += 1
            assert all(im.dtype == np.uint8 and im.shape[2] == 3 for im in images)
            return [verdict] * len(images)

    real_get = models.get

    def get(name, *args, **kwargs):
        return Checker() if name == zoo.SAFETY_CHECKER else real_get(name, *args, **kwargs)

    monkeypatch.setattr(compute.models, "get", get)
    bundle = zoo.build_random_sd(zoo.SD_TURBO, tiny=True)
    bundle.real_weights = True  # as if the real weights were loaded: the checker is asked for
    return Checker, bundle


@pytest.mark.parametrize("verdict", [True, False])
def test_safety_checker_blanks_a_flagged_picture_and_its_previews(monkeypatch, verdict):
    checker, bundle = _with_fake_checker(monkeypatch, verdict)
    settings = compute.clamp_settings(zoo.SD_TURBO, 2, 0, 256, 1, CPU)
    plan = compute.make_plan(CPU, "taesd", "latent_rgb", True, dtype=torch.float32)
    finished = list(compute.generate(zoo.SD_TURBO, ["a cat"], "", settings, plan, bundle=bundle))[-1].finished
    assert checker.calls == 1 and finished.flagged == [verdict] and finished.facts.safety_checker
    previews = [e.previews[0] for e in finished.steps if e.previews]
    assert len(previews) == 2
    assert (finished.images[0].max() == 0) == verdict
    assert all((p.max() == 0) == verdict for p in previews)
    request = compute.Request(["a cat"], "", settings, plan, [])
    info = view.info_markdown(request, finished.facts, "en", finished)
    assert (TEXT.say("en", "blocked") in info) == verdict and TEXT.say("en", "safety_on") in info
    assert TEXT.say("en", "box_safety") in view.pipeline_html(finished.facts, "en")


def test_safety_checker_off_comes_from_the_server_setting_not_the_environment(monkeypatch):
    checker, bundle = _with_fake_checker(monkeypatch, True)
    monkeypatch.setenv("DLCLASS_SAFETY_CHECKER", "0")  # the old back channel: ignored now
    assert _request(safety=True).plan.safety
    off = _request(safety=False)
    assert not off.plan.safety
    finished = list(compute.generate(zoo.SD_TURBO, off.prompts, "", off.settings, off.plan, bundle=bundle))[-1].finished
    assert checker.calls == 0 and finished.flagged is None and not finished.facts.safety_checker
    info = view.info_markdown(off, finished.facts, "ko", finished)
    assert TEXT.say("ko", "safety_off") in info and "--no-safety-checker" in info
    assert TEXT.say("ko", "box_safety") not in view.pipeline_html(finished.facts, "ko")
    for path in LESSON.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "environ" not in source and "safety_checker_enabled" not in source, path.name


def test_missing_real_weights_say_how_to_prefetch(monkeypatch):
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    loader = models.ModelLoader(tiny=False)
    with pytest.raises(models.ModelUnavailable) as info:
        loader.get(zoo.SD_TURBO, device="cpu")
    assert "--prefetch sd_turbo" in info.value.say("en")


# ---------------------------------------------------------------- the tab's events, the opening and warm-up


def _build(safety: bool = True):
    from core.settings import Settings
    from tests.conftest import build_lesson_tab

    return build_lesson_tab(tab, Settings(safety_checker=safety))


def test_the_controls_are_made_from_the_declared_settings():
    """compute.SETTINGS declares each setting once: the tab's controls open with its range, step and default (the
    default model's; each model's own limits apply at run time), and the teacher may send every one of them but
    the step of this page's own run."""
    demo, _, _ = _build()
    by_id = {c["props"].get("elem_id"): c["props"] for c in demo.config["components"]}
    settings = compute.SETTINGS
    for name, elem_id in (("steps", "sd-steps"), ("guidance", "sd-guidance"), ("seed", "sd-seed"),
                          ("latent_step", "sd-latent-step")):
        props = by_id[elem_id]
        assert (props["minimum"], props["maximum"], props["value"]) == \
            (settings[name].low, settings[name].high, settings[name].default), name
    assert (by_id["sd-steps"]["step"], by_id["sd-guidance"]["step"]) == (1, 0.5)
    assert by_id["sd-model"]["value"] == settings["model"].default == zoo.SD_TURBO
    assert by_id["sd-size"]["value"] == settings["size"].default == 512
    assert set(value for _, value in by_id["sd-size"]["choices"]) <= set(settings["size"].choices)
    assert [value for _, value in by_id["sd-preview"]["choices"]] == list(settings["preview"].choices)
    assert [s.name for s in settings.for_class()] == ["model", "steps", "guidance", "size", "seed", "preview",
                                                       "decoder"]
    # a model's own limits: SD 1.5 takes up to 50 steps, though the control opens with sd-turbo's 4
    assert compute.clamp_settings(zoo.SD15, 40, 7.5, 512, 1, CPU).steps == 40


def test_the_run_key_and_the_dtype_ask_the_loader_whether_the_model_is_tiny(monkeypatch):
    """Only the loader knows whether a model comes from the test zoo (`models.source`): the tiny models run in
    fp32 and their pictures are stored apart from the real weights' (cached or still to download: the same)."""
    request = _request()
    tiny_key = compute.run_key(request)
    assert compute.compute_dtype(CPU, zoo.SD_TURBO) == torch.float32
    monkeypatch.setattr(compute, "cpu_bf16_speedup", lambda: 3.0)  # a CPU with fast bf16
    assert compute.compute_dtype(CPU, zoo.SD_TURBO) == torch.float32  # still the test zoo's
    monkeypatch.setattr(compute.models, "source", lambda name: "cached")
    cached_key = compute.run_key(request)
    assert compute.compute_dtype(CPU, zoo.SD_TURBO) == torch.bfloat16
    assert compute.compute_dtype(torch.device("cuda"), zoo.SD_TURBO) == torch.float16
    monkeypatch.setattr(compute.models, "source", lambda name: "download")
    assert compute.run_key(request) == cached_key != tiny_key


def test_the_tab_registers_its_events_and_warms_every_example():
    demo, page, registered = _build()
    kinds = {}
    for record in registered:
        kinds.setdefault(record.name, set()).add((record.kind.name, record.cache))
    assert kinds["sd_generate"] == {("diffusion", True)}
    assert kinds["sd_preset"] == {("diffusion", True)}
    assert kinds["sd_compare"] == {("diffusion", True)}
    assert kinds["sd_random_seed"] == {("quick", False)}  # never cached: a new seed every click
    assert kinds["sd_latent"] == {("quick", False)}  # reads this page's latents
    assert kinds["model_defaults"] == {("quick", True)}
    assert kinds["on_open:first_look"] == {("quick", True)}  # tokens and pipeline: cheap, cached
    assert kinds["on_open:first_picture"] == {("quick", False)}  # reads the store: never cached, never draws
    api = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"sd_generate", "sd_compare", "sd_latent", "sd_random_seed"} <= api
    warmed = page.warmed()
    defaults = ("", zoo.SD_TURBO, 1, 0.0, 512, compute.DEFAULT_SEED, "latent_rgb", "taesd")
    assert [args for name, args in warmed if name == "sd_preset"] == [(i, *defaults)
                                                                     for i in range(len(compute.PRESETS))]
    assert ("sd_generate", (compute.DEFAULT_PROMPT, *defaults)) in warmed
    assert ("on_open:first_look", (compute.DEFAULT_PROMPT, *defaults)) in warmed
    assert "on_open:first_picture" not in {name for name, _ in warmed}
    def lesson_fn(record):  # the function as the lesson wrote it (a worked example's too)
        return record.fn

    assert all(lesson_fn(r).keywords["safety"] is True for r in registered if hasattr(lesson_fn(r), "keywords"))
    _, _, off = _build(safety=False)
    bound = [record for record in off if hasattr(lesson_fn(record), "keywords")]
    assert {r.name for r in bound} >= {"sd_generate", "sd_preset", "sd_compare", "on_open:first_look", "on_open:first_picture"}
    assert all(lesson_fn(record).keywords["safety"] is False for record in bound)


def test_the_opening_never_draws_or_loads_and_shows_the_example_once_warm_up_drew_it(monkeypatch):
    inputs = (compute.DEFAULT_PROMPT, "", zoo.SD_TURBO, 1, 0.0, 512, compute.DEFAULT_SEED, "latent_rgb", "taesd")
    real_get = compute.models.get

    def no_loading(*args, **kwargs):
        raise AssertionError("the page's opening loaded a model")

    monkeypatch.setattr(compute.models, "get", no_loading)
    before = tab.first_picture(*inputs, lang="ko")
    assert TEXT.say("ko", "not_ready") in before[2]
    assert all(isinstance(v, dict) and v.get("__type__") == "update" for i, v in enumerate(before) if i != 2)
    monkeypatch.setattr(compute.models, "get", real_get)

    demo, page, registered = _build()
    drawn = []
    real_generate = compute.generate

    def counting(*args, **kwargs):
        drawn.append(args[1])
        yield from real_generate(*args, **kwargs)

    monkeypatch.setattr(compute, "generate", counting)
    report = page.warm_up()
    print(f"\nwarm-up of the diffusion tab (test zoo, {len(compute.PRESETS)} examples, both languages): "
          f"{report['seconds']:.1f} s")
    assert report["failed"] == 0
    # every example drawn once, though each is warmed in both languages and the button's answer too
    assert sorted(p[0] for p in drawn) == sorted(compute.PRESETS)

    monkeypatch.setattr(compute.models, "get", no_loading)
    for lang in ("ko", "en"):
        final, gallery, status, info, latents, slider, latent_image = tab.first_picture(*inputs, lang=lang)
        assert final.shape == (512, 512, 3) and len(gallery) == 1 and len(latents) == 2
        assert slider["value"] == 1 and latent_image.ndim == 3
        assert TEXT.say(lang, "progress_done", total=1) in status
        assert TEXT.say(lang, "from_store") in info
    # a class clicking the first example, or Generate as the page opened, gets the events' cached answer: the
    # lesson's code does not even run
    monkeypatch.setattr(compute, "read_request", no_loading)
    for name, args in (("sd_preset", (0, *inputs[1:])), ("sd_generate", inputs)):
        record = next(r for r in registered if r.name == name)
        answers = list(record.run(*args, lang="en"))
        final = answers[0][1] if name == "sd_preset" else answers[0][0]
        assert len(answers) == 1 and str(final).endswith(".jpg")
    assert len(drawn) == len(compute.PRESETS)


def test_model_defaults_follow_the_model():
    steps, guidance, size = tab.model_defaults(zoo.SD15)
    assert steps["maximum"] == 50 and steps["value"] == 25 and guidance["interactive"] and guidance["value"] == 7.5
    steps, guidance, size = tab.model_defaults("unknown")
    assert steps["maximum"] == 4 and not guidance["interactive"] and 512 in size["choices"]


# ---------------------------------------------------------------- the real TAESD


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0**2 / mse)


def test_real_taesd_decodes_a_real_photo(shared_dir: Path):
    enc, dec = shared_dir / "weights" / "taesd_encoder.safetensors", shared_dir / "weights" / "taesd_decoder.safetensors"
    if not (enc.is_file() and dec.is_file()):
        pytest.skip(f"real TAESD weights not found in {enc.parent} (see ../shared/weights/README.md)")
    taesd = zoo.taesd_from_safetensors(enc, dec)
    photo = load_image(str(ROOT / "assets" / "examples" / "cat.jpg"))
    side = 512
    w, h = photo.size
    crop = min(w, h)
    photo = photo.crop(((w - crop) // 2, (h - crop) // 2, (w - crop) // 2 + crop, (h - crop) // 2 + crop))
    pixels = np.array(photo.resize((side, side)), dtype=np.uint8)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.inference_mode():
        latents = taesd.encode(x).latents
    assert latents.shape == (1, 4, 64, 64)
    decoded = pipeline.decode_taesd(taesd, latents)[0]
    psnr = _psnr(decoded, pixels)
    assert psnr > 15, f"real TAESD round trip PSNR {psnr:.1f} dB"
    random_taesd = zoo.build_random_taesd(tiny=False)
    assert psnr > _psnr(pipeline.decode_taesd(random_taesd, latents)[0], pixels) + 5  # the weights matter


def _answer_bytes(answer) -> int:
    """What one answer costs on the wire: its JSON, and every picture file it names."""
    import json
    import os

    files = []

    def walk(value):
        if isinstance(value, str) and len(value) < 4096 and os.path.isfile(value):
            files.append(os.path.getsize(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(answer)
    return len(json.dumps(answer, default=str, ensure_ascii=False).encode()) + sum(files)


def test_a_100000_character_prompt_answers_in_at_most_one_megabyte():
    """Through the event layer (sd_generate as Gradio calls it): the prompt is cut with a note, and every step's
    answer together stays under 1 MB (it was 106.6 MB: a 26 MB token view sent 4 times)."""
    _, _, registered = _build()
    record = next(r for r in registered if r.name == "sd_generate")
    prompt = "a red fox jumping over a lazy dog on the moon, " * 2200  # over 100,000 characters
    assert len(prompt) > 100_000
    defaults = ("", zoo.SD_TURBO, 1, 0.0, 512, compute.DEFAULT_SEED, "latent_rgb", "taesd")
    answers = list(record.run(prompt, *defaults, lang="en"))
    total = sum(_answer_bytes(answer) for answer in answers)
    assert total <= 1_000_000, total
    said = json.dumps(answers, default=str, ensure_ascii=False)
    assert "only its first 1,000 are used" in said and "…" in said  # the note, and the cut tokens shortened
    view = pipeline.token_view(zoo.tiny_clip_tokenizer(), prompt)
    assert view.truncated and len(view.tokens) == 77 + 2 * pipeline.CUT_SHOWN + 1
    assert view.cut_text.endswith("on the moon ,") and len(view.cut_text) < 400
