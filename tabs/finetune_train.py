"""Fine-tuning, the compute part: a built-in shape data set, a train/validation split, a pretrained CNN
cut into a frozen part and a trainable part with a new output layer, cached features, and a training
loop with early stopping that reports every epoch.

No Gradio here: tabs/finetune.py wires these functions to the browser.

Why cached features: a frozen layer gives the same output for the same image every epoch, so its
output is computed once (per image and per augmented view) and only the trainable layers run in
the loop. With the whole backbone frozen that leaves a single linear layer: a run takes seconds on a CPU.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import threading
import time
import weakref
from typing import Callable, Iterator

import cv2
import numpy as np
import torch
from PIL import Image, ImageEnhance

from core.i18n import UserError
from core.zoo.cnn import CNN, stages

MIN_CLASSES, MAX_CLASSES = 2, 5
MAX_IMAGES_PER_CLASS = 100  # uploads + snapshots beyond this are left out (memory bound)
STORE_SIDE = 320  # images are kept at most this big; the network sees 224 crops of them
VAL_FRACTION = 0.25
SPLIT_SEED = 1234  # fixed: the same images always land in the same split
AUG_VIEWS = 2  # augmented copies per training image, when augmentation is on
CACHE_BUDGET_BYTES = 256 * 1024 * 1024  # cached frozen features per session; above it, compute on the fly
MAX_RUN_SECONDS = 180.0  # a run stops itself after this long (time bound per session)

# Built-in shapes: (key, Korean, English). Up to 5 classes.
SHAPES = [
    ("circle", "원", "circle"),
    ("square", "사각형", "square"),
    ("triangle", "삼각형", "triangle"),
    ("star", "별", "star"),
    ("cross", "십자", "cross"),
]

# Hyper-parameters: (low, high, default). The API accepts anything; train_config() clamps to these.
LIMITS = {
    "epochs": (1, 100, 30),
    "learning_rate": (1e-5, 1.0, 3e-3),
    "batch_size": (1, 256, 16),
    "patience": (1, 50, 4),
    "min_delta": (0.0, 1.0, 0.005),
    "per_class": (4, 100, 60),
}


# ---------------------------------------------------------------- built-in data set

def _polygon(n_points: int, radius: float, inner: float | None, angle: float) -> np.ndarray:
    """Vertices of a regular polygon (or a star when `inner` is given), centred on 0, rotated by angle."""
    pts = []
    count = n_points * 2 if inner is not None else n_points
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


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=3).astype(np.float64)


def draw_shape(kind: str, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """One HxWx3 uint8 picture of a shape: random colours, size, position, rotation, background and noise."""
    # Background: a random colour with a random linear gradient, sometimes a few faint clutter lines.
    base, other = _random_colour(rng), _random_colour(rng)
    direction = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    ramp = (np.cos(direction) * xx + np.sin(direction) * yy)
    ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-6) * rng.uniform(0.0, 0.6)
    canvas = base[None, None, :] * (1 - ramp[..., None]) + other[None, None, :] * ramp[..., None]
    canvas = np.ascontiguousarray(canvas.astype(np.uint8))
    for _ in range(int(rng.integers(0, 4))):
        p1 = tuple(int(v) for v in rng.integers(0, size, 2))
        p2 = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.line(canvas, p1, p2, tuple(float(v) for v in _random_colour(rng)), 1, cv2.LINE_AA)
    # Foreground colour: far enough from the background that the shape is visible.
    mean_bg = canvas.reshape(-1, 3).mean(axis=0)
    for _ in range(20):
        colour = _random_colour(rng)
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
    noise = rng.normal(0.0, rng.uniform(4, 18), size=canvas.shape)
    return np.clip(canvas.astype(np.float64) + noise, 0, 255).astype(np.uint8)


def builtin_images(n_classes: int, per_class: int, seed: int = 0) -> tuple[list[list[Image.Image]], list[tuple[str, str]]]:
    """The built-in shape set: images per class and the (Korean, English) class names."""
    rng = np.random.default_rng(seed)
    shapes = SHAPES[:n_classes]
    images = [[Image.fromarray(draw_shape(key, rng)) for _ in range(per_class)] for key, _, _ in shapes]
    return images, [(ko, en) for _, ko, en in shapes]


# ---------------------------------------------------------------- data set and split

@dataclasses.dataclass
class DataSet:
    """Images with labels and the fixed train/validation split."""

    class_names: list[str]
    images: list[Image.Image]
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    fingerprint: str  # identifies the pixels and the split, for the feature cache

    def counts(self) -> list[tuple[str, int, int]]:
        """(class, train count, validation count) per class."""
        return [(name, int((self.labels[self.train_idx] == k).sum()), int((self.labels[self.val_idx] == k).sum()))
                for k, name in enumerate(self.class_names)]


def split_indices(labels: np.ndarray, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
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


def make_dataset(per_class_images: list[list[Image.Image]], class_names: list[str]) -> DataSet:
    """Checks the classes (2 to 5, each with at least 2 images) and splits them. Raises UserError."""
    if len(per_class_images) < MIN_CLASSES:
        raise UserError(f"클래스가 {MIN_CLASSES}개 이상 있어야 구분하는 법을 배울 수 있습니다.",
                        f"At least {MIN_CLASSES} classes are needed to learn to tell them apart.")
    if len(per_class_images) > MAX_CLASSES:
        raise UserError(f"클래스는 최대 {MAX_CLASSES}개까지입니다.", f"At most {MAX_CLASSES} classes are allowed.")
    for name, imgs in zip(class_names, per_class_images):
        if len(imgs) == 0:
            raise UserError(f"클래스 '{name}' 에 이미지가 없습니다. 사진을 올리거나 웹캠으로 찍어 주세요.",
                            f"Class '{name}' has no images. Upload photos or take webcam snapshots.")
        if len(imgs) < 2:
            raise UserError(f"클래스 '{name}' 에 이미지가 1장뿐입니다. 학습용과 검증용으로 최소 2장이 필요합니다.",
                            f"Class '{name}' has only one image. At least 2 are needed: one to train, one to validate.")
    if len(set(class_names)) != len(class_names):
        raise UserError("클래스 이름이 겹칩니다. 서로 다른 이름을 붙여 주세요.", "Two classes have the same name. Please give them different names.")
    images = [img for imgs in per_class_images for img in imgs]
    labels = np.array([k for k, imgs in enumerate(per_class_images) for _ in imgs], dtype=np.int64)
    train_idx, val_idx = split_indices(labels)
    digest = hashlib.sha1()
    for name in class_names:
        digest.update(name.encode("utf-8") + b"\0")
    for img in images:
        digest.update(np.asarray(img).tobytes())
    return DataSet(list(class_names), images, labels, train_idx, val_idx, digest.hexdigest())


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


# ---------------------------------------------------------------- hyper-parameters

@dataclasses.dataclass
class TrainConfig:
    epochs: int = LIMITS["epochs"][2]
    learning_rate: float = LIMITS["learning_rate"][2]
    batch_size: int = LIMITS["batch_size"][2]
    augment: bool = False
    patience: int = LIMITS["patience"][2]
    min_delta: float = LIMITS["min_delta"][2]
    seed: int = 0


def clamp(label: str, value, low, high, default, notes: list[str], integer: bool = False):
    """A number inside [low, high]; NaN, inf, text or out-of-range values are fixed with a note."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number):
        notes.append(f"{label}: {value!r} → {default} (숫자가 아니어서 기본값 / not a number, default used)")
        return default
    fixed = min(max(number, low), high)
    if integer:
        fixed = int(round(fixed))
    if fixed != number:
        notes.append(f"{label}: {value!r} → {fixed} (허용 범위 {low}~{high} / allowed range {low} to {high})")
    return fixed


