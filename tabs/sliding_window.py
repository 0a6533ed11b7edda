"""Sliding window / stride / padding / pooling animator.

A small input grid, a kernel, and every position the window visits: the padded input with the
window, the element-wise products and their sum, and the output map filling in cell by cell. The
whole animation (every position) is one Plotly figure with frames, so it plays in the browser
without a server round trip per frame. The numbers are computed here with plain numpy loops (the
teaching version) and checked against torch's conv2d / max_pool2d / avg_pool2d.
"""
from __future__ import annotations

import functools
import math
import uuid
from dataclasses import dataclass
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import plotly.graph_objects as go
import plotly.io
import torch
import torch.nn.functional as F

from core import i18n, ui
from core.i18n import UserError, t
from core.images import load_image

TAB_ID = "sliding_window"
TITLE = "sliding_window.title"

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"

# Control ranges (the issue's): the API accepts anything, so everything is clamped to these.
RANGES = {
    "height": (3, 16), "width": (3, 16), "kernel_size": (1, 7), "stride": (1, 4),
    "padding": (0, 3), "dilation": (1, 3), "seed": (0, 2**31 - 1),
}
RANGE_NAMES = {  # (ko, en) names used in clamp notes
    "height": ("입력 높이", "input height"), "width": ("입력 너비", "input width"),
    "kernel_size": ("커널 크기", "kernel size"), "stride": ("스트라이드", "stride"),
    "padding": ("패딩", "padding"), "dilation": ("팽창(dilation)", "dilation"), "seed": ("시드", "seed"),
}
OPERATIONS = ("conv", "max", "avg")
SOURCES = ("random", "photo", "typed")
KERNELS = ("identity", "box", "sharpen", "sobel_x", "sobel_y", "laplacian", "typed")
MAX_TYPED_ABS = 1e6  # typed values beyond this are refused (products would lose meaning / overflow)
PHOTO_SIDE = 320  # the "on a real photo" panel works on the photo at this long side

i18n.add({
    "sliding_window.title": ("1. 슬라이딩 윈도우", "1. Sliding window"),
    "sliding_window.height": ("입력 높이", "Input height"),
    "sliding_window.width": ("입력 너비", "Input width"),
    "sliding_window.kernel_size": ("커널(창) 크기 k", "Kernel (window) size k"),
    "sliding_window.stride": ("스트라이드 s", "Stride s"),
    "sliding_window.padding": ("패딩 p", "Padding p"),
    "sliding_window.dilation": ("팽창 d (dilation)", "Dilation d"),
    "sliding_window.operation": ("연산", "Operation"),
    "sliding_window.op_conv": ("합성곱 (conv2d)", "Convolution (conv2d)"),
    "sliding_window.op_max": ("최대 풀링 (max pooling)", "Max pooling"),
    "sliding_window.op_avg": ("평균 풀링 (average pooling)", "Average pooling"),
    "sliding_window.source": ("입력 값", "Input values"),
    "sliding_window.src_random": ("무작위 정수 (시드)", "Random integers (seed)"),
    "sliding_window.src_photo": ("사진을 작게 줄여서", "A small downsampled photo"),
    "sliding_window.src_typed": ("표에 직접 입력", "Typed into the table"),
    "sliding_window.seed": ("시드 (같은 시드 = 같은 숫자)", "Seed (same seed = same numbers)"),
    "sliding_window.photo_choice": ("예시 사진", "Example photo"),
    "sliding_window.photo_upload": ("또는 내 사진 올리기", "Or upload your own photo"),
    "sliding_window.input_grid": ("직접 입력한 값 (높이×너비에 맞춰 잘리거나 0으로 채워짐)",
                                  "Typed values (cropped or zero-filled to height x width)"),
    "sliding_window.copy_input": ("지금 입력을 표로 복사", "Copy the current input into the table"),
    "sliding_window.kernel": ("커널 (합성곱일 때)", "Kernel (for convolution)"),
    "sliding_window.k_identity": ("항등 (identity)", "Identity"),
    "sliding_window.k_box": ("박스 블러 (평균)", "Box blur"),
    "sliding_window.k_sharpen": ("샤프닝", "Sharpen"),
    "sliding_window.k_sobel_x": ("소벨 x (세로 경계)", "Sobel x (vertical edges)"),
    "sliding_window.k_sobel_y": ("소벨 y (가로 경계)", "Sobel y (horizontal edges)"),
    "sliding_window.k_laplacian": ("라플라시안", "Laplacian"),
    "sliding_window.k_typed": ("표에 직접 입력", "Typed into the table"),
    "sliding_window.kernel_grid": ("직접 입력한 커널 (k×k에 맞춰짐)", "Typed kernel (fitted to k x k)"),
    "sliding_window.copy_kernel": ("고른 커널을 표로 복사", "Copy the chosen kernel into the table"),
    "sliding_window.run": ("계산하고 애니메이션 만들기", "Compute and build the animation"),
    "sliding_window.animation": ("움직이는 창 (▶ 재생, 슬라이더로 한 칸씩)", "The moving window (▶ play, slider to step)"),
    "sliding_window.explain": ("출력 크기 공식과 설명", "Output-size formula and notes"),
    "sliding_window.photo_header": ("## 진짜 사진에서는?", "## On a real photo"),
    "sliding_window.photo_gallery": ("같은 커널·스트라이드·풀링을 사진에 적용", "The same kernel, stride and pooling on a photo"),
    "sliding_window.controls": ("설정", "Settings"),
    "sliding_window.step_back": ("◀ 한 칸 뒤로", "◀ One step back"),
    "sliding_window.step_next": ("한 칸 앞으로 ▶", "One step forward ▶"),
    "sliding_window.step_first": ("◀◀ 처음으로", "◀◀ To the start"),
    "sliding_window.step_last": ("끝으로 ▶▶", "To the end ▶▶"),
})


# ----------------------------------------------------------------------------------------------
# Input checking: the UI cannot send absurd values, the API can.

