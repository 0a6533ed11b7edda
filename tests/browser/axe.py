"""axe-core, the accessibility checker, for the browser tests: pinned, checked, fetched once, then offline.

The npm tarball of axe-core VERSION is downloaded once from the npm registry, its sha512 compared with the
`dist.integrity` pinned here (the hash the registry published for this version), and only `axe.min.js`
kept in the cache (~/.cache/dlclass/npm/axe-core-<version>/, DLCLASS_CACHE_DIR moves ~/.cache/dlclass),
the way core/webruntime.py keeps onnxruntime-web. With the file there, nothing touches the network; without
it and without a network, the test that needs it is skipped with the command that fetches it.

    python -m tests.browser.axe      # fetch once (online)
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path

PACKAGE = "axe-core"
VERSION = "4.14.1"
# dist.integrity of axe-core 4.14.1 as published (https://registry.npmjs.org/axe-core/4.14.1)
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TARBALL = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
SCRIPT = "axe.min.js"


def cached_script() -> Path:
    root = Path(os.environ.get("DLCLASS_CACHE_DIR") or Path.home() / ".cache" / "dlclass") / "npm"
    return root / f"{PACKAGE}-{VERSION}" / SCRIPT


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def unpack_script(tarball: bytes, integrity: str = INTEGRITY) -> bytes:
    """axe.min.js out of the npm tarball, after checking the tarball against the pinned integrity."""
    if sri_sha512(tarball) != integrity:
        raise ValueError(f"{PACKAGE} {VERSION}: the tarball does not match the pinned sha512")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.getmember(f"package/{SCRIPT}")
        with archive.extractfile(member) as source:
            return source.read()


def ensure(download: bool = True) -> Path:
    """The path of axe.min.js, downloaded (once) when missing; OSError when missing and not downloadable."""
    target = cached_script()
    if target.is_file():
        return target
    if not download:
        raise OSError(f"{target} is missing")
    with urllib.request.urlopen(TARBALL, timeout=60) as response:
        script = unpack_script(response.read())
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(script)
    os.replace(tmp.name, target)  # the file appears whole or not at all
    return target


if __name__ == "__main__":
    print(ensure())
