"""ViT tab: a photo becomes a sequence of patches, and we watch where a real Vision Transformer looks.

Patches with their numbers, the flattened token sequence with [CLS] in front, position-embedding
similarity, [CLS] attention per layer and head, all heads of a layer, attention rollout (Abnar &
Zuidema, 2020), where a clicked patch attends, and the top-5 classes beside the CNN tab's Grad-CAM.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import torch
from PIL import Image

from core import draw, i18n, ui
from core.i18n import UserError, t
from core.images import load_image
from core.zoo import vit as vit_zoo

TAB_ID = "vit_attention"
TITLE = "vit_attention.title"

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"
DISPLAY_SIDE = 448  # the photo is shown at about this size (an integer multiple of the model input)
GRID_SIDE = 672  # the numbered patch grid is shown larger, so the numbers stay readable
HIGHLIGHT = (255, 220, 0)  # the chosen patch, drawn on every map
MEAN_HEAD = "mean"

i18n.add({
    "vit_attention.title": ("3. ViT 어텐션", "3. ViT attention"),
    "vit_attention.image": ("사진", "Photo"),
    "vit_attention.model": ("ViT 모델", "ViT model"),
    "vit_attention.run": ("패치로 나누고 어텐션 보기", "Split into patches and show attention"),
    "vit_attention.examples": ("예시 사진", "Example photos"),
    "vit_attention.patches": ("### 1. 패치로 자른 입력 (패치를 클릭하면 그 패치를 고릅니다)",
                              "### 1. The input cut into patches (click a patch to choose it)"),
    "vit_attention.strip": ("### 2. 한 줄로 펼친 패치: 맨 앞에 [CLS] 토큰, 그 뒤로 패치 0, 1, 2, ...",
                            "### 2. The patches flattened into one sequence: [CLS] first, then patch 0, 1, 2, ..."),
    "vit_attention.pos_header": ("### 3. 위치 임베딩", "### 3. Position embeddings"),
    "vit_attention.pos_one": ("고른 패치의 위치 임베딩과 모든 위치의 코사인 유사도 (보라 -1 … 노랑 +1)",
                              "Cosine similarity of the chosen patch's position embedding to every position "
                              "(purple -1 … yellow +1)"),
    "vit_attention.pos_all": ("모든 패치의 유사도 지도 (작은 그림 하나 = 패치 하나)",
                              "The similarity map of every patch (one small picture = one patch)"),
    "vit_attention.attn_header": ("### 4. 어텐션: 어디를 보는가", "### 4. Attention: where does it look?"),
    "vit_attention.layer": ("층 (layer)", "Layer"),
    "vit_attention.head": ("헤드 (head)", "Head"),
    "vit_attention.patch": ("고른 패치 번호", "Chosen patch number"),
    "vit_attention.cls_attn": ("[CLS] 토큰이 각 패치를 보는 정도", "How much the [CLS] token attends to each patch"),
    "vit_attention.rollout": ("어텐션 롤아웃 (1층부터 고른 층까지 누적)", "Attention rollout (layers 1 to the chosen one)"),
    "vit_attention.patch_attn": ("고른 패치(노란 칸)가 보는 곳 (사진을 클릭해 바꾸기)",
                                 "Where the chosen patch (yellow) attends (click the photo to change it)"),
    "vit_attention.heads": ("이 층의 모든 헤드가 본 [CLS] 어텐션", "[CLS] attention of every head of this layer"),
    "vit_attention.pred_header": ("### 5. 예측: Transformer 와 CNN 비교", "### 5. Prediction: Transformer versus CNN"),
    "vit_attention.top5": ("ViT 상위 5개 예측", "ViT top-5 predictions"),
    "vit_attention.gradcam": ("같은 사진에 대한 CNN의 Grad-CAM", "The CNN's Grad-CAM for the same photo"),
    "vit_attention.cnn_top": ("CNN 상위 5개 예측", "CNN top-5 predictions"),
})


# ---------------------------------------------------------------- pure compute: geometry


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


def display_scale(image_size: tuple[int, int], side: int = DISPLAY_SIDE) -> int:
    """Integer zoom so the model input is shown at about `side` px (patch borders stay on pixels)."""
    return max(1, round(side / max(image_size)))


# ---------------------------------------------------------------- pure compute: attention maths


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
    tokens = layers.shape[1]
    eye = np.eye(tokens, dtype=np.float32)
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


def position_similarity(pos_embed: np.ndarray, n_prefix: int = 1) -> np.ndarray:
    """N x N cosine similarities between the position embeddings of the N patches (prefix tokens dropped)."""
    patches = np.asarray(pos_embed, dtype=np.float64)[n_prefix:]
    norms = np.linalg.norm(patches, axis=1, keepdims=True)
    unit = patches / np.where(norms > 0, norms, 1.0)
    return np.clip(unit @ unit.T, -1.0, 1.0)


def head_attention(attentions: np.ndarray, layer: int, head: int | None) -> np.ndarray:
    """T x T attention of one layer (0-based) for one head (0-based), or the mean over heads (head=None)."""
    per_layer = attentions[layer]
    return per_layer.mean(axis=0) if head is None else per_layer[head]


# ---------------------------------------------------------------- the forward pass (cached per photo)


@dataclasses.dataclass
class Forward:
    """One photo through one ViT: everything the pictures are drawn from."""

    view: Image.Image  # what the network saw (image_size)
    attentions: np.ndarray  # L x H x T x T
    probs: np.ndarray  # class probabilities
    pos_embed: np.ndarray  # T x D
    rows: int
    cols: int
    n_prefix: int  # tokens before the patches ([CLS], and [DIST] for distilled models)


_CACHE: OrderedDict[tuple, Forward] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4  # a ViT-Base entry holds 12 x 12 x 197 x 197 attention weights: about 22 MB


def no_attention_error(vit) -> UserError:
    impl = vit.attn_implementation
    return UserError(
        f"모델 '{vit.name}'이(가) 어텐션 가중치를 내보내지 않습니다 (attention 구현: {impl}). "
        "SDPA·flash 같은 빠른 구현은 가중치를 계산만 하고 돌려주지 않으므로, eager attention 으로 불러온 모델이 필요합니다.",
        f"Model '{vit.name}' does not return its attention weights (attention implementation: {impl}). "
        "Fast kernels such as SDPA or flash compute the weights without handing them back, so the model must be "
        "loaded with eager attention.",
        title="어텐션 없음 / No attention weights",
    )


def run_forward(vit, image: Image.Image, use_cache: bool = True) -> Forward:
    """Fit the photo to the network, run it once with attentions, keep the result for the next question."""
    view = vit.fit_image(image)
    key = (id(vit.model), vit.name, hashlib.blake2b(view.tobytes(), digest_size=16).hexdigest())
    if use_cache:
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    with torch.inference_mode():
        out = vit.model(vit.to_tensor(view), output_attentions=True)
    attentions = getattr(out, "attentions", None)
    if not attentions or any(a is None for a in attentions):
        raise no_attention_error(vit)
    stacked = torch.stack([a[0] for a in attentions]).float().cpu().numpy()  # L x H x T x T
    probs = torch.softmax(out.logits[0].float(), dim=-1).cpu().numpy()
    pos_embed = vit.model.vit.embeddings.position_embeddings[0].detach().float().cpu().numpy()
    rows, cols = vit.grid
    n_prefix = stacked.shape[-1] - rows * cols
    if n_prefix < 1:
        raise ValueError(f"{stacked.shape[-1]} tokens for a {rows}x{cols} grid")
    forward = Forward(view, stacked, probs, pos_embed, rows, cols, n_prefix)
    if use_cache:
        with _CACHE_LOCK:
            _CACHE[key] = forward
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return forward


# ---------------------------------------------------------------- pure compute: pictures


def _zoomed(view: Image.Image, scale: int) -> np.ndarray:
    return np.asarray(view.resize((view.width * scale, view.height * scale), Image.Resampling.BICUBIC))


def _mark(image: np.ndarray, index: int, rows: int, cols: int, thickness: int = 3) -> np.ndarray:
    x0, y0, x1, y1 = patch_box(index, rows, cols, *image.shape[:2])
    cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), HIGHLIGHT, thickness)
    return image


def _fit_text_scale(text: str, width: float, height: float, most: float = 0.8) -> float:
    """The OpenCV font scale at which `text` fits in a width x height box."""
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    return max(0.25, min(most, width / tw, height / th))


def render_patch_grid(view: Image.Image, rows: int, cols: int, selected: int | None, scale: int) -> np.ndarray:
    """The network's input, zoomed, with the patch grid drawn and every patch numbered (row by row from 0)."""
    image = draw.draw_grid(_zoomed(view, scale), rows, cols, color=(255, 255, 255), thickness=1)
    h, w = image.shape[:2]
    cell_w, cell_h = w / cols, h / rows
    # Small numbers in the top-left corner of each cell, so the photo stays visible under them.
    text_scale = _fit_text_scale(str(rows * cols - 1), 0.6 * cell_w, 0.6 * cell_h, most=0.6)
    text_h = cv2.getTextSize("0", cv2.FONT_HERSHEY_SIMPLEX, text_scale, 1)[0][1]
    for index in range(rows * cols):
        x0, y0, _, _ = patch_box(index, rows, cols, h, w)
        draw.put_label(image, str(index), (x0 + 3, y0 + text_h + 3), scale=text_scale)
    if selected is not None:
        _mark(image, selected, rows, cols)
    return image


