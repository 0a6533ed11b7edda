"""One number in FP32, FP16, BF16 and FP8: what each format keeps, read from torch's own casts.

The lesson, top to bottom:
  1. the typed text becomes a number (0.1, 1/3, 1e-8, 65504, inf, nan, -0): `parse_number`;
  2. the number is stored the way a model stores it: Python's float (float64) becomes FP32, and the
     FP32 value becomes FP16, BF16, FP8 E4M3 or FP8 E5M2, as `model.half()` or `.to(torch.bfloat16)`
     convert an FP32 model: `store`;
  3. the stored bytes, read as an integer of the same width (`.view(torch.int16)` and so on), are the
     bit pattern: sign | exponent | mantissa: `bits_of`, `split`;
  4. the numbers just below and above are the bit patterns one below and one above (integer -1 / +1),
     and their distance is the gap, which doubles at every power of two: `neighbours`, `spacing`;
  5. each format's limits are torch's own (`torch.finfo`): `Format`.

Nothing here decodes bits by hand: every value comes from torch reading the bytes. What a format does
with a number too large for it is read from torch too (`Format.too_large`): FP8 E4M3 has no infinity,
and this PyTorch saturates such a number to +-448, where other libraries give NaN.

No Gradio, no language: notes are `Message`s, bad input raises `TEXT.problem(...)`.
"""
from __future__ import annotations

import dataclasses
import math
import re
from fractions import Fraction
from typing import Sequence

import torch

from core.text import Message
from tabs.precision.text import TEXT

# ---------------------------------------------------------------- 5. the formats, from torch.finfo


@dataclasses.dataclass(frozen=True)
class Format:
    key: str  # "fp32", "fp16", "bf16", "e4m3", "e5m2"
    label: str
    dtype: torch.dtype
    int_dtype: torch.dtype  # an integer type of the same width: its view of the bytes is the bit pattern
    bits: int
    exp_bits: int
    man_bits: int
    max: float  # the largest finite value
    smallest_normal: float
    smallest_subnormal: float
    eps: float  # the gap between 1 and the next number
    has_inf: bool  # does the pattern "exponent all ones, mantissa 0" mean infinity here?
    too_large: float  # what torch stores for a number far above `max`: inf, `max` (saturation) or nan

    @property
    def decimal_digits(self) -> float:
        """Significant decimal digits the format carries: log10(2^(mantissa bits + 1))."""
        return (self.man_bits + 1) * math.log10(2)

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1


def _make_format(key: str, label: str, dtype: torch.dtype, int_dtype: torch.dtype) -> Format:
    info = torch.finfo(dtype)
    man_bits = round(-math.log2(info.eps))
    exp_bits = info.bits - 1 - man_bits
    partial = dict(key=key, label=label, dtype=dtype, int_dtype=int_dtype, bits=info.bits, exp_bits=exp_bits,
                   man_bits=man_bits, max=float(info.max), smallest_normal=float(info.smallest_normal), eps=float(info.eps))
    # Read from torch what the special patterns mean and what a too-large number becomes.
    probe = Format(**partial, smallest_subnormal=math.nan, has_inf=False, too_large=math.nan)
    smallest_subnormal, infinity_pattern = values_of([1, ((1 << exp_bits) - 1) << man_bits], probe)
    too_large = store(info.max * 4, probe)[1]
    return Format(**partial, smallest_subnormal=smallest_subnormal, has_inf=math.isinf(infinity_pattern),
                  too_large=too_large)


# ---------------------------------------------------------------- 2.-3. storing a number, reading its bits


def _signed(pattern: int, fmt: Format) -> int:
    """A bit pattern as the integer type holds it (int16/int32 are signed; uint8 is not)."""
    if fmt.int_dtype == torch.uint8:
        return pattern
    return pattern - (1 << fmt.bits) if pattern >> (fmt.bits - 1) else pattern


