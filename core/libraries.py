"""The heavy libraries, imported once, serially, before any model is loaded.

transformers and diffusers load their submodules lazily, and that lazy loading is not safe when two
request threads trigger it at once (one sees a half-imported module: "cannot import name
'PreTrainedModel'"). So the heavy libraries are imported here, in one thread, under one lock: in the
background right after the server starts, and before any model load at the latest
(`core.models.import_heavy_libraries`, which first lets each model family set its library up).
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Callable

log = logging.getLogger("dlclass.models")

# (module, the lazily loaded attributes to touch once)
HEAVY_IMPORTS = [
    ("timm", ["create_model"]),
    ("transformers", ["PreTrainedModel", "ViTConfig", "ViTForImageClassification", "AutoImageProcessor",
                      "CLIPTextConfig", "CLIPTextModel", "CLIPTextModelWithProjection", "CLIPTokenizer",
                      "CLIPImageProcessor"]),
    ("diffusers", ["UNet2DConditionModel", "AutoencoderKL", "AutoencoderTiny", "EulerDiscreteScheduler",
                   "DDIMScheduler", "EulerAncestralDiscreteScheduler"]),
    ("diffusers.pipelines.stable_diffusion.safety_checker", ["StableDiffusionSafetyChecker"]),
]
_lock = threading.Lock()
_done = False


def import_heavy(before: Callable[[], None]) -> None:
    """`before()`, then every module of HEAVY_IMPORTS and its lazily loaded attributes: once in the process,
    serially (idempotent, thread-safe). A library that is missing or fails to import is logged and skipped."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        started = time.perf_counter()
        before()
        for module_name, attributes in HEAVY_IMPORTS:
            try:
                module = importlib.import_module(module_name)
                for attribute in attributes:
                    getattr(module, attribute, None)
            except Exception as exc:  # a missing optional library must not stop the app
                log.warning("could not import %s: %s", module_name, exc)
        _done = True
        log.info("heavy libraries imported in %.1f s", time.perf_counter() - started)
