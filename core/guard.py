"""A class through a whole day: no one client can fill the server, and every refusal reads in the page's language.

ASGI middleware around Gradio's app (installed with `launch(app_kwargs={"middleware": ...})`, like
core/server.py). It looks at three of Gradio's routes and nothing else:

- `POST .../queue/join` (a click): each session may have at most `SESSION_IN_FLIGHT` events waiting or running,
  and each client (address) at most `CLIENT_IN_FLIGHT`: a class of 30 behind one school address clicking
  together fits, and so does a script that calls one event after another as fast as it likes; a script that
  queues 500 jobs in 3 s gets 429s after the first few, and Gradio's queue (512 places) stays open for
  everyone else. An event counts from its join until its `process_completed` passes in the session's event
  stream (or, for a client that never reads its stream, until `IN_FLIGHT_TTL_S` later). A client may also start at most
  `NEW_SESSIONS_PER_WINDOW` new sessions per `WINDOW_S` (each new session costs the server a copy of the
  page's state: Gradio keeps one per session).
- `POST .../upload`: each client may send at most `UPLOAD_BYTES_PER_WINDOW` per `WINDOW_S`.
- Gradio's own refusals (a payload it cannot read, a file too big, a full queue), which it writes in English
  and which can echo paths and Python objects: an error answer of these routes, and an error message in the
  event stream that did not come from our event guard (core/events.py gives its errors titles from the text
  tables), is replaced by a short message in the page's language.

Why a middleware and not Gradio settings: Gradio has no per-client limits, and its messages are not
translatable. This module is the one adapter; tests/test_guard.py runs it on a real Gradio app, so it fails
when Gradio changes the messages or routes it relies on.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from urllib.parse import parse_qs

from core import fairness, text

TEXT = text.table("guard", {
    "too_fast": ("요청이 너무 빠르게 들어오고 있습니다. 잠시 뒤에 다시 눌러 주세요.",
                 "Requests are arriving too fast. Wait a moment, then click again."),
    "too_many_sessions": ("이 컴퓨터에서 새 페이지가 너무 많이 열렸습니다. 이미 열린 페이지를 써 주세요.",
                          "Too many new pages were opened from this computer. Please use a page that is already open."),
    "upload_budget": ("올린 파일이 너무 많습니다. 몇 분 뒤에 다시 올려 주세요.",
                      "Too much has been uploaded from this computer. Please upload again in a few minutes."),
    "too_big": ("파일이 너무 큽니다 (최대 {limit}). 더 작은 파일을 올려 주세요.",
                "The file is too big (at most {limit}). Please upload a smaller one."),
    "bad_request": ("요청을 처리할 수 없습니다: 보낸 입력의 형식이 맞지 않습니다. 페이지를 새로 고친 뒤 다시 해 보세요.",
                    "The request could not be processed: its inputs were not in the expected form. Reload the page and try again."),
    "busy": ("서버가 지금 매우 바쁩니다. 잠시 뒤에 다시 해 보세요.", "The server is very busy right now. Try again in a moment."),
    "title": ("입력 확인", "Check the input"),
})

SESSION_IN_FLIGHT = 8  # a page never has more than a few clicks under way
CLIENT_IN_FLIGHT = 200  # 30 students behind one address, all clicking at once, well under the queue's 512
IN_FLIGHT_TTL_S = 300.0  # longer than any job may wait and run (the one-slot kinds hold one job per session)
WINDOW_S = 600
# 30 students reloading 8 times in 10 minutes (DLCLASS_MAX_NEW_SESSIONS: a soak or a memory test raises it)
NEW_SESSIONS_PER_WINDOW = int(os.environ.get("DLCLASS_MAX_NEW_SESSIONS") or 240)
# Server-path webcams (kind "stream", 2 slots for the class): one per session (a newer one replaces it), and
# a stream that sends no frame for STREAM_IDLE_S gives its slot back (Gradio would wait for its time limit).
STREAM_IDLE_S = 10.0
STREAM_KIND = "stream"
UPLOAD_BYTES_PER_WINDOW = 400 * 1024 * 1024
MAX_JOIN_BODY = 4 * 1024 * 1024  # a click's JSON (a typed prompt, a webcam frame as a data URL)
MAX_UPLOAD_TEXT = "50 MB"

JOIN = re.compile(r"^(?:/gradio_api)?/queue/join$")
UPLOAD = re.compile(r"^(?:/gradio_api)?/upload$")
STREAM = re.compile(r"^(?:/gradio_api)?/queue/data$")
FRAME = re.compile(r"^((?:/gradio_api)?)/stream/([\w-]+)(/close)?$")


class Ledger:
    """What each client and session used recently; entries unused for a window are forgotten."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight: dict[str, list[float]] = {}  # session -> join times of its events under way
        self.client_in_flight: dict[str, list[tuple[float, str]]] = {}  # client -> (join time, session)
        self.new_sessions: dict[str, list[float]] = {}
        self.uploads: dict[str, list[tuple[float, int]]] = {}
        self.seen: dict[str, float] = {}  # session -> last use
        self.cleaned = time.monotonic()

    def join(self, client: str, session: str) -> str | None:
        """None when the click may join the queue, else the key of the refusal."""
        now = time.monotonic()
        with self.lock:
            self._forget_old(now)
            if session not in self.seen:
                started = [t for t in self.new_sessions.get(client, []) if now - t < WINDOW_S]
                if len(started) >= NEW_SESSIONS_PER_WINDOW:
                    return "too_many_sessions"
                self.new_sessions[client] = started + [now]
            self.seen[session] = now
            mine = [t for t in self.in_flight.get(session, []) if now - t < IN_FLIGHT_TTL_S]
            ours = [(t, s) for t, s in self.client_in_flight.get(client, []) if now - t < IN_FLIGHT_TTL_S]
            if len(mine) >= SESSION_IN_FLIGHT or len(ours) >= CLIENT_IN_FLIGHT:
                self.in_flight[session], self.client_in_flight[client] = mine, ours
                return "too_fast"
            self.in_flight[session] = mine + [now]
            self.client_in_flight[client] = ours + [(now, session)]
        return None

    def finished(self, client: str, session: str) -> None:
        """One event of `session` completed (or was refused after all): it no longer counts."""
        with self.lock:
            mine = self.in_flight.get(session)
            if mine:
                mine.pop(0)
            ours = self.client_in_flight.get(client, [])
            for index, (_, owner) in enumerate(ours):
                if owner == session:
                    ours.pop(index)
                    break

    def upload(self, client: str, nbytes: int) -> bool:
        now = time.monotonic()
        with self.lock:
            recent = [(t, n) for t, n in self.uploads.get(client, []) if now - t < WINDOW_S]
            if sum(n for _, n in recent) + nbytes > UPLOAD_BYTES_PER_WINDOW:
                self.uploads[client] = recent
                return False
            self.uploads[client] = recent + [(now, nbytes)]
        return True

    def _forget_old(self, now: float) -> None:
        if now - self.cleaned < 60:
            return
        self.cleaned = now
        for session in [s for s, t in self.seen.items() if now - t > WINDOW_S]:
            self.seen.pop(session)
            self.in_flight.pop(session, None)
        for client in [c for c, joins in self.client_in_flight.items() if not joins]:
            self.client_in_flight.pop(client)


