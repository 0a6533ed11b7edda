"""Every output picture and chart of the app passes through here, once, on its way to the browser.

Why: Gradio 6.31 saves a returned picture with `write_bytes` to a path named by its content hash
(`processing_utils.save_pil_to_cache`), so when 30 students get the same picture at the same moment,
one request rewrites the file while another request's browser is reading it: a broken picture
("Too little data for declared Content-Length"). It also encodes every picture as WebP (43 ms for a
776x384 picture here; JPEG: about 1 ms) and serialises every Plotly figure to JSON per request.

What we do instead, for every event registered through `core.events`:
1. `prepare(value, component)` turns a picture into encoded bytes (`Picture`: JPEG for photo-like
   outputs, PNG where the component asks for it) and a Plotly figure into its JSON (`PlotData`), once
   per computed result; the result cache keeps these prepared values.
2. `deliver(prepared)` writes each picture to `OUTPUT_DIR` under its content hash, through a temporary
   name and an atomic rename, so a file is complete before anyone can read it, and returns its path.
   `OUTPUT_DIR` is a Gradio static path (`gr.set_static_paths`, public API): Gradio serves those files
   as they are, without copying them into its cache.

Measured costs per output kind are in the bench (`bench/bench_outputs.py`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

OUTPUT_DIR = Path(os.environ.get("DLCLASS_OUTPUT_DIR") or Path(tempfile.gettempdir()) / "dlclass-outputs")
JPEG_QUALITY = 90
PNG_COMPRESSION = 1  # fast; pictures with flat colours stay small anyway
# Pictures older than this are swept away (a browser fetches a picture within seconds of its answer).
KEEP_SECONDS = 6 * 3600


@dataclasses.dataclass(frozen=True)
class Picture:
    """An encoded picture: bytes, their format, and the content hash that names its file."""

    data: bytes
    ext: str  # "jpg" or "png"
    digest: str

    @property
    def nbytes(self) -> int:
        return len(self.data)


def _as_rgb_array(image) -> np.ndarray:
    from PIL import Image

    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB") if image.mode not in ("RGB", "L") else image)
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array.astype(np.float32)), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def encode(image, fmt: str = "jpeg") -> Picture:
    """A numpy RGB/gray array or PIL image -> an encoded `Picture` (OpenCV: JPEG ~1 ms, PNG a few ms)."""
    array = _as_rgb_array(image)
    bgr = cv2.cvtColor(array, cv2.COLOR_RGB2BGR) if array.ndim == 3 else array
    if fmt in ("png",):
        ok, buffer = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
        ext = "png"
    else:
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        ext = "jpg"
    if not ok:
        raise ValueError(f"could not encode a picture of shape {array.shape} as {ext}")
    data = buffer.tobytes()
    return Picture(data, ext, hashlib.blake2b(data, digest_size=16).hexdigest())


_ready = threading.Event()
_ready_lock = threading.Lock()


def _ensure_dir() -> None:
    if _ready.is_set():
        return
    with _ready_lock:
        if _ready.is_set():
            return
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        sweep()
        _ready.set()


def write(picture: Picture) -> str:
    """The picture's file in OUTPUT_DIR, written whole before it appears under its name (atomic rename)."""
    _ensure_dir()
    path = OUTPUT_DIR / f"{picture.digest}.{picture.ext}"
    if path.exists():
        try:
            os.utime(path)  # keep it from the sweep while it is being handed out
        except OSError:
            pass
        return str(path)
    fd, staging = tempfile.mkstemp(dir=OUTPUT_DIR, prefix=".part-", suffix=f".{picture.ext}")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(picture.data)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(path)


def sweep(older_than_s: float = KEEP_SECONDS) -> int:
    """Delete pictures older than `older_than_s` (and stale partial files); returns how many went."""
    if not OUTPUT_DIR.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in OUTPUT_DIR.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def register_static_dir() -> None:
    """Let Gradio serve OUTPUT_DIR as it is (no copy into its cache). Call before the app launches."""
    import gradio as gr

    _ensure_dir()
    gr.set_static_paths([str(OUTPUT_DIR)])


# ---------------------------------------------------------------- per component kind


def _image_format(component) -> str:
    fmt = str(getattr(component, "format", "jpeg") or "jpeg").lower()
    return "png" if fmt == "png" else "jpeg"


def _is_picture(value) -> bool:
    from PIL import Image

    return isinstance(value, Image.Image) or (isinstance(value, np.ndarray) and value.ndim in (2, 3)
                                                and value.size > 0)


def _plot_data(figure):
    """A Plotly figure -> Gradio's PlotData (its JSON), which gr.Plot.postprocess passes on unchanged."""
    from gradio.components.plot import PlotData

    return PlotData(type="plotly", plot=figure.to_json())


def prepare(value: Any, component) -> Any:
    """A value returned for `component` -> the form kept in the result cache (encoded once)."""
    import gradio as gr

    if value is None:
        return None
    if isinstance(value, dict) and value.get("__type__") == "update" and "value" in value:
        return {**value, "value": prepare(value["value"], component)}
    if isinstance(component, gr.Image) and _is_picture(value):
        return encode(value, _image_format(component))
    if isinstance(component, gr.Gallery) and isinstance(value, (list, tuple)):
        fmt = _image_format(component)
        items = []
        for item in value:
            if isinstance(item, (list, tuple)) and len(item) == 2 and _is_picture(item[0]):
                items.append((encode(item[0], fmt), item[1]))
            elif _is_picture(item):
                items.append(encode(item, fmt))
            else:
                items.append(item)
        return items
    if isinstance(component, gr.Plot) and hasattr(value, "to_plotly_json"):
        return _plot_data(value)
    return value


def deliver(value: Any) -> Any:
    """A prepared value -> what Gradio gets: every Picture becomes the path of its complete file."""
    if isinstance(value, Picture):
        return write(value)
    if isinstance(value, list):
        return [deliver(v) for v in value]
    if isinstance(value, tuple):
        return tuple(deliver(v) for v in value)
    if isinstance(value, dict) and "__type__" in value:  # gr.update(value=...)
        return {k: (deliver(v) if k == "value" else v) for k, v in value.items()}
    return value
