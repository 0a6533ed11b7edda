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


# ---------------------------------------------------------------- no patched library internals

PROJECT_PACKAGES = {"core", "tabs", "bench", "tests", "app"}
# Where the app may set an attribute of a library's module or class, or read one of its private names:
# each entry is (file, expression) with its reason. The documented adapters, core/components.py (Gradio's
# template mechanism), core/outputs.py (Gradio's PlotData) and core/zoo/yolo.py (ultralytics' environment
# switches and settings object), need no entry: they go through public names only.
ALLOWED_LIBRARY_TOUCHES = {
    ("core/images.py", "Image.MAX_IMAGE_PIXELS"):
        "PIL's decompression-bomb limit is a module setting by design (PIL's documentation says to set it)",
}


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None when the chain does not start at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def _library_names(tree: ast.Module) -> set[str]:
    """The names a module binds to other people's code: what it imports from outside the project, and
    plain aliases of those (`Blocks = gr.Blocks`)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names
                      if alias.name.split(".")[0] not in PROJECT_PACKAGES}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] not in PROJECT_PACKAGES:
            names |= {alias.asname or alias.name for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and (_dotted(node.value) or [None])[0] in names:
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def _assigned(node: ast.AST) -> list[ast.expr]:
    """The attribute targets of an assignment or deletion (tuples unpacked)."""
    if isinstance(node, (ast.Assign, ast.Delete)):
        targets = list(node.targets)
    elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        targets = [node.target]
    elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setattr", "delattr") and node.args:
        targets = [node.args[0]]  # setattr(gr.Blocks, "name", ...): the object whose attribute changes
    else:
        return []
    found = []
    while targets:
        target = targets.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            targets += target.elts
        elif isinstance(target, ast.Starred):
            targets.append(target.value)
        elif isinstance(target, ast.Attribute) or isinstance(node, ast.Call):
            found.append(target)
    return found


def library_touches(source: str) -> list[tuple[int, str, str]]:
    """(line, expression, what) for each attribute of a library's module or class the source sets or
    deletes, and each private name of a library it reads or imports (`torch._C`, `from gradio._x import y`)."""
    tree = ast.parse(source)
    libraries = _library_names(tree)
    found = []
    for node in ast.walk(tree):
        for target in _assigned(node):
            chain = _dotted(target)
            if chain and chain[0] in libraries:
                found.append((node.lineno, ".".join(chain), "sets a library attribute"))
        chain = _dotted(node) if isinstance(node, ast.Attribute) else None
        if chain and chain[0] in libraries and any(_is_private(part) for part in chain[1:]):
            found.append((node.lineno, ".".join(chain), "reads a library's private name"))
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found += [(node.lineno, module, "imports a library's private name") for module in modules
                  if module.split(".")[0] not in PROJECT_PACKAGES and any(map(_is_private, module.split(".")))]
    # An attribute read inside a chain is found once per prefix (`torch._C.x` and `torch._C`): keep the longest.
    return sorted({(line, expr, what) for line, expr, what in found
                   if not any(o[0] == line and o[1].startswith(expr + ".") for o in found)})


def test_the_library_touch_check_finds_patches_and_private_reads_and_nothing_else():
    patched = """
import gradio as gr
import torch.nn
from gradio.blocks import Blocks
from gradio._internal import helper
import numpy as np

gr.Blocks.preprocess_data = lambda *a: None
torch.nn.functional.relu = print
Blocks.process_api, other = None, 1
setattr(np, "float", float)
state = torch._C._get_tracing_state()
Alias = gr.Blocks
Alias.launch = None
"""
    assert [(line, expr) for line, expr, _ in library_touches(patched)] == [
        (5, "gradio._internal.helper"), (8, "gr.Blocks.preprocess_data"),
        (9, "torch.nn.functional.relu"), (10, "Blocks.process_api"), (11, "np"),
        (12, "torch._C._get_tracing_state"), (14, "Alias.launch")]
    clean = """
import gradio as gr
import torch
from core import events

events.FRAMES = None  # the project's own module: not a library
model = torch.nn.Linear(2, 2)
model.weight = torch.nn.Parameter(torch.zeros(2, 2))  # an instance: the library's public way
demo = gr.Blocks()
demo.title = "x"
os_environ = {}
os_environ["X"] = "1"
version = torch.__version__
"""
    assert library_touches(clean) == []


def test_no_patched_library_internals():
    """No module of the app sets an attribute of a library's module or class, or reads a library's private
    names: a library's behaviour changes through its public API, or in one small adapter with a test."""
    offenders = []
    for path in _app_sources():
        relative = path.relative_to(ROOT).as_posix()
        offenders += [f"{relative}:{line}: {what}: {expr}" for line, expr, what in
                      library_touches(path.read_text(encoding="utf-8"))
                      if (relative, expr) not in ALLOWED_LIBRARY_TOUCHES]
    assert not offenders, "\n".join(offenders)


