"""① Take a pretrained model, ② freeze layers, ③ add a new output layer.

① an ImageNet CNN from the shared loader; ② the first stages keep their ImageNet weights (no
gradients, never changed); ③ Linear(features -> number of classes) replaces the 1000-class layer.
The frozen stages run from one shared channels-last copy of the loaded body; the stages a session
trains are always its own deep copies.
"""
from __future__ import annotations

import copy
import dataclasses
import itertools
import math

import torch
from PIL import Image

from core import memory, values
from core.text import Message
from core.zoo.cnn import CNN, load_cnn, stages
from tabs.finetune.data import Name
from tabs.finetune.settings import BACKBONES, SETTINGS
from tabs.finetune.text import TEXT

# ================================================================ ① Take a pretrained model


def pretrained(name) -> tuple[CNN, list[Message]]:
    """The ImageNet CNN `name` from the shared loader (EfficientNet-Lite0 when its weights are missing)."""
    notes: list[Message] = []
    name = SETTINGS["backbone"].take(name, notes)
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
    """How many stages to freeze: 0 (train everything) to all of the body (only the new layer learns).
    None: all of it. The bound is this backbone's number of stages, known only once it is loaded."""
    n_body = len(body_stages(cnn))
    take = values.keep(notes)
    return take(values.clamp(n_body if value is None else value, 0, n_body, n_body, SETTINGS["n_frozen"].label,
                             integer=True))


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


BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d, torch.nn.SyncBatchNorm)


def _freeze_batchnorm(module: torch.nn.Module) -> None:
    """Keep BatchNorm statistics from ImageNet: small batches of a few classes would spoil them."""
    for m in module.modules():
        if isinstance(m, BATCH_NORMS):  # timm's BatchNormAct2d is a BatchNorm2d
            m.eval()


def new_output_layer(feature_dim: int, n_classes: int) -> torch.nn.Linear:
    """Linear(features -> classes), the same starting layer every run (comparable curves), drawn without
    touching torch's global generator: U(-1/sqrt(in), 1/sqrt(in)), which is what torch's default init draws from."""
    head = torch.nn.Linear(feature_dim, n_classes)
    bound = 1 / math.sqrt(feature_dim)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        torch.nn.init.uniform_(head.weight, -bound, bound, generator=generator)
        torch.nn.init.uniform_(head.bias, -bound, bound, generator=generator)
    return head


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
        self.head = (copy.deepcopy(previous.head) if continuing
                     else new_output_layer(backbone_of(cnn).feature_dim, len(class_names)))
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
