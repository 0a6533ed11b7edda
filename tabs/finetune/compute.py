"""Fine-tuning, in the five steps of the notes: teach a CNN trained on ImageNet a few new classes.

Each step lives in its own module of this folder; this one tells the lesson top to bottom, names what
the tab, the views and the tests use, and runs the steps for one browser session.

  Settings: every number and choice of a request, declared once (`settings.py`).
  Ready: the data. A built-in set of shapes (or the student's photos), split once into training and
         validation images (`data.py`).
  ① Take a pretrained model: an ImageNet CNN from the shared loader (`model.py`).
  ② Freeze layers: the first stages keep their ImageNet weights (no gradients, never changed).
  ③ Add a new output layer: Linear(features -> number of classes) replaces the 1000-class one.
  ④ Train on the new data: the frozen part runs once per image, then only the trainable part runs
     in the loop; early stopping restores the best epoch's weights (`training.py`).
  ⑤ Evaluate (confusion matrix, a new picture), then unfreeze more and continue from the weights
     learned so far (`evaluation.py`, and `fine_tune(..., continue_training=True)` below).

At the end, `Session` and `fine_tune` are one browser session's runs, as the tab calls them.

No Gradio, no language: notes are `Message`s, bad input raises `TEXT.problem(...)`. Everything kept
between requests (the built-in data sets, the channels-last backbone copies, the frozen features) sits
in `core.memory` stores, counted in the app's one memory budget; a session's own model lives in its
`Session` and goes when the session ends.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Iterator

import numpy as np

from core.images import load_image
from core.text import Message
from core.zoo.cnn import CNN
from tabs.finetune.text import TEXT

# The names the tab, the views, the bench and the tests use, step by step.
# Settings
from tabs.finetune.settings import MAX_CLASSES, SETTINGS  # noqa: F401
# Ready: the data
from tabs.finetune.data import (  # noqa: F401
    BUILTIN, MAX_IMAGES_PER_CLASS, SHAPES, STORE_SIDE, DataSet, Name, add_snapshot, builtin_dataset, draw_shape,
    make_dataset, read_data, shape_name, shape_picture, split_indices)
# ① Take a pretrained model, ② freeze layers, ③ add a new output layer
from tabs.finetune.model import (  # noqa: F401
    FineTuned, FreezeSummary, backbone_of, body_stages, freeze_summary, frozen_count, pretrained)
# ④ Train on the new data
from tabs.finetune.training import (  # noqa: F401
    AUG_VIEWS, FEATURES, MAX_RUN_SECONDS, EarlyStopping, EpochLog, Prepared, RunResult, StopRequested, TrainConfig,
    features_key, n_items, prepare, shared_features, train, train_config)
# ⑤ Evaluate
from tabs.finetune.evaluation import imagenet_top_k, predict  # noqa: F401

# ================================================================ one browser session's runs


@dataclasses.dataclass
class Run:
    """One press of Train or Continue, as the curves show it."""

    number: int  # 1, 2, ... within the session
    continued: bool
    n_frozen: int
    patience: int
    history: list[EpochLog] = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    stopped_epoch: int = 0
    learning_rate: float = 0.0
    reason: str = ""  # why it ended (RunResult.reason), once it has
    best_val_acc: float = 0.0  # of the weights it kept (the best epoch's)


MAX_RUNS_KEPT = 6  # earlier runs kept on the chart for comparison


@dataclasses.dataclass
class Session:
    """One browser session's fine-tuning: its own model, runs and Stop flag."""

    model: FineTuned | None = None
    runs: list[Run] = dataclasses.field(default_factory=list)
    confusion: np.ndarray | None = None
    busy: bool = False
    stop_requested: bool = False
    private_features: set = dataclasses.field(default_factory=set)  # feature keys only this session can use

    def forget_private_features(self, keep: tuple | None = None) -> None:
        for key in list(self.private_features):
            if key != keep:
                FEATURES.pop(key)
                self.private_features.discard(key)

    def free(self) -> None:
        """The session ended: drop its model and the features of its own trained stages."""
        self.forget_private_features()
        self.model, self.confusion, self.runs = None, None, []


@dataclasses.dataclass
class Progress:
    """What a run has to show so far: stage "preparing", "epoch", "done" or "stopped"."""

    stage: str
    data: DataSet
    summary: FreezeSummary
    cfg: TrainConfig
    notes: list[Message]
    runs: list[Run]
    prepared: Prepared | None = None
    reused: bool = False
    epoch: EpochLog | None = None
    result: RunResult | None = None


def fine_tune(session: Session, data: DataSet, notes: list[Message], backbone, n_frozen, epochs, learning_rate,
              batch_size, augment_on, patience, min_delta, continue_training: bool = False) -> Iterator[Progress]:
    """Steps ① to ⑤ for one press of Train (or Continue: from the session's current weights).

    Yields Progress: once before the frozen features, once per epoch, and once at the end.
    The session's Stop flag ends the run within a batch.
    """
    if session.busy:
        raise TEXT.problem("busy")
    notes = list(notes)
    cnn, model_notes = pretrained(backbone)                                          # ①
    n_frozen = frozen_count(cnn, n_frozen, notes)                                    # ②
    cfg, cfg_notes = train_config(epochs, learning_rate, batch_size, augment_on, patience, min_delta)
    notes += model_notes + cfg_notes
    previous = session.model if continue_training else None
    if continue_training and (previous is None or previous.class_names != data.class_names
                              or previous.cnn.name != cnn.name):
        raise TEXT.problem("nothing_to_continue")
    session.busy, session.stop_requested = True, False
    try:
        yield from _run(session, cnn, data, notes, n_frozen, cfg, previous, continue_training)
    finally:
        session.busy = False


