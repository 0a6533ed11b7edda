"""Webcams on the server path for the load generator (bench/load.py): N webcams streaming frames at a fixed
rate, speaking Gradio's stream protocol (queue/join, then /stream/<event_id> per frame, answers read from the
event stream) without a browser, so that 10 webcams cost the load generator little."""
from __future__ import annotations

import base64
import io
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image


@dataclass
class WebcamResult:
    sent: int = 0
    answered: int = 0  # frames the server answered with a picture
    skipped: int = 0  # frames the server dropped (over its webcam budget) and answered at once
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def frame_payload(jpeg: bytes) -> dict:
    """A webcam frame as Gradio's streaming image sends it (a data URL)."""
    return {"url": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()}


@dataclass
class _WebcamStreams:
    """What the webcams of one `webcams` call share: the stream event, the frames, the clock and the tally."""

    url: str  # without a trailing slash
    fn_index: int
    trigger_id: int | None
    controls: list  # the event's other inputs, at the page's starting values
    payloads: list[dict]  # the frames, as the browser sends them
    fps: float
    deadline: float
    stop: threading.Event
    result: WebcamResult = field(default_factory=WebcamResult)

    def frame(self, index: int) -> list:
        return [self.payloads[index % len(self.payloads)], *self.controls]

    def stream(self, index: int) -> None:
        """One webcam: join the queue with its first frame, then send one frame every 1/fps s while a
        reader thread takes the answers from the event stream."""
        session = uuid.uuid4().hex[:11]
        with httpx.Client(timeout=60) as http:
            body = {"data": self.frame(index), "fn_index": self.fn_index, "trigger_id": self.trigger_id,
                    "session_hash": session, "event_data": None}
            joined = http.post(f"{self.url}/gradio_api/queue/join", json=body)
            joined.raise_for_status()
            event_id = joined.json()["event_id"]
            reader = threading.Thread(target=self.read_answers, args=(http, session), daemon=True)
            reader.start()
            self.send_frames(http, body, event_id, index, reader)
            http.post(f"{self.url}/gradio_api/stream/{event_id}/close")
            reader.join(timeout=30)

    def send_frames(self, http, body: dict, event_id: str, index: int, reader: threading.Thread) -> None:
        n = 0
        while time.perf_counter() < self.deadline and not self.stop.is_set() and reader.is_alive():
            time.sleep(1.0 / self.fps)
            n += 1
            try:
                http.post(f"{self.url}/gradio_api/stream/{event_id}", json={**body, "data": self.frame(index + n)})
                with self.result.lock:
                    self.result.sent += 1
            except httpx.HTTPError as exc:
                with self.result.lock:
                    self.result.errors.append(repr(exc)[:200])

    def read_answers(self, http, session: str) -> None:
        """Every answer of this webcam's event stream, until the server says the stream is completed."""
        with httpx.Client(timeout=None) as sse, sse.stream("GET", f"{self.url}/gradio_api/queue/data",
                                                           params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") in ("process_streaming", "process_generating", "process_completed"):
                    self.take_answer(http, message)
                if message.get("msg") == "process_completed":
                    return

    def take_answer(self, http, message: dict) -> None:
        """Count an answer (a picture, or a dropped frame's empty answer) and download its picture as a
        browser does; a stream that ends in failure is an error."""
        output = (message.get("output") or {}).get("data") or []
        picture = output[0] if output else None
        has_picture = isinstance(picture, dict) and bool(picture.get("url"))
        with self.result.lock:
            if has_picture:
                self.result.answered += 1
            else:
                self.result.skipped += 1
        if has_picture:
            http.get(picture["url"] if picture["url"].startswith("http") else self.url + picture["url"])
        if message.get("msg") == "process_completed" and not message.get("success", True):
            with self.result.lock:
                self.result.errors.append(str(message.get("output"))[:200])


def webcams(url: str, api_name: str, frames: list[bytes], count: int, fps: float, seconds: float,
            stop: threading.Event | None = None) -> WebcamResult:
    """`count` webcams each sending a frame every 1/fps s for `seconds` to the stream event `api_name`
    (its other inputs at the page's starting values); answers (pictures) are downloaded like a browser does."""
    config = httpx.get(url.rstrip("/") + "/config", timeout=30).json()
    fn_index, trigger_id, controls = _stream_event(config, api_name)
    streams = _WebcamStreams(url.rstrip("/"), fn_index, trigger_id, controls, [frame_payload(f) for f in frames],
                             fps, time.perf_counter() + seconds, stop or threading.Event())
    threads = [threading.Thread(target=streams.stream, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return streams.result


def _stream_event(config: dict, api_name: str) -> tuple[int, int, list]:
    """(fn_index, trigger id, starting values of the inputs after the first) of the event `api_name`."""
    values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    for index, dependency in enumerate(config["dependencies"]):
        if dependency.get("api_name") == api_name:
            trigger = dependency["targets"][0][0] if dependency.get("targets") else None
            return dependency.get("id", index), trigger, [values.get(i) for i in dependency["inputs"][1:]]
    raise KeyError(f"no event with api_name {api_name!r}")


def jpeg_frames(paths: list[Path], size=(640, 480)) -> list[bytes]:
    out = []
    for path in paths:
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize(size).save(buffer, format="JPEG", quality=80)
        out.append(buffer.getvalue())
    return out
