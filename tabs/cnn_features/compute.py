"""CNN feature maps: what each layer of a real ImageNet CNN responds to, Grad-CAM, and the classic CNNs compared.

The lesson, in order:
  1. a photo is resized and centre-cropped to the network's input (224x224) and normalised;
  2. one forward pass through the CNN; a forward hook keeps the output of the chosen layer: its C
     feature maps of HxW (early layers: large maps of simple patterns; late layers: small maps, many channels);
  3. the maps with the largest mean response are the ones shown;
  4. the last layer's 1000 scores become probabilities (softmax): the top-5;
  5. Grad-CAM (Selvaraju et al. 2017) at the last layer that still has a spatial map: the gradient of one
     class score with respect to that layer's maps, averaged over each map, weighs the map; the ReLU of
     the weighted sum shows where the evidence for the class lies;
  6. beside it: every layer's output size and parameters (the model's complexity), and the classic CNNs
     (AlexNet, VGG16, ResNet, GoogLeNet, EfficientNet, MobileNet) measured on this machine.

Steps 1, 2, 4 and 5 (the model, its layers, one batched forward and backward with hooks) are shared with the
ViT lesson, which shows the same Grad-CAM beside its attention: `core.cnn_analysis`.

No Gradio, no language: notes are `Message`s, bad input raises `TEXT.problem(...)`.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import torch

from core import memory, models, values
# Also read by this lesson's tab and view (the model's names, its facts and its layers' shapes).
from core.cnn_analysis import (N_CLASSES, Analysis, ModelFacts, analyse_photo, check_class, display_name, facts,
                               load, model_names, no_layer, shape_text, starting_model)
from core.images import load_image
from core.text import Message
from core.zoo import cnn as zoo
from tabs.cnn_features.text import TEXT

N_CHOICES = (8, 16, 32, 64)  # feature maps to show (the picker's choices; the API may ask for any number up to 64)
SCALES = ("each", "shared")  # each map on its own colour range, or all maps on one
RANKS = (1, 2, 3, 4, 5)  # the class picker's "k-th guess" entries, sent as -1..-5

# The numbers and choices a student sets in this tab, declared once. The model, its layer and Grad-CAM's class
# depend on the model loaded: they are checked when a request arrives.
SETTINGS = values.settings(
    values.Setting("n_maps", TEXT.msg("n_maps_label"), default=16, low=1, high=max(N_CHOICES), integer=True),
    values.Setting("scale", TEXT.msg("scale_label"), default=SCALES[0], choices=SCALES),
)
N_DEFAULT = SETTINGS["n_maps"].default


# ---------------------------------------------------------------- reading the controls


def read_class(cam_class) -> tuple[int | None, int]:
    """(class index or None, guess rank) from the class picker: -k is the network's k-th guess, 0..999 a class."""
    if cam_class is None or cam_class == "":
        return None, 1
    try:
        value = float(cam_class)
    except (TypeError, ValueError, OverflowError):
        value = float("nan")
    if value in [-r for r in RANKS]:
        return None, int(-value)
    return check_class(cam_class), 1


@dataclasses.dataclass
class Controls:
    layer: str  # the stage whose maps are shown
    n_maps: int
    shared_scale: bool
    class_index: int | None  # Grad-CAM's class, or None: the network's `rank`-th guess
    rank: int
    notes: list[Message]


def read_controls(cnn: zoo.CNN, fallback_used: bool, layer, n_maps, scale, cam_class) -> Controls:
    """The controls as the lesson uses them: numbers clamped (with a note), names checked."""
    notes: list[Message] = []
    model_facts = facts(cnn)
    if layer in (None, ""):
        layer = model_facts.default_layer
    elif layer not in model_facts.stages:
        if not fallback_used:
            raise no_layer(cnn, layer)
        # The requested model is missing and the fallback names its layers differently: show its suggested one.
        notes.append(TEXT.msg("other_layer", model=display_name(cnn.name), asked=layer, layer=model_facts.default_layer))
        layer = model_facts.default_layer
    n = SETTINGS["n_maps"].take(n_maps, notes)
    scale = SETTINGS["scale"].take(scale, notes)
    class_index, rank = read_class(cam_class)
    return Controls(layer, n, scale == "shared", class_index, rank, notes)


# ---------------------------------------------------------------- which maps to show


def most_active(activation: np.ndarray, n: int) -> list[int]:
    """The `n` channels with the largest mean activation, strongest first."""
    means = activation.reshape(activation.shape[0], -1).mean(axis=1)
    means = np.nan_to_num(means, nan=-np.inf)
    order = np.argsort(-means, kind="stable")
    return [int(c) for c in order[:max(1, n)]]


