"""A whole bootcamp day (issue 21): one student cannot hold a class-wide slot, answers have a bounded size,
and the server's memory stays flat under session-less API calls. On a real Gradio app with core/guard.py's
middleware and core.events' wrappers."""
from __future__ import annotations

import json
import threading
import time

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from core import events, fairness, guard, text

KO = {"Accept-Language": "ko-KR,ko;q=0.9"}
# A 1x1 PNG as the browser's webcam sends a frame (a data URL).
PIXEL = {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
         "meta": {"_type": "gradio.FileData"}}


def _app(build):
    with gr.Blocks() as demo:
        build()
    demo.queue(max_size=64)
    application = gr.routes.App.create_app(demo, app_kwargs={"middleware": guard.middleware()})
    return demo, application


def join(client, session: str, data, fn_index: int = 0):
    answer = client.post("/gradio_api/queue/join", headers=KO,
                         json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None})
    assert answer.status_code == 200, answer.text
    return answer.json()["event_id"]


def completed(client, session: str, n: int, timeout: float = 30) -> list[dict]:
    """The messages of a session's stream until `n` of its events completed."""
    messages, done = [], 0
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}", headers=KO,
                       timeout=timeout) as answer:
        for line in answer.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                done += messages[-1].get("msg") == "process_completed"
                if done >= n:
                    break
    return messages


def test_a_second_training_click_from_the_same_session_does_not_take_a_second_slot():
    """While one student's run holds the training slot, another student clicks three times: only the last
    click runs; the two replaced ones are answered at once with a note in the page's language."""
    ran, release = [], threading.Event()

    def train(x):
        ran.append(x)
        if x == "hold":
            release.wait(20)
        return f"trained {x}"

    def build():
        box, out = gr.Textbox(), gr.Textbox()
        events.on(box.submit, train, [box], [out], kind="training", api_name="train_fair")

    _, application = _app(build)
    with TestClient(application) as client:
        client.get("/gradio_api/startup-events")
        join(client, "holder", ["hold"])
        deadline = time.monotonic() + 10
        while "hold" not in ran and time.monotonic() < deadline:
            time.sleep(0.02)
        for x in ("first", "second", "third"):
            join(client, "student", [x])
        release.set()
        messages = completed(client, "student", 3)
        completed(client, "holder", 1)
    assert ran == ["hold", "third"]  # the training slot was taken once by this student, for the last click
    outputs = [m["output"]["data"] for m in messages if m.get("msg") == "process_completed"]
    assert ["trained third"] in outputs
    notes = [m.get("log") for m in messages if m.get("msg") == "log"]
    assert notes.count(text.say("ko", "fairness.replaced")) == 2


def test_tickets_are_per_session_and_kind_and_a_forged_ticket_header_is_dropped():
    first = fairness.ticket_for_join("s-tickets", "training")
    assert fairness.ticket_for_join("s-tickets", "quick") is None  # many-slot kinds are not numbered
    other = fairness.ticket_for_join("s-tickets", "bench")
    assert not fairness.TICKETS.is_replaced("s-tickets", "training", first)  # a bench click replaces no training
    later = fairness.ticket_for_join("s-tickets", "training")
    assert fairness.TICKETS.is_replaced("s-tickets", "training", first)
    assert not fairness.TICKETS.is_replaced("s-tickets", "training", later)
    assert not fairness.TICKETS.is_replaced("s-tickets", "bench", other)
    fairness.TICKETS.forget("s-tickets")
    assert not fairness.TICKETS.is_replaced("s-tickets", "training", first)
    scope = {"headers": [(b"x-dlclass-ticket", b"999999"), (b"accept-language", b"ko")]}
    assert guard.with_ticket(scope, None)["headers"] == [(b"accept-language", b"ko")]
    assert guard.with_ticket(scope, 7)["headers"][-1] == (b"x-dlclass-ticket", b"7")


@pytest.mark.parametrize("kind", sorted(fairness.ONE_SLOT_KINDS))
def test_every_one_slot_kind_is_one_slot(kind):
    assert events.KINDS[kind].concurrency_limit == 1


def test_2100_distinct_float_bits_calls_do_not_evict_the_worked_examples():
    """A script sending 2,100 distinct numbers fills the result cache's 2,000 places; the worked examples the
    class opens with stay pinned (counted in the budget all the same), so opening the tab is still a hit."""
    from tabs.precision import tab
    from tests.conftest import build_lesson_tab

    _, page, registered = build_lesson_tab(tab)
    examples = [(record, args) for record, args in page.warm_calls if record.once]
    assert examples, "the precision tab opens with a worked example"
    for record, args in examples:
        record.run(*args, lang="ko")
    assert events.RESULTS.pinned() >= len(examples)
    float_bits = next(r for r in registered if r.name == "float_bits")
    evicted = events.RESULTS.evicted
    for i in range(2100):
        float_bits.run(f"{i}.{i % 7}5", lang="ko")
    assert events.RESULTS.evicted - evicted >= 2100 - events.RESULTS.max_entries  # the cache was full
    misses = events.RESULTS.misses
    for record, args in examples:
        record.run(*args, lang="ko")
    assert events.RESULTS.misses == misses  # every worked example answered from the cache
    assert events.RESULTS.bytes() >= events.RESULTS.pinned() > 0


