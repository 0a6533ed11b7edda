"""The same CNN and the same matrix multiply in FP32, FP16, BF16, INT8 and FP8 on each device here, timed.

The comparison, top to bottom:
  1. the settings are read and clamped (an API caller can send anything): `read_settings`;
  2. the CNN is loaded once in FP32 and a batch of images is made from the example photos; FP32 on the
     CPU gives the reference outputs every other row is compared with (all this before the budget starts);
     a small matmul in FP32, BF16 and FP16 says which kind of CPU this is right now;
  3. for each device and precision that runs there (`hardware.support`), the CNN is converted
     (`cnn_for`) and timed on the batch, and an N x N matmul is timed (`matmul_for`), each within its
     share of one time budget: a slow precision stops between two layers when the budget is over;
  4. every (device, precision, workload) gets a `Row`: measured, not supported here (and why), or
     skipped for lack of time.
Nothing is cached: the point is what this machine does now.

No Gradio, no language: reasons and notes are `Message`s.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import statistics
import time
import warnings
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, ImageOps
from torch.nn.utils import parametrize

from core import models, values
from core.events import is_out_of_memory
from core.images import load_image
from core.text import Message
from core.zoo import cnn as zoo
from tabs.precision import hardware
from tabs.precision.compute import E4M3
from tabs.precision.text import TEXT

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
PRECISIONS = ["fp32", "fp16", "bf16", "int8", "fp8"]
PRECISION_LABEL = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "int8": "INT8", "fp8": "FP8 E4M3"}
WORKLOADS = ("cnn", "matmul")
MATMUL_SIZES = [256, 512, 1024, 2048, 4096]
BATCH_RANGE = (1, 32)
BUDGET_RANGE = (5, 300)
DEFAULT_BUDGET_S = 25
DEFAULT_BATCH = 8
DEFAULT_MATMUL = 1024
DEFAULT_REPEATS = 5
BYTES_PER_NUMBER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp8": 1}
# Precisions slow on many CPUs go last, so the budget goes to the others first (the table keeps PRECISIONS order).
RUN_ORDER = ["fp32", "bf16", "int8", "fp8", "fp16"]

Progress = Callable[[float, Message], None]


# ---------------------------------------------------------------- 1. the settings


@dataclasses.dataclass(frozen=True)
class Settings:
    model_name: str
    precisions: list[str]
    devices: list[str]
    batch_size: int
    matmul_size: int
    budget_s: float
    notes: list[Message]  # what was changed to make the settings usable


def read_settings(model_name, precisions, devices, batch_size, matmul_size, budget_s) -> Settings:
    """The settings to run with, and a note for every value that had to change; a Problem when no
    precision is chosen."""
    notes: list[Message] = []

    def keep(pair):
        value, note = pair
        if note is not None:
            notes.append(note)
        return value

    model_name = keep(values.choice(model_name, zoo.cnn_names(), zoo.DEFAULT_CNN, TEXT.msg("label_model")))
    chosen = [p for p in PRECISIONS if p in (precisions if isinstance(precisions, (list, tuple)) else [])]
    if not chosen:
        raise TEXT.problem("no_precision")
    present = hardware.devices()
    wanted = [d for d in present if d in (devices if isinstance(devices, (list, tuple)) else [])]
    if not wanted:
        wanted = ["cpu"]
        notes.append(TEXT.msg("no_device_chosen"))
    batch = keep(values.clamp(batch_size, *BATCH_RANGE, DEFAULT_BATCH, TEXT.msg("label_batch"), integer=True))
    size = keep(values.clamp(matmul_size, MATMUL_SIZES[0], MATMUL_SIZES[-1], DEFAULT_MATMUL, TEXT.msg("label_matmul"),
                             integer=True))
    budget = keep(values.clamp(budget_s, *BUDGET_RANGE, DEFAULT_BUDGET_S, TEXT.msg("label_budget")))
    return Settings(model_name, chosen, wanted, batch, size, budget, notes)


# ---------------------------------------------------------------- 2. the images


def image_batch(n: int) -> list[Image.Image]:
    """n images: the example photos, then their mirror images, then crops of corners and centre."""
    photos = [load_image(str(p)) for p in sorted(EXAMPLES_DIR.glob("*.jpg"))]
    if not photos:
        raise TEXT.problem("no_photos")
    variants: list[Image.Image] = list(photos) + [ImageOps.mirror(p) for p in photos]
    boxes = [(0.0, 0.0, 0.75, 0.75), (0.25, 0.25, 1.0, 1.0), (0.25, 0.0, 1.0, 0.75), (0.0, 0.25, 0.75, 1.0),
             (0.15, 0.15, 0.85, 0.85), (0.1, 0.0, 0.7, 0.6)]
    for box in boxes:
        for p in photos:
            w, h = p.size
            variants.append(p.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h))))
    while len(variants) < n:
        variants += [ImageOps.mirror(v) for v in variants[len(photos) * 2:]]
    return variants[:n]


# ---------------------------------------------------------------- 3. the model and the matmul in each precision


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


# ---------------------------------------------------------------- 4. the rows


@dataclasses.dataclass
class Row:
    device: str
    precision: str
    workload: str  # "cnn" or "matmul"
    status: str  # "ok", "unsupported" or "skipped"
    reason: Message | None = None
    latency_ms: float = math.nan  # one batch (cnn) or one multiply (matmul)
    throughput: float = math.nan  # images/s (cnn) or GFLOP/s (matmul)
    param_mb: float = math.nan
    peak_mb: float = math.nan
    max_abs_diff: float = math.nan
    top1_agree: float = math.nan  # % of images with the same top-1 class as FP32 on the CPU (cnn only)
    items: int = 0  # images in the batch, or the matrix size N
    runs: int = 0


@dataclasses.dataclass
class CompareResult:
    rows: list[Row]
    model_name: str
    real_weights: bool
    fallback: Message | None  # the model asked for was missing: which one is used instead
    wall_s: float  # the measurements, inside the budget
    budget_s: float
    load_s: float  # loading the model and the images, before the budget starts
    threads: int  # torch's CPU threads during the run
    cpu_probe: dict[str, float]  # measured GFLOP/s of a small matmul per 16-bit precision
    settings_notes: list[Message] = dataclasses.field(default_factory=list)


# ---------------------------------------------------------------- the time budget


class _Clock:
    """The time budget: how much is left, and a fair share of it for the next task."""

    def __init__(self, budget_s: float, tasks: int, progress: Progress | None):
        self.started = time.perf_counter()
        self.budget = budget_s
        self.tasks_left = tasks
        self.progress = progress

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.budget - self.elapsed()

    def share(self) -> float:
        return self.left() / max(1, self.tasks_left)

    def tell(self, what: Message) -> None:
        if self.progress is not None:
            self.progress(min(1.0, self.elapsed() / self.budget),
                          TEXT.msg("progress", what=what, elapsed=f"{self.elapsed():.0f}", budget=f"{self.budget:.0f}"))


class _OutOfTime(Exception):
    """Raised from inside a forward pass when the whole time budget is used up."""

    def __init__(self, done: int, total: int, seconds: float):
        super().__init__(f"{done}/{total} layers in {seconds:.1f} s")
        self.done, self.total, self.seconds = done, total, seconds


def layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules that compute, in order: leaves, and layers whose weight is an FP8 parametrization."""
    return [m for m in model.modules() if not isinstance(m, FP8Weight)
            and (parametrize.is_parametrized(m) or next(m.children(), None) is None)]


