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

import atexit
import dataclasses
import hashlib
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import text

# The folder of this server's pictures. Its name is not guessable and it is created private (0700), so no
# other program on the host can pre-create it as a link to a folder of its choosing, or read from it; a folder
# named by DLCLASS_OUTPUT_DIR must be a real folder of this user that no one else may write to.
OUTPUT_DIR = Path(os.environ.get("DLCLASS_OUTPUT_DIR")
                  or Path(tempfile.gettempdir()) / f"dlclass-outputs-{os.getpid()}-{secrets.token_hex(8)}")
JPEG_QUALITY = 90
PNG_COMPRESSION = 1  # fast; pictures with flat colours stay small anyway
# The sweep: a browser fetches a picture within seconds of its answer, and a cached answer handed out again
# writes its file again (`write`), so pictures may go early. Every SWEEP_EVERY_S the pictures older than
# KEEP_SECONDS go, then the oldest until the folder is under MAX_BYTES (a class makes about 12 MB a minute).
KEEP_SECONDS = 30 * 60
MAX_BYTES = 256 * 1024 * 1024
SWEEP_EVERY_S = 60
# Only files the app writes are ever deleted: pictures named by their content, partial files, and the
# annotated videos of the YOLO tab (tabs/yolo_detect/video.py).
# Every answer has a bounded size (issue 21: a 100,000-character prompt once answered 106 MB). The largest text
# a lesson writes is the word-attention steps (about 40 kB); a table longer than a screenful of screens is
# cut too. Past the caps the answer is cut, with a note in the page's language.
MAX_TEXT_CHARS = 200_000
MAX_TABLE_ROWS = 1_000
TEXT = text.table("outputs", {
    "text_cut": ("\n\n*(답이 너무 길어서 {limit:,}자에서 잘랐습니다. 전체 {n:,}자)*",
                 "\n\n*(The answer was too long: cut at {limit:,} of its {n:,} characters.)*"),
})
OURS = re.compile(r"^(?:[0-9a-f]{32}\.(?:jpg|png)|\.part-.*|.+_yolo_[A-Za-z0-9_]{8}\.webm)$")


class OutputDirRefused(RuntimeError):
    """The output folder is a link, or belongs to another user, or others may write to it."""


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


def check_private(folder: Path) -> None:
    """Raise OutputDirRefused unless `folder` is a real folder (not a link) of this user, closed to others."""
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise OutputDirRefused(f"the output folder {folder} is not a plain folder (a link?): refusing to use it")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise OutputDirRefused(f"the output folder {folder} belongs to another user: refusing to use it")
    if info.st_mode & 0o022:
        raise OutputDirRefused(f"others may write to the output folder {folder}: refusing to use it")


def _ensure_dir() -> None:
    if _ready.is_set():
        return
    with _ready_lock:
        if _ready.is_set():
            return
        OUTPUT_DIR.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.mkdir(OUTPUT_DIR, 0o700)
        except FileExistsError:
            pass  # checked below: it must be ours
        check_private(OUTPUT_DIR)
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


def sweep(older_than_s: float = KEEP_SECONDS, max_bytes: int = MAX_BYTES) -> int:
    """Delete our pictures older than `older_than_s`, then the oldest until the folder holds at most
    `max_bytes` (stale partial files too); returns how many went. Files this module did not write stay."""
    if not OUTPUT_DIR.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    kept, removed = [], 0
    for path in OUTPUT_DIR.iterdir():
        if not OURS.match(path.name):
            continue
        try:
            info = path.lstat()
            if info.st_mtime < cutoff:
                path.unlink()
                removed += 1
            elif stat.S_ISREG(info.st_mode):
                kept.append((info.st_mtime, info.st_size, path))
        except OSError:
            pass
    total = sum(size for _, size, _ in kept)
    for _, size, path in sorted(kept):  # oldest first
        if total <= max_bytes:
            break
        try:
            path.unlink()
            removed += 1
            total -= size
        except OSError:
            pass
    return removed


def folder_bytes() -> int:
    """What the output folder holds now (for the bench's soak and the memory report)."""
    if not OUTPUT_DIR.is_dir():
        return 0
    return sum(p.stat().st_size for p in OUTPUT_DIR.iterdir() if OURS.match(p.name) and p.is_file())


_sweeper: threading.Thread | None = None


def start_sweeper(every_s: float = SWEEP_EVERY_S) -> threading.Thread:
    """Sweep the output folder every `every_s` seconds for as long as the server runs (idempotent)."""
    global _sweeper
    if _sweeper is not None and _sweeper.is_alive():
        return _sweeper

    def run():
        while True:
            time.sleep(every_s)
            try:
                sweep()
            except Exception:  # a sweep must never stop the next one
                pass

    _sweeper = threading.Thread(target=run, name="dlclass-output-sweep", daemon=True)
    _sweeper.start()
    return _sweeper


def remove_dir() -> None:
    """At exit: our files, then the folder itself if nothing else is in it."""
    if not OUTPUT_DIR.is_dir():
        return
    sweep(older_than_s=-1)
    try:
        OUTPUT_DIR.rmdir()
    except OSError:
        pass


def register_static_dir() -> None:
    """Let Gradio serve OUTPUT_DIR as it is (no copy into its cache). Call before the app launches."""
    import gradio as gr

    _ensure_dir()
    gr.set_static_paths([str(OUTPUT_DIR)])
    start_sweeper()
    atexit.register(remove_dir)


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


def bounded(value: Any, component, lang: str = text.DEFAULT_LANG) -> Any:
    """A text or table answer within its cap: text cut at MAX_TEXT_CHARS with a note, a table at
    MAX_TABLE_ROWS rows. Other values as they are."""
    import gradio as gr

    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS and isinstance(
            component, (gr.Markdown, gr.HTML, gr.Textbox, gr.Code)):
        return value[:MAX_TEXT_CHARS] + TEXT.say(lang, "text_cut", limit=MAX_TEXT_CHARS, n=len(value))
    if isinstance(component, gr.Dataframe):
        if hasattr(value, "iloc") and len(value) > MAX_TABLE_ROWS:
            return value.iloc[:MAX_TABLE_ROWS]
        if isinstance(value, list) and len(value) > MAX_TABLE_ROWS:
            return value[:MAX_TABLE_ROWS]
    return value


def prepare(value: Any, component, lang: str = text.DEFAULT_LANG) -> Any:
    """A value returned for `component` -> the form kept in the result cache (encoded once, bounded)."""
    import gradio as gr

    if value is None:
        return None
    if isinstance(value, dict) and value.get("__type__") == "update" and "value" in value:
        return {**value, "value": prepare(value["value"], component, lang)}
    value = bounded(value, component, lang)
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