def cast(values: Sequence[float], fmt: Format) -> torch.Tensor:
    """The values stored in `fmt`: float64 -> FP32 -> fmt (torch converts an FP32 model this way)."""
    x32 = torch.tensor(list(values), dtype=torch.float64).to(torch.float32)
    return x32 if fmt.dtype == torch.float32 else x32.to(fmt.dtype)


def bits_of(values: Sequence[float], fmt: Format) -> list[int]:
    """The bit patterns torch stores for `values` in `fmt` (the same bytes viewed as an integer)."""
    stored = cast(values, fmt).view(fmt.int_dtype).to(torch.int64)
    return [int(v) & fmt.mask for v in stored.tolist()]


def values_of(patterns: Sequence[int], fmt: Format) -> list[float]:
    """The numbers torch reads from bit patterns of `fmt` (exact: every format fits in float64)."""
    raw = torch.tensor([_signed(p & fmt.mask, fmt) for p in patterns], dtype=fmt.int_dtype)
    return raw.view(fmt.dtype).to(torch.float64).tolist()


def store(x: float, fmt: Format) -> tuple[int, float]:
    """(bit pattern, value) of one number stored in `fmt`."""
    bits = bits_of([x], fmt)[0]
    return bits, values_of([bits], fmt)[0]


def split(bits: int, fmt: Format) -> tuple[str, str, str]:
    """The sign, exponent and mantissa bits of a pattern, as '0'/'1' strings."""
    text = format(bits & fmt.mask, f"0{fmt.bits}b")
    return text[0], text[1:1 + fmt.exp_bits], text[1 + fmt.exp_bits:]


def kind(value: float, fmt: Format) -> str:
    """'nan', 'inf', 'zero', 'subnormal' or 'normal'."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    if value == 0:
        return "zero"
    return "subnormal" if abs(value) < fmt.smallest_normal else "normal"


FP32 = _make_format("fp32", "FP32", torch.float32, torch.int32)
FP16 = _make_format("fp16", "FP16", torch.float16, torch.int16)
BF16 = _make_format("bf16", "BF16", torch.bfloat16, torch.int16)
E4M3 = _make_format("e4m3", "FP8 E4M3", torch.float8_e4m3fn, torch.uint8)
E5M2 = _make_format("e5m2", "FP8 E5M2", torch.float8_e5m2, torch.uint8)
FORMATS: list[Format] = [FP32, FP16, BF16, E4M3, E5M2]


def saturates(fmt: Format) -> bool:
    """A number too large for the format becomes its largest value (not inf, not NaN)."""
    return fmt.too_large == fmt.max


# ---------------------------------------------------------------- 4. neighbours and gaps


def neighbours(bits: int, fmt: Format) -> tuple[float, float] | None:
    """The numbers just below and just above a stored finite value: the patterns one step away.

    Past the largest value the next pattern is inf (FP16, BF16, FP32, E5M2) or NaN (E4M3: it has no
    larger number, returned as nan). None for inf and nan themselves."""
    value = values_of([bits], fmt)[0]
    if not math.isfinite(value):
        return None
    sign = bits >> (fmt.bits - 1)
    magnitude = bits & (fmt.mask >> 1)
    if magnitude == 0:  # +0 and -0: the smallest subnormals on either side
        smaller_below, larger = values_of([(1 << (fmt.bits - 1)) | 1, 1], fmt)
        return smaller_below, larger
    toward_zero, away_from_zero = values_of([bits - 1, bits + 1], fmt)
    return (away_from_zero, toward_zero) if sign else (toward_zero, away_from_zero)


def _binade_floor(size: float) -> float:
    """The power of two at or below a positive number (exact: frexp does not round)."""
    _, exponent = math.frexp(size)
    return math.ldexp(1.0, exponent - 1)


def gaps_at(sizes: Sequence[float], fmt: Format) -> list[float]:
    """The gap to the next number, for positive sizes inside the format's range: the gap is the same over
    each power of two (and over the whole subnormal range), so it is read at the power of two below."""
    floors = [_binade_floor(s) for s in sizes]
    patterns = bits_of(floors, fmt)
    above = values_of([p + 1 for p in patterns], fmt)
    here = values_of(patterns, fmt)
    return [a - h for a, h in zip(above, here)]


@dataclasses.dataclass(frozen=True)
class Spacing:
    """The gap between neighbouring numbers of one format, as a step function of the size |x|."""

    fmt: Format
    sizes: list[float]  # where each step starts, then the right end (empty when the window misses the format)
    gaps: list[float]
    here: float | None  # |stored value| of the typed number, when it is a finite non-zero number here
    here_gap: float | None


SPACING_WINDOW = 2.0 ** 12  # the chart shows |x| / 4096 ... |x| * 4096


def spacing(x: float, fmt: Format) -> Spacing:
    """The gap around |x| (or around 1 for 0, inf and nan), clipped to the format's range."""
    centre = spacing_centre(x)
    low, high = max(centre / SPACING_WINDOW, fmt.smallest_subnormal), min(centre * SPACING_WINDOW, fmt.max)
    here_value = abs(store(x, fmt)[1]) if math.isfinite(x) and x != 0 else math.nan
    here = here_value if math.isfinite(here_value) and here_value > 0 else None
    here_gap = gaps_at([here], fmt)[0] if here is not None else None
    if low >= high:
        return Spacing(fmt, [], [], here, here_gap)
    sizes = [low]
    edge = _binade_floor(low) * 2
    while edge < high:
        if edge >= fmt.smallest_normal:  # the subnormals share one gap: no step inside them
            sizes.append(edge)
        edge *= 2
    sizes.append(high)
    return Spacing(fmt, sizes, gaps_at(sizes, fmt), here, here_gap)


