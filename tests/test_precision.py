"""The precision lesson: torch's casts against independent implementations (struct, numpy, ml_dtypes and
a reference decoder written here), the lesson's words, and the timed comparison on the test zoo."""
from __future__ import annotations

import math
import re
import struct
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch

from core import text
from core.text import Problem
from tabs.precision import compare, compute, convert, hardware, view
from tabs.precision.compute import BF16, E4M3, E5M2, FORMATS, FP16, FP32
from tabs.precision.text import TEXT

HANGUL = re.compile("[\uac00-\ud7a3]")
ML_DTYPE = {"bf16": ml_dtypes.bfloat16, "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
            "fp16": np.float16, "fp32": np.float32}
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32}


# ---------------------------------------------------------------- the values checked (about 10,000)


def _edge_values() -> list[float]:
    """Values where formats differ: limits, half-way points, subnormals, specials, both signs."""
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, 0.1, 1 / 3, math.pi, 1e-8, 1e-30, 1e-40, 1e-45, 3e38,
              464.0, 465.0, 480.0, 61439.0, 61440.0, 65519.0, 65520.0]
    for fmt in FORMATS:
        top, tiny, normal = fmt.max, fmt.smallest_subnormal, fmt.smallest_normal
        half_gap_top = _reference_gap(top, fmt) / 2
        values += [top, top + half_gap_top, top + half_gap_top * 0.999, top + half_gap_top * 1.001, top * 2,
                   tiny, tiny / 2, tiny * 0.51, tiny * 0.49, tiny * 1.5, tiny * 2.5, normal, normal - tiny,
                   normal * 0.75, 1 + fmt.eps / 2, 1 + fmt.eps * 1.5, 1 + fmt.eps * 0.5000001]
    with np.errstate(over="ignore"):
        return [float(np.float32(v)) for v in values] + [-float(np.float32(v)) for v in values]


def _random_float32(n: int, seed: int = 0) -> list[float]:
    """Random float32 bit patterns: every exponent, subnormals, infs and nans included."""
    bits = np.random.default_rng(seed).integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    return [float(v) for v in bits.view(np.float32)]


def _reference_gap(size: float, fmt) -> float:
    """The gap above a positive size, from the format's definition: 2^(exponent - mantissa bits), and the
    smallest subnormal below the normal range."""
    if size < fmt.smallest_normal:
        return fmt.smallest_subnormal
    return math.ldexp(1.0, math.frexp(size)[1] - 1 - fmt.man_bits)


VALUES = _edge_values() + _random_float32(6000)
# Float32 numbers in the ranges of the small formats, where rounding matters most.
SMALL_RANGE = [float(v) for v in np.random.default_rng(1).standard_normal(3000).astype(np.float32) * 300]
SMALL_RANGE += [float(np.float32(v)) for v in np.random.default_rng(2).uniform(-1e-3, 1e-3, 1500)]
ALL = VALUES + SMALL_RANGE


def _is_nan_pattern(bits: int, fmt) -> bool:
    sign_free = bits & (fmt.mask >> 1)
    exponent = sign_free >> fmt.man_bits
    mantissa = sign_free & ((1 << fmt.man_bits) - 1)
    if fmt.has_inf:
        return exponent == (1 << fmt.exp_bits) - 1 and mantissa != 0
    return sign_free == (fmt.mask >> 1)  # E4M3: S.1111.111 only


def _same(ours: int, theirs: int, fmt) -> bool:
    """Equal bit patterns, or both NaN (NaN payloads are not fixed by the standard)."""
    if _is_nan_pattern(ours, fmt) or _is_nan_pattern(theirs, fmt):
        return _is_nan_pattern(ours, fmt) and _is_nan_pattern(theirs, fmt)
    return ours == theirs


def _numpy_bits(values: list[float], fmt) -> list[int]:
    """float64 -> float32 -> format, by numpy / ml_dtypes (no torch)."""
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x32 = np.array(values, dtype=np.float64).astype(np.float32)
        stored = x32 if fmt is FP32 else x32.astype(ML_DTYPE[fmt.key])
        return [int(b) for b in stored.view(UINT[fmt.bits])]


# ---------------------------------------------------------------- storing: torch's casts vs. the others


