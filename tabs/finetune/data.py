"""Ready: the data. A built-in set of shapes (or the student's photos), split once into training and
validation images, and the augmented variants of a training picture."""
from __future__ import annotations

import dataclasses
import hashlib
import math

import cv2
import numpy as np
from PIL import Image
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as transforms

from core import memory
from core.images import load_image
from core.text import Message, Problem
from tabs.finetune.settings import MAX_CLASSES, MIN_CLASSES, SETTINGS
from tabs.finetune.text import TEXT

MAX_IMAGES_PER_CLASS = 100  # uploads + snapshots beyond this are left out (memory bound)
STORE_SIDE = 320  # photos are kept at most this big; the network sees 224 crops of them
VAL_FRACTION = 0.25
SPLIT_SEED = 1234  # fixed: the same images always land in the same split
SHAPES = ("circle", "square", "triangle", "star", "cross")  # the built-in classes, up to MAX_CLASSES

Name = str | Message  # a class name: typed by the student, or one of ours (said in the page's language)


# ---------------------------------------------------------------- the built-in shapes


def draw_shape(kind: str, rng: np.random.Generator, size: int = 224) -> np.ndarray:
    """One HxWx3 uint8 picture of a shape: random colours, size, position, rotation, background and noise."""
    canvas = _background(rng, size)
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
        pts = (_outline(kind, radius, angle) + np.array([cx, cy])).round().astype(np.int32)
        cv2.fillPoly(canvas, [pts], colour_t, cv2.LINE_AA)
    noise = rng.standard_normal(size=canvas.shape, dtype=np.float32) * np.float32(rng.uniform(4, 18))
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random colour with a random linear gradient, sometimes a few faint clutter lines."""
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
    return canvas


def _outline(kind: str, radius: float, angle: float) -> np.ndarray:
    """The corners of a shape other than the circle, centred on 0."""
    if kind == "square":
        return _polygon(4, radius, None, angle)
    if kind == "triangle":
        return _polygon(3, radius, None, angle)
    if kind == "star":
        return _polygon(5, radius, 0.45, angle)
    if kind == "cross":
        return _cross(radius, angle)
    raise ValueError(f"unknown shape {kind!r}")


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


# ---------------------------------------------------------------- a data set and its split


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


# ---------------------------------------------------------------- what a request describes


def read_data(source, n_classes, per_class, seed, names, files, snapshots) -> tuple[DataSet, list[Message]]:
    """The data set a request describes, and notes on what was changed or left out.

    source "builtin": n_classes shapes, per_class pictures each, drawn from `seed`.
    source "mine": per class k, the name names[k], the uploaded files files[k] and the webcam
    snapshots snapshots[k] (arrays), for the first n_classes classes.
    """
    notes: list[Message] = []
    source = SETTINGS["source"].take(source, notes)
    n = SETTINGS["n_classes"].take(n_classes, notes)
    if source == "builtin":
        per = SETTINGS["per_class"].take(per_class, notes)
        return builtin_dataset(n, per, SETTINGS["seed"].take(seed, notes)), notes
    names, files, snapshots = list(names or []), list(files or []), list(snapshots or [])
    per_class_images, class_names = [], []
    for k in range(n):
        typed = str(_of_class(names, k) or "").strip()[:40]
        name: Name = typed or TEXT.msg("class_default", n=k + 1)
        per_class_images.append(_photos(name, _of_class(files, k) or (), _of_class(snapshots, k) or (), notes))
        class_names.append(name)
    return make_dataset(per_class_images, class_names), notes


def _of_class(per_class: list, k: int):
    """What the request gave for class k (None when it gave less)."""
    return per_class[k] if k < len(per_class) else None


def _photos(name: Name, files, snapshots, notes: list[Message]) -> list[Image.Image]:
    """One class's uploaded files and webcam snapshots, at most MAX_IMAGES_PER_CLASS of them."""
    images = []
    for item in files:
        try:
            images.append(load_image(item, max_side=STORE_SIDE))
        except Problem as problem:  # say which class the bad file was given for
            raise TEXT.problem("class_bad_file", name=name, reason=problem.message) from None
    images += [load_image(shot, max_side=STORE_SIDE) for shot in snapshots]
    if len(images) > MAX_IMAGES_PER_CLASS:
        notes.append(TEXT.msg("too_many_images", name=name, got=len(images), kept=MAX_IMAGES_PER_CLASS))
        images = images[:MAX_IMAGES_PER_CLASS]
    return images


def add_snapshot(snapshots, image, class_index) -> tuple:
    """Snapshots (one tuple of pictures per class) with `image` added to class `class_index`."""
    shots = [tuple(s) for s in (snapshots or ())] + [()] * MAX_CLASSES
    shots = shots[:MAX_CLASSES]
    k = SETTINGS["snap_class"].take(class_index, [])
    if len(shots[k]) >= MAX_IMAGES_PER_CLASS:
        raise TEXT.problem("too_many_snapshots", limit=MAX_IMAGES_PER_CLASS)
    shots[k] = shots[k] + (np.asarray(load_image(image, max_side=STORE_SIDE)),)
    return tuple(shots)


# ---------------------------------------------------------------- augmented views of a training picture


def augment(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random variant of a photo: crop and zoom, mirror, small rotation, brightness and contrast.

    torchvision's v2 operations, with their parameters drawn from `rng`: v2's Random* transforms draw
    from torch's one process-wide generator, which other sessions' threads share, so a seed would not
    give the same views (and the shared frozen features are keyed by that seed)."""
    w, h = img.size
    scale = rng.uniform(0.7, 1.0)  # of the area, keeping the aspect ratio (RandomResizedCrop's scale)
    cw, ch = max(8, int(w * math.sqrt(scale))), max(8, int(h * math.sqrt(scale)))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    out = transforms.resized_crop(img, top, left, ch, cw, [h, w], interpolation=InterpolationMode.BILINEAR)
    if rng.random() < 0.5:
        out = transforms.horizontal_flip(out)
    fill = [int(v) for v in np.asarray(out).reshape(-1, 3).mean(axis=0)]  # the corners a rotation uncovers
    out = transforms.rotate(out, float(rng.uniform(-20, 20)), interpolation=InterpolationMode.BILINEAR, fill=fill)
    out = transforms.adjust_brightness(out, float(rng.uniform(0.75, 1.25)))
    return transforms.adjust_contrast(out, float(rng.uniform(0.75, 1.25)))