# ---------------------------------------------------------------- tabs stand alone


def _imported_modules(source: str, package: list[str]) -> list[tuple[int, str]]:
    """(line, module) of every import in a module of `package`, relative ones resolved (`from . import x` in
    tabs/a/b.py -> tabs.a.x), `from package import name` as package.name, and importlib.import_module("...")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found += [(node.lineno, module)] + [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def other_tab_imports(source: str, package: list[str], tab_ids: set[str]) -> list[tuple[int, str]]:
    """(line, module) of each import of another tab's module in a module of `package` (["tabs", id, ...])."""
    others = tab_ids - {package[1]}
    return [(line, module) for line, module in _imported_modules(source, package)
            if module.split(".")[0] == "tabs" and len(module.split(".")) > 1 and module.split(".")[1] in others]


def test_the_tab_import_check_finds_imports_of_other_tabs_however_written():
    source = """
from ..cnn_features import compute
import tabs.vit_attention.view
from tabs import diffusion
import importlib
importlib.import_module("tabs.precision.text")
from . import text
from .view import draw
from tabs.yolo_detect import compute as own
from core import images
"""
    tab_ids = {"yolo_detect", "cnn_features", "vit_attention", "diffusion", "precision"}
    assert other_tab_imports(source, ["tabs", "yolo_detect"], tab_ids) == [
        (2, "tabs.cnn_features"), (2, "tabs.cnn_features.compute"), (3, "tabs.vit_attention.view"),
        (4, "tabs.diffusion"), (6, "tabs.precision.text")]


def test_no_tab_imports_another_tab():
    """A tab (tabs/<id>/) uses core/ and its own modules only: what two tabs share lives in core/."""
    tab_ids = {folder.name for folder in (ROOT / "tabs").iterdir() if folder.is_dir() and folder.name != "__pycache__"}
    offenders = []
    for own in sorted(tab_ids):
        for path in sorted((ROOT / "tabs" / own).rglob("*.py")):
            package = list(path.relative_to(ROOT).parts[:-1])
            offenders += [f"{path.relative_to(ROOT)}:{line}: {module}" for line, module in
                          other_tab_imports(path.read_text(encoding="utf-8"), package, tab_ids)]
    assert not offenders, "a tab imports another tab:\n" + "\n".join(offenders)


# ---------------------------------------------------------------- sizes

MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 500


def _sized_sources() -> list[Path]:
    """Every Python file of the project but the tests, the model zoo (one builder per model family, each
    long by nature) and virtual environments."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith((".venv", ".git")) and d != "__pycache__"
                   and (here / d) not in (ROOT / "tests", ROOT / "core" / "zoo")]
        found += [here / f for f in files if f.endswith(".py")]
    return found


def oversized(path: Path) -> list[tuple[int, str]]:
    """(lines, what) for the module itself when over MAX_MODULE_LINES, and each function over
    MAX_FUNCTION_LINES (nested ones on their own, too)."""
    source = path.read_text(encoding="utf-8")
    where = path.relative_to(ROOT).as_posix()
    found = []
    if len(source.splitlines()) > MAX_MODULE_LINES:
        found.append((len(source.splitlines()), f"module {where}"))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append((length, f"function {node.name} at {where}:{node.lineno}"))
    return found


def test_no_function_over_60_lines_and_no_module_over_500():
    """Small functions that read top to bottom, modules one can hold in mind (outside tests/ and core/zoo/)."""
    offenders = sorted((item for path in _sized_sources() for item in oversized(path)), reverse=True)
    assert not offenders, (f"{len(offenders)} over the limits (functions {MAX_FUNCTION_LINES} lines, modules "
                           f"{MAX_MODULE_LINES}), longest first:\n" +
                           "\n".join(f"{lines:5d} {what}" for lines, what in offenders))


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


def test_only_the_loader_knows_whether_models_are_tiny():
    """A tab asks the loader (`models.source(name)`); the test zoo's switch is read in core/ alone."""
    readers = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "tabs").rglob("*.py")
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if "tiny_default" in line or "DLCLASS_MODELS" in line]
    assert readers == []