def _run(session: Session, cnn: CNN, data: DataSet, notes: list[Message], n_frozen: int, cfg: TrainConfig,
         previous: FineTuned | None, continue_training: bool) -> Iterator[Progress]:
    model = FineTuned(cnn, n_frozen, data.class_names, previous=previous)          # ③
    summary = freeze_summary(cnn, n_frozen, len(data.class_names))
    progress = Progress("preparing", data, summary, cfg, notes, session.runs)
    yield progress

    def should_stop() -> bool:  # asked at every batch; the Stop button sets the flag
        return session.stop_requested

    key = features_key(model, data, cfg)
    session.forget_private_features(keep=key)
    try:
        prep, reused = shared_features(model, data, cfg, should_stop)                # ④
    except StopRequested:
        yield dataclasses.replace(progress, stage="stopped")
        return
    if not model.shares_frozen_part():
        session.private_features.add(key)
    number = session.runs[-1].number + 1 if session.runs else 1
    run = Run(number, continue_training, n_frozen, cfg.patience, learning_rate=cfg.learning_rate)
    session.runs = (session.runs + [run])[-MAX_RUNS_KEPT:]
    progress = dataclasses.replace(progress, prepared=prep, reused=reused)
    best = math.inf
    for event in train(model, prep, cfg, should_stop=should_stop):
        if isinstance(event, EpochLog):
            run.history.append(event)
            if event.val_loss < best - cfg.min_delta:  # the star follows early stopping's own rule
                best, run.best_epoch = event.val_loss, event.epoch
            yield dataclasses.replace(progress, stage="epoch", runs=session.runs, epoch=event)
        else:                                                                        # ⑤
            run.best_epoch, run.stopped_epoch = event.best_epoch, event.stopped_epoch
            run.reason, run.best_val_acc = event.reason, event.best_val_acc
            model.mark_trained()
            session.model, session.confusion = model, event.confusion
            yield dataclasses.replace(progress, stage="done", runs=session.runs, result=event)


@dataclasses.dataclass
class Prediction:
    """The fine-tuned model's answer for one picture, and what the pretrained model alone says."""

    class_names: list[Name]
    probs: np.ndarray  # per class of the session's model
    backbone: str
    imagenet: list[tuple[int, float]]  # (ImageNet class index, probability), most likely first


def predict_picture(session: Session, image) -> Prediction:
    if session.model is None:
        raise TEXT.problem("train_first")
    model = session.model
    img = load_image(image, max_side=STORE_SIDE)
    return Prediction(model.class_names, predict(model, img), model.cnn.name, imagenet_top_k(model.cnn, img))


def new_shape_picture(class_names: list[Name] | None, n_classes, rng: np.random.Generator | None = None) -> np.ndarray:
    """A built-in-style picture from a random stream the training set never used (a shape of one of the
    session's classes when it trained on shapes)."""
    rng = rng or np.random.default_rng()
    n = len(class_names) if class_names else SETTINGS["n_classes"].take(n_classes, [])
    return draw_shape(SHAPES[int(rng.integers(0, min(n, len(SHAPES))))], rng)


# ================================================================ in a class: a run as the teacher's page sees it


def class_report(run: Run | None) -> dict | None:
    """What a finished run tells the class (numbers only): its settings, its validation curve and its best epoch;
    None for a run that has not finished or has no epoch."""
    if run is None or not run.reason or not run.history:
        return None
    return {"learning_rate": run.learning_rate, "n_frozen": run.n_frozen,
            "val_acc": [round(h.val_acc, 4) for h in run.history], "val_loss": [round(h.val_loss, 4) for h in run.history],
            "best_epoch": run.best_epoch, "stopped_epoch": run.stopped_epoch, "early_stop": run.reason == "early_stop",
            "best_val_acc": round(run.best_val_acc, 4)}


def class_run(numbers: dict) -> dict | None:
    """A run's report as the class keeps it (the shape `class_report` makes, every number in its range), or None."""
    curve, losses = numbers.get("val_acc"), numbers.get("val_loss")
    if not isinstance(curve, list) or not isinstance(losses, list) or not 1 <= len(curve) == len(losses) <= 50:
        return None
    ranges = {"learning_rate": (SETTINGS["learning_rate"].low, SETTINGS["learning_rate"].high),
              "n_frozen": (0, SETTINGS["n_frozen"].high), "best_epoch": (0, len(curve)),
              "stopped_epoch": (0, len(curve)), "best_val_acc": (0, 1)}
    for name, (low, high) in ranges.items():
        value = numbers.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            return None
    if not all(isinstance(a, (int, float)) and 0 <= a <= 1 for a in curve) or not isinstance(numbers.get("early_stop"), bool):
        return None
    return {name: numbers[name] for name in (*ranges, "val_acc", "val_loss", "early_stop")}
