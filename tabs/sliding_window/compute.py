"""Sliding window, stride, padding, pooling: the window's every position, computed as the lesson says.

Read top to bottom:
1. the settings, declared once (SETTINGS): sizes clamped into range (API callers can send anything),
   operation, input and kernel;
2. the input grid (random digits, a shrunken photo, or typed numbers) and the kernel (named or typed);
3. `slide`: the window visits every position row by row; at each one, the products (convolution) or the
   values (pooling) under it, and the one output number they give;
4. the same operation by torch, to check every output cell against;
5. the same kernel, stride and pooling on a whole photo (OpenCV), to see what they do to a picture.

Plain numpy loops on purpose: this is the teaching version. No Gradio, no language: notes are
`Message`s and settings that cannot run raise `Problem`s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core import memory, values
from core.images import load_image
from core.text import Message
from tabs.sliding_window.text import TEXT

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"

OPERATIONS = ("conv", "max", "avg")
SOURCES = ("random", "photo", "typed")
KERNELS = ("identity", "box", "sharpen", "sobel_x", "sobel_y", "laplacian", "typed")
# The settings a student (or the teacher, for the whole class) sets. The sliders keep to these ranges; the API
# can send anything, so every number is clamped with a note. An uploaded photo or a typed table is no setting.
SETTINGS = values.settings(
    values.Setting("height", TEXT.msg("name_height"), default=5, low=3, high=16, integer=True),
    values.Setting("width", TEXT.msg("name_width"), default=5, low=3, high=16, integer=True),
    values.Setting("kernel_size", TEXT.msg("name_kernel_size"), default=3, low=1, high=7, integer=True),
    values.Setting("stride", TEXT.msg("name_stride"), default=1, low=1, high=4, integer=True),
    values.Setting("padding", TEXT.msg("name_padding"), default=0, low=0, high=3, integer=True),
    values.Setting("dilation", TEXT.msg("name_dilation"), default=1, low=1, high=3, integer=True),
    values.Setting("operation", TEXT.msg("name_operation"), default="conv", choices=OPERATIONS),
    values.Setting("source", TEXT.msg("name_source"), default="random", choices=SOURCES),
    values.Setting("seed", TEXT.msg("name_seed"), default=0, low=0, high=2**31 - 1, integer=True),
    values.Setting("kernel_name", TEXT.msg("name_kernel"), default="box", choices=KERNELS),
)
MAX_TYPED_ABS = 1e6  # typed values beyond this are refused (products would lose meaning / overflow)
PHOTO_SIDE = 320  # the "on a real photo" panel works on the photo at this long side


# ---------------------------------------------------------------- 1. the settings


@dataclass
class Setup:
    """One request's settings, read through SETTINGS (the names and order of its fields are theirs)."""

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
    notes: list[Message] = field(default_factory=list)  # what was changed to make the setting valid


def _one_of(setting: values.Setting, value) -> str:
    """A choice must exist: an unknown operation, source or kernel is refused, not swapped for another one
    (the animation would show an operation nobody asked for)."""
    if value not in setting.choices:
        raise TEXT.problem("unknown_choice", what=setting.label, value=repr(value), allowed=", ".join(setting.choices))
    return value


def read_setting(**given) -> Setup:
    """The settings named in `given` (in the order given, for the order of the notes), the others at their
    defaults: numbers clamped into range with a note, choices checked."""
    notes: list[Message] = []
    if given.get("seed", 0) is None:  # an emptied seed box means "the default seed", nothing to note
        given["seed"] = SETTINGS["seed"].default
    used = SETTINGS.defaults()
    for name, value in given.items():
        setting = SETTINGS[name]
        used[name] = _one_of(setting, value) if setting.choices else setting.take(value, notes)
    return Setup(**used, notes=notes)


# ---------------------------------------------------------------- 2. the input grid and the kernel


