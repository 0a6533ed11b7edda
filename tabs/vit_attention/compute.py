"""ViT attention: a photo becomes a sequence of patches, and we watch where a Vision Transformer looks.

Read top to bottom, as the lesson goes:
1. the photo is fitted to the network's input and cut into a grid of patches (`patch_grid`, `patch_box`);
2. one forward pass with the attention weights handed back (`run_forward`): every layer's and every
   head's T x T attention, the class probabilities and the learned position embeddings. It is kept
   per photo and model in a memory store (`forward_of`), so choosing another layer, head or patch
   only reads it again;
3. position embeddings: how alike the embedding of one position is to every other (`position_similarity`);
4. attention for one choice of layer, head and patch (`attend`): what [CLS] looks at, what every head
   looks at, the attention rollout through the layers (Abnar & Zuidema, 2020), where one patch looks;
5. the prediction: the top-5 classes (ImageNet classes by their index, so they can be named in Korean),
   beside the CNN's Grad-CAM of the same photo (`cnn_gradcam`), local features against global relations.

No Gradio and no language here: notes are `Message`s, bad input raises `Problem`s.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core import charts, classnames, cnn_analysis, memory, models, text, values
from core.images import load_image
from core.zoo import vit as vit_zoo
from tabs.vit_attention.text import TEXT

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
FIRST_EXAMPLE = EXAMPLES / "cat.jpg"  # the worked example shown when the tab opens
MEAN_HEAD = "mean"  # the head picker's value for "the mean over the heads"


def example_photos() -> list[Path]:
    return sorted(EXAMPLES.glob("*.jpg"))


# ---------------------------------------------------------------- 1. the photo as a grid of patches


def patch_grid(image_size, patch_size) -> tuple[int, int]:
    """(rows, cols) of the patch grid for an image size and patch size (ints or (h, w) pairs)."""
    return vit_zoo.patch_grid(image_size, patch_size)


def patch_box(index: int, rows: int, cols: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) in pixels of patch `index` (row by row from 0) on a height x width picture of the grid."""
    r, c = divmod(int(index), cols)
    return round(c * width / cols), round(r * height / rows), round((c + 1) * width / cols), round((r + 1) * height / rows)


def patch_at(x: float, y: float, rows: int, cols: int, height: int, width: int) -> int:
    """The patch number under pixel (x, y) of a height x width picture of the grid (clamped to the grid)."""
    c = min(cols - 1, max(0, int(x * cols / width)))
    r = min(rows - 1, max(0, int(y * rows / height)))
    return r * cols + c


