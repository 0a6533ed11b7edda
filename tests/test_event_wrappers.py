"""core/event_wrappers.py and core/event_cache.py: each layer `core.events.on` composes, alone."""
from __future__ import annotations

import importlib.machinery
import logging
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor

import gradio as gr
import numpy as np
import pytest
from gradio.helpers import special_args

from core import components, memory, outputs, text
from core import event_cache as cache
from core import event_wrappers as wrappers

WORDS = text.table("test_event_wrappers", {"bad": ("나쁜 값: {value}", "bad value: {value}")})


class FakeRequest:
    def __init__(self, accept_language: str):
        self.headers = {"accept-language": accept_language}


def _store() -> memory.Store:
    return memory.Store("test_event_wrappers", size=memory.nbytes, budget=memory.Budget(1 << 24))


# ---------------------------------------------------------------- the page's language


def test_lang_is_passed_on_only_to_a_function_that_declares_it():
    def speaks(x, lang):
        return f"{x}:{lang}"

    def silent(x):
        return f"{x}"

    assert wrappers.takes_lang(speaks) and not wrappers.takes_lang(silent)
    assert wrappers.speaking(speaks, wants_lang=True, is_generator=False)("a", lang="en") == "a:en"
    assert wrappers.speaking(silent, wants_lang=False, is_generator=False)("a", lang="en") == "a"

    def steps(x, lang):
        yield f"{x}1:{lang}"
        yield f"{x}2:{lang}"

    call = wrappers.speaking(steps, wants_lang=True, is_generator=True)
    assert wrappers.streams(call) and list(call("a", lang="ko")) == ["a1:ko", "a2:ko"]


def test_the_request_gradio_passes_last_gives_the_page_language():
    def run(x, lang="ko"):
        return f"{x}:{lang}"

    answer = wrappers.lang_from_request(run)
    assert answer("a", FakeRequest("en-US,en;q=0.9")) == "a:en"
    assert answer("a", FakeRequest("fr-FR")) == "a:ko" and answer("a", None) == "a:ko"

    def steps(x, lang="ko"):
        yield f"{x}:{lang}"

    streamed = wrappers.lang_from_request(steps)
    assert wrappers.streams(streamed) and list(streamed("b", FakeRequest("en"))) == ["b:en"]


# ---------------------------------------------------------------- the error guard


def test_a_problem_is_said_in_the_language_asked_and_the_unexpected_is_logged_briefly(caplog):
    def run(value, lang="ko"):
        if value == "bad":
            raise WORDS.problem("bad", value=7)
        if value == "oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return {}["missing"]

    safe = wrappers.guarded(run, "the_event")
    with pytest.raises(gr.Error) as err:
        safe("bad", lang="en")
    assert err.value.message == "bad value: 7" and not err.value.print_exception
    assert "the_event" not in caplog.text  # a Problem is the student's to fix, not the server log's
    with pytest.raises(gr.Error) as err:
        safe("oom", lang="ko")
    assert err.value.title == "메모리 부족"
    with caplog.at_level(logging.ERROR, logger="dlclass.events"):
        with pytest.raises(gr.Error) as err:
            safe("x", lang="en")
    assert err.value.message.startswith("Something unexpected went wrong (KeyError: 'missing')")
    assert "event the_event failed" in caplog.text


def test_a_stream_that_fails_midway_is_guarded_too():
    def steps(lang="ko"):
        yield "first"
        raise WORDS.problem("bad", value=1)

    answers = wrappers.guarded(steps, "steps")(lang="ko")
    assert next(answers) == "first"
    with pytest.raises(gr.Error) as err:
        next(answers)
    assert err.value.message == "나쁜 값: 1"


# ---------------------------------------------------------------- the result cache


def test_identical_requests_are_computed_once_at_the_same_moment_and_failures_are_not_kept():
    calls, lock = [], threading.Lock()

    def compute(n, lang="ko"):
        with lock:
            calls.append((n, lang))
        time.sleep(0.2)
        if n == "fails" and len(calls) == 1:
            raise ValueError("first time")
        return f"{n}:{lang}"

    key = cache.request_key(compute, [gr.Markdown()], wants_lang=True)
    run = cache.cached(compute, key, _store())
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: run("n", lang="ko" if i % 2 else "en"), range(12)))
    assert set(answers) == {"n:ko", "n:en"} and sorted(calls) == [("n", "en"), ("n", "ko")]
    calls.clear()
    with pytest.raises(ValueError):
        run("fails", lang="ko")
    assert run("fails", lang="ko") == run("fails", lang="ko") == "fails:ko" and len(calls) == 2


