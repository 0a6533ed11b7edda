"""The one cached model loader.

Every model in the app is a named `ModelSpec`, registered by a family module in `core/zoo/`.
`get(name)` returns the loaded model:

- loaded on first use, then cached per (name, device, dtype);
- single-flight: many threads asking for the same model at once cause exactly one load;
- least-recently-used eviction when the cached models exceed a memory budget;
- weights come from the local cache first; when they are missing the loader downloads them
  (online), and when that fails too it raises `ModelUnavailable`, whose Korean/English message
  names the model and the `python app.py --prefetch` command;
- the test zoo: with DLCLASS_MODELS=tiny (or tiny=True) every spec builds a tiny randomly
  initialised model of the same family instead, locally and in seconds.
"""
from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable

import torch

from core.i18n import UserError

log = logging.getLogger("dlclass.models")

# The family modules that register specs. Adding a family = one new file in core/zoo + one line here.
ZOO_MODULES = [
    "core.zoo.cnn",
    "core.zoo.vit",
    "core.zoo.yolo",
    "core.zoo.diffusion",
]


class WeightsMissing(Exception):
    """Raised by a spec's loader when the weights are not in the local cache (and downloading is off)."""


class ModelUnavailable(UserError):
    """A model whose weights are neither cached nor downloadable. The message says how to prefetch."""

    def __init__(self, name: str, reason: str = ""):
        self.name = name
        self.reason = reason
        extra_ko = f" (원인: {reason})" if reason else ""
        extra_en = f" (reason: {reason})" if reason else ""
        super().__init__(
            f"모델 '{name}'의 가중치가 이 컴퓨터에 없고, 인터넷에서 받을 수도 없습니다{extra_ko}. "
            f"인터넷이 되는 곳에서 `python app.py --prefetch {name}` 을 한 번 실행해 두면 이후에는 오프라인으로 동작합니다.",
            f"The weights of model '{name}' are not on this computer and could not be downloaded{extra_en}. "
            f"Run `python app.py --prefetch {name}` once while online; after that the app works offline.",
            title="모델 없음 / Model not available",
        )


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A named model the app can load.

    load(device, dtype, download) -> model: loads the real weights. With download=False it must not
        touch the network and raises WeightsMissing when the weights are not cached.
    build_tiny(device, dtype) -> model: a tiny randomly initialised model of the same family, offline.
    """

    name: str
    family: str  # "cnn", "vit", "yolo", "diffusion"
    source: str  # where the real weights come from, for people (e.g. "torchvision ResNet18 IMAGENET1K_V1")
    load: Callable[[torch.device, torch.dtype, bool], Any]
    build_tiny: Callable[[torch.device, torch.dtype], Any]
    default_dtype: torch.dtype = torch.float32
    approx_mb: int = 100  # rough memory of the real model, for planning and display
    prefetch_default: bool = True  # part of a plain `--prefetch`
    description: dict = dataclasses.field(default_factory=dict)  # {"ko": ..., "en": ...}


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
        raise UserError(f"알 수 없는 모델입니다: {name!r}", f"Unknown model: {name!r}")
    return _SPECS[name]


def specs(family: str | None = None) -> list[ModelSpec]:
    _ensure_zoo()
    return [s for s in _SPECS.values() if family is None or s.family == family]


# ---------------------------------------------------------------- heavy libraries, imported once

# transformers and diffusers load their submodules lazily, and that lazy loading is not safe when two
# request threads trigger it at once (one sees a half-imported module: "cannot import name
# 'PreTrainedModel'"). So the heavy libraries are imported here, in one thread, under one lock:
# in the background right after the server starts, and before any model load at the latest.
HEAVY_IMPORTS = [
    ("timm", ["create_model"]),
    ("transformers", ["PreTrainedModel", "ViTConfig", "ViTForImageClassification", "AutoImageProcessor",
                      "CLIPTextConfig", "CLIPTextModel", "CLIPTextModelWithProjection", "CLIPTokenizer",
                      "CLIPImageProcessor"]),
    ("diffusers", ["UNet2DConditionModel", "AutoencoderKL", "AutoencoderTiny", "EulerDiscreteScheduler",
                   "DDIMScheduler", "EulerAncestralDiscreteScheduler"]),
    ("diffusers.pipelines.stable_diffusion.safety_checker", ["StableDiffusionSafetyChecker"]),
    ("ultralytics", ["YOLO"]),  # after core.zoo.yolo has switched its network features off
]
_heavy_lock = threading.Lock()
_tiny_build_lock = threading.Lock()
_heavy_done = False


def import_heavy_libraries() -> None:
    """Import the heavy libraries and their lazily loaded classes once, serially (idempotent, thread-safe)."""
    global _heavy_done
    if _heavy_done:
        return
    with _heavy_lock:
        if _heavy_done:
            return
        started = time.perf_counter()
        # Importing ultralytics sets OMP_NUM_THREADS=1 when it is unset, which would halve every tab on a
        # 2-core machine: keep torch's own thread count and the environment as they were.
        threads, omp_env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
        _ensure_zoo()  # the family modules set their libraries' switches (e.g. ultralytics offline) first
        for module_name, attributes in HEAVY_IMPORTS:
            try:
                module = importlib.import_module(module_name)
                for attribute in attributes:
                    getattr(module, attribute, None)
            except Exception as exc:  # a missing optional library must not stop the app
                log.warning("could not import %s: %s", module_name, exc)
        for zoo_module in ZOO_MODULES:  # a family's own first-use set-up (e.g. ultralytics settings)
            warm_up = getattr(sys.modules.get(zoo_module), "warm_up", None)
            if warm_up is not None:
                warm_up()
        if omp_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        torch.set_num_threads(threads)
        _heavy_done = True
        log.info("heavy libraries imported in %.1f s", time.perf_counter() - started)


def warm_up_in_background(delay_s: float = 0.0) -> threading.Thread:
    """Import the heavy libraries in a background thread, so the first student does not wait for them."""
    def run():
        time.sleep(delay_s)
        import_heavy_libraries()

    thread = threading.Thread(target=run, name="dlclass-warm-up", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- devices

_device_override: str | None = os.environ.get("DLCLASS_DEVICE") or None


def set_device(choice: str | None) -> None:
    """'auto' (or None), 'cpu', 'cuda' or 'mps', from `app.py --device`."""
    global _device_override
    _device_override = None if choice in (None, "", "auto") else choice


def default_device() -> torch.device:
    """cuda > mps > cpu, unless overridden."""
    if _device_override:
        return torch.device(_device_override)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(torch.device("mps"))
    return devices


def tiny_default() -> bool:
    return os.environ.get("DLCLASS_MODELS", "").strip().lower() == "tiny"


def offline() -> bool:
    """DLCLASS_OFFLINE=1 (or HF_HUB_OFFLINE=1) forbids downloads: only cached weights are used."""
    return any(os.environ.get(v, "").strip() in ("1", "true", "yes") for v in ("DLCLASS_OFFLINE", "HF_HUB_OFFLINE"))


# ---------------------------------------------------------------- memory size


def model_bytes(model: Any) -> int:
    """Bytes of parameters and buffers of a model, or of every nn.Module attribute of a bundle/pipeline."""
    modules: list[torch.nn.Module] = []
    if isinstance(model, torch.nn.Module):
        modules.append(model)
    else:
        for value in vars(model).values() if hasattr(model, "__dict__") else []:
            if isinstance(value, torch.nn.Module):
                modules.append(value)
        components = getattr(model, "components", None)  # diffusers pipelines
        if isinstance(components, dict):
            modules += [m for m in components.values() if isinstance(m, torch.nn.Module)]
        inner = getattr(model, "model", None)  # ultralytics YOLO wraps an nn.Module
        if isinstance(inner, torch.nn.Module):
            modules.append(inner)
    seen: set[int] = set()
    total = 0
    for module in modules:
        for tensor in list(module.parameters()) + list(module.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


# ---------------------------------------------------------------- the cache


@dataclasses.dataclass
class _Entry:
    model: Any
    bytes: int
    loaded_at: float


class ModelLoader:
    """Cache of loaded models. One instance (`LOADER`) serves the whole app; tests make their own."""

    def __init__(self, budget_mb: float | None = None, tiny: bool | None = None):
        env_budget = os.environ.get("DLCLASS_MEMORY_BUDGET_MB")
        self.budget_bytes = int((budget_mb if budget_mb is not None else float(env_budget or 8000)) * 1e6)
        self.tiny = tiny
        self._cache: OrderedDict[tuple, _Entry] = OrderedDict()
        self._lock = threading.Lock()  # guards _cache and _inflight
        self._inflight: dict[tuple, Future] = {}
        self.load_count: dict[str, int] = {}  # loads actually performed, per model name (for tests/bench)

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
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
                return entry.model
            future = self._inflight.get(key)
            if future is not None:
                owner = False  # someone else is loading it: wait for their result (or their error)
            else:
                future = self._inflight[key] = Future()
                owner = True
        if not owner:
            return future.result()
        try:
            model = self._load(s, device, dtype, tiny)
        except BaseException as exc:
            with self._lock:
                # The waiters of this load see the error; the next call tries again (never cached as broken).
                self._inflight.pop(key)
            future.set_exception(exc)
            raise
        with self._lock:
            self._cache[key] = _Entry(model, model_bytes(model), time.time())
            self._evict(keep=key)
            self._inflight.pop(key)
        future.set_result(model)
        return model

    def _load(self, s: ModelSpec, device: torch.device, dtype: torch.dtype, tiny: bool) -> Any:
        self.load_count[s.name] = self.load_count.get(s.name, 0) + 1
        started = time.perf_counter()
        if tiny:
            # Tiny builders seed torch's global generator; one at a time, so the test zoo is the same every run.
            with _tiny_build_lock:
                model = s.build_tiny(device, dtype)
        else:
            try:
                model = s.load(device, dtype, False)
            except WeightsMissing as missing:
                if offline():
                    raise ModelUnavailable(s.name, str(missing) or "offline") from None
                log.info("downloading %s from %s", s.name, s.source)
                try:
                    model = s.load(device, dtype, True)
                except Exception as exc:  # network down, hub unreachable, disk full...
                    raise ModelUnavailable(s.name, _short_reason(exc)) from exc
        log.info("loaded %s on %s (%s, tiny=%s) in %.1f s", s.name, device, dtype, tiny,
                 time.perf_counter() - started)
        return model

    def _evict(self, keep: tuple) -> None:
        """Drop least-recently-used models until the cache fits the budget (never the one just loaded)."""
        total = sum(e.bytes for e in self._cache.values())
        for key in list(self._cache):
            if total <= self.budget_bytes:
                break
            if key == keep:
                continue
            total -= self._cache.pop(key).bytes
            log.info("evicted %s to stay under %.0f MB", key[0], self.budget_bytes / 1e6)
        if total > self.budget_bytes and torch.cuda.is_available():
            torch.cuda.empty_cache()

    def cached(self) -> list[tuple]:
        with self._lock:
            return list(self._cache)

    def cached_bytes(self) -> int:
        with self._lock:
            return sum(e.bytes for e in self._cache.values())

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def _short_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


LOADER = ModelLoader()


def get(name: str, device: str | torch.device | None = None, dtype: torch.dtype | None = None,
        tiny: bool | None = None) -> Any:
    """The app's shared loader: `models.get("resnet18")`."""
    return LOADER.get(name, device=device, dtype=dtype, tiny=tiny)


def is_available_offline(name: str) -> bool:
    """True when the real weights of `name` are already cached (no network is touched)."""
    s = spec(name)
    try:
        s.load(torch.device("cpu"), s.default_dtype, False)
        return True
    except WeightsMissing:
        return False


def prefetch(names: list[str] | None = None) -> list[tuple[str, str]]:
    """Download (with progress bars) and cache the real weights; returns (name, 'ok' or error) per model."""
    chosen = names or [s.name for s in specs() if s.prefetch_default]
    results = []
    for name in chosen:
        s = spec(name)
        print(f"[prefetch] {name}: {s.source}", flush=True)
        try:
            s.load(torch.device("cpu"), s.default_dtype, True)
            results.append((name, "ok"))
        except Exception as exc:
            results.append((name, _short_reason(exc)))
    return results
