"""The one way an event of the app is registered: `events.on(trigger, fn, inputs, outputs, kind=...)`.

At registration, and nowhere else, every event gets:
- its queue: the concurrency group and limit of its kind (`KINDS`), so quick events never wait behind
  models, and heavy jobs never take the slots of model events;
- the page's language: an event function that declares a keyword parameter `lang` gets "ko" or "en"
  (from the request's Accept-Language; Korean when there is none). It never sees gr.Request;
- the error guard: a `core.text.Problem` becomes a Gradio error in that language; anything unexpected
  (out of memory included) becomes a short message, and the server keeps serving;
- the result cache (`cache=True`, for functions of their inputs alone): identical requests are computed
  once, and requests that arrive while the same work is under way join it (single-flight); results
  count against the app's one memory budget (`core.memory`);
- its outputs prepared once (`core.outputs`): pictures encoded, charts serialised, files complete
  before anyone can read them;
- on a ZeroGPU Space (the `spaces` package present), a GPU for just as long as its kind needs, asked
  for only when the work is really done (never for a cached answer, never for a webcam frame).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import inspect
import logging
import math
import os
import threading
import time
import typing
from pathlib import Path
from typing import Any, Callable

import numpy as np

from core import memory, text
from core import outputs as delivery

log = logging.getLogger("dlclass.events")

TEXT = text.table("events", {
    "unexpected": ("처리 중 예상하지 못한 문제가 생겼습니다 ({detail}). 입력을 바꿔 다시 해 보세요. 다른 탭은 그대로 쓸 수 있습니다.",
                   "Something unexpected went wrong ({detail}). Try again with other input; the other tabs keep working."),
    "oom": ("메모리가 부족합니다. 이미지 크기·배치 크기·단계 수를 줄이거나, 잠시 뒤에 다시 해 보세요.",
            "Out of memory. Use a smaller image size, batch size or number of steps, or try again in a moment."),
    "oom_title": ("메모리 부족", "Out of memory"),
})


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of event: its queue (Gradio concurrency group and limit) and its ZeroGPU duration."""

    name: str
    concurrency_limit: int
    gpu_seconds: int | None  # None: never asks for a GPU
    time_limit: float | None = None  # streams only: how long one webcam may hold a slot


# Limits measured on the 2-core Space-like machine (bench/bench_classroom.py, `python -m bench.run`):
# - quick: numpy and drawing, 2-60 ms, mostly holding the GIL: more than 4 at once only adds waiting.
# - model: one forward pass (and Grad-CAM): torch already uses both cores for one; 2 lets the drawing of
#   one overlap the forward of the next without making 30 requests fight over the cores.
# - stream: webcam frames on the server path (the browser path costs the server nothing): 2 webcams
#   at a time, each for at most 60 s, and frames past the server's budget are dropped (`STREAM_FPS`).
# - diffusion, training, bench, video: one job of each at a time; they have their own groups, so they never
#   take a model event's slot.
# ZeroGPU: the smallest realistic call: a CNN/ViT/YOLO forward on a GPU takes milliseconds, a model
# load a few seconds; ZeroGPU refuses a call asking for more than the visitor's remaining quota.
KINDS = {
    "quick": Kind("quick", 4, None),
    "model": Kind("model", 2, 20),
    "stream": Kind("stream", 2, None, time_limit=60),
    "diffusion": Kind("diffusion", 1, 60),
    "training": Kind("training", 1, 90),
    "bench": Kind("bench", 1, 60),
    "video": Kind("video", 1, 60),  # a whole uploaded video through a model: seconds, one at a time
    # A tab's worked example when a student opens it (core.page.on_open): computed at warm-up, so nearly
    # always an answer from the cache, which must not queue behind one-slot kinds (training, bench) when
    # 30 students open the page at once. The event's own kind still sets its ZeroGPU duration.
    "open": Kind("open", 8, None),
}
# The server-path webcam budget: frames per second for all streams together (about 40% of the
# 2 cores at 30 ms per yolo11n frame); a frame over the budget is skipped at once.
STREAM_FPS = 12.0

RESULTS = memory.Store("results", size=memory.nbytes, max_entries=2000)

# Gradio's queue recomputes a pandas summary of its past events after every event (for its /monitoring
# page, which this app does not use): measured here 11 ms of CPU per event with 150 events recorded and
# 17 ms with 10,000, paid under the one GIL that serves every student: more than half of a cached
# answer's time on the server. Gradio's own settings make it recompute once per 1,000 events, over at
# most the last 1,000.
GRADIO_QUEUE_SETTINGS = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000", "GRADIO_ANALYTICS_MAX_EVENTS": "1000"}