def middle_patch(rows: int, cols: int) -> int:
    """The patch in the middle of the photo, where the subject usually is: the first one chosen."""
    return (rows // 2) * cols + cols // 2


# ---------------------------------------------------------------- 2. one forward pass, attentions out


def check_model_name(model_name: str | None) -> str:
    """A ViT of this lesson by name (the machine's default when none); other names are refused."""
    names = vit_zoo.vit_names()
    if model_name in (None, ""):
        return vit_zoo.default_vit_name()
    if model_name not in names:
        raise TEXT.problem("unknown_model", names=", ".join(names), got=repr(model_name))
    return model_name


def load_vit(model_name: str | None):
    """The chosen ViT through the shared loader."""
    return models.get(check_model_name(model_name))


@dataclasses.dataclass
class Forward:
    """One photo through one ViT: everything the pictures are drawn from."""

    view: np.ndarray  # H x W x 3 uint8: what the network saw (its input size)
    attentions: np.ndarray  # L x H x T x T float32, every row a probability distribution
    probs: np.ndarray  # class probabilities
    pos_embed: np.ndarray  # T x D learned position embeddings
    similarity: np.ndarray  # N x N cosine similarity of the patches' position embeddings (step 3)
    rows: int
    cols: int
    n_prefix: int  # tokens before the patches ([CLS], and [DIST] for distilled models)

    @property
    def num_layers(self) -> int:
        return self.attentions.shape[0]

    @property
    def num_heads(self) -> int:
        return self.attentions.shape[1]

    @property
    def num_patches(self) -> int:
        return self.rows * self.cols

    @property
    def num_tokens(self) -> int:
        return self.attentions.shape[-1]

    @property
    def nbytes(self) -> int:  # what one entry costs in the memory budget
        return sum(a.nbytes for a in (self.view, self.attentions, self.probs, self.pos_embed, self.similarity))


def no_attention(vit) -> text.Problem:
    return text.Problem(TEXT.msg("no_attention", name=vit.name, impl=vit.attn_implementation),
                        TEXT.msg("no_attention_title"))


def run_forward(vit, view: Image.Image) -> Forward:
    """The fitted photo through the network once, with its attention weights (eager attention only)."""
    with torch.inference_mode():
        out = vit.model(vit.to_tensor(view), output_attentions=True)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise no_attention(vit)
    stacked = torch.stack([a[0] for a in attentions]).float().cpu().numpy()  # L x H x T x T
    probs = torch.softmax(out.logits[0].float(), dim=-1).cpu().numpy()
    pos_embed = vit.model.vit.embeddings.position_embeddings[0].detach().float().cpu().numpy()
    rows, cols = vit.grid
    n_prefix = stacked.shape[-1] - rows * cols
    if n_prefix < 1:
        raise ValueError(f"{stacked.shape[-1]} tokens for a {rows}x{cols} grid")
    return Forward(np.asarray(view.convert("RGB")), stacked, probs, pos_embed,
                   position_similarity(pos_embed, n_prefix).astype(np.float32), rows, cols, n_prefix)


# Forward passes kept per (model, photo), counted in the app's one memory budget. A ViT-Base entry holds
# 12 x 12 x 197 x 197 attention weights (22 MB), a DeiT-Tiny one 5.6 MB; the budget drops the least
# recently used entries of every store when it is full.
FORWARDS = memory.Store("vit_attention.forward", size=lambda forward: forward.nbytes, max_entries=32)


def forward_of(vit, image) -> Forward:
    """The forward pass of a photo (anything `load_image` takes) through `vit`, computed once per photo and model:
    a click on another layer, head or patch of the same photo finds it here and only draws."""
    view = vit.fit_image(load_image(image))
    key = (vit.name, vit.source, id(vit.model), hashlib.blake2b(view.tobytes(), digest_size=16).hexdigest())
    return FORWARDS.get_or_compute(key, lambda: run_forward(vit, view))


# ---------------------------------------------------------------- 3. position embeddings


def position_similarity(pos_embed: np.ndarray, n_prefix: int = 1) -> np.ndarray:
    """N x N cosine similarities between the position embeddings of the N patches (prefix tokens dropped)."""
    patches = np.asarray(pos_embed, dtype=np.float64)[n_prefix:]
    norms = np.linalg.norm(patches, axis=1, keepdims=True)
    unit = patches / np.where(norms > 0, norms, 1.0)
    return np.clip(unit @ unit.T, -1.0, 1.0)


# ---------------------------------------------------------------- 4. attention for one choice


def head_attention(attentions: np.ndarray, layer: int, head: int | None) -> np.ndarray:
    """T x T attention of one layer (0-based) for one head (0-based), or the mean over heads (head=None)."""
    per_layer = attentions[layer]
    return per_layer.mean(axis=0) if head is None else per_layer[head]


def attention_rollout(layers: np.ndarray, upto: int | None = None) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) of per-layer attention matrices.

    layers: L x T x T, each row a probability distribution (heads already averaged).
    Each layer's matrix gets the identity added (the residual connection carries every token
    forward), its rows are renormalised to sum to 1, and the layers are multiplied in order:
    R = A_l' ... A_2' A_1'. Row 0 of R says how much each input token flows into [CLS] at layer l.
    """
    layers = np.asarray(layers, dtype=np.float32)
    if layers.ndim != 3 or layers.shape[1] != layers.shape[2]:
        raise ValueError(f"expected L x T x T attention, got shape {layers.shape}")
    count = len(layers) if upto is None else max(0, min(int(upto), len(layers)))
    eye = np.eye(layers.shape[1], dtype=np.float32)
    result = eye.copy()
    for attention in layers[:count]:
        mixed = attention + eye
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result
    return result


def rollout_row(layers: np.ndarray, token: int = 0, upto: int | None = None) -> np.ndarray:
    """Row `token` of attention_rollout(layers, upto), by vector-matrix products (L*T^2, not L*T^3 work).

    e_token^T A_l' ... A_1': start from the one-hot row and multiply by the layers from the last down.
    """
    layers = np.asarray(layers, dtype=np.float32)
    count = len(layers) if upto is None else max(0, min(int(upto), len(layers)))
    row = np.zeros(layers.shape[-1], dtype=np.float32)
    row[token] = 1.0
    for attention in layers[:count][::-1]:
        mixed = attention + np.eye(len(attention), dtype=np.float32)
        row = (row / mixed.sum(axis=-1)) @ mixed  # (row / rowsums) @ M  ==  row @ (M with rows renormalised)
    return row


@dataclasses.dataclass
class Choice:
    layer: int  # 1-based
    head: int | None  # 1-based, None = the mean over heads
    patch: int  # 0-based
    notes: list[text.Message]  # what was changed to bring the request into range

    @property
    def head_value(self) -> str:
        """The head picker's value for this choice."""
        return MEAN_HEAD if self.head is None else str(self.head)


