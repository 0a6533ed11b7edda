"""④ Train on the new data.

A frozen stage gives the same output for the same image every epoch, so the frozen part runs once per
image (and per augmented view), and only the trainable part runs in the loop; with the whole body
frozen that is a single linear layer, and a run takes seconds on a CPU. The frozen features sit in a
shared store: 30 students on the same data and frozen part compute them once. Early stopping watches
the validation loss and restores the best epoch's weights.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Iterator

import numpy as np
import torch

from core import memory
from core.text import Message
from tabs.finetune.data import DataSet, augment
from tabs.finetune.evaluation import confusion_matrix, evaluate
from tabs.finetune.model import FineTuned
from tabs.finetune.settings import SETTINGS

AUG_VIEWS = 2  # augmented copies per training image, when augmentation is on
CACHE_BUDGET_BYTES = 256 * 1024 * 1024  # frozen features of one data set; above it, the frozen part runs every batch
MAX_RUN_SECONDS = 60.0  # a run stops itself after this long: one student holds the class's one training slot no longer


@dataclasses.dataclass
class TrainConfig:
    epochs: int = SETTINGS["epochs"].default
    learning_rate: float = SETTINGS["learning_rate"].default
    batch_size: int = SETTINGS["batch_size"].default
    augment: bool = SETTINGS["augment"].default
    patience: int = SETTINGS["patience"].default
    min_delta: float = SETTINGS["min_delta"].default
    seed: int = 0  # the batches' order and the augmented views (not a setting: the same every run)


def train_config(epochs, learning_rate, batch_size, augment_on, patience, min_delta) -> tuple[TrainConfig, list[Message]]:
    """The hyper-parameters, each inside its setting's range, and notes on what was changed."""
    notes: list[Message] = []
    given = dict(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, augment=augment_on,
                 patience=patience, min_delta=min_delta)
    return TrainConfig(**SETTINGS.take_all(given, notes)), notes


# ---------------------------------------------------------------- the frozen part, once per picture


@dataclasses.dataclass
class Prepared:
    """What the training loop reads: per image a list of views (view 0 = the original)."""

    key: tuple
    train_views: list[torch.Tensor]  # one tensor per view: N_train x ... (frozen features, or input pixels)
    val: torch.Tensor
    train_labels: torch.Tensor
    val_labels: torch.Tensor
    cached: bool  # True: frozen features; False: input tensors, the frozen part runs every batch
    seconds: float


class StopRequested(Exception):
    """The session's Stop button was pressed while the frozen features were being computed."""


def n_items(data: DataSet, cfg: TrainConfig) -> int:
    """Pictures that go through the frozen part: every training view and every validation image."""
    return len(data.train_idx) * (1 + (AUG_VIEWS if cfg.augment else 0)) + len(data.val_idx)


def _batched(model: FineTuned, tensors: list[torch.Tensor], to_features: bool, should_stop, batch: int = 32) -> torch.Tensor:
    out = []
    for start in range(0, len(tensors), batch):
        if should_stop():
            raise StopRequested
        x = torch.cat(tensors[start:start + batch])
        out.append(model.frozen_features(x) if to_features else x)
    return torch.cat(out)


def feature_bytes(model: FineTuned, count: int) -> int:
    """Memory the frozen features of `count` pictures take."""
    x = torch.zeros(1, 3, model.cnn.crop, model.cnn.crop, device=model.cnn.device, dtype=model.cnn.dtype)
    return int(model.frozen_features(x).numel()) * x.element_size() * count


def prepare(model: FineTuned, data: DataSet, cfg: TrainConfig, should_stop: Callable[[], bool] = lambda: False,
            cache: bool | None = None) -> Prepared:
    """Pixels -> tensors -> (when they fit CACHE_BUDGET_BYTES) frozen features, for every view, once.

    cache=None decides by the budget; False keeps input tensors (the frozen part then runs every batch).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(cfg.seed + 99)
    n_views = 1 + (AUG_VIEWS if cfg.augment else 0)
    cached = feature_bytes(model, n_items(data, cfg)) <= CACHE_BUDGET_BYTES if cache is None else cache
    train_imgs = [data.images[i] for i in data.train_idx]
    views = []
    for v in range(n_views):
        imgs = train_imgs if v == 0 else [augment(img, rng) for img in train_imgs]
        views.append(_batched(model, [model.to_tensor(img) for img in imgs], cached, should_stop))
    val = _batched(model, [model.to_tensor(data.images[i]) for i in data.val_idx], cached, should_stop)
    device = val.device
    return Prepared(key=features_key(model, data, cfg), train_views=views, val=val,
                    train_labels=torch.as_tensor(data.labels[data.train_idx], device=device),
                    val_labels=torch.as_tensor(data.labels[data.val_idx], device=device),
                    cached=cached, seconds=time.perf_counter() - started)


def features_key(model: FineTuned, data: DataSet, cfg: TrainConfig) -> tuple:
    return (data.fingerprint, cfg.augment, cfg.seed) + model.frozen_key()


# Frozen features by (data, augmentation, frozen part): 30 students training on the built-in set with
# the pretrained body frozen compute them once (the stores are single-flight), and a second run that
# changes only the learning rate or the patience starts training at once.
FEATURES = memory.Store("finetune_features", size=memory.nbytes, max_entries=64)


def shared_features(model: FineTuned, data: DataSet, cfg: TrainConfig,
                    should_stop: Callable[[], bool] = lambda: False) -> tuple[Prepared, bool]:
    """(prepared inputs, whether they were already computed) through the shared feature store."""
    key = features_key(model, data, cfg)
    while True:
        reused = key in FEATURES
        try:
            return FEATURES.get_or_compute(key, lambda: prepare(model, data, cfg, should_stop)), reused
        except StopRequested:
            if should_stop():
                raise
            # Another session pressed Stop during the computation this one had joined: compute again.


# ---------------------------------------------------------------- the loop and early stopping


class EarlyStopping:
    """Stop when the validation loss has not improved by more than min_delta for `patience` epochs.

    Keeps a copy of the weights of the best epoch, restored at the end (like Keras'
    EarlyStopping(restore_best_weights=True)).
    """

    def __init__(self, patience: int, min_delta: float):
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.wait = 0

    def step(self, epoch: int, val_loss: float, model: FineTuned | None = None) -> bool:
        """Record one epoch; True when training should stop now."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = float(val_loss), epoch, 0
            if model is not None:
                self.best_state = model.trainable_state()
        else:
            self.wait += 1
        return self.wait >= self.patience

    def restore(self, model: torch.nn.Module) -> bool:
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True


