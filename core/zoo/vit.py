"""Vision Transformers (ViT family) from Hugging Face transformers, loaded with eager attention.

Every spec loads to a `ViT` bundle: the eval-mode `ViTForImageClassification` plus what is needed
to use it (input size and patch size read from its config, the preprocessing of its image
processor, class names). Eager attention is requested because the fused kernels (SDPA, flash)
do not return the attention weights the ViT tab draws.
"""
from __future__ import annotations

import dataclasses

import torch
from PIL import Image

from core.models import ModelSpec, WeightsMissing, hub_endpoint, hub_files_cached, register
from core.zoo.cnn import CNN, IMAGENET_MEAN, IMAGENET_STD, imagenet_categories

# name -> (Hugging Face repo, approx MB, Korean/English one-liner)
HF_VITS = {
    "deit_tiny": ("facebook/deit-tiny-patch16-224", 23,
                  ("DeiT-Tiny: 192차원, 12층, 헤드 3개인 작은 ViT (CPU에서도 빠름)",
                   "DeiT-Tiny: a small ViT with 192 dimensions, 12 layers and 3 heads (fast on a CPU)")),
    "vit_base": ("google/vit-base-patch16-224", 346,
                 ("ViT-Base: 768차원, 12층, 헤드 12개인 원조 ViT (GPU 권장)",
                  "ViT-Base: the original ViT with 768 dimensions, 12 layers and 12 heads (a GPU helps)")),
}
CPU_DEFAULT = "deit_tiny"
GPU_DEFAULT = "vit_base"

# The real configurations (for benchmarks and the test zoo): no download needed to build them.
REAL_CONFIGS = {
    "deit_tiny": dict(hidden_size=192, num_hidden_layers=12, num_attention_heads=3, intermediate_size=768),
    "vit_base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
}


def _pair(value) -> tuple[int, int]:
    """ViTConfig allows an int or a (height, width) pair for image_size and patch_size."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


@dataclasses.dataclass
class ViT:
    """A loaded ViT classifier and what it takes to feed it."""

    name: str
    model: torch.nn.Module
    labels: list[str]
    image_size: tuple[int, int]  # (height, width) the network takes, from its config
    patch_size: tuple[int, int]  # (height, width) of one patch, from its config
    resize: tuple[int, int] | int | None  # (h, w): squash to this; int: shorter side to this; None: straight to image_size
    crop: tuple[int, int] | None  # centre crop (h, w) after the resize, or None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    real_weights: bool  # False for the test zoo's random weights
    source: str

    # Same as the CNN bundle's: where the weights live, and photo -> normalised 1x3xHxW tensor
    # (it reads only .model, .mean and .std, which a ViT bundle has too).
    device = CNN.device
    dtype = CNN.dtype
    to_tensor = CNN.to_tensor

    @property
    def grid(self) -> tuple[int, int]:
        """(rows, cols) of the patch grid."""
        return patch_grid(self.image_size, self.patch_size)

    @property
    def attn_implementation(self) -> str:
        return str(getattr(self.model.config, "_attn_implementation", None) or "eager")

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def num_heads(self) -> int:
        return int(self.model.config.num_attention_heads)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def fit_image(self, img: Image.Image) -> Image.Image:
        """What the network sees: the image processor's resize and centre crop, ending at image_size."""
        img = img.convert("RGB")
        if isinstance(self.resize, int):
            w, h = img.size
            scale = self.resize / min(w, h)
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
        elif self.resize is not None:
            img = img.resize((self.resize[1], self.resize[0]), Image.Resampling.BICUBIC)
        if self.crop is not None:
            w, h = img.size
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            left, top = (w - cw) // 2, (h - ch) // 2
            img = img.crop((left, top, left + cw, top + ch))
        if img.size != (self.image_size[1], self.image_size[0]):
            img = img.resize((self.image_size[1], self.image_size[0]), Image.Resampling.BICUBIC)
        return img


def patch_grid(image_size, patch_size) -> tuple[int, int]:
    """(rows, cols) of patches: image 224 with patch 16 gives (14, 14); the remainder pixels are dropped
    exactly as the strided patch convolution drops them."""
    (ih, iw), (ph, pw) = _pair(image_size), _pair(patch_size)
    if ph <= 0 or pw <= 0 or ph > ih or pw > iw:
        raise ValueError(f"patch size {ph}x{pw} does not fit image size {ih}x{iw}")
    return ih // ph, iw // pw