def clamp_int(value, name: str, notes: list[tuple[str, str]]) -> int:
    """An integer control value in its range; out-of-range or non-integer values are clamped with a note.

    NaN and non-numbers are refused: there is no sensible value to clamp them to.
    """
    lo, hi = RANGES[name]
    ko_name, en_name = RANGE_NAMES[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{ko_name} 값이 숫자가 아닙니다: {value!r}", f"The {en_name} is not a number: {value!r}") from None
    if math.isnan(number):
        raise UserError(f"{ko_name} 값이 NaN입니다. {lo}~{hi} 사이의 정수를 주세요.",
                        f"The {en_name} is NaN. Please give an integer from {lo} to {hi}.")
    clamped = int(min(max(round(number) if math.isfinite(number) else number, lo), hi))
    if clamped != number:
        notes.append((f"{ko_name} {value!r} → {clamped} (허용 범위 {lo}~{hi}의 정수로 맞춤)",
                      f"{en_name} {value!r} → {clamped} (set to an integer in {lo}..{hi})"))
    return clamped


def choice(value, allowed: tuple[str, ...], ko_name: str, en_name: str) -> str:
    if value not in allowed:
        raise UserError(f"{ko_name} 값 {value!r}을(를) 알 수 없습니다. 가능한 값: {', '.join(allowed)}",
                        f"Unknown {en_name} {value!r}. Allowed: {', '.join(allowed)}")
    return value


def parse_grid(grid, rows: int, cols: int, what_ko: str, what_en: str,
               notes: list[tuple[str, str]]) -> np.ndarray:
    """A typed table (list of lists, pandas DataFrame or numpy array) -> float64 rows x cols.

    Bigger tables are cropped, smaller ones filled with zeros (with a note); empty cells are 0;
    text, NaN, infinities and huge numbers are refused with the cell named.
    """
    if grid is None:
        raw: list[list] = []
    elif hasattr(grid, "values") and hasattr(grid, "columns"):  # pandas DataFrame
        raw = grid.values.tolist()
    elif isinstance(grid, dict) and "data" in grid:  # Dataframe payload from the API
        raw = grid["data"]
    else:
        raw = np.asarray(grid, dtype=object).tolist() if not isinstance(grid, list) else grid
    if raw and not isinstance(raw[0], (list, tuple)):
        raw = [raw]
    out = np.zeros((rows, cols), dtype=np.float64)
    given_rows, given_cols = len(raw), max((len(r) for r in raw), default=0)
    for r, line in enumerate(raw[:rows]):
        for c, cell in enumerate(list(line)[:cols]):
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            try:
                number = float(cell)
            except (TypeError, ValueError):
                raise UserError(f"{what_ko} 표의 ({r + 1}행, {c + 1}열) 칸이 숫자가 아닙니다: {cell!r}",
                                f"The {what_en} table's cell (row {r + 1}, column {c + 1}) is not a number: {cell!r}") from None
            if not math.isfinite(number) or abs(number) > MAX_TYPED_ABS:
                raise UserError(
                    f"{what_ko} 표의 ({r + 1}행, {c + 1}열) 값 {cell!r}은(는) 쓸 수 없습니다. 절댓값 {MAX_TYPED_ABS:g} 이하의 수를 넣어 주세요.",
                    f"The {what_en} table's cell (row {r + 1}, column {c + 1}) holds {cell!r}, which cannot be used. "
                    f"Please use numbers of magnitude at most {MAX_TYPED_ABS:g}.")
            out[r, c] = number
    if (given_rows, given_cols) != (rows, cols):
        notes.append((f"{what_ko} 표({given_rows}×{given_cols})를 {rows}×{cols}에 맞췄습니다 (넘치면 자르고, 모자라면 0).",
                      f"The {what_en} table ({given_rows}x{given_cols}) was fitted to {rows}x{cols} (cropped, or filled with 0)."))
    return out


# ----------------------------------------------------------------------------------------------
# Pure compute.

def output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1: the number of window positions along one side (may be <= 0)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def named_kernel(name: str, k: int) -> np.ndarray:
    """The k x k kernel of a named filter. Sobel and Laplacian exist for odd k >= 3 only."""
    center = (k - 1) // 2
    identity = np.zeros((k, k))
    identity[center, center] = 1.0
    if name == "identity":
        return identity
    if name == "box":
        return np.full((k, k), 1.0 / (k * k))
    if name == "sharpen":
        if k == 3:
            return np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64)
        # 2 * identity - blur: the centre pixel plus (centre - local mean), the same idea at any size
        return 2 * identity - np.full((k, k), 1.0 / (k * k))
    if name in ("sobel_x", "sobel_y", "laplacian"):
        if k < 3 or k % 2 == 0:
            ko = {"sobel_x": "소벨 x", "sobel_y": "소벨 y", "laplacian": "라플라시안"}[name]
            en = {"sobel_x": "Sobel x", "sobel_y": "Sobel y", "laplacian": "Laplacian"}[name]
            raise UserError(f"{ko} 커널은 크기 3, 5, 7(홀수)만 있습니다. 커널 크기를 3으로 바꿔 보세요.",
                            f"The {en} kernel exists only in odd sizes 3, 5 and 7. Try kernel size 3.")
        if name == "laplacian":
            if k == 3:
                return np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
            d2x, smooth_y = cv2.getDerivKernels(2, 0, k, normalize=False)
            smooth_x, d2y = cv2.getDerivKernels(0, 2, k, normalize=False)
            return (smooth_y @ d2x.T + d2y @ smooth_x.T).astype(np.float64)
        dx, dy = (1, 0) if name == "sobel_x" else (0, 1)
        kx, ky = cv2.getDerivKernels(dx, dy, k, normalize=False)
        return (ky @ kx.T).astype(np.float64)  # rows follow y, columns follow x
    raise ValueError(name)


@dataclass
class Steps:
    """Every window position of one run, in the order the window visits them (row by row)."""
    operation: str
    padded: np.ndarray  # the padded input the window slides over (pad value: 0, or -inf for max pooling)
    kernel: np.ndarray  # k x k (ones for pooling: only its size matters there)
    stride: int
    padding: int
    dilation: int
    output: np.ndarray  # out_h x out_w
    windows: np.ndarray  # positions x k x k: the input values under the window
    terms: np.ndarray  # positions x k x k: products (conv) or the window values (pooling)

    @property
    def positions(self) -> int:
        return self.output.size


def pad_value(operation: str) -> float:
    # torch: conv2d pads with zeros; max_pool2d pads with -inf (padding never wins the max);
    # avg_pool2d (count_include_pad=True, the default) counts zero padding in the k*k divisor.
    return -np.inf if operation == "max" else 0.0


def impossible_reason(n_h: int, n_w: int, k: int, s: int, p: int, d: int, operation: str) -> tuple[str, str] | None:
    """Why this combination cannot run (ko, en), or None when it can."""
    span = d * (k - 1) + 1
    if operation in ("max", "avg") and p > k // 2:
        return (f"풀링에서는 패딩이 커널 크기의 절반 이하여야 합니다 (p ≤ k//2 = {k // 2}, 지금 p = {p}). "
                f"패딩을 줄이거나 커널을 키워 보세요. (torch도 같은 규칙입니다)",
                f"For pooling the padding must be at most half the kernel size (p ≤ k//2 = {k // 2}, now p = {p}). "
                f"Lower the padding or enlarge the kernel. (torch has the same rule.)")
    if operation == "avg" and d != 1:
        return ("평균 풀링에는 팽창(dilation)이 없습니다 (torch의 avg_pool2d도 지원하지 않음). d = 1로 두세요.",
                "Average pooling has no dilation (torch's avg_pool2d does not support it). Set d = 1.")
    if span > n_h + 2 * p or span > n_w + 2 * p:
        return (f"창이 패딩한 입력보다 큽니다: 창의 실제 폭 d(k-1)+1 = {span}, 패딩한 입력 {n_h + 2 * p}×{n_w + 2 * p}. "
                f"커널·팽창을 줄이거나 입력·패딩을 키워 보세요.",
                f"The window is larger than the padded input: its span d(k-1)+1 = {span}, padded input "
                f"{n_h + 2 * p}x{n_w + 2 * p}. Use a smaller kernel or dilation, or a larger input or padding.")
    return None


