"""The layers `core.events.on` wraps around an event function, one per thing every event gets.

Each is a plain function: it takes the layer inside and returns one more. Inside, every layer is called
the same way, `run(*args, lang=...)`, and keeps the kind of what it wraps: a generator function (an event
that streams its steps) gives a generator function. From the inside out:
- `speaking`: fn called that way; `lang` is passed on only where fn declares it;
- `on_gpu`: on a ZeroGPU Space, a GPU for as long as the event's kind needs (`spaces.GPU`);
- `prepared` / `delivered`: each output prepared once for the cache (`core.outputs.prepare`), then
  delivered to Gradio (`core.outputs.deliver`: pictures written whole before anyone can read them);
  the result cache (`core.event_cache.cached`) sits between the two;
- `within_budget`: a webcam frame over the server's budget changes nothing, at once;
- `unavailable_in_place`: a missing model said in the tab's first text output, where it stays;
- `once_per_session`: the "already opened" flag rides in front of the inputs and after the outputs;
- `guarded`: a `Problem` becomes a Gradio error in the page's language, anything else a short message;
- `lang_from_request`: the outermost, `answer(*args, request)`: the page's language from the request;
- `gradio_signature`: what Gradio reads off that outermost function to know what to pass it.
"""
from __future__ import annotations

import html
import inspect
import logging
import threading
import time
import typing
from typing import Any, Callable

from core import outputs as delivery
from core import text

log = logging.getLogger("dlclass.events")

TEXT = text.table("events", {
    "unexpected": ("처리 중 예상하지 못한 문제가 생겼습니다 ({detail}). 입력을 바꿔 다시 해 보세요. 다른 탭은 그대로 쓸 수 있습니다.",
                   "Something unexpected went wrong ({detail}). Try again with other input; the other tabs keep working."),
    "oom": ("메모리가 부족합니다. 이미지 크기·배치 크기·단계 수를 줄이거나, 잠시 뒤에 다시 해 보세요.",
            "Out of memory. Use a smaller image size, batch size or number of steps, or try again in a moment."),
    "oom_title": ("메모리 부족", "Out of memory"),
})

streams = inspect.isgeneratorfunction  # Gradio streams the steps of a generator function


def _each_result(run: Callable, change: Callable[..., Any], with_lang: bool = False) -> Callable:
    """run with `change` applied to its result (to each step of a generator, as it comes); `with_lang`:
    change(result, lang)."""
    def apply(result, lang: str):
        return change(result, lang) if with_lang else change(result)

    if streams(run):
        def changed_stream(*args, lang: str = text.DEFAULT_LANG):
            for result in run(*args, lang=lang):
                yield apply(result, lang)
        return changed_stream

    def changed(*args, lang: str = text.DEFAULT_LANG):
        return apply(run(*args, lang=lang), lang)
    return changed


# ---------------------------------------------------------------- the page's language


def takes_lang(fn: Callable) -> bool:
    return "lang" in inspect.signature(fn).parameters


def speaking(fn: Callable, *, wants_lang: bool, is_generator: bool) -> Callable:
    """fn as every layer calls it, `call(*args, lang=...)`: `lang` passed on only where fn declares it.
    `is_generator`: the lesson's function is a generator function (fn may be it wrapped for the GPU)."""
    def keywords(lang: str) -> dict:
        return {"lang": lang} if wants_lang else {}

    if is_generator:
        def call_stream(*args, lang: str = text.DEFAULT_LANG):
            yield from fn(*args, **keywords(lang))
        return call_stream

    def call(*args, lang: str = text.DEFAULT_LANG):
        return fn(*args, **keywords(lang))
    return call


def lang_from_request(run: Callable) -> Callable:
    """The function Gradio calls, `answer(*args, request)`: Gradio passes the request last (its place in
    `gradio_signature`); its Accept-Language is the page's language (Korean when there is none)."""
    if streams(run):
        def answer_stream(*args):
            *args, request = args
            yield from run(*args, lang=text.lang_of(request))
        return answer_stream

    def answer(*args):
        *args, request = args
        return run(*args, lang=text.lang_of(request))
    return answer


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


