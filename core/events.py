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

Each of these is one small wrapper (core/event_wrappers.py, core/event_cache.py); `on` composes them.
The events an app build registers belong to that build (`registering_into`, core.page.Page.registered).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import importlib.util
import inspect
import os
from typing import Any, Callable

from core import event_cache, fairness
from core import event_wrappers as wrappers
# What other modules use from here: the out-of-memory check, the result cache and the webcam budget.
from core.event_cache import RESULTS, fingerprint  # noqa: F401
from core.event_wrappers import FrameBudget, as_gradio_error, is_out_of_memory  # noqa: F401


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

# Gradio's queue recomputes a pandas summary of its past events after every event (for its /monitoring
# page, which this app does not use): measured here 11 ms of CPU per event with 150 events recorded and
# 17 ms with 10,000, paid under the one GIL that serves every student: more than half of a cached
# answer's time on the server. Gradio's own settings make it recompute once per 1,000 events, over at
# most the last 1,000.
GRADIO_QUEUE_SETTINGS = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": "1000", "GRADIO_ANALYTICS_MAX_EVENTS": "1000"}


log = logging.getLogger("dlclass.events")

def apply_gradio_queue_settings() -> None:
    """Call before `Blocks.queue()` (Gradio reads these when it creates the queue). A value the person
    running the app set in the environment wins."""
    for name, value in GRADIO_QUEUE_SETTINGS.items():
        os.environ.setdefault(name, value)


_ZERO_GPU = importlib.util.find_spec("spaces") is not None
FRAMES = FrameBudget(STREAM_FPS)


# ---------------------------------------------------------------- the registry


@dataclasses.dataclass
class Registered:
    """An event as registered: its function (called like Gradio calls it, minus the request) and its kind."""

    name: str
    fn: Callable[..., Any]  # the event function as the lesson wrote it
    kind: Kind
    cache: bool
    wants_lang: bool
    run: Callable[..., Any]  # run(*args, lang=...) -> delivered outputs (cached; errors raised as they are)
    compute: Callable[..., Any]  # compute(*args, lang=...) -> outputs prepared, never cached (bench: the work itself)
    dependency: Any = None
    once: bool = False  # run takes the "already opened" flag first (see `on(once=...)`)


# Events registered outside an app's build: a test's or a bench's own gr.Blocks.
REGISTERED: list[Registered] = []
_registry: contextvars.ContextVar[list[Registered]] = contextvars.ContextVar("dlclass_registry")


@contextlib.contextmanager
def registering_into(registry: list[Registered]):
    """Events registered inside the block go to `registry` (the app's own: app.build_app passes its
    Page's), not to REGISTERED: building the app twice in one process doubles nothing."""
    token = _registry.set(registry)
    try:
        yield registry
    finally:
        _registry.reset(token)


# ---------------------------------------------------------------- registration


def _listify(components) -> list:
    if components is None:
        return []
    if isinstance(components, (list, tuple)):
        return list(components)
    if isinstance(components, set):
        raise TypeError("pass inputs/outputs as a list: their order matters here")
    return [components]


def _queue_settings(kind: Kind, gradio_kwargs: dict) -> dict:
    """The Gradio queue of a kind: its concurrency group, limit and (streams) time limit."""
    if gradio_kwargs.get("queue") is False:
        return {}
    settings = dict(concurrency_id=kind.name, concurrency_limit=kind.concurrency_limit)
    if kind.time_limit is not None:
        settings["time_limit"] = kind.time_limit
    return settings


def _listen(triggers, answer: Callable, inputs: list, outputs: list, **settings):
    """Gradio's own registration: one listener's method (`button.click`), or gr.on for several."""
    listeners = triggers if isinstance(triggers, (list, tuple)) else [triggers]
    if len(listeners) == 1:
        return listeners[0](answer, inputs or None, outputs or None, **settings)
    import gradio as gr

    return gr.on(listeners, answer, inputs or None, outputs or None, **settings)


def _computed(fn: Callable, kind: Kind, outputs: list, wants_lang: bool) -> Callable:
    """The work itself, compute(*args, lang=...): fn (on a GPU where ZeroGPU lends one), outputs prepared."""
    on_gpu = wrappers.on_gpu(fn, kind.gpu_seconds, _ZERO_GPU)
    call = wrappers.speaking(on_gpu, wants_lang=wants_lang, is_generator=inspect.isgeneratorfunction(fn))
    return wrappers.prepared(call, outputs)


