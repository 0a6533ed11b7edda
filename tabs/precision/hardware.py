"""What this machine has for low precision: read from the operating system and from torch, never assumed.

- The CPU: its name and the instruction-set flags the kernel reports in /proc/cpuinfo (AVX-512 BF16,
  AVX-512 FP16, AMX; on Arm BF16 and FP16 arithmetic). Where the system does not say (no
  /proc/cpuinfo), the answer is "unknown", not "no".
- torch's own view of the CPU (`torch.backends.cpu.get_cpu_capability()`), and a measured matmul in
  FP32, BF16 and FP16: the flags say what the chip has, the measurement says what torch makes of it.
- The GPUs torch sees (name, memory, compute capability), and whether each precision runs on a device,
  found by running it: FP8 by a tiny scaled matrix multiply, INT8 by the quantisation engines torch lists.

No Gradio, no language: reasons are `Message`s.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from core.text import Message
from tabs.precision.text import TEXT

CPUINFO = Path("/proc/cpuinfo")

# The flags that matter for low precision, as Linux names them, and how the lesson names them.
X86_FLAGS = [("avx512_bf16", "AVX-512 BF16"), ("avx512_fp16", "AVX-512 FP16"), ("amx_bf16", "AMX BF16"),
             ("amx_fp16", "AMX FP16"), ("amx_int8", "AMX INT8"), ("avx512_vnni", "AVX-512 VNNI")]
ARM_FLAGS = [("bf16", "BF16"), ("asimdhp", "FP16 SIMD"), ("i8mm", "INT8 matmul")]


@dataclasses.dataclass(frozen=True)
class CPU:
    model: str
    logical_cores: int
    capability: str  # torch's answer: "AVX512", "AVX2", "DEFAULT", ...
    flags: frozenset[str] | None  # None: the system does not say

    def has(self, flag: str) -> bool | None:
        """True / False from the reported flags; None when nothing is reported."""
        return None if self.flags is None else flag in self.flags

    @property
    def named_flags(self) -> list[tuple[str, str]]:
        """(Linux flag, name) pairs of this architecture."""
        return ARM_FLAGS if platform.machine().lower() in ("aarch64", "arm64") else X86_FLAGS


def read_cpuinfo(text: str) -> tuple[str | None, frozenset[str] | None]:
    """(model name, flags) from the text of /proc/cpuinfo (x86 'flags', Arm 'Features'); first CPU only."""
    model, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and flags is None:
            flags = frozenset(value.split())
    return model, flags


@functools.lru_cache(maxsize=1)
def cpu() -> CPU:
    """This machine's CPU (read once: it does not change while the app runs)."""
    model, flags = None, None
    try:
        model, flags = read_cpuinfo(CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux: the flags are unknown
        pass
    return CPU(model or platform.processor() or platform.machine() or "?", os.cpu_count() or 1,
               torch.backends.cpu.get_cpu_capability(), flags)


PROBE_N = 256  # small: FP16 without FP16 units runs at a fraction of a GFLOP/s, and this is measured on every run


def cpu_probe() -> dict[str, float]:
    """Measured GFLOP/s of a PROBE_N x PROBE_N matmul in FP32, BF16 and FP16 on this CPU, now (the machine's
    load changes, so it is measured again for every comparison, inside its time budget)."""
    out = {}
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(PROBE_N, PROBE_N, generator=generator)
    b = torch.randn(PROBE_N, PROBE_N, generator=generator)
    for key, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a_, b_ = a.to(dtype), b.to(dtype)
        a_ @ b_  # warm-up: the first call picks its kernel
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            a_ @ b_
            samples.append(time.perf_counter() - started)
        out[key] = 2 * PROBE_N ** 3 / statistics.median(samples) / 1e9
    return out


FAST = 1.2  # a precision counts as fast when its matmul runs at least this many times the FP32 speed


def cpu_case(probe: dict[str, float]) -> Message:
    """Which case this CPU is for 16-bit numbers, from the measurement (the flags are shown beside it)."""
    bf16_fast, fp16_fast = probe["bf16"] / probe["fp32"] >= FAST, probe["fp16"] / probe["fp32"] >= FAST
    if bf16_fast and fp16_fast:
        return TEXT.msg("case_both_fast")
    if bf16_fast:
        return TEXT.msg("case_bf16_fast")
    if fp16_fast:
        return TEXT.msg("case_fp16_fast")
    return TEXT.msg("case_none_fast")


@dataclasses.dataclass(frozen=True)
class GPU:
    index: int
    name: str
    memory_gib: float
    capability: tuple[int, int]
    multiprocessors: int


def gpus() -> list[GPU]:
    if not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        p = torch.cuda.get_device_properties(index)
        found.append(GPU(index, p.name, p.total_memory / 2 ** 30, (p.major, p.minor), p.multi_processor_count))
    return found


def mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def devices() -> list[str]:
    """The devices torch can use here, as names: "cpu", "cuda", "mps"."""
    from core import models

    return [str(d) for d in models.available_devices()]


# ---------------------------------------------------------------- what runs where


FP8_TENSOR_CORES = (8, 9)  # NVIDIA Ada and Hopper: the first GPUs with FP8 tensor cores


def scaled_mm_fp8(a8: torch.Tensor, b8: torch.Tensor, scale_a: torch.Tensor, scale_b: torch.Tensor) -> torch.Tensor:
    """a8 @ b8 in FP8 E4M3 with one scale per matrix (torch's public scaled matmul), result in BF16.
    b8 must be column-major (the layout the FP8 kernels take)."""
    tensorwise = torch.nn.functional.ScalingType.TensorWise
    return torch.nn.functional.scaled_mm(a8, b8, scale_a.reshape(1).float(), tensorwise,
                                         scale_b.reshape(1).float(), tensorwise, output_dtype=torch.bfloat16)


@functools.lru_cache(maxsize=8)
def fp8_matmul_error(device_name: str) -> str | None:
    """None when a small FP8 matmul runs on the device, else the first line of torch's error."""
    device = torch.device(device_name)
    try:
        a8 = torch.ones(16, 16, device=device).to(torch.float8_e4m3fn)
        b8 = torch.ones(16, 16, device=device).to(torch.float8_e4m3fn).t().contiguous().t()
        one = torch.ones(1, device=device)
        out = scaled_mm_fp8(a8, b8, one, one)
        if float(out[0, 0]) != 16.0:
            return f"wrong result {float(out[0, 0])} for 16 x 1 x 1"
        return None
    except (RuntimeError, NotImplementedError, TypeError, AttributeError, ValueError) as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def _int8_problem() -> Message | None:
    quantization = getattr(getattr(torch, "ao", None), "quantization", None)
    if quantization is None or not hasattr(quantization, "quantize_dynamic"):
        return TEXT.msg("int8_no_quantize_dynamic")
    if not {"x86", "fbgemm", "onednn", "qnnpack"} & set(torch.backends.quantized.supported_engines):
        return TEXT.msg("int8_no_engine")
    return None


def support(device: torch.device, precision: str) -> Message | None:
    """None when this precision runs on this device here; otherwise why not."""
    if precision in ("fp32", "fp16"):
        return None
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return TEXT.msg("bf16_gpu_unsupported")
        return None
    if precision == "int8":
        if device.type != "cpu":
            return TEXT.msg("int8_cpu_only")
        return _int8_problem()
    if precision == "fp8":
        error = fp8_matmul_error(str(device))
        if error is None:
            return None
        if device.type == "cuda":
            major, minor = torch.cuda.get_device_capability(device)
            if (major, minor) < FP8_TENSOR_CORES:
                return TEXT.msg("fp8_old_gpu", capability=f"{major}.{minor}")
        return TEXT.msg("fp8_does_not_run", error=error)
    return TEXT.msg("unknown_precision", precision=precision)