def test_pinned_entries_survive_the_memory_budget_and_count_in_it():
    from core import memory

    budget = memory.Budget(1000)
    store = memory.Store("pins", size=len, budget=budget)
    store.put("example", "x" * 600, pinned=True)
    for i in range(10):
        store.put(f"click-{i}", "y" * 300)
    assert "example" in store and budget.used_bytes() <= 1000 and store.pinned() == 1
    assert [k for k in store.keys() if k.startswith("click")] == ["click-9"]


def test_an_on_open_worked_example_is_pinned_in_the_result_cache():
    from tabs.precision import tab
    from tests.conftest import build_lesson_tab

    _, page, _ = build_lesson_tab(tab)
    record, args = next((r, a) for r, a in page.warm_calls if r.once)
    before = events.RESULTS.pinned()
    record.run(*args, lang="en")
    assert events.RESULTS.pinned() >= before + 1 or before >= 1
    assert events.cache_report()["pinned"] >= 1


def test_a_webcam_stream_that_sends_no_frame_gives_its_slot_back(monkeypatch):
    """Two API calls to a server-path webcam no longer hold both stream slots for 60 s: a stream with no frame
    for STREAM_IDLE_S is closed by the guard (Gradio's own close route), and a session's newer stream
    replaces its older one."""
    monkeypatch.setattr(guard, "STREAM_IDLE_S", 1.0)
    frames = []

    def look(frame, name):
        frames.append(name)
        return "seen"

    def build():
        camera, name, out = gr.Image(sources=["webcam"], streaming=True), gr.Textbox(), gr.Textbox()
        events.on(camera.stream, look, [camera, name], [out], kind="stream", api_name="look_stream",
                  stream_every=0.1)

    _, application = _app(build)
    with TestClient(application) as client:
        client.get("/gradio_api/startup-events")
        started = time.monotonic()
        join(client, "cam-a", [PIXEL, "frame"])
        join(client, "cam-b", [PIXEL, "frame"])
        completed(client, "cam-a", 1, timeout=30)
        completed(client, "cam-b", 1, timeout=30)
        held = time.monotonic() - started
        first = join(client, "cam-c", [PIXEL, "one"])
        join(client, "cam-c", [PIXEL, "two"])  # the same page opens its webcam again: the older stream is closed
        messages = completed(client, "cam-c", 2, timeout=30)
    assert held < 15, held  # not the stream kind's 60 s
    assert frames.count("frame") == 2 and {"one", "two"} <= set(frames)
    assert [m["event_id"] for m in messages if m.get("msg") == "process_completed"][0] == first


def test_a_closed_page_releases_its_session():
    ticket = fairness.ticket_for_join("closing-page", "diffusion")
    events.release_session(type("Request", (), {"session_hash": "closing-page"})())
    assert ("closing-page", "diffusion") not in fairness.TICKETS.latest and ticket > 0
    events.release_session(None)  # a request without a session changes nothing


def test_gradio_hands_the_page_closed_hook_its_request():
    """Gradio passes the request to an unload function only when the parameter's type hint resolves to
    gr.Request; without it the hook ran with None and released nothing (found by CI's warning)."""
    import gradio as gr
    from gradio.helpers import special_args

    closed = []
    with gr.Blocks() as demo:
        events.on_page_closed(demo, closed.append)
    hook = [block_fn.fn for block_fn in demo.fns.values() if block_fn.fn.__name__ == "page_closed"][0]
    request = gr.Request(username=None, session_hash="page-42")
    inputs, *_ = special_args(hook, inputs=[], request=request)
    hook(*inputs)
    assert [r.session_hash for r in closed] == ["page-42"]


def _queue_call(base: str, session: str, fn_index: int, data: list) -> None:
    import httpx

    join = httpx.post(f"{base}gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                      "session_hash": session, "event_data": None}, timeout=30)
    assert join.status_code == 200, join.text
    with httpx.stream("GET", f"{base}gradio_api/queue/data?session_hash={session}", timeout=60) as answer:
        for line in answer.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed":
                return


def test_after_its_session_capacity_400_more_api_sessions_grow_the_server_by_at_most_30_mb():
    """A script calling the API with a fresh session each time (what gradio_client does per client). Gradio
    keeps about 0.85 MB of page state per session (measured here), up to app.SESSION_CAPACITY sessions: once
    that many exist, 400 more calls, each with a new session, grow the server's resident memory by <= 30 MB
    (before the cap it grew without bound: 288 MB per 400 sessions, 2.6 GB per 560 queued ones)."""
    import uuid

    import httpx
    import psutil

    import app
    from tests.conftest import running_app

    with running_app("day-memory", extra_env={"DLCLASS_MAX_NEW_SESSIONS": "100000"},
                     args=("--no-warm-up",)) as (url, proc, _):
        config = httpx.get(f"{url}config", timeout=30).json()
        fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "float_bits")
        server = psutil.Process(proc.pid)
        for i in range(app.SESSION_CAPACITY + 20):  # the session holder full; imports and first answers done
            _queue_call(url, uuid.uuid4().hex, fn_index, [f"{i % 20}.5"])
        before = server.memory_info().rss
        for i in range(400):
            _queue_call(url, uuid.uuid4().hex, fn_index, [f"{i % 20}.5"])
        grown = (server.memory_info().rss - before) / 1e6
    assert grown <= 30, f"the server grew by {grown:.0f} MB"