def parse_grid(grid, rows: int, cols: int, what: str, notes: list[Message]) -> np.ndarray:
    """A typed table (list of lists, pandas DataFrame, numpy array or the API's {"data": ...}) -> float64
    rows x cols. Bigger tables are cropped, smaller ones filled with zeros (with a note); empty cells are 0;
    text, NaN, infinities and huge numbers are refused with the cell named. `what`: "input" or "kernel"."""
    if grid is None:
        raw: list[list] = []
    elif hasattr(grid, "values") and hasattr(grid, "columns"):  # pandas DataFrame
        raw = grid.values.tolist()
    elif isinstance(grid, dict) and "data" in grid:  # a Dataframe payload from the API
        raw = grid["data"]
    else:
        raw = np.asarray(grid, dtype=object).tolist() if not isinstance(grid, list) else grid
    if raw and not isinstance(raw[0], (list, tuple)):
        raw = [raw]
    out = np.zeros((rows, cols), dtype=np.float64)
    given_rows, given_cols = len(raw), max((len(r) for r in raw), default=0)
    table = TEXT.msg(f"table_{what}")
    for r, line in enumerate(raw[:rows]):
        for c, cell in enumerate(list(line)[:cols]):
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                continue
            try:
                number = float(cell)
            except (TypeError, ValueError):
                raise TEXT.problem("cell_not_number", table=table, row=r + 1, col=c + 1, value=repr(cell)) from None
            if not math.isfinite(number) or abs(number) > MAX_TYPED_ABS:
                raise TEXT.problem("cell_unusable", table=table, row=r + 1, col=c + 1, value=repr(cell),
                                   limit=f"{MAX_TYPED_ABS:g}")
            out[r, c] = number
    if (given_rows, given_cols) != (rows, cols):
        notes.append(TEXT.msg("table_fitted", table=table, given=f"{given_rows}×{given_cols}", size=f"{rows}×{cols}"))
    return out


def random_input(h: int, w: int, seed: int) -> np.ndarray:
    """Small integers 0..9: easy to multiply in your head."""
    return np.random.default_rng(seed).integers(0, 10, size=(h, w)).astype(np.float64)


def example_photos() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.jpg"))


def _gray(image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2GRAY)


_EXAMPLE_GRAYS = memory.Store("sliding_window.example_photos", size=memory.nbytes, max_entries=16)


def photo_gray(photo_choice, photo_upload, max_side: int = PHOTO_SIDE) -> np.ndarray:
    """The uploaded photo (or the chosen example) as a grayscale uint8 array, long side <= max_side."""
    if photo_upload is not None:
        return _gray(load_image(photo_upload, max_side=max_side))
    if photo_choice not in example_photos():
        raise TEXT.problem("no_example", name=repr(photo_choice))

    def read() -> np.ndarray:
        gray = _gray(load_image(str(EXAMPLES / photo_choice), max_side=max_side))
        gray.setflags(write=False)  # shared between requests
        return gray

    return _EXAMPLE_GRAYS.get_or_compute((photo_choice, max_side), read)


def photo_input(gray: np.ndarray, h: int, w: int) -> np.ndarray:
    """The photo shrunk to h x w pixels (area averaging), values 0..255."""
    return cv2.resize(gray, (w, h), interpolation=cv2.INTER_AREA).astype(np.float64)


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
            raise TEXT.problem("odd_kernel_only", kernel=TEXT.msg(f"k_{name}"))
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


def make_input(st: Setup, photo_choice, photo_upload, input_grid) -> tuple[np.ndarray, np.ndarray | None]:
    """(the h x w input grid, the grey photo or None)."""
    if st.source == "random":
        return random_input(st.height, st.width, st.seed), None
    if st.source == "photo":
        gray = photo_gray(photo_choice, photo_upload)
        return photo_input(gray, st.height, st.width), gray
    return parse_grid(input_grid, st.height, st.width, "input", st.notes), None


def make_kernel(st: Setup, kernel_grid) -> np.ndarray:
    if st.operation != "conv":
        return np.ones((st.kernel_size, st.kernel_size))  # pooling: only the window size matters
    if st.kernel_name == "typed":
        return parse_grid(kernel_grid, st.kernel_size, st.kernel_size, "kernel", st.notes)
    return named_kernel(st.kernel_name, st.kernel_size)


# ---------------------------------------------------------------- 3. the window slides


