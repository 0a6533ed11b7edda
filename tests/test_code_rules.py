"""Rules the whole code base keeps, checked on the source."""
from __future__ import annotations

import ast
import os
from pathlib import Path

from tests.conftest import ROOT

GRAD_MODES = {"inference_mode", "no_grad", "enable_grad", "set_grad_enabled", "autocast"}


def _sources() -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("tests", "__pycache__")]
        found += [Path(folder) / f for f in files if f.endswith(".py")]
    return found


def _is_grad_mode(expr: ast.expr) -> bool:
    call = expr.func if isinstance(expr, ast.Call) else expr
    name = call.attr if isinstance(call, ast.Attribute) else getattr(call, "id", "")
    return name in GRAD_MODES


def test_no_yield_inside_a_torch_grad_mode_block():
    """Gradio resumes generators in any worker thread. A `with torch.inference_mode():` held across a
    yield leaks inference mode into the thread that runs the next request (Grad-CAM then fails with
    'does not require grad'). Decorate the generator instead: torch enters the mode around each step."""
    offenders = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.With) and any(_is_grad_mode(item.context_expr) for item in node.items):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Yield, ast.YieldFrom)):
                        offenders.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not offenders, f"yield inside a torch grad-mode block: {offenders}"
