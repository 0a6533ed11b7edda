"""Fine-tuning, in the five steps of the notes: teach a CNN trained on ImageNet a few new classes.

  Ready: the data. A built-in set of shapes (or the student's photos), split once into training and
         validation images.
  ① Take a pretrained model: an ImageNet CNN from the shared loader.
  ② Freeze layers: the first stages keep their ImageNet weights (no gradients, never changed).
  ③ Add a new output layer: Linear(features -> number of classes) replaces the 1000-class one.
  ④ Train on the new data. A frozen stage gives the same output for the same image every epoch, so
     the frozen part runs once per image (and per augmented view), and only the trainable part runs
     in the loop; with the whole body frozen that is a single linear layer, and a run takes seconds
     on a CPU. Early stopping watches the validation loss and restores the best epoch's weights.
  ⑤ Evaluate (confusion matrix, a new picture), then unfreeze more and continue from the weights
     learned so far.

At the end, `Session` and `fine_tune` are one browser session's runs, as the tab calls them.

No Gradio, no language: notes are `Message`s, bad input raises `TEXT.problem(...)`. Everything kept
between requests (the built-in data sets, the channels-last backbone copies, the frozen features) sits
in `core.memory` stores, counted in the app's one memory budget; a session's own model lives in its
`Session` and goes when the session ends.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import math
import time
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from PIL import Image, ImageEnhance

from core import charts, memory, values
from core.images import load_image
from core.text import Message, Problem
from core.zoo.cnn import CNN, OFFLINE_CNN, load_cnn, stages
from tabs.finetune.text import TEXT

MIN_CLASSES, MAX_CLASSES = 2, 5
MAX_IMAGES_PER_CLASS = 100  # uploads + snapshots beyond this are left out (memory bound)
STORE_SIDE = 320  # photos are kept at most this big; the network sees 224 crops of them
VAL_FRACTION = 0.25
SPLIT_SEED = 1234  # fixed: the same images always land in the same split
AUG_VIEWS = 2  # augmented copies per training image, when augmentation is on
CACHE_BUDGET_BYTES = 256 * 1024 * 1024  # frozen features of one data set; above it, the frozen part runs every batch
MAX_RUN_SECONDS = 180.0  # a run stops itself after this long (time bound per session)

SOURCES = ("builtin", "mine")
SHAPES = ("circle", "square", "triangle", "star", "cross")  # the built-in classes, up to 5
BACKBONES = (OFFLINE_CNN, "resnet18", "mobilenet_v3_large", "efficientnet_b0")

# (low, high, default) of every number a request carries. The API accepts anything; values.clamp fixes it.
LIMITS = {
    "n_classes": (MIN_CLASSES, MAX_CLASSES, 3),
    "per_class": (4, 100, 60),
    "seed": (0, 10_000, 0),
    "epochs": (1, 100, 30),
    "lr": (1e-5, 1.0, 3e-3),
    "batch": (1, 256, 16),
    "patience": (1, 50, 4),
    "min_delta": (0.0, 1.0, 0.005),
}
WHOLE_NUMBERS = {"n_classes", "per_class", "seed", "epochs", "batch", "patience"}

Name = str | Message  # a class name: typed by the student, or one of ours (said in the page's language)


def read_number(key: str, value, notes: list[Message], label_key: str | None = None):
    """A number of the request inside LIMITS[key]; what had to change is added to `notes`."""
    low, high, default = LIMITS[key]
    used, note = values.clamp(value, low, high, default, TEXT.msg(label_key or key), integer=key in WHOLE_NUMBERS)
    if note is not None:
        notes.append(note)
    return used


# ================================================================ Ready: the data


def draw_shape(kind: str, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """One HxWx3 uint8 picture of a shape: random colours, size, position, rotation, background and noise."""
    # Background: a random colour with a random linear gradient, sometimes a few faint clutter lines.
    base, other = rng.integers(0, 256, size=3).astype(np.float32), rng.integers(0, 256, size=3).astype(np.float32)
    direction = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    ramp = np.cos(direction) * xx + np.sin(direction) * yy
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6) * rng.uniform(0.0, 0.6)
    canvas = base * (1 - ramp[..., None]) + other * ramp[..., None]
    canvas = np.ascontiguousarray(canvas.astype(np.uint8))
    for _ in range(int(rng.integers(0, 4))):
        p1, p2 = (tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2))
        cv2.line(canvas, p1, p2, tuple(float(v) for v in rng.integers(0, 256, size=3)), 1, cv2.LINE_AA)
    # Foreground colour: far enough from the background that the shape is visible.
    mean_bg = canvas.reshape(-1, 3).mean(axis=0)
    for _ in range(20):
        colour = rng.integers(0, 256, size=3).astype(np.float64)
        if np.abs(colour - mean_bg).sum() > 160:
            break
    radius = rng.uniform(0.17, 0.36) * size
    cx, cy = rng.uniform(radius + 2, size - radius - 2, size=2)
    angle = rng.uniform(0, 2 * math.pi)
    colour_t = tuple(float(v) for v in colour)
    if kind == "circle":
        cv2.circle(canvas, (int(cx), int(cy)), int(radius * 0.85), colour_t, -1, cv2.LINE_AA)
    else:
        if kind == "square":
            pts = _polygon(4, radius, None, angle)
        elif kind == "triangle":
            pts = _polygon(3, radius, None, angle)
        elif kind == "star":
            pts = _polygon(5, radius, 0.45, angle)
        elif kind == "cross":
            pts = _cross(radius, angle)
        else:
            raise ValueError(f"unknown shape {kind!r}")
        pts = (pts + np.array([cx, cy])).round().astype(np.int32)
        cv2.fillPoly(canvas, [pts], colour_t, cv2.LINE_AA)
    noise = rng.standard_normal(size=canvas.shape, dtype=np.float32) * np.float32(rng.uniform(4, 18))
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _polygon(n_points: int, radius: float, inner: float | None, angle: float) -> np.ndarray:
    """Vertices of a regular polygon (or a star when `inner` is given), centred on 0, rotated by angle."""
    count = n_points * 2 if inner is not None else n_points
    pts = []
    for k in range(count):
        r = radius if inner is None or k % 2 == 0 else radius * inner
        a = angle + 2 * math.pi * k / count - math.pi / 2
        pts.append((r * math.cos(a), r * math.sin(a)))
    return np.array(pts, dtype=np.float64)


def _cross(radius: float, angle: float) -> np.ndarray:
    w = radius * 0.33
    pts = np.array([(-w, -radius), (w, -radius), (w, -w), (radius, -w), (radius, w), (w, w), (w, radius),
                    (-w, radius), (-w, w), (-radius, w), (-radius, -w), (-w, -w)], dtype=np.float64)
    c, s = math.cos(angle), math.sin(angle)
    return pts @ np.array([[c, s], [-s, c]])


def shape_picture(class_index: int, number: int, seed: int) -> np.ndarray:
    """Picture `number` of built-in class `class_index`: its own random stream, so a picture does not
    depend on how many others are drawn (a set of 8 per class starts with the same 8 as a set of 60)."""
    return draw_shape(SHAPES[class_index], np.random.default_rng([seed, class_index, number]))


def shape_name(class_index: int) -> Message:
    return TEXT.msg(f"shape_{SHAPES[class_index]}")


@dataclasses.dataclass
class DataSet:
    """Images with labels and the fixed train/validation split."""

    class_names: list[Name]
    images: list[Image.Image]
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    fingerprint: str  # identifies the names, the pixels and the split: the frozen features' cache key

    def counts(self) -> list[tuple[Name, int, int]]:
        """(class, train count, validation count) per class."""
        return [(name, int((self.labels[self.train_idx] == k).sum()), int((self.labels[self.val_idx] == k).sum()))
                for k, name in enumerate(self.class_names)]


def split_indices(labels: np.ndarray, val_fraction: float = VAL_FRACTION,
                  seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A stratified split, fixed by the seed: every class keeps at least one image on each side."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in np.unique(labels):
        idx = np.flatnonzero(labels == k)
        rng.shuffle(idx)
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return np.array(sorted(train), dtype=np.int64), np.array(sorted(val), dtype=np.int64)


def make_dataset(per_class_images: list[list[Image.Image]], class_names: list[Name]) -> DataSet:
    """Checks the classes (2 to 5, each with at least 2 images, different names) and splits them."""
    if len(per_class_images) < MIN_CLASSES:
        raise TEXT.problem("too_few_classes", low=MIN_CLASSES)
    if len(per_class_images) > MAX_CLASSES:
        raise TEXT.problem("too_many_classes", high=MAX_CLASSES)
    for name, imgs in zip(class_names, per_class_images):
        if len(imgs) == 0:
            raise TEXT.problem("class_empty", name=name)
        if len(imgs) < 2:
            raise TEXT.problem("class_one_image", name=name)
    if len({name_key(name) for name in class_names}) != len(class_names):
        raise TEXT.problem("duplicate_names")
    images = [img for imgs in per_class_images for img in imgs]
    labels = np.array([k for k, imgs in enumerate(per_class_images) for _ in imgs], dtype=np.int64)
    train_idx, val_idx = split_indices(labels)
    digest = hashlib.sha1()
    for name in class_names:
        digest.update(repr(name_key(name)).encode("utf-8") + b"\0")
    for img in images:
        digest.update(np.asarray(img).tobytes())
    return DataSet(list(class_names), images, labels, train_idx, val_idx, digest.hexdigest())


def name_key(name: Name) -> tuple:
    """A class name as a hashable value (a Message holds a dict, so it has no hash of its own)."""
    if isinstance(name, Message):
        return ("ours", name.key, tuple(sorted((k, str(v)) for k, v in name.params.items())))
    return ("typed", str(name))


def _dataset_bytes(data: DataSet) -> int:
    return sum(img.width * img.height * len(img.getbands()) for img in data.images)


# The built-in sets drawn so far (3 x 60 pictures take a few seconds to draw): the preview, the worked
# example and every student's Train click share them.
BUILTIN = memory.Store("finetune_builtin", size=_dataset_bytes, max_entries=16)


def builtin_dataset(n_classes: int, per_class: int, seed: int) -> DataSet:
    def draw() -> DataSet:
        images = [[Image.fromarray(shape_picture(k, i, seed)) for i in range(per_class)] for k in range(n_classes)]
        return make_dataset(images, [shape_name(k) for k in range(n_classes)])

    return BUILTIN.get_or_compute((n_classes, per_class, seed), draw)


def read_data(source, n_classes, per_class, seed, names, files, snapshots) -> tuple[DataSet, list[Message]]:
    """The data set a request describes, and notes on what was changed or left out.

    source "builtin": n_classes shapes, per_class pictures each, drawn from `seed`.
    source "mine": per class k, the name names[k], the uploaded files files[k] and the webcam
    snapshots snapshots[k] (arrays), for the first n_classes classes.
    """
    notes: list[Message] = []
    source, note = values.choice(source, SOURCES, "builtin", TEXT.msg("source"))
    notes += [note] if note else []
    n = read_number("n_classes", n_classes, notes)
    if source == "builtin":
        per = read_number("per_class", per_class, notes)
        data_seed = read_number("seed", seed, notes, label_key="data_seed")
        return builtin_dataset(n, per, data_seed), notes
    names, files, snapshots = list(names or []), list(files or []), list(snapshots or [])
    per_class_images, class_names = [], []
    for k in range(n):
        typed = str(names[k] or "").strip()[:40] if k < len(names) else ""
        name: Name = typed or TEXT.msg("class_default", n=k + 1)
        images = []
        for item in list(files[k] or []) if k < len(files) else []:
            try:
                images.append(load_image(item, max_side=STORE_SIDE))
            except Problem as problem:  # say which class the bad file was given for
                raise TEXT.problem("class_bad_file", name=name, reason=problem.message) from None
        images += [load_image(shot, max_side=STORE_SIDE) for shot in (snapshots[k] if k < len(snapshots) else ())]
        if len(images) > MAX_IMAGES_PER_CLASS:
            notes.append(TEXT.msg("too_many_images", name=name, got=len(images), kept=MAX_IMAGES_PER_CLASS))
            images = images[:MAX_IMAGES_PER_CLASS]
        per_class_images.append(images)
        class_names.append(name)
    return make_dataset(per_class_images, class_names), notes


def add_snapshot(snapshots, image, class_index) -> tuple:
    """Snapshots (one tuple of pictures per class) with `image` added to class `class_index`."""
    shots = [tuple(s) for s in (snapshots or ())] + [()] * MAX_CLASSES
    shots = shots[:MAX_CLASSES]
    k, _ = values.clamp(class_index, 0, MAX_CLASSES - 1, 0, TEXT.msg("snap_class"), integer=True)
    if len(shots[k]) >= MAX_IMAGES_PER_CLASS:
        raise TEXT.problem("too_many_snapshots", limit=MAX_IMAGES_PER_CLASS)
    shots[k] = shots[k] + (np.asarray(load_image(image, max_side=STORE_SIDE)),)
    return tuple(shots)


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random variant of a photo: crop and zoom, mirror, small rotation, brightness and contrast."""
    w, h = img.size
    scale = rng.uniform(0.7, 1.0)
    cw, ch = max(8, int(w * math.sqrt(scale))), max(8, int(h * math.sqrt(scale)))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = img.crop((left, top, left + cw, top + ch)).resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    fill = tuple(int(v) for v in np.asarray(out).reshape(-1, 3).mean(axis=0))
    out = out.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR, fillcolor=fill)
    out = ImageEnhance.Brightness(out).enhance(float(rng.uniform(0.75, 1.25)))
    return ImageEnhance.Contrast(out).enhance(float(rng.uniform(0.75, 1.25)))


