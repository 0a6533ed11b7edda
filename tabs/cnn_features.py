"""CNN feature maps: what each layer of a real ImageNet CNN responds to, Grad-CAM, and the classic CNNs compared.

Pure compute first (forward pass with hooks, Grad-CAM, feature-map grid, layer table, the
comparison measurements), then a short `build()` wiring them to Gradio.

Grad-CAM is written here with PyTorch hooks rather than a package (pytorch-grad-cam): it is 30
lines, needs nothing new installed, runs in the same forward pass that also captures the feature
maps and the top-5 (one forward + one backward per click), and works on every network of the tab
(torchvision and timm) through the same stage names the layer picker shows.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
import weakref
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import torch
from PIL import Image

from core import draw, i18n
from core.i18n import UserError, t
from core.images import load_image
from core.zoo import cnn as zoo
from core.zoo.cnn import CNN

TAB_ID = "cnn_features"
TITLE = "cnn_features.title"

GRID_COLUMNS = 8
GRID_CELL = 112  # pixels per feature map in the grid (a 7x7 map becomes clear 16-pixel blocks)
GRID_TITLE = 20  # pixels of the title band above each map
N_CHOICES = (8, 16, 32, 64)
FEATURE_COLORMAP = cv2.COLORMAP_VIRIDIS

i18n.add({
    "cnn_features.title": ("2. CNN 특징 맵", "2. CNN feature maps"),
    "cnn_features.image": ("사진", "Photo"),
    "cnn_features.model": ("CNN 모델", "CNN model"),
    "cnn_features.layer": ("층 (출력 크기: 높이x너비x채널)", "Layer (output: height x width x channels)"),
    "cnn_features.layer_auto": ("자동 (추천 층)", "auto (suggested layer)"),
    "cnn_features.n_maps": ("보여 줄 특징 맵 개수 (가장 강하게 반응한 순)", "Feature maps to show (most active first)"),
    "cnn_features.scale": ("색 범위", "Colour scale"),
    "cnn_features.scale_each": ("맵마다 따로", "Per map"),
    "cnn_features.scale_shared": ("모든 맵 공통", "Shared by all maps"),
    "cnn_features.cam_class": ("Grad-CAM 클래스", "Grad-CAM class"),
    "cnn_features.run": ("분석하기", "Analyse"),
    "cnn_features.examples": ("예시 사진", "Example photos"),
    "cnn_features.top5": ("상위 5개 예측", "Top-5 predictions"),
    "cnn_features.grid": ("특징 맵 (클릭하면 크게 보기)", "Feature maps (click one to enlarge)"),
    "cnn_features.zoom": ("선택한 특징 맵을 사진 위에 겹쳐 보기", "The chosen feature map over the photo"),
    "cnn_features.zoom_channel": ("크게 볼 채널 번호", "Channel to enlarge"),
    "cnn_features.cam": ("Grad-CAM: 모델이 이 클래스를 고를 때 본 곳", "Grad-CAM: where the model looked for this class"),
    "cnn_features.layers_tab": ("층 표 (모델 복잡도)", "Layer table (model complexity)"),
    "cnn_features.compare_tab": ("대표 CNN 비교하기", "Compare the classic CNNs"),
    "cnn_features.compare_run": ("측정하기 (처음 한 번은 1~2분)", "Measure (the first time takes 1-2 minutes)"),
    "cnn_features.compare_again": ("캐시 무시하고 다시 측정", "Ignore the cache and measure again"),
    "cnn_features.compare_help": (
        "가중치 없이 진짜 구조(무작위 초기화)로 이 컴퓨터에서 직접 잽니다. 계산량은 가중치 값과 상관이 없기 때문입니다. "
        "정확도는 torchvision 가중치의 공개 값(EfficientNet-Lite0 은 모델 카드 값)입니다.",
        "Measured here on the real architectures with random weights (compute cost does not depend on the weight values). "
        "Accuracy is the published figure of torchvision's weights (EfficientNet-Lite0: its model card).",
    ),
})


# ------------------------------------------------------------------ stages and shapes

def resolve_layer(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    """A stage name from `zoo.stages` (or any dotted module name) -> the module; UserError when absent."""
    for name, module in zoo.stages(model):
        if name == layer:
            return module
    try:
        return model.get_submodule(layer) if layer else None
    except AttributeError:
        pass
    raise UserError(f"이 모델에는 '{layer}' 층이 없습니다. 층 목록에서 골라 주세요.",
                    f"This model has no layer '{layer}'. Please pick one from the layer list.")


def _first_tensor(output):
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


_SHAPES: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()
_SHAPES_LOCK = threading.Lock()


def _shapes_for(model: torch.nn.Module, crop: int) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every stage and every leaf module, from one forward on zeros."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    owner = threading.get_ident()  # ignore other requests' forward passes through the same model
    for name, module in list(zoo.stages(model)) + table_modules(model):
        def hook(_m, _inp, out, name=name):
            tensor = _first_tensor(out)
            if tensor is not None and threading.get_ident() == owner:
                shapes[name] = tuple(tensor.shape[1:])
        handles.append(module.register_forward_hook(hook))
    try:
        param = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, 3, crop, crop, device=param.device, dtype=param.dtype))
    finally:
        for h in handles:
            h.remove()
    return shapes


def output_shapes(cnn: CNN) -> dict[str, tuple[int, ...]]:
    """{module name: output shape without batch} for the stages and the leaf layers (cached per model)."""
    with _SHAPES_LOCK:  # hooks on a shared model must not interleave with another request's probe
        if cnn.model not in _SHAPES:
            _SHAPES[cnn.model] = _shapes_for(cnn.model, cnn.crop)
        return _SHAPES[cnn.model]


def shape_text(shape: tuple[int, ...]) -> str:
    """(C, H, W) -> 'HxWxC' as the notes write it; (C,) -> 'C'."""
    if len(shape) == 3:
        c, h, w = shape
        return f"{h}x{w}x{c}"
    return "x".join(str(s) for s in shape)


def layer_picker_choices(cnn: CNN) -> list:
    """The layer picker's choices: "auto" ("" = the suggested layer, what API callers may send) first."""
    return [(t("cnn_features.layer_auto"), "")] + layer_choices(cnn)


