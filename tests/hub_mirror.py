"""A local Hugging Face Hub for tests: the file protocol huggingface_hub 2.x speaks, on 127.0.0.1.

It serves, for every `ModelSpec` with `hub_repos`, the repository written by the spec's
`write_tiny_repo(repo_id, folder)`: the real file names, folders, configs, tokenizer files and variants,
with tiny random weights. Point `HF_ENDPOINT` at `mirror.url` (in a fresh process: huggingface_hub reads
it once, at import) and the app's real loading code downloads from it as it would from huggingface.co.

What it answers, as the Hub does (huggingface_hub/file_download.py, hf_api.py):
- `HEAD|GET /{repo}/resolve/{revision}/{path}`: a small file answers 200 with `ETag` (its git blob id),
  `X-Repo-Commit` and `Content-Length`; a large (git LFS) file answers 302 to the storage server (a
  second port, so a different origin as the real CDN is) with `X-Linked-Etag` (its sha256),
  `X-Linked-Size` and `X-Repo-Commit`; a missing file 404 with `X-Error-Code: EntryNotFound` and the
  commit (huggingface_hub then caches its absence); an unknown repository or revision 404 with
  `RepoNotFound` / `RevisionNotFound`.
- `GET /api/models/{repo}[/revision/{revision}]`: the model info (`sha`, `siblings`), as `repo_info`,
  `model_info` and diffusers' pipeline download read it.
- `GET /api/models/{repo}/tree/{revision}[/{path}]?recursive=...`: the file listing `snapshot_download`
  reads (paths, sizes, blob ids, LFS sha256).
- The storage server: `GET /{sha256}` with `Range` support (resumed downloads).
Anything else is answered 404 and kept in `mirror.unexpected`, so a test can say no other call was made.

Which files are LFS follows the repository's `.gitattributes` (the Hub's default one is written into
every repository), as git-lfs decides.

Use: the session fixture `hub_mirror` (a `HubMirror`; `mirror.env()` is the environment for a process
that should download from it). Import it into a test module, or into tests/conftest.py.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# The Hub's default .gitattributes: the patterns stored with git LFS (abridged to the file kinds of models).
GITATTRIBUTES_LFS = ("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
                     "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
                     "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "*.tar.*", "*.tar", "*.tflite",
                     "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*")
LAST_MODIFIED = "2024-01-01T00:00:00.000Z"


def git_blob_id(data: bytes) -> str:
    """git's object id of a file: sha1 of "blob <size>\\0" + content."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@dataclass(frozen=True)
class RepoFile:
    path: str  # inside the repository, with "/"
    location: Path  # on disk
    size: int
    blob_id: str  # git object id (of the LFS pointer for LFS files)
    sha256: str | None  # LFS files only


@dataclass
class Repo:
    repo_id: str
    files: dict[str, RepoFile]
    commit: str

    @classmethod
    def scan(cls, repo_id: str, folder: Path) -> Repo:
        attributes = folder / ".gitattributes"
        if not attributes.is_file():
            attributes.write_text("".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in GITATTRIBUTES_LFS))
        lfs_patterns = [line.split()[0] for line in attributes.read_text().splitlines()
                        if "filter=lfs" in line and line.strip()]
        files = {}
        for location in sorted(p for p in folder.rglob("*") if p.is_file()):
            path = location.relative_to(folder).as_posix()
            data = location.read_bytes()
            if any(fnmatch.fnmatch(location.name, pattern) for pattern in lfs_patterns):
                sha256 = hashlib.sha256(data).hexdigest()
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {len(data)}\n"
                files[path] = RepoFile(path, location, len(data), git_blob_id(pointer.encode()), sha256)
            else:
                files[path] = RepoFile(path, location, len(data), git_blob_id(data), None)
        commit = hashlib.sha1("".join(f"{f.path} {f.blob_id}\n" for f in files.values()).encode()).hexdigest()
        return cls(repo_id, files, commit)

    def info(self) -> dict:
        """The model info JSON (GET /api/models/{repo})."""
        return {"_id": self.commit[:24], "id": self.repo_id, "modelId": self.repo_id, "sha": self.commit,
                "private": False, "disabled": False, "gated": False, "downloads": 0, "likes": 0, "tags": [],
                "lastModified": LAST_MODIFIED, "createdAt": LAST_MODIFIED,
                "siblings": [{"rfilename": path} for path in self.files]}

    def tree(self, under: str, recursive: bool) -> list[dict]:
        """The tree listing JSON (GET /api/models/{repo}/tree/{revision}/{under})."""
        prefix = f"{under.strip('/')}/" if under.strip("/") else ""
        entries, folders = [], {}
        for f in self.files.values():
            if not f.path.startswith(prefix):
                continue
            rest = f.path[len(prefix):]
            if "/" in rest and not recursive:
                folders.setdefault(prefix + rest.split("/")[0], None)
                continue
            parts = rest.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folders.setdefault(prefix + "/".join(parts[:depth]), None)
            entry = {"type": "file", "oid": f.blob_id, "size": f.size, "path": f.path}
            if f.sha256 is not None:
                entry["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": 134}
            entries.append(entry)
        dirs = [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                for d in sorted(folders)]
        return dirs + entries