def apply_gradio_queue_settings() -> None:
    """Call before `Blocks.queue()` (Gradio reads these when it creates the queue). A value the person
    running the app set in the environment wins."""
    for name, value in GRADIO_QUEUE_SETTINGS.items():
        os.environ.setdefault(name, value)

_ZERO_GPU = importlib.util.find_spec("spaces") is not None
REGISTERED: list["Registered"] = []


# ---------------------------------------------------------------- errors in the page's language


def is_out_of_memory(exc: BaseException) -> bool:
    """The one out-of-memory check: Python's MemoryError, torch's OutOfMemoryError, or a backend's message."""
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover
        pass
    return "out of memory" in str(exc).lower()


def as_gradio_error(exc: BaseException, lang: str):
    """Any exception from an event -> the gr.Error the browser shows, in `lang`."""
    import gradio as gr

    if isinstance(exc, text.Problem):
        return gr.Error(exc.say(lang), title=exc.title.say(lang), print_exception=False)
    if isinstance(exc, gr.Error):
        return exc
    if is_out_of_memory(exc):
        return gr.Error(TEXT.say(lang, "oom"), title=TEXT.say(lang, "oom_title"), print_exception=False)
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    return gr.Error(TEXT.say(lang, "unexpected", detail=detail), title=text.say(lang, "core.error"),
                    print_exception=False)


# ---------------------------------------------------------------- the result cache's key


_file_digests: dict[tuple, str] = {}
_file_digests_lock = threading.Lock()


def _file_digest(path: Path) -> str:
    """Content hash of a file (memoised by path, size and mtime): the same photo uploaded by 30 students
    lands in different places but is the same input."""
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns)
    with _file_digests_lock:
        digest = _file_digests.get(memo)
    if digest is None:
        hasher = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        with _file_digests_lock:
            if len(_file_digests) > 10_000:
                _file_digests.clear()
            _file_digests[memo] = digest
    return digest


def fingerprint(value: Any) -> Any:
    """A hashable stand-in for an input value: files by content, arrays by bytes, containers recursively."""
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str) and len(value) < 4096 and ("/" in value or "\\" in value):
            path = Path(value)
            try:
                if path.is_file():
                    return ("file", _file_digest(path))
            except OSError:
                pass
        return value
    if isinstance(value, float):
        return ("float", repr(value)) if not math.isnan(value) else ("float", "nan")
    if isinstance(value, (bytes, bytearray)):
        return ("bytes", hashlib.blake2b(bytes(value), digest_size=16).hexdigest())
    if isinstance(value, np.ndarray):
        return ("array", value.shape, str(value.dtype),
                hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).hexdigest())
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), fingerprint(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(fingerprint(v) for v in value))
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "tobytes"):
        return fingerprint(np.asarray(value))
    try:
        from PIL import Image

        if isinstance(value, Image.Image):
            return ("pil", value.mode, value.size, hashlib.blake2b(value.tobytes(), digest_size=16).hexdigest())
    except ImportError:  # pragma: no cover
        pass
    return ("repr", repr(value))


# ---------------------------------------------------------------- the server-path webcam budget


class FrameBudget:
    """A token bucket of frames per second shared by every server-path webcam: a frame that arrives when
    the bucket is empty is dropped at once, so webcams can never take the CPU from students' clicks."""

    def __init__(self, per_second: float, burst: float | None = None):
        self.per_second = per_second
        self.capacity = burst or max(1.0, per_second / 4)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()
        self.taken = self.dropped = 0

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
            self.updated = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self.taken += 1
                return True
            self.dropped += 1
            return False


FRAMES = FrameBudget(STREAM_FPS)


# ---------------------------------------------------------------- registration


@dataclasses.dataclass
class Registered:
    """An event as registered: its function (called like Gradio calls it, minus the request) and its kind."""

    name: str
    fn: Callable[..., Any]  # the event function as the lesson wrote it
    kind: Kind
    cache: bool
    wants_lang: bool
    run: Callable[..., Any]  # run(*args, lang=...) -> delivered outputs (cached and guarded)
    compute: Callable[..., Any]  # compute(*args, lang=...) -> outputs prepared, never cached (bench: the work itself)
    dependency: Any = None
    once: bool = False  # run takes the "already opened" flag first (see `on(once=...)`)


def _skip():
    import gradio as gr

    return gr.skip()


def _listify(components) -> list:
    if components is None:
        return []
    if isinstance(components, (list, tuple)):
        return list(components)
    if isinstance(components, set):
        raise TypeError("pass inputs/outputs as a list: their order matters here")
    return [components]