def layer_choices(cnn: CNN) -> list[tuple[str, str]]:
    """(label, stage name) for the layer picker, in forward order, e.g. ('layer1  56x56x64', 'layer1')."""
    shapes = output_shapes(cnn)
    return [(f"{name}  ({shape_text(shapes[name])})" if name in shapes else name, name)
            for name, _ in zoo.stages(cnn.model) if name in shapes]


def default_layer(cnn: CNN) -> str:
    """A middle stage whose maps still show shapes: the first one at 1/8 of the input or smaller (28x28 at 224)."""
    shapes = output_shapes(cnn)
    for name, _ in zoo.stages(cnn.model):
        shape = shapes.get(name)
        if shape and len(shape) == 3 and shape[1] <= cnn.crop // 8:
            return name
    return zoo.stages(cnn.model)[0][0]


def cam_layer(cnn: CNN) -> str:
    """Grad-CAM's usual layer: the last stage that still has a spatial map (e.g. ResNet's layer4, 7x7)."""
    shapes = output_shapes(cnn)
    best = None
    for name, module in zoo.stages(cnn.model):
        shape = shapes.get(name)
        if shape and len(shape) == 3 and shape[1] > 1 and not isinstance(
                module, (torch.nn.AdaptiveAvgPool2d, torch.nn.AdaptiveMaxPool2d)) and "pool" not in name:
            best = name
    if best is None:
        raise RuntimeError(f"{cnn.name}: no stage with a spatial output")
    return best


# ------------------------------------------------------------------ one forward (+ backward) with hooks

@dataclasses.dataclass
class Analysis:
    crop: Image.Image  # what the network saw
    probs: np.ndarray  # (1000,) softmax
    activation: np.ndarray | None  # (C, H, W) float32 of the captured layer
    cam: np.ndarray | None  # (crop, crop) float32 in 0..1
    class_index: int


def check_class(cnn: CNN, class_index) -> int | None:
    if class_index is None:
        return None
    try:
        value = float(class_index)
    except (TypeError, ValueError):
        value = float("nan")
    n = len(cnn.categories)
    if not math.isfinite(value) or value != int(value) or not 0 <= int(value) < n:
        raise UserError(f"클래스 번호는 0부터 {n - 1} 사이의 정수여야 합니다 (받은 값: {class_index}).",
                        f"The class index must be a whole number from 0 to {n - 1} (got {class_index}).")
    return int(value)