# ---------------------------------------------------------------- the lesson: one photo, all the steps


@dataclasses.dataclass
class Lesson:
    cnn_name: str
    facts: ModelFacts
    real_weights: bool
    source: str
    notes: list[Message]  # fallback model, clamped controls
    layer: str
    cam_layer: str
    analysis: Analysis
    channels: list[int]  # the most active maps, strongest first
    shared_scale: bool


def run(image, model_name, layer, n_maps, scale, cam_class) -> Lesson:
    """Everything the tab shows for one photo and one setting of the controls."""
    photo = load_image(image)
    cnn, fallback = load(model_name)
    controls = read_controls(cnn, fallback is not None, layer, n_maps, scale, cam_class)
    cam_layer = facts(cnn).cam_layer
    analysis = analyse_photo(cnn, photo, capture=controls.layer, cam_at=cam_layer,
                             class_index=controls.class_index, rank=controls.rank)
    channels = most_active(analysis.activation, min(controls.n_maps, analysis.activation.shape[0]))
    notes = ([fallback] if fallback else []) + controls.notes
    return Lesson(cnn.name, facts(cnn), cnn.real_weights, cnn.source, notes, controls.layer, cam_layer, analysis, channels,
                  controls.shared_scale)


def check_channel(activation: np.ndarray, channel) -> int:
    """A channel number of the captured layer; a Problem for anything else."""
    try:
        number = float(channel)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not math.isfinite(number) or number != int(number):
        raise TEXT.problem("channel_whole", got=channel)
    if not 0 <= int(number) < activation.shape[0]:
        raise TEXT.problem("channel_range", last=activation.shape[0] - 1, got=channel)
    return int(number)


# ---------------------------------------------------------------- compare the classic CNNs

HEAVY_CNNS = ("vgg16", "alexnet", "resnet50")  # fewer timing runs: VGG16 alone is ~15 GFLOPs per image


def measure_cnn(name: str, device: torch.device, runs: int | None = None) -> dict:
    """Parameters, FLOPs at 224x224 (counted) and median batch-1 latency of the real architecture, random init."""
    from torch.utils.flop_counter import FlopCounterMode

    model = zoo.build_architecture(name).eval().to(device)
    x = torch.randn(1, 3, 224, 224, device=device)
    params = sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:  # the counted pass doubles as the first warm-up
            model(x)
        flops = counter.get_total_flops()
        model(x)
        samples = []
        for _ in range(runs or (3 if name in HEAVY_CNNS else 5)):
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()
            samples.append((time.perf_counter() - started) * 1000)
    del model
    return {"name": name, "device": str(device), "params": params, "gflops": flops / 1e9,
            "latency_ms": float(np.median(samples)), "top1": zoo.published_top1(name)}


MEASURED = memory.Store("cnn_features.measured", size=memory.nbytes, max_entries=64)
# The measurements are the class's, shared: a student's "measure again" throws them away at most once per
# AGAIN_EVERY_S (other clicks reuse them); the teacher may always (`forget_measurements`).
AGAIN_EVERY_S = 10 * 60
_again = {"last": None}
_again_lock = threading.Lock()


def forget_measurements() -> int:
    """Throw away the class's shared measurements (the teacher's "measure again"); how many there were."""
    with _again_lock:
        count = len(MEASURED)
        MEASURED.clear()
        _again["last"] = time.monotonic()
        return count


def may_measure_again(now: float | None = None) -> bool:
    """Whether a student's "measure again" may throw the shared measurements away now (once per AGAIN_EVERY_S)."""
    now = time.monotonic() if now is None else now
    with _again_lock:
        if _again["last"] is not None and now - _again["last"] < AGAIN_EVERY_S:
            return False
        _again["last"] = now
        return True


def again_in_seconds() -> float:
    """How long until a student's "measure again" is allowed again (0: now)."""
    with _again_lock:
        last = _again["last"]
    return 0.0 if last is None else max(0.0, AGAIN_EVERY_S - (time.monotonic() - last))


def compare_cnns(devices: list[torch.device] | None = None, again: bool = False, names: list[str] | None = None):
    """Measure every classic CNN on every device (kept, unless `again` and `may_measure_again()`); yields
    (done, total, results so far)."""
    devices = devices or models.available_devices()
    names = names or model_names()
    jobs = [(name, device) for device in devices for name in names]
    again = bool(again) and may_measure_again()
    results = []
    for i, (name, device) in enumerate(jobs):
        key = (name, str(device))
        if again:
            MEASURED.pop(key)
        results.append(MEASURED.get_or_compute(key, lambda: measure_cnn(name, device)))
        yield i + 1, len(jobs), list(results)
