"""Spaces: with the `spaces` package (ZeroGPU) the heavy events are decorated with spaces.GPU; without it nothing changes."""
from __future__ import annotations

import importlib.machinery
import sys
import types

import app
from core import ui


def _fake_spaces(decorated: list):
    module = types.ModuleType("spaces")
    module.__spec__ = importlib.machinery.ModuleSpec("spaces", loader=None)

    def GPU(duration=60):  # noqa: N802 - the real package's name
        def wrap(fn):
            decorated.append(fn.__name__)
            return fn
        return wrap

    module.GPU = GPU
    return module


def test_heavy_events_get_a_zero_gpu_slot(monkeypatch):
    decorated: list[str] = []
    monkeypatch.setitem(sys.modules, "spaces", _fake_spaces(decorated))
    demo = app.build_app()
    heavy = {f.api_name for f in demo.fns.values() if f.concurrency_id in ui.GPU_QUEUES and f.fn is not None}
    assert {"sd_generate", "precision_compare", "finetune"} <= heavy
    assert len(decorated) == sum(1 for f in demo.fns.values() if f.concurrency_id in ui.GPU_QUEUES and f.fn is not None)
    quick = [f for f in demo.fns.values() if f.api_name == "float_bits"][0]
    assert quick.concurrency_id not in ui.GPU_QUEUES


def test_without_spaces_nothing_is_decorated(monkeypatch):
    monkeypatch.delitem(sys.modules, "spaces", raising=False)
    import importlib.util

    if importlib.util.find_spec("spaces") is not None:  # pragma: no cover - a Spaces machine
        return
    demo = app.build_app()
    for f in demo.fns.values():
        if f.fn is not None:
            assert getattr(f.fn, "_dlclass_guarded", False), f"{f.api_name} is not guarded"