def write_repos(root: Path, specs=None) -> dict[str, Path]:
    """Write every Hub repository of the registered specs (or of `specs`) under root/<repo_id>."""
    from core import models

    written: dict[str, Path] = {}
    for spec in specs if specs is not None else models.specs():
        if not spec.hub_repos:
            continue
        if spec.write_tiny_repo is None:
            raise AssertionError(f"{spec.name} loads from the Hub ({spec.hub_repos}) but has no write_tiny_repo")
        for repo_id in spec.hub_repos:
            if repo_id in written:
                continue
            folder = root / repo_id
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            spec.write_tiny_repo(repo_id, folder)
            written[repo_id] = folder
    return written


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class HubMirror:
    """The Hub on one port, its storage ("CDN") on another; `requests` logs (method, path, status)."""

    def __init__(self, repos: dict[str, Path]):
        self.repos = {repo_id: Repo.scan(repo_id, folder) for repo_id, folder in repos.items()}
        self.blobs = {f.sha256: (repo.repo_id, f) for repo in self.repos.values() for f in repo.files.values()
                      if f.sha256}
        self.requests: list[tuple[str, str, int]] = []
        self.unexpected: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()
        self._hub = _Server(("127.0.0.1", 0), self._handler(self._hub_route))
        self._cdn = _Server(("127.0.0.1", 0), self._handler(self._cdn_route))
        self.url = f"http://127.0.0.1:{self._hub.server_address[1]}"
        self.cdn_url = f"http://127.0.0.1:{self._cdn.server_address[1]}"
        self._threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (self._hub, self._cdn)]

    def start(self) -> HubMirror:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    def env(self) -> dict[str, str]:
        """Environment for a process that downloads from this mirror (and nowhere else)."""
        return {"HF_ENDPOINT": self.url, "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0",
                "HF_HUB_DISABLE_TELEMETRY": "1", "DISABLE_SAFETENSORS_CONVERSION": "1"}

    def downloads(self, since: int = 0) -> list[str]:
        """"<repo>/<file>" of every file whose content was sent (a small file from the Hub port, a large one
        from the storage port), from request number `since` on."""
        sent = []
        with self._log_lock:
            log = self.requests[since:]
        for method, path, status in log:
            if method != "GET" or status not in (200, 206):
                continue
            path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
            if path.startswith("/cdn/"):
                repo_id, f = self.blobs[path.rsplit("/", 1)[-1]]
                sent.append(f"{repo_id}/{f.path}")
            elif "/resolve/" in path:
                repo_part, _, rest = path.lstrip("/").partition("/resolve/")
                sent.append(f"{repo_part}/{rest.partition('/')[2]}")
        return sent

    # ------------------------------------------------------------ HTTP plumbing

    def _handler(self, route):
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                route(self, "GET")

            def do_HEAD(self):
                route(self, "HEAD")

            def log_message(self, *args):  # quiet: the mirror keeps its own log
                pass

            def answer(self, method: str, status: int, headers: dict | None = None, body: bytes = b"",
                       path: str | None = None):
                self.send_response(status)
                for key, value in (headers or {}).items():
                    self.send_header(key, str(value))
                if "Content-Length" not in (headers or {}):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "GET" and body:
                    self.wfile.write(body)
                with mirror._log_lock:
                    mirror.requests.append((method, path or self.path, status))

        return Handler

    def _json(self, handler, method: str, data, status: int = 200):
        handler.answer(method, status, {"Content-Type": "application/json"}, json.dumps(data).encode())

    def _error(self, handler, method: str, status: int, code: str, commit: str | None = None):
        headers = {"X-Error-Code": code, "X-Error-Message": code, "Content-Type": "application/json"}
        if commit:
            headers["X-Repo-Commit"] = commit
        handler.answer(method, status, headers, json.dumps({"error": code}).encode())

    def _find_repo(self, path: str) -> tuple[Repo | None, str]:
        """The repository a path starts with, and the rest of the path."""
        for repo_id in sorted(self.repos, key=len, reverse=True):
            if path == repo_id or path.startswith(repo_id + "/"):
                return self.repos[repo_id], path[len(repo_id):]
        return None, path

    def _revision_ok(self, repo: Repo, revision: str) -> bool:
        return revision in ("main", repo.commit)

    # ------------------------------------------------------------ the Hub

    def _hub_route(self, handler, method: str):
        url = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(url.path)
        query = urllib.parse.parse_qs(url.query)
        if path.startswith("/api/models/"):
            return self._api(handler, method, path[len("/api/models/"):], query)
        repo, rest = self._find_repo(path.lstrip("/"))
        if repo is not None and rest.startswith("/resolve/"):
            revision, _, file_path = rest[len("/resolve/"):].partition("/")
            return self._resolve(handler, method, repo, revision, file_path)
        if "/resolve/" in path:  # a repository this mirror does not have
            return self._error(handler, method, 404, "RepoNotFound")
        self.unexpected.append((method, handler.path))
        return self._error(handler, method, 404, "NotFound")

    def _api(self, handler, method: str, rest: str, query: dict):
        repo, tail = self._find_repo(rest)
        if repo is None:
            return self._error(handler, method, 404, "RepoNotFound")
        if tail in ("", "/"):
            return self._json(handler, method, repo.info())
        if tail.startswith("/revision/"):
            revision = tail[len("/revision/"):].strip("/")
            if not self._revision_ok(repo, revision):
                return self._error(handler, method, 404, "RevisionNotFound")
            return self._json(handler, method, repo.info())
        if tail.startswith("/tree/"):
            revision, _, under = tail[len("/tree/"):].partition("/")
            if not self._revision_ok(repo, revision):
                return self._error(handler, method, 404, "RevisionNotFound")
            recursive = (query.get("recursive") or ["false"])[0].lower() in ("1", "true")
            return self._json(handler, method, repo.tree(under, recursive))
        self.unexpected.append((method, handler.path))
        return self._error(handler, method, 404, "NotFound")

    def _resolve(self, handler, method: str, repo: Repo, revision: str, file_path: str):
        if not self._revision_ok(repo, revision):
            return self._error(handler, method, 404, "RevisionNotFound")
        f = repo.files.get(file_path)
        if f is None:
            return self._error(handler, method, 404, "EntryNotFound", commit=repo.commit)
        if f.sha256 is not None:  # git LFS: the Hub redirects to its storage, the file's facts on the redirect
            location = f"{self.cdn_url}/cdn/{f.sha256}?{urllib.parse.urlencode({'filename': Path(f.path).name})}"
            return handler.answer(method, 302, {
                "Location": location, "X-Repo-Commit": repo.commit, "ETag": f'"{f.blob_id}"',
                "X-Linked-Etag": f'"{f.sha256}"', "X-Linked-Size": f.size, "Content-Length": 0})
        body = f.location.read_bytes()
        return handler.answer(method, 200, {"ETag": f'"{f.blob_id}"', "X-Repo-Commit": repo.commit,
                                            "Content-Type": "application/octet-stream"}, body)

    # ------------------------------------------------------------ the storage server

    def _cdn_route(self, handler, method: str):
        url = urllib.parse.urlsplit(handler.path)
        sha256 = url.path.rsplit("/", 1)[-1]
        _, f = self.blobs.get(sha256, (None, None)) if url.path.startswith("/cdn/") else (None, None)
        if f is None:
            self.unexpected.append((method, handler.path))
            return handler.answer(method, 404, path=url.path)
        data = f.location.read_bytes()
        headers = {"Content-Type": "application/octet-stream", "ETag": f'"{sha256}"', "Accept-Ranges": "bytes",
                   # as the Hub's storage sends it (huggingface_hub shows this name on the progress bar)
                   "Content-Disposition": f"inline; filename*=UTF-8''{Path(f.path).name}; "
                                          f'filename="{Path(f.path).name}";'}
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes="):
            start_text, _, end_text = wanted[len("bytes="):].partition("-")
            start = int(start_text or 0)
            end = int(end_text) if end_text else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return handler.answer(method, 206, headers, data[start:end + 1], path=url.path)
        return handler.answer(method, 200, headers, data, path=url.path)