def analyse(cnn: CNN, image, capture: str | None = None, cam_at: str | None = None,
            class_index: int | None = None, rank: int = 1) -> Analysis:
    """Centre-crop the photo, run the network once; capture `capture`'s output and Grad-CAM at `cam_at`
    for `class_index`, or when None for the network's `rank`-th guess (1 = top-1).

    Grad-CAM (Selvaraju et al. 2017): the gradient of the class score with respect to a layer's maps,
    averaged over each map, weighs that map; the ReLU of the weighted sum shows where evidence for the
    class lies. A forward hook swaps the layer's output for a fresh tensor that needs a gradient, and
    `torch.autograd.grad` returns that gradient.
    """
    img = load_image(image)
    class_index = check_class(cnn, class_index)
    if not 1 <= rank <= len(cnn.categories):
        raise UserError(f"예측 순위는 1부터 {len(cnn.categories)} 사이입니다.", f"The guess rank is from 1 to {len(cnn.categories)}.")
    crop = cnn.crop_image(img)
    tensor = cnn.to_tensor(crop)
    model = cnn.model
    saved: dict[str, torch.Tensor] = {}
    handles = []

    # The model is shared by every request; hooks fire for any thread's forward pass, so each hook
    # acts only for the thread that registered it (PyTorch calls module hooks in the caller's thread).
    owner = threading.get_ident()

    if capture is not None:
        def keep(_m, _inp, out):
            if threading.get_ident() != owner:
                return None
            tensor_out = _first_tensor(out)
            if tensor_out is not None:
                saved["capture"] = tensor_out.detach().float().clone()
        handles.append(resolve_layer(model, capture).register_forward_hook(keep))

    if cam_at is not None:
        def keep_for_cam(_m, _inp, out):
            if threading.get_ident() != owner:
                return None
            tensor_out = _first_tensor(out)
            if tensor_out is None or tensor_out.dim() != 4:
                return None
            # The graph starts here: parameters are frozen and the input needs no gradient, so the
            # backward pass runs only from the class score down to this layer (cheap for late layers).
            leaf = tensor_out.detach().requires_grad_(True)
            saved["cam_act"] = leaf
            # Downstream gets a copy, so an in-place ReLU after this layer cannot overwrite the maps we keep.
            copy = leaf.clone()
            if isinstance(out, torch.Tensor):
                return copy
            return type(out)([copy, *out[1:]]) if isinstance(out, (tuple, list)) else out
        handles.append(resolve_layer(model, cam_at).register_forward_hook(keep_for_cam))

    try:
        with torch.enable_grad() if cam_at is not None else torch.no_grad():
            logits = _first_tensor(model(tensor))
            probs = torch.softmax(logits.detach().float(), dim=1)[0]
            chosen = int(torch.argsort(probs, descending=True)[rank - 1]) if class_index is None else class_index
            cam = None
            if cam_at is not None:
                if "cam_act" not in saved:
                    raise UserError(f"'{cam_at}' 층은 2차원 특징 맵을 내지 않아 Grad-CAM 을 그릴 수 없습니다.",
                                    f"Layer '{cam_at}' has no 2-D feature maps, so Grad-CAM cannot be drawn there.")
                (grad,) = torch.autograd.grad(logits[0, chosen], saved["cam_act"])
                act = saved["cam_act"].detach().float()[0]
                grad = grad.detach().float()[0]
                weights = grad.mean(dim=(1, 2))
                cam_small = torch.relu((weights[:, None, None] * act).sum(0))
                cam_full = torch.nn.functional.interpolate(cam_small[None, None], size=(cnn.crop, cnn.crop),
                                                           mode="bilinear", align_corners=False)[0, 0]
                cam = draw.normalize01(cam_full.cpu().numpy())
    finally:
        for h in handles:
            h.remove()

    activation = None
    if "capture" in saved:
        act = saved["capture"][0].cpu()
        if act.dim() == 1:  # a vector (fc, flatten): each channel is one number, shown as a 1x1 map
            act = act[:, None, None]
        elif act.dim() == 2:
            act = act[None]
        activation = act.numpy().astype(np.float32)
    return Analysis(crop, probs.cpu().numpy(), activation, cam, chosen)


def grad_cam(cnn: CNN, image: Image.Image, class_index: int | None = None,
             layer: str | None = None) -> tuple[np.ndarray, int, Image.Image]:
    """Grad-CAM of `class_index` (top-1 when None) at `layer` (the last spatial stage when None).

    Returns (heat map HxW float32 in 0..1 at the crop size, class index used, centre-cropped RGB image).
    """
    result = analyse(cnn, image, cam_at=layer or cam_layer(cnn), class_index=class_index)
    return result.cam, result.class_index, result.crop


# ------------------------------------------------------------------ feature-map grid

@dataclasses.dataclass
class GridLayout:
    channels: list[int]
    columns: int
    pitch_x: int  # pixels from one cell to the next, horizontally and vertically
    pitch_y: int


GRID_GAP = 4


def most_active(activation: np.ndarray, n: int) -> list[int]:
    """The `n` channels with the largest mean activation, strongest first."""
    means = activation.reshape(activation.shape[0], -1).mean(axis=1)
    means = np.nan_to_num(means, nan=-np.inf)
    order = np.argsort(-means, kind="stable")
    return [int(c) for c in order[:max(1, n)]]