def head_values(num_heads: int) -> list[str]:
    """The head picker's values: the mean over heads, then every head by its 1-based number."""
    return [MEAN_HEAD] + [str(h) for h in range(1, num_heads + 1)]


def _head_value(head) -> str:
    """What the picker or an API caller sent, as a picker value (2, 2.0 and "2" are the same head)."""
    if head is None or (isinstance(head, str) and head.strip().lower() in ("", MEAN_HEAD)):
        return MEAN_HEAD
    if isinstance(head, (int, float)) and not isinstance(head, bool) and np.isfinite(head) and head == int(head):
        return str(int(head))
    return str(head).strip()


def choose(layer, head, patch, num_layers: int, num_heads: int, rows: int, cols: int) -> Choice:
    """Bring what the controls or the API sent into range, with a note for every value changed.
    None means the default: the last layer, the mean over heads, the middle patch."""
    # The limits are the model's (its layers, heads and patches): known at run time, so not declared settings.
    notes: list[text.Message] = []
    take = values.keep(notes)
    layer_used = num_layers if layer is None else take(values.clamp(
        layer, 1, num_layers, num_layers, TEXT.msg("layer"), integer=True))
    head_used = take(values.choice(_head_value(head), head_values(num_heads), MEAN_HEAD, TEXT.msg("head")))
    middle = middle_patch(rows, cols)
    patch_used = middle if patch is None else take(values.clamp(
        patch, 0, rows * cols - 1, middle, TEXT.msg("patch"), integer=True))
    return Choice(int(layer_used), None if head_used == MEAN_HEAD else int(head_used), int(patch_used), notes)


@dataclasses.dataclass
class Maps:
    """The attention of one (layer, head, patch) choice, as one weight per patch (row by row)."""

    cls: np.ndarray  # N: how much [CLS] attends to each patch (the chosen head, or their mean)
    rollout: np.ndarray  # N: rollout from layer 1 up to the chosen layer, [CLS] row
    patch: np.ndarray  # N: where the chosen patch attends
    similarity: np.ndarray  # N: position-embedding similarity of the chosen patch to every patch
    every_head: np.ndarray  # (1 + H) x N: [CLS] attention of the mean over heads, then of each head


def attend(forward: Forward, choice: Choice) -> Maps:
    """Step 4 for one choice: only slicing and small products of the stored forward pass."""
    prefix = forward.n_prefix
    layer0 = choice.layer - 1
    attention = head_attention(forward.attentions, layer0, None if choice.head is None else choice.head - 1)
    layer_heads = forward.attentions[layer0][:, 0, prefix:]  # H x N: each head's [CLS] row
    rollout = rollout_row(forward.attentions.mean(axis=1), token=0, upto=choice.layer)
    return Maps(
        cls=attention[0, prefix:],
        rollout=rollout[prefix:],
        patch=attention[prefix + choice.patch, prefix:],
        similarity=forward.similarity[choice.patch],
        every_head=np.concatenate([layer_heads.mean(axis=0, keepdims=True), layer_heads]),
    )