@pytest.fixture(scope="session")
def hub_mirror(tmp_path_factory):
    """Every Hub repository of the app's specs, tiny, served on 127.0.0.1 (see HubMirror.env())."""
    mirror = HubMirror(write_repos(tmp_path_factory.mktemp("hub_mirror"))).start()
    yield mirror
    mirror.stop()


# ---------------------------------------------------------------- the caches of the non-Hub libraries


def write_torchvision_checkpoint(torch_home: Path, name: str) -> Path:
    """A torchvision CNN's checkpoint where torch hub keeps downloads (<TORCH_HOME>/hub/checkpoints/<the
    url's file name>), in the real format (a state dict of the real architecture) with random weights."""
    import torch

    from core.zoo import cnn

    path = Path(torch_home) / "hub" / "checkpoints" / Path(cnn.torchvision_weights(name).url).name
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(cnn.build_architecture(name).state_dict(), path)
    return path


def write_yolo_checkpoint(dlclass_cache: Path, name: str) -> Path:
    """A YOLO checkpoint in the app's YOLO folder (<DLCLASS_CACHE_DIR>/ultralytics/<name>.pt), saved by
    ultralytics itself from its yaml model (real architecture, random weights, COCO names)."""
    import torch

    from core.zoo import yolo

    yolo.prepare_library()
    from ultralytics import YOLO

    path = Path(dlclass_cache) / "ultralytics" / f"{name}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = YOLO(f"{name}.yaml", task="detect")
    model.model.names = dict(enumerate(yolo.coco_names()))
    model.save(str(path))
    return path