def client_of(scope) -> str:
    """The client's address: the first X-Forwarded-For hop behind a proxy (Spaces), else the socket's."""
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            return value.decode("latin-1").split(",")[0].strip()
    client = scope.get("client")
    return client[0] if client else "?"


def lang_of_scope(scope) -> str:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
    return text.lang_of(type("Request", (), {"headers": headers})())


# ---------------------------------------------------------------- Gradio's own messages, in the page's language


def ours(title: str | None) -> bool:
    """Whether an error in the event stream came from our event guard (its title is one of our words)."""
    return bool(title) and title != "Error" and (title in text.KO.values() or title in text.EN.values())


def translate_stream_chunk(chunk: str, lang: str) -> str:
    """One `data: {...}` message of Gradio's event stream, with a failure not of ours said in `lang`."""
    if not chunk.startswith("data:") or '"process_completed"' not in chunk:
        return chunk
    try:
        message = json.loads(chunk[5:].strip())
    except ValueError:
        return chunk
    if message.get("success") is not False or ours(message.get("title")):
        return chunk
    output = message.get("output") or {}
    if output.get("error") is None:
        return chunk
    message["output"] = {**output, "error": TEXT.say(lang, "bad_request")}
    message["title"] = TEXT.say(lang, "title")
    return "data: " + json.dumps(message, ensure_ascii=False)


