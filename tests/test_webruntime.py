"""core.webruntime: onnxruntime-web obtained like model weights, checked against two hashes, unpacked atomically.

No network: a fake npm registry on a loopback port serves a package tarball built here (the same layout
as the real one: package/dist/..., package/package.json) with its metadata."""
from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest

from core import text, webruntime


def _tarball(extra: bytes = b"") -> tuple[bytes, dict[str, bytes]]:
    """A gzipped npm tarball with every page file, package.json, and files the page does not need."""
    contents = {name: f"// {name}\n".encode() * 50 + extra for name in webruntime.PAGE_FILES}
    members = {f"package/dist/{name}": data for name, data in contents.items()}
    members["package/package.json"] = json.dumps({"name": webruntime.PACKAGE, "license": "MIT"}).encode()
    members["package/dist/ort.all.min.js"] = b"// not needed by the page" * 100
    members["package/README.md"] = b"# readme"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue(), {**contents, "package.json": members["package/package.json"]}


def npm_integrity(data: bytes) -> str:
    """What npm publishes as dist.integrity, computed independently of the module."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


class FakeRegistry:
    """Metadata at /onnxruntime-web/<version>, the tarball at /tarballs/package.tgz; counts requests."""

    def __init__(self, version: str, tarball: bytes, published_integrity: str):
        self.version, self.tarball, self.published_integrity = version, tarball, published_integrity
        self.requests: list[str] = []
        registry = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                registry.requests.append(self.path)
                if self.path == f"/{webruntime.PACKAGE}/{registry.version}":
                    body = json.dumps({"name": webruntime.PACKAGE, "version": registry.version, "dist": {
                        "integrity": registry.published_integrity,
                        "tarball": f"{registry.url}/tarballs/package.tgz"}}).encode()
                elif self.path == "/tarballs/package.tgz":
                    body = registry.tarball
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tarball_requests(self) -> int:
        return sum(path.endswith(".tgz") for path in self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


VERSION = "9.9.9-test"


@pytest.fixture
def package():
    tarball, contents = _tarball()
    return tarball, contents, npm_integrity(tarball)


@pytest.fixture
def registry(package):
    tarball, _, integrity = package
    fake = FakeRegistry(VERSION, tarball, integrity)
    yield fake
    fake.close()


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) if cache.exists() else []


def test_sri_is_npm_format():
    assert webruntime.sri_sha512(hashlib.sha512(b"")) == (
        "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==")
    assert webruntime.INTEGRITY.startswith("sha512-") and len(base64.b64decode(webruntime.INTEGRITY[7:])) == 64


def test_good_integrity_installs_only_the_page_files(tmp_path, package, registry):
    _, contents, integrity = package
    folder = webruntime.ensure(download=True, version=VERSION, integrity=integrity, registry=registry.url,
                               cache_dir=tmp_path)
    assert folder == tmp_path / f"onnxruntime-web-{VERSION}"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        list(webruntime.PAGE_FILES) + ["package.json", webruntime.MARKER])
    for name, data in contents.items():
        assert (folder / name).read_bytes() == data
    assert webruntime.installed(folder, integrity)
    assert leftovers(tmp_path) == []  # the temporary folder and the tarball are gone
    assert registry.tarball_requests() == 1


def test_tarball_that_differs_from_the_pinned_hash_is_refused(tmp_path, package):
    _, _, integrity = package
    tampered, _ = _tarball(extra=b"// changed after publishing")
    fake = FakeRegistry(VERSION, tampered, integrity)  # the metadata still claims the pinned hash
    try:
        with pytest.raises(text.Problem) as info:
            webruntime.ensure(download=True, version=VERSION, integrity=integrity, registry=fake.url,
                              cache_dir=tmp_path)
    finally:
        fake.close()
    assert info.value.message.key == "webruntime.integrity" and "tarball" in info.value.say("en")
    assert not webruntime.folder(VERSION, tmp_path).exists() and leftovers(tmp_path) == []


def test_registry_that_publishes_another_hash_is_refused_before_downloading(tmp_path, package):
    tarball, _, integrity = package
    other, _ = _tarball(extra=b"// another build")
    fake = FakeRegistry(VERSION, other, npm_integrity(other))  # self-consistent registry, not our pin
    try:
        with pytest.raises(text.Problem) as info:
            webruntime.ensure(download=True, version=VERSION, integrity=integrity, registry=fake.url,
                              cache_dir=tmp_path)
        assert fake.tarball_requests() == 0
    finally:
        fake.close()
    assert "registry" in info.value.say("en")
    assert not webruntime.folder(VERSION, tmp_path).exists()


def test_second_call_is_offline(tmp_path, package, registry, monkeypatch):
    _, _, integrity = package
    first = webruntime.ensure(download=True, version=VERSION, integrity=integrity, registry=registry.url,
                              cache_dir=tmp_path)
    registry.close()  # the network is gone
    count = len(registry.requests)
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    assert webruntime.ensure(version=VERSION, integrity=integrity, registry=registry.url, cache_dir=tmp_path) == first
    assert webruntime.ensure(download=True, version=VERSION, integrity=integrity, registry=registry.url,
                             cache_dir=tmp_path) == first  # even when downloads are allowed
    assert len(registry.requests) == count


def test_missing_and_offline_names_the_prefetch_command(tmp_path, package, registry, monkeypatch):
    _, _, integrity = package
    monkeypatch.setenv("DLCLASS_OFFLINE", "1")
    with pytest.raises(text.Problem) as info:
        webruntime.ensure(version=VERSION, integrity=integrity, registry=registry.url, cache_dir=tmp_path)
    for lang in ("ko", "en"):
        assert "python app.py --prefetch" in info.value.say(lang)
    assert "오프라인" in info.value.say("ko") and "offline" in info.value.say("en")
    assert registry.requests == []


def test_cache_dir_follows_dlclass_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))
    assert webruntime.folder() == tmp_path / "npm" / f"onnxruntime-web-{webruntime.VERSION}"


def test_many_threads_download_once(tmp_path, package, registry):
    _, _, integrity = package
    results, errors = [], []

    def open_tab():
        try:
            results.append(webruntime.ensure(download=True, version=VERSION, integrity=integrity,
                                             registry=registry.url, cache_dir=tmp_path))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=open_tab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1 and len(results) == 8
    assert registry.tarball_requests() == 1


def test_a_registry_that_never_answers_fails_within_the_timeout(tmp_path, package, monkeypatch):
    _, _, integrity = package
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts connections, never answers
    monkeypatch.setattr(webruntime, "CONNECT_TIMEOUT_S", 0.5)
    started = time.perf_counter()
    try:
        with pytest.raises(text.Problem) as info:
            webruntime.ensure(download=True, version=VERSION, integrity=integrity,
                              registry=f"http://127.0.0.1:{silent.getsockname()[1]}", cache_dir=tmp_path)
    finally:
        silent.close()
    assert time.perf_counter() - started < 5
    assert info.value.message.key == "webruntime.download_failed"
    assert "python app.py --prefetch" in info.value.say("ko")


def test_prefetch_reports_ok_or_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("DLCLASS_NPM_REGISTRY", "http://127.0.0.1:9")  # nothing listens on the discard port
    name, status = webruntime.prefetch()
    assert name == f"onnxruntime-web {webruntime.VERSION}"
    assert status != "ok" and "--prefetch" in status


def test_gradio_serves_the_page_files_with_types_webassembly_accepts(tmp_path):
    """WebAssembly.instantiateStreaming needs application/wasm; a module script needs a JavaScript type.
    Gradio's file route takes the type from Python's mimetypes for folders given to gr.set_static_paths,
    and serves nothing outside them."""
    import fastapi
    import gradio as gr
    from fastapi.testclient import TestClient

    served = tmp_path / "served"
    served.mkdir()
    (served / "x.wasm").write_bytes(b"\0asm\1\0\0\0")
    (served / "x.mjs").write_text("export const x = 1;")
    (served / "m.onnx").write_bytes(b"onnx")
    (tmp_path / "secret.txt").write_text("not for the page")
    gr.set_static_paths([served])
    with gr.Blocks() as demo:
        gr.Markdown("x")
    client = TestClient(gr.mount_gradio_app(fastapi.FastAPI(), demo, path="/"))
    wasm = client.get(f"/gradio_api/file={served / 'x.wasm'}")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    module = client.get(f"/gradio_api/file={served / 'x.mjs'}")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert client.get(f"/gradio_api/file={served / 'm.onnx'}").content == b"onnx"
    assert client.get(f"/gradio_api/file={tmp_path / 'secret.txt'}").status_code == 403
