"""ZeroGPU (the `spaces` package on a Space): each kind of event asks for the smallest realistic GPU time,
quick events and webcam frames never ask, and a cached answer never asks either. ZeroGPU refuses a call
whose requested duration exceeds the visitor's remaining quota, so a 50 ms click must not ask for 120 s."""
from __future__ import annotations

import importlib.machinery
import sys
import types

import gradio as gr
import pytest

from core import events


class FakeSpaces:
    """A stand-in `spaces` module recording every GPU request: (function name, duration) per decoration
    and per call."""

    def __init__(self):
        self.decorated: list[tuple[str, int]] = []
        self.calls: list[tuple[str, int]] = []
        self.module = types.ModuleType("spaces")
        self.module.__spec__ = importlib.machinery.ModuleSpec("spaces", loader=None)
        self.module.GPU = self.GPU

    def GPU(self, duration=60):  # noqa: N802 - the real package's name
        def wrap(fn):
            self.decorated.append((fn.__name__, duration))

            def on_gpu(*args, **kwargs):
                self.calls.append((fn.__name__, duration))
                return fn(*args, **kwargs)

            return on_gpu
        return wrap


@pytest.fixture
def zero_gpu(monkeypatch):
    fake = FakeSpaces()
    monkeypatch.setitem(sys.modules, "spaces", fake.module)
    monkeypatch.setattr(events, "_ZERO_GPU", True)
    return fake


def _event(kind: str, cache: bool = False):
    def work(x):
        return f"{kind}:{x}"

    work.__name__ = f"work_{kind}"
    with gr.Blocks():
        box, out, button = gr.Textbox(), gr.Markdown(), gr.Button()
        dependency = events.on(button.click, work, [box], [out], kind=kind, cache=cache)
    return dependency.registered


def test_each_kind_asks_for_its_own_duration_and_quick_events_and_webcam_frames_never_ask(zero_gpu):
    for kind in events.KINDS:
        _event(kind)
    asked = dict(zero_gpu.decorated)
    assert "work_quick" not in asked and "work_stream" not in asked  # never a GPU request per webcam frame
    for kind, spec in events.KINDS.items():
        if spec.gpu_seconds:
            assert asked[f"work_{kind}"] == spec.gpu_seconds
    # a CNN/ViT/YOLO click takes milliseconds on a GPU: it must not ask for minutes of a visitor's quota
    assert asked["work_model"] <= 30
    assert max(asked.values()) <= 120  # the per-call cap of ZeroGPU's tiers


def test_a_cached_answer_does_not_ask_for_a_gpu(zero_gpu):
    record = _event("model", cache=True)
    assert record.run("a", lang="ko") == "model:a"
    assert record.run("a", lang="ko") == "model:a"
    assert record.run("b", lang="ko") == "model:b"
    assert zero_gpu.calls == [("work_model", events.KINDS["model"].gpu_seconds)] * 2  # "a" once, "b" once


def test_the_app_heavy_events_get_their_kinds_durations(zero_gpu):
    import app

    demo, _ = app.build_app()
    kinds = {block_fn.api_name: block_fn.concurrency_id for block_fn in demo.fns.values() if block_fn.api_name}
    assert kinds.get("float_bits") == "quick" and kinds.get("conv_steps") == "quick"
    assert kinds.get("cnn_features") == "model" and kinds.get("vit_attention") == "model"
    assert kinds.get("sd_generate") == "diffusion" and kinds.get("finetune") == "training"
    assert kinds.get("precision_compare") == "bench" and kinds.get("yolo_detect_webcam") == "stream"
    asked = dict(zero_gpu.decorated)
    assert all(duration <= 120 for duration in asked.values())


def test_without_spaces_nothing_asks_for_a_gpu(monkeypatch):
    monkeypatch.setattr(events, "_ZERO_GPU", False)
    record = _event("diffusion")
    assert record.run("x", lang="en") == "diffusion:x"