def _color(values01: np.ndarray) -> np.ndarray:
    """0..1 values -> RGB uint8 with the feature-map colormap, no rescaling (for a shared scale)."""
    heat8 = (np.clip(np.nan_to_num(values01), 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(heat8, FEATURE_COLORMAP), cv2.COLOR_BGR2RGB)


def _scaled(maps: np.ndarray, shared: bool) -> np.ndarray:
    """Maps (N, H, W) to 0..1: each on its own range, or all on the range of the whole set."""
    if shared:
        return draw.normalize01(maps)
    return np.stack([draw.normalize01(m) for m in maps]) if len(maps) else maps


def render_grid(activation: np.ndarray, channels: list[int], shared_scale: bool) -> tuple[np.ndarray, GridLayout]:
    """The chosen channels as a grid of coloured maps, each titled with its channel index."""
    maps = _scaled(activation[channels].astype(np.float32), shared_scale)
    columns = min(GRID_COLUMNS, len(channels))
    rows = math.ceil(len(channels) / columns)
    pitch_x, pitch_y = GRID_CELL + GRID_GAP, GRID_CELL + GRID_TITLE + GRID_GAP
    canvas = np.full((rows * pitch_y - GRID_GAP, columns * pitch_x - GRID_GAP, 3), 255, dtype=np.uint8)
    h, w = maps.shape[1:]
    # Small maps are enlarged with nearest-neighbour so each activation stays a visible square.
    interpolation = cv2.INTER_NEAREST if max(h, w) < GRID_CELL else cv2.INTER_AREA
    for i, (channel, values) in enumerate(zip(channels, maps)):
        y, x = (i // columns) * pitch_y, (i % columns) * pitch_x
        canvas[y:y + GRID_TITLE, x:x + GRID_CELL] = (40, 40, 40)
        draw.put_label(canvas, f"#{channel}", (x + 4, y + GRID_TITLE - 5), scale=0.5)
        tile = cv2.resize(_color(values), (GRID_CELL, GRID_CELL), interpolation=interpolation)
        canvas[y + GRID_TITLE:y + GRID_TITLE + GRID_CELL, x:x + GRID_CELL] = tile
    return canvas, GridLayout(channels, columns, pitch_x, pitch_y)


def channel_at(layout: GridLayout, x: float, y: float) -> int | None:
    """The channel whose cell holds the pixel (x, y) of the grid image, or None (a gap or outside)."""
    if x < 0 or y < 0:
        return None
    col, row = int(x // layout.pitch_x), int(y // layout.pitch_y)
    if col >= layout.columns or x - col * layout.pitch_x >= GRID_CELL or y - row * layout.pitch_y >= GRID_CELL + GRID_TITLE:
        return None
    index = row * layout.columns + col
    return layout.channels[index] if index < len(layout.channels) else None


ZOOM_SIZE = 384


def zoom_view(crop: np.ndarray, activation: np.ndarray, channel: int, alpha: float = 0.55) -> np.ndarray:
    """One feature map large: the raw map (left) and the same map over the photo the network saw (right)."""
    if not 0 <= channel < activation.shape[0]:
        raise UserError(f"채널 번호는 0부터 {activation.shape[0] - 1} 사이여야 합니다.",
                        f"The channel must be from 0 to {activation.shape[0] - 1}.")
    values = activation[channel]
    raw = cv2.resize(_color(draw.normalize01(values)), (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_NEAREST)
    photo = cv2.resize(np.asarray(crop, dtype=np.uint8), (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_LINEAR)
    over = draw.overlay_heatmap(photo, values, alpha=alpha, colormap=FEATURE_COLORMAP)
    gap = np.full((ZOOM_SIZE, 8, 3), 255, dtype=np.uint8)
    out = np.concatenate([raw, gap, over], axis=1)
    h, w = values.shape
    draw.put_label(out, f"#{channel}  {h}x{w}", (8, 28), scale=0.8)
    return out


def cam_view(crop: Image.Image, cam: np.ndarray, label: str) -> np.ndarray:
    over = draw.overlay_heatmap(np.asarray(crop), cam, alpha=0.5)
    over = cv2.resize(over, (ZOOM_SIZE, ZOOM_SIZE), interpolation=cv2.INTER_LINEAR)
    return draw.put_label(over, label, (8, ZOOM_SIZE - 12), scale=0.7)


# ------------------------------------------------------------------ top-5 and the layer table

def top_k(probs: np.ndarray, categories: list[str], k: int = 5) -> list[tuple[int, str, float]]:
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(i), categories[int(i)], float(probs[int(i)])) for i in order]


def top5_figure(top: list[tuple[int, str, float]], title: str):
    import plotly.graph_objects as go

    names = [f"{name} ({index})" for index, name, _ in top][::-1]
    values = [100 * p for _, _, p in top][::-1]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color="#2563eb",
                           text=[f"{v:.1f}%" for v in values], textposition="auto"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 100], ticksuffix="%"), height=300,
                      margin=dict(l=10, r=10, t=50, b=30), font=dict(size=16))
    return fig