def _budget_guard(model: torch.nn.Module, clock: _Clock) -> Callable[[], None]:
    """Hooks that stop a forward pass between two layers once the budget is over (a slow precision cannot
    overrun it). Returns a function that removes the hooks."""
    computing = layers(model)
    state = {"done": 0, "started": time.perf_counter()}

    def before(_module, _args):
        if state["done"] == 0:
            state["started"] = time.perf_counter()
        if clock.left() <= 0:
            raise _OutOfTime(state["done"] % len(computing), len(computing), time.perf_counter() - state["started"])
        state["done"] += 1

    def after(_module, _args, _out):
        if state["done"] >= len(computing):
            state["done"] = 0

    handles = [m.register_forward_pre_hook(before) for m in computing]
    handles.append(computing[-1].register_forward_hook(after))
    return lambda: [h.remove() for h in handles]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    _sync(device)
    started = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - started


def _activation_peak(fn: Callable[[], object], device: torch.device) -> tuple[object, int]:
    """Run fn once and measure the most memory its intermediate tensors held at one time."""
    if device.type == "cuda":
        _sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        _sync(device)
        return out, torch.cuda.max_memory_allocated(device) - before
    if device.type == "cpu":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = fn()
        live = peak = 0
        for event in sorted(prof.events(), key=lambda e: e.time_range.start):
            live += event.self_cpu_memory_usage
            peak = max(peak, live)
        return out, peak
    return fn(), 0  # MPS: no per-run peak counter; the weights and the input are counted


