"""Ultralytics YOLO object detectors (COCO, 80 classes): YOLO11 nano and small.

YOLO11 is the newest family of the installed ultralytics whose detect head still ends in
non-maximum suppression (YOLO26 is NMS-free), and the lesson shows what NMS does.

Every spec loads to a `Detector` bundle: the ultralytics `YOLO` object plus its COCO class names and a
lock (an ultralytics predictor keeps per-call state, so one detector serves one frame at a time).

Ultralytics likes to reach the network at run time (update checks, analytics, hub sync, pip-installing
missing packages). `prepare_library()`, the one adapter between the app and ultralytics, switches all of
that off through ultralytics' public switches before ultralytics is first imported (the loader's
heavy-import step calls it); the only network access left is the explicit weights download of
`load(..., download=True)`, through ultralytics' own downloader.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import sys
import threading
from functools import lru_cache
from pathlib import Path

import torch

from core.models import ModelSpec, WeightsMissing, register

log = logging.getLogger("dlclass.yolo")

CACHE_DIR = Path(os.environ.get("DLCLASS_CACHE_DIR") or Path.home() / ".cache" / "dlclass") / "ultralytics"

# name -> (approx MB, Korean, English)
YOLO_MODELS = {
    "yolo11n": (6, "YOLO11 nano: 260만 개 파라미터, CPU에서도 실시간에 가까운 가장 가벼운 모델",
                "YOLO11 nano: 2.6M parameters, the lightest, near real time even on a CPU"),
    "yolo11s": (19, "YOLO11 small: 940만 개 파라미터, 더 정확하지만 3배쯤 느린 모델",
                "YOLO11 small: 9.4M parameters, more accurate but about 3x slower"),
}
DEFAULT_YOLO = "yolo11n"


_prepare_lock = threading.Lock()
_prepared = False


def prepare_library() -> None:
    """Import ultralytics the way the app needs it (idempotent, thread-safe). Public switches only:

    - the environment variables ultralytics reads once, when it is first imported
      (ultralytics/utils/__init__.py): YOLO_OFFLINE=1 (no PyPI update check, analytics, Sentry or hub;
      downloads still work), YOLO_AUTOINSTALL=False (check_requirements never pip-installs),
      YOLO_CONFIG_DIR (its settings file in the app cache, never in the repository or ~/.config);
    - its settings object (`ultralytics.settings.update`): no sync, folders in the app cache;
    - torch's thread count and OMP_NUM_THREADS as they were: importing ultralytics sets OMP_NUM_THREADS=1
      when it is unset, which would halve every tab on a 2-core machine.

    Ultralytics also replaces PIL's Image.open with a version that, on a file PIL cannot identify, tries
    to install a HEIF plugin (refused here: no auto-install) and then raises ImportError instead of
    UnidentifiedImageError. That is left as it is: `core.images.load_image` treats both as "not an image"
    (tests/test_offline.py fails if ultralytics' patch starts doing something else).
    """
    global _prepared
    if _prepared:
        return
    with _prepare_lock:
        if _prepared:
            return
        if "ultralytics" in sys.modules:  # its switches were read already, whatever we set now
            log.warning("ultralytics was imported before core.zoo.yolo.prepare_library(): its offline and "
                        "no-auto-install switches may not be in effect")
        threads, omp_env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "False"
        os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE_DIR / "config"))
        os.environ.setdefault("YOLO_VERBOSE", "False")
        import ultralytics

        wanted = {"sync": False, "weights_dir": str(CACHE_DIR), "runs_dir": str(CACHE_DIR / "runs"),
                  "datasets_dir": str(CACHE_DIR / "datasets"), "hub": False, "clearml": False, "comet": False,
                  "dvc": False, "mlflow": False, "raytune": False, "tensorboard": False, "wandb": False,
                  "vscode_msg": False, "openvino_msg": False}
        wanted = {k: v for k, v in wanted.items() if k in ultralytics.settings and ultralytics.settings[k] != v}
        if wanted:
            ultralytics.settings.update(wanted)
        if omp_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        torch.set_num_threads(threads)
        _prepared = True


# The name the tests and older callers use.
ultralytics_ready = prepare_library


@lru_cache(maxsize=1)
def coco_names() -> list[str]:
    """The 80 COCO class names, from ultralytics' own dataset file (no download, without importing ultralytics)."""
    import importlib.util

    import yaml

    package = importlib.util.find_spec("ultralytics")
    path = Path(package.submodule_search_locations[0]) / "cfg" / "datasets" / "coco.yaml"
    names = yaml.safe_load(path.read_text(encoding="utf-8"))["names"]
    return [names[i] for i in range(len(names))]


@dataclasses.dataclass
class Detector:
    """A loaded YOLO detector."""

    name: str
    yolo: torch.nn.Module  # ultralytics.YOLO (an nn.Module)
    class_names: list[str]
    real_weights: bool
    source: str
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def head(self) -> torch.nn.Module:
        """The Detect head (last layer) that predict() runs: its output is every candidate box before NMS.

        predict() works on its own fused copy of the network (predictor.model), made on the first call."""
        predictor = getattr(self.yolo, "predictor", None)
        network = getattr(getattr(predictor, "model", None), "model", None)
        if not isinstance(network, torch.nn.Module):
            network = self.yolo.model
        return network.model[-1]

    @property
    def strides(self) -> list[int]:
        return [int(s) for s in self.head.stride.tolist()]


def weights_path(name: str) -> Path:
    """The app's YOLO folder: ultralytics' own downloader saves `<name>.pt` here (CACHE_DIR is read at call time)."""
    return CACHE_DIR / f"{name}.pt"


def _cached(name: str):
    def is_cached() -> bool:
        return weights_path(name).is_file()

    return is_cached


def _assets_url() -> str:
    # Where ultralytics' attempt_download_asset fetches release assets from (GitHub ultralytics/assets).
    return "https://github.com/ultralytics/assets/releases"


def _finish(yolo, name: str, device, dtype, real: bool, source: str) -> Detector:
    yolo.model.names = {i: n for i, n in enumerate(coco_names())} if not real else yolo.model.names
    yolo.to(device)
    if dtype == torch.float16:
        yolo.model.half()
    yolo.model.eval()
    names = [yolo.model.names[i] for i in range(len(yolo.model.names))]
    return Detector(name, yolo, names, real, source)


def _loader(name: str):
    def load(device, dtype, download: bool) -> Detector:
        prepare_library()
        path = weights_path(name)
        if not path.is_file():
            if not download:
                raise WeightsMissing(f"{path} not found")
            from ultralytics.utils.downloads import attempt_download_asset

            # Ultralytics' own downloader, into our cache dir (GitHub release asset of ultralytics/assets).
            attempt_download_asset(path)
            if not path.is_file():
                raise WeightsMissing(f"download of {path.name} failed")
        from ultralytics import YOLO

        return _finish(YOLO(str(path), task="detect"), name, device, dtype, True,
                       f"ultralytics {name}.pt (COCO)")

    return load


# Random weights score every class at about sigmoid(-11) ~ 0.0002 (ultralytics' prior-probability
# bias init), so the test zoo would never show a box. Raising the class bias makes a few random
# candidates pass the default confidence, so tests and screenshots exercise drawing and NMS.
# The compute cost is unchanged.
TINY_CLASS_BIAS_SHIFT = 9.0


def _tiny(name: str):
    def build_tiny(device, dtype) -> Detector:
        prepare_library()
        from ultralytics import YOLO

        torch.manual_seed(0)
        yolo = YOLO(f"{name}.yaml", task="detect")  # the real architecture, random init, from ultralytics' yaml
        with torch.no_grad():
            for branch in yolo.model.model[-1].cv3:
                branch[-1].bias += TINY_CLASS_BIAS_SHIFT
        return _finish(yolo, name, device, dtype, False, f"random init {name}.yaml (test zoo)")

    return build_tiny


for _name, (_mb, _ko, _en) in YOLO_MODELS.items():
    register(ModelSpec(
        name=_name, family="yolo", source=f"ultralytics {_name}.pt (COCO, GitHub ultralytics/assets)",
        load=_loader(_name), build_tiny=_tiny(_name), approx_mb=_mb,
        prefetch_default=_name == DEFAULT_YOLO, description={"ko": _ko, "en": _en},
        is_cached=_cached(_name), download_url=_assets_url,
    ))


def yolo_names() -> list[str]:
    return list(YOLO_MODELS)