def _special(param: inspect.Parameter, hints: dict) -> bool:
    """Parameters Gradio fills itself (event data by annotation, progress by default value)."""
    import gradio as gr

    hint = hints.get(param.name)
    if isinstance(param.default, gr.Progress):
        return True
    return isinstance(hint, type) and issubclass(hint, gr.EventData)


def _signature_for_gradio(fn: Callable, n_inputs: int) -> tuple[inspect.Signature, dict, bool]:
    """The wrapper's signature: the first n_inputs positional parameters of `fn` and the ones Gradio
    fills itself (event data, progress), then `request: gr.Request` (Gradio injects it by annotation);
    `lang` is not among them (the wrapper fills it)."""
    import gradio as gr

    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    wants_lang = "lang" in sig.parameters
    kept, annotations, n_plain = [], {}, 0
    for param in sig.parameters.values():
        if param.name == "lang" or param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if _special(param, hints):
            kept.append(param.replace(kind=param.POSITIONAL_OR_KEYWORD))
            annotations[param.name] = hints[param.name] if param.name in hints else param.annotation
        elif n_plain < n_inputs:
            kept.append(param.replace(kind=param.POSITIONAL_OR_KEYWORD, annotation=inspect.Parameter.empty))
            n_plain += 1
    if n_plain < n_inputs and not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
        raise TypeError(f"{fn.__qualname__} takes {n_plain} inputs, {n_inputs} given")
    while n_plain < n_inputs:  # fn(*args): name the extra inputs
        kept.append(inspect.Parameter(f"input_{n_plain}", inspect.Parameter.POSITIONAL_OR_KEYWORD))
        n_plain += 1
    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                annotation=gr.Request)
    annotations["request"] = gr.Request
    # Parameters with defaults may not precede ones without: drop defaults where needed.
    fixed, seen_default = [], False
    for param in kept + [request]:
        if param.default is not inspect.Parameter.empty:
            seen_default = True
        elif seen_default:
            param = param.replace(default=None)
        fixed.append(param)
    return inspect.Signature(fixed), annotations, wants_lang