def slide(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int, dilation: int, operation: str) -> Steps:
    """Slide the window over x position by position, exactly as torch does (cross-correlation, no flip)."""
    x = np.asarray(x, dtype=np.float64)
    k = kernel.shape[0]
    reason = impossible_reason(x.shape[0], x.shape[1], k, stride, padding, dilation, operation)
    if reason:
        raise UserError(*reason)
    padded = np.pad(x, padding, mode="constant", constant_values=pad_value(operation))
    out_h = output_size(x.shape[0], k, stride, padding, dilation)
    out_w = output_size(x.shape[1], k, stride, padding, dilation)
    windows = np.empty((out_h * out_w, k, k))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride, j * stride
            windows[i * out_w + j] = padded[top:top + dilation * (k - 1) + 1:dilation,
                                            left:left + dilation * (k - 1) + 1:dilation]
    if operation == "conv":
        terms = windows * kernel  # element-wise products; conv2d does NOT flip the kernel
        values = terms.sum(axis=(1, 2))
    elif operation == "max":
        terms = windows
        values = windows.max(axis=(1, 2))
    else:
        terms = windows
        values = windows.sum(axis=(1, 2)) / (k * k)  # count_include_pad=True: padded zeros count
    return Steps(operation, padded, kernel, stride, padding, dilation, values.reshape(out_h, out_w), windows, terms)


