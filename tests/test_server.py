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