def test_fp32_bits_match_struct_and_numpy():
    ours = compute.bits_of(ALL, FP32)
    theirs = _numpy_bits(ALL, FP32)
    for x, o, t in zip(ALL, ours, theirs):
        assert _same(o, t, FP32), (x, hex(o), hex(t))
        if math.isfinite(x):
            assert o == struct.unpack(">I", struct.pack(">f", x))[0], x  # struct: Python's own rounding
    assert compute.bits_of([3.4028235677973366e38], FP32) == [0x7F800000]  # the tie above the largest: to inf


def test_fp16_bits_match_struct_and_numpy():
    ours = compute.bits_of(ALL, FP16)
    theirs = _numpy_bits(ALL, FP16)
    checked_by_struct = 0
    for x, o, t in zip(ALL, ours, theirs):
        assert _same(o, t, FP16), (x, hex(o), hex(t))
        x32 = float(np.float32(x)) if math.isfinite(x) else x
        if math.isfinite(x32) and abs(x32) < 65520:  # struct refuses what rounds to inf
            assert o == struct.unpack(">H", struct.pack(">e", x32))[0], x
            checked_by_struct += 1
    assert checked_by_struct > 5000
    # Converted from the FP32 value, as model.half() does: 1 + 2^-11 + 2^-40 becomes 1 + 2^-11 in FP32, a tie
    # that FP16 rounds to even (1.0); rounding the float64 directly would give 1 + 2^-10.
    assert compute.store(1 + 2**-11 + 2**-40, FP16)[1] == 1.0 == float(np.float16(np.float32(1 + 2**-11 + 2**-40)))


def _bf16_by_integer_rounding(values: list[float]) -> list[int]:
    """BF16 from the FP32 bits with integer arithmetic: round to nearest, ties to even, on the low 16 bits."""
    u = np.array(values, dtype=np.float64).astype(np.float32).view(np.uint32).astype(np.uint64)
    return [int(v) for v in ((u + 0x7FFF + ((u >> 16) & 1)) >> 16)]


def test_bf16_bits_match_integer_rounding_and_ml_dtypes():
    ours = compute.bits_of(ALL, BF16)
    by_formula = _bf16_by_integer_rounding(ALL)
    by_ml_dtypes = _numpy_bits(ALL, BF16)
    for x, o, f, m in zip(ALL, ours, by_formula, by_ml_dtypes):
        assert _same(o, m, BF16), (x, hex(o), hex(m))
        if not math.isnan(x):
            assert o == f, (x, hex(o), hex(f))


@pytest.mark.parametrize("fmt", [E4M3, E5M2], ids=lambda f: f.key)
def test_fp8_bits_match_ml_dtypes_wherever_the_number_fits(fmt):
    ours = compute.bits_of(ALL, fmt)
    theirs = _numpy_bits(ALL, fmt)
    top_tie = fmt.max + _reference_gap(fmt.max, fmt) / 2
    compared = 0
    for x, o, t in zip(ALL, ours, theirs):
        x32 = float(np.float32(x)) if not math.isnan(x) else x
        if not fmt.has_inf and (math.isinf(x32) or abs(x32) > top_tie):
            continue  # E4M3 overflow: torch saturates, ml_dtypes gives NaN (test below)
        assert _same(o, t, fmt), (x, hex(o), hex(t))
        compared += 1
    assert compared > 7000  # the random float32 patterns above 464 are left to the test below


def test_e4m3_overflow_saturates_in_torch_where_ml_dtypes_gives_nan():
    """E4M3 has no infinity. This PyTorch saturates a too-large number (and inf) to +-448; ml_dtypes (NumPy,
    JAX) gives NaN; both are allowed by the OCP FP8 standard. The lesson reads which one torch does."""
    too_large = [465.0, 480.0, 500.0, 1e6, math.inf, -500.0, -math.inf]
    stored = compute.values_of(compute.bits_of(too_large, E4M3), E4M3)
    assert stored == [448.0, 448.0, 448.0, 448.0, 448.0, -448.0, -448.0]
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(np.array(too_large, np.float32).astype(ml_dtypes.float8_e4m3fn).astype(np.float32)).all()
    assert compute.saturates(E4M3) and E4M3.too_large == 448 and not E4M3.has_inf
    assert compute.values_of(compute.bits_of([464.0], E4M3), E4M3) == [448.0]  # the tie rounds to even: 448
    assert math.isnan(compute.store(math.nan, E4M3)[1])
    # The formats with an infinity overflow to it.
    for fmt in (FP32, FP16, BF16, E5M2):
        assert fmt.has_inf and fmt.too_large == math.inf and not compute.saturates(fmt)
    # And the lesson says what torch did.
    row = {r.fmt.key: r for r in compute.float_bits("500").rows}["e4m3"]
    assert row.value == 448 and row.outcome.key == "precision.overflow_saturates"
    assert {r.fmt.key: r for r in compute.float_bits("inf").rows}["e4m3"].outcome.key == "precision.inf_saturates"
    assert view.too_large_words(E4M3, "ko") == TEXT.say("ko", "inf_none_saturates", largest="448")


