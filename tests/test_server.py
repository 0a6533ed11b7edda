"""The app's HTTP layer (core/server.py): Cache-Control on every answer, gzip where it helps, and the big
immutable files sent from a .gz made once."""
from __future__ import annotations

import gzip
import os

import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from core import server
from tests.conftest import run_coroutine


def test_cache_control_by_path(tmp_path):
    roots, private = [tmp_path / "out"], [tmp_path / "uploads"]
    assert server.cache_control("/assets/index-D8fa1c2e.js", roots) == server.IMMUTABLE
    assert server.cache_control("/gradio_api/assets/Blocks-BkQ2xN_o.css", roots) == server.IMMUTABLE
    assert server.cache_control(f"/gradio_api/file={tmp_path}/out/abc.jpg", roots) == server.IMMUTABLE
    assert server.cache_control(f"/gradio_api/file={tmp_path}/uploads/a/me.jpg", roots, private) == server.PRIVATE
    # a path that climbs out of a root is not in it
    assert server.cache_control(f"/gradio_api/file={tmp_path}/out/../secret.txt", roots) == server.REVALIDATE
    for path in ("/", "/config", "/gradio_api/info", "/theme.css", "/assets/logo.png"):
        assert server.cache_control(path, roots) == server.REVALIDATE


@pytest.fixture
def client(tmp_path):
    immutable = tmp_path / "runtime"
    immutable.mkdir()
    (immutable / "ort.wasm").write_bytes(b"\0asm" + bytes(range(256)) * 1024)  # 256 kB, compressible
    (immutable / "ort.mjs").write_text("export const x = 1;\n" * 8000)

    async def file_route(request):
        return FileResponse(request.path_params["path"])

    async def page(request):
        return HTMLResponse("<html>" + "config " * 20_000 + "</html>")

    app = Starlette(routes=[Route("/gradio_api/file={path:path}", file_route), Route("/", page)],
                    middleware=server.middleware(lambda: [immutable], lambda: []))
    return TestClient(app), immutable