def on(triggers, fn: Callable, inputs=None, outputs=None, *, kind: str, cache: bool = False,
       cache_key: Callable[[], Any] | None = None, api_name: str | None = None, share_queue_of: str | None = None,
       once=None, name: str | None = None, **gradio_kwargs):
    """Register `fn` on `triggers` (an event listener such as `button.click`, or a list of them).

    kind: one of KINDS. cache: the outputs depend on the inputs (and the page's language) alone, or on
    them and on what `cache_key()` returns (e.g. which model is on this machine: a model downloaded
    while the app runs then gets fresh answers).
    share_queue_of: another kind whose queue this event uses (its own kind still sets the GPU duration): "open" for the
    worked examples of core.page.
    once: a per-student `gr.State(False)`: the event runs the first time it fires and sets the state; later
    triggers change nothing (core.page's worked example: a tab opened again keeps what the student did).
    name: the event's name in logs and REGISTERED (default: api_name, else the function's name).
    The result cache is keyed by the function, its inputs and the kind of its outputs, not by the trigger:
    the worked example on opening and a click on the same setting share one result.
    Other keyword arguments go to Gradio as they are (api_visibility, show_progress, stream_every, ...).
    Returns Gradio's dependency (for .then / .success); the `Registered` record is in REGISTERED.
    """
    event_kind = KINDS[kind]
    inputs_list, outputs_list = _listify(inputs), _listify(outputs)
    signature, annotations, wants_lang = _signature_for_gradio(fn, len(inputs_list))
    name = name or api_name or getattr(fn, "__qualname__", "event")
    is_generator = inspect.isgeneratorfunction(fn)
    compute = fn
    if _ZERO_GPU and event_kind.gpu_seconds:
        import spaces

        compute = spaces.GPU(duration=event_kind.gpu_seconds)(fn)

    def prepared(result):
        """fn's return value -> each output prepared once (encoded pictures, serialised charts)."""
        if len(outputs_list) == 1:
            return delivery.prepare(result, outputs_list[0])
        if not isinstance(result, (tuple, list)):
            return result
        return tuple(delivery.prepare(value, component) for value, component in zip(result, outputs_list))

    def call(args: tuple, lang: str):
        kwargs = {"lang": lang} if wants_lang else {}
        return compute(*args, **kwargs)

    def skipped():
        """Nothing changes on screen: a fresh skip per output (Gradio may edit the dicts it is given)."""
        return tuple(_skip() for _ in outputs_list) if len(outputs_list) != 1 else _skip()

    # What changes the prepared outputs besides fn and its inputs: the kind (and picture format) of each output.
    output_kinds = tuple((type(c).__name__, getattr(c, "format", None)) for c in outputs_list)

    def key_of(args: tuple, lang: str) -> tuple:
        extra = cache_key() if cache_key is not None else None
        return (id(fn), output_kinds, lang if wants_lang else None, fingerprint(args), extra)

    if is_generator:
        def run(*args, lang: str = text.DEFAULT_LANG):
            if cache:
                key = key_of(args, lang)
                hit = RESULTS.get(key)
                if hit is not None:
                    yield delivery.deliver(hit)
                    return
            last = None
            for result in call(args, lang):
                last = prepared(result)
                yield delivery.deliver(last)
            if cache and last is not None:
                RESULTS.put(key_of(args, lang), last)
    elif kind == "stream":
        def run(*args, lang: str = text.DEFAULT_LANG):
            if not FRAMES.take():  # over the server's webcam budget: drop this frame, answer at once
                return skipped()
            return delivery.deliver(prepared(call(args, lang)))
    else:
        def run(*args, lang: str = text.DEFAULT_LANG):
            if cache:
                return delivery.deliver(RESULTS.get_or_compute(key_of(args, lang),
                                                              lambda: prepared(call(args, lang))))
            return delivery.deliver(prepared(call(args, lang)))

    if once is not None:  # the state rides in front of the inputs and after the outputs
        ungated = run

        def as_tuple(result) -> tuple:
            return tuple(result) if len(outputs_list) != 1 else (result,)

        if is_generator:
            def run(already, *args, lang: str = text.DEFAULT_LANG):
                if already:
                    yield (*as_tuple(skipped()), True)
                    return
                for result in ungated(*args, lang=lang):
                    yield (*as_tuple(result), True)
        else:
            def run(already, *args, lang: str = text.DEFAULT_LANG):
                return (*as_tuple(skipped() if already else ungated(*args, lang=lang)), True)
        signature = signature.replace(parameters=[inspect.Parameter("already", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                                  *signature.parameters.values()])

    # Gradio passes the request positionally, as the last argument (its place in `signature`).
    if is_generator:
        def wrapper(*args):
            *args, request = args
            lang = text.lang_of(request)
            try:
                yield from run(*args, lang=lang)
            except Exception as exc:
                _log_unexpected(name, exc)
                raise as_gradio_error(exc, lang) from None
    else:
        def wrapper(*args):
            *args, request = args
            lang = text.lang_of(request)
            try:
                return run(*args, lang=lang)
            except Exception as exc:
                _log_unexpected(name, exc)
                raise as_gradio_error(exc, lang) from None

    functools.update_wrapper(wrapper, fn, assigned=("__module__", "__name__", "__qualname__", "__doc__"))
    wrapper.__signature__ = signature
    wrapper.__annotations__ = annotations
    wrapper.__dlclass_event__ = True

    gradio_inputs = [once, *inputs_list] if once is not None else inputs_list
    gradio_outputs = [*outputs_list, once] if once is not None else outputs_list
    queue_kind = KINDS[share_queue_of] if share_queue_of is not None else event_kind
    queue_settings = dict(concurrency_id=queue_kind.name, concurrency_limit=queue_kind.concurrency_limit)
    if queue_kind.time_limit is not None:
        queue_settings["time_limit"] = queue_kind.time_limit
    if gradio_kwargs.get("queue") is False:
        queue_settings = {}
    listeners = triggers if isinstance(triggers, (list, tuple)) else [triggers]
    if api_name is not None:
        gradio_kwargs["api_name"] = api_name
    if len(listeners) == 1:
        dependency = listeners[0](wrapper, gradio_inputs or None, gradio_outputs or None, **queue_settings,
                                  **gradio_kwargs)
    else:
        import gradio as gr

        dependency = gr.on(listeners, wrapper, gradio_inputs or None, gradio_outputs or None, **queue_settings,
                           **gradio_kwargs)
    def compute_only(*args, lang: str = text.DEFAULT_LANG):
        return prepared(call(args, lang))

    record = Registered(name, fn, event_kind, cache, wants_lang, run, compute_only, dependency, once is not None)
    REGISTERED.append(record)
    dependency.registered = record
    return dependency


def _log_unexpected(name: str, exc: BaseException) -> None:
    import gradio as gr

    if not isinstance(exc, (text.Problem, gr.Error)):
        log.error("event %s failed", name, exc_info=exc)


def cache_report() -> dict:
    """What the result cache holds (entries, bytes, hits, misses): for logs and the bench."""
    return {"entries": len(RESULTS), "bytes": RESULTS.bytes(), "hits": RESULTS.hits, "misses": RESULTS.misses,
            "evicted": RESULTS.evicted, "budget_bytes": RESULTS.budget.limit_bytes}