@dataclasses.dataclass
class EpochLog:
    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    seconds: float


@dataclasses.dataclass
class RunResult:
    history: list[EpochLog]
    best_epoch: int
    stopped_epoch: int
    reason: str  # "early_stop", "epochs", "stopped", "time", "diverged"
    best_val_loss: float
    best_val_acc: float
    confusion: np.ndarray
    seconds: float
    prepare_seconds: float


def train(model: FineTuned, prep: Prepared, cfg: TrainConfig, should_stop: Callable[[], bool] = lambda: False,
          max_seconds: float = MAX_RUN_SECONDS, evaluate_fn: Callable | None = None) -> Iterator[EpochLog | RunResult]:
    """Train the trainable part and the new layer; yields an EpochLog per epoch, then the RunResult.

    evaluate_fn(model, epoch) -> (val_loss, val_acc) replaces the validation pass (tests script it).
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    stopper = EarlyStopping(cfg.patience, cfg.min_delta)
    history: list[EpochLog] = []
    reason = "epochs"

    def interruption() -> str | None:  # asked before every batch
        if should_stop():
            return "stopped"
        return "time" if time.perf_counter() - started > max_seconds else None

    for epoch in range(1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        train_loss, train_acc, interrupted = _one_epoch(model, prep, cfg.batch_size, optimizer, generator, interruption)
        if interrupted:
            reason = interrupted
            break
        if evaluate_fn is not None:
            val_loss, val_acc = evaluate_fn(model, epoch)
        else:
            val_loss, val_acc, _ = evaluate(model, prep.val, prep.val_labels, prep.cached)
        log = EpochLog(epoch, train_loss, train_acc, float(val_loss), float(val_acc), time.perf_counter() - epoch_start)
        history.append(log)
        stop = stopper.step(epoch, log.val_loss, model)
        yield log
        if stop:
            reason = "early_stop"
            break
    yield _result(model, prep, stopper, history, reason, started)


def _one_epoch(model: FineTuned, prep: Prepared, batch_size: int, optimizer: torch.optim.Optimizer,
               generator: torch.Generator, interruption: Callable[[], str | None]) -> tuple[float, float, str | None]:
    """One pass over the training images in a random order, each as one of its views at random:
    (mean loss, accuracy, None; or why it ended early: "stopped", "time" or "diverged")."""
    model.train_mode()
    n_train = len(prep.train_labels)
    order = torch.randperm(n_train, generator=generator)
    view_of = torch.randint(0, len(prep.train_views), (n_train,), generator=generator)
    total, correct = 0.0, 0
    for start in range(0, n_train, batch_size):
        reason = interruption()
        if reason is not None:
            return total / n_train, correct / n_train, reason
        idx = order[start:start + batch_size]
        x = torch.stack([prep.train_views[int(v)][int(i)] for i, v in zip(idx, view_of[idx])])
        y = prep.train_labels[idx]
        logits = (model.forward_from_frozen(x) if prep.cached else model(x)).float()
        loss = torch.nn.functional.cross_entropy(logits, y)
        if not torch.isfinite(loss):
            return total / n_train, correct / n_train, "diverged"
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        correct += int((logits.argmax(1) == y).sum())
    return total / n_train, correct / n_train, None


def _result(model: FineTuned, prep: Prepared, stopper: EarlyStopping, history: list[EpochLog], reason: str,
            started: float) -> RunResult:
    """The best epoch's weights back in place, and how they do on the validation images."""
    stopper.restore(model)
    val_loss, val_acc, preds = evaluate(model, prep.val, prep.val_labels, prep.cached)
    cm = confusion_matrix(prep.val_labels.cpu().numpy(), preds, len(model.class_names))
    return RunResult(history=history, best_epoch=stopper.best_epoch, stopped_epoch=history[-1].epoch if history else 0,
                     reason=reason, best_val_loss=val_loss, best_val_acc=val_acc, confusion=cm,
                     seconds=time.perf_counter() - started, prepare_seconds=prep.seconds)
