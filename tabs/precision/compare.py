"""The same CNN and the same matrix multiply in FP32, FP16, BF16, INT8 and FP8 on each device here, timed.

The comparison, top to bottom:
  1. the settings, declared once (`SETTINGS`), are read and clamped (an API caller can send anything):
     `read_settings`;
  2. the CNN is loaded once in FP32 and a batch of images is made from the example photos; FP32 on the
     CPU gives the reference outputs every other row is compared with (all this before the budget starts);
     a small matmul in FP32, BF16 and FP16 says which kind of CPU this is right now;
  3. for each device and precision that runs there (`hardware.support`), the CNN is converted
     (`convert.cnn_for`) and timed on the batch, and an N x N matmul is timed (`convert.matmul_for`), each within its
     share of one time budget: a slow precision stops between two layers when the budget is over;
  4. every (device, precision, workload) gets a `Row`: measured, not supported here (and why), or
     skipped for lack of time.
Nothing is cached: the point is what this machine does now.

No Gradio, no language: reasons and notes are `Message`s.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
from PIL import Image, ImageOps

from core import models, values
from core.events import is_out_of_memory
from core.images import load_image
from core.text import Message
from core.zoo import cnn as zoo
from tabs.precision import hardware
from tabs.precision.convert import cnn_for, layers, matmul_for, weight_bytes
from tabs.precision.text import TEXT

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
PRECISIONS = ["fp32", "fp16", "bf16", "int8", "fp8"]
PRECISION_LABEL = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "int8": "INT8", "fp8": "FP8 E4M3"}
WORKLOADS = ("cnn", "matmul")
MATMUL_SIZES = [256, 512, 1024, 2048, 4096]  # the page offers these; the API may send any N between them
DEFAULT_REPEATS = 5
# The comparison's settings, declared once: the page's controls are made from them, and every value an API
# caller (or the teacher, for the class) sends is clamped into them with a note. The precisions and the
# devices are lists of choices, checked in `read_settings`; the devices are this machine's, not the class's.
SETTINGS = values.settings(
    values.Setting("model_name", TEXT.msg("label_model"), default=zoo.DEFAULT_CNN, choices=tuple(zoo.cnn_names())),
    values.Setting("batch_size", TEXT.msg("label_batch"), default=8, low=1, high=32, integer=True),
    values.Setting("matmul_size", TEXT.msg("label_matmul"), default=1024, low=MATMUL_SIZES[0], high=MATMUL_SIZES[-1],
                   integer=True),
    # At most 30 s: the class shares one benchmark slot.
    values.Setting("budget_s", TEXT.msg("label_budget"), default=25, low=5, high=30, step=5),
)
BYTES_PER_NUMBER = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp8": 1}
# Precisions slow on many CPUs go last, so the budget goes to the others first (the table keeps PRECISIONS order).
RUN_ORDER = ["fp32", "bf16", "int8", "fp8", "fp16"]

Progress = Callable[[float, Message], None]


# ---------------------------------------------------------------- 1. the settings


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """One request's settings, read and made usable."""

    model_name: str
    precisions: list[str]
    devices: list[str]
    batch_size: int
    matmul_size: int
    budget_s: float
    notes: list[Message]  # what was changed to make the settings usable