# ---------------------------------------------------------------- 5. the prediction


@functools.lru_cache(maxsize=8)
def _imagenet_order(labels: tuple[str, ...]) -> bool:
    english = classnames.imagenet("en")  # torchvision's names, in ImageNet-1k's class order
    if len(labels) != len(english):
        return False
    # Hugging Face configs write ImageNet's WordNet synonyms ("tabby, tabby cat"); torchvision keeps one
    # name ("tabby"). The first synonym is torchvision's name for 998 of the 1000 classes.
    same = sum(label.split(",")[0].strip().lower() == name.lower() for label, name in zip(labels, english))
    return same >= 0.95 * len(english)


def imagenet_order(labels) -> bool:
    """Whether a model's class names are ImageNet-1k's, in ImageNet's order: then class i is ImageNet
    class i, and `core.classnames` names it in Korean."""
    return _imagenet_order(tuple(str(label) for label in labels))


@dataclasses.dataclass(frozen=True)
class Prediction:
    index: int  # the model's class index
    probability: float
    label: str  # the model's own name for the class
    imagenet: bool  # the index is an ImageNet-1k class index


def top5(probs: np.ndarray, labels) -> list[Prediction]:
    """The five most likely classes (the app's one top-k, `core.charts.top_k`)."""
    imagenet = imagenet_order(labels)
    return [Prediction(i, p, str(labels[i]), imagenet) for i, p in charts.top_k(probs, 5)]


@dataclasses.dataclass
class Facts:
    """The numbers of the ViT pipeline for one model (the info box)."""

    name: str
    real_weights: bool
    source: str
    image_size: tuple[int, int]  # (height, width)
    patch_size: tuple[int, int]
    rows: int
    cols: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_tokens: int
    n_prefix: int


def facts(vit, forward: Forward) -> Facts:
    return Facts(vit.name, vit.real_weights, vit.source, tuple(vit.image_size), tuple(vit.patch_size),
                 forward.rows, forward.cols, vit.hidden_size, forward.num_layers, forward.num_heads,
                 forward.num_tokens, forward.n_prefix)


# ---------------------------------------------------------------- the whole lesson for one request


@dataclasses.dataclass
class Analysis:
    facts: Facts
    forward: Forward
    choice: Choice
    maps: Maps
    predictions: list[Prediction]


def analyse(vit, image, layer=None, head=MEAN_HEAD, patch=None) -> Analysis:
    """Everything the tab shows for one photo, one model and one (layer, head, patch) choice."""
    forward = forward_of(vit, image)
    choice = choose(layer, head, patch, forward.num_layers, forward.num_heads, forward.rows, forward.cols)
    return Analysis(facts(vit, forward), forward, choice, attend(forward, choice), top5(forward.probs, vit.labels))


# ---------------------------------------------------------------- the CNN beside it


@dataclasses.dataclass
class CnnView:
    """The CNN lesson's Grad-CAM of the same photo: local features, for the contrast with global attention."""

    crop: np.ndarray  # the CNN's centre crop, H x W x 3 uint8
    heat: np.ndarray  # Grad-CAM of the top class, H x W in 0..1
    predictions: list[Prediction]
    name: str
    source: str
    note: text.Message | None  # the offline CNN stands in for a missing one


def cnn_gradcam(image) -> CnnView:
    """The CNN lesson's starting CNN on the same photo: one pass gives its top-5 and the Grad-CAM of its top class."""
    cnn, note = cnn_analysis.load(None)
    result = cnn_analysis.analyse(cnn, image, cam_at=cnn_analysis.facts(cnn).cam_layer)
    return CnnView(result.crop, result.cam, top5(result.probs, cnn.categories),
                   cnn_analysis.display_name(cnn.name), cnn.source, note)