def clamp_number(name: str, value, notes: list[str], integer: bool = False):
    """A hyper-parameter inside its LIMITS."""
    low, high, default = LIMITS[name]
    return clamp(name, value, low, high, default, notes, integer)


def train_config(epochs, learning_rate, batch_size, augment_on, patience, min_delta, seed=0) -> tuple[TrainConfig, list[str]]:
    """Clamped hyper-parameters and the notes saying what was changed."""
    notes: list[str] = []
    cfg = TrainConfig(
        epochs=clamp_number("epochs", epochs, notes, integer=True),
        learning_rate=clamp_number("learning_rate", learning_rate, notes),
        batch_size=clamp_number("batch_size", batch_size, notes, integer=True),
        augment=bool(augment_on),
        patience=clamp_number("patience", patience, notes, integer=True),
        min_delta=clamp_number("min_delta", min_delta, notes),
        seed=int(seed) if isinstance(seed, (int, float)) and math.isfinite(seed) else 0,
    )
    return cfg, notes


# ---------------------------------------------------------------- the model: frozen part, trainable part, new head

def body_stages(cnn: CNN) -> list[tuple[str, torch.nn.Module]]:
    """The stages that may be frozen: everything before the old 1000-class output layer."""
    return stages(cnn.model)[:-1]


