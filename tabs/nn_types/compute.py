"""Kinds of neural networks, measured rather than described.

Part 1, MLP vs CNN on real images. scikit-learn's handwritten digits (1,797 real 8x8 scans, shipped inside
the package, no download) train a small MLP and a small CNN of about the same size, with the same split,
the same starting weights for the same seed, the same batches and the same optimiser. Then ONE fixed
random permutation shuffles the 64 pixels of every image (training and validation alike) and both train
again from the same start:
- the MLP sees a flat list of 64 numbers. Shuffling its inputs only shuffles the columns of its first
  weight matrix, so it can learn the permuted task exactly as well: its accuracy stays where it was;
- the CNN's 3x3 kernels assume that neighbouring pixels belong together, and its pooling that the same
  pattern may appear anywhere. After the shuffle, neighbours are unrelated pixels: its accuracy drops.
The four trainings run side by side, one epoch of each in turn, so that a time budget which ends them early
still leaves a fair comparison (the same number of epochs for every network). The digits, the seeded start and
the training loop are shared with the skip-connection lesson: `core.digits`.

Part 2, RNN vs Transformer on growing sequences. An LSTM and a Transformer encoder layer of about the
same number of weights read one sequence of length n (batch 1, forward only):
- the LSTM takes n steps one after another (each step needs the previous step's state): its time grows
  like n, and so does its memory (one state per step);
- attention handles every position at once, but every position scores every other one: heads x n x n
  scores, so its time and memory grow like n^2.
Time is the fastest wall time of a few runs; memory is the peak the forward pass allocates beyond its
input and weights (CPU: from the profiler's allocation records, `peak_cpu_bytes`; CUDA:
torch.cuda.max_memory_allocated). A time budget stops the longest lengths, and says so.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from core import memory, models, text, values
from core.digits import (BATCH_SIZE, N_CLASSES, N_PIXELS, SIDE, TRAINING_BUDGET_S, EpochStats, Split, count_parameters,
                         epoch_by_epoch, generator, kept_when_complete, seeded_init_, split_digits, time_budget_notes,
                         train_side_by_side)
from tabs.nn_types.text import TEXT

LEARNING_RATE = 3e-3  # Adam, for all four trainings
ARCHS = ("mlp", "cnn")

# Every number a student (or an API caller) sets in this tab, declared once: range, default, label in notes.
SETTINGS = values.settings(
    values.Setting("seed", TEXT.msg("name_seed"), default=0, low=0, high=10_000, integer=True),
    values.Setting("epochs", TEXT.msg("name_epochs"), default=15, low=1, high=30, integer=True),
    values.Setting("max_length", TEXT.msg("name_max_length"), default=1024, low=16, high=4096, integer=True),
)


# ---------------------------------------------------------------- the data: real handwritten digits, pixels shuffled


def pixel_permutation(seed: int) -> np.ndarray:
    """One fixed shuffle of the 64 pixel positions (new pixel i = old pixel perm[i])."""
    return np.random.default_rng([seed, N_PIXELS]).permutation(N_PIXELS)


def permute_pixels(split: Split, perm: np.ndarray) -> Split:
    """The same images with their pixels shuffled by `perm`: training and validation alike."""
    index = torch.from_numpy(perm)
    return Split(split.x_train[:, index], split.y_train, split.x_val[:, index], split.y_val)


# ---------------------------------------------------------------- the two networks


def make_mlp() -> nn.Sequential:
    """Fully connected: every hidden unit sees all 64 pixels, as a flat list."""
    return nn.Sequential(nn.Linear(N_PIXELS, 256), nn.ReLU(), nn.Linear(256, N_CLASSES))


def make_cnn() -> nn.Sequential:
    """Convolutional: 3x3 kernels on the 8x8 grid, pooling, then the average of each feature map over the
    picture (global average pooling, as ResNet and EfficientNet end) before the classifier."""
    return nn.Sequential(
        nn.Unflatten(1, (1, SIDE, SIDE)),
        nn.Conv2d(1, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, kernel_size=3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(64, N_CLASSES),
    )


MAKERS: dict[str, Callable[[], nn.Module]] = {"mlp": make_mlp, "cnn": make_cnn}


def layer_table(model: nn.Module) -> list[tuple[str, int]]:
    """(layer, weights) for every layer that has weights, in order (the parameter table of the view)."""
    rows = []
    for module in model.modules():
        if isinstance(module, nn.Linear):
            rows.append((f"Linear {module.in_features}→{module.out_features}", count_parameters(module)))
        elif isinstance(module, nn.Conv2d):
            k = module.kernel_size
            rows.append((f"Conv2d {module.in_channels}→{module.out_channels}, {k[0]}×{k[1]}",
                         count_parameters(module)))
    return rows


# ---------------------------------------------------------------- part 1: the permutation experiment


@dataclasses.dataclass(frozen=True)
class Run:
    arch: str  # "mlp" | "cnn"
    pixels: str  # "original" | "permuted"
    parameters: int
    history: list[EpochStats]
    seconds: float

    @property
    def val_acc(self) -> float:
        return self.history[-1].val_acc


@dataclasses.dataclass(frozen=True)
class PermutationResult:
    seed: int
    epochs: int  # asked for
    epochs_run: int  # run (fewer when the time budget ended the training)
    runs: list[Run]  # mlp/original, cnn/original, mlp/permuted, cnn/permuted
    layers: dict[str, list[tuple[str, int]]]  # arch -> parameter table
    permutation: np.ndarray  # (64,)
    examples: np.ndarray  # (10, 8, 8) one validation digit of each class, 0..1
    examples_permuted: np.ndarray  # the same digits with their pixels shuffled
    example_labels: np.ndarray  # (10,)
    n_train: int
    n_val: int
    seconds: float
    notes: tuple[text.Message, ...] = ()

    @property
    def complete(self) -> bool:
        return self.epochs_run == self.epochs

    def run(self, arch: str, pixels: str) -> Run:
        return next(r for r in self.runs if r.arch == arch and r.pixels == pixels)


def trainer(arch: str, split: Split, seed: int) -> tuple[nn.Module, Iterator[EpochStats]]:
    """One network from its seeded start, ready to train. The start and the batch order depend on
    (seed, arch) only, not on the pixels: original and shuffled runs of one network differ in the pixel
    order alone."""
    salt = ARCHS.index(arch)
    model = seeded_init_(MAKERS[arch](), generator(seed, 1, salt))
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return model, epoch_by_epoch(model, split, optimizer, generator(seed, 2, salt), BATCH_SIZE)


def _permutation_experiment(seed: int, epochs: int, budget_s: float | None) -> PermutationResult:
    started = time.perf_counter()
    split = split_digits(seed)
    perm = pixel_permutation(seed)
    shuffled = permute_pixels(split, perm)
    models, trainers = {}, {}
    for pixels, data in (("original", split), ("permuted", shuffled)):
        for arch in ARCHS:
            models[arch, pixels], trainers[arch, pixels] = trainer(arch, data, seed)
    side = train_side_by_side(trainers, epochs, budget_s)
    runs = [Run(arch, pixels, count_parameters(models[arch, pixels]), side.histories[arch, pixels],
                side.seconds[arch, pixels]) for (arch, pixels) in trainers]
    # One validation digit of each class, before and after the shuffle (what the networks are shown).
    y_val = split.y_val.numpy()
    first = np.array([int(np.flatnonzero(y_val == c)[0]) for c in range(N_CLASSES)])
    return PermutationResult(
        seed=seed, epochs=epochs, epochs_run=side.rounds, runs=runs,
        layers={arch: layer_table(MAKERS[arch]()) for arch in ARCHS},
        permutation=perm,
        examples=split.x_val[first].numpy().reshape(-1, SIDE, SIDE),
        examples_permuted=shuffled.x_val[first].numpy().reshape(-1, SIDE, SIDE),
        example_labels=y_val[first],
        n_train=len(split.y_train), n_val=len(split.y_val),
        seconds=time.perf_counter() - started,
        notes=time_budget_notes(side, epochs, budget_s),
    )


# Deterministic per (seed, epochs) when complete: kept, whichever language or student asks again. A run the
# time budget cut short depends on the machine's speed and is not kept.
EXPERIMENTS = memory.Store("nn_types.permutation", size=memory.nbytes, max_entries=32)


def permutation_experiment(seed=0, epochs=15, budget_s: float | None = TRAINING_BUDGET_S) -> PermutationResult:
    """Train MLP and CNN on the original digits and on the pixel-shuffled digits (four trainings side by
    side). budget_s=None: no time limit (the worked example computed at start-up, the tests)."""
    notes: list[text.Message] = []
    seed = SETTINGS["seed"].take(seed, notes)
    epochs = SETTINGS["epochs"].take(epochs, notes)
    result = kept_when_complete(EXPERIMENTS, (seed, epochs), lambda: _permutation_experiment(seed, epochs, budget_s))
    return dataclasses.replace(result, notes=tuple(notes) + result.notes)


# ---------------------------------------------------------------- part 2: sequential vs parallel

D_MODEL = 64  # numbers per position
HEADS = 4
FEEDFORWARD = 128  # with these sizes the encoder layer has 33,472 weights and the LSTM 33,280
LENGTHS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
REPEATS = 3  # timed runs per length and model (the fastest is kept), after one warm-up run
BUDGET_S = 8.0


def make_lstm() -> nn.LSTM:
    return nn.LSTM(D_MODEL, D_MODEL, batch_first=True)


def make_encoder_layer() -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(D_MODEL, HEADS, dim_feedforward=FEEDFORWARD, dropout=0.0, batch_first=True)


_sequence_models: dict[str, tuple[nn.Module, nn.Module]] = {}
_sequence_models_lock = threading.Lock()


def sequence_models(device: str) -> tuple[nn.Module, nn.Module]:
    """(LSTM, encoder layer) in eval mode on `device`, built once (random weights: timing does not depend
    on their values)."""
    with _sequence_models_lock:
        if device not in _sequence_models:
            _sequence_models[device] = (make_lstm().eval().to(device), make_encoder_layer().eval().to(device))
        return _sequence_models[device]


_profiler_lock = threading.Lock()  # one profiler session at a time in the process


def peak_cpu_bytes(fn: Callable[[], object]) -> int:
    """The most CPU memory that fn()'s tensors held at one moment, in bytes.

    torch keeps no peak statistic for CPU memory (torch.cuda.max_memory_allocated is CUDA only), but its
    profiler records every CPU allocation (+bytes) and free (-bytes) with a time stamp: their running sum
    in time order is the memory in use, and its maximum the peak. Records inside fused operators count
    too (the encoder layer's inference path is one operator that allocates the n x n scores inside).
    This is the one place that reads the profiler's records; tests/test_nn_types.py checks it against
    tensors of known sizes, so a profiler change that breaks it fails there.
    """
    from torch.profiler import ProfilerActivity, profile

    with _profiler_lock:
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    records = sorted((event.start_ns(), event.nbytes()) for event in prof.profiler.kineto_results.events()
                     if event.name() == "[memory]" and event.device_type() == torch.autograd.DeviceType.CPU)
    live = peak = 0
    for _, nbytes in records:
        live += nbytes
        peak = max(peak, live)
    return peak


def peak_bytes(fn: Callable[[], object], device: str) -> int:
    """Peak memory fn() allocates beyond what was allocated before it (its activations and output)."""
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - before
    return peak_cpu_bytes(fn)


def fastest_seconds(fn: Callable[[], object], device: str, repeats: int = REPEATS) -> float:
    """The fastest wall time of `repeats` runs after one warm-up run (CUDA: waiting for the GPU to finish).
    The fastest run is the one least disturbed by whatever else the machine was doing (timeit's advice)."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    fn()
    sync()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        sync()
        samples.append(time.perf_counter() - started)
    return min(samples)


@dataclasses.dataclass(frozen=True)
class LengthPoint:
    length: int
    lstm_ms: float
    attention_ms: float
    lstm_bytes: int  # measured peak of the forward pass
    attention_bytes: int
    score_bytes: int  # heads x n x n attention scores in float32: what attention computes, whatever it keeps


@dataclasses.dataclass(frozen=True)
class SequenceTiming:
    device: str
    points: list[LengthPoint]
    skipped: list[int]  # lengths left out by the time budget
    lstm_parameters: int
    attention_parameters: int
    budget_s: float
    seconds: float
    threads: int
    notes: tuple[text.Message, ...] = ()


def device_choices() -> list[str]:
    return [d.type for d in models.available_devices() if d.type in ("cpu", "cuda")]


@torch.inference_mode()
def time_sequence_models(max_length=1024, device="cpu", budget_s: float = BUDGET_S) -> SequenceTiming:
    """Time the LSTM and the encoder layer on one random sequence of each length up to `max_length`.

    Before each length, the cost of the previous one, grown as n^2 (the faster-growing of the two), is
    compared with the time left: a length that would not fit is skipped with the longer ones."""
    notes: list[text.Message] = []
    max_length = SETTINGS["max_length"].take(max_length, notes)
    # The devices are this machine's: known at run time, so checked here rather than declared in SETTINGS.
    device = values.keep(notes)(values.choice(device, device_choices(), "cpu", TEXT.msg("name_device")))
    lstm, encoder = sequence_models(device)
    started = time.perf_counter()
    points, skipped = [], []
    last_cost = last_length = None
    for n in [n for n in LENGTHS if n <= max_length]:
        if last_cost is not None:
            expected = last_cost * (n / last_length) ** 2
            if time.perf_counter() - started + expected > budget_s:
                skipped.append(n)
                continue
        length_started = time.perf_counter()
        x = torch.randn(1, n, D_MODEL, device=device)
        point = LengthPoint(
            length=n,
            lstm_ms=1000 * fastest_seconds(lambda: lstm(x), device),
            attention_ms=1000 * fastest_seconds(lambda: encoder(x), device),
            lstm_bytes=peak_bytes(lambda: lstm(x), device),
            attention_bytes=peak_bytes(lambda: encoder(x), device),
            score_bytes=HEADS * n * n * 4,
        )
        points.append(point)
        last_cost, last_length = time.perf_counter() - length_started, n
    if skipped:
        notes.append(TEXT.msg("skipped_lengths", lengths=", ".join(str(n) for n in skipped), budget=f"{budget_s:g}"))
    return SequenceTiming(device, points, skipped, count_parameters(lstm), count_parameters(encoder), budget_s,
                          time.perf_counter() - started, torch.get_num_threads(), tuple(notes))