def torch_reference(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int, dilation: int,
                    operation: str) -> np.ndarray:
    """The same operation by torch (float64), to check every output cell against."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))[None, None]
    k = kernel.shape[0]
    if operation == "conv":
        w = torch.as_tensor(np.asarray(kernel, dtype=np.float64))[None, None]
        out = F.conv2d(xt, w, stride=stride, padding=padding, dilation=dilation)
    elif operation == "max":
        out = F.max_pool2d(xt, k, stride=stride, padding=padding, dilation=dilation)
    else:
        out = F.avg_pool2d(xt, k, stride=stride, padding=padding, count_include_pad=True)
    return out[0, 0].numpy()


def random_input(h: int, w: int, seed: int) -> np.ndarray:
    """Small integers 0..9: easy to multiply in your head."""
    return np.random.default_rng(seed).integers(0, 10, size=(h, w)).astype(np.float64)


def example_photos() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.jpg"))


def photo_gray(photo_choice, photo_upload, max_side: int = PHOTO_SIDE) -> np.ndarray:
    """The uploaded photo (or the chosen example) as a grayscale uint8 array, long side <= max_side."""
    if photo_upload is not None:
        return _gray(load_image(photo_upload, max_side=max_side))
    if photo_choice not in example_photos():
        raise UserError(f"예시 사진 {photo_choice!r}을(를) 찾을 수 없습니다.", f"Example photo {photo_choice!r} was not found.")
    return _example_gray(photo_choice, max_side)


def _gray(image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)


@functools.lru_cache(maxsize=16)
def _example_gray(name: str, max_side: int) -> np.ndarray:
    gray = _gray(load_image(str(EXAMPLES / name), max_side=max_side))
    gray.setflags(write=False)  # shared between calls
    return gray


def photo_input(gray: np.ndarray, h: int, w: int) -> np.ndarray:
    """The photo shrunk to h x w pixels (area averaging), values 0..255."""
    return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)


# ----------------------------------------------------------------------------------------------
# The animation: one Plotly figure, one frame per window position.

INPUT_SCALE = [[0.0, "#f8fafc"], [1.0, "#7dd3fc"]]  # light colours: black numbers stay readable
TERM_SCALE = [[0.0, "#fca5a5"], [0.5, "#ffffff"], [1.0, "#86efac"]]  # negative red, positive green
OUTPUT_SCALE = [[0.0, "#fef9c3"], [1.0, "#fb923c"]]
COVER_SCALE = [[0.0, "rgba(255,255,255,0)"], [0.5, "rgba(255,255,255,0)"], [0.5, "#e5e7eb"], [1.0, "#e5e7eb"]]
WINDOW_COLOR = "#dc2626"
PAD_TEXT_COLOR = "#4b5563"
PAD_COLOR = "#d1d5db"


def fmt(value: float) -> str:
    """A number as a student would write it: integers plain, others with 3 significant digits."""
    if value == -np.inf:
        return "−∞"
    if value == np.inf:
        return "∞"
    rounded = round(value)
    if abs(value - rounded) < 1e-9 and -1e7 < value < 1e7:
        return str(int(rounded))
    return f"{value:.4g}" if abs(value) >= 100 else f"{value:.3g}"


def _cell_boxes(cells: list[tuple[int, int]]) -> tuple[list, list]:
    """Outline of unit cells centred on integer (row, col) coordinates, as one scatter line with gaps."""
    xs, ys = [], []
    for r, c in cells:
        xs += [c - 0.5, c + 0.5, c + 0.5, c - 0.5, c - 0.5, None]
        ys += [r - 0.5, r - 0.5, r + 0.5, r + 0.5, r - 0.5, None]
    return xs, ys


def _rect(top: float, left: float, bottom: float, right: float) -> tuple[list, list]:
    return [left, right, right, left, left], [top, top, bottom, bottom, top]


def _window_outline(steps: Steps, i: int, j: int) -> tuple[list, list]:
    k, d, s = steps.kernel.shape[0], steps.dilation, steps.stride
    top, left = i * s, j * s
    if d == 1:  # the window is one solid block
        return _rect(top - 0.5, left - 0.5, top + k - 0.5, left + k - 0.5)
    # dilated: the sampled cells, with holes between them
    return _cell_boxes([(top + a * d, left + b * d) for a in range(k) for b in range(k)])


def _none_if_inf(values: np.ndarray) -> list:
    return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in values]


FIGURE_HEIGHT = 660
GRID_PX = 470  # about how many pixels a grid side gets on a 1500-px-wide page (the grids are width-bound)


def _font_for(cells: int, largest: int = 22, grid_px: float = GRID_PX, texts=()) -> int:
    """Text size that fits a cell of a square grid with `cells` cells per side, and fits the longest
    line among `texts` (a digit is about 0.6 em wide)."""
    cell_px = grid_px / max(cells, 1)
    longest = max((len(line) for text in texts for line in str(text).split("<br>")), default=1)
    return int(max(9, min(largest, 0.45 * cell_px, 0.92 * cell_px / (0.6 * longest + 0.3))))


def _paren(value: float) -> str:
    return f"({fmt(value)})" if value < 0 else fmt(value)


def _term_text(steps: Steps, index: int) -> list[list[str]]:
    window, term = steps.windows[index], steps.terms[index]
    k = steps.kernel.shape[0]
    if steps.operation != "conv":
        return [[fmt(v) for v in row] for row in window]
    if k <= 4:
        return [[f"{fmt(window[a, b])}×{_paren(steps.kernel[a, b])}<br>= {fmt(term[a, b])}" for b in range(k)]
                for a in range(k)]
    return [[fmt(term[a, b]) for b in range(k)] for a in range(k)]


def _sum_text(steps: Steps, index: int, lang: str) -> str:
    i, j = divmod(index, steps.output.shape[1])
    k = steps.kernel.shape[0]
    value = fmt(steps.output[i, j])
    target = f"{'출력' if lang == 'ko' else 'output'}[{i},{j}]"
    if steps.operation == "conv":
        return f"Σ = {value}<br>→ {target}"
    if steps.operation == "max":
        return f"max = {value}<br>→ {target}"
    return f"Σ {fmt(steps.windows[index].sum())} ÷ {k * k} = {value}<br>→ {target}"


# Three panels side by side: (x-domain, axis suffix). Widths 0.4 : 0.2 : 0.4 with small gaps.
PANELS = {"input": ((0.0, 0.372), ""), "terms": ((0.407, 0.593), "2"), "output": ((0.628, 1.0), "3")}


def _on(panel: str, trace: dict) -> dict:
    """Put a trace on one of the three panels."""
    suffix = PANELS[panel][1]
    return {**trace, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", "hoverinfo": "skip", "showlegend": False}


def _axes(panel: str, cols: int, rows_range: tuple[float, float]) -> dict:
    """Square cells, row 0 at the top, no ticks."""
    domain, suffix = PANELS[panel]
    bare = {"showgrid": False, "zeroline": False, "showticklabels": False, "ticks": ""}
    return {
        f"xaxis{suffix}": {**bare, "domain": list(domain), "range": [-0.5, cols - 0.5], "anchor": f"y{suffix}"},
        f"yaxis{suffix}": {**bare, "domain": [0.0, 1.0], "range": list(rows_range), "anchor": f"x{suffix}",
                           "scaleanchor": f"x{suffix}", "scaleratio": 1, "constrain": "domain"},
    }


def build_figure(steps: Steps, lang: str = "ko", frame_ms: int = 600) -> "AnimatedFigure":
    """The animation figure as a plain Plotly spec (plotly's Python validators would spend most of the
    call on hundreds of frames we build correct by construction; tests validate it with go.Figure).
    The frames travel in layout.meta because Gradio's Plotly component drops `frames`; a small
    script in the tab hands them to Plotly.addFrames (see FRAMES_JS)."""
    ko = lang == "ko"
    padded, out = steps.padded, steps.output
    ph, pw = padded.shape
    oh, ow = out.shape
    k = steps.kernel.shape[0]
    p = steps.padding
    n = steps.positions
    in_side, out_side = max(ph, pw), max(oh, ow)
    titles = {
        "input": f"패딩한 입력 {ph}×{pw} (회색 = 패딩)" if ko else f"Padded input {ph}x{pw} (grey = padding)",
        "terms": ({"conv": "창 × 커널 (원소별 곱)", "max": "창 안의 값 (최댓값을 고름)", "avg": "창 안의 값 (평균을 냄)"}
                  if ko else {"conv": "window × kernel (element-wise)", "max": "values in the window (take the max)",
                              "avg": "values in the window (take the mean)"})[steps.operation],
        "output": f"출력 {oh}×{ow} (한 칸씩 채워짐)" if ko else f"Output {oh}x{ow} (fills cell by cell)",
    }
    data: list[dict] = []

    real = np.zeros_like(padded, dtype=bool)
    real[p:ph - p, p:pw - p] = True
    finite_in = padded[real]
    if p:  # padding cells in grey, under the input colours
        data.append(_on("input", {"type": "heatmap", "z": np.where(real, np.nan, 0.0).tolist(),
                                  "colorscale": [[0, PAD_COLOR], [1, PAD_COLOR]], "showscale": False,
                                  "xgap": 1, "ygap": 1}))
    data.append(_on("input", {"type": "heatmap", "z": _none_if_inf(np.where(real, padded, np.nan)),
                              "colorscale": INPUT_SCALE, "showscale": False, "xgap": 1, "ygap": 1,
                              "zmin": float(finite_in.min()), "zmax": float(finite_in.max()) + 1e-9}))
    rows_idx, cols_idx = np.mgrid[0:ph, 0:pw]
    data.append(_on("input", {"type": "scatter", "mode": "text", "x": cols_idx.ravel().tolist(),
                              "y": rows_idx.ravel().tolist(), "text": [fmt(v) for v in padded.ravel()],
                              "textfont": {"size": _font_for(in_side, texts=[fmt(v) for v in padded.ravel()]),
                                           "color": [("#111111" if r else PAD_TEXT_COLOR) for r in real.ravel()]}}))
    moving = {"window": len(data)}  # the traces each frame changes
    wx, wy = _window_outline(steps, 0, 0)
    data.append(_on("input", {"type": "scatter", "mode": "lines", "x": wx, "y": wy,
                              "line": {"color": WINDOW_COLOR, "width": 4}}))

    moving["terms"] = len(data)
    finite_terms = np.abs(steps.terms[np.isfinite(steps.terms)])
    term_abs = float(finite_terms.max()) if finite_terms.size and finite_terms.max() > 0 else 1.0
    # one size for every frame: the longest text over all positions must fit
    term_texts = [_term_text(steps, index) for index in range(n)]
    term_font = _font_for(k, largest=20, grid_px=GRID_PX * 0.45,
                          texts=[text for grid in term_texts for row in grid for text in row])
    data.append(_on("terms", {"type": "heatmap", "z": _none_if_inf(steps.terms[0]), "text": term_texts[0],
                              "texttemplate": "%{text}", "textfont": {"size": term_font}, "colorscale": TERM_SCALE,
                              "zmin": -term_abs, "zmax": term_abs, "showscale": False, "xgap": 2, "ygap": 2}))
    gx, gy = [], []  # thin cell borders, so white (zero) products still read as a grid
    for line in range(k + 1):
        gx += [line - 0.5, line - 0.5, None, -0.5, k - 0.5, None]
        gy += [-0.5, k - 0.5, None, line - 0.5, line - 0.5, None]
    data.append(_on("terms", {"type": "scatter", "mode": "lines", "x": gx, "y": gy,
                              "line": {"color": "#9ca3af", "width": 1}}))
    moving["sum"] = len(data)
    data.append(_on("terms", {"type": "scatter", "mode": "text", "x": [(k - 1) / 2], "y": [k - 0.5 + 0.04 * k],
                              "text": [_sum_text(steps, 0, lang)], "textposition": "bottom center",
                              "textfont": {"size": 20, "color": "#111111"}, "cliponaxis": False}))

    finite_out = out[np.isfinite(out)]
    lo, hi = (float(finite_out.min()), float(finite_out.max())) if finite_out.size else (0.0, 1.0)
    # every output value; the cover above hides the ones not computed yet
    data.append(_on("output", {"type": "heatmap", "z": _none_if_inf(out), "text": [[fmt(v) for v in row] for row in out],
                               "texttemplate": "%{text}",
                               "textfont": {"size": _font_for(out_side, texts=[fmt(v) for v in out.ravel()]),
                                            "color": "#111111"},
                               "colorscale": OUTPUT_SCALE, "zmin": lo, "zmax": hi + 1e-9, "showscale": False,
                               "xgap": 1, "ygap": 1}))
    # the cover: z = cell index; each frame moves the colour-scale midpoint past the cells already
    # computed, so a frame sends two numbers instead of the whole output map
    reach = n + 1.0
    moving["cover"] = len(data)
    data.append(_on("output", {"type": "heatmap", "z": np.arange(n, dtype=float).reshape(oh, ow).tolist(),
                               "colorscale": COVER_SCALE, "zmin": 0.5 - reach, "zmax": 0.5 + reach,
                               "showscale": False}))  # no gaps: nothing of the values below may peek through
    moving["cell"] = len(data)
    cx, cy = _rect(-0.5, -0.5, 0.5, 0.5)
    data.append(_on("output", {"type": "scatter", "mode": "lines", "x": cx, "y": cy,
                               "line": {"color": WINDOW_COLOR, "width": 4}}))

    frames, slider_steps = [], []
    for index in range(n):
        i, j = divmod(index, ow)
        wx, wy = _window_outline(steps, i, j)
        cx, cy = _rect(i - 0.5, j - 0.5, i + 0.5, j + 0.5)
        frames.append({
            "name": str(index),
            "traces": [moving["window"], moving["terms"], moving["sum"], moving["cover"], moving["cell"]],
            "data": [
                {"type": "scatter", "x": wx, "y": wy},
                {"type": "heatmap", "z": _none_if_inf(steps.terms[index]), "text": term_texts[index]},
                {"type": "scatter", "text": [_sum_text(steps, index, lang)]},
                {"type": "heatmap", "zmin": index + 0.5 - reach, "zmax": index + 0.5 + reach},
                {"type": "scatter", "x": cx, "y": cy},
            ],
        })
        slider_steps.append({"method": "animate", "label": f"({i},{j})",
                             "args": [[str(index)], {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
                                                     "transition": {"duration": 0}}]})

    def play(ms: int) -> dict:
        return {"frame": {"duration": ms, "redraw": True}, "fromcurrent": True,
                "transition": {"duration": 0}, "mode": "immediate"}

    layout = {
        "height": FIGURE_HEIGHT, "margin": {"l": 10, "r": 10, "t": 60, "b": 10},
        "plot_bgcolor": "white", "paper_bgcolor": "white", "font": {"size": 16, "color": "#111111"},
        "showlegend": False,
        "annotations": [{"text": titles[panel], "x": sum(PANELS[panel][0]) / 2, "y": 1.0, "xref": "paper",
                         "yref": "paper", "xanchor": "center", "yanchor": "bottom", "showarrow": False,
                         "font": {"size": 18}} for panel in PANELS],
        **_axes("input", pw, (ph - 0.5, -0.5)),
        **_axes("terms", k, (k - 0.5 + max(1.2, k * 0.45), -0.5)),
        **_axes("output", ow, (oh - 0.5, -0.5)),
        "updatemenus": [{
            "type": "buttons", "direction": "left", "x": 0.0, "y": -0.02, "xanchor": "left", "yanchor": "top",
            "pad": {"t": 10, "r": 10}, "showactive": False, "font": {"size": 18},
            "buttons": [
                {"label": "▶ 재생" if ko else "▶ Play", "method": "animate", "args": [None, play(frame_ms)]},
                {"label": "▶▶ 빠르게" if ko else "▶▶ Fast", "method": "animate",
                 "args": [None, play(max(60, frame_ms // 5))]},
                {"label": "■ 멈춤" if ko else "■ Pause", "method": "animate",
                 "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate",
                                   "transition": {"duration": 0}}]},
            ],
        }],
        "sliders": [{
            "active": 0, "steps": slider_steps, "x": 0.33, "len": 0.67, "y": -0.02, "yanchor": "top",
            "pad": {"t": 10, "b": 10}, "font": {"color": "rgba(0,0,0,0)", "size": 8}, "ticklen": 0,
            "tickcolor": "rgba(0,0,0,0)", "transition": {"duration": 0},
            "currentvalue": {"prefix": "창 위치 (행,열) " if ko else "window position (row,col) ",
                             "font": {"size": 18, "color": "#111111"}, "xanchor": "left"},
        }],
        "meta": {"sw_token": uuid.uuid4().hex, "sw_frames": frames, "sw_positions": n},
    }
    return AnimatedFigure({"data": data, "layout": layout})


class AnimatedFigure:
    """A Plotly figure spec (data, layout; frames inside layout.meta) that gr.Plot can send as it is."""

    def __init__(self, spec: dict):
        self.spec = spec

    @property
    def frames(self) -> list[dict]:
        return self.spec["layout"]["meta"]["sw_frames"]

    def to_dict(self) -> dict:
        return self.spec

    def to_json(self) -> str:
        return plotly.io.json.to_json_plotly(self.spec)  # numpy-aware; NaN becomes null

    def to_figure(self) -> go.Figure:
        """The same figure as a go.Figure with real frames (for saving or plotly.io.show)."""
        layout = {key: value for key, value in self.spec["layout"].items() if key != "meta"}
        return go.Figure(data=self.spec["data"], layout=layout, frames=self.frames)


def step_js(how: str) -> str:
    """Client-side stepping through the frames (no server call): how = back | next | first | last."""
    return f"""() => {{
  const gd = document.querySelector('#sw-plot .js-plotly-plot');
  if (!gd || !window.Plotly || !gd.layout.meta || !gd.layout.meta.sw_frames) return [];
  const last = gd.layout.meta.sw_frames.length - 1;
  const now = gd._fullLayout.sliders[0].active || 0;
  const goal = {{back: Math.max(0, now - 1), next: Math.min(last, now + 1), first: 0, last: last}}['{how}'];
  window.Plotly.animate(gd, [String(goal)], {{mode: 'immediate', frame: {{duration: 0, redraw: true}},
                                             transition: {{duration: 0}}}});
  return [];
}}"""


# Gradio's Plotly component calls Plotly.react(data, layout) and drops `frames`; the frames ride in
# layout.meta and this watcher (run once when the tab renders) hands them to Plotly.addFrames.
FRAMES_JS = """
if (!window.__swFramesWatcher) {
  window.__swFramesWatcher = setInterval(() => {
    const P = window.Plotly;
    if (!P) return;
    document.querySelectorAll('#sw-plot .js-plotly-plot').forEach((gd) => {
      const meta = gd.layout && gd.layout.meta;
      if (!meta || !meta.sw_frames || gd.__swToken === meta.sw_token) return;
      gd.__swToken = meta.sw_token;
      const have = (gd._transitionData && gd._transitionData._frames) ? gd._transitionData._frames.length : 0;
      const gone = have ? P.deleteFrames(gd, [...Array(have).keys()]) : Promise.resolve();
      Promise.resolve(gone).then(() => P.addFrames(gd, meta.sw_frames)).then(() => {
        gd.dataset.swFrames = String(meta.sw_frames.length);
        gd.dataset.swToken = meta.sw_token;
      });
    });
  }, 250);
}
"""


# ----------------------------------------------------------------------------------------------
# The text beside the animation: the formula with the current numbers, conventions, the check.

OP_NAMES = {"conv": ("합성곱", "convolution"), "max": ("최대 풀링", "max pooling"), "avg": ("평균 풀링", "average pooling")}


def formula_line(side_ko: str, side_en: str, n: int, k: int, s: int, p: int, d: int, lang: str) -> str:
    size = output_size(n, k, s, p, d)
    side = side_ko if lang == "ko" else side_en
    return (f"**{side}**: ⌊({n} + 2·{p} − {d}·({k}−1) − 1) / {s}⌋ + 1 = "
            f"⌊{n + 2 * p - d * (k - 1) - 1} / {s}⌋ + 1 = **{size}**")


def explanation(steps: Steps, n_h: int, n_w: int, lang: str, notes: list[tuple[str, str]], max_diff: float) -> str:
    ko = lang == "ko"
    k, s, p, d = steps.kernel.shape[0], steps.stride, steps.padding, steps.dilation
    oh, ow = steps.output.shape
    lines = []
    if notes:
        lines.append(("> **바꾼 값**: " if ko else "> **Adjusted**: ") + "<br>".join(n[0] if ko else n[1] for n in notes))
        lines.append("")
    lines += [
        "### " + ("출력 크기 공식" if ko else "Output-size formula"),
        "출력 = ⌊(n + 2p − d(k−1) − 1) / s⌋ + 1" if ko else "output = ⌊(n + 2p − d(k−1) − 1) / s⌋ + 1",
        "",
        "- " + formula_line("높이", "Height", n_h, k, s, p, d, lang),
        "- " + formula_line("너비", "Width", n_w, k, s, p, d, lang),
        "",
        (f"창이 {oh}×{ow} = **{oh * ow}곳**에 멈춥니다. 창의 실제 폭은 d(k−1)+1 = {d * (k - 1) + 1}칸입니다."
         if ko else f"The window stops at {oh}x{ow} = **{oh * ow} positions**. Its real span is d(k−1)+1 = {d * (k - 1) + 1} cells."),
        "",
        "### " + ("수업 노트의 예" if ko else "The example from the notes"),
    ]
    for stride in (1, 2):
        size = output_size(5, 3, stride, 0, 1)
        lines.append(f"- 5×5 {'입력' if ko else 'input'}, 3×3 {'커널' if ko else 'kernel'}, "
                     f"{'스트라이드' if ko else 'stride'} {stride}: ⌊(5 − 3) / {stride}⌋ + 1 = **{size}×{size}**")
    lines += ["", "### " + ("이 연산의 약속" if ko else "What this operation does")]
    if steps.operation == "conv":
        lines.append(
            "- 딥러닝의 합성곱(torch `conv2d`)은 사실 **교차상관**입니다: 커널을 뒤집지 않고 그대로 겹쳐 곱한 뒤 더합니다. "
            "패딩 칸은 0입니다." if ko else
            "- Deep learning's convolution (torch `conv2d`) is really **cross-correlation**: the kernel is laid on the "
            "window as it is (not flipped), multiplied element by element, and summed. Padding cells are 0.")
        kernel_rows = " ".join("[" + ", ".join(fmt(v) for v in row) + "]" for row in steps.kernel)
        lines.append(f"- {'커널' if ko else 'Kernel'} {k}×{k}: `{kernel_rows}`")
    elif steps.operation == "max":
        lines.append(
            "- 최대 풀링(torch `max_pool2d`)은 창 안의 가장 큰 값을 고릅니다. 패딩 칸은 **−∞** 이므로 절대 뽑히지 않습니다."
            if ko else
            "- Max pooling (torch `max_pool2d`) takes the largest value in the window. Padding cells are **−∞**, so they never win.")
    else:
        lines.append(
            f"- 평균 풀링(torch `avg_pool2d`, `count_include_pad=True`)은 창 안의 합을 **항상 k·k = {k * k}** 로 나눕니다. "
            "패딩 칸은 **0으로 채워서 개수에 포함**하므로 가장자리 평균은 작아집니다." if ko else
            f"- Average pooling (torch `avg_pool2d`, `count_include_pad=True`) divides the window's sum by **k·k = {k * k} "
            "always**. Padding cells are **zeros that count**, so averages at the border come out smaller.")
        lines.append("- 풀링에는 배울 가중치가 없습니다: 창의 크기만 중요합니다." if ko else
                     "- Pooling has no weights to learn: only the window size matters.")
    lines += ["", ("**torch로 검산**: 모든 출력 칸에서 torch와의 최대 차이 = " if ko else "**Checked with torch**: largest difference from torch over all output cells = ")
              + f"`{max_diff:.1e}`"]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# "On a real photo": the same kernel, stride and pooling on a whole photo.

def conv_photo(gray: np.ndarray, kernel: np.ndarray, stride: int, padding: int, dilation: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV filter2D with torch's conventions: zero padding p, dilation d, window anchored at its
    top-left, no flip. Returns (the stride-1 response, the stride-s response = every s-th of it)."""
    k = kernel.shape[0]
    span = dilation * (k - 1) + 1
    dilated = np.zeros((span, span), dtype=np.float32)
    dilated[::dilation, ::dilation] = kernel
    padded = cv2.copyMakeBorder(gray.astype(np.float32), padding, padding, padding, padding, cv2.BORDER_CONSTANT, value=0)
    full = cv2.filter2D(padded, cv2.CV_32F, dilated, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT)
    valid = full[:padded.shape[0] - span + 1, :padded.shape[1] - span + 1]  # positions where the window fits
    return valid, valid[::stride, ::stride]