def output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """floor((n + 2p - d(k-1) - 1) / s) + 1: the number of window positions along one side (may be <= 0)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


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


def impossible_reason(n_h: int, n_w: int, k: int, s: int, p: int, d: int, operation: str) -> Message | None:
    """Why this combination cannot run, or None when it can (torch has the same rules)."""
    span = d * (k - 1) + 1
    if operation in ("max", "avg") and p > k // 2:
        return TEXT.msg("pool_padding", half=k // 2, p=p)
    if operation == "avg" and d != 1:
        return TEXT.msg("avg_dilation")
    if span > n_h + 2 * p or span > n_w + 2 * p:
        return TEXT.msg("window_too_big", span=span, padded=f"{n_h + 2 * p}×{n_w + 2 * p}")
    return None


def slide(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int, dilation: int, operation: str) -> Steps:
    """Slide the window over x position by position, exactly as torch does (cross-correlation, no flip)."""
    x = np.asarray(x, dtype=np.float64)
    k = kernel.shape[0]
    reason = impossible_reason(x.shape[0], x.shape[1], k, stride, padding, dilation, operation)
    if reason is not None:
        raise TEXT.problem("cannot_run", reason=reason)
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
        outputs = terms.sum(axis=(1, 2))
    elif operation == "max":
        terms = windows
        outputs = windows.max(axis=(1, 2))
    else:
        terms = windows
        outputs = windows.sum(axis=(1, 2)) / (k * k)  # count_include_pad=True: padded zeros count
    return Steps(operation, padded, kernel, stride, padding, dilation, outputs.reshape(out_h, out_w), windows, terms)


# ---------------------------------------------------------------- 4. the check against torch


def torch_reference(x: np.ndarray, kernel: np.ndarray, stride: int, padding: int, dilation: int,
                    operation: str) -> np.ndarray:
    """The same operation by torch (float64), to check every output cell against."""
    import torch
    import torch.nn.functional as F

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


def largest_difference(steps: Steps, reference: np.ndarray) -> float:
    both_finite = np.isfinite(reference) & np.isfinite(steps.output)
    return float(np.abs(reference - steps.output)[both_finite].max(initial=0.0))


# ---------------------------------------------------------------- 5. the same on a whole photo


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


@dataclass
class PhotoMap:
    """One picture of the "on a real photo" panel: what it is (a key of the text table), and its map."""

    what: str  # "original", "conv_full", "conv_strided", "max", "avg"
    values: np.ndarray
    signed: bool = False  # an edge kernel: show |value|


def photo_maps(gray: np.ndarray, kernel: np.ndarray, k: int, s: int, p: int, d: int) -> list[PhotoMap]:
    """The photo, the kernel at stride 1 and at stride s, and max and average pooling of the photo."""
    signed = bool((kernel < 0).any())
    full, strided = conv_photo(gray, kernel, s, p, d)
    maps = [PhotoMap("original", gray), PhotoMap("conv_full", full, signed), PhotoMap("conv_strided", strided, signed)]
    pool_p = min(p, k // 2)
    for operation in ("max", "avg"):
        dil = d if operation == "max" else 1
        if impossible_reason(gray.shape[0], gray.shape[1], k, s, pool_p, dil, operation) is None:
            maps.append(PhotoMap(operation, pool_photo(gray, k, s, pool_p, dil, operation)))
    return maps


# ---------------------------------------------------------------- the whole lesson for one setting


@dataclass
class Result:
    setting: Setup
    steps: Steps
    max_diff: float  # largest difference from torch over all output cells
    photo: list[PhotoMap]  # the "on a real photo" panel


def run(height=5, width=5, kernel_size=3, stride=1, padding=0, dilation=1, operation="conv", source="random",
        seed=0, photo_choice="cat.jpg", photo_upload=None, input_grid=None, kernel_name="box",
        kernel_grid=None) -> Result:
    st = read_setting(height=height, width=width, kernel_size=kernel_size, stride=stride, padding=padding,
                      dilation=dilation, operation=operation, source=source, seed=seed, kernel_name=kernel_name)
    x, gray = make_input(st, photo_choice, photo_upload, input_grid)
    kernel = make_kernel(st, kernel_grid)
    steps = slide(x, kernel, st.stride, st.padding, st.dilation, st.operation)
    reference = torch_reference(x, kernel, st.stride, st.padding, st.dilation, st.operation)
    if gray is None:
        gray = photo_gray(photo_choice if photo_choice in example_photos() else "cat.jpg", photo_upload)
    photo_kernel = kernel if st.operation == "conv" else named_kernel("box", st.kernel_size)
    photo = photo_maps(gray, photo_kernel, st.kernel_size, st.stride, st.padding, st.dilation)
    return Result(st, steps, largest_difference(steps, reference), photo)


def current_input(height, width, source, seed, photo_choice, photo_upload, input_grid) -> np.ndarray:
    """The current input values (for 'copy into the table')."""
    st = read_setting(height=height, width=width, source=source, seed=seed)
    x, _ = make_input(st, photo_choice, photo_upload, input_grid)
    return x


def current_kernel(kernel_size, kernel_name, kernel_grid) -> np.ndarray:
    st = read_setting(kernel_size=kernel_size, kernel_name=kernel_name)
    return make_kernel(st, kernel_grid)
