"""core/guard.py on a real Gradio app: limits per session and per client, and Gradio's own refusals said in
the page's language, without paths or Python object names. Fails when Gradio changes a route or message
the guard relies on."""
from __future__ import annotations

import json

import gradio as gr
import pytest
from fastapi.testclient import TestClient

from core import guard, text

KO = {"Accept-Language": "ko-KR,ko;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def app():
    with gr.Blocks() as demo:
        number = gr.Number()
        picture = gr.Image(type="filepath")
        out = gr.Textbox()
        number.submit(lambda n: str(n), number, out, api_name="echo")
        picture.change(lambda p: "ok", picture, out, api_name="picture")
    demo.queue(max_size=64)
    demo.max_file_size = None  # what launch() sets from its max_file_size
    application = gr.routes.App.create_app(demo, app_kwargs={"middleware": guard.middleware()})
    with TestClient(application) as client:
        client.get("/gradio_api/startup-events")  # what launch() does: starts the queue's processing
        yield client, demo


def join(client, session: str, data, fn_index: int = 0, headers=KO):
    return client.post("/gradio_api/queue/join", headers=headers,
                       json={"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None})


def stream(client, session: str, headers=KO, completions: int = 1) -> list[dict]:
    """The session's event stream, read until `completions` events completed (or the server closed it)."""
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}", headers=headers) as answer:
        messages, done = [], 0
        for line in answer.iter_lines():
            if line.startswith("data:"):
                messages.append(json.loads(line[5:]))
                done += messages[-1].get("msg") == "process_completed"
                if done >= completions or messages[-1].get("msg") == "close_stream":
                    break
        return messages


def test_one_session_cannot_flood_the_queue(app):
    client, _ = app
    answers = [join(client, "flood", [1]).status_code for _ in range(30)]
    assert answers == [200] * guard.SESSION_IN_FLIGHT + [429] * (30 - guard.SESSION_IN_FLIGHT)
    refused = join(client, "flood", [1])
    assert refused.status_code == 429 and refused.json()["detail"] == text.say("ko", "guard.too_fast")
    assert join(client, "someone-else", [1]).status_code == 200  # the rest of the class is not held back
    # the flood's events finish (their completions pass through the guard): the session may click again
    finished = stream(client, "flood", completions=guard.SESSION_IN_FLIGHT)
    assert sum(m.get("msg") == "process_completed" for m in finished) == guard.SESSION_IN_FLIGHT
    assert join(client, "flood", [1]).status_code == 200


def test_a_script_calling_one_event_after_another_is_never_held_back(app):
    client, _ = app
    for _ in range(3 * guard.SESSION_IN_FLIGHT):
        assert join(client, "sequential", [2]).status_code == 200
        assert [m for m in stream(client, "sequential") if m.get("msg") == "process_completed"][-1]["success"]


def test_new_sessions_per_client_are_limited(app, monkeypatch):
    client, _ = app
    monkeypatch.setattr(guard, "NEW_SESSIONS_PER_WINDOW", 5)
    codes = [join(client, f"page-{i}", [1], headers=EN).status_code for i in range(8)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 3
    assert join(client, "page-9", [1], headers=EN).json()["detail"] == text.say("en", "guard.too_many_sessions")
    assert join(client, "page-0", [1], headers=EN).status_code == 200  # a page already open keeps working


def test_gradio_input_errors_read_in_the_page_language(app):
    """Too few inputs, and a picture whose payload is a path on the server: Gradio's own English messages
    (with the path and object names) become ours."""
    client, _ = app
    for session, data, fn_index in (("few", [], 0), ("path", [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}], 1)):
        assert join(client, session, data, fn_index).status_code == 200
        completed = [m for m in stream(client, session) if m.get("msg") == "process_completed"][-1]
        assert completed["success"] is False
        assert completed["output"]["error"] == text.say("ko", "guard.bad_request")
        assert "/etc" not in json.dumps(completed, ensure_ascii=False) and "object at" not in json.dumps(completed)


def test_a_bad_join_body_reads_in_the_page_language(app):
    client, _ = app
    answer = client.post("/gradio_api/queue/join", headers=EN, content=b"{not json")
    assert answer.status_code >= 400
    assert answer.json()["detail"] == text.say("en", "guard.bad_request")


def test_an_oversized_upload_reads_in_the_page_language(app, monkeypatch):
    client, demo = app
    demo.max_file_size = 1000
    answer = client.post("/gradio_api/upload", headers=KO, files={"files": ("big.png", b"x" * 5000, "image/png")})
    assert answer.status_code == 413
    assert answer.json()["detail"] == text.say("ko", "guard.too_big", limit=guard.MAX_UPLOAD_TEXT)


def test_uploads_per_client_are_limited(app, monkeypatch):
    client, _ = app
    monkeypatch.setattr(guard, "UPLOAD_BYTES_PER_WINDOW", 20_000)
    ok = client.post("/gradio_api/upload", headers=EN, files={"files": ("a.png", b"x" * 8000, "image/png")})
    assert ok.status_code == 200
    ok = client.post("/gradio_api/upload", headers=EN, files={"files": ("b.png", b"x" * 8000, "image/png")})
    refused = client.post("/gradio_api/upload", headers=EN, files={"files": ("c.png", b"x" * 8000, "image/png")})
    assert ok.status_code == 200 and refused.status_code == 429
    assert refused.json()["detail"] == text.say("en", "guard.upload_budget")


def test_our_own_errors_pass_unchanged():
    chunk = "data: " + json.dumps({"msg": "process_completed", "success": False, "title": text.say("ko", "core.check_input"),
                                   "output": {"error": "커널 크기는 1~7"}}, ensure_ascii=False)
    assert guard.translate_stream_chunk(chunk, "ko") == chunk
    theirs = "data: " + json.dumps({"msg": "process_completed", "success": False, "title": "Error",
                                    "output": {"error": "unhashable type: 'list'"}})
    assert "unhashable" not in guard.translate_stream_chunk(theirs, "ko")
