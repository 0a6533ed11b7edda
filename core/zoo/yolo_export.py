"""The YOLO detector the loader gave, exported to ONNX once, for the page that runs it in the browser.

`onnx_file(name)` returns the path of an ONNX file of exactly the detector `models.get(name)` returns (real
COCO weights when they are cached, the test zoo's random YOLO11 offline), exported with ultralytics' own
ONNX exporter (opset 17, onnxslim) and cached next to the weights:

    <ultralytics cache>/onnx/yolo11n-coco-<weights tag>-opset17.onnx     (real weights)
    <ultralytics cache>/onnx/yolo11n-tiny-ultralytics<version>-opset17.onnx   (test zoo)

One file serves every input size: the export has dynamic height and width, so the page letterboxes each
frame exactly as ultralytics' `predict` does for a .pt model (the smallest stride-32 rectangle, 320x256 for a
640x480 frame at imgsz 320) and the browser finds the same boxes as the server path. In headless Chromium
(WASM, one thread) the dynamic file runs as fast as a fixed 320x320 export (79 ms against 80-84 ms), and a
change of input size in the tab needs no new file.

Many students opening the tab at once cause one export (single-flight per file); the file is written under
a temporary name in the same folder and renamed into place, so a half-written file is never served. The
export works on a deep copy of the network: the shared detector of the server path is never touched.
"""
from __future__ import annotations

import copy
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path

from core import models
from core.zoo import yolo as zoo

log = logging.getLogger("dlclass.yolo_export")

OPSET = 17
TRACE_IMGSZ = 640  # the size of the dummy input traced once; height and width stay dynamic in the file

export_count: dict[Path, int] = {}  # exports actually run, per file (for tests and the bench)
_lock = threading.Lock()  # guards _inflight and export_count
_inflight: dict[Path, Future] = {}
_exporter_lock = threading.Lock()  # one export at a time: torch.onnx's tracer keeps process-wide state


def onnx_dir() -> Path:
    """The folder of the exported files (the page fetches them from here through Gradio's file route)."""
    return zoo.CACHE_DIR / "onnx"


def onnx_path(detector: zoo.Detector) -> Path:
    """Where the export of `detector` lives: the name says the model, real or test zoo, and which weights."""
    if detector.real_weights:
        weights = zoo.weights_path(detector.name)
        stat = weights.stat()  # another .pt put in place (a new download) gives another file name
        tag = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:10]
        kind = f"coco-{tag}"
    else:
        import ultralytics  # the test zoo is built from ultralytics' yaml: its version decides the network

        kind = f"tiny-ultralytics{ultralytics.__version__}"
    return onnx_dir() / f"{detector.name}-{kind}-opset{OPSET}.onnx"


def export_onnx(detector: zoo.Detector, dest: Path) -> None:
    """Ultralytics' ONNX exporter on a deep copy of the detector's network, written atomically to `dest`."""
    from ultralytics.engine.exporter import Exporter

    with detector.lock:  # predict() fuses the network in place on its first call: copy a settled network
        network = copy.deepcopy(detector.yolo.model)
    network = network.cpu().float()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.stem}-", dir=dest.parent))
    try:
        # The exporter writes next to the file the network was loaded from (or into the working directory
        # for a network built from a yaml): point the copy at the temporary folder.
        network.pt_path = str(work / f"{detector.name}.pt")
        overrides = dict(task="detect", mode="export", format="onnx", imgsz=TRACE_IMGSZ, opset=OPSET, dynamic=True,
                         simplify=True, batch=1, device="cpu", verbose=False)
        with _exporter_lock:
            written = Path(Exporter(overrides=overrides)(model=network))
        if written.parent.resolve() != work.resolve():
            raise RuntimeError(f"ultralytics wrote the ONNX file to {written}, not into {work}")
        os.replace(written, dest)  # atomic within one folder
        write_compact(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def compact_path(full: Path) -> Path:
    """The file the page downloads: the same network with 8-bit weights (core/zoo/onnx_compact.py)."""
    return full.with_name(f"{full.stem}-w8.onnx")


def write_compact(full: Path) -> Path:
    """Write the compact twin of the exported file `full`, atomically (a temporary name, then a rename)."""
    import onnx

    from core.zoo import onnx_compact

    dest = compact_path(full)
    handle, temporary = tempfile.mkstemp(dir=full.parent, prefix=f".{dest.stem}-", suffix=".onnx")
    os.close(handle)
    try:
        onnx.save(onnx_compact.compact(onnx.load(full)), temporary)
        os.chmod(temporary, 0o644)  # served like the full file (mkstemp makes it private)
        os.replace(temporary, dest)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return dest


def onnx_file(name: str = zoo.DEFAULT_YOLO, tiny: bool | None = None, compact: bool = False) -> Path:
    """The ONNX file of the detector `models.get(name, tiny=tiny)`, exported on first use (single-flight);
    with `compact`, its twin with 8-bit weights (what the page downloads: a quarter of the bytes)."""
    path = _exported(name, tiny)
    if compact:
        twin = compact_path(path)
        if not twin.is_file():  # a file exported before compact twins existed
            with _exporter_lock:
                if not twin.is_file():
                    write_compact(path)
        return twin
    return path


def _exported(name: str, tiny: bool | None) -> Path:
    detector = models.get(name, tiny=tiny)
    path = onnx_path(detector)
    if path.is_file():
        return path
    with _lock:
        future = _inflight.get(path)
        owner = future is None
        if owner:
            future = _inflight[path] = Future()
    if not owner:
        return future.result()  # someone else is exporting this file: share their result or their error
    try:
        if not path.is_file():  # another process may have finished it meanwhile
            started = time.perf_counter()
            export_onnx(detector, path)
            with _lock:
                export_count[path] = export_count.get(path, 0) + 1
            log.info("exported %s to %s in %.1f s", name, path, time.perf_counter() - started)
    except BaseException as exc:
        with _lock:
            _inflight.pop(path)
        future.set_exception(exc)
        raise
    with _lock:
        _inflight.pop(path)
    future.set_result(path)
    return path
