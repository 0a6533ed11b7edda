"""Bit-level model of the floating-point formats of the precision tab, in plain Python.

Every format is sign | exponent | mantissa. `encode` rounds a number to the nearest value of a
format (ties to even) and returns its bit pattern; `decode` turns a bit pattern back into a number.
Nothing here calls torch, so the tests can check this code against struct, numpy and torch's
own conversions.

How torch converts (and so how this module rounds):
- FP32 is rounded straight from the float64 a Python number is.
- FP16, BF16 and both FP8 formats are rounded from the FP32 value, the way `model.half()` or
  `tensor.to(torch.bfloat16)` converts an FP32 model (torch converts float64 through FP32 too).
- Overflow: FP32, FP16, BF16 and FP8 E5M2 have infinities, so a too-large value becomes +-inf.
  FP8 E4M3FN ("FN": finite, NaN only) has no infinity; torch 2.15 saturates every too-large value
  and +-inf to +-448, its largest finite value, and keeps NaN as NaN.
"""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction


@dataclasses.dataclass(frozen=True)
class FloatFormat:
    key: str  # "fp32", "fp16", "bf16", "e4m3", "e5m2"
    label: str
    torch_dtype_name: str  # attribute of torch: "float32", "float8_e4m3fn", ...
    exp_bits: int
    man_bits: int
    has_inf: bool  # False: overflow and inf saturate to the largest finite value (E4M3FN in torch)
    nan_bits: int  # the NaN pattern this module writes (sign bit clear)

    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return 2 ** (self.exp_bits - 1) - 1

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite number. E4M3FN also uses the all-ones exponent for numbers."""
        top_field = 2 ** self.exp_bits - (2 if self.has_inf else 1)
        return top_field - self.bias

    @property
    def max_mantissa(self) -> int:
        """Largest mantissa field at emax: all ones, except E4M3FN where S.1111.111 is NaN."""
        return 2 ** self.man_bits - (1 if self.has_inf else 2)

    @property
    def max_finite(self) -> float:
        return math.ldexp(1 + self.max_mantissa / 2 ** self.man_bits, self.emax)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        return math.ldexp(1.0, self.emin - self.man_bits)

    @property
    def epsilon(self) -> float:
        """Gap between 1 and the next number: 2^-mantissa_bits."""
        return math.ldexp(1.0, -self.man_bits)

    @property
    def decimal_digits(self) -> float:
        """Significant decimal digits the format carries: log10(2^(mantissa bits + 1))."""
        return (self.man_bits + 1) * math.log10(2)


FP32 = FloatFormat("fp32", "FP32", "float32", 8, 23, True, 0x7FC00000)
FP16 = FloatFormat("fp16", "FP16", "float16", 5, 10, True, 0x7E00)
BF16 = FloatFormat("bf16", "BF16", "bfloat16", 8, 7, True, 0x7FC0)
E4M3 = FloatFormat("e4m3", "FP8 E4M3", "float8_e4m3fn", 4, 3, False, 0x7F)
E5M2 = FloatFormat("e5m2", "FP8 E5M2", "float8_e5m2", 5, 2, True, 0x7F)
FORMATS: list[FloatFormat] = [FP32, FP16, BF16, E4M3, E5M2]
BY_KEY = {f.key: f for f in FORMATS}


def _round_magnitude(a: Fraction, fmt: FloatFormat) -> tuple[int, int] | None:
    """Round a positive exact number to (exponent field, mantissa field), ties to even; None on overflow."""
    exponent = math.floor(math.log2(a)) if a >= 1 else -math.ceil(math.log2(1 / a))
    # log2 of a Fraction is a float: fix an off-by-one at exact powers of two and near them
    while Fraction(2) ** exponent > a:
        exponent -= 1
    while Fraction(2) ** (exponent + 1) <= a:
        exponent += 1
    exponent = max(exponent, fmt.emin)  # below the normal range: subnormal, fixed quantum
    quantum = Fraction(2) ** (exponent - fmt.man_bits)
    steps = round(a / quantum)  # Fraction.__round__ rounds half to even
    if steps == 2 ** (fmt.man_bits + 1):  # rounding carried into the next power of two
        exponent += 1
        steps = 2 ** fmt.man_bits
    if steps == 0:
        return 0, 0
    if steps < 2 ** fmt.man_bits:  # subnormal: exponent field 0, no hidden 1
        return 0, steps
    mantissa = steps - 2 ** fmt.man_bits
    if exponent > fmt.emax or (exponent == fmt.emax and mantissa > fmt.max_mantissa):
        return None
    return exponent + fmt.bias, mantissa


def encode(x: float, fmt: FloatFormat) -> int:
    """The bit pattern torch stores for the Python float x in format fmt (see the module docstring)."""
    if fmt is not FP32:
        x = decode(encode(x, FP32), FP32)  # torch converts through FP32
    sign = 1 if math.copysign(1.0, x) < 0 else 0
    sign_bit = sign << (fmt.bits - 1)
    if math.isnan(x):
        return sign_bit | fmt.nan_bits
    max_bits = ((fmt.emax + fmt.bias) << fmt.man_bits) | fmt.max_mantissa
    inf_bits = (2 ** fmt.exp_bits - 1) << fmt.man_bits
    if math.isinf(x):
        return sign_bit | (inf_bits if fmt.has_inf else max_bits)
    if x == 0:
        return sign_bit
    rounded = _round_magnitude(Fraction(abs(x)), fmt)
    if rounded is None:
        return sign_bit | (inf_bits if fmt.has_inf else max_bits)
    exp_field, man_field = rounded
    return sign_bit | (exp_field << fmt.man_bits) | man_field


def split(bits: int, fmt: FloatFormat) -> tuple[int, int, int]:
    """(sign, exponent field, mantissa field) of a bit pattern."""
    mantissa = bits & (2 ** fmt.man_bits - 1)
    exponent = (bits >> fmt.man_bits) & (2 ** fmt.exp_bits - 1)
    sign = (bits >> (fmt.bits - 1)) & 1
    return sign, exponent, mantissa


def kind(bits: int, fmt: FloatFormat) -> str:
    """'zero', 'subnormal', 'normal', 'inf' or 'nan'."""
    _, exponent, mantissa = split(bits, fmt)
    all_ones = 2 ** fmt.exp_bits - 1
    if exponent == 0:
        return "zero" if mantissa == 0 else "subnormal"
    if exponent == all_ones:
        if fmt.has_inf:
            return "inf" if mantissa == 0 else "nan"
        if mantissa == 2 ** fmt.man_bits - 1:
            return "nan"
    return "normal"


def decode(bits: int, fmt: FloatFormat) -> float:
    """The number a bit pattern stands for."""
    sign, exponent, mantissa = split(bits, fmt)
    sign_factor = -1.0 if sign else 1.0
    what = kind(bits, fmt)
    if what == "nan":
        return math.nan
    if what == "inf":
        return sign_factor * math.inf
    if what in ("zero", "subnormal"):
        return sign_factor * math.ldexp(mantissa, fmt.emin - fmt.man_bits)
    return sign_factor * math.ldexp(2 ** fmt.man_bits + mantissa, exponent - fmt.bias - fmt.man_bits)


def to_format(x: float, fmt: FloatFormat) -> float:
    """The value actually stored when x is put in format fmt."""
    return decode(encode(x, fmt), fmt)


def bit_string(bits: int, fmt: FloatFormat) -> tuple[str, str, str]:
    """The sign, exponent and mantissa bits as '0'/'1' strings."""
    sign, exponent, mantissa = split(bits, fmt)
    return str(sign), format(exponent, f"0{fmt.exp_bits}b"), format(mantissa, f"0{fmt.man_bits}b")


def gap_at(value: float, fmt: FloatFormat) -> float:
    """Distance from |value| to the next larger representable number (the 'ulp'), for finite values."""
    a = abs(value)
    if a < fmt.min_normal:
        return fmt.min_subnormal
    exponent = math.frexp(a)[1] - 1
    return math.ldexp(1.0, exponent - fmt.man_bits)


def neighbours(bits: int, fmt: FloatFormat) -> tuple[float, float] | None:
    """The representable numbers just below and just above a finite stored value (None for inf/nan).

    Past the largest finite value the next one is inf, or nan for E4M3FN (it has no larger number)."""
    if kind(bits, fmt) in ("inf", "nan"):
        return None
    sign, _, _ = split(bits, fmt)
    magnitude = bits & (2 ** (fmt.bits - 1) - 1)
    top = ((fmt.emax + fmt.bias) << fmt.man_bits) | fmt.max_mantissa

    def value(mag: int, negative: bool) -> float:
        v = decode(mag, fmt)
        return -v if negative else v

    if magnitude == 0:
        return -fmt.min_subnormal, fmt.min_subnormal
    up = value(magnitude + 1, sign == 1) if magnitude < top else (math.inf if fmt.has_inf else math.nan)
    down = value(magnitude - 1, sign == 1)
    return (up, down) if sign else (down, up)


def gap_steps(lo: float, hi: float, fmt: FloatFormat) -> tuple[list[float], list[float]]:
    """The gap between neighbours as a step function of the magnitude on [lo, hi], clipped to the format.

    Returns (x, gap) points for a 'hv' line: the gap is constant over each power of two, and over the
    whole subnormal range.
    """
    lo = max(lo, fmt.min_subnormal)
    hi = min(hi, fmt.max_finite)
    if lo >= hi:
        return [], []
    xs, gaps = [lo], [gap_at(lo, fmt)]
    exponent = math.frexp(lo)[1]  # the first power of two above lo
    while True:
        edge = math.ldexp(1.0, exponent)
        if edge >= hi:
            break
        if edge >= fmt.min_normal:
            xs.append(edge)
            gaps.append(gap_at(edge, fmt))
        exponent += 1
    xs.append(hi)
    gaps.append(gap_at(hi, fmt))
    return xs, gaps
