"""core/events.py and core/outputs.py: what every event of the app gets at registration."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio.helpers import special_args

from core import components, events, outputs, text

WORDS = text.table("test_events", {
    "hello": ("안녕, {name}", "hello, {name}"),
    "bad": ("나쁜 값: {value}", "bad value: {value}"),
})


class FakeRequest:
    def __init__(self, accept_language: str | None):
        self.headers = {} if accept_language is None else {"accept-language": accept_language}


def _register(fn, inputs, outputs_, **kwargs):
    with gr.Blocks() as demo:
        button = gr.Button()
        dependency = events.on(button.click, fn, inputs, outputs_, **kwargs)
    block_fn = demo.fns[max(demo.fns)]
    return dependency.registered, block_fn, demo


def test_lang_comes_from_the_page_and_gradio_injects_the_request_where_the_wrapper_expects_it():
    seen = []

    def greet(name, lang):
        seen.append(lang)
        return WORDS.say(lang, "hello", name=name)

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    record, block_fn, _ = _register(greet, [box], [out], kind="quick")
    for header, expected in (("ko-KR,ko;q=0.9", "안녕, 수지"), ("en-US,en;q=0.9", "hello, 수지"),
                             (None, "안녕, 수지"), ("fr-FR", "안녕, 수지")):
        args, *_ = special_args(block_fn.fn, ["수지"], request=FakeRequest(header))  # Gradio's own injection
        assert block_fn.fn(*args) == expected
    assert seen == ["ko", "en", "ko", "ko"]
    assert block_fn.concurrency_id == "quick" and block_fn.concurrency_limit == events.KINDS["quick"].concurrency_limit


def test_select_events_get_their_event_data_and_the_request():
    def clicked(state, evt: gr.SelectData, lang):
        return f"{state}:{evt.index}:{lang}"

    with gr.Blocks():
        state, out = gr.State("s"), gr.Markdown()
    _, block_fn, _ = _register(clicked, [state], [out], kind="quick")
    data = gr.SelectData(None, {"index": [3, 4], "value": None})
    args, _, event_index, _ = special_args(block_fn.fn, ["s"], request=FakeRequest("en"), event_data=data)
    assert event_index == 1
    assert block_fn.fn(*args) == "s:[3, 4]:en"


def test_a_problem_is_said_in_the_page_language_and_nothing_else_leaks():
    def check(value, lang):
        raise WORDS.problem("bad", value=value)

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(check, [box], [out], kind="quick")
    for header, words in (("ko", "나쁜 값: 7"), ("en-GB", "bad value: 7")):
        with pytest.raises(gr.Error) as err:
            block_fn.fn("7", FakeRequest(header))
        assert err.value.message == words
    with pytest.raises(gr.Error) as err:
        block_fn.fn("7", FakeRequest("en"))
    assert err.value.title == "Check the input" and not err.value.print_exception


def test_unexpected_errors_and_out_of_memory_become_short_messages(caplog):
    def broken(value):
        if value == "oom":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return {}["missing"]

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(broken, [box], [out], kind="model")
    with pytest.raises(gr.Error) as err:
        block_fn.fn("x", FakeRequest("en"))
    assert err.value.message.startswith("Something unexpected went wrong (KeyError: 'missing')")
    assert "failed" in caplog.text  # the traceback goes to the server log, not the page
    with pytest.raises(gr.Error) as err:
        block_fn.fn("oom", FakeRequest("ko"))
    assert err.value.message.startswith("메모리가 부족합니다") and err.value.title == "메모리 부족"


def test_identical_requests_are_computed_once_even_at_the_same_moment_and_each_language_once():
    calls = []
    lock = threading.Lock()

    def slow(n, lang):
        with lock:
            calls.append((n, lang))
        time.sleep(0.3)
        return WORDS.say(lang, "hello", name=n)

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(slow, [box], [out], kind="quick", cache=True)
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda i: block_fn.fn("n0", FakeRequest("ko" if i % 2 else "en")),
                                range(30)))
    assert sorted(calls) == [("n0", "en"), ("n0", "ko")]  # 30 clicks, two languages: two computations
    assert set(answers) == {"안녕, n0", "hello, n0"}
    assert block_fn.fn("n1", FakeRequest("ko")) == "안녕, n1" and len(calls) == 3


def test_a_failure_is_never_cached():
    attempts = []

    def flaky(n):
        attempts.append(n)
        if len(attempts) == 1:
            raise WORDS.problem("bad", value=n)
        return "ok"

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(flaky, [box], [out], kind="quick", cache=True)
    with pytest.raises(gr.Error):
        block_fn.fn("a", FakeRequest("ko"))
    assert block_fn.fn("a", FakeRequest("ko")) == "ok" and block_fn.fn("a", FakeRequest("ko")) == "ok"
    assert len(attempts) == 2


def test_the_same_photo_uploaded_twice_is_the_same_input(tmp_path):
    calls = []

    def size(path):
        calls.append(path)
        return str(Path(path).stat().st_size)

    data = (Path(__file__).resolve().parent.parent / "assets" / "examples" / "cat.jpg").read_bytes()
    first, second = tmp_path / "a" / "cat.jpg", tmp_path / "b" / "photo.jpg"
    for path in (first, second):
        path.parent.mkdir()
        path.write_bytes(data)
    with gr.Blocks():
        image, out = components.Image(), gr.Markdown()
    _, block_fn, _ = _register(size, [image], [out], kind="model", cache=True)
    assert block_fn.fn(str(first), None) == block_fn.fn(str(second), None) == str(len(data))
    assert len(calls) == 1
    second.write_bytes(data[:-10] + b"0123456789")  # another photo at the same place
    block_fn.fn(str(second), None)
    assert len(calls) == 2


def test_pictures_are_encoded_once_and_their_files_are_complete_before_they_appear(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs, "OUTPUT_DIR", tmp_path / "out")
    monkeypatch.setattr(outputs, "_ready", threading.Event())
    picture = np.zeros((120, 160, 3), np.uint8)
    picture[30:90, 40:120] = (250, 20, 20)

    def draw(n):
        return picture, picture

    with gr.Blocks():
        box = gr.Textbox()
        photo, chart = components.image_output(), components.image_output(format="png")
    _, block_fn, _ = _register(draw, [box], [photo, chart], kind="quick", cache=True)
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: block_fn.fn("x", None), range(40)))
    assert len({r for r in results}) == 1
    jpg, png = results[0]
    assert jpg.endswith(".jpg") and png.endswith(".png") and Path(jpg).parent == tmp_path / "out"
    from PIL import Image

    assert Image.open(png).format == "PNG" and np.array_equal(np.asarray(Image.open(png)), picture)
    assert Image.open(jpg).format == "JPEG" and np.abs(np.asarray(Image.open(jpg)).astype(int) - picture).mean() < 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([Path(jpg).name, Path(png).name])
    # Gradio serves these files as they are (a static path), without copying them into its cache
    outputs.register_static_dir()
    from gradio import utils

    assert utils.is_static_file(gr.FileData(path=jpg))


def test_an_atomic_write_never_shows_a_partial_file(tmp_path, monkeypatch):
    """Many threads write the same picture while readers read it: every read sees all of it."""
    monkeypatch.setattr(outputs, "OUTPUT_DIR", tmp_path)
    monkeypatch.setattr(outputs, "_ready", threading.Event())
    picture = outputs.encode(np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8), "png")
    target = tmp_path / f"{picture.digest}.png"
    stop, short_reads = threading.Event(), []

    def read():
        while not stop.is_set():
            try:
                data = target.read_bytes()
            except FileNotFoundError:  # between the test's delete and the next write
                continue
            if len(data) != picture.nbytes:
                short_reads.append(len(data))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for thread in readers:
        thread.start()
    for _ in range(20):  # deleted and written again, by 8 writers at once
        target.unlink(missing_ok=True)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: outputs.write(picture), range(8)))
    stop.set()
    for thread in readers:
        thread.join()
    assert short_reads == []
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".part-")]


def test_plotly_figures_are_serialised_once_into_what_gr_plot_passes_on():
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[1, 2], y=[3, 4]))
    plot = gr.Plot()
    prepared = outputs.prepare(figure, plot)
    assert plot.postprocess(prepared) is prepared  # Gradio's PlotData passes through its postprocess unchanged
    assert prepared.plot == figure.to_json()


def test_generators_stream_and_their_last_answer_is_cached():
    runs = []

    def steps(n):
        runs.append(n)
        for i in range(3):
            yield f"step {i}"

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(steps, [box], [out], kind="diffusion", cache=True)
    assert list(block_fn.fn("a", None)) == ["step 0", "step 1", "step 2"]
    assert list(block_fn.fn("a", None)) == ["step 2"]  # from the cache: the final answer at once
    assert runs == ["a"]


def test_server_webcam_frames_over_the_budget_are_dropped_at_once(monkeypatch):
    budget = events.FrameBudget(per_second=5.0, burst=2.0)
    monkeypatch.setattr(events, "FRAMES", budget)
    frames = []

    def detect(frame):
        frames.append(frame)
        return f"done {frame}"

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(detect, [box], [out], kind="stream")
    answers = [block_fn.fn(str(i), None) for i in range(10)]  # 10 frames in a few ms
    assert len(frames) == 2 and budget.dropped == 8
    assert all(isinstance(a, dict) and a.get("__type__") == "update" for a in answers[2:])  # gr.skip()
    time.sleep(0.45)  # two more tokens
    assert block_fn.fn("late", None) == "done late"
    assert block_fn.time_limit == events.KINDS["stream"].time_limit and block_fn.concurrency_id == "stream"


def test_every_event_of_the_app_is_registered_through_the_helper():
    import app

    demo, page = app.build_app()
    assert page.registered
    initial_values = {(getattr(block, "load_event_to_attach", None) or (None,))[0] for block in demo.blocks.values()}
    for block_fn in demo.fns.values():
        if block_fn.fn is None:
            continue  # browser-only events (js)
        if getattr(block_fn.fn, "__module__", "").startswith("gradio."):
            continue  # Gradio's own (gr.Examples filling its inputs)
        if block_fn.fn in initial_values:
            continue  # a component's starting value made per student (e.g. gr.State(new_session))
        assert getattr(block_fn.fn, "__dlclass_event__", False), (block_fn.name, block_fn.fn)


def test_building_the_app_twice_registers_and_warms_each_event_once_per_build():
    """The registry belongs to the app built: a second build in the same process doubles nothing."""
    import app

    outside = len(events.REGISTERED)
    (first_demo, first), (second_demo, second) = app.build_app(), app.build_app()
    for demo, page in ((first_demo, first), (second_demo, second)):
        ours = [f for f in demo.fns.values() if getattr(f.fn, "__dlclass_event__", False)]
        closed = [f for f in ours if f.fn.__name__ == "page_closed"]  # the page-closed hook: no event record
        assert len(closed) == 1
        assert len(page.registered) == len(ours) - 1 > 0
    assert [r.name for r in first.registered] == [r.name for r in second.registered]
    assert [name for name, _ in first.warmed()] == [name for name, _ in second.warmed()]
    assert len(first.warm_calls) > 0
    assert len(first.warm_tasks) == len(second.warm_tasks)
    assert len(events.REGISTERED) == outside  # nothing of an app's build lands in the module's own list


def test_a_cache_key_function_separates_answers_that_depend_on_more_than_the_inputs():
    available = {"model": "tiny"}
    calls = []

    def describe(sentence):
        calls.append(sentence)
        return f"{sentence} on {available['model']}"

    with gr.Blocks():
        box, out = gr.Textbox(), gr.Markdown()
    _, block_fn, _ = _register(describe, [box], [out], kind="model", cache=True,
                               cache_key=lambda: available["model"])
    assert block_fn.fn("hi", None) == block_fn.fn("hi", None) == "hi on tiny"
    available["model"] = "real"  # the teacher prefetched the real weights while the app runs
    assert block_fn.fn("hi", None) == "hi on real" and len(calls) == 2


def test_gradios_queue_summarises_its_events_once_per_thousand_not_after_every_event(monkeypatch):
    """Gradio's queue reads GRADIO_ANALYTICS_CACHE_FREQUENCY / _MAX_EVENTS when it is created; with them its
    pandas summary (11-17 ms per event) runs once per 1,000 events. Fails when Gradio renames them."""
    for name in events.GRADIO_QUEUE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    events.apply_gradio_queue_settings()
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    demo.queue()
    assert demo._queue.ANAYLTICS_CACHE_FREQUENCY == 1000 and demo._queue.ANALYTICS_MAX_EVENTS == 1000
    summaries, build_table = [], type(demo._queue)._get_df

    def counted(records):
        summaries.append(len(records))
        return build_table(records)

    monkeypatch.setattr(type(demo._queue), "_get_df", staticmethod(counted))
    record = {"time": 0.0, "status": "success", "process_time": 0.01, "function": "f"}
    for n in range(1, 1500):
        demo._queue.events_recorded = n
        demo._queue.compute_analytics_summary([record])
    assert len(summaries) == 1  # the one at the 1,000th event