def on(triggers, fn: Callable, inputs=None, outputs=None, *, kind: str, cache: bool = False,
       cache_key: Callable[[], Any] | None = None, api_name: str | None = None, share_queue_of: str | None = None,
       once=None, name: str | None = None, **gradio_kwargs):
    """Register `fn` on `triggers` (an event listener such as `button.click`, or a list of them).

    kind: one of KINDS. cache: the outputs depend on the inputs (and the page's language) alone, or on
    them and on what `cache_key()` returns (e.g. which model is on this machine: a model downloaded
    while the app runs then gets fresh answers). A webcam frame (kind "stream") is never cached.
    share_queue_of: another kind whose queue this event uses (its own kind still sets the GPU duration): "open" for the
    worked examples of core.page.
    once: a per-student `gr.State(False)`: the event runs the first time it fires and sets the state; later
    triggers change nothing (core.page's worked example: a tab opened again keeps what the student did).
    name: the event's name in logs and the registry (default: api_name, else the function's name).
    The result cache is keyed by the function, its inputs and the kind of its outputs, not by the trigger:
    the worked example on opening and a click on the same setting share one result.
    Other keyword arguments go to Gradio as they are (api_visibility, show_progress, stream_every, ...).
    Returns Gradio's dependency (for .then / .success); its `registered` is the `Registered` record.
    """
    if cache and kind == "stream":
        raise ValueError("webcam frames are never cached: each one is new")
    event_kind, inputs, outputs = KINDS[kind], _listify(inputs), _listify(outputs)
    name = name or api_name or getattr(fn, "__qualname__", "event")
    wants_lang = wrappers.takes_lang(fn)
    compute = _computed(fn, event_kind, outputs, wants_lang)
    key = event_cache.request_key(fn, outputs, wants_lang, cache_key)
    flag = [once] if once is not None else []
    # A worked example on opening (`once`) is pinned in the result cache: no stream of other requests evicts it.
    run = wrappers.delivered(event_cache.cached(compute, key, pin=bool(flag)) if cache else compute)
    if kind == "stream":
        run = wrappers.within_budget(run, FRAMES, len(outputs))
    run = wrappers.unavailable_in_place(run, outputs)
    if flag:
        run = wrappers.once_per_session(run, len(outputs))
    answer = wrappers.lang_from_request(wrappers.guarded(run, name))
    queue_kind = share_queue_of or kind
    if queue_kind in fairness.ONE_SLOT_KINDS and not flag:  # one job per session waiting in a one-slot kind
        answer = fairness.one_job_per_session(answer, queue_kind, len(outputs), wrappers.streams(answer))
    signature = wrappers.gradio_signature(fn, len(inputs), flag_first=bool(flag))
    if api_name is not None:
        gradio_kwargs["api_name"] = api_name
    queue = _queue_settings(KINDS[queue_kind], gradio_kwargs)
    dependency = _listen(triggers, wrappers.for_gradio(answer, fn, signature), flag + inputs, outputs + flag,
                         **queue, **gradio_kwargs)
    record = Registered(name, fn, event_kind, cache, wants_lang, run, compute, dependency, once=bool(flag))
    _registry.get(REGISTERED).append(record)
    dependency.registered = record
    return dependency


def cache_report() -> dict:
    """What the result cache holds (entries, bytes, hits, misses): for logs and the bench."""
    return {"entries": len(RESULTS), "pinned": RESULTS.pinned(), "bytes": RESULTS.bytes(), "hits": RESULTS.hits, "misses": RESULTS.misses,
            "evicted": RESULTS.evicted, "budget_bytes": RESULTS.budget.limit_bytes}


def on_page_closed(blocks, fn: Callable[[Any], None]) -> None:
    """Register `fn(request)` to run when a student's page closes (Gradio's `Blocks.unload`): the one lifecycle
    hook, registered here like every event. A failure is logged, never raised (the page is already gone)."""
    import gradio as gr

    def page_closed(request: gr.Request) -> None:
        try:
            fn(request)
        except Exception as exc:  # nobody is left to tell
            log.warning("page-closed hook %s failed: %s", getattr(fn, "__qualname__", fn), exc)

    # Gradio injects the request by the parameter's type hint; this module's annotations are strings
    # (`from __future__ import annotations`) naming a local import, which Gradio cannot resolve, so give it
    # the class itself.
    page_closed.__annotations__ = {"request": gr.Request, "return": None}
    page_closed.__dlclass_event__ = True
    blocks.unload(page_closed)


def release_session(request=None) -> None:
    """What the app keeps for one session, released when its page closes: app.py registers it with
    `demo.unload(events.release_session)` (Gradio passes the request; its session hash names the session)."""
    session = getattr(request, "session_hash", None)
    if session:
        fairness.TICKETS.forget(session)
