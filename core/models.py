"""The one cached model loader.

Every model in the app is a named `ModelSpec`, registered by a family module in `core/zoo/`.
`get(name)` returns the loaded model:

- loaded on first use, then kept per (name, device, dtype, tiny) in a `core.memory.Store`: one memory
  budget for every cache of the app, least recently used entries dropped first, across stores;
- single-flight: many threads asking for the same model at once cause exactly one load;
- weights come from the local cache first; each spec answers "are my weights on this computer?"
  (`ModelSpec.is_cached`) without touching the network, and that one answer is used everywhere
  (the loader, prefetch, the offline message, the tabs' model pickers);
- when the weights are missing the loader downloads them (online), after a quick check that the
  download host answers at all (`CONNECT_TIMEOUT_S`); when that fails it raises `ModelUnavailable`,
  whose Korean/English message names the model, the `python app.py --prefetch` command and the
  models of the same kind that ARE on this computer;
- a model that could not be downloaded answers at once on every later click: the network is tried
  again only after `RETRY_AFTER_S` (or as soon as its weights appear in the cache);
- the test zoo: with DLCLASS_MODELS=tiny (or tiny=True) every spec builds a tiny randomly
  initialised model of the same family instead, locally and in seconds.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from typing import Any, Callable
from urllib.parse import urlparse

import torch

from core import libraries, memory, text
from core.devices import available_devices, default_device, model_bytes, set_device  # noqa: F401 - read as models.X
from core.libraries import HEAVY_IMPORTS  # noqa: F401 - read as models.HEAVY_IMPORTS

log = logging.getLogger("dlclass.models")

# The family modules that register specs. Adding a family = one new file in core/zoo + one line here.
ZOO_MODULES = [
    "core.zoo.cnn",
    "core.zoo.vit",
    "core.zoo.yolo",
    "core.zoo.diffusion",
    "core.zoo.text",
    "core.zoo.hub",
    # the Hugging Face lesson's further rows (core.zoo.hub.add_task), one module each
    "core.zoo.hub_translation",
    "core.zoo.hub_clip",
    "core.zoo.hub_speech",
]

# How long the first download attempt may wait for the download host to accept a connection (DNS
# included), and how long a model that could not be downloaded answers "unavailable" at once before
# the network is tried again.
CONNECT_TIMEOUT_S = float(os.environ.get("DLCLASS_CONNECT_TIMEOUT_S") or 3.0)
RETRY_AFTER_S = float(os.environ.get("DLCLASS_RETRY_AFTER_S") or 180.0)

TEXT = text.table("models", {
    "unavailable": ("모델 '{name}'의 가중치가 이 컴퓨터에 없고, 지금은 내려받을 수도 없습니다.",
                    "The weights of model '{name}' are not on this computer and cannot be downloaded right now."),
    "reason": ("(원인: {reason})", "(Reason: {reason})"),
    "prefetch": ("인터넷이 되는 곳에서 `python app.py --prefetch {name}` 을 한 번 실행해 두면 그다음부터는 "
                 "오프라인으로 동작합니다.",
                 "Run `python app.py --prefetch {name}` once while online; after that the app works offline."),
    "available": ("이 컴퓨터에 있어 바로 쓸 수 있는 같은 종류의 모델: {names}.",
                  "Models of the same kind that are on this computer, ready to use: {names}."),
    "none_available": ("같은 종류의 다른 모델도 이 컴퓨터에는 없습니다.",
                       "No other model of this kind is on this computer either."),
    "retry": ("인터넷 연결은 약 {minutes}분 뒤에 다시 시도합니다.",
              "The app tries the network again in about {minutes} min."),
    "title": ("모델 없음", "Model not available"),
    "offline": ("오프라인 모드", "offline mode"),
    "unreachable": ("{where}에 연결할 수 없음", "cannot reach {where}"),
    "unknown_model": ("알 수 없는 모델입니다: {name!r}", "Unknown model: {name!r}"),
})


class WeightsMissing(Exception):
    """Raised by a spec's loader when the weights are not in the local cache (and downloading is off)."""