# ================================================================ ① Take a pretrained model


def pretrained(name) -> tuple[CNN, list[Message]]:
    """The ImageNet CNN `name` from the shared loader (EfficientNet-Lite0 when its weights are missing)."""
    notes: list[Message] = []
    name, note = values.choice(name, BACKBONES, OFFLINE_CNN, TEXT.msg("backbone"))
    notes += [note] if note else []
    cnn, fallback = load_cnn(name)
    if fallback is not None:
        notes.append(TEXT.msg("fallback", name=name))
    return cnn, notes


def body_stages(cnn: CNN) -> list[tuple[str, torch.nn.Module]]:
    """The stages that may be frozen: everything before the old 1000-class output layer."""
    return stages(cnn.model)[:-1]


@dataclasses.dataclass
class Backbone:
    """A frozen channels-last copy of a loaded CNN's body, and the width of the features it ends with."""

    stages: list[torch.nn.Module]
    feature_dim: int  # what the new output layer reads (1280 for EfficientNet-Lite0)


def _module_bytes(backbone: Backbone) -> int:
    return sum(t.numel() * t.element_size() for m in backbone.stages for t in itertools.chain(m.parameters(), m.buffers()))


def _channels_last_copy(cnn: CNN) -> Backbone:
    # Convolutions in channels-last memory layout run about 1.8x faster on a CPU here, and the frozen
    # features are most of a run's time. The copy is never trained: sessions deep-copy what they train.
    fast = copy.deepcopy(cnn.model).to(memory_format=torch.channels_last).eval().requires_grad_(False)
    body = [module for _, module in stages(fast)[: len(body_stages(cnn))]]
    x = torch.zeros(1, 3, cnn.crop, cnn.crop, device=cnn.device, dtype=cnn.dtype)
    with torch.inference_mode():
        for module in body:
            x = module(x)
    return Backbone(body, int(x.flatten(1).shape[1]))