def refusal_for(status: int) -> str:
    if status == 413:
        return "too_big"
    if status in (503, 429):
        return "busy"
    return "bad_request"


# ---------------------------------------------------------------- the middleware


def kind_of(scope, fn_index) -> str | None:
    """The queue (core.events kind) of the event a click joins: its Gradio concurrency group."""
    get_blocks = getattr(scope.get("app"), "get_blocks", None)
    if get_blocks is None or not isinstance(fn_index, int):
        return None
    return getattr(get_blocks().fns.get(fn_index), "concurrency_id", None)


def with_ticket(scope, ticket: int | None):
    """The join's scope with its fairness ticket as a header (one a client sent itself is dropped)."""
    name = fairness.TICKET_HEADER.encode()
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() != name]
    if ticket is not None:
        headers.append((name, str(ticket).encode()))
    return {**scope, "headers": headers}


class Streams:
    """The server-path webcam streams under way: one per session, and none idle past STREAM_IDLE_S."""

    def __init__(self):
        self.live: dict[str, dict] = {}  # event id -> {"session", "scope", "prefix", "last", "started"}
        self.watcher: asyncio.Task | None = None
        self.closed_idle = self.replaced = 0

    def started(self, event_id: str, session: str, scope, prefix: str) -> list[str]:
        """Record a new stream; the ids of the session's older ones (to close)."""
        older = [e for e, s in self.live.items() if s["session"] == session]
        now = time.monotonic()
        self.live[event_id] = {"session": session, "scope": scope, "prefix": prefix, "last": now, "started": now}
        self.replaced += len(older)
        return older

    def frame(self, event_id: str) -> None:
        if event_id in self.live:
            self.live[event_id]["last"] = time.monotonic()

    def idle(self) -> list[str]:
        now = time.monotonic()
        return [e for e, s in self.live.items() if now - s["last"] > STREAM_IDLE_S or now - s["started"] > 600]