def spacing_centre(x: float) -> float:
    x32 = store(x, FP32)[1]
    return abs(x32) if math.isfinite(x32) and x32 != 0 else 1.0


# ---------------------------------------------------------------- 1. the typed number

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE]([+-]?\d+))?")
_SPECIAL = {"nan": math.nan, "+nan": math.nan, "-nan": -math.nan, "inf": math.inf, "+inf": math.inf,
            "infinity": math.inf, "+infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf,
            "∞": math.inf, "-∞": -math.inf, "pi": math.pi, "π": math.pi, "-pi": -math.pi, "-π": -math.pi}
MAX_TEXT = 80


def parse_number(typed) -> tuple[float, Fraction | None]:
    """Typed text -> (the Python float, the exact fraction typed, or None for inf/nan/pi).

    Accepts decimals, scientific notation, fractions like 1/3, thousands commas (1,000), inf, nan,
    pi and -0. Refuses empty text, words, and numbers float64 cannot hold."""
    if typed is None or not str(typed).strip():
        raise TEXT.problem("empty")
    shown = str(typed).strip()
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    s = str(typed).strip().replace("−", "-").replace("＋", "+").replace(" ", "").replace("_", "")
    if len(s) > MAX_TEXT:
        raise TEXT.problem("not_a_number", shown=shown)
    if s.lower() in _SPECIAL:
        return _SPECIAL[s.lower()], None
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    decimal = _DECIMAL.fullmatch(s)
    if decimal and decimal.group(3) is not None and abs(int(decimal.group(3))) > 400:
        # Fraction would build a 10^exponent integer: decide the range from the exponent instead.
        if float(s[:decimal.start(2)]) == 0:
            return (-0.0 if s.startswith("-") else 0.0), Fraction(0)
        raise TEXT.problem("too_large" if int(decimal.group(3)) > 0 else "too_small")
    try:
        exact = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise TEXT.problem("not_a_number", shown=shown) from None
    try:
        value = float(exact)
    except OverflowError:
        raise TEXT.problem("too_large") from None
    if value == 0 and exact != 0:
        raise TEXT.problem("too_small")
    if exact == 0 and s.startswith("-"):
        value = -0.0
    return value, exact