def test_the_key_holds_the_language_only_when_the_function_speaks_one_and_what_cache_key_says():
    def fn(x):
        return x

    model = {"name": "tiny"}
    silent = cache.request_key(fn, [gr.Markdown()], wants_lang=False)
    assert silent(("a",), "ko") == silent(("a",), "en") != silent(("b",), "ko")
    speaking = cache.request_key(fn, [gr.Markdown()], wants_lang=True, cache_key=lambda: model["name"])
    before = speaking(("a",), "ko")
    assert before != speaking(("a",), "en")
    model["name"] = "real"
    assert speaking(("a",), "ko") != before
    png = cache.request_key(fn, [components.image_output(format="png")], wants_lang=False)
    assert png(("a",), "ko") != cache.request_key(fn, [components.image_output()], wants_lang=False)(("a",), "ko")


def test_a_generators_last_step_is_kept_and_given_at_once_next_time():
    runs = []

    def steps(n, lang="ko"):
        runs.append(n)
        yield from (f"{n} step {i}" for i in range(3))

    run = cache.cached(steps, cache.request_key(steps, [gr.Markdown()], wants_lang=False), _store())
    assert list(run("a")) == ["a step 0", "a step 1", "a step 2"]
    assert list(run("a")) == ["a step 2"] and runs == ["a"]


# ---------------------------------------------------------------- once per session


def test_the_flag_rides_in_front_of_the_inputs_and_after_the_outputs():
    def run(x, lang="ko"):
        return (f"{x}!", lang)

    gated = wrappers.once_per_session(run, n_outputs=2)
    assert gated(False, "a", lang="en") == ("a!", "en", True)
    skipped = gated(True, "a", lang="en")
    assert skipped == (gr.skip(), gr.skip(), True) and skipped[0] is not skipped[1]
    assert wrappers.once_per_session(lambda x, lang="ko": x, n_outputs=1)(False, "b") == ("b", True)

    def steps(x, lang="ko"):
        yield f"{x}1"
        yield f"{x}2"

    gated_steps = wrappers.once_per_session(steps, n_outputs=1)
    assert list(gated_steps(False, "c")) == [("c1", True), ("c2", True)]
    assert list(gated_steps(True, "c")) == [(gr.skip(), True)]


# ---------------------------------------------------------------- the GPU


def test_a_gpu_is_asked_for_only_on_zerogpu_and_only_for_kinds_that_need_one(monkeypatch):
    asked = []
    spaces = types.ModuleType("spaces")
    spaces.__spec__ = importlib.machinery.ModuleSpec("spaces", loader=None)

    def gpu(duration=60):
        def wrap(fn):
            def on_gpu(*args, **kwargs):
                asked.append(duration)
                return fn(*args, **kwargs)
            return on_gpu
        return wrap

    spaces.GPU = gpu
    monkeypatch.setitem(sys.modules, "spaces", spaces)

    def work(x):
        return x * 2

    assert wrappers.on_gpu(work, 20, zero_gpu=False) is work
    assert wrappers.on_gpu(work, None, zero_gpu=True) is work  # quick events and webcam frames never ask
    assert wrappers.on_gpu(work, 20, zero_gpu=True)(3) == 6 and asked == [20]


# ---------------------------------------------------------------- the outputs


def test_pictures_are_prepared_once_for_the_cache_and_delivered_as_complete_files(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "OUTPUT_DIR", tmp_path)
    monkeypatch.setattr(outputs, "_ready", threading.Event())
    picture = np.full((40, 60, 3), 200, np.uint8)

    def draw(lang="ko"):
        return picture, "caption"

    compute = wrappers.prepared(draw, [components.image_output(format="png"), gr.Markdown()])
    kept, caption = compute()
    assert isinstance(kept, outputs.Picture) and caption == "caption"
    path, caption = wrappers.delivered(compute)()
    assert path.endswith(".png") and (tmp_path / path.split("/")[-1]).stat().st_size == kept.nbytes


