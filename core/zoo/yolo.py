"""Ultralytics YOLO object detectors (COCO, 80 classes): YOLO11 nano and small.

YOLO11 is the newest family of the installed ultralytics whose detect head still ends in
non-maximum suppression (YOLO26 is NMS-free), and the lesson shows what NMS does.

Every spec loads to a `Detector` bundle: the ultralytics `YOLO` object plus its COCO class names and a
lock (an ultralytics predictor keeps per-call state, so one detector serves one frame at a time).

Ultralytics likes to reach the network at run time (update checks, analytics, hub sync, pip-installing
missing packages). Importing this module switches all of that off before ultralytics is first imported;
the only network access left is the explicit weights download of `load(..., download=True)`.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from functools import lru_cache
from pathlib import Path

import torch

from core.models import ModelSpec, WeightsMissing, register

CACHE_DIR = Path(os.environ.get("DLCLASS_CACHE_DIR") or Path.home() / ".cache" / "dlclass") / "ultralytics"

# name -> (approx MB, Korean, English)
YOLO_MODELS = {
    "yolo11n": (6, "YOLO11 nano: 260만 개 파라미터, CPU에서도 실시간에 가까운 가장 가벼운 모델",
                "YOLO11 nano: 2.6M parameters, the lightest, near real time even on a CPU"),
    "yolo11s": (19, "YOLO11 small: 940만 개 파라미터, 더 정확하지만 3배쯤 느린 모델",
                "YOLO11 small: 9.4M parameters, more accurate but about 3x slower"),
}
DEFAULT_YOLO = "yolo11n"


def _quiet_offline_ultralytics() -> None:
    """Environment switches ultralytics reads when it is first imported (ultralytics/utils/__init__.py)."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Settings file (and its weights/runs dirs) in the app cache, never in the repo or ~/.config.
    os.environ.setdefault("YOLO_CONFIG_DIR", str(CACHE_DIR / "config"))
    # ONLINE=False: no PyPI update check, no analytics events, no Sentry, no hub; downloads still work.
    os.environ["YOLO_OFFLINE"] = "1"
    # check_requirements() must never pip-install anything.
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ.setdefault("YOLO_VERBOSE", "False")


_quiet_offline_ultralytics()
_settings_lock = threading.Lock()
_settings_done = False


def ultralytics_ready() -> None:
    """Import ultralytics with sync/analytics off and its dirs in the app cache (idempotent)."""
    global _settings_done
    if _settings_done:
        return
    with _settings_lock:
        if _settings_done:
            return
        from PIL import Image
        from ultralytics.utils import SETTINGS, patches

        # Ultralytics replaces PIL.Image.open app-wide with a version that, on a file PIL cannot read, tries
        # to install pi-heif and then raises ModuleNotFoundError: put PIL's own back, so core.images keeps
        # answering "not an image" in every tab.
        if Image.open is getattr(patches, "image_open", None):
            Image.open = patches._image_open
        wanted = {"sync": False, "weights_dir": str(CACHE_DIR), "runs_dir": str(CACHE_DIR / "runs"),
                  "datasets_dir": str(CACHE_DIR / "datasets"), "hub": False, "clearml": False, "comet": False,
                  "dvc": False, "mlflow": False, "raytune": False, "tensorboard": False, "wandb": False,
                  "vscode_msg": False, "openvino_msg": False}
        wanted = {k: v for k, v in wanted.items() if k in SETTINGS and SETTINGS[k] != v}
        if wanted:
            SETTINGS.update(wanted)
        _settings_done = True


# core.models.import_heavy_libraries calls this once: ultralytics' settings set and PIL's own open put back.
warm_up = ultralytics_ready


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
    return CACHE_DIR / f"{name}.pt"


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
        ultralytics_ready()
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
        ultralytics_ready()
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
    ))


def yolo_names() -> list[str]:
    return list(YOLO_MODELS)