def _listed(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def read_settings(model_name, precisions, devices, batch_size, matmul_size, budget_s) -> RunSettings:
    """The settings to run with, and a note for every value that had to change; a Problem when no
    precision is chosen."""
    notes: list[Message] = []
    model_name = SETTINGS["model_name"].take(model_name, notes)
    chosen = [p for p in PRECISIONS if p in _listed(precisions)]
    if not chosen:
        raise TEXT.problem("no_precision")
    wanted = [d for d in hardware.devices() if d in _listed(devices)]
    if not wanted:
        wanted = ["cpu"]
        notes.append(TEXT.msg("no_device_chosen"))
    batch = SETTINGS["batch_size"].take(batch_size, notes)
    size = SETTINGS["matmul_size"].take(matmul_size, notes)
    budget = SETTINGS["budget_s"].take(budget_s, notes)
    return RunSettings(model_name, chosen, wanted, batch, size, budget, notes)


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


@dataclasses.dataclass
class _Job:
    """One comparison under way: what every row is measured on and compared with, and the time budget."""

    batch: torch.Tensor  # the images, preprocessed for the CNN
    reference: torch.Tensor  # the CNN's FP32 outputs on the CPU: the yardstick for every row
    matmul_size: int
    matmul_refs: dict[int, torch.Tensor]  # FP32 products on the CPU, by matrix size
    repeats: int
    clock: _Clock
    probe: dict[str, float]  # the CPU's measured GFLOP/s per 16-bit precision


def _load(model_name: str | None, batch_size: int, tiny: bool | None, progress: Progress | None):
    """(the CNN in FP32 on the CPU, the fallback note or None, the batch, FP32's outputs on it, seconds taken).

    Loading comes first and is not timed against the budget: the loader keeps the model, so only the
    first run on a fresh server pays for it, and the budget is for the measurements."""
    started = time.perf_counter()
    if progress is not None:
        progress(0.0, TEXT.msg("progress_loading"))
    cnn_cpu, fallback_note = zoo.load_cnn(model_name, device="cpu", tiny=tiny)
    fallback = TEXT.msg("fallback", wanted=model_name or zoo.DEFAULT_CNN, used=cnn_cpu.name) if fallback_note else None
    batch = torch.cat([cnn_cpu.preprocess(img).float().cpu() for img in image_batch(batch_size)])
    with torch.inference_mode():
        reference = cnn_cpu.model(batch).float()
    return cnn_cpu, fallback, batch, reference, time.perf_counter() - started


def _row(workload: str, precision: str, device: torch.device, model32, job: _Job, one_fp32: float | None) -> Row:
    """One workload timed in one precision, or skipped: when the budget is over, or when (from FP32's time
    per image) this precision could not finish in what is left."""
    need = _estimate_one_image(one_fp32, precision, device, job.probe) if workload == "cnn" else None
    if job.clock.left() <= 0:
        return _skipped(str(device), precision, workload, TEXT.msg("skipped_budget"))
    if need is not None and need * 1.5 > job.clock.left():
        return _skipped(str(device), precision, workload, TEXT.msg("skipped_estimate", seconds=f"{need:.0f}"))
    try:
        if workload == "cnn":
            return _run_cnn(model32, precision, device, job.batch, job.reference, job.repeats, job.clock)
        return _run_matmul(precision, device, job.matmul_size, job.matmul_refs, job.repeats, job.clock)
    except (RuntimeError, NotImplementedError, TypeError) as exc:  # a kernel missing in this build
        return Row(str(device), precision, workload, "unsupported", _failed(exc))


def _device_rows(device: torch.device, model32, precisions: list[str], reasons: dict, job: _Job) -> list[Row]:
    """Every (precision, workload) row of one device, in RUN_ORDER (slow precisions last)."""
    rows: list[Row] = []
    one_fp32: float | None = None  # FP32's seconds per image here, once measured
    for precision in sorted(precisions, key=RUN_ORDER.index):
        reason = reasons[(str(device), precision)]
        for workload in WORKLOADS:
            if reason is not None:
                rows.append(Row(str(device), precision, workload, "unsupported", reason))
                continue
            job.clock.tell(TEXT.msg("progress_row", device=device.type.upper(), precision=PRECISION_LABEL[precision],
                                    workload=TEXT.msg(f"workload_{workload}")))
            row = _row(workload, precision, device, model32, job, one_fp32)
            if workload == "cnn" and precision == "fp32" and row.status == "ok":
                one_fp32 = row.latency_ms / 1000 / row.items
            rows.append(row)
            job.clock.tasks_left -= 1
    return rows


def compare(model_name: str | None = None, devices: list[str] | None = None, precisions: list[str] | None = None,
            batch_size: int = SETTINGS["batch_size"].default, matmul_size: int = SETTINGS["matmul_size"].default,
            budget_s: float = SETTINGS["budget_s"].default, repeats: int = DEFAULT_REPEATS,
            progress: Progress | None = None, tiny: bool | None = None,
            settings_notes: list[Message] | None = None) -> CompareResult:
    """Run the CNN and the matmul in each precision on each device, within budget_s seconds.

    Returns one Row per (device, precision, workload): measured ("ok"), "unsupported" with the reason,
    or "skipped" when the budget ran out. Reference for the differences: FP32 on the CPU."""
    precisions = [p for p in PRECISIONS if p in (precisions or PRECISIONS)]
    present = {str(d): d for d in models.available_devices()}
    chosen = [present[d] for d in (devices or list(present)) if d in present] or [torch.device("cpu")]
    reasons = {(str(d), p): hardware.support(d, p) for d in chosen for p in precisions}
    tasks = sum(len(WORKLOADS) for reason in reasons.values() if reason is None)
    cnn_cpu, fallback, batch, reference, load_s = _load(model_name, batch_size, tiny, progress)
    clock = _Clock(budget_s, tasks + 1, progress)
    clock.tell(TEXT.msg("progress_probe"))
    probe = hardware.cpu_probe()
    clock.tasks_left -= 1
    job = _Job(batch, reference, matmul_size, {}, repeats, clock, probe)
    rows: list[Row] = []
    for device in chosen:
        model32 = cnn_cpu.model if device.type == "cpu" else zoo.load_cnn(model_name, device=device, tiny=tiny)[0].model
        rows += _device_rows(device, model32, precisions, reasons, job)
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