def _kernel_stride(module: torch.nn.Module) -> str:
    kernel = getattr(module, "kernel_size", None)
    stride = getattr(module, "stride", None)
    if kernel is None:
        return ""

    def pair(v):
        v = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
        return f"{v[0]}x{v[1]}"
    return f"{pair(kernel)} / {pair(stride if stride is not None else 1)}"


def layer_table(cnn: CNN) -> list[list]:
    """[name, type, kernel / stride, output (HxWxC), parameters] for every leaf layer, in forward order, then the total."""
    shapes = output_shapes(cnn)
    rows = []
    for name, module in table_modules(cnn.model):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        shape = shapes.get(name)
        if shape is None and params == 0:
            continue  # a layer the forward pass does not use (e.g. dropout-free identity branches)
        rows.append([name, type(module).__name__, _kernel_stride(module),
                     shape_text(shape) if shape else "", f"{params:,}"])
    total = sum(p.numel() for p in cnn.model.parameters())
    rows.append([i18n.both("합계", "total"), "", "", "", f"{total:,}"])
    return rows


LAYER_HEADERS = ["layer / 층", "type / 종류", "kernel / stride", "output / 출력 (HxWxC)", "parameters / 파라미터"]


# ------------------------------------------------------------------ compare the classic CNNs

HEAVY_CNNS = ("vgg16", "alexnet", "resnet50")  # few timing runs: VGG16 alone is ~15 GFLOPs per image
_MEASURED: dict[tuple[str, str], dict] = {}
_MEASURE_LOCK = threading.Lock()


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
        runs = runs or (3 if name in HEAVY_CNNS else 5)
        samples = []
        for _ in range(runs):
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


def compare_cnns(devices: list[torch.device] | None = None, again: bool = False, names: list[str] | None = None):
    """Measure every classic CNN on every device (cached); yields (done, total, results so far)."""
    from core import models

    devices = devices or models.available_devices()
    names = names or zoo.cnn_names()
    jobs = [(n, d) for d in devices for n in names]
    results = []
    for i, (name, device) in enumerate(jobs):
        key = (name, str(device))
        with _MEASURE_LOCK:
            if again or key not in _MEASURED:
                _MEASURED[key] = measure_cnn(name, device)
        results.append(_MEASURED[key])
        yield i + 1, len(jobs), list(results)


DISPLAY_NAMES = {"resnet18": "ResNet18", "resnet50": "ResNet50", "alexnet": "AlexNet", "vgg16": "VGG16",
                 "googlenet": "GoogLeNet", "efficientnet_b0": "EfficientNet-B0",
                 "mobilenet_v3_large": "MobileNetV3-L", "efficientnet_lite0": "EfficientNet-Lite0"}


def compare_figure(results: list[dict], lang: str = "ko"):
    import plotly.graph_objects as go

    ko = lang == "ko"
    fig = go.Figure()
    biggest = max((r["params"] for r in results), default=1)
    for device in dict.fromkeys(r["device"] for r in results):
        rows = sorted((r for r in results if r["device"] == device), key=lambda r: r["latency_ms"])
        fig.add_trace(go.Scatter(
            x=[r["latency_ms"] for r in rows], y=[r["top1"] for r in rows], mode="markers+text",
            name=device, text=[DISPLAY_NAMES.get(r["name"], r["name"]) for r in rows],
            # Neighbours on the latency axis get their names above and below, so the light CNNs stay readable.
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(rows))],
            marker=dict(size=[12 + 60 * math.sqrt(r["params"] / biggest) for r in rows], sizemode="diameter",
                        opacity=0.6, line=dict(width=1, color="#111")),
            customdata=[[r["params"] / 1e6, r["gflops"]] for r in rows],
            hovertemplate="%{text}<br>%{x:.1f} ms · top-1 %{y:.1f}%<br>%{customdata[0]:.1f} M params · "
                          "%{customdata[1]:.2f} GFLOPs<extra></extra>"))
    fig.update_layout(
        title=("지연 시간 대 정확도 (원 크기 = 파라미터 수)" if ko else "Latency vs accuracy (bubble size = parameters)"),
        xaxis_title=("이미지 1장 처리 시간 (ms, 로그 축, 이 컴퓨터)" if ko else "Time per image (ms, log axis, this machine)"),
        yaxis_title=("ImageNet top-1 정확도 (%)" if ko else "ImageNet top-1 accuracy (%)"),
        xaxis_type="log", height=520, font=dict(size=16), margin=dict(l=10, r=10, t=60, b=40))
    return fig


COMPARE_HEADERS = ["model / 모델", "device / 장치", "parameters (M) / 파라미터 (백만)", "GFLOPs @224",
                   "ImageNet top-1 (%)", "latency (ms) / 지연 시간"]


