"""onnxruntime-web, the library that runs the YOLO detector inside each student's browser, obtained like
model weights.

The npm package is pinned (version and integrity hash, below). On first use the app downloads the
published tarball from the npm registry, checks it against the registry's `dist.integrity` and against the
hash pinned here (so a registry that changed a published package is caught), and unpacks only the files
the page loads into the cache:

    ~/.cache/dlclass/npm/onnxruntime-web-<version>/      (DLCLASS_CACHE_DIR moves ~/.cache/dlclass)

Unpacking goes to a temporary folder first and is renamed into place, so a half-written folder is never
served. With the folder present nothing touches the network; without it and offline (DLCLASS_OFFLINE=1)
`ensure()` raises a Problem that names `python app.py --prefetch`. The app serves the folder to the page
through Gradio's file route (tabs/yolo_detect/tab.py); the multi-megabyte WASM files never enter git.

    webruntime.ensure()      -> Path of the folder (downloads once when missing and online)
    webruntime.prefetch()    -> ("onnxruntime-web 1.30.0", "ok" or the reason), for `python app.py --prefetch`
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from core import text

log = logging.getLogger("dlclass.webruntime")

PACKAGE = "onnxruntime-web"
VERSION = "1.30.0"
# dist.integrity of onnxruntime-web 1.30.0 as published (https://registry.npmjs.org/onnxruntime-web/1.30.0).
INTEGRITY = "sha512-q0y+JrrtukXSzsBWEMccVfqX25LRmosXHF+CaRJmg8pZClzcV7svNc4rKY3jL02Vb7QmRMDs1SigqR4CXAfKYQ=="
REGISTRY = "https://registry.npmjs.org"

# What the page loads, from the tarball's package/dist/: the WASM build (ES module, its Emscripten loader
# and the SIMD WebAssembly binary) and the WebGPU build (which runs on its own asyncify binary, also on
# the CPU when WebGPU is refused). package.json carries the licence (MIT) and the version.
WASM_BUNDLE = "ort.wasm.min.mjs"
WEBGPU_BUNDLE = "ort.webgpu.min.mjs"
PAGE_FILES = (
    WASM_BUNDLE, "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
    WEBGPU_BUNDLE, "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
)
MARKER = "integrity.txt"  # written last: its presence means the folder is complete

CONNECT_TIMEOUT_S = 15  # per socket operation (connect, each read)
DOWNLOAD_DEADLINE_S = 600  # the whole tarball (33 MB) on a slow classroom line
MAX_TARBALL_BYTES = 200 * 1024 * 1024

TEXT = text.table("webruntime", {
    "missing_offline": (
        "브라우저에서 YOLO 를 돌리는 라이브러리(onnxruntime-web {version})가 이 컴퓨터에 없고, 오프라인이라 받을 수도 "
        "없습니다. 인터넷이 되는 곳에서 `python app.py --prefetch` 를 한 번 실행해 두면 그다음부터는 오프라인에서도 됩니다.",
        "The library that runs YOLO in the browser (onnxruntime-web {version}) is not on this computer and cannot be "
        "downloaded offline. Run `python app.py --prefetch` once while online; after that it works offline."),
    "download_failed": (
        "브라우저용 YOLO 라이브러리(onnxruntime-web {version})를 받지 못했습니다 ({reason}). 인터넷이 되는 곳에서 "
        "`python app.py --prefetch` 를 실행해 주세요.",
        "The in-browser YOLO library (onnxruntime-web {version}) could not be downloaded ({reason}). Run "
        "`python app.py --prefetch` while online."),
    "integrity": (
        "받은 onnxruntime-web {version} 이 고정해 둔 해시와 다릅니다 ({what}). 안전을 위해 쓰지 않았습니다.",
        "The downloaded onnxruntime-web {version} does not match the pinned hash ({what}); for safety it was not used."),
})


def cache_root() -> Path:
    """The app cache (DLCLASS_CACHE_DIR or ~/.cache/dlclass) / npm."""
    return Path(os.environ.get("DLCLASS_CACHE_DIR") or Path.home() / ".cache" / "dlclass") / "npm"


def folder(version: str = VERSION, cache_dir: Path | None = None) -> Path:
    """Where the page's files of `version` live (whether or not they are there yet)."""
    return Path(cache_dir or cache_root()) / f"{PACKAGE}-{version}"


def installed(path: Path | None = None, integrity: str = INTEGRITY) -> bool:
    """True when `path` holds every page file and the marker of this exact package."""
    path = path or folder()
    marker = path / MARKER
    return (marker.is_file() and marker.read_text(encoding="utf-8").strip() == integrity
            and all((path / name).is_file() for name in PAGE_FILES))


