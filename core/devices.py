"""Where models run (cuda > mps > cpu, or what `app.py --device` chose) and how much memory one takes there.

Read through `core.models` (`models.default_device()`, `models.model_bytes(...)`), the one loader's module.
"""
from __future__ import annotations

import os
from typing import Any

import torch

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
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[torch.device]:
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    if _mps_available():
        devices.append(torch.device("mps"))
    return devices


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


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