def compare_table(results: list[dict]) -> list[list]:
    return [[DISPLAY_NAMES.get(r["name"], r["name"]), r["device"], round(r["params"] / 1e6, 1), round(r["gflops"], 2),
             round(r["top1"], 1), round(r["latency_ms"], 1)] for r in results]


# ------------------------------------------------------------------ the tab's event functions

def starting_model() -> str:
    """ResNet18 when its weights are here (or in the test zoo), otherwise the offline EfficientNet-Lite0."""
    from core import models

    return zoo.DEFAULT_CNN if models.tiny_default() or zoo.weights_cached(zoo.DEFAULT_CNN) else zoo.OFFLINE_CNN


def model_choices() -> list[tuple[str, str]]:
    """'ResNet18 · 45 MB': the size says how long a first download takes (Lite0 ships with the app)."""
    sizes = {name: mb for name, (_, _, mb, _) in zoo.TORCHVISION_CNNS.items()}
    return [(f"{DISPLAY_NAMES.get(name, name)} · {sizes[name]} MB" if name in sizes
             else f"{DISPLAY_NAMES.get(name, name)} · offline", name) for name in zoo.cnn_names()]


RANK_LABELS = ("1위 예측 / top-1 guess", "2위 예측 / 2nd guess", "3위 예측 / 3rd guess", "4위 예측 / 4th guess",
               "5위 예측 / 5th guess")


def class_choices(with_classes: bool = True) -> list[tuple[str, int]]:
    """The Grad-CAM class picker: -1..-5 are the network's 1st..5th guesses, then the 1000 ImageNet classes."""
    ranks = [(label, -(k + 1)) for k, label in enumerate(RANK_LABELS)]
    if not with_classes:
        return ranks
    return ranks + [(f"{i}: {name}", i) for i, name in enumerate(zoo.imagenet_categories())]


def all_class_choices():
    return gr.update(choices=class_choices())


def cam_target(cnn: CNN, cam_class) -> tuple[int | None, int]:
    """(class index or None, guess rank) from the picker's value: -k is the k-th guess, 0..999 a class."""
    if cam_class in (None, ""):
        return None, 1
    try:
        value = float(cam_class)
    except (TypeError, ValueError):
        value = float("nan")
    if value in (-1, -2, -3, -4, -5):
        return None, int(-value)
    return check_class(cnn, cam_class), 1


def model_in_use(cnn: CNN, note: str | None, lang: str) -> str:
    ko = lang == "ko"
    label = DISPLAY_NAMES.get(cnn.name, cnn.name)
    if cnn.real_weights:
        weights = (f"ImageNet 으로 학습된 진짜 가중치 ({cnn.source})" if ko else f"real ImageNet weights ({cnn.source})")
    else:
        weights = ("무작위 가중치 (테스트용 모델): 예측에 의미가 없습니다" if ko
                   else "random weights (test model): its predictions mean nothing")
    text = (f"**사용 중인 모델:** {label}, {weights}" if ko else f"**Model in use:** {label}, {weights}")
    if note:
        text = f"**!** {note}\n\n{text}"
    return text


def _load(model_name: str | None) -> tuple[CNN, str | None]:
    name = model_name or starting_model()
    if name not in zoo.cnn_names():
        raise UserError(f"알 수 없는 CNN 입니다: {name!r}. 목록에서 골라 주세요.", f"Unknown CNN: {name!r}. Please pick one from the list.")
    return zoo.load_cnn(name)


def on_model(model_name, request: gr.Request = None):
    """Model picked: load it (or the offline fallback) and list its layers and its layer table."""
    cnn, note = _load(model_name)
    lang = i18n.lang_of(request)
    return (gr.update(choices=layer_picker_choices(cnn), value=default_layer(cnn)), layer_table(cnn),
            model_in_use(cnn, note, lang))


def _n_maps(value) -> tuple[int, str | None]:
    try:
        n = float(value)
    except (TypeError, ValueError):
        n = float("nan")
    if not math.isfinite(n):
        return 16, i18n.both("맵 개수가 숫자가 아니어서 16개를 보여 줍니다.", "The number of maps was not a number; showing 16.")
    clamped = int(min(max(round(n), 1), max(N_CHOICES)))
    if clamped != n:
        return clamped, i18n.both(f"맵 개수는 1~{max(N_CHOICES)} 사이여야 해서 {clamped}개로 맞췄습니다.",
                                  f"The number of maps must be 1-{max(N_CHOICES)}; using {clamped}.")
    return clamped, None


