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

import cv2
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
    "cnn_features.title": ("CNN 특징 맵", "CNN feature maps"),
    "cnn_features.image": ("사진", "Photo"),
    "cnn_features.model": ("CNN 모델", "CNN model"),
    "cnn_features.layer": ("층 (출력 크기: 높이x너비x채널)", "Layer (output: height x width x channels)"),
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


def _both_error(ko: str, en: str) -> UserError:
    return UserError(ko, en)


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


_SHAPES: "weakref.WeakKeyDictionary[torch.nn.Module, dict]" = weakref.WeakKeyDictionary()
_SHAPES_LOCK = threading.Lock()


def _shapes_for(model: torch.nn.Module, crop: int) -> dict[str, tuple[int, ...]]:
    """Output shape (without batch) of every stage and every leaf module, from one forward on zeros."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    named = dict(model.named_modules())
    for name, module in list(zoo.stages(model)) + [(n, m) for n, m in named.items() if n and not list(m.children())]:
        def hook(_m, _inp, out, name=name):
            tensor = _first_tensor(out)
            if tensor is not None:
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
            class_index: int | None = None) -> Analysis:
    """Centre-crop the photo, run the network once; capture `capture`'s output and Grad-CAM at `cam_at`.

    Grad-CAM (Selvaraju et al. 2017): the gradient of the class score with respect to a layer's maps,
    averaged over each map, weighs that map; the ReLU of the weighted sum shows where evidence for the
    class lies. A forward hook keeps the layer's output and registers a tensor hook for its gradient.
    """
    img = load_image(image)
    class_index = check_class(cnn, class_index)
    crop = cnn.crop_image(img)
    tensor = cnn.to_tensor(crop)
    model = cnn.model
    saved: dict[str, torch.Tensor] = {}
    handles = []

    if capture is not None:
        def keep(_m, _inp, out):
            tensor_out = _first_tensor(out)
            if tensor_out is not None:
                saved["capture"] = tensor_out.detach().float().clone()
        handles.append(resolve_layer(model, capture).register_forward_hook(keep))

    if cam_at is not None:
        def keep_for_cam(_m, _inp, out):
            tensor_out = _first_tensor(out)
            if tensor_out is None or tensor_out.dim() != 4:
                return None
            saved["cam_act"] = tensor_out
            tensor_out.register_hook(lambda grad: saved.__setitem__("cam_grad", grad))
            # Downstream gets a copy, so an in-place ReLU after this layer cannot overwrite the maps we keep.
            return out.clone() if isinstance(out, torch.Tensor) else out
        handles.append(resolve_layer(model, cam_at).register_forward_hook(keep_for_cam))

    try:
        with torch.enable_grad() if cam_at is not None else torch.no_grad():
            if cam_at is not None:
                tensor = tensor.requires_grad_(True)  # parameters are frozen; the input carries the graph
            logits = _first_tensor(model(tensor))
            probs = torch.softmax(logits.detach().float(), dim=1)[0]
            chosen = int(probs.argmax()) if class_index is None else class_index
            cam = None
            if cam_at is not None:
                if "cam_act" not in saved:
                    raise UserError(f"'{cam_at}' 층은 2차원 특징 맵을 내지 않아 Grad-CAM 을 그릴 수 없습니다.",
                                    f"Layer '{cam_at}' has no 2-D feature maps, so Grad-CAM cannot be drawn there.")
                logits[0, chosen].backward()
                act = saved["cam_act"].detach().float()[0]
                grad = saved["cam_grad"].detach().float()[0]
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
