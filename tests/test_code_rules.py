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


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _app_sources() -> list[Path]:
    return [p for p in _sources() if p.parts[len(ROOT.parts)] in ("core", "tabs", "app.py", "bench")]


def test_nothing_below_a_lessons_tab_imports_gradio():
    """A lesson's compute and view are plain functions: testable without a browser, reusable anywhere."""
    offenders = []
    for path in (ROOT / "tabs").rglob("*.py"):
        if path.name == "tab.py":
            continue
        if any(name == "gradio" or name.startswith("gradio.") for name in _imports(path)):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"Gradio imported below the tab layer: {offenders}"


def test_no_patched_library_internals():
    """No replaced Gradio methods, no Gradio context internals, no functions rewritten after the UI is built."""
    patterns = ["preprocess_data", "root_block", "block_fn.fn =", ".fn = guarded", "Context.root"]
    offenders = [f"{path.relative_to(ROOT)}: {pattern}" for path in _app_sources()
                 for pattern in patterns if pattern in path.read_text(encoding="utf-8")]
    assert not offenders, offenders


def test_no_request_objects_or_two_languages_in_one_string_in_lessons():
    """Lessons get `lang` from the event helper; every sentence is said in one language at a time."""
    offenders = []
    for path in (ROOT / "tabs").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for pattern in ("gr.Request", "i18n.both", "i18n.pick", "from core.i18n", "from core import i18n",
                        "core.ui", "from core import ui"):
            if pattern in source:
                offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert not offenders, offenders


def test_every_lesson_folder_has_its_five_parts():
    import tabs

    for lesson_id in tabs.LESSON_IDS:
        folder = ROOT / "tabs" / lesson_id
        missing = [name for name in ("compute.py", "text.py", "view.py", "tab.py", "note.ko.md", "note.en.md")
                   if not (folder / name).is_file()]
        assert not missing, f"{lesson_id} lacks {missing}"