class ModelUnavailable(text.Problem):
    """A model whose weights are neither cached nor downloadable. The message says how to prefetch and
    which models of the same kind are on this computer, in the page's language (words: `TEXT`)."""

    def __init__(self, name: str, reason: str | text.Message = "", available: list[str] | None = None,
                 retry_in_s: float | None = None):
        self.name = name
        self.reason = reason
        self.retry_in_s = retry_in_s
        self.available = list(available) if available is not None else cached_alternatives(name)
        self.words = [TEXT.msg("unavailable", name=name)]
        if reason:
            self.words.append(TEXT.msg("reason", reason=reason))
        self.words.append(TEXT.msg("prefetch", name=name))
        if self.available:
            self.words.append(TEXT.msg("available", names=", ".join(self.available)))
        else:
            self.words.append(TEXT.msg("none_available"))
        if retry_in_s is not None:
            self.words.append(TEXT.msg("retry", minutes=max(1, round(retry_in_s / 60))))
        super().__init__(self.words[0], title=TEXT.msg("title"))

    def say(self, lang: str) -> str:
        return " ".join(message.say(lang) for message in self.words)

    def __str__(self) -> str:
        return self.say("en")

    def __reduce__(self):  # picklable with all its words (ZeroGPU runs events in another process)
        return (ModelUnavailable, (self.name, self.reason, self.available, self.retry_in_s))


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A named model the app can load.

    load(device, dtype, download) -> model: loads the real weights. With download=False it must not
        touch the network and raises WeightsMissing when the weights are not cached.
    build_tiny(device, dtype) -> model: a tiny randomly initialised model of the same family, offline.
    is_cached() -> bool: whether the real weights are on this computer (every file `load` reads), without
        touching the network. The one answer to that question in the app.
    """

    name: str
    family: str  # "cnn", "vit", "yolo", "diffusion", "text"
    source: str  # where the real weights come from, for people (e.g. "torchvision ResNet18 IMAGENET1K_V1")
    load: Callable[[torch.device, torch.dtype, bool], Any]
    build_tiny: Callable[[torch.device, torch.dtype], Any]
    default_dtype: torch.dtype = torch.float32
    approx_mb: int = 100  # rough memory of the real model, for planning and display
    prefetch_default: bool = True  # part of a plain `--prefetch`
    description: dict = dataclasses.field(default_factory=dict)  # {"ko": ..., "en": ...}
    # Hugging Face Hub repositories the real loader downloads from (empty for torchvision/ultralytics/PyPI).
    hub_repos: tuple[str, ...] = ()
    # write_tiny_repo(repo_id, folder): the repository's real layout (file names, subfolders, configs,
    # tokenizer files, variants) with tiny random weights, for the tests' local hub mirror.
    write_tiny_repo: Callable[[str, Any], None] | None = None
    # Whether every file `load` reads is on this computer (no network). None: the family cannot tell
    # without loading; the loader then tries `load(download=False)` and other uses count it as missing.
    is_cached: Callable[[], bool] | None = None
    # An address of the host the real loader downloads from, for the quick reachability check.
    download_url: Callable[[], str] | None = None
    # What a teacher could switch to when this model is missing: specs of the same kind ("" = the family).
    kind: str = ""


_SPECS: dict[str, ModelSpec] = {}
_zoo_loaded = False
_zoo_lock = threading.Lock()


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _SPECS and _SPECS[spec.name] is not spec:
        raise ValueError(f"model spec {spec.name!r} registered twice")
    _SPECS[spec.name] = spec
    return spec


def _ensure_zoo() -> None:
    global _zoo_loaded
    if _zoo_loaded:
        return
    with _zoo_lock:
        if not _zoo_loaded:
            for module in ZOO_MODULES:
                try:
                    importlib.import_module(module)
                except ModuleNotFoundError as exc:
                    if exc.name != module:  # a family module that exists but fails to import is a bug
                        raise
            _zoo_loaded = True


def spec(name: str) -> ModelSpec:
    _ensure_zoo()
    if name not in _SPECS:
        raise TEXT.problem("unknown_model", name=name)
    return _SPECS[name]


def specs(family: str | None = None) -> list[ModelSpec]:
    _ensure_zoo()
    return [s for s in _SPECS.values() if family is None or s.family == family]


# ---------------------------------------------------------------- "are the weights on this computer?"


def is_cached(name: str) -> bool:
    """The spec's own answer: are the real weights of `name` on this computer? Never touches the network;
    a spec that cannot tell counts as not cached."""
    s = spec(name)
    if s.is_cached is None:
        return False
    try:
        return bool(s.is_cached())
    except Exception as exc:  # a broken cache folder must not break the page that asks
        log.warning("is_cached(%s) failed: %s", name, exc)
        return False


def source(name: str) -> str:
    """Where the loader would take `name` from now, asked without loading anything: "tiny" (the test zoo's
    random model of the same family), "cached" (real weights on this computer) or "download" (not here yet).
    Lessons ask this rather than reading the loader's switches themselves."""
    if tiny_default():
        return "tiny"
    return "cached" if is_cached(name) else "download"