def _said(exc: Exception, name: str, lang: str):
    """The error to raise instead of `exc`; what nobody expected goes to the server log, traceback and all."""
    import gradio as gr

    if not isinstance(exc, (text.Problem, gr.Error)):
        log.error("event %s failed", name, exc_info=exc)
    return as_gradio_error(exc, lang)


def guarded(run: Callable, name: str) -> Callable:
    """run whose every exception reaches the page as a short gr.Error in its language: the server keeps
    serving, and the student reads what to change."""
    if streams(run):
        def safe_stream(*args, lang: str = text.DEFAULT_LANG):
            try:
                yield from run(*args, lang=lang)
            except Exception as exc:
                raise _said(exc, name, lang) from None
        return safe_stream

    def safe(*args, lang: str = text.DEFAULT_LANG):
        try:
            return run(*args, lang=lang)
        except Exception as exc:
            raise _said(exc, name, lang) from None
    return safe


def unavailable_in_place(run: Callable, outputs: list) -> Callable:
    """run whose missing model (`core.models.ModelUnavailable`: not on this computer, not downloadable) is said
    in the tab, in the first text output (Markdown or HTML) where the answer would be, and stays there until
    the next answer: a pop-up vanishes after seconds and leaves every output with a bare error badge
    (issue 23). The other outputs are left as they were. An event without a text output raises as before."""
    import gradio as gr

    from core import models  # imported late: core.models imports this package's neighbours

    place = next((i for i, c in enumerate(outputs) if isinstance(c, (gr.Markdown, gr.HTML))), None)
    if place is None:
        return run

    def in_place(exc: models.ModelUnavailable, lang: str):
        title, words = exc.title.say(lang), exc.say(lang)
        if isinstance(outputs[place], gr.HTML):
            said = f'<p role="status"><strong>{html.escape(title)}</strong>: {html.escape(words)}</p>'
        else:
            said = f"**{title}**: {words}"
        answers = list(nothing_changes(len(outputs))) if len(outputs) != 1 else [None]
        answers[place] = said
        return tuple(answers) if len(outputs) != 1 else said

    if streams(run):
        def stream_in_place(*args, lang: str = text.DEFAULT_LANG):
            try:
                yield from run(*args, lang=lang)
            except models.ModelUnavailable as exc:
                yield in_place(exc, lang)
        return stream_in_place

    def call_in_place(*args, lang: str = text.DEFAULT_LANG):
        try:
            return run(*args, lang=lang)
        except models.ModelUnavailable as exc:
            return in_place(exc, lang)
    return call_in_place


# ---------------------------------------------------------------- the GPU


def on_gpu(fn: Callable, gpu_seconds: int | None, zero_gpu: bool) -> Callable:
    """fn asking ZeroGPU for a GPU for `gpu_seconds` per call, on a ZeroGPU Space (`zero_gpu`: the `spaces`
    package is there); fn itself elsewhere, and for kinds that never ask (gpu_seconds None). Inside the
    cache, so a cached answer never asks."""
    if not (zero_gpu and gpu_seconds):
        return fn
    import spaces

    return spaces.GPU(duration=gpu_seconds)(fn)


# ---------------------------------------------------------------- outputs


def nothing_changes(n_outputs: int):
    """What an event returns to change nothing on screen: a fresh skip per output (Gradio may edit the
    dicts it is given)."""
    import gradio as gr

    return tuple(gr.skip() for _ in range(n_outputs)) if n_outputs != 1 else gr.skip()


def prepared(compute: Callable, outputs: list) -> Callable:
    """compute whose result becomes each output prepared once (encoded pictures, serialised charts, text and
    tables within their caps): the form the result cache keeps."""
    def prepare(result, lang: str):
        if len(outputs) == 1:
            return delivery.prepare(result, outputs[0], lang)
        if not isinstance(result, (tuple, list)):
            return result
        return tuple(delivery.prepare(value, component, lang) for value, component in zip(result, outputs))

    return _each_result(compute, prepare, with_lang=True)


