"""Shared UI pieces: the projector theme, queue settings per kind of event, and error-safe wrappers."""
from __future__ import annotations

from pathlib import Path

import gradio as gr

ASSETS = Path(__file__).resolve().parent.parent / "assets"

# Concurrency per event (issue 7 tunes these): quick events run many at once; heavy jobs
# (diffusion, fine-tuning, precision benchmarks) share one slot per kind so they cannot starve the quick ones.
QUICK = dict(concurrency_limit=8, concurrency_id="quick")
MODEL = dict(concurrency_limit=4, concurrency_id="model")
HEAVY_DIFFUSION = dict(concurrency_limit=1, concurrency_id="diffusion")
HEAVY_TRAINING = dict(concurrency_limit=2, concurrency_id="training")
HEAVY_BENCH = dict(concurrency_limit=1, concurrency_id="bench")
# Webcam streams on the server path (the fallback when the browser cannot run the detector itself).
STREAM = dict(concurrency_limit=2, concurrency_id="stream", time_limit=120)


def theme() -> gr.themes.Base:
    """Large, high-contrast text that reads from the back of a classroom."""
    return gr.themes.Default(
        primary_hue="blue",
        text_size=gr.themes.sizes.text_lg,
        spacing_size=gr.themes.sizes.spacing_md,
        font=[gr.themes.GoogleFont("Noto Sans KR"), "Noto Sans CJK KR", "Malgun Gothic", "sans-serif"],
    ).set(body_text_color="#111111", block_label_text_weight="700", block_title_text_weight="700")


def css() -> str:
    return (ASSETS / "style.css").read_text(encoding="utf-8")


# ---------------------------------------------------------------- hardening every event at once

import functools  # noqa: E402
import importlib.util  # noqa: E402
import inspect  # noqa: E402
import logging  # noqa: E402

from core.i18n import UserError  # noqa: E402

log = logging.getLogger("dlclass.ui")

# Events in these queues want an accelerator; on a ZeroGPU Space they get one through spaces.GPU.
GPU_QUEUES = {"diffusion", "training", "bench", "model"}


def _translate(exc: BaseException) -> BaseException:
    """Any failure inside an event -> a Korean/English message; the server keeps serving."""
    if isinstance(exc, gr.Error):
        return exc
    from core import text

    if isinstance(exc, text.Problem):
        return UserError(exc.say("ko"), exc.say("en"))
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in str(exc).lower():
        return UserError(
            "메모리가 부족합니다. 이미지 크기·배치 크기·단계 수를 줄이거나, 잠시 뒤에 다시 해 보세요.",
            "Out of memory. Use a smaller image size, batch size or number of steps, or try again in a moment.",
            title="메모리 부족 / Out of memory",
        )
    detail = f"{type(exc).__name__}: {str(exc)[:200]}"
    return UserError(
        f"처리 중 예상하지 못한 문제가 생겼습니다 ({detail}). 입력을 바꿔 다시 해 보세요. 다른 탭은 그대로 쓸 수 있습니다.",
        f"Something unexpected went wrong ({detail}). Try again with other input; the other tabs keep working.",
        title="오류 / Error",
    )


def guarded(fn):
    """Wrap an event function so every exception reaches the browser as a bilingual message (no traceback)."""
    if getattr(fn, "_dlclass_guarded", False) or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        return fn
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                if not isinstance(exc, gr.Error):
                    log.exception("event %s failed", getattr(fn, "__name__", fn))
                raise _translate(exc) from None
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not isinstance(exc, gr.Error):
                    log.exception("event %s failed", getattr(fn, "__name__", fn))
                raise _translate(exc) from None
    wrapper._dlclass_guarded = True
    return wrapper


def _guard_preprocess(demo: gr.Blocks) -> None:
    """Gradio checks and decodes inputs before our functions run (a dropdown value must be among its
    choices; gr.Image opens every upload with PIL), with English-only messages, or none for a text file
    renamed .png or a decompression bomb. Catch those failures in the one place every event passes
    through (per-component patches would miss the copies Gradio keeps in each session's state) and say
    them in Korean and English; an image that Gradio cannot open goes to the one image input, which
    names the problem."""
    original = demo.preprocess_data

    @functools.wraps(original)
    async def preprocess_data(block_fn, inputs, state, *args, **kwargs):
        try:
            return await original(block_fn, inputs, state, *args, **kwargs)
        except UserError:
            raise
        except gr.Error as exc:
            raise UserError(f"허용되지 않는 입력입니다: {exc.message}", f"This input is not allowed: {exc.message}") from None
        except Exception as exc:
            log.warning("inputs of %s could not be read: %r", block_fn.name, exc)
            from core.images import load_image

            for block, value in zip(block_fn.inputs, inputs):
                path = value.get("path") if isinstance(value, dict) else None
                if isinstance(block, (gr.Image, gr.ImageEditor, gr.Gallery)) and path:
                    load_image(path)  # raises the precise message for this file
            raise _translate(exc.__cause__ or exc) from None

    demo.preprocess_data = preprocess_data


def harden(demo: gr.Blocks) -> gr.Blocks:
    """Every event of the app: errors become messages; heavy events get a ZeroGPU slot when `spaces` is there."""
    _guard_preprocess(demo)
    zero_gpu = importlib.util.find_spec("spaces") is not None
    for block_fn in demo.fns.values():
        if block_fn.fn is None or getattr(block_fn.fn, "__dlclass_event__", False):
            continue  # events registered through core.events carry their own guard and GPU wrapper
        fn = block_fn.fn
        if zero_gpu and block_fn.concurrency_id in GPU_QUEUES:
            import spaces

            fn = spaces.GPU(duration=120)(fn)
        block_fn.fn = guarded(fn)
    return demo