# ---------------------------------------------------------------- reading bits: every 8- and 16-bit pattern


def _reference_value(bits: int, fmt) -> float:
    """A bit pattern's number from the definition: (-1)^s x 1.m x 2^(e - bias), subnormals 0.m x 2^(1 - bias)."""
    sign = -1.0 if bits >> (fmt.bits - 1) else 1.0
    exponent = (bits >> fmt.man_bits) & ((1 << fmt.exp_bits) - 1)
    mantissa = bits & ((1 << fmt.man_bits) - 1)
    bias = (1 << (fmt.exp_bits - 1)) - 1
    if _is_nan_pattern(bits, fmt):
        return math.nan
    if fmt.has_inf and exponent == (1 << fmt.exp_bits) - 1:
        return sign * math.inf
    if exponent == 0:
        return sign * math.ldexp(mantissa, 1 - bias - fmt.man_bits)
    return sign * math.ldexp((1 << fmt.man_bits) + mantissa, exponent - bias - fmt.man_bits)


@pytest.mark.parametrize("fmt", [FP16, BF16, E4M3, E5M2], ids=lambda f: f.key)
def test_every_bit_pattern_reads_as_numpy_and_the_definition_say(fmt):
    patterns = list(range(2 ** fmt.bits))
    ours = compute.values_of(patterns, fmt)
    with np.errstate(invalid="ignore"):
        theirs = np.arange(2 ** fmt.bits, dtype=np.uint32).astype(UINT[fmt.bits]).view(ML_DTYPE[fmt.key]).astype(np.float64)
    for bits, o, t in zip(patterns, ours, theirs.tolist()):
        r = _reference_value(bits, fmt)
        if math.isnan(r):
            assert math.isnan(o) and math.isnan(t), (fmt.key, hex(bits))
        else:
            assert o == r == t and math.copysign(1, o) == math.copysign(1, r), (fmt.key, hex(bits), o, r, t)
    if fmt is E4M3:
        assert sum(math.isnan(v) for v in ours) == 2  # 0x7F and 0xFF, nothing else


def test_random_fp32_patterns_read_as_numpy_says():
    patterns = [int(b) for b in np.random.default_rng(3).integers(0, 2**32, 10_000, dtype=np.uint64)]
    ours = compute.values_of(patterns, FP32)
    with np.errstate(invalid="ignore"):
        theirs = np.array(patterns, dtype=np.uint64).astype(np.uint32).view(np.float32).astype(np.float64).tolist()
    assert all((math.isnan(o) and math.isnan(t)) or o == t for o, t in zip(ours, theirs))


def test_split_gives_sign_exponent_and_mantissa_bits():
    bits, _ = compute.store(-2.5, FP16)  # -1.01b x 2^1: sign 1, exponent 1 + 15 = 10000b, mantissa 0100000000b
    assert compute.split(bits, FP16) == ("1", "10000", "0100000000")
    assert compute.split(compute.store(448.0, E4M3)[0], E4M3) == ("0", "1111", "110")


# ---------------------------------------------------------------- limits, neighbours, gaps


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.key)
def test_limits_match_numpy_and_ml_dtypes_finfo(fmt):
    info = ml_dtypes.finfo(ML_DTYPE[fmt.key]) if fmt.key in ("bf16", "e4m3", "e5m2") else np.finfo(ML_DTYPE[fmt.key])
    assert fmt.max == float(info.max)
    assert fmt.smallest_normal == float(info.smallest_normal)
    assert fmt.smallest_subnormal == float(info.smallest_subnormal)
    assert fmt.eps == float(info.eps)
    assert fmt.bits == info.bits and fmt.man_bits == info.nmant and fmt.exp_bits == info.nexp