def cached_alternatives(name: str) -> list[str]:
    """The other models of the same kind as `name` whose weights are on this computer."""
    try:
        wanted = spec(name)
    except text.Problem:
        return []
    kind = wanted.kind or wanted.family
    return [s.name for s in specs() if s.name != name and (s.kind or s.family) == kind and is_cached(s.name)]


def hub_files_cached(repo: str, files: Iterable[str | tuple[str, ...]]) -> bool:
    """Whether every file of a Hugging Face Hub repository (for a tuple: one of its alternatives, such as
    model.safetensors or pytorch_model.bin) is in the local Hugging Face cache. No network."""
    from huggingface_hub import try_to_load_from_cache

    for wanted in files:
        choices = (wanted,) if isinstance(wanted, str) else wanted
        if not any(isinstance(try_to_load_from_cache(repo, choice), str) for choice in choices):
            return False
    return True


def hub_endpoint() -> str:
    """The Hugging Face Hub address the downloads go to (HF_ENDPOINT, read by huggingface_hub at import)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


# ---------------------------------------------------------------- heavy libraries, imported once

_tiny_build_lock = threading.Lock()


def import_heavy_libraries() -> None:
    """Import the heavy libraries and their lazily loaded classes once, serially (idempotent, thread-safe;
    why: `core.libraries`).

    A family module may define `prepare_library()`: its library's one-time set-up (e.g. ultralytics'
    switches, which must be set before ultralytics is first imported). Those run first."""
    libraries.import_heavy(before=_prepare_libraries)


def _prepare_libraries() -> None:
    _ensure_zoo()
    for zoo_module in ZOO_MODULES:
        prepare = getattr(sys.modules.get(zoo_module), "prepare_library", None)
        if prepare is not None:
            try:
                prepare()
            except Exception as exc:  # a missing optional library must not stop the app
                log.warning("could not prepare %s: %s", zoo_module, exc)


def warm_up_in_background(delay_s: float = 0.0) -> threading.Thread:
    """Import the heavy libraries in a background thread, so the first student does not wait for them."""
    def run():
        time.sleep(delay_s)
        import_heavy_libraries()

    thread = threading.Thread(target=run, name="dlclass-warm-up", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- the test zoo, and whether downloads are allowed


def tiny_default() -> bool:
    return os.environ.get("DLCLASS_MODELS", "").strip().lower() == "tiny"


def offline() -> bool:
    """DLCLASS_OFFLINE=1 (or HF_HUB_OFFLINE=1) forbids downloads: only cached weights are used."""
    return any(os.environ.get(v, "").strip() in ("1", "true", "yes") for v in ("DLCLASS_OFFLINE", "HF_HUB_OFFLINE"))


# ---------------------------------------------------------------- is the download host there at all?


def reachable(url: str, timeout_s: float | None = None) -> tuple[bool, str]:
    """(True, "") when the host of `url` (or the proxy the environment names for it) accepts a TCP
    connection within `timeout_s` (default CONNECT_TIMEOUT_S), name lookup included; else (False, where and
    why). Libraries' own downloads can wait much longer on a network that drops packets, so the loader asks
    this first."""
    timeout_s = CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    parsed = urlparse(url)
    host, port = parsed.hostname or "", parsed.port or (443 if parsed.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxied.hostname or host, proxied.port or 80
    outcome: dict[str, Any] = {}

    def connect():
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                outcome["ok"] = True
        except OSError as exc:
            outcome["error"] = exc

    # In a thread: a name lookup without a DNS server can block far longer than any socket timeout.
    attempt = threading.Thread(target=connect, name="dlclass-reachable", daemon=True)
    attempt.start()
    attempt.join(timeout_s)
    if outcome.get("ok"):
        return True, ""
    detail = str(outcome["error"]) if "error" in outcome else f"no answer within {timeout_s:g} s"
    return False, f"{host}:{port} ({detail})"


# ---------------------------------------------------------------- the loader


@dataclasses.dataclass
class _Unavailable:
    retry_at: float  # time.monotonic() after which the network is tried again
    reason: str | text.Message


class ModelLoader:
    """Loaded models, kept in a `core.memory.Store`. One instance (`LOADER`) serves the whole app, on the
    app's one memory budget; tests make their own (with `budget_mb`, on a budget of their own)."""

    def __init__(self, budget_mb: float | None = None, tiny: bool | None = None,
                 retry_after_s: float | None = None):
        budget = memory.BUDGET if budget_mb is None else memory.Budget(int(budget_mb * 1e6))
        self.tiny = tiny
        self.retry_after_s = RETRY_AFTER_S if retry_after_s is None else retry_after_s
        self._store = memory.Store("models", size=model_bytes, budget=budget, on_evict=self._evicted)
        self._unavailable: dict[str, _Unavailable] = {}  # by model name: the negative cache
        self._unavailable_lock = threading.Lock()
        self.load_count: dict[str, int] = {}  # loads actually performed, per model name (for tests/bench)

    @property
    def budget_bytes(self) -> int:
        return self._store.budget.limit_bytes

    def _key(self, name: str, device: torch.device, dtype: torch.dtype, tiny: bool) -> tuple:
        return (name, str(device), str(dtype), tiny)

    def get(self, name: str, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
            tiny: bool | None = None) -> Any:
        """The model `name` on `device` in `dtype`, loaded once and cached."""
        import_heavy_libraries()
        s = spec(name)
        device = torch.device(device) if device is not None else default_device()
        dtype = dtype or s.default_dtype
        if tiny is None:
            tiny = self.tiny if self.tiny is not None else tiny_default()
        key = self._key(name, device, dtype, tiny)
        # Concurrent first requests join one load; a failure is never kept by the store (the negative
        # cache below decides when the network is tried again).
        return self._store.get_or_compute(key, lambda: self._load(s, device, dtype, tiny))

    def _load(self, s: ModelSpec, device: torch.device, dtype: torch.dtype, tiny: bool) -> Any:
        started = time.perf_counter()
        if tiny:
            self._count(s.name)
            # Tiny builders seed torch's global generator; one at a time, so the test zoo is the same every run.
            with _tiny_build_lock:
                model = s.build_tiny(device, dtype)
        else:
            model = self._load_real(s, device, dtype)
        log.info("loaded %s on %s (%s, tiny=%s) in %.1f s", s.name, device, dtype, tiny,
                 time.perf_counter() - started)
        return model

    def _count(self, name: str) -> None:
        self.load_count[name] = self.load_count.get(name, 0) + 1

    def _load_real(self, s: ModelSpec, device: torch.device, dtype: torch.dtype) -> Any:
        missing: str | text.Message = "not in the local cache"
        if s.is_cached is None or is_cached(s.name):
            self._count(s.name)
            try:
                model = s.load(device, dtype, False)
                self._forget_unavailable(s.name)
                return model
            except WeightsMissing as exc:  # e.g. a download that stopped half-way
                missing = str(exc) or missing
        if offline():
            raise ModelUnavailable(s.name, TEXT.msg("offline"))
        with self._unavailable_lock:
            known = self._unavailable.get(s.name)
        if known is not None and time.monotonic() < known.retry_at:
            raise ModelUnavailable(s.name, known.reason, retry_in_s=known.retry_at - time.monotonic())
        self._count(s.name)
        try:
            model = download(s, lambda: s.load(device, dtype, True))
        except ModelUnavailable as exc:
            self._remember_unavailable(s.name, exc.reason)
            raise ModelUnavailable(s.name, exc.reason, retry_in_s=self.retry_after_s) from None
        except Exception as exc:  # hub answered with an error, disk full...
            reason = _short_reason(exc)
            self._remember_unavailable(s.name, reason)
            raise ModelUnavailable(s.name, reason, retry_in_s=self.retry_after_s) from exc
        log.info("downloaded %s (it was missing: %s)", s.name, missing)
        self._forget_unavailable(s.name)
        return model

    def _remember_unavailable(self, name: str, reason: str | text.Message) -> None:
        log.warning("%s is not available: %s (the network is tried again in %.0f s)", name,
                    reason.say("en") if isinstance(reason, text.Message) else reason, self.retry_after_s)
        with self._unavailable_lock:
            self._unavailable[name] = _Unavailable(time.monotonic() + self.retry_after_s, reason)

    def _forget_unavailable(self, name: str) -> None:
        with self._unavailable_lock:
            self._unavailable.pop(name, None)

    def _evicted(self, key: tuple, model: Any) -> None:
        log.info("evicted %s to stay under %.0f MB", key[0], self.budget_bytes / 1e6)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def cached(self) -> list[tuple]:
        """Keys of the loaded models, least recently used first."""
        return self._store.keys()

    def cached_bytes(self) -> int:
        return self._store.bytes()

    def clear(self) -> None:
        self._store.clear()
        with self._unavailable_lock:
            self._unavailable.clear()