def render_strip(view: Image.Image, rows: int, cols: int, n_prefix: int, per_line: int = 24, tile: int = 28) -> np.ndarray:
    """The token sequence the Transformer reads: [CLS] (and other prefix tokens), then patch 0, 1, 2, ...

    Drawn like lines of text, left to right and top to bottom, each patch with its number below it.
    """
    arr = np.asarray(view)
    h, w = arr.shape[:2]
    tokens = n_prefix + rows * cols
    gap, label_h = 4, 14
    lines = math.ceil(tokens / per_line)
    out = np.full((lines * (tile + label_h + gap) + gap, per_line * (tile + gap) + gap, 3), 255, np.uint8)
    for token in range(tokens):
        line, slot = divmod(token, per_line)
        x, y = gap + slot * (tile + gap), gap + line * (tile + label_h + gap)
        if token < n_prefix:
            cv2.rectangle(out, (x, y), (x + tile - 1, y + tile - 1), (220, 60, 60), -1)
            name = "CLS" if token == 0 else "DST"
            draw.put_label(out, name, (x + 1, y + tile // 2 + 4), scale=_fit_text_scale(name, tile, tile))
            text = name
        else:
            index = token - n_prefix
            x0, y0, x1, y1 = patch_box(index, rows, cols, h, w)
            out[y:y + tile, x:x + tile] = cv2.resize(arr[y0:y1, x0:x1], (tile, tile), interpolation=cv2.INTER_AREA)
            text = str(index)
        cv2.putText(out, text, (x, y + tile + label_h - 3), cv2.FONT_HERSHEY_SIMPLEX,
                    _fit_text_scale("000", tile, label_h, most=0.4), (40, 40, 40), 1, cv2.LINE_AA)
    return out


def _similarity_colors(values: np.ndarray) -> np.ndarray:
    """Cosine similarity -1..1 on one fixed colour scale (viridis), so maps can be compared."""
    levels = np.clip((np.asarray(values, dtype=np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_VIRIDIS), cv2.COLOR_BGR2RGB)


def render_similarity(similarity_row: np.ndarray, rows: int, cols: int, selected: int, side: int = 336) -> np.ndarray:
    """One patch's position-embedding similarity to every position, as a rows x cols grid."""
    cell = max(1, side // max(rows, cols))
    image = cv2.resize(_similarity_colors(similarity_row.reshape(rows, cols)), (cols * cell, rows * cell),
                       interpolation=cv2.INTER_NEAREST)
    return _mark(image, selected, rows, cols, thickness=2)


def render_similarity_grid(similarity: np.ndarray, rows: int, cols: int, side: int = 640) -> np.ndarray:
    """The small multiple of the ViT paper: for every patch (placed where it sits) its similarity map."""
    cell = max(1, side // (rows * cols))
    gap = 1 if cell <= 2 else 2
    tile_h, tile_w = rows * cell, cols * cell
    out = np.full((rows * (tile_h + gap) + gap, cols * (tile_w + gap) + gap, 3), 255, np.uint8)
    colors = _similarity_colors(similarity)  # N x N x 3
    for index in range(rows * cols):
        r, c = divmod(index, cols)
        tile = np.repeat(np.repeat(colors[index].reshape(rows, cols, 3), cell, axis=0), cell, axis=1)
        y, x = gap + r * (tile_h + gap), gap + c * (tile_w + gap)
        out[y:y + tile_h, x:x + tile_w] = tile
    return out


def render_attention(base: np.ndarray, patch_weights: np.ndarray, rows: int, cols: int,
                     selected: int | None = None) -> np.ndarray:
    """A patch-level attention map (rows*cols values) as a heat map over the zoomed photo.

    Stretched from its own minimum (blue) to its maximum (red): attention is all positive and often
    nearly flat, and draw.normalize01 counts from 0, which would paint such a map all red.
    """
    weights = np.asarray(patch_weights, dtype=np.float32).reshape(rows, cols)
    image = draw.overlay_heatmap(base, weights - weights.min(), alpha=0.5)
    return _mark(image, selected, rows, cols) if selected is not None else image


def render_heads(view: Image.Image, layer_attention: np.ndarray, rows: int, cols: int, n_prefix: int,
                 tile: int = 168, per_line: int = 7) -> np.ndarray:
    """[CLS] attention of the mean and of every head of one layer, as labelled small heat maps."""
    base = np.asarray(view.resize((tile, tile), Image.Resampling.BICUBIC))
    maps = [("mean", layer_attention.mean(axis=0))] + [(f"head {h + 1}", a) for h, a in enumerate(layer_attention)]
    gap = 6
    lines = math.ceil(len(maps) / per_line)
    columns = min(per_line, len(maps))
    out = np.full((lines * (tile + gap) + gap, columns * (tile + gap) + gap, 3), 255, np.uint8)
    for i, (name, attention) in enumerate(maps):
        line, slot = divmod(i, per_line)
        y, x = gap + line * (tile + gap), gap + slot * (tile + gap)
        heat = render_attention(base, attention[0, n_prefix:], rows, cols)
        draw.put_label(heat, name, (6, 22), scale=0.6)
        out[y:y + tile, x:x + tile] = heat
    return out


# ---------------------------------------------------------------- the questions the tab answers


@dataclasses.dataclass
class Choice:
    layer: int  # 1-based
    head: int | None  # 1-based, None = mean over heads
    patch: int  # 0-based
    notes: list[str]


def clamp_choice(layer, head, patch, num_layers: int, num_heads: int, num_patches: int) -> Choice:
    """Bring what the UI or the API sent into range, saying what was changed."""
    notes = []

    def as_int(value, default):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return default, value not in (None, "")
        if not math.isfinite(number):
            return default, True
        return int(round(number)), False

    layer_i, bad = as_int(layer, num_layers)
    if bad or not 1 <= layer_i <= num_layers:
        fixed = min(num_layers, max(1, layer_i)) if not bad else num_layers
        notes.append(i18n.both(f"층 번호 {layer!r} 는 1~{num_layers} 밖이라 {fixed} 로 바꿨습니다.",
                               f"Layer {layer!r} is outside 1-{num_layers}; using {fixed}."))
        layer_i = fixed
    head_i: int | None
    if head is None or str(head).strip().lower() in ("", MEAN_HEAD):
        head_i = None
    else:
        head_i, bad = as_int(head, None)
        if bad or head_i is None or not 1 <= head_i <= num_heads:
            notes.append(i18n.both(f"헤드 {head!r} 는 1~{num_heads} 밖이라 헤드 평균을 보여 줍니다.",
                                   f"Head {head!r} is outside 1-{num_heads}; showing the mean over heads."))
            head_i = None
    patch_i, bad = as_int(patch, 0)
    if bad or not 0 <= patch_i < num_patches:
        fixed = min(num_patches - 1, max(0, patch_i)) if not bad else 0
        notes.append(i18n.both(f"패치 번호 {patch!r} 는 0~{num_patches - 1} 밖이라 {fixed} 로 바꿨습니다.",
                               f"Patch {patch!r} is outside 0-{num_patches - 1}; using {fixed}."))
        patch_i = fixed
    return Choice(layer_i, head_i, patch_i, notes)


def top_classes(probs: np.ndarray, labels: list[str], k: int = 5) -> dict[str, float]:
    """{class name: probability} of the k most likely classes, for a gr.Label (the CNN tab's top_k)."""
    from tabs.cnn_features import top_k

    return {name: p for _, name, p in top_k(probs, labels, k)}


def shapes_text(vit, forward: Forward, lang: str) -> str:
    """The numbers of the ViT pipeline for this model, in the request's language."""
    (ih, iw), (ph, pw) = vit.image_size, vit.patch_size
    n = forward.rows * forward.cols
    tokens = forward.attentions.shape[-1]
    d = vit.hidden_size
    layers, heads = forward.attentions.shape[:2]
    if vit.real_weights:
        kind = f"진짜 가중치, {vit.source}" if lang == "ko" else f"real weights, {vit.source}"
    else:
        kind = "무작위 가중치: 테스트용" if lang == "ko" else "random weights: test zoo"
    if lang == "ko":
        return (f"**{vit.name}** ({kind})\n\n"
                f"- 입력 {iw}×{ih} 픽셀 → {pw}×{ph} 패치 {forward.cols}×{forward.rows} = **{n}개**\n"
                f"- 패치 하나 = {pw}×{ph}×3 = {pw * ph * 3}개 숫자 → 선형 투영(Linear Projection) → {d}차원 벡터\n"
                f"- 맨 앞에 [CLS] 토큰을 붙여 **{tokens}개 토큰**, 각 토큰에 위치 임베딩({tokens}×{d})을 더함\n"
                f"- Transformer 인코더 {layers}층 × 헤드 {heads}개: 층마다 헤드마다 {tokens}×{tokens} 어텐션 행렬")
    return (f"**{vit.name}** ({kind})\n\n"
            f"- input {iw}×{ih} pixels → {pw}×{ph} patches, {forward.cols}×{forward.rows} = **{n} patches**\n"
            f"- one patch = {pw}×{ph}×3 = {pw * ph * 3} numbers → linear projection → a {d}-dimensional vector\n"
            f"- a [CLS] token in front makes **{tokens} tokens**; each gets a position embedding added ({tokens}×{d})\n"
            f"- Transformer encoder: {layers} layers × {heads} heads, each a {tokens}×{tokens} attention matrix")


@dataclasses.dataclass
class Analysis:
    choice: Choice
    forward: Forward
    patches: np.ndarray
    strip: np.ndarray
    pos_one: np.ndarray
    pos_all: np.ndarray
    cls_attention: np.ndarray
    heads: np.ndarray
    rollout: np.ndarray
    patch_attention: np.ndarray
    top5: dict[str, float]


def analyze(vit, image, layer=None, head=MEAN_HEAD, patch=None, use_cache: bool = True) -> Analysis:
    """Everything the tab shows for one photo, one model and one (layer, head, patch) choice."""
    img = load_image(image)
    forward = run_forward(vit, img, use_cache=use_cache)
    rows, cols, prefix = forward.rows, forward.cols, forward.n_prefix
    num_layers, num_heads = forward.attentions.shape[:2]
    if patch is None:
        patch = (rows // 2) * cols + cols // 2  # the middle of the photo, where the subject usually is
    choice = clamp_choice(num_layers if layer is None else layer, head, patch, num_layers, num_heads, rows * cols)
    layer0, head0 = choice.layer - 1, None if choice.head is None else choice.head - 1
    base = _zoomed(forward.view, display_scale(vit.image_size))
    attention = head_attention(forward.attentions, layer0, head0)
    similarity = position_similarity(forward.pos_embed, prefix)
    rollout = rollout_row(forward.attentions.mean(axis=1), token=0, upto=choice.layer)
    return Analysis(
        choice=choice, forward=forward,
        patches=render_patch_grid(forward.view, rows, cols, choice.patch, display_scale(vit.image_size, GRID_SIDE)),
        strip=render_strip(forward.view, rows, cols, prefix),
        pos_one=render_similarity(similarity[choice.patch], rows, cols, choice.patch),
        pos_all=render_similarity_grid(similarity, rows, cols),
        cls_attention=render_attention(base, attention[0, prefix:], rows, cols),
        heads=render_heads(forward.view, forward.attentions[layer0], rows, cols, prefix),
        rollout=render_attention(base, rollout[prefix:], rows, cols),
        patch_attention=render_attention(base, attention[prefix + choice.patch, prefix:], rows, cols, choice.patch),
        top5=top_classes(forward.probs, vit.labels),
    )


# ---------------------------------------------------------------- CNN side: Grad-CAM of the CNN tab


def cnn_gradcam(image) -> tuple[np.ndarray, dict[str, float], str, str | None]:
    """The CNN tab's Grad-CAM of the same photo (its default CNN), for the local-versus-global contrast.

    Returns (overlay on the CNN's centre crop, its top-5, the CNN's name and source, fallback note or None).
    """
    from tabs.cnn_features import grad_cam
    from core.zoo.cnn import load_cnn

    img = load_image(image)
    cnn, note = load_cnn()
    heat, _, cropped = grad_cam(cnn, img)
    with torch.inference_mode():
        probs = torch.softmax(cnn.model(cnn.preprocess(img))[0].float(), dim=-1).cpu().numpy()
    overlay = draw.overlay_heatmap(np.asarray(cropped), heat, alpha=0.5)
    return overlay, top_classes(probs, cnn.categories), f"{cnn.name} ({cnn.source})", note


# ---------------------------------------------------------------- Gradio


def _model_choices() -> list[tuple[str, str]]:
    return [("DeiT-Tiny (facebook/deit-tiny-patch16-224)", "deit_tiny"),
            ("ViT-Base (google/vit-base-patch16-224)", "vit_base")]


def _notes_markdown(vit, forward: Forward, choice: Choice, request) -> str:
    parts = [shapes_text(vit, forward, i18n.lang_of(request))]
    parts += [f"> {i18n.pick(request, *note.split(chr(10), 1))}" for note in choice.notes]
    return "\n\n".join(parts)


def _head_choices(num_heads: int) -> list[tuple[str, str]]:
    return [("mean · 평균", MEAN_HEAD)] + [(f"head {h}", str(h)) for h in range(1, num_heads + 1)]


def vit_for(model_name):
    """The chosen ViT (the machine's default when none); a name that is not a ViT of this tab is refused."""
    if model_name and model_name not in vit_zoo.vit_names():
        raise UserError(f"ViT 모델은 {', '.join(vit_zoo.vit_names())} 중에서 골라 주세요 (받은 값: {model_name!r}).",
                        f"Choose a ViT model among {', '.join(vit_zoo.vit_names())} (got {model_name!r}).")
    return vit_zoo.load_vit(model_name or None)


def _all_outputs(image, model_name, layer, head, patch, request):
    vit = vit_for(model_name)
    result = analyze(vit, image, layer, head, patch)
    c = result.choice
    layers, heads = result.forward.attentions.shape[:2]
    n = result.forward.rows * result.forward.cols
    return (
        _notes_markdown(vit, result.forward, c, request),
        result.patches, result.strip, result.pos_one, result.pos_all,
        result.cls_attention, result.rollout, result.patch_attention, result.heads, result.top5,
        gr.Slider(minimum=1, maximum=layers, step=1, value=c.layer),
        gr.Dropdown(choices=_head_choices(heads), value=MEAN_HEAD if c.head is None else str(c.head)),
        gr.Slider(minimum=0, maximum=n - 1, step=1, value=c.patch),
    )


def vit_attention(image, model_name, layer, head, patch, request: gr.Request = None):
    """Main event: the photo through the ViT, every picture of the tab."""
    return _all_outputs(image, model_name, layer, head, patch, request)


def _patch_selector(side: int):
    """A .select handler for a picture drawn at display_scale(image_size, side): the click picks a patch."""

    def select_patch(image, model_name, layer, head, evt: gr.SelectData, request: gr.Request = None):
        vit = vit_for(model_name)
        rows, cols = vit.grid
        scale = display_scale(vit.image_size, side)
        x, y = (evt.index or [0, 0])[:2]
        patch = patch_at(float(x), float(y), rows, cols, vit.image_size[0] * scale, vit.image_size[1] * scale)
        return _all_outputs(image, model_name, layer, head, patch, request)

    return select_patch


def rerun_if_photo(image, model_name, layer, head, patch, request: gr.Request = None):
    """After a model change: redraw everything for the photo already there; nothing (and no error) without one."""
    if image is None:
        return tuple(gr.skip() for _ in range(13))
    return _all_outputs(image, model_name, layer, head, patch, request)


def _middle_patch(num_patches: int) -> int:
    side = int(round(math.sqrt(num_patches)))
    return (side // 2) * side + side // 2 if side * side == num_patches else num_patches // 2


def reset_controls(model_name):
    """A new model: its own number of layers, heads and patches (known without loading it)."""
    layers, heads, num_patches = vit_zoo.model_shape(model_name or vit_zoo.default_vit_name())
    return (gr.Slider(minimum=1, maximum=layers, step=1, value=layers),
            gr.Dropdown(choices=_head_choices(heads), value=MEAN_HEAD),
            gr.Slider(minimum=0, maximum=num_patches - 1, step=1, value=_middle_patch(num_patches)))


def gradcam_event(image, request: gr.Request = None):
    overlay, top5, which, note = cnn_gradcam(image)
    text = i18n.pick(request, f"CNN: **{which}**, 가장 높은 클래스의 Grad-CAM",
                     f"CNN: **{which}**, Grad-CAM of its top class")
    if note:
        text += "\n\n> " + i18n.pick(request, *note.split("\n", 1))
    return overlay, top5, text


def build() -> None:
    default_model = vit_zoo.default_vit_name()
    with gr.Row():
        with gr.Column(scale=1):
            image = gr.Image(label=t("vit_attention.image"), type="pil", sources=["upload", "clipboard", "webcam"],
                             height=300, elem_id="vit-input")
            model = gr.Dropdown(_model_choices(), value=default_model, label=t("vit_attention.model"),
                                elem_id="vit-model")
            run = gr.Button(t("vit_attention.run"), variant="primary", elem_id="vit-run")
            gr.Examples([[str(p)] for p in sorted(EXAMPLES.glob("*.jpg"))], inputs=[image],
                        label=t("vit_attention.examples"))
            info = gr.Markdown(elem_id="vit-info")
        with gr.Column(scale=2):
            # Titles above (not over) these two pictures: an overlaid label would hide the first row of numbers.
            gr.Markdown(t("vit_attention.patches"))
            patches = gr.Image(show_label=False, interactive=False, elem_id="vit-patches", height=560,
                               buttons=["fullscreen"])
    gr.Markdown(t("vit_attention.strip"))
    strip = gr.Image(show_label=False, interactive=False, elem_id="vit-strip", buttons=["fullscreen"])
    layers, heads_count, num_patches = vit_zoo.model_shape(default_model)
    gr.Markdown(t("vit_attention.pos_header"))
    with gr.Row():
        patch = gr.Slider(0, num_patches - 1, value=_middle_patch(num_patches), step=1,
                          label=t("vit_attention.patch"), elem_id="vit-patch")
    with gr.Row():
        pos_one = gr.Image(label=t("vit_attention.pos_one"), interactive=False, elem_id="vit-pos-one")
        pos_all = gr.Image(label=t("vit_attention.pos_all"), interactive=False, elem_id="vit-pos-all",
                           buttons=["fullscreen"])
    gr.Markdown(t("vit_attention.attn_header"))
    with gr.Row():
        layer = gr.Slider(1, layers, value=layers, step=1, label=t("vit_attention.layer"), elem_id="vit-layer")
        head = gr.Dropdown(_head_choices(heads_count), value=MEAN_HEAD, label=t("vit_attention.head"),
                           elem_id="vit-head")
    with gr.Row():
        cls_attention = gr.Image(label=t("vit_attention.cls_attn"), interactive=False, elem_id="vit-cls")
        rollout = gr.Image(label=t("vit_attention.rollout"), interactive=False, elem_id="vit-rollout")
        patch_attention = gr.Image(label=t("vit_attention.patch_attn"), interactive=False, elem_id="vit-patch-attn")
    heads = gr.Image(label=t("vit_attention.heads"), interactive=False, elem_id="vit-heads", buttons=["fullscreen"])
    gr.Markdown(t("vit_attention.pred_header"))
    with gr.Row():
        top5 = gr.Label(num_top_classes=5, label=t("vit_attention.top5"), elem_id="vit-top5")
        with gr.Column():
            gradcam = gr.Image(label=t("vit_attention.gradcam"), interactive=False, elem_id="vit-gradcam")
            cnn_note = gr.Markdown()
        cnn_top = gr.Label(num_top_classes=5, label=t("vit_attention.cnn_top"), elem_id="vit-cnn-top5")

    pictures = [info, patches, strip, pos_one, pos_all, cls_attention, rollout, patch_attention, heads, top5,
                layer, head, patch]
    main = run.click(vit_attention, [image, model, layer, head, patch], pictures, api_name="vit_attention", **ui.MODEL)
    main.success(gradcam_event, [image], [gradcam, cnn_top, cnn_note], api_visibility="private", **ui.MODEL)
    for trigger in (layer.release, head.input, patch.release):
        trigger(vit_attention, [image, model, layer, head, patch], pictures, api_visibility="private", **ui.QUICK)
    for clickable, side in ((patches, GRID_SIDE), (patch_attention, DISPLAY_SIDE)):
        clickable.select(_patch_selector(side), [image, model, layer, head], pictures, api_visibility="private",
                         **ui.QUICK)
    # Another model: its own sliders, then the same photo through it (when there is a photo).
    model.input(reset_controls, [model], [layer, head, patch], api_visibility="private", **ui.QUICK).then(
        rerun_if_photo, [image, model, layer, head, patch], pictures, api_visibility="private", **ui.MODEL)