def test_limits_are_the_known_numbers():
    assert (E4M3.max, E5M2.max, FP16.max) == (448, 57344, 65504)
    assert (FP16.smallest_subnormal, E4M3.smallest_subnormal, E5M2.smallest_subnormal, BF16.smallest_subnormal) == \
        (2**-24, 2**-9, 2**-16, 2**-133)
    assert [(f.exp_bits, f.man_bits) for f in FORMATS] == [(8, 23), (5, 10), (8, 7), (4, 3), (5, 2)]


@pytest.mark.parametrize("fmt", [FP32, FP16], ids=lambda f: f.key)
def test_neighbours_match_numpy_nextafter(fmt):
    dtype = np.float32 if fmt is FP32 else np.float16
    checked = 0
    for x in SMALL_RANGE[:2000] + [0.0, -0.0, 1.0, fmt.max, -fmt.max, fmt.smallest_subnormal]:
        bits, value = compute.store(x, fmt)
        below, above = compute.neighbours(bits, fmt)
        v = dtype(value)
        with np.errstate(over="ignore"):
            assert below == float(np.nextafter(v, dtype(-np.inf))), (x, value, below)
            assert above == float(np.nextafter(v, dtype(np.inf))), (x, value, above)
        checked += 1
    assert checked > 2000


@pytest.mark.parametrize("fmt", [BF16, E4M3, E5M2], ids=lambda f: f.key)
def test_neighbours_match_ml_dtypes_nextafter(fmt):
    dtype = ML_DTYPE[fmt.key]
    for x in SMALL_RANGE[:1500] + [1.0, -1.0, 0.0]:
        bits, value = compute.store(x, fmt)
        if not math.isfinite(value) or abs(value) == fmt.max:
            continue
        below, above = compute.neighbours(bits, fmt)
        v = np.array([value], dtype=dtype)
        lowest, highest = np.array([-fmt.max], dtype=dtype), np.array([fmt.max], dtype=dtype)
        assert below == float(np.nextafter(v, lowest)[0].astype(np.float64)), (x, value)
        assert above == float(np.nextafter(v, highest)[0].astype(np.float64)), (x, value)


def test_past_the_largest_value_comes_inf_or_nothing():
    assert compute.neighbours(compute.store(65504.0, FP16)[0], FP16) == (65472.0, math.inf)
    below, above = compute.neighbours(compute.store(448.0, E4M3)[0], E4M3)
    assert below == 416.0 and math.isnan(above)  # E4M3: the next pattern is NaN: no larger number
    assert compute.neighbours(compute.store(math.inf, FP16)[0], FP16) is None
    assert compute.neighbours(compute.store(1.0, FP16)[0], FP16) == (1 - 2**-11, 1 + 2**-10)


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda f: f.key)
def test_spacing_steps_follow_the_definition(fmt):
    for typed in ("0.1", "1", "300", "1e-6", "1e30"):
        s = compute.spacing(float(typed), fmt)
        assert len(s.sizes) == len(s.gaps)
        for size, gap in zip(s.sizes, s.gaps):
            assert fmt.smallest_subnormal <= size <= fmt.max
            assert gap == _reference_gap(size, fmt), (fmt.key, typed, size, gap)
        if s.sizes:  # the gap never shrinks as the numbers grow, and doubles at each power of two
            assert all(b >= a for a, b in zip(s.gaps, s.gaps[1:]))
        if s.here is not None:
            assert s.here_gap == _reference_gap(s.here, fmt)
    assert compute.spacing(1e30, E4M3).sizes == []  # far above E4M3's range: nothing to draw


# ---------------------------------------------------------------- the typed number and the lesson's words


def test_parse_number_accepts_numbers_and_refuses_the_rest():
    assert compute.parse_number("0.1")[0] == 0.1
    assert compute.parse_number(" 1/3 ")[0] == 1 / 3
    assert compute.parse_number("1,000")[0] == 1000.0
    assert math.isnan(compute.parse_number("nan")[0])
    assert compute.parse_number("-inf")[0] == -math.inf
    zero = compute.parse_number("-0")[0]
    assert zero == 0 and math.copysign(1, zero) < 0
    for bad, key in [("", "empty"), ("   ", "empty"), (None, "empty"), ("abc", "not_a_number"), ("1,5", "not_a_number"),
                     ("1/0", "not_a_number"), ("1e400", "too_large"), ("-1e999", "too_large"), ("1e-400", "too_small"),
                     ("9" * 500, "not_a_number")]:
        with pytest.raises(Problem) as caught:
            compute.parse_number(bad)
        assert caught.value.message.key == f"precision.{key}", bad