def download(s: ModelSpec, fetch: Callable[[], Any]) -> Any:
    """Run `fetch` (a spec's download), first checking quickly that the download host answers: on a
    network that drops packets a library's own download can hang for minutes before it fails."""
    if s.download_url is not None:
        url = s.download_url()
        ok, where = reachable(url)
        if not ok:
            raise ModelUnavailable(s.name, TEXT.msg("unreachable", where=where), available=[])
    log.info("downloading %s from %s", s.name, s.source)
    return fetch()


def _short_reason(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text_[:160]


LOADER = ModelLoader()


def get(name: str, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
        tiny: bool | None = None) -> Any:
    """The app's shared loader: `models.get("resnet18")`."""
    return LOADER.get(name, device=device, dtype=dtype, tiny=tiny)


def prefetch(names: list[str] | None = None) -> list[tuple[str, str]]:
    """Download (with the libraries' progress bars) and cache the real weights of the default models, or of
    `names`; returns (name, 'ok' or the error) per model. A model is 'ok' only when its own cache check
    says afterwards that every file it loads is on this computer."""
    chosen = names or [s.name for s in specs() if s.prefetch_default]
    results = []
    for name in chosen:
        s = spec(name)
        started = time.perf_counter()
        if is_cached(name):
            print(f"[prefetch] {name}: already on this computer ({s.source})", flush=True)
            results.append((name, "ok"))
            continue
        print(f"[prefetch] {name}: downloading from {s.source}", flush=True)
        try:
            model = download(s, lambda: s.load(torch.device("cpu"), s.default_dtype, True))
            del model
            if s.is_cached is not None and not is_cached(name):
                raise RuntimeError("downloaded and loaded, but its cache check still misses files")
            print(f"[prefetch] {name}: done in {time.perf_counter() - started:.1f} s", flush=True)
            results.append((name, "ok"))
        except ModelUnavailable as exc:
            results.append((name, exc.reason.say("en") if isinstance(exc.reason, text.Message) else str(exc.reason)))
        except Exception as exc:
            results.append((name, _short_reason(exc)))
    return results