# ---------------------------------------------------------------- the whole view of one number


@dataclasses.dataclass(frozen=True)
class Stored:
    """One format's answer for the typed number."""

    fmt: Format
    bits: int
    value: float
    kind: str
    neighbours: tuple[float, float] | None  # (below, above); nan above: no larger number
    abs_error: float | None  # against the exact typed number (None where there is none, e.g. nan)
    rel_error: float | None
    outcome: Message  # what happened to the number, in one sentence


@dataclasses.dataclass(frozen=True)
class BitsResult:
    typed: str
    x: float  # Python's float of what was typed
    exact: Fraction | None  # the exact number typed (None for inf, nan, pi)
    float64_error: float | None  # how far Python's float is from `exact`
    rows: list[Stored]
    spacing: list[Spacing]
    centre: float | None  # |x| marked on the spacing chart (None for 0, inf, nan)


def _overflow_threshold(fmt: Format) -> float:
    """Above this a number no longer rounds to the largest value: half a gap past it."""
    below_max = values_of([bits_of([fmt.max], fmt)[0] - 1], fmt)[0]
    return fmt.max + (fmt.max - below_max) / 2


def outcome(x: float, x32: float, value: float, fmt: Format, error: float | None) -> Message:
    """What happened to x in this format, as a message (read from what torch stored)."""
    if math.isnan(x):
        return TEXT.msg("nan_one_pattern") if not fmt.has_inf else TEXT.msg("nan_stays")
    if math.isinf(x):
        if math.isinf(value):
            return TEXT.msg("inf_stays")
        if math.isnan(value):
            return TEXT.msg("inf_to_nan")
        return TEXT.msg("inf_saturates", largest=f"{fmt.max:g}")
    if x == 0:
        return TEXT.msg("negative_zero" if math.copysign(1, x) < 0 else "zero")
    if math.isinf(value):
        return TEXT.msg("overflow_inf", largest=f"{fmt.max:g}")
    if math.isinf(x32) or abs(x32) > _overflow_threshold(fmt):  # too large for a format without infinity
        if math.isnan(value):
            return TEXT.msg("overflow_nan", largest=f"{fmt.max:g}")
        return TEXT.msg("overflow_saturates", largest=f"{fmt.max:g}")
    if value == 0:
        return TEXT.msg("underflow", smallest=f"{fmt.smallest_subnormal:.3g}")
    if kind(value, fmt) == "subnormal":
        return TEXT.msg("subnormal")
    if error == 0:
        return TEXT.msg("exact")
    return TEXT.msg("rounded")


def float_bits(typed) -> BitsResult:
    """The typed number in every format: bits, stored value, error, neighbours, and the gap chart's data."""
    x, exact = parse_number(typed)
    reference = exact if exact is not None else (Fraction(x) if math.isfinite(x) else None)
    x32 = store(x, FP32)[1]
    rows = []
    for fmt in FORMATS:
        bits, value = store(x, fmt)
        abs_error = rel_error = None
        if reference is not None and not math.isnan(value):
            if math.isinf(value):
                abs_error = rel_error = math.inf
            else:
                difference = abs(Fraction(value) - reference)
                abs_error = float(difference)
                rel_error = float(difference / abs(reference)) if reference != 0 else None
        rows.append(Stored(fmt, bits, value, kind(value, fmt), neighbours(bits, fmt), abs_error, rel_error,
                           outcome(x, x32, value, fmt, abs_error)))
    float64_error = float(abs(Fraction(x) - exact)) if exact is not None and math.isfinite(x) else None
    centre = spacing_centre(x) if math.isfinite(x) and x != 0 else None
    return BitsResult(str(typed).strip(), x, exact, float64_error, rows, [spacing(x, f) for f in FORMATS], centre)


EXAMPLES = ["0.1", "1/3", "65504", "70000", "500", "1e-7", "1e-8", "-0", "inf", "nan", "3.4e38"]