@pytest.mark.parametrize("typed, fmt, key", [
    ("0.1", FP32, "rounded"), ("0.5", FP16, "exact"), ("70000", FP16, "overflow_inf"), ("1e-8", FP16, "underflow"),
    ("1e-7", FP16, "subnormal"), ("-0", BF16, "negative_zero"), ("0", E5M2, "zero"), ("inf", FP16, "inf_stays"),
    ("nan", E4M3, "nan_one_pattern"), ("nan", FP16, "nan_stays"), ("464", E4M3, "rounded"), ("465", E4M3, "overflow_saturates"),
])
def test_what_happened_is_read_from_the_stored_value(typed, fmt, key):
    row = {r.fmt.key: r for r in compute.float_bits(typed).rows}[fmt.key]
    assert row.outcome.key == f"precision.{key}", (typed, fmt.key, row.value)


def test_the_bits_view_shows_what_torch_stored():
    html, fig = view.bits_html(compute.float_bits("0.1"), "en"), view.spacing_figure(compute.float_bits("0.1"), "en")
    for stored in ("0.10000000149011612", "0.0999755859375", "0.10009765625", "0.1015625", "0.09375"):
        assert stored in html  # FP32, FP16, BF16, E4M3, E5M2
    assert "0x3DCCCCCD" in html and "Value actually stored" in html
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.type == "log"
    assert [t.name for t in fig.data if t.mode == "lines"] == [f.label for f in FORMATS]
    html_ko = view.bits_html(compute.float_bits("1e6"), "ko")
    assert "448" in html_ko and "포화" in html_ko and "inf" in html_ko


def _english_sentences() -> list[str]:
    """The English words of the lesson that differ from the Korean ones (long enough to be sentences)."""
    return [text.EN[k] for k in text.EN if k.startswith("precision.") and text.EN[k] != text.KO[k]
            and len(text.EN[k]) > 14 and "{" not in text.EN[k] and "%{" not in text.EN[k]]


@pytest.mark.parametrize("typed", ["0.1", "500", "1e-8", "inf", "nan", "-0", "70000"])
def test_the_bits_view_speaks_one_language(typed):
    result = compute.float_bits(typed)
    english = view.bits_html(result, "en") + view.spacing_figure(result, "en").to_json()
    assert not HANGUL.search(english)
    korean = view.bits_html(result, "ko") + view.spacing_figure(result, "ko").to_json()
    assert HANGUL.search(korean)
    leaked = [s for s in _english_sentences() if s in korean]
    assert not leaked, leaked


def test_every_table_entry_has_both_languages():
    keys = [k for k in text.KO if k.startswith("precision.")]
    assert len(keys) > 150
    for key in keys:
        assert text.KO[key].strip() and text.EN[key].strip(), key
        assert sorted(re.findall(r"(?<!%)\{(\w+)", text.KO[key])) == sorted(re.findall(r"(?<!%)\{(\w+)", text.EN[key])), key


# ---------------------------------------------------------------- the hardware


def test_read_cpuinfo_reads_x86_and_arm():
    x86 = "processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_tile amx_bf16\n" \
          "processor\t: 1\nmodel name\t: Some Xeon\nflags\t\t: fpu\n"
    model, flags = hardware.read_cpuinfo(x86)
    assert model == "Some Xeon" and {"avx512_bf16", "amx_bf16", "avx2"} <= flags and "avx512_fp16" not in flags
    model, flags = hardware.read_cpuinfo("processor\t: 0\nFeatures\t: fp asimd asimdhp bf16 i8mm\n")
    assert model is None and {"bf16", "asimdhp"} <= flags
    assert hardware.read_cpuinfo("") == (None, None)


def test_this_cpu_reports_what_proc_cpuinfo_says():
    cpu = hardware.cpu()
    if not hardware.CPUINFO.is_file():
        assert cpu.flags is None and cpu.has("avx512_bf16") is None
        return
    first_flags_line = next(line for line in hardware.CPUINFO.read_text().splitlines()
                            if line.split(":")[0].strip() in ("flags", "Features"))
    listed = set(first_flags_line.split(":", 1)[1].split())
    for flag, _ in hardware.X86_FLAGS + hardware.ARM_FLAGS:
        assert cpu.has(flag) == (flag in listed), flag
    assert cpu.capability == torch.backends.cpu.get_cpu_capability()


