"""Real handwritten digits and the small training loop that lessons run on them.

scikit-learn's digits (1,797 real 8x8 scans, shipped inside the package, no download) are small enough
to train networks on while a student waits. Two lessons do: the kinds of networks (MLP vs CNN) and the
skip connection (plain vs residual). Both need the same things, kept here:
- the data and a stratified, seeded split;
- a seeded start (PyTorch's own default initialisation, drawn from a generator of the request's own);
- mini-batch training one epoch at a time, and several networks trained side by side, so that a time
  budget that ends the run early still leaves a fair comparison (the same number of epochs for each);
- keeping a complete (deterministic) result, and never one the budget cut short.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from core import memory, text

TEXT = text.table("digits", {
    "out_of_time": ("시간 예산({budget}초)에 맞추느라 {asked} 에포크 중 {done} 에포크만 학습했습니다. 모든 신경망이 같은 "
                    "에포크만큼 학습했으니 비교는 공정합니다. 에포크 수를 줄이거나 다시 눌러 보세요.",
                    "To stay within the {budget} s time budget, training stopped after {done} of {asked} epochs. "
                    "Every network had the same number of epochs, so the comparison is still fair. Choose fewer "
                    "epochs, or press again."),
})

SIDE = 8  # the digits are 8x8 pictures
N_PIXELS = SIDE * SIDE
N_CLASSES = 10
VAL_FRACTION = 0.2
BATCH_SIZE = 32
TRAINING_BUDGET_S = 9.0  # a training button answers within about 10 s on a 2-core CPU, whatever the settings


# ---------------------------------------------------------------- the data


@functools.lru_cache(maxsize=1)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits as (images (1797, 64) float32 in 0..1, labels (1797,) int64)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.data / 16.0).astype(np.float32)  # the scans have 17 grey levels, 0..16
    images.setflags(write=False)
    labels = bunch.target.astype(np.int64)
    labels.setflags(write=False)
    return images, labels


@dataclasses.dataclass(frozen=True)
class Split:
    x_train: torch.Tensor  # (n, 64)
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def split_digits(seed: int) -> Split:
    """80 % training, 20 % validation, every digit in the same proportion in both (stratified)."""
    from sklearn.model_selection import train_test_split

    images, labels = digits()
    train_idx, val_idx = train_test_split(np.arange(len(labels)), test_size=VAL_FRACTION, stratify=labels,
                                          random_state=seed)
    return Split(torch.from_numpy(images[train_idx].copy()), torch.from_numpy(labels[train_idx].copy()),
                 torch.from_numpy(images[val_idx].copy()), torch.from_numpy(labels[val_idx].copy()))


# ---------------------------------------------------------------- a seeded start


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def seeded_init_(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """PyTorch's own default initialisation of Linear and Conv layers (uniform in +-1/sqrt(fan_in), the same
    as kaiming_uniform_ with a=sqrt(5)), drawn from `generator` instead of the global one: two students
    training at the same moment cannot disturb each other's random numbers, so a seed gives one result."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                bound = 1.0 / math.sqrt(module.weight[0].numel())
                nn.init.uniform_(module.weight, -bound, bound, generator=generator)
                if module.bias is not None:
                    nn.init.uniform_(module.bias, -bound, bound, generator=generator)
    return model


def generator(seed: int, *salt: int) -> torch.Generator:
    """A generator of its own for (seed, salt): the same numbers whatever else runs in the process."""
    words = np.random.SeedSequence([seed, *salt]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(words[0]) << 32 | int(words[1]))


# ---------------------------------------------------------------- one training run


@dataclasses.dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float  # mean over the epoch's batches
    train_acc: float
    val_loss: float  # after the epoch, in eval mode
    val_acc: float


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) in eval mode (batch norm uses its running statistics)."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
        return float(nn.functional.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def epoch_by_epoch(model: nn.Module, split: Split, optimizer: torch.optim.Optimizer, batches: torch.Generator,
                   batch_size: int = BATCH_SIZE) -> Iterator[EpochStats]:
    """Mini-batch training with cross-entropy, one epoch per step of the iterator; `batches` shuffles the
    training set each epoch. Ends by itself after an epoch whose loss became inf or NaN (it diverged)."""
    n = len(split.y_train)
    epoch = 0
    while True:
        epoch += 1
        model.train()
        order = torch.randperm(n, generator=batches)
        loss_sum = correct = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            logits = model(split.x_train[idx])
            loss = nn.functional.cross_entropy(logits, split.y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += float((logits.argmax(1) == split.y_train[idx]).sum())
        val_loss, val_acc = evaluate(model, split.x_val, split.y_val)
        yield EpochStats(epoch, loss_sum / n, correct / n, val_loss, val_acc)
        if not math.isfinite(loss_sum):
            return


# ---------------------------------------------------------------- several networks side by side


@dataclasses.dataclass(frozen=True)
class SideBySide:
    histories: dict[str, list[EpochStats]]
    seconds: dict[str, float]  # training time of each network
    rounds: int  # epochs every network that did not diverge has run
    out_of_time: bool  # True when the time budget stopped it before `epochs`


def train_side_by_side(trainers: dict[str, Iterator[EpochStats]], epochs: int,
                       budget_s: float | None) -> SideBySide:
    """Epoch 1 of every network, then epoch 2 of every network, and so on: at any moment all have had the
    same number of epochs, so a time budget that ends the run early keeps the comparison fair. A new
    round starts only if one more round as long as the last one still fits in the budget."""
    histories = {name: [] for name in trainers}
    seconds = {name: 0.0 for name in trainers}
    running = dict(trainers)
    started = time.perf_counter()
    rounds, last_round = 0, 0.0
    while rounds < epochs and running:
        if budget_s is not None and rounds > 0 and time.perf_counter() - started + last_round > budget_s:
            break
        round_started = time.perf_counter()
        for name, trainer in list(running.items()):
            epoch_started = time.perf_counter()
            stats = next(trainer, None)
            seconds[name] += time.perf_counter() - epoch_started
            if stats is None:  # it diverged in the epoch before: its history ends there
                del running[name]
            else:
                histories[name].append(stats)
        rounds += 1
        last_round = time.perf_counter() - round_started
    return SideBySide(histories, seconds, rounds, out_of_time=rounds < epochs and bool(running))


def time_budget_notes(side: SideBySide, epochs: int, budget_s: float | None) -> tuple[text.Message, ...]:
    """The note saying the time budget ended the training early, or nothing when it ran every epoch."""
    if not side.out_of_time:
        return ()
    return (TEXT.msg("out_of_time", done=side.rounds, asked=epochs, budget=f"{budget_s:g}"),)


def kept_when_complete(store: memory.Store, key, run: Callable[[], object]):
    """The kept result for `key`, or a new `run()`, kept only when it is complete (`.complete`): training is
    deterministic per settings, but a run the time budget cut short depends on the machine's load."""
    result = store.get(key)
    if result is None:
        result = run()
        if result.complete:
            store.put(key, result)
    return result