class Guard:
    def __init__(self, app, ledger: Ledger | None = None):
        self.app = app
        self.ledger = ledger or Ledger()
        self.streams = Streams()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, lang = scope["path"], lang_of_scope(scope)
        if scope["method"] == "POST" and JOIN.match(path):
            await self._join(scope, receive, send, lang)
        elif scope["method"] == "POST" and UPLOAD.match(path):
            await self._upload(scope, receive, send, lang)
        elif STREAM.match(path):
            session = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
            client = client_of(scope)
            await self.app(scope, receive, _StreamTranslator(send, lang, lambda: self.ledger.finished(client, session)))
        elif scope["method"] == "POST" and (frame := FRAME.match(path)):
            if frame.group(3):
                self.streams.live.pop(frame.group(2), None)
            else:
                self.streams.frame(frame.group(2))
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _join(self, scope, receive, send, lang):
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_JOIN_BODY:
                await refuse(send, 413, TEXT.say(lang, "too_big", limit="4 MB"))
                return
        try:
            request = json.loads(body or b"{}")
            session, fn_index = str(request.get("session_hash") or ""), request.get("fn_index")
        except (ValueError, AttributeError):
            session, fn_index = "", None
        refusal = self.ledger.join(client_of(scope), session) if session else None
        if refusal is not None:
            await refuse(send, 429, TEXT.say(lang, refusal))
            return
        kind = kind_of(scope, fn_index) if session else None
        scope = with_ticket(scope, fairness.ticket_for_join(session, kind))
        if kind == STREAM_KIND:
            send = _EventIdReader(send, lambda event_id: self._stream_started(event_id, session, scope))
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        answer = _ErrorTranslator(send, lang)
        await self.app(scope, replay, answer)
        if answer.status >= 400:  # Gradio refused it after all: it will never complete
            self.ledger.finished(client_of(scope), session)

    def _stream_started(self, event_id: str, session: str, scope) -> None:
        prefix = scope["path"][: -len("/queue/join")]
        for older in self.streams.started(event_id, session, scope, prefix):
            self._close_later(older)
        if self.streams.watcher is None or self.streams.watcher.done():
            self.streams.watcher = asyncio.get_running_loop().create_task(self._watch_streams())

    def _close_later(self, event_id: str) -> None:
        stream = self.streams.live.pop(event_id, None)
        if stream is not None:
            asyncio.get_running_loop().create_task(self._close_stream(stream, event_id))

    async def _close_stream(self, stream: dict, event_id: str) -> None:
        """Gradio's own route for a webcam that stops (what the browser calls), called from inside."""
        path = f"{stream['prefix']}/stream/{event_id}/close"
        scope = {**stream["scope"], "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [(b"content-length", b"0")]}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def discard(message):
            return None

        await self.app(scope, receive, discard)

    async def _watch_streams(self) -> None:
        while self.streams.live:
            await asyncio.sleep(1.0)
            for event_id in self.streams.idle():
                self.streams.closed_idle += 1
                self._close_later(event_id)

    async def _upload(self, scope, receive, send, lang):
        length = next((int(v) for k, v in scope["headers"] if k == b"content-length" and v.isdigit()), 0)
        if not self.ledger.upload(client_of(scope), length):
            await refuse(send, 429, TEXT.say(lang, "upload_budget"))
            return
        await self.app(scope, receive, _ErrorTranslator(send, lang))


async def refuse(send, status: int, words: str) -> None:
    body = json.dumps({"detail": words, "error": words}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _ErrorTranslator:
    """Passes an answer on, except that an error answer's body becomes a message in the page's language."""

    def __init__(self, send, lang: str):
        self.send, self.lang, self.status = send, lang, 200

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.status >= 400:
                return  # sent with the new body below
        elif message["type"] == "http.response.body" and self.status >= 400:
            if message.get("more_body"):
                return
            words = TEXT.say(self.lang, refusal_for(self.status), limit=MAX_UPLOAD_TEXT)
            await refuse(self.send, self.status, words)
            return
        await self.send(message)


class _EventIdReader:
    """Passes a join's answer on and hands the event id it carries to `found`."""

    def __init__(self, send, found):
        self.send, self.found, self.status = send, found, 200

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body" and self.status == 200 and message.get("body"):
            try:
                event_id = json.loads(message["body"]).get("event_id")
            except (ValueError, AttributeError):
                event_id = None
            if event_id:
                self.found(str(event_id))
        await self.send(message)


class _StreamTranslator:
    """Rewrites the failed `process_completed` messages of Gradio's event stream that are not ours."""

    def __init__(self, send, lang: str, completed=lambda: None):
        self.send, self.lang, self.pending, self.completed = send, lang, "", completed

    async def __call__(self, message):
        if message["type"] == "http.response.start":
            message["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
        elif message["type"] == "http.response.body":
            data = self.pending + message.get("body", b"").decode("utf-8")
            *complete, self.pending = data.split("\n\n")
            if not message.get("more_body"):
                complete, self.pending = complete + ([self.pending] if self.pending else []), ""
            for chunk in complete:
                if '"process_completed"' in chunk:
                    self.completed()
            out = "".join(translate_stream_chunk(chunk, self.lang) + "\n\n" for chunk in complete)
            message = {**message, "body": out.encode("utf-8")}
        await self.send(message)


def middleware() -> list:
    from starlette.middleware import Middleware

    return [Middleware(Guard)]