def n_params(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


_FEATURE_DIMS: dict[tuple[str, bool], int] = {}


def feature_dim(cnn: CNN) -> int:
    """Width of the pooled features that the new output layer reads (1280 for EfficientNet-Lite0)."""
    key = (cnn.name, cnn.real_weights)
    if key not in _FEATURE_DIMS:
        x = torch.zeros(1, 3, cnn.crop, cnn.crop, device=cnn.device, dtype=cnn.dtype)
        with torch.inference_mode():
            for _, module in body_stages(cnn):
                x = module(x)
        _FEATURE_DIMS[key] = int(x.flatten(1).shape[1])
    return _FEATURE_DIMS[key]


def parameter_summary(cnn: CNN, n_frozen: int, n_classes: int) -> dict:
    """What freezing the first n_frozen stages leaves to train, in parameters."""
    body = body_stages(cnn)
    n_frozen = min(max(int(n_frozen), 0), len(body))
    head = feature_dim(cnn) * n_classes + n_classes
    frozen = n_params(m for _, m in body[:n_frozen])
    trainable_body = n_params(m for _, m in body[n_frozen:])
    return {"frozen_names": [n for n, _ in body[:n_frozen]], "trainable_names": [n for n, _ in body[n_frozen:]],
            "frozen": frozen, "trainable_body": trainable_body, "head": head, "trainable": trainable_body + head,
            "total": frozen + trainable_body + head, "feature_dim": feature_dim(cnn)}


_FAST_COPIES: "weakref.WeakKeyDictionary[torch.nn.Module, torch.nn.Module]" = weakref.WeakKeyDictionary()
_FAST_LOCK = threading.Lock()


def channels_last_copy(model: torch.nn.Module) -> torch.nn.Module:
    """One frozen channels-last copy per loaded backbone (the loader's shared model stays as it is).

    Convolutions in channels-last memory layout run about 1.8x faster on a CPU here, and computing
    the frozen features is most of a run's time. The copy is never trained; sessions deep-copy the
    stages they train from it.
    """
    with _FAST_LOCK:
        fast = _FAST_COPIES.get(model)
        if fast is None:
            fast = copy.deepcopy(model).to(memory_format=torch.channels_last).eval().requires_grad_(False)
            _FAST_COPIES[model] = fast
        return fast


def _freeze_batchnorm(module: torch.nn.Module) -> None:
    """Keep BatchNorm statistics from ImageNet: small batches of a few classes would spoil them."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


class FineTuned(torch.nn.Module):
    """A pretrained CNN with its first `n_frozen` stages frozen, the rest trainable, and a new output layer.

    Frozen stages may be the loader's shared modules (never trained, only run under no_grad).
    Trainable stages are always this object's own deep copies, so two sessions never share weights.
    """

    def __init__(self, cnn: CNN, n_frozen: int, class_names: list[str], previous: "FineTuned | None" = None):
        super().__init__()
        body = body_stages(cnn)
        n_frozen = min(max(int(n_frozen), 0), len(body))
        self.cnn_name, self.n_frozen, self.class_names = cnn.name, n_frozen, list(class_names)
        self.crop, self.resize, self.mean, self.std = cnn.crop, cnn.resize, cnn.mean, cnn.std
        self._cnn = cnn
        continuing = previous is not None and previous.cnn_name == cnn.name and previous.class_names == list(class_names)
        # Earlier training of this session is kept: a stage trained before stays as trained.
        fast_body = stages(channels_last_copy(cnn.model))[: len(body)]
        parts = list(previous.parts_all()) if continuing else [m for _, m in fast_body]
        owned = list(previous.owned) if continuing else [False] * len(body)
        self.stage_names = [n for n, _ in body]
        # Frozen part: held in a plain list so that it is not registered (no gradients, not in state_dict).
        self._frozen_parts = parts[:n_frozen]
        for module, own in zip(self._frozen_parts, owned[:n_frozen]):
            if own:  # a stage this session trained earlier, now frozen again
                module.requires_grad_(False)
        self.trainable = torch.nn.Sequential(*[copy.deepcopy(m) for m in parts[n_frozen:]])
        self.trainable.requires_grad_(True)
        self.owned = owned[:n_frozen] + [True] * (len(body) - n_frozen)
        # Versions of the frozen stages (0 = the shared pretrained one) make the feature-cache key.
        prev_versions = list(previous.versions) if continuing else [0] * len(body)
        self.versions = prev_versions
        if continuing:
            self.head = copy.deepcopy(previous.head)
        else:
            torch.manual_seed(0)
            self.head = torch.nn.Linear(feature_dim(cnn), len(class_names))
        self.head.requires_grad_(True)
        self.to(device=cnn.device, dtype=cnn.dtype)

    def parts_all(self) -> list[torch.nn.Module]:
        return list(self._frozen_parts) + list(self.trainable)

    def frozen_key(self) -> tuple:
        return (self.cnn_name, self.n_frozen, tuple(self.versions[: self.n_frozen]))

    def mark_trained(self, version: int) -> None:
        """After a run: the trainable stages now differ from the pretrained ones."""
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
        return self._cnn.preprocess(img)

    @torch.no_grad()
    def predict(self, img: Image.Image) -> dict[str, float]:
        """Class probabilities for one image."""
        self.eval()
        probs = torch.softmax(self(self.to_tensor(img)).float(), dim=1)[0]
        return {name: float(p) for name, p in zip(self.class_names, probs)}


# ---------------------------------------------------------------- features (computed once)

@dataclasses.dataclass
class Prepared:
    """What the training loop reads: per image a list of views (view 0 = the original)."""

    key: tuple
    train_views: list[torch.Tensor]  # one tensor per view: N_train x ... (frozen features, or input pixels)
    val: torch.Tensor
    train_labels: torch.Tensor
    val_labels: torch.Tensor
    cached: bool  # True: frozen features; False: input tensors, frozen part runs every batch
    seconds: float


def _batched(model: FineTuned, tensors: list[torch.Tensor], to_features: bool, should_stop, batch: int = 32) -> torch.Tensor:
    out = []
    for start in range(0, len(tensors), batch):
        if should_stop():
            raise StopRequested
        x = torch.cat(tensors[start:start + batch])
        out.append(model.frozen_features(x) if to_features else x)
    return torch.cat(out)


class StopRequested(Exception):
    pass


def estimate_cache_bytes(model: FineTuned, n_items: int) -> int:
    x = torch.zeros(1, 3, model.crop, model.crop, device=next(model.head.parameters()).device,
                    dtype=next(model.head.parameters()).dtype)
    return int(model.frozen_features(x).numel()) * x.element_size() * n_items


def prepare(model: FineTuned, data: DataSet, cfg: TrainConfig, should_stop: Callable[[], bool] = lambda: False,
            cache: bool | None = None) -> Prepared:
    """Pixels -> tensors -> (when they fit the memory budget) frozen features, for every view, once.

    cache=None decides by the memory budget; False keeps input tensors (the frozen part runs every batch).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(cfg.seed + 99)
    n_views = 1 + (AUG_VIEWS if cfg.augment else 0)
    n_items = len(data.train_idx) * n_views + len(data.val_idx)
    cached = estimate_cache_bytes(model, n_items) <= CACHE_BUDGET_BYTES if cache is None else cache
    train_imgs = [data.images[i] for i in data.train_idx]
    views = []
    for v in range(n_views):
        imgs = train_imgs if v == 0 else [augment(img, rng) for img in train_imgs]
        views.append(_batched(model, [model.to_tensor(img) for img in imgs], cached, should_stop))
    val = _batched(model, [model.to_tensor(data.images[i]) for i in data.val_idx], cached, should_stop)
    device = val.device
    return Prepared(key=(data.fingerprint, cfg.augment, cfg.seed) + model.frozen_key(), train_views=views, val=val,
                    train_labels=torch.as_tensor(data.labels[data.train_idx], device=device),
                    val_labels=torch.as_tensor(data.labels[data.val_idx], device=device),
                    cached=cached, seconds=time.perf_counter() - started)


# ---------------------------------------------------------------- early stopping and the loop

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

    def step(self, epoch: int, val_loss: float, model: torch.nn.Module | None = None) -> bool:
        """Record one epoch; True when training should stop now."""
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.wait = float(val_loss), epoch, 0
            if model is not None:
                self.best_state = model.trainable_state() if hasattr(model, "trainable_state") else copy.deepcopy(model.state_dict())
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
    reason: str  # "early_stop", "epochs", "stopped", "time"
    best_val_loss: float
    best_val_acc: float
    confusion: np.ndarray
    seconds: float
    prepare_seconds: float


def evaluate(model: FineTuned, inputs: torch.Tensor, labels: torch.Tensor, cached: bool, batch: int = 64) -> tuple[float, float, np.ndarray]:
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


def train(model: FineTuned, prep: Prepared, cfg: TrainConfig, should_stop: Callable[[], bool] = lambda: False,
          max_seconds: float = MAX_RUN_SECONDS, evaluate_fn: Callable | None = None) -> Iterator[EpochLog | RunResult]:
    """Train the trainable part and the new head; yields an EpochLog per epoch, then the RunResult.

    evaluate_fn(model, epoch) -> (val_loss, val_acc) replaces the validation pass (tests script it).
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.learning_rate)
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