def _repeat(fn: Callable[[], object], device: torch.device, first_s: float, deadline: float, repeats: int,
            clock: _Clock) -> list[float]:
    samples = [first_s]
    while len(samples) < repeats and clock.elapsed() + statistics.median(samples) < deadline:
        try:
            samples.append(_timed(fn, device)[1])
        except _OutOfTime:  # the budget ended during this run: keep the runs already timed
            break
    return samples


def _skipped(device: str, precision: str, workload: str, reason: Message) -> Row:
    return Row(device, precision, workload, "skipped", reason)


# ---------------------------------------------------------------- timing one row


def _run_cnn(model32, precision: str, device: torch.device, batch: torch.Tensor, reference: torch.Tensor,
             repeats: int, clock: _Clock) -> Row:
    """Time the CNN on as many images of the batch as the budget's share allows (all of them when there is
    time). The first pass (one image) warms up and measures the memory one image needs."""
    deadline = clock.elapsed() + clock.share()
    model, in_dtype = cnn_for(model32, precision)
    run_device = torch.device("cpu") if precision == "int8" else device
    x_all = batch.to(device=run_device, dtype=in_dtype)
    remove_guard = _budget_guard(model, clock)
    try:
        return _measure_cnn(model, precision, device, run_device, x_all, reference, deadline, repeats, clock)
    except _OutOfTime as stop:
        if stop.done == 0:
            return _skipped(str(device), precision, "cnn", TEXT.msg("skipped_budget"))
        return _skipped(str(device), precision, "cnn", TEXT.msg(
            "stopped_budget", seconds=f"{stop.seconds:.0f}", done=stop.done, total=stop.total,
            per_image=f"{stop.seconds * stop.total / stop.done:.0f}"))
    finally:
        remove_guard()


def _measure_cnn(model, precision: str, device: torch.device, run_device: torch.device, x_all: torch.Tensor,
                 reference: torch.Tensor, deadline: float, repeats: int, clock: _Clock) -> Row:
    with torch.inference_mode():
        started = time.perf_counter()
        first_out, activations = _activation_peak(lambda: model(x_all[:1]), run_device)
        one = time.perf_counter() - started
        n = min(len(x_all), int(max(0.0, deadline - clock.elapsed()) / 2 / max(one, 1e-4)))
        try:
            if n < 1:
                raise _OutOfTime(0, 1, one)
            x = x_all[:n]
            out, first = _timed(lambda: model(x), run_device)
            samples = _repeat(lambda: model(x), run_device, first, deadline, repeats, clock)
        except _OutOfTime:  # no time for the batch: the one-image pass is the only measurement
            n, out, samples = 1, first_out, [one]
    logits = out.float().cpu()
    latency = statistics.median(samples)
    weights = weight_bytes(model)
    one_image = x_all[:1].numel() * x_all.element_size()
    row = Row(str(device), precision, "cnn", "ok", latency_ms=latency * 1000, throughput=n / latency,
              param_mb=weights / 1e6, peak_mb=(weights + one_image + activations) / 1e6, items=n, runs=len(samples))
    ref = reference[:n]
    row.max_abs_diff = float((logits - ref).abs().max())
    row.top1_agree = 100.0 * float((logits.argmax(1) == ref.argmax(1)).float().mean())
    return row


