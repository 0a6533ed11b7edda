"""One real ImageNet CNN looked into: its stages, the maps a layer makes, its guesses, and Grad-CAM.

Two lessons look into the same CNNs: the feature-map lesson (every step, every layer) and the ViT lesson
(the CNN's Grad-CAM beside the ViT's attention, local features against global relations). What both need:
- the CNN by name through the shared loader (`core.zoo.cnn.load_cnn`: the offline EfficientNet-Lite0 and
  a note when the weights are missing);
- the facts of a network, found once per model with one forward on zeros: its stages, every layer's output
  shape, a suggested layer to show and the layer where Grad-CAM looks;
- one forward pass (and for Grad-CAM one backward) that keeps a layer's feature maps, the class
  probabilities and Grad-CAM (Selvaraju et al. 2017): the gradient of one class score with respect to a
  layer's maps, averaged over each map, weighs the map; the ReLU of the weighted sum shows where the
  evidence for the class lies.

Grad-CAM is written here with PyTorch hooks rather than a package (pytorch-grad-cam): it runs in the same
forward pass that captures the feature maps and the top-5, and works on every network of the lessons
(torchvision and timm) through the same stage names the layer picker shows.

Many students, one model: distinct photos that arrive together run as one batch (`core.batching`), one
forward and one backward for all of them (`analyse_batch` explains why the gradients stay each photo's own).

No Gradio, no language: bad input raises `Problem`s, said by the event layer in the page's language.
"""
from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import torch
from PIL import Image

from core import batching, charts, draw, memory, models, text
from core.images import load_image
from core.zoo import cnn as zoo
from core.zoo.cnn import CNN

TEXT = text.table("cnn_analysis", {
    "unknown_cnn": ("알 수 없는 CNN 입니다: {name}. 목록에서 골라 주세요.",
                    "Unknown CNN: {name}. Please pick one from the list."),
    "no_layer": ("{model} 에는 '{layer}' 층이 없습니다. 층 목록에서 골라 주세요.",
                 "{model} has no layer '{layer}'. Please pick one from the layer list."),
    "no_maps_for_cam": ("'{layer}' 층은 2차원 특징 맵을 내지 않아 Grad-CAM 을 그릴 수 없습니다.",
                        "Layer '{layer}' has no 2-D feature maps, so Grad-CAM cannot be drawn there."),
    "bad_class": ("클래스 번호는 0부터 {last} 사이의 정수여야 합니다 (받은 값: {got}).",
                  "The class index must be a whole number from 0 to {last} (got {got})."),
    "bad_rank": ("예측 순위는 1부터 {last} 사이입니다 (받은 값: {got}).",
                 "The guess rank is from 1 to {last} (got {got})."),
})

N_CLASSES = 1000

DISPLAY_NAMES = {"resnet18": "ResNet18", "resnet50": "ResNet50", "alexnet": "AlexNet", "vgg16": "VGG16",
                 "googlenet": "GoogLeNet", "efficientnet_b0": "EfficientNet-B0",
                 "mobilenet_v3_large": "MobileNetV3-L", "efficientnet_lite0": "EfficientNet-Lite0"}


def display_name(name: str) -> str:
    return DISPLAY_NAMES.get(name, name)




# ---------------------------------------------------------------- the model


def model_names() -> list[str]:
    return zoo.cnn_names()


def starting_model() -> str:
    """ResNet18 when its weights are here (or in the test zoo), otherwise the offline EfficientNet-Lite0."""
    return zoo.DEFAULT_CNN if models.source(zoo.DEFAULT_CNN) != "download" else zoo.OFFLINE_CNN


def load(name: str | None) -> tuple[CNN, text.Message | None]:
    """The CNN `name` (the starting model when None) through the shared loader; when its weights are missing,
    the offline EfficientNet-Lite0 (its real ImageNet weights come with a pip package) and a note saying so."""
    name = name or starting_model()
    if name not in model_names():
        raise TEXT.problem("unknown_cnn", name=repr(name))
    return zoo.load_cnn(name)


# ---------------------------------------------------------------- its layers (found once per model)