def test_a_webcam_frame_over_the_budget_changes_nothing_at_once():
    frames = []
    run = wrappers.within_budget(lambda frame, lang="ko": frames.append(frame) or frame,
                                 wrappers.FrameBudget(per_second=1.0, burst=1.0), n_outputs=2)
    assert run("f1") == "f1"
    assert run("f2") == (gr.skip(), gr.skip()) and frames == ["f1"]


# ---------------------------------------------------------------- what Gradio reads


def test_gradio_fills_the_request_event_data_and_progress_where_the_signature_puts_them():
    """Fails when Gradio stops filling parameters by their annotation (gr.Request, gr.EventData) or
    default value (gr.Progress), or fills them elsewhere than their place in the signature."""
    def picked(already_unused_name, evt: gr.SelectData, size, progress=gr.Progress(), *, lang: str = "ko"):
        return already_unused_name, evt, size, progress, lang

    received = []

    def answer(*args):
        received.extend(args)

    signature = wrappers.gradio_signature(picked, n_inputs=2, flag_first=True)
    assert list(signature.parameters) == ["already", "already_unused_name", "evt", "size", "progress", "request"]
    wrapped = wrappers.for_gradio(answer, picked, signature)
    assert wrapped.__name__ == "picked" and wrapped.__dlclass_event__
    data, request = gr.SelectData(None, {"index": 3, "value": None}), FakeRequest("en")
    args, progress_index, event_index, _ = special_args(wrapped, [False, "photo", 5], request=request,
                                                        event_data=data)
    assert (event_index, progress_index) == (2, 4)
    wrapped(*args)
    flag, photo, evt, size, progress, given_request = received
    assert (flag, photo, size, given_request) == (False, "photo", 5, request)
    assert isinstance(evt, gr.SelectData) and evt.index == 3 and isinstance(progress, gr.Progress)


def test_an_event_with_fewer_parameters_than_inputs_is_refused_and_star_args_get_names():
    def one(x):
        return x

    def many(*values):
        return values

    with pytest.raises(TypeError, match="takes 1 inputs, 2 given"):
        wrappers.gradio_signature(one, n_inputs=2, flag_first=False)
    assert list(wrappers.gradio_signature(many, n_inputs=2, flag_first=False).parameters) == [
        "input_0", "input_1", "request"]


# ---------------------------------------------------------------- a missing model, said in the tab


def test_a_missing_model_is_said_in_the_tabs_text_output_and_nothing_else_changes():
    from core import models

    with gr.Blocks():
        picture, words, chart = gr.Image(), gr.Markdown(), gr.Plot()

    def needs_a_model(x, lang="ko"):
        raise models.ModelUnavailable("vit_b16", "offline", available=[])

    run = wrappers.unavailable_in_place(needs_a_model, [picture, words, chart])
    for lang in ("ko", "en"):
        kept, said, unchanged = run(1, lang=lang)
        assert isinstance(kept, dict) and isinstance(unchanged, dict)  # gr.skip(): the old picture stays
        assert "--prefetch vit_b16" in said and said == f"**{models.TEXT.say(lang, 'title')}**: " + \
            models.ModelUnavailable("vit_b16", "offline", available=[]).say(lang)

    def streams_then_misses(x, lang="ko"):
        yield None, "started", None
        raise models.ModelUnavailable("sd_turbo", available=[])

    steps = list(wrappers.unavailable_in_place(streams_then_misses, [picture, words, chart])(1, lang="en"))
    assert steps[0][1] == "started" and "--prefetch sd_turbo" in steps[1][1]
    # an event without a text output: the error reaches the page as a Gradio error, as before
    with pytest.raises(models.ModelUnavailable):
        wrappers.unavailable_in_place(needs_a_model, [picture])(1, lang="ko")
    # other problems are not said in place
    def bad(x, lang="ko"):
        raise WORDS.problem("bad", value=x)
    with pytest.raises(text.Problem):
        wrappers.unavailable_in_place(bad, [picture, words, chart])(1, lang="ko")
