"""The CNN and the matrix multiply in each precision: FP32, FP16, BF16, INT8 (dynamic quantisation) and
FP8 E4M3 (weights stored in FP8; the matmul through torch._scaled_mm where the hardware has it).

Step 3 of the comparison (`tabs.precision.compare`): each function turns the FP32 model, or two FP32
matrices, into the same work in another precision. No Gradio, no language.
"""
from __future__ import annotations

import copy
import warnings
from typing import Callable

import torch
from torch.nn.utils import parametrize

from core import models
from tabs.precision import hardware
from tabs.precision.compute import E4M3


class FP8Weight(torch.nn.Module):
    """A layer's weight kept as FP8 E4M3 numbers and one scale, turned back into BF16 each time the layer
    runs (a torch parametrization: `original0` is the FP8 tensor, `original1` the scale)."""

    def forward(self, stored: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return stored.to(scale.dtype) * scale

    def right_inverse(self, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # One scale per tensor maps its largest weight onto E4M3's largest number (448).
        scale = weight.detach().float().abs().amax().clamp(min=1e-12) / E4M3.max
        return (weight.detach().float() / scale).to(torch.float8_e4m3fn), scale.to(weight.dtype)


def fp8_weight_model(model: torch.nn.Module) -> torch.nn.Module:
    """A BF16 copy whose conv/linear weights are stored in FP8 E4M3.

    PyTorch has no FP8 convolution, so a CNN can only keep its weights in FP8: each layer turns them
    back into BF16 just before it runs. This shows FP8's memory saving and its accuracy cost."""
    model = copy.deepcopy(model).to(torch.bfloat16)
    for module in list(model.modules()):
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.nn.Parameter) and weight.ndim >= 2:
            parametrize.register_parametrization(module, "weight", FP8Weight())
    return model


def _quantize_dynamic(model: torch.nn.Module) -> torch.nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is marked deprecated in favour of torchao
        return quantize_dynamic(copy.deepcopy(model).cpu(), {torch.nn.Linear}, dtype=torch.qint8)


def cnn_for(model32: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, torch.dtype]:
    """The FP32 model in another precision, and the dtype its input must have."""
    if precision == "fp32":
        return model32, torch.float32
    if precision in ("fp16", "bf16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        return copy.deepcopy(model32).to(dtype), dtype
    if precision == "int8":
        return _quantize_dynamic(model32), torch.float32
    if precision == "fp8":
        return fp8_weight_model(model32), torch.bfloat16
    raise ValueError(precision)


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of the weights, including the INT8 weights packed inside dynamically quantised Linear layers
    (they are not parameters: their `weight()` and `bias()` methods give them)."""
    from torch.ao.nn.quantized import dynamic as quantized_dynamic

    total = models.model_bytes(model)
    for module in model.modules():
        if isinstance(module, quantized_dynamic.Linear):
            for tensor in (module.weight(), module.bias()):
                if tensor is not None:
                    total += tensor.numel() * tensor.element_size()
    return total


def matmul_for(a: torch.Tensor, b: torch.Tensor, precision: str, device: torch.device) -> Callable[[], torch.Tensor]:
    """A function computing a @ b in this precision on this device (inputs converted beforehand)."""
    if precision in ("fp32", "fp16", "bf16"):
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        a_, b_ = a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)
        return lambda: a_ @ b_
    if precision == "int8":
        linear = torch.nn.Linear(b.shape[0], b.shape[1], bias=False)
        with torch.no_grad():
            linear.weight.copy_(b.t())
        quantised = _quantize_dynamic(torch.nn.Sequential(linear))
        return lambda: quantised(a)
    if precision == "fp8":
        scale_a = (a.abs().amax() / E4M3.max).to(device)
        scale_b = (b.abs().amax() / E4M3.max).to(device)
        a8 = (a.to(device) / scale_a).to(torch.float8_e4m3fn)
        b8 = (b.to(device) / scale_b).to(torch.float8_e4m3fn).t().contiguous().t()  # column-major
        return lambda: hardware.scaled_mm_fp8(a8, b8, scale_a, scale_b)
    raise ValueError(precision)


def layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules that compute, in order: leaves, and layers whose weight is an FP8 parametrization."""
    return [m for m in model.modules() if not isinstance(m, FP8Weight)
            and (parametrize.is_parametrized(m) or next(m.children(), None) is None)]