BACKBONE_COPIES = memory.Store("finetune_backbones", size=_module_bytes, max_entries=len(BACKBONES))


def backbone_of(cnn: CNN) -> Backbone:
    key = (cnn.name, str(cnn.device), str(cnn.dtype), cnn.real_weights)
    return BACKBONE_COPIES.get_or_compute(key, lambda: _channels_last_copy(cnn))


# ================================================================ ② Freeze layers


@dataclasses.dataclass
class FreezeSummary:
    """What freezing the first n_frozen stages leaves to train, in parameters."""

    backbone: str
    real_weights: bool
    n_stages: int
    n_frozen: int
    n_classes: int
    frozen_names: list[str]
    trainable_names: list[str]
    frozen: int
    trainable_body: int
    feature_dim: int

    @property
    def head(self) -> int:  # the new output layer: weights and biases
        return self.feature_dim * self.n_classes + self.n_classes

    @property
    def trainable(self) -> int:
        return self.trainable_body + self.head

    @property
    def total(self) -> int:
        return self.frozen + self.trainable


def n_params(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def frozen_count(cnn: CNN, value, notes: list[Message]) -> int:
    """How many stages to freeze: 0 (train everything) to all of the body (only the new layer learns)."""
    n_body = len(body_stages(cnn))
    used, note = values.clamp(n_body if value is None else value, 0, n_body, n_body, TEXT.msg("freeze_short"),
                              integer=True)
    notes += [note] if note else []
    return used


def freeze_summary(cnn: CNN, n_frozen: int, n_classes: int) -> FreezeSummary:
    body = body_stages(cnn)
    n_frozen = min(max(int(n_frozen), 0), len(body))
    return FreezeSummary(
        backbone=cnn.name, real_weights=cnn.real_weights, n_stages=len(body), n_frozen=n_frozen, n_classes=n_classes,
        frozen_names=[n for n, _ in body[:n_frozen]], trainable_names=[n for n, _ in body[n_frozen:]],
        frozen=n_params(m for _, m in body[:n_frozen]), trainable_body=n_params(m for _, m in body[n_frozen:]),
        feature_dim=backbone_of(cnn).feature_dim)


# ================================================================ ③ Add a new output layer

# Versions of stages: 0 = the shared pretrained one; a trained stage gets a number no other stage ever
# had (app-wide), so the frozen features of a session's own trained stages never collide with others'.
_stage_versions = itertools.count(1)


def _freeze_batchnorm(module: torch.nn.Module) -> None:
    """Keep BatchNorm statistics from ImageNet: small batches of a few classes would spoil them."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


class FineTuned(torch.nn.Module):
    """A pretrained CNN with its first `n_frozen` stages frozen, the rest trainable, and a new output layer.

    Frozen stages may be the shared channels-last copy's modules (never trained, only run under no_grad).
    Trainable stages are always this object's own deep copies, so two sessions never share weights.
    `previous`: a model of the same backbone and classes to continue from (its weights are the start).
    """

    def __init__(self, cnn: CNN, n_frozen: int, class_names: list[Name], previous: "FineTuned | None" = None):
        super().__init__()
        n_body = len(body_stages(cnn))
        n_frozen = min(max(int(n_frozen), 0), n_body)
        self.cnn, self.n_frozen, self.class_names = cnn, n_frozen, list(class_names)
        self.stage_names = [n for n, _ in body_stages(cnn)]
        continuing = previous is not None and previous.cnn.name == cnn.name and previous.class_names == self.class_names
        # Earlier training of this session is kept: a stage trained before stays as trained.
        parts = previous.parts_all() if continuing else list(backbone_of(cnn).stages)
        self.versions = list(previous.versions) if continuing else [0] * n_body
        # Frozen part: a plain list, so it is not registered (no gradients, not in state_dict).
        self._frozen_parts = parts[:n_frozen]
        for module in self._frozen_parts:
            module.requires_grad_(False)
        self.trainable = torch.nn.Sequential(*[copy.deepcopy(m) for m in parts[n_frozen:]])
        self.trainable.requires_grad_(True)
        if continuing:
            self.head = copy.deepcopy(previous.head)
        else:
            self.head = torch.nn.Linear(backbone_of(cnn).feature_dim, len(class_names))
            # The same starting layer every run (comparable curves), without touching torch's global
            # generator: U(-1/sqrt(in), 1/sqrt(in)), which is what torch's default init draws from.
            bound = 1 / math.sqrt(self.head.in_features)
            generator = torch.Generator().manual_seed(0)
            with torch.no_grad():
                torch.nn.init.uniform_(self.head.weight, -bound, bound, generator=generator)
                torch.nn.init.uniform_(self.head.bias, -bound, bound, generator=generator)
        self.head.requires_grad_(True)
        self.to(device=cnn.device, dtype=cnn.dtype)

    def parts_all(self) -> list[torch.nn.Module]:
        return list(self._frozen_parts) + list(self.trainable)

    def frozen_key(self) -> tuple:
        return (self.cnn.name, str(self.cnn.device), str(self.cnn.dtype), self.cnn.real_weights, self.n_frozen,
                tuple(self.versions[: self.n_frozen]))

    def shares_frozen_part(self) -> bool:
        """Whether the frozen stages are the pretrained ones (their features are the same for everyone)."""
        return not any(self.versions[: self.n_frozen])

    def mark_trained(self) -> None:
        """After a run: the trainable stages now differ from every other stage."""
        version = next(_stage_versions)
        for i in range(self.n_frozen, len(self.versions)):
            self.versions[i] = version

    @torch.no_grad()
    def frozen_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        for module in self._frozen_parts:
            module.eval()
            x = module(x)
        return x

    def forward_from_frozen(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(self.trainable(feats).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from_frozen(self.frozen_features(x))

    def trainable_state(self) -> dict:
        """A copy of everything this session trains (the best-epoch snapshot for early stopping)."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}

    def train_mode(self) -> None:
        self.train()
        _freeze_batchnorm(self.trainable)

    def to_tensor(self, img: Image.Image) -> torch.Tensor:
        return self.cnn.preprocess(img)


# ================================================================ ④ Train on the new data


@dataclasses.dataclass
class TrainConfig:
    epochs: int = LIMITS["epochs"][2]
    learning_rate: float = LIMITS["lr"][2]
    batch_size: int = LIMITS["batch"][2]
    augment: bool = False
    patience: int = LIMITS["patience"][2]
    min_delta: float = LIMITS["min_delta"][2]
    seed: int = 0


def train_config(epochs, learning_rate, batch_size, augment_on, patience, min_delta) -> tuple[TrainConfig, list[Message]]:
    """The hyper-parameters, each inside its LIMITS, and notes on what was changed."""
    notes: list[Message] = []
    cfg = TrainConfig(epochs=read_number("epochs", epochs, notes), learning_rate=read_number("lr", learning_rate, notes),
                      batch_size=read_number("batch", batch_size, notes), augment=bool(augment_on),
                      patience=read_number("patience", patience, notes), min_delta=read_number("min_delta", min_delta, notes))
    return cfg, notes


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
    n_train = len(prep.train_labels)
    for epoch in range(1, cfg.epochs + 1):
        epoch_start = time.perf_counter()
        model.train_mode()
        order = torch.randperm(n_train, generator=generator)
        view_of = torch.randint(0, len(prep.train_views), (n_train,), generator=generator)
        total, correct, interrupted = 0.0, 0, False
        for start in range(0, n_train, cfg.batch_size):
            if should_stop():
                interrupted, reason = True, "stopped"
                break
            if time.perf_counter() - started > max_seconds:
                interrupted, reason = True, "time"
                break
            idx = order[start:start + cfg.batch_size]
            x = torch.stack([prep.train_views[int(v)][int(i)] for i, v in zip(idx, view_of[idx])])
            y = prep.train_labels[idx]
            logits = (model.forward_from_frozen(x) if prep.cached else model(x)).float()
            loss = torch.nn.functional.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                interrupted, reason = True, "diverged"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        if interrupted:
            break
        if evaluate_fn is not None:
            val_loss, val_acc = evaluate_fn(model, epoch)
        else:
            val_loss, val_acc, _ = evaluate(model, prep.val, prep.val_labels, prep.cached)
        log = EpochLog(epoch, total / n_train, correct / n_train, float(val_loss), float(val_acc),
                       time.perf_counter() - epoch_start)
        history.append(log)
        stop = stopper.step(epoch, log.val_loss, model)
        yield log
        if stop:
            reason = "early_stop"
            break
    stopper.restore(model)
    val_loss, val_acc, preds = evaluate(model, prep.val, prep.val_labels, prep.cached)
    cm = confusion_matrix(prep.val_labels.cpu().numpy(), preds, len(model.class_names))
    yield RunResult(history=history, best_epoch=stopper.best_epoch, stopped_epoch=history[-1].epoch if history else 0,
                    reason=reason, best_val_loss=val_loss, best_val_acc=val_acc, confusion=cm,
                    seconds=time.perf_counter() - started, prepare_seconds=prep.seconds)


# ================================================================ ⑤ Evaluate, then unfreeze more and continue


def evaluate(model: FineTuned, inputs: torch.Tensor, labels: torch.Tensor, cached: bool,
             batch: int = 64) -> tuple[float, float, np.ndarray]:
    """(mean cross-entropy, accuracy, predictions) on already prepared inputs."""
    model.eval()
    total, correct, preds = 0.0, 0, []
    with torch.no_grad():
        for start in range(0, len(labels), batch):
            x = inputs[start:start + batch]
            y = labels[start:start + batch]
            logits = (model.forward_from_frozen(x) if cached else model(x)).float()
            total += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            pred = logits.argmax(1)
            correct += int((pred == y).sum())
            preds.append(pred.cpu().numpy())
    n = max(len(labels), 1)
    return total / n, correct / n, np.concatenate(preds) if preds else np.zeros(0, dtype=np.int64)


def confusion_matrix(labels: np.ndarray, preds: np.ndarray, n_classes: int) -> np.ndarray:
    """cm[true, predicted] = count."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels, dtype=np.int64), np.asarray(preds, dtype=np.int64)), 1)
    return cm


@torch.no_grad()
def predict(model: FineTuned, img: Image.Image) -> np.ndarray:
    """The fine-tuned model's probability of each of its classes for one picture."""
    model.eval()
    return torch.softmax(model(model.to_tensor(img)).float(), dim=1)[0].cpu().numpy()


@torch.no_grad()
def imagenet_top_k(cnn: CNN, img: Image.Image, k: int = 5) -> list[tuple[int, float]]:
    """What the pretrained model alone says about the picture: its k most likely ImageNet classes."""
    probs = torch.softmax(cnn.model(cnn.preprocess(img)).float(), dim=1)[0].cpu().numpy()
    return charts.top_k(probs, k)


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
    run = Run(number, continue_training, n_frozen, cfg.patience)
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
    n, _ = values.clamp(n_classes, MIN_CLASSES, MAX_CLASSES, LIMITS["n_classes"][2], TEXT.msg("n_classes"), integer=True)
    if class_names:
        n = len(class_names)
    return draw_shape(SHAPES[int(rng.integers(0, min(n, len(SHAPES))))], rng)