def run_analysis(image, model_name, layer, n_maps, scale, cam_class, request: gr.Request = None):
    """The main event: top-5, the N most active maps of a layer, the strongest one enlarged, and Grad-CAM."""
    img = load_image(image)
    cnn, note = _load(model_name)
    lang = i18n.lang_of(request)
    ko = lang == "ko"
    notes = [note] if note else []
    layers = [name for _, name in layer_choices(cnn)]
    if not layer:
        layer = default_layer(cnn)
    elif layer not in layers:
        if note is None:
            raise UserError(f"{DISPLAY_NAMES.get(cnn.name, cnn.name)} 에는 '{layer}' 층이 없습니다. 층 목록에서 골라 주세요.",
                            f"{DISPLAY_NAMES.get(cnn.name, cnn.name)} has no layer '{layer}'. Please pick one from the layer list.")
        layer = default_layer(cnn)  # the fallback model has other layer names
    n, n_note = _n_maps(n_maps)
    if n_note:
        notes.append(n_note)
    if scale not in ("each", "shared"):
        raise UserError("색 범위는 'each'(맵마다) 또는 'shared'(공통) 입니다.", "The colour scale is 'each' or 'shared'.")
    class_index, rank = cam_target(cnn, cam_class)
    cam_at = cam_layer(cnn)
    result = analyse(cnn, img, capture=layer, cam_at=cam_at, class_index=class_index, rank=rank)

    top = top_k(result.probs, cnn.categories)
    fig = top5_figure(top, "상위 5개 예측" if ko else "Top-5 predictions")
    activation = result.activation
    channels = most_active(activation, min(n, activation.shape[0]))
    grid, layout = render_grid(activation, channels, scale == "shared")
    crop = np.asarray(result.crop)
    zoom = zoom_view(crop, activation, channels[0])
    name = cnn.categories[result.class_index]
    prob = float(result.probs[result.class_index])
    cam_img = cam_view(result.crop, result.cam, f"{result.class_index} {name} {100 * prob:.1f}%")

    c, h, w = activation.shape
    summary = (f"**{layer}**: {h}x{w} 크기의 특징 맵 {c}장 중 평균 반응이 큰 {len(channels)}장. "
               f"Grad-CAM 층: **{cam_at}**, 클래스 **{name}** ({result.class_index})."
               if ko else
               f"**{layer}**: the {len(channels)} most active of {c} feature maps of {h}x{w}. "
               f"Grad-CAM layer: **{cam_at}**, class **{name}** ({result.class_index}).")
    if h == 1 and w == 1:
        summary += (" 이 층의 맵은 1x1 이라 채널마다 숫자 하나입니다." if ko
                    else " This layer's maps are 1x1: each channel is a single number.")
    info = "\n\n".join(notes + [model_in_use(cnn, None, lang), summary])
    state = {"crop": crop, "activation": activation.astype(np.float16), "layout": layout}
    layer_update = gr.update(choices=layer_picker_choices(cnn), value=layer)
    return info, fig, grid, zoom, cam_img, state, channels[0], layer_update


def analysis_if_image(image, model_name, layer, n_maps, scale, cam_class, request: gr.Request = None):
    """The same, run when a photo arrives or a setting changes; nothing to do while there is no photo."""
    if image is None:
        return tuple(gr.skip() for _ in range(8))
    return run_analysis(image, model_name, layer, n_maps, scale, cam_class, request=request)


def zoom_from_state(state, channel):
    if not state:
        raise UserError("먼저 사진을 분석해 주세요.", "Please analyse a photo first.")
    activation = state["activation"].astype(np.float32)
    try:
        channel = int(float(channel))
    except (TypeError, ValueError, OverflowError):
        raise UserError("채널 번호는 정수여야 합니다.", "The channel must be a whole number.") from None
    return zoom_view(state["crop"], activation, channel)


def on_grid_click(state, evt: gr.SelectData):
    if not state or evt is None or not isinstance(evt.index, (list, tuple)):
        return gr.skip(), gr.skip()
    channel = channel_at(state["layout"], *evt.index[:2])
    if channel is None:
        return gr.skip(), gr.skip()
    return zoom_from_state(state, channel), channel


def run_comparison(again, request: gr.Request = None):
    """Generator: measure every CNN (cached), showing progress, the scatter and the table as they grow."""
    lang = i18n.lang_of(request)
    ko = lang == "ko"
    yield ("측정을 시작합니다..." if ko else "Starting to measure..."), None, []
    for done, total, results in compare_cnns(again=bool(again)):
        last = results[-1]
        status = (f"{done}/{total}: {DISPLAY_NAMES.get(last['name'], last['name'])} ({last['device']}) "
                  f"{last['latency_ms']:.0f} ms" if done < total else
                  (f"**{total}개 측정 완료** (결과는 저장해 두고 다시 쓰입니다)." if ko
                   else f"**{total} measurements done** (kept and reused)."))
        yield status, compare_figure(results, lang), compare_table(results)


# ------------------------------------------------------------------ build

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "assets" / "examples").glob("*.jpg"))