def test_without_cpuinfo_the_flags_are_unknown_not_absent(monkeypatch, tmp_path):
    monkeypatch.setattr(hardware, "CPUINFO", tmp_path / "no_cpuinfo")
    hardware.cpu.cache_clear()
    try:
        cpu = hardware.cpu()
        assert cpu.flags is None and cpu.has("amx_bf16") is None
        assert view.device_panel("en").count("does not say") == 1
    finally:
        hardware.cpu.cache_clear()


def test_fp8_matmul_is_close_to_fp32_where_it_runs():
    device = torch.device("cpu")
    if hardware.support(device, "fp8") is not None:
        pytest.skip(f"FP8 matmul does not run here: {hardware.support(device, 'fp8')}")
    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(64, 64, generator=generator), torch.randn(64, 64, generator=generator)
    out = convert.matmul_for(a, b, "fp8", device)().float()
    reference = a @ b
    # E4M3 keeps 3 mantissa bits: each product is off by about 2 x 2^-4 relative; sums of 64 average out.
    relative = float((out - reference).abs().max() / reference.abs().max())
    assert 0 < relative < 0.1, relative


def test_fp8_weights_are_stored_in_one_byte_and_read_back_closely():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 5))
    model.eval().requires_grad_(False)
    fp8 = convert.fp8_weight_model(model)
    stored = [p for name, p in fp8.named_parameters() if name.endswith("original0")]
    assert len(stored) == 2 and all(p.dtype == torch.float8_e4m3fn for p in stored)
    for original, converted in ((model[0], fp8[0]), (model[3], fp8[3])):
        w, w8 = original.weight.float(), converted.weight.float()  # the parametrization turns FP8 back into BF16
        assert w8.dtype == torch.float32 and converted.weight.dtype == torch.bfloat16
        # E4M3 + one scale per tensor: within 1/16 relative for the largest weights, absolute for the small ones.
        assert float((w8 - w).abs().max()) <= float(w.abs().max()) / 16 + 1e-6
    weights_fp32 = sum(p.numel() for p in model.parameters()) * 4
    assert convert.weight_bytes(fp8) < weights_fp32 / 3
    x = torch.randn(2, 3, 8, 8)
    assert torch.allclose(fp8(x.bfloat16()).float(), model(x), atol=0.1, rtol=0.1)
    assert len(convert.layers(fp8)) == 4  # conv, relu, flatten, linear: the FP8 helpers are not layers


def test_int8_weights_are_counted_at_one_byte():
    model = torch.nn.Sequential(torch.nn.Linear(100, 10))
    quantised, _ = convert.cnn_for(model, "int8")
    assert convert.weight_bytes(quantised) == 100 * 10 * 1 + 10 * 4  # int8 weights, float32 bias


# ---------------------------------------------------------------- the comparison


def test_settings_are_clamped_with_notes():
    settings = compare.read_settings("no_such_net", ["fp32", "nonsense"], ["tpu"], 1e9, math.nan, -1)
    assert settings.model_name == compare.zoo.DEFAULT_CNN and settings.precisions == ["fp32"]
    assert settings.devices == ["cpu"] and settings.batch_size == compare.SETTINGS["batch_size"].high == 32
    assert settings.matmul_size == compare.SETTINGS["matmul_size"].default == 1024
    assert settings.budget_s == compare.SETTINGS["budget_s"].low == 5
    assert len(settings.notes) == 5
    said = [n.say("ko") for n in settings.notes]
    assert all(HANGUL.search(s) for s in said)
    with pytest.raises(Problem):
        compare.read_settings("resnet18", [], ["cpu"], 2, 256, 10)


def test_the_comparisons_controls_are_made_from_its_declared_settings():
    import gradio as gr

    from core.page import Page
    from core.settings import Settings
    from tabs.precision import tab

    with gr.Blocks() as demo:
        tab.build(Page(Settings(), demo))
    by_id = {block.elem_id: block for block in demo.blocks.values() if getattr(block, "elem_id", None)}
    batch, budget = by_id["precision-batch"], by_id["precision-budget"]
    assert (batch.minimum, batch.maximum, batch.step, batch.value) == (1, 32, 1, 8)  # the page as it was
    assert (budget.minimum, budget.maximum, budget.step, budget.value) == (5, 30, 5, 25)  # 30 s: one shared slot
    for slider, name in ((batch, "batch_size"), (budget, "budget_s")):
        setting = compare.SETTINGS[name]
        assert (slider.minimum, slider.maximum, slider.value) == (setting.low, setting.high, setting.default)
    # an API caller gets no more than the slider offers, and is told so in the page's language
    settings = compare.read_settings("resnet18", ["fp32"], ["cpu"], 8, 4096, 300)
    assert settings.budget_s == 30 and settings.matmul_size == 4096
    assert [note.say("en") for note in settings.notes] == ["Time budget (s) must be from 5 to 30; using 30."]