def pool_photo(gray: np.ndarray, k: int, stride: int, padding: int, dilation: int, operation: str) -> np.ndarray:
    """Max or average pooling of a whole photo, vectorised with numpy views (same conventions as slide())."""
    padded = np.pad(gray.astype(np.float32), padding, mode="constant", constant_values=pad_value(operation))
    span = dilation * (k - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, (span, span))[::stride, ::stride, ::dilation, ::dilation]
    if operation == "max":
        return windows.max(axis=(-2, -1))
    return windows.sum(axis=(-2, -1), dtype=np.float64).astype(np.float32) / (k * k)


def to_display(response: np.ndarray, signed: bool, height: int) -> np.ndarray:
    """A response map as an RGB image `height` tall. Signed responses (edge kernels) show |value|
    stretched to their 99.5th percentile; the rest show their value clipped to 0..255.
    Small maps are enlarged with nearest neighbour so their real pixels stay visible."""
    if signed:
        mag = np.abs(response)
        top = float(np.percentile(mag, 99.5)) or 1.0
        img = np.clip(mag / top * 255, 0, 255).astype(np.uint8)
    else:
        img = np.clip(response, 0, 255).astype(np.uint8)
    scale = height / img.shape[0]
    size = (max(1, round(img.shape[1] * scale)), height)
    img = cv2.resize(img, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


def photo_panel(gray: np.ndarray, kernel: np.ndarray, k: int, s: int, p: int, d: int, lang: str,
                kernel_name: tuple[str, str] = ("커널", "Kernel")) -> list[tuple[np.ndarray, str]]:
    """Captioned images: the photo, the kernel at stride 1 and at stride s, max and average pooling."""
    ko = lang == "ko"
    label = kernel_name[0 if ko else 1]
    h = gray.shape[0]
    signed = bool((kernel < 0).any())
    full, strided = conv_photo(gray, kernel, s, p, d)
    how = (" |값|" if ko else " |value|") if signed else ""
    items = [
        (cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), f"{'원본' if ko else 'Original'} {gray.shape[1]}×{gray.shape[0]}"),
        (to_display(full, signed, h), f"{label} s=1 → {full.shape[1]}×{full.shape[0]}{how}"),
        (to_display(strided, signed, h), f"{label} s={s} → {strided.shape[1]}×{strided.shape[0]}"),
    ]
    pool_p = min(p, k // 2)
    for operation in ("max", "avg"):
        dil = d if operation == "max" else 1
        if impossible_reason(gray.shape[0], gray.shape[1], k, s, pool_p, dil, operation):
            continue
        pooled = pool_photo(gray, k, s, pool_p, dil, operation)
        name = {"max": ("최대 풀링", "Max pool"), "avg": ("평균 풀링", "Avg pool")}[operation][0 if ko else 1]
        items.append((to_display(pooled, False, h), f"{name} {k}×{k} s={s} → {pooled.shape[1]}×{pooled.shape[0]}"))
    return items


# ----------------------------------------------------------------------------------------------
# The main event.

@dataclass
class Setting:
    height: int
    width: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    operation: str
    source: str
    seed: int
    kernel_name: str


def read_setting(height, width, kernel_size, stride, padding, dilation, operation, source, seed, kernel_name,
                 notes: list[tuple[str, str]]) -> Setting:
    return Setting(
        height=clamp_int(height, "height", notes), width=clamp_int(width, "width", notes),
        kernel_size=clamp_int(kernel_size, "kernel_size", notes), stride=clamp_int(stride, "stride", notes),
        padding=clamp_int(padding, "padding", notes), dilation=clamp_int(dilation, "dilation", notes),
        operation=choice(operation, OPERATIONS, "연산", "operation"),
        source=choice(source, SOURCES, "입력 값 종류", "input source"),
        seed=clamp_int(0 if seed is None else seed, "seed", notes),
        kernel_name=choice(kernel_name, KERNELS, "커널", "kernel"),
    )


def make_input(st: Setting, photo_choice, photo_upload, input_grid, notes) -> tuple[np.ndarray, np.ndarray | None]:
    """(the h x w input grid, the grey photo or None)."""
    if st.source == "random":
        return random_input(st.height, st.width, st.seed), None
    if st.source == "photo":
        gray = photo_gray(photo_choice, photo_upload)
        return photo_input(gray, st.height, st.width), gray
    return parse_grid(input_grid, st.height, st.width, "입력", "input", notes), None


def make_kernel(st: Setting, kernel_grid, notes) -> np.ndarray:
    if st.operation != "conv":
        return np.ones((st.kernel_size, st.kernel_size))  # pooling: only the window size matters
    if st.kernel_name == "typed":
        return parse_grid(kernel_grid, st.kernel_size, st.kernel_size, "커널", "kernel", notes)
    return named_kernel(st.kernel_name, st.kernel_size)


def conv_steps(height=5, width=5, kernel_size=3, stride=1, padding=0, dilation=1, operation="conv",
               source="random", seed=0, photo_choice="cat.jpg", photo_upload=None, input_grid=None,
               kernel_name="box", kernel_grid=None, request: gr.Request | None = None):
    """Everything the tab shows for one setting: (animation figure, formula/notes markdown, photo gallery)."""
    lang = i18n.lang_of(request)
    notes: list[tuple[str, str]] = []
    st = read_setting(height, width, kernel_size, stride, padding, dilation, operation, source, seed, kernel_name, notes)
    x, gray = make_input(st, photo_choice, photo_upload, input_grid, notes)
    kernel = make_kernel(st, kernel_grid, notes)
    steps = slide(x, kernel, st.stride, st.padding, st.dilation, st.operation)
    reference = torch_reference(x, kernel, st.stride, st.padding, st.dilation, st.operation)
    both_finite = np.isfinite(reference) & np.isfinite(steps.output)
    max_diff = float(np.abs(reference - steps.output)[both_finite].max(initial=0.0))
    fig = build_figure(steps, lang)
    text = explanation(steps, st.height, st.width, lang, notes, max_diff)
    if gray is None:
        gray = photo_gray(photo_choice if photo_choice in example_photos() else "cat.jpg", photo_upload)
    photo_kernel = kernel if st.operation == "conv" else named_kernel("box", st.kernel_size)
    gallery = photo_panel(gray, photo_kernel, st.kernel_size, st.stride, st.padding, st.dilation, lang, ("커널", "Kernel") if st.operation == "conv" else ("박스 블러", "Box blur"))
    return fig, text, gallery


def conv_steps_ui(height, width, kernel_size, stride, padding, dilation, operation, source, seed, photo_choice,
                  photo_upload, input_grid, kernel_name, kernel_grid, request: gr.Request | None = None):
    """conv_steps for the tab's own controls: a setting that cannot run keeps the last animation on
    screen and says why beside it (and in a warning), instead of blanking every panel. The public
    API (conv_steps) raises the same message as an error."""
    try:
        return conv_steps(height, width, kernel_size, stride, padding, dilation, operation, source, seed, photo_choice,
                          photo_upload, input_grid, kernel_name, kernel_grid, request=request)
    except UserError as err:
        gr.Warning(i18n.both(err.ko, err.en), title="입력 확인 / Check the input")
        message = err.ko if i18n.lang_of(request) == "ko" else err.en
        return gr.skip(), f"### {'계산할 수 없는 설정' if i18n.lang_of(request) == 'ko' else 'This setting cannot run'}\n\n{message}", gr.skip()


def current_input_table(height, width, source, seed, photo_choice, photo_upload, input_grid):
    """The current input values as a table, for editing ('copy into the table')."""
    notes: list = []
    st_h, st_w = clamp_int(height, "height", notes), clamp_int(width, "width", notes)
    source = choice(source, SOURCES, "입력 값 종류", "input source")
    if source == "random":
        x = random_input(st_h, st_w, clamp_int(0 if seed is None else seed, "seed", notes))
    elif source == "photo":
        x = photo_input(photo_gray(photo_choice, photo_upload), st_h, st_w)
    else:
        x = parse_grid(input_grid, st_h, st_w, "입력", "input", notes)
    return x.astype(int).tolist() if np.all(x == np.round(x)) else x.tolist()


def current_kernel_table(kernel_size, kernel_name, kernel_grid):
    notes: list = []
    k = clamp_int(kernel_size, "kernel_size", notes)
    name = choice(kernel_name, KERNELS, "커널", "kernel")
    kernel = parse_grid(kernel_grid, k, k, "커널", "kernel", notes) if name == "typed" else named_kernel(name, k)
    return [[round(float(v), 4) for v in row] for row in kernel]


# ----------------------------------------------------------------------------------------------
# The tab.

def build() -> None:
    # The animation gets the full width (three grids side by side must read from the back of a room),
    # with the controls in two rows above it.
    with gr.Row(equal_height=True):
        operation = gr.Radio([(t("sliding_window.op_conv"), "conv"), (t("sliding_window.op_max"), "max"),
                              (t("sliding_window.op_avg"), "avg")], value="conv", scale=3,
                             label=t("sliding_window.operation"), elem_id="sw-operation")
        kernel_name = gr.Dropdown([(t(f"sliding_window.k_{name}"), name) for name in KERNELS], value="box", scale=2,
                                  label=t("sliding_window.kernel"), elem_id="sw-kernel")
        run = gr.Button(t("sliding_window.run"), variant="primary", size="lg", scale=1, elem_id="sw-run")
    with gr.Row():
        height = gr.Slider(3, 16, value=5, step=1, label=t("sliding_window.height"), elem_id="sw-height", min_width=160)
        width = gr.Slider(3, 16, value=5, step=1, label=t("sliding_window.width"), elem_id="sw-width", min_width=160)
        kernel_size = gr.Slider(1, 7, value=3, step=1, label=t("sliding_window.kernel_size"), elem_id="sw-k",
                                min_width=160)
        stride = gr.Slider(1, 4, value=1, step=1, label=t("sliding_window.stride"), elem_id="sw-stride", min_width=160)
        padding = gr.Slider(0, 3, value=0, step=1, label=t("sliding_window.padding"), elem_id="sw-padding",
                            min_width=160)
        dilation = gr.Slider(1, 3, value=1, step=1, label=t("sliding_window.dilation"), elem_id="sw-dilation",
                             min_width=160)
    fig, text, gallery = conv_steps()
    plot = gr.Plot(value=fig, label=t("sliding_window.animation"), elem_id="sw-plot")
    with gr.Row():
        step_buttons = {how: gr.Button(t(f"sliding_window.step_{how}"), size="md", elem_id=f"sw-step-{how}")
                        for how in ("first", "back", "next", "last")}
    gr.HTML("", js_on_load=FRAMES_JS, padding=False, elem_id="sw-frames-js")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio([(t("sliding_window.src_random"), "random"), (t("sliding_window.src_photo"), "photo"),
                               (t("sliding_window.src_typed"), "typed")], value="random",
                              label=t("sliding_window.source"), elem_id="sw-source")
            seed = gr.Number(value=0, precision=0, minimum=0, label=t("sliding_window.seed"), elem_id="sw-seed")
            photos = example_photos()
            photo_choice = gr.Dropdown(photos, value="cat.jpg" if "cat.jpg" in photos else photos[0],
                                       label=t("sliding_window.photo_choice"), elem_id="sw-photo")
            photo_upload = gr.Image(type="filepath", label=t("sliding_window.photo_upload"), height=170,
                                    sources=["upload", "clipboard"], elem_id="sw-upload")
        with gr.Column(scale=2):
            explain = gr.Markdown(text, elem_id="sw-explain", elem_classes=["formula-box"])
    with gr.Accordion(t("sliding_window.input_grid"), open=False):
        input_grid = gr.Dataframe(value=random_input(5, 5, 0).astype(int).tolist(), datatype="number",
                                  interactive=True, label=t("sliding_window.input_grid"), elem_id="sw-input-grid")
        copy_input = gr.Button(t("sliding_window.copy_input"), size="sm")
    with gr.Accordion(t("sliding_window.kernel_grid"), open=False):
        kernel_grid = gr.Dataframe(value=current_kernel_table(3, "box", None), datatype="number", interactive=True,
                                   label=t("sliding_window.kernel_grid"), elem_id="sw-kernel-grid")
        copy_kernel = gr.Button(t("sliding_window.copy_kernel"), size="sm")
    gr.Markdown(t("sliding_window.photo_header"))
    photo_gallery = gr.Gallery(value=gallery, label=t("sliding_window.photo_gallery"), columns=5, height=270,
                               object_fit="contain", elem_id="sw-gallery")

    inputs = [height, width, kernel_size, stride, padding, dilation, operation, source, seed, photo_choice,
              photo_upload, input_grid, kernel_name, kernel_grid]
    outputs = [plot, explain, photo_gallery]
    run.click(conv_steps, inputs, outputs, api_name="conv_steps", **ui.QUICK)
    # Moving a control recomputes at once (a short server call); the animation itself then plays in the browser.
    gr.on([c.change for c in (height, width, kernel_size, stride, padding, dilation, seed)]
          + [operation.change, source.change, kernel_name.change, photo_choice.change, photo_upload.change],
          conv_steps_ui, inputs, outputs, api_visibility="private", trigger_mode="always_last", **ui.QUICK)
    # The first figure is built at start-up in Korean; each visitor gets it again in their own language.
    root = gr.context.Context.root_block
    if root is not None:
        root.load(conv_steps, inputs, outputs, api_visibility="private", **ui.QUICK)
    for how, button in step_buttons.items():
        button.click(None, None, None, js=step_js(how))
    copy_input.click(current_input_table, [height, width, source, seed, photo_choice, photo_upload, input_grid],
                     input_grid, api_visibility="private", **ui.QUICK)
    copy_kernel.click(current_kernel_table, [kernel_size, kernel_name, kernel_grid], kernel_grid,
                      api_visibility="private", **ui.QUICK)