def delivered(run: Callable) -> Callable:
    """run whose prepared result becomes what Gradio gets (a picture: the path of its complete file)."""
    return _each_result(run, delivery.deliver)


# ---------------------------------------------------------------- once per session


def _as_tuple(result, n_outputs: int) -> tuple:
    return tuple(result) if n_outputs != 1 else (result,)


def once_per_session(run: Callable, n_outputs: int) -> Callable:
    """run(already, *args): the first time (`already` False), run's answer and True, the flag's new value;
    after that nothing changes (core.page's worked example: a tab opened again keeps what the student did).
    The flag is a per-student gr.State riding in front of the inputs and after the outputs."""
    first_time = _each_result(run, lambda result: (*_as_tuple(result, n_outputs), True))

    def unchanged() -> tuple:
        return (*_as_tuple(nothing_changes(n_outputs), n_outputs), True)

    if streams(run):
        def gated_stream(already, *args, lang: str = text.DEFAULT_LANG):
            yield from ([unchanged()] if already else first_time(*args, lang=lang))
        return gated_stream

    def gated(already, *args, lang: str = text.DEFAULT_LANG):
        return unchanged() if already else first_time(*args, lang=lang)
    return gated


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


def within_budget(run: Callable, budget: FrameBudget, n_outputs: int) -> Callable:
    """run for a webcam frame: a frame over the server's budget is dropped and answered at once."""
    def run_frame(*args, lang: str = text.DEFAULT_LANG):
        if not budget.take():
            return nothing_changes(n_outputs)
        return run(*args, lang=lang)
    return run_frame


# ---------------------------------------------------------------- what Gradio reads


def _filled_by_gradio(param: inspect.Parameter, hints: dict) -> bool:
    """Parameters Gradio fills itself: event data (by annotation), progress (by default value)."""
    import gradio as gr

    hint = hints.get(param.name)
    return isinstance(param.default, gr.Progress) or (isinstance(hint, type) and issubclass(hint, gr.EventData))


def gradio_signature(fn: Callable, n_inputs: int, flag_first: bool) -> inspect.Signature:
    """The signature of the function Gradio calls for `fn`. Gradio passes arguments in its order and fills
    some by annotation or default value, so it lists: the "already opened" flag (`flag_first`), fn's
    first `n_inputs` plain parameters (by their names: the API's), the ones Gradio fills where fn has them
    (event data, progress), and last `request: gr.Request`, from which the page's language comes (fn's
    `lang` is not among them). tests/test_event_wrappers.py fails if Gradio fills them otherwise."""
    import gradio as gr

    plain_kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "lang"]
    kept = [inspect.Parameter("already", plain_kind)] if flag_first else []
    n_plain = 0
    for param in params:
        if param.kind not in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
            continue
        if _filled_by_gradio(param, hints):
            kept.append(param.replace(kind=plain_kind, annotation=hints.get(param.name, param.annotation)))
        elif n_plain < n_inputs:
            kept.append(param.replace(kind=plain_kind, annotation=inspect.Parameter.empty))
            n_plain += 1
    if n_plain < n_inputs and not any(p.kind == p.VAR_POSITIONAL for p in params):
        raise TypeError(f"{fn.__qualname__} takes {n_plain} inputs, {n_inputs} given")
    kept += [inspect.Parameter(f"input_{i}", plain_kind) for i in range(n_plain, n_inputs)]  # fn(*args)
    kept.append(inspect.Parameter("request", plain_kind, default=None, annotation=gr.Request))
    # A parameter with a default may not come before one without: later ones get a default too.
    first_default = next((i for i, p in enumerate(kept) if p.default is not p.empty), len(kept))
    return inspect.Signature([p if i <= first_default or p.default is not p.empty else p.replace(default=None)
                              for i, p in enumerate(kept)])


def for_gradio(answer: Callable, fn: Callable, signature: inspect.Signature) -> Callable:
    """`answer` named like fn and carrying `signature` (and its annotations, which Gradio reads)."""
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(answer, attribute, getattr(fn, attribute, None))
    answer.__signature__ = signature
    answer.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()
                              if p.annotation is not p.empty}
    answer.__dlclass_event__ = True
    return answer