def _finish(model: torch.nn.Module, device, dtype) -> torch.nn.Module:
    return model.eval().to(device=device, dtype=dtype).requires_grad_(False)


def _labels_from_config(config) -> list[str]:
    id2label = getattr(config, "id2label", None) or {}
    if len(id2label) == 1000 and str(id2label.get(0, "")).startswith("LABEL_"):
        return imagenet_categories()
    return [str(id2label[i]) for i in sorted(id2label)]


def _size_pair(size) -> tuple[int, int] | int | None:
    """An image processor's size ({'height','width'}, {'shortest_edge'}, an int or None) as fit_image wants it."""
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    get = size.get if hasattr(size, "get") else (lambda k, d=None: getattr(size, k, d))
    if get("height") and get("width"):
        return int(get("height")), int(get("width"))
    if get("shortest_edge"):
        return int(get("shortest_edge"))
    return None


# The files the loader reads from a ViT repository (a tuple: any one of them).
HUB_FILES = ("config.json", "preprocessor_config.json", ("model.safetensors", "pytorch_model.bin"))

# The repositories' preprocessor_config.json, as published (in the older "feature extractor" format,
# which transformers still reads): DeiT resizes to 256 and centre-crops 224 with ImageNet statistics;
# google/vit-* squash to 224 with mean = std = 0.5.
PREPROCESSOR_CONFIGS = {
    "deit_tiny": {"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
                  "feature_extractor_type": "DeiTFeatureExtractor", "image_mean": list(IMAGENET_MEAN),
                  "image_std": list(IMAGENET_STD), "resample": 3, "size": 256},
    "vit_base": {"do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
                 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": 224},
}


def _hf_cached(name: str):
    repo, _, _ = HF_VITS[name]

    def is_cached() -> bool:
        return hub_files_cached(repo, HUB_FILES)

    return is_cached


def _hf_loader(name: str):
    repo, _, _ = HF_VITS[name]

    def load(device, dtype, download: bool) -> ViT:
        from transformers import AutoImageProcessor, ViTForImageClassification

        if not download and not _hf_cached(name)():
            raise WeightsMissing(f"{repo} is not in the Hugging Face cache")
        try:
            model = ViTForImageClassification.from_pretrained(
                repo, attn_implementation="eager", local_files_only=not download)
            processor = AutoImageProcessor.from_pretrained(repo, local_files_only=not download)
        except OSError as exc:  # transformers' "couldn't find them in the cached files" (and missing files)
            if download:
                raise
            raise WeightsMissing(f"{repo}: {str(exc).splitlines()[0][:120]}") from exc
        config = model.config
        do_resize = getattr(processor, "do_resize", True)
        do_crop = getattr(processor, "do_center_crop", False)
        crop = _size_pair(getattr(processor, "crop_size", None)) if do_crop else None
        if isinstance(crop, int):
            crop = (crop, crop)
        mean = tuple(float(v) for v in (getattr(processor, "image_mean", None) or IMAGENET_MEAN))
        std = tuple(float(v) for v in (getattr(processor, "image_std", None) or IMAGENET_STD))
        return ViT(name, _finish(model, device, dtype), _labels_from_config(config),
                   _pair(config.image_size), _pair(config.patch_size),
                   _size_pair(getattr(processor, "size", None)) if do_resize else None, crop,
                   mean, std, True, f"Hugging Face {repo}")

    return load


def build_vit(name: str = "vit", *, image_size=224, patch_size=16, hidden_size=48, num_hidden_layers=2,
              num_attention_heads=3, intermediate_size=None, attn_implementation: str = "eager",
              device="cpu", dtype=torch.float32, seed: int = 0) -> ViT:
    """A randomly initialised ViT classifier of any shape (1000 ImageNet classes), built locally.

    The test zoo uses small ones; benchmarks use the real configurations (REAL_CONFIGS), whose
    compute cost does not depend on the weight values.
    """
    from transformers import ViTConfig, ViTForImageClassification

    labels = imagenet_categories()
    config = ViTConfig(
        image_size=image_size, patch_size=patch_size, hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers, num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size or 4 * hidden_size, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={c: i for i, c in enumerate(labels)},
        attn_implementation=attn_implementation,
    )
    torch.manual_seed(seed)
    model = ViTForImageClassification(config)
    size = _pair(image_size)
    # Squash to the input size with ImageNet statistics, as google/vit-* preprocess (mean/std aside).
    return ViT(name, _finish(model, device, dtype), labels, size, _pair(patch_size), size, None,
               IMAGENET_MEAN, IMAGENET_STD, False, "random init (test zoo)")


def build_real_architecture(name: str, device="cpu", dtype=torch.float32) -> ViT:
    """The real deit_tiny / vit_base architecture with random weights (for benchmarks; no download)."""
    return build_vit(name, image_size=224, patch_size=16, device=device, dtype=dtype, **REAL_CONFIGS[name])


TINY_LAYERS = 2


def _tiny_heads(name: str) -> int:
    return min(REAL_CONFIGS[name]["num_attention_heads"], 4)


def _tiny_builder(name: str):
    def build_tiny(device, dtype) -> ViT:
        # Same family and input geometry (224 px, 16 px patches: a 14x14 grid), but 2 narrow layers.
        heads = _tiny_heads(name)
        return build_vit(name, image_size=224, patch_size=16, hidden_size=16 * heads,
                         num_hidden_layers=TINY_LAYERS, num_attention_heads=heads, device=device, dtype=dtype)

    return build_tiny


def model_shape(name: str, tiny: bool | None = None) -> tuple[int, int, int]:
    """(layers, heads, patches) a spec will have once loaded, known without loading it (for the UI's sliders)."""
    from core.models import tiny_default

    tiny = tiny_default() if tiny is None else tiny
    rows, cols = patch_grid(224, 16)
    if tiny:
        return TINY_LAYERS, _tiny_heads(name), rows * cols
    return REAL_CONFIGS[name]["num_hidden_layers"], REAL_CONFIGS[name]["num_attention_heads"], rows * cols


def write_tiny_repo(repo_id: str, folder) -> None:
    """A ViT repository's layout with tiny random weights, for the tests' local hub mirror: config.json
    and model.safetensors of a ViTForImageClassification with the real depth, heads, patch grid and 1000
    ImageNet labels but 4-8 dimensions per head; the same weights as pytorch_model.bin (the repositories
    carry both); the published preprocessor_config.json."""
    import json
    from pathlib import Path

    from transformers import ViTConfig, ViTForImageClassification

    name = next(n for n, (repo, _, _) in HF_VITS.items() if repo == repo_id)
    real = REAL_CONFIGS[name]
    heads = real["num_attention_heads"]
    hidden = heads * (4 if heads > 4 else 8)
    labels = imagenet_categories()
    config = ViTConfig(image_size=224, patch_size=16, hidden_size=hidden, num_hidden_layers=real["num_hidden_layers"],
                       num_attention_heads=heads, intermediate_size=4 * hidden, num_labels=len(labels),
                       id2label=dict(enumerate(labels)), label2id={c: i for i, c in enumerate(labels)},
                       architectures=["ViTForImageClassification"])
    torch.manual_seed(0)
    model = ViTForImageClassification(config).eval()
    folder = Path(folder)
    model.save_pretrained(folder)  # config.json + model.safetensors
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    (folder / "preprocessor_config.json").write_text(json.dumps(PREPROCESSOR_CONFIGS[name], indent=2) + "\n")


for _name, (_repo, _mb, (_ko, _en)) in HF_VITS.items():
    register(ModelSpec(
        name=_name, family="vit", source=f"Hugging Face {_repo}",
        load=_hf_loader(_name), build_tiny=_tiny_builder(_name), approx_mb=_mb,
        prefetch_default=True, description={"ko": _ko, "en": _en},
        hub_repos=(_repo,), write_tiny_repo=write_tiny_repo, is_cached=_hf_cached(_name),
        download_url=hub_endpoint,
    ))


def vit_names() -> list[str]:
    return list(HF_VITS)


def default_vit_name(device: torch.device | None = None) -> str:
    """deit_tiny on a CPU (fast enough on 2 cores), vit_base where a GPU is there."""
    from core.models import default_device

    device = device or default_device()
    return CPU_DEFAULT if torch.device(device).type == "cpu" else GPU_DEFAULT


def load_vit(name: str | None = None, device=None, dtype=None, tiny: bool | None = None) -> ViT:
    """A ViT through the shared loader (the default one for this machine when no name is given)."""
    from core import models

    return models.get(name or default_vit_name(), device=device, dtype=dtype, tiny=tiny)