def test_compare_on_the_test_zoo_returns_a_finite_row_per_supported_pair():
    result = compare.compare(model_name="efficientnet_lite0", batch_size=2, matmul_size=256, budget_s=600, repeats=1)
    rows = result.rows
    for device in hardware.devices():
        for precision in compare.PRECISIONS:
            for workload in compare.WORKLOADS:
                matching = [r for r in rows if r.device == device and r.precision == precision and r.workload == workload]
                assert len(matching) == 1, (device, precision, workload)
                row = matching[0]
                reason = hardware.support(torch.device(device), precision)
                assert (row.status == "ok") == (reason is None), (row, reason)
                if reason is None:
                    numbers = [row.latency_ms, row.param_mb, row.peak_mb, row.max_abs_diff, row.throughput]
                    assert all(math.isfinite(v) and v >= 0 for v in numbers), row
                    assert row.latency_ms > 0 and row.throughput > 0
                    if workload == "cnn":
                        assert 0 <= row.top1_agree <= 100
                else:
                    assert row.reason == reason
    cpu32 = next(r for r in rows if r.device == "cpu" and r.precision == "fp32" and r.workload == "cnn")
    assert cpu32.max_abs_diff == 0 and cpu32.top1_agree == 100
    cpu16 = next(r for r in rows if r.device == "cpu" and r.precision == "bf16" and r.workload == "cnn")
    assert cpu16.param_mb == pytest.approx(cpu32.param_mb / 2, rel=0.02)  # 2 bytes per weight instead of 4

    table_en, table_ko = view.compare_table(result, "en"), view.compare_table(result, "ko")
    assert len(table_en) == len(table_ko) == len(rows)
    assert "Device" in table_en.columns and "장치" in table_ko.columns and "Time for 10.0 k images" in table_en.columns
    assert "1만장 걸리는 시간" in table_ko.columns
    notes_en, notes_ko = view.compare_notes(result, "en"), view.compare_notes(result, "ko")
    assert "10.0 k images" in notes_en and not HANGUL.search(notes_en)
    assert "이미지 1만장" in notes_ko
    assert not [s for s in _english_sentences() if s in notes_ko]
    figure = view.compare_figure(result, "ko")
    assert "기준" in figure.layout.title.text and len(figure.data) >= 5


def test_compare_respects_the_time_budget():
    result = compare.compare(model_name="efficientnet_lite0", batch_size=2, matmul_size=256, budget_s=0.01, repeats=2)
    assert any(r.status == "skipped" for r in result.rows)
    assert all(r.status in ("ok", "skipped", "unsupported") for r in result.rows)
    assert result.wall_s < 30  # model loading included; nothing runs past an empty budget


# ---------------------------------------------------------------- the events (issue 12)


def test_events_bits_cached_and_comparison_never():
    from core import events
    from tabs.precision import tab
    from tests.conftest import build_lesson_tab

    demo, page, registered = build_lesson_tab(tab)
    records = {r.name: r for r in registered}
    bits, bench = records["float_bits"], records["precision_compare"]
    assert bits.kind.name == "quick" and bits.cache and bits.wants_lang
    assert bench.kind.name == "bench" and not bench.cache
    warmed = page.warmed()
    assert ("on_open:float_bits", ("0.1",)) in warmed  # the worked example on opening
    assert sum(name == "example_bits" for name, _ in warmed) == len(compute.EXAMPLES)
    hits = events.RESULTS.hits
    first = bits.run("1/7", lang="en")
    again = bits.run("1/7", lang="en")
    assert events.RESULTS.hits == hits + 1 and first[0] == again[0] and "0.142857" in first[0]
    korean = bits.run("1/7", lang="ko")
    assert HANGUL.search(korean[0]) and not HANGUL.search(first[0])