def _estimate_one_image(one_fp32: float | None, precision: str, device: torch.device,
                        probe: dict[str, float]) -> float | None:
    """Expected seconds for one image in this precision, from FP32's and the CPU matmul probe (CPU only)."""
    if one_fp32 is None or device.type != "cpu" or precision not in ("fp16", "bf16"):
        return None
    return one_fp32 * probe["fp32"] / max(probe[precision], 1e-6)


def _run_matmul(precision: str, device: torch.device, size: int, references: dict, repeats: int,
                clock: _Clock) -> Row:
    """Time an N x N matmul. N grows from size/8 by doubling while the next size (8x the work) still fits
    the share of the budget, so a precision that is slow here is measured at a smaller N instead."""
    deadline = clock.elapsed() + clock.share()

    def build(n: int):
        generator = torch.Generator().manual_seed(n)
        a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
        return a, b, matmul_for(a, b, precision, device)

    n = max(64, size // 8)
    a, b, fn = build(n)
    _timed(fn, device)  # warm-up: first call, kernel selection
    out, first = _timed(fn, device)
    while n < size and first * 8 * 2 < deadline - clock.elapsed():
        n *= 2
        a, b, fn = build(n)
        out, first = _timed(fn, device)
    samples = _repeat(fn, device, first, deadline, repeats, clock)
    if n not in references:
        references[n] = a @ b  # FP32 on the CPU
    latency = statistics.median(samples)
    elements = BYTES_PER_NUMBER[precision]
    diff = float((out.float().cpu() - references[n]).abs().max())
    return Row(str(device), precision, "matmul", "ok", latency_ms=latency * 1000, throughput=2 * n ** 3 / latency / 1e9,
               param_mb=2 * n * n * elements / 1e6, peak_mb=(2 * n * n * elements + n * n * out.element_size()) / 1e6,
               max_abs_diff=diff, items=n, runs=len(samples))


def _failed(exc: BaseException) -> Message:
    if is_out_of_memory(exc):
        return TEXT.msg("row_out_of_memory")
    first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
    return TEXT.msg("does_not_run", error=first)


# ---------------------------------------------------------------- the whole comparison


def compare(model_name: str | None = None, devices: list[str] | None = None, precisions: list[str] | None = None,
            batch_size: int = DEFAULT_BATCH, matmul_size: int = DEFAULT_MATMUL, budget_s: float = DEFAULT_BUDGET_S,
            repeats: int = DEFAULT_REPEATS, progress: Progress | None = None, tiny: bool | None = None,
            settings_notes: list[Message] | None = None) -> CompareResult:
    """Run the CNN and the matmul in each precision on each device, within budget_s seconds.

    Returns one Row per (device, precision, workload): measured ("ok"), "unsupported" with the reason,
    or "skipped" when the budget ran out. Reference for the differences: FP32 on the CPU."""
    precisions = [p for p in PRECISIONS if p in (precisions or PRECISIONS)]
    present = {str(d): d for d in models.available_devices()}
    chosen = [present[d] for d in (devices or list(present)) if d in present] or [torch.device("cpu")]
    reasons = {(str(d), p): hardware.support(d, p) for d in chosen for p in precisions}
    tasks = sum(len(WORKLOADS) for reason in reasons.values() if reason is None)
    # Loading comes first and is not timed against the budget: the loader keeps the model, so only the
    # first run on a fresh server pays for it, and the budget is for the measurements.
    started = time.perf_counter()
    if progress is not None:
        progress(0.0, TEXT.msg("progress_loading"))
    cnn_cpu, fallback_note = zoo.load_cnn(model_name, device="cpu", tiny=tiny)
    fallback = TEXT.msg("fallback", wanted=model_name or zoo.DEFAULT_CNN, used=cnn_cpu.name) if fallback_note else None
    batch = torch.cat([cnn_cpu.preprocess(img).float().cpu() for img in image_batch(batch_size)])
    with torch.inference_mode():
        reference = cnn_cpu.model(batch).float()  # FP32 on the CPU: the yardstick for every row
    load_s = time.perf_counter() - started
    clock = _Clock(budget_s, tasks + 1, progress)
    clock.tell(TEXT.msg("progress_probe"))
    probe = hardware.cpu_probe()
    clock.tasks_left -= 1
    rows: list[Row] = []
    matmul_refs: dict[int, torch.Tensor] = {}
    for device in chosen:
        model32 = cnn_cpu.model if device.type == "cpu" else zoo.load_cnn(model_name, device=device, tiny=tiny)[0].model
        one_fp32: float | None = None
        for precision in sorted(precisions, key=RUN_ORDER.index):
            reason = reasons[(str(device), precision)]
            for workload in WORKLOADS:
                if reason is not None:
                    rows.append(Row(str(device), precision, workload, "unsupported", reason))
                    continue
                clock.tell(TEXT.msg("progress_row", device=device.type.upper(), precision=PRECISION_LABEL[precision],
                                    workload=TEXT.msg(f"workload_{workload}")))
                need = _estimate_one_image(one_fp32, precision, device, probe) if workload == "cnn" else None
                if clock.left() <= 0:
                    rows.append(_skipped(str(device), precision, workload, TEXT.msg("skipped_budget")))
                elif need is not None and need * 1.5 > clock.left():
                    rows.append(_skipped(str(device), precision, workload,
                                         TEXT.msg("skipped_estimate", seconds=f"{need:.0f}")))
                else:
                    try:
                        if workload == "cnn":
                            row = _run_cnn(model32, precision, device, batch, reference, repeats, clock)
                            if precision == "fp32" and row.status == "ok":
                                one_fp32 = row.latency_ms / 1000 / row.items
                        else:
                            row = _run_matmul(precision, device, matmul_size, matmul_refs, repeats, clock)
                        rows.append(row)
                    except (RuntimeError, NotImplementedError, TypeError) as exc:  # a kernel missing in this build
                        rows.append(Row(str(device), precision, workload, "unsupported", _failed(exc)))
                clock.tasks_left -= 1
    device_order = [str(d) for d in chosen]
    rows.sort(key=lambda r: (device_order.index(r.device), PRECISIONS.index(r.precision), r.workload))
    clock.tell(TEXT.msg("progress_done"))
    return CompareResult(rows, cnn_cpu.name, cnn_cpu.real_weights, fallback, clock.elapsed(), budget_s, load_s,
                         torch.get_num_threads(), probe, list(settings_notes or []))


def run(model_name, precisions, devices, batch_size, matmul_size, budget_s, progress: Progress | None = None,
        tiny: bool | None = None) -> CompareResult:
    """The comparison for raw control values (the tab and the API): settings read and clamped first."""
    settings = read_settings(model_name, precisions, devices, batch_size, matmul_size, budget_s)
    return compare(settings.model_name, settings.devices, settings.precisions, settings.batch_size,
                   settings.matmul_size, settings.budget_s, progress=progress, tiny=tiny,
                   settings_notes=settings.notes)