def first_tensor(output):
    """A module's output as one tensor (some return tuples), or None."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


def table_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The layers of the layer table: leaf modules, and containers holding parameters of their own
    (timm's BatchNormAct2d is a batch norm with its activation inside), in definition order."""
    return [(name, module) for name, module in model.named_modules()
            if name and not isinstance(module, torch.nn.Identity)  # placeholders that compute nothing
            and (not list(module.children()) or any(True for _ in module.parameters(recurse=False)))]


def kernel_stride(module: torch.nn.Module) -> str:
    """'3x3 / 1x1' for convolutions and pools, '' for the rest."""
    kernel = getattr(module, "kernel_size", None)
    if kernel is None:
        return ""
    stride = getattr(module, "stride", None)

    def pair(v):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        return f"{v[0]}x{v[1]}"

    return f"{pair(kernel)} / {pair(stride if stride is not None else 1)}"


def shape_text(shape: tuple[int, ...]) -> str:
    """(C, H, W) -> 'HxWxC' as the notes write it; (C,) -> 'C'."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """What the lesson needs to know about a network, found once per model with one forward on zeros."""

    stages: tuple[str, ...]  # pickable stages, forward order (conv1, layer1, ..., avgpool, fc)
    shapes: dict  # module name -> output shape without the batch, e.g. (64, 56, 56)
    default_layer: str  # a middle stage whose maps still show shapes
    cam_layer: str  # the last stage with a spatial map: where Grad-CAM looks
    table: tuple  # (name, type, kernel / stride, output 'HxWxC', parameters) per layer, forward order
    total_params: int


def _output_shapes(cnn: CNN) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every stage and every table layer, from one forward on zeros."""
    shapes: dict[str, tuple[int, ...]] = {}
    owner = threading.get_ident()  # other requests' forward passes through the same model are not ours
    handles = []
    for name, module in list(zoo.stages(cnn.model)) + table_modules(cnn.model):
        def hook(_module, _inputs, output, name=name):
            tensor = first_tensor(output)
            if tensor is not None and threading.get_ident() == owner:
                shapes[name] = tuple(tensor.shape[1:])
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            cnn.model(torch.zeros(1, 3, cnn.crop, cnn.crop, device=cnn.device, dtype=cnn.dtype))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def _find_facts(cnn: CNN) -> ModelFacts:
    shapes = _output_shapes(cnn)
    stages = [(name, module) for name, module in zoo.stages(cnn.model) if name in shapes]
    spatial = [(name, module) for name, module in stages if len(shapes[name]) == 3]
    # Default: the first stage at 1/8 of the input or smaller (28x28 at 224): edges are gone, parts show.
    default = next((name for name, _ in spatial if shapes[name][1] <= cnn.crop // 8), stages[0][0])
    # Grad-CAM: the last stage with a real map (ResNet's layer4, 7x7); global pools (1x1) do not count.
    cam = [name for name, module in spatial if shapes[name][1] > 1 and "pool" not in name
           and not isinstance(module, (torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool2d))]
    if not cam:
        raise RuntimeError(f"{cnn.name}: no stage with a spatial output")
    table = []
    for name, module in table_modules(cnn.model):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        shape = shapes.get(name)
        if shape is None and params == 0:
            continue  # a layer the forward pass does not use
        table.append((name, type(module).__name__, kernel_stride(module), shape_text(shape) if shape else "", params))
    return ModelFacts(tuple(name for name, _ in stages), shapes, default, cam[-1], tuple(table),
                      sum(p.numel() for p in cnn.model.parameters()))


FACTS = memory.Store("cnn_features.model_facts", size=memory.nbytes, max_entries=64)


def facts(cnn: CNN) -> ModelFacts:
    """The model's `ModelFacts`, found once per architecture (test zoo and real weights share a shape)."""
    return FACTS.get_or_compute((cnn.name, cnn.source, cnn.crop), lambda: _find_facts(cnn))


def resolve_layer(cnn: CNN, layer: str) -> torch.nn.Module:
    """A stage name (or any dotted module name) -> the module; a Problem when the model has none."""
    for name, module in zoo.stages(cnn.model):
        if name == layer:
            return module
    try:
        if layer:
            return cnn.model.get_submodule(layer)
    except AttributeError:
        pass
    raise no_layer(cnn, layer)


def no_layer(cnn: CNN, layer: str) -> text.Problem:
    return TEXT.problem("no_layer", model=display_name(cnn.name), layer=layer)


def check_class(class_index) -> int | None:
    """A class index 0..999 as an int (None stays None); a Problem for anything else."""
    if class_index is None:
        return None
    try:
        value = float(class_index)
    except (TypeError, ValueError, OverflowError):
        value = float("nan")
    if not math.isfinite(value) or value != int(value) or not 0 <= int(value) < N_CLASSES:
        raise TEXT.problem("bad_class", last=N_CLASSES - 1, got=class_index)
    return int(value)


# ---------------------------------------------------------------- one forward (+ backward) for a batch of photos


@dataclasses.dataclass
class Request:
    """One photo's wish: everything but the photo is shared by its batch (the batcher's key)."""

    cnn: CNN
    crop: np.ndarray  # HxWx3 uint8: the centre crop the network sees
    tensor: torch.Tensor  # 1x3xHxW, the crop normalised, on the model's device
    capture: str | None  # the layer whose maps to keep
    cam_at: str | None  # the layer of Grad-CAM
    class_index: int | None
    rank: int


@dataclasses.dataclass
class Analysis:
    crop: np.ndarray  # HxWx3 uint8: what the network saw
    probs: np.ndarray  # (1000,) softmax
    activation: np.ndarray | None  # (C, H, W) float32 of the captured layer
    cam: np.ndarray | None  # (crop, crop) float32 in 0..1
    class_index: int  # the class Grad-CAM explains


def _hooks(cnn: CNN, capture: str | None, cam_at: str | None, saved: dict) -> list:
    """Forward hooks that keep the captured layer's output and start Grad-CAM's graph at `cam_at`.

    The model is shared by every request and hooks fire for any thread's forward pass, so each hook acts
    only for the thread that registered it (PyTorch calls module hooks in the caller's thread).
    """
    owner = threading.get_ident()
    handles = []
    if capture is not None:
        def keep(_module, _inputs, output):
            tensor = first_tensor(output)
            if threading.get_ident() == owner and tensor is not None:
                saved["capture"] = tensor.detach().float().clone()
        handles.append(resolve_layer(cnn, capture).register_forward_hook(keep))
    if cam_at is not None:
        def start_graph(_module, _inputs, output):
            tensor = first_tensor(output)
            if threading.get_ident() != owner or tensor is None or tensor.dim() != 4:
                return None
            # The graph starts here: parameters are frozen and the input needs no gradient, so the backward
            # pass runs only from the class scores down to this layer (cheap for late layers).
            leaf = tensor.detach().requires_grad_(True)
            saved["cam_maps"] = leaf
            # Downstream gets a copy, so an in-place ReLU after this layer cannot overwrite the maps we keep.
            copy = leaf.clone()
            if isinstance(output, torch.Tensor):
                return copy
            return type(output)([copy, *output[1:]]) if isinstance(output, (tuple, list)) else output
        handles.append(resolve_layer(cnn, cam_at).register_forward_hook(start_graph))
    return handles


def analyse_batch(requests: list[Request]) -> list[Analysis]:
    """One forward (and, for Grad-CAM, one backward) for photos that share a model and layers."""
    first = requests[0]
    cnn, capture, cam_at = first.cnn, first.capture, first.cam_at
    saved: dict[str, torch.Tensor] = {}
    handles = _hooks(cnn, capture, cam_at, saved)
    try:
        with torch.enable_grad() if cam_at is not None else torch.no_grad():
            logits = first_tensor(cnn.model(torch.cat([r.tensor for r in requests])))
            probs = torch.softmax(logits.detach().float(), dim=1).cpu().numpy()
            # The class each photo's Grad-CAM explains: a chosen class, or the network's rank-th guess
            # (ranked as the top-5 chart ranks them).
            chosen = [r.class_index if r.class_index is not None else charts.top_k(p, r.rank)[r.rank - 1][0]
                      for r, p in zip(requests, probs)]
            cams = None
            if cam_at is not None:
                if "cam_maps" not in saved:
                    raise TEXT.problem("no_maps_for_cam", layer=cam_at)
                maps = saved["cam_maps"]
                # In eval mode no layer mixes the photos of a batch (batch norm uses its running statistics),
                # so photo b's score depends on photo b's maps alone: the gradient of the SUM of every photo's
                # chosen score, with respect to the batch's maps, is at row b exactly the gradient of photo b's
                # own score. One backward serves the whole batch.
                scores = logits[torch.arange(len(requests), device=logits.device), chosen]
                (grads,) = torch.autograd.grad(scores.sum(), maps)
                weights = grads.detach().float().mean(dim=(2, 3))  # (B, C): one weight per map
                cam_small = torch.relu((weights[:, :, None, None] * maps.detach().float()).sum(dim=1))
                cams = torch.nn.functional.interpolate(cam_small[:, None], size=(cnn.crop, cnn.crop),
                                                       mode="bilinear", align_corners=False)[:, 0].cpu().numpy()
    finally:
        for handle in handles:
            handle.remove()

    captured = saved["capture"].cpu() if "capture" in saved else None
    results = []
    for b, request in enumerate(requests):
        activation = None
        if captured is not None:
            act = captured[b]
            if act.dim() == 1:  # a vector (fc, flatten): each channel is one number, shown as a 1x1 map
                act = act[:, None, None]
            elif act.dim() == 2:
                act = act[None]
            activation = act.numpy().astype(np.float32)
        cam = draw.normalize01(cams[b]) if cams is not None else None
        results.append(Analysis(request.crop, probs[b], activation, cam, int(chosen[b])))
    return results


# Requests of the same model and layers that arrive together (or while a batch of theirs is running)
# share one forward and backward, and run one batch at a time instead of 30 forwards fighting over the
# cores. Measured on the shared 2-core machine (bench/bench_cnn_features.py, 30 different photos at once,
# ResNet18): 1.45x less CPU time per photo than one forward per request (1.08x with the 2 requests the
# app's `model` queue lets in at a time); batches of 2-4 used as little CPU as 8, or less (larger
# activations leave the caches). Wall time there was ruled by the other processes on the machine.
MAX_BATCH = 4
WINDOW_S = 0.004
BATCHER = batching.MicroBatcher(lambda _key, requests: analyse_batch(requests), max_batch=MAX_BATCH,
                                window_s=WINDOW_S, name="cnn_features")


def analyse(cnn: CNN, image, capture: str | None = None, cam_at: str | None = None,
            class_index: int | None = None, rank: int = 1, batcher: batching.MicroBatcher | None = None) -> Analysis:
    """`analyse_photo` of anything `load_image` takes (a path, bytes, an array, a PIL image)."""
    return analyse_photo(cnn, load_image(image), capture, cam_at, class_index, rank, batcher)


def analyse_photo(cnn: CNN, photo: Image.Image, capture: str | None = None, cam_at: str | None = None,
                  class_index: int | None = None, rank: int = 1,
                  batcher: batching.MicroBatcher | None = None) -> Analysis:
    """Centre-crop a photo `load_image` gave and run the network; keep `capture`'s maps and Grad-CAM at `cam_at`
    for `class_index`, or when None for the network's `rank`-th guess (1 = top-1)."""
    class_index = check_class(class_index)
    if not 1 <= rank <= N_CLASSES:
        raise TEXT.problem("bad_rank", last=N_CLASSES, got=rank)
    for layer in (capture, cam_at):
        if layer is not None:
            resolve_layer(cnn, layer)  # a wrong name fails this request alone, before it joins a batch
    crop = cnn.crop_image(photo)
    request = Request(cnn, np.asarray(crop, dtype=np.uint8), cnn.to_tensor(crop), capture, cam_at, class_index, rank)
    return (batcher or BATCHER).submit((id(cnn), capture, cam_at), request)


def grad_cam(cnn: CNN, image, class_index: int | None = None,
             layer: str | None = None) -> tuple[np.ndarray, int, np.ndarray]:
    """Grad-CAM of `class_index` (top-1 when None) at `layer` (the last spatial stage when None).

    Returns (heat map HxW float32 in 0..1 at the crop size, class index used, centre crop HxWx3 uint8).
    """
    result = analyse(cnn, image, cam_at=layer or facts(cnn).cam_layer, class_index=class_index)
    return result.cam, result.class_index, result.crop
