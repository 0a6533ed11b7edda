"""What the app adds to Gradio's HTTP server: every response compressed where it helps and told how long
a browser may keep it (a school's one Wi-Fi carries 30 students' pages).

Gradio's documented way in is its own FastAPI app's keyword arguments (`launch(app_kwargs=...)`): the
middleware below wraps Gradio's app, so `python app.py` stays the one command (a Space runs it as is).

- Compression: text answers (the page, its configuration, scripts, JSON) with gzip on the fly
  (Starlette's GZipMiddleware; it leaves event streams, pictures and fonts alone). The big files that never
  change (the in-browser detector's WebAssembly runtime and its ONNX model) are compressed once, next to
  the file (`<name>.gz`, written whole through a temporary name), and that copy is sent to every
  browser that accepts gzip: 14.2 MB of WebAssembly goes over the air as about 3.7 MB, for no CPU per student.
- Caching: every response gets a `Cache-Control`. Files whose name or folder says their content (Gradio's
  hashed scripts, the output pictures named by their content hash, the versioned runtime, the ONNX file
  named by its weights) are `immutable` for a year, so a reload or a second Start fetches nothing; everything
  else is revalidated (`no-cache`: the browser asks, and an unchanged file answers 304 without its body).
"""
from __future__ import annotations

import gzip
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import unquote

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
PRIVATE = "private, no-cache"  # a student's own upload: never kept by a shared cache

FILE_ROUTE = re.compile(r"^(?:/gradio_api)?/file=(?P<path>.+)$")
# Vite names Gradio's front-end files by content: index-D8fa1c2e.js, Blocks-BkQ2xN_o.css.
HASHED_ASSET = re.compile(r"^/(?:gradio_api/)?assets/.+[-.][A-Za-z0-9_]{8,}\.(?:js|mjs|css|woff2?|ttf|svg|png|wasm)$")
PRECOMPRESSED_SUFFIXES = (".wasm", ".mjs", ".onnx")
MIN_PRECOMPRESS_BYTES = 64 * 1024
# Never gzip on the fly (already compressed, or sent from a .gz made once).
NOT_ON_THE_FLY = ("application/wasm", "application/octet-stream")


def cache_control(path: str, immutable_roots: Iterable[Path], private_roots: Iterable[Path] = ()) -> str:
    """The Cache-Control of a GET answer for the URL path `path` (pure: tested without a server)."""
    if HASHED_ASSET.match(path):
        return IMMUTABLE
    match = FILE_ROUTE.match(path)
    if match:
        file = unquote(match.group("path"))
        if _under(file, private_roots):
            return PRIVATE
        if _under(file, immutable_roots):
            return IMMUTABLE
    return REVALIDATE


def _under(file: str, roots: Iterable[Path]) -> bool:
    resolved = os.path.abspath(file)
    return any(resolved.startswith(str(root).rstrip(os.sep) + os.sep) for root in roots)


# ---------------------------------------------------------------- big files compressed once

_gzip_lock = threading.Lock()


def gzip_copy(file: Path) -> Path | None:
    """`file`.gz, made once (atomically) when missing or older than the file; None when not worth it."""
    try:
        stat = file.stat()
    except OSError:
        return None
    if stat.st_size < MIN_PRECOMPRESS_BYTES:
        return None
    packed = file.with_name(file.name + ".gz")
    with _gzip_lock:  # one compression at a time: 30 first Starts at once make one copy
        try:
            if packed.stat().st_mtime_ns >= stat.st_mtime_ns:
                return packed
        except OSError:
            pass
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".gz-")
        try:
            with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as out, \
                    open(file, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)
            os.replace(temporary, packed)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
            return None
    return packed


# ---------------------------------------------------------------- the middleware


class Wire:
    """ASGI middleware: Cache-Control on every answer; precompressed copies of the big immutable files."""

    def __init__(self, app, immutable_roots: Callable[[], list[Path]], private_roots: Callable[[], list[Path]]):
        self.app = app
        self.immutable_roots = immutable_roots
        self.private_roots = private_roots

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        import anyio.to_thread
        from starlette.datastructures import Headers, MutableHeaders

        path = scope["path"]
        roots = self.immutable_roots()
        policy = cache_control(path, roots, self.private_roots())
        encoding = None
        if policy == IMMUTABLE and path.endswith(PRECOMPRESSED_SUFFIXES) and \
                "gzip" in Headers(scope=scope).get("accept-encoding", ""):
            match = FILE_ROUTE.match(path)
            packed = await anyio.to_thread.run_sync(gzip_copy, Path(unquote(match.group("path")))) if match else None
            if packed is not None:
                # The .gz is sent as it is: the gzip below must not compress it again, so it is not told
                # that the browser accepts gzip.
                headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
                scope = dict(scope, path=path + ".gz", raw_path=scope.get("raw_path", path.encode()) + b".gz",
                             headers=headers)
                encoding = "gzip"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["Cache-Control"] = policy
                if encoding is not None and message["status"] == 200:
                    headers["Content-Encoding"] = encoding
                    headers["Content-Type"] = content_type_of(path)
                    headers.add_vary_header("Accept-Encoding")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def content_type_of(path: str) -> str:
    if path.endswith(".wasm"):
        return "application/wasm"
    if path.endswith(".mjs"):
        return "text/javascript; charset=utf-8"
    return "application/octet-stream"


def middleware(immutable_roots: Callable[[], list[Path]], private_roots: Callable[[], list[Path]],
               inner: list = ()) -> list:
    """For `launch(app_kwargs={"middleware": ...})`, outermost first: Wire sees the request first and the answer
    last (so every answer, a refusal included, gets its Cache-Control); then `inner` (core/guard.py); then gzip,
    which never sees a request for a .gz copy as accepting gzip."""
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

    return [
        Middleware(Wire, immutable_roots=immutable_roots, private_roots=private_roots),
        *inner,
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                   exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *NOT_ON_THE_FLY)),
    ]
