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

import asyncio
import gzip
import os
import re
import shutil
import tempfile
import threading
import time
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


ROOTS_LIFETIME_S = 60.0


def _kept_a_while(roots: Callable[[], list[Path]]) -> Callable[[], list[Path]]:
    """`roots()` asked again at most every ROOTS_LIFETIME_S. Profiled during 30 cached clicks: asking for
    Gradio's upload folder resolves a path on the disk (realpath), and the app asks it for every GET, the
    event streams and each picture of every answer included: a few percent of a cached click's CPU."""
    kept: list = [0.0, None]

    def current() -> list[Path]:
        now = time.monotonic()
        if kept[1] is None or now - kept[0] > ROOTS_LIFETIME_S:
            kept[:] = [now, list(roots())]
        return kept[1]

    return current


class Wire:
    """ASGI middleware: Cache-Control on every answer; precompressed copies of the big immutable files."""

    def __init__(self, app, immutable_roots: Callable[[], list[Path]], private_roots: Callable[[], list[Path]]):
        self.app = app
        self.immutable_roots = _kept_a_while(immutable_roots)
        self.private_roots = _kept_a_while(private_roots)

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


# ---------------------------------------------------------------- the page, rendered once for a class

# Measured (bench/bench_wire.py, test zoo, 2 cores): Gradio renders `GET /` afresh for every visitor: a deep
# copy of the app's configuration (~0.7 MB of JSON), the API description, the template, then gzip: ~105 ms
# of CPU, under the one GIL that also answers the clicks. 30 students opening the page at once queued behind
# 30 renders. Nothing in that page depends on the student: only on the address the browser used (Host and a
# proxy's X-Forwarded-* headers decide the root URL written into it), the mount path, the query string
# (?page=, ?deep_link=) and whether the browser takes gzip. So the answer is kept under exactly those, for
# PAGE_LIFETIME_S (a new build of the page is seen within seconds), the first render serving the students who
# asked while it ran (one render for 30 at once). Not kept: a request with credentials (an Authorization
# header or Gradio's login cookie: the page then carries the user's name), a HEAD, an answer other than 200.
#
# The same holds for Gradio's hashed front-end files (/assets/index-D8fa1c2e.js: the name is the content).
# Measured in the same bench: 30 opens at once fetch 117 page files each, and gzip on the fly of those scripts
# (PlotlyPlot alone is 4.6 MB of JavaScript) was most of the 22 s of server CPU. Their compressed answer is kept
# too (immutable: for as long as the server runs, within ASSET_CACHE_BYTES), so each is compressed once.
# A conditional or partial request (If-None-Match, If-Modified-Since, Range) passes through to Gradio.
PAGE_LIFETIME_S = 30.0
ASSET_LIFETIME_S = 24 * 3600.0
PAGE_CACHE_ENTRIES = 16  # distinct addresses and queries kept (bounded: a query string is the client's to choose)
ASSET_CACHE_BYTES = 48 * 1024 * 1024
PAGE_MAX_BYTES = 8 * 1024 * 1024
KEY_HEADERS = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-port", b"x-forwarded-prefix")
PASS_THROUGH = (b"authorization", b"if-none-match", b"if-modified-since", b"range")