def sri_sha512(data_hash: "hashlib._Hash") -> str:
    """A Subresource Integrity string ('sha512-<base64>') from a finished sha512."""
    return "sha512-" + base64.b64encode(data_hash.digest()).decode("ascii")


def _offline() -> bool:
    from core.models import offline

    return offline()


def _get(url: str, deadline: float, limit: int, sink=None) -> bytes:
    """GET `url` with bounded timeouts; bytes go to `sink.write` when given (and are not kept)."""
    request = urllib.request.Request(url, headers={"User-Agent": "dlclass", "Accept": "*/*"})
    chunks, size = [], 0
    with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT_S) as response:
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise OSError(f"{url} is larger than {limit // 2**20} MB")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} took longer than {DOWNLOAD_DEADLINE_S} s")
            if sink is None:
                chunks.append(chunk)
            else:
                sink.write(chunk)
    return b"".join(chunks)


def _download_and_unpack(version: str, integrity: str, registry: str, target: Path) -> None:
    """Registry metadata -> tarball -> both hash checks -> the page files in a temporary folder -> `target`."""
    deadline = time.monotonic() + DOWNLOAD_DEADLINE_S
    metadata = json.loads(_get(f"{registry.rstrip('/')}/{PACKAGE}/{version}", deadline, 10 * 2**20))
    dist = metadata.get("dist") or {}
    published, tarball_url = dist.get("integrity"), dist.get("tarball")
    if published != integrity:  # the registry now says another hash than the one pinned here
        raise TEXT.problem("integrity", version=version, what="registry dist.integrity")
    if not tarball_url:
        raise OSError("the registry metadata has no dist.tarball")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tarball = work / "package.tgz"
        digest = hashlib.sha512()
        with open(tarball, "wb") as out:
            class _HashingSink:
                def write(self, chunk: bytes) -> None:
                    digest.update(chunk)
                    out.write(chunk)

            _get(tarball_url, deadline, MAX_TARBALL_BYTES, _HashingSink())
        if sri_sha512(digest) != integrity:
            raise TEXT.problem("integrity", version=version, what="tarball sha512")
        unpacked = work / "files"
        unpacked.mkdir()
        with tarfile.open(tarball, "r:gz") as archive:
            for name in PAGE_FILES + ("package.json",):
                member = archive.getmember(f"package/dist/{name}" if name != "package.json" else "package/package.json")
                if not member.isfile():
                    raise OSError(f"{member.name} in the tarball is not a regular file")
                with archive.extractfile(member) as source, open(unpacked / name, "wb") as dest:
                    shutil.copyfileobj(source, dest)
        (unpacked / MARKER).write_text(integrity + "\n", encoding="utf-8")
        try:
            os.rename(unpacked, target)  # atomic: the folder appears complete or not at all
        except OSError:
            if not installed(target, integrity):  # not another process that won the race: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


_install_lock = threading.Lock()  # 30 students opening the tab at once download once


def ensure(*, download: bool | None = None, version: str = VERSION, integrity: str = INTEGRITY,
           registry: str | None = None, cache_dir: Path | None = None) -> Path:
    """The folder with the page's files of onnxruntime-web, downloaded once when missing.

    download=None follows the app: no download when DLCLASS_OFFLINE=1 (or HF_HUB_OFFLINE=1). The registry is
    DLCLASS_NPM_REGISTRY when set (a mirror), else the public npm registry. Raises text.Problem when the
    files are missing and cannot be had (offline, network down, hash mismatch)."""
    target = folder(version, cache_dir)
    if installed(target, integrity):
        return target
    with _install_lock:
        if installed(target, integrity):  # another thread finished it while this one waited
            return target
        if download is None:
            download = not _offline()
        if not download:
            raise TEXT.problem("missing_offline", version=version)
        registry = registry or os.environ.get("DLCLASS_NPM_REGISTRY") or REGISTRY
        log.info("downloading %s %s from %s", PACKAGE, version, registry)
        try:
            _download_and_unpack(version, integrity, registry, target)
        except text.Problem:
            raise
        except Exception as exc:  # network down, registry unreachable, disk full, broken tarball
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise TEXT.problem("download_failed", version=version, reason=reason) from exc
    return target


def prefetch() -> tuple[str, str]:
    """For `python app.py --prefetch`: (name, "ok" or the reason in English), downloading when needed."""
    name = f"{PACKAGE} {VERSION}"
    try:
        ensure(download=True)
        return name, "ok"
    except text.Problem as problem:
        return name, problem.say("en")