def build() -> None:
    from core import ui

    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            image = gr.Image(label=t("cnn_features.image"), type="filepath", sources=["upload", "webcam", "clipboard"],
                             height=300, elem_id="cnn_features-image")
            gr.Examples([[str(p)] for p in EXAMPLES], inputs=[image], label=t("cnn_features.examples"))
            model = gr.Dropdown(model_choices(), value=starting_model(), label=t("cnn_features.model"),
                                elem_id="cnn_features-model")
            # "" = the model's suggested layer, so API callers may leave the layer out.
            layer = gr.Dropdown([(t("cnn_features.layer_auto"), "")], value="", label=t("cnn_features.layer"),
                                elem_id="cnn_features-layer")
            n_maps = gr.Radio(list(N_CHOICES), value=16, label=t("cnn_features.n_maps"))
            scale = gr.Radio([(t("cnn_features.scale_each"), "each"), (t("cnn_features.scale_shared"), "shared")],
                             value="each", label=t("cnn_features.scale"))
            # The 1000 class names arrive with the page (reading them imports torchvision: seconds at server start).
            # Custom values are allowed so API callers can pass any class index; cam_target() checks it.
            cam_class = gr.Dropdown(class_choices(with_classes=False), value=-1, label=t("cnn_features.cam_class"),
                                    filterable=True, allow_custom_value=True, elem_id="cnn_features-cam-class")
            run = gr.Button(t("cnn_features.run"), variant="primary", elem_id="cnn_features-run")
        with gr.Column(scale=2):
            info = gr.Markdown(elem_id="cnn_features-info")
            with gr.Row():
                top5 = gr.Plot(label=t("cnn_features.top5"), elem_id="cnn_features-top5")
                with gr.Column():
                    # Headings above the images: a floating image label would hide the map titles drawn on them.
                    gr.Markdown(f"**{t('cnn_features.cam')}**")
                    cam = gr.Image(show_label=False, interactive=False, height=300, buttons=["fullscreen"],
                                   elem_id="cnn_features-cam")
            gr.Markdown(f"**{t('cnn_features.grid')}**")
            grid = gr.Image(show_label=False, interactive=False, buttons=["fullscreen"], elem_id="cnn_features-grid")
            gr.Markdown(f"**{t('cnn_features.zoom')}**")
            with gr.Row():
                zoom = gr.Image(show_label=False, interactive=False, height=300, buttons=["fullscreen"],
                                elem_id="cnn_features-zoom")
                channel = gr.Number(label=t("cnn_features.zoom_channel"), precision=0, minimum=0, scale=0,
                                    min_width=160, elem_id="cnn_features-channel")
    with gr.Accordion(t("cnn_features.layers_tab"), open=False):
        table = gr.Dataframe(headers=LAYER_HEADERS, interactive=False, elem_id="cnn_features-table", max_height=500)
    with gr.Accordion(t("cnn_features.compare_tab"), open=False, elem_id="cnn_features-compare"):
        gr.Markdown(t("cnn_features.compare_help"))
        with gr.Row():
            compare = gr.Button(t("cnn_features.compare_run"), elem_id="cnn_features-compare-run")
            again = gr.Checkbox(False, label=t("cnn_features.compare_again"))
        compare_status = gr.Markdown(elem_id="cnn_features-compare-status")
        compare_plot = gr.Plot(label=t("cnn_features.compare_tab"), elem_id="cnn_features-compare-plot")
        compare_rows = gr.Dataframe(headers=COMPARE_HEADERS, interactive=False)

    state = gr.State()
    inputs = [image, model, layer, n_maps, scale, cam_class]
    outputs = [info, top5, grid, zoom, cam, state, channel, layer]
    run.click(run_analysis, inputs, outputs, api_name="cnn_features", **ui.MODEL)
    image.change(analysis_if_image, inputs, outputs, api_visibility="private", **ui.MODEL)
    gr.on([layer.input, n_maps.input, scale.input, cam_class.input], analysis_if_image, inputs, outputs,
          api_visibility="private", **ui.MODEL)
    model_loaded = model.input(on_model, [model], [layer, table, info], api_name="cnn_features_model", **ui.MODEL)
    model_loaded.success(analysis_if_image, inputs, outputs, api_visibility="private", **ui.MODEL)
    grid.select(on_grid_click, [state], [zoom, channel], api_visibility="private", **ui.QUICK)
    channel.submit(zoom_from_state, [state, channel], [zoom], api_name="cnn_features_zoom", **ui.QUICK)
    compare.click(run_comparison, [again], [compare_status, compare_plot, compare_rows],
                  api_name="cnn_features_compare", **ui.HEAVY_BENCH)
    root = gr.context.Context.root_block
    if root is not None:  # list the starting model's layers when the page opens
        root.load(on_model, [model], [layer, table, info], api_visibility="private", **ui.MODEL)
        root.load(all_class_choices, None, [cam_class], api_visibility="private", **ui.QUICK)