def page_key(scope) -> tuple | None:
    """What the rendered page (or a hashed front-end file) depends on, or None when the request must not be
    served from the cache."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    root = scope.get("root_path", "").rstrip("/")
    path = scope["path"]
    if path.startswith(root):
        path = path[len(root):]
    asset = HASHED_ASSET.match(path) is not None
    if path not in ("", "/") and not asset:
        return None
    headers = {}
    for name, value in scope["headers"]:
        name = name.lower()
        if name in PASS_THROUGH or (name == b"cookie" and b"access-token" in value):
            return None
        if name in KEY_HEADERS or name.startswith(b"x-forwarded-"):
            headers.setdefault(name, []).append(value)
        elif name == b"accept-encoding":
            headers[b"gzip"] = [b"1" if b"gzip" in value else b"0"]
    if asset:  # the same bytes whatever the address: only the encoding matters
        return ("asset", scope["path"], tuple(headers.get(b"gzip", ())))
    return (scope.get("scheme"), root, scope["path"], scope.get("query_string", b""),
            tuple(sorted((k, tuple(v)) for k, v in headers.items())))


class PageCache:
    """ASGI middleware: the rendered page (`GET /`) kept for PAGE_LIFETIME_S and the hashed front-end files
    for ASSET_LIFETIME_S, under `page_key`, single-flight."""

    def __init__(self, app, enabled: bool = True, lifetime_s: float = PAGE_LIFETIME_S):
        self.app = app
        self.enabled = enabled
        self.lifetime_s = lifetime_s
        self.entries: dict[tuple, tuple[float, dict, bytes]] = {}  # key -> (expires, start message, body)
        self.pending: dict[tuple, "asyncio.Future"] = {}
        self.renders = 0  # pages actually rendered (tests and the bench read it)

    async def __call__(self, scope, receive, send):
        key = page_key(scope) if self.enabled else None
        if key is None:
            await self.app(scope, receive, send)
            return
        entry = self.entries.get(key)
        if entry is not None and entry[0] <= time.monotonic():
            entry = None
        if entry is None and key in self.pending:  # a render for the same key is under way: share it
            entry = await asyncio.shield(self.pending[key])
        if entry is not None:
            await replay(entry, send)
            return
        future = self.pending[key] = asyncio.get_running_loop().create_future()
        fresh = None
        lifetime = ASSET_LIFETIME_S if key[0] == "asset" else self.lifetime_s
        try:
            fresh = await self._render(scope, receive, send, time.monotonic() + lifetime)
        finally:
            self.pending.pop(key, None)
            future.set_result(fresh)  # the waiters replay it, or render themselves when it may not be kept
        if fresh is not None:
            self.entries.pop(key, None)
            self.entries[key] = fresh
            self._trim()

    def _trim(self) -> None:
        """At most PAGE_CACHE_ENTRIES pages and ASSET_CACHE_BYTES of front-end files: the oldest go first."""
        pages = [k for k in self.entries if k[0] != "asset"]
        for key in pages[:max(0, len(pages) - PAGE_CACHE_ENTRIES)]:
            del self.entries[key]
        assets = [k for k in self.entries if k[0] == "asset"]
        total = sum(len(self.entries[k][2]) for k in assets)
        for key in assets:
            if total <= ASSET_CACHE_BYTES:
                break
            total -= len(self.entries.pop(key)[2])

    async def _render(self, scope, receive, send, expires: float):
        """Run the app, passing its answer through and keeping a copy; the copy when it may be kept, else None."""
        self.renders += 1
        start, chunks, keep = None, [], True

        async def capture(message):
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = dict(message, headers=list(message.get("headers", [])))
                keep = message["status"] == 200 and not any(k.lower() == b"set-cookie" for k, _ in start["headers"])
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                keep = sum(map(len, chunks)) <= PAGE_MAX_BYTES
            await send(message)

        await self.app(scope, receive, capture)
        return (expires, start, b"".join(chunks)) if keep and start is not None else None


async def replay(entry: tuple, send) -> None:
    _, start, body = entry
    await send(dict(start, headers=list(start["headers"])))
    await send({"type": "http.response.body", "body": body, "more_body": False})


def middleware(immutable_roots: Callable[[], list[Path]], private_roots: Callable[[], list[Path]],
               inner: list = ()) -> list:
    """For `launch(app_kwargs={"middleware": ...})`, outermost first: Wire sees the request first and the answer
    last (so every answer, a refusal included, gets its Cache-Control); then `inner` (core/guard.py); then the
    rendered page kept a moment (PageCache, which keeps what gzip made); then gzip, which never sees a request
    for a .gz copy as accepting gzip."""
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

    return [
        Middleware(Wire, immutable_roots=immutable_roots, private_roots=private_roots),
        *inner,
        Middleware(PageCache, enabled=os.environ.get("DLCLASS_PAGE_CACHE", "1") != "0"),
        Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6,
                   exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, *NOT_ON_THE_FLY)),
    ]