def test_the_page_is_compressed_and_revalidated(client):
    http, _ = client
    answer = http.get("/", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["cache-control"] == server.REVALIDATE
    assert int(answer.headers["content-length"]) < 20_000  # 140 kB of HTML


def test_a_big_immutable_file_goes_as_its_gzip_copy(client):
    http, folder = client
    wasm = folder / "ort.wasm"
    answer = http.get(f"/gradio_api/file={wasm}", headers={"Accept-Encoding": "gzip, br"})
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"] == "application/wasm"
    assert answer.headers["cache-control"] == server.IMMUTABLE
    assert "accept-encoding" in answer.headers["vary"].lower()
    assert answer.content == wasm.read_bytes()  # httpx undoes the gzip: the body is the file, compressed once
    packed = folder / "ort.wasm.gz"
    assert packed.exists() and gzip.decompress(packed.read_bytes()) == wasm.read_bytes()
    assert packed.stat().st_size < wasm.stat().st_size / 4
    # a script module, too, and never compressed twice
    module = http.get(f"/gradio_api/file={folder / 'ort.mjs'}", headers={"Accept-Encoding": "gzip"})
    assert module.headers["content-encoding"] == "gzip" and module.text == (folder / "ort.mjs").read_text()


def test_a_browser_without_gzip_gets_the_file_itself(client):
    http, folder = client
    answer = http.get(f"/gradio_api/file={folder / 'ort.wasm'}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in answer.headers
    assert answer.content == (folder / "ort.wasm").read_bytes()


def test_the_gzip_copy_follows_a_changed_file(tmp_path):
    file = tmp_path / "model.onnx"
    file.write_bytes(b"a" * 100_000)
    first = server.gzip_copy(file)
    file.write_bytes(b"b" * 100_000)
    os.utime(file, ns=(first.stat().st_mtime_ns + 10**9,) * 2)
    assert gzip.decompress(server.gzip_copy(file).read_bytes()) == b"b" * 100_000
    small = tmp_path / "small.mjs"
    small.write_text("x")
    assert server.gzip_copy(small) is None


# ---------------------------------------------------------------- the rendered page kept a moment


def counting_page_app(lifetime_s: float = server.PAGE_LIFETIME_S):
    """A Starlette app whose page says how often it was rendered and what root the request had."""
    renders = []

    async def page(request):
        renders.append(1)
        forwarded = request.headers.get("x-forwarded-host", request.headers.get("host"))
        return HTMLResponse(f"<html>render {len(renders)} for {forwarded} {request.url.query}" + " x" * 2000)

    async def other(request):
        renders.append(1)
        return HTMLResponse(f"other {len(renders)}")

    app = Starlette(routes=[Route("/", page), Route("/config", other)],
                    middleware=server.middleware(lambda: [], lambda: []))
    return TestClient(app), renders


def test_the_page_is_rendered_once_per_address_and_query():
    http, renders = counting_page_app()
    first = http.get("/", headers={"Accept-Encoding": "gzip"})
    again = http.get("/", headers={"Accept-Encoding": "gzip"})
    assert first.text == again.text and "render 1" in again.text and len(renders) == 1
    assert again.headers["content-encoding"] == "gzip" and again.headers["cache-control"] == server.REVALIDATE
    # What changes the page changes the key: another proxy host, another query, a browser without gzip.
    proxied = http.get("/", headers={"X-Forwarded-Host": "class.example", "Accept-Encoding": "gzip"})
    assert "class.example" in proxied.text and "render 2" in proxied.text
    assert "page=2" in http.get("/?page=2").text
    plain = http.get("/", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and "render 4" in plain.text
    assert len(renders) == 4
    # Only the page: other routes are answered afresh every time.
    assert http.get("/config").text != http.get("/config").text


def test_credentials_and_head_are_never_served_from_the_cache():
    http, renders = counting_page_app()
    http.get("/")
    assert "render 2" in http.get("/", headers={"Authorization": "Bearer x"}).text
    assert "render 3" in http.get("/", cookies={"access-token-abc": "secret"}).text
    assert server.page_key({"type": "http", "method": "HEAD", "path": "/", "headers": []}) is None
    assert server.page_key({"type": "http", "method": "GET", "path": "/config", "headers": []}) is None


def test_the_kept_page_expires():
    import time

    from starlette.middleware import Middleware

    renders = []

    async def page(request):
        renders.append(1)
        return HTMLResponse(f"render {len(renders)}")

    http = TestClient(Starlette(routes=[Route("/", page)], middleware=[Middleware(server.PageCache, lifetime_s=0.2)]))
    assert http.get("/").text == http.get("/").text == "render 1"
    time.sleep(0.25)
    assert http.get("/").text == "render 2"
    off = TestClient(Starlette(routes=[Route("/", page)], middleware=[Middleware(server.PageCache, enabled=False)]))
    assert off.get("/").text == "render 3" and off.get("/").text == "render 4"


def test_a_class_opening_the_page_at_once_shares_one_render():
    import asyncio

    renders = []

    async def slow_page(scope, receive, send):
        renders.append(1)
        await asyncio.sleep(0.05)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<html>page</html>", "more_body": False})

    cache = server.PageCache(slow_page)

    async def one_student():
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/", "root_path": "", "query_string": b"", "scheme": "http",
                 "headers": [(b"host", b"127.0.0.1:7860"), (b"accept-encoding", b"gzip")]}
        await cache(scope, None, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    async def class_of_30():
        return await asyncio.gather(*(one_student() for _ in range(30)))

    answers = run_coroutine(class_of_30())
    assert answers == [(200, b"<html>page</html>")] * 30
    assert len(renders) == 1 and cache.renders == 1


def test_an_error_page_is_not_kept():
    renders = []

    async def busy(request):
        renders.append(1)
        return HTMLResponse(f"busy {len(renders)}", status_code=503)

    http = TestClient(Starlette(routes=[Route("/", busy)], middleware=server.middleware(lambda: [], lambda: [])))
    assert [http.get("/").text for _ in range(2)] == ["busy 1", "busy 2"]  # each asked afresh


def test_a_hashed_front_end_file_is_compressed_once():
    served = []

    async def asset(request):
        served.append(1)
        return HTMLResponse("var x = 1;\n" * 5000, media_type="text/javascript")

    http = TestClient(Starlette(routes=[Route("/assets/index-D8fa1c2e.js", asset)],
                                middleware=server.middleware(lambda: [], lambda: [])))
    answers = [http.get("/assets/index-D8fa1c2e.js", headers={"Accept-Encoding": "gzip", "Host": host})
               for host in ("a.example", "b.example", "a.example")]
    assert len(served) == 1  # one compression for every student, whatever address they used
    assert all(a.headers["content-encoding"] == "gzip" and a.text == "var x = 1;\n" * 5000 for a in answers)
    assert all(a.headers["cache-control"] == server.IMMUTABLE for a in answers)
    # a browser revalidating, or asking for a range, is answered by the file route itself
    http.get("/assets/index-D8fa1c2e.js", headers={"If-None-Match": '"x"'})
    assert len(served) == 2
