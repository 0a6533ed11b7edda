"""The precision tab: the pure-Python bit model against struct, numpy and torch, and the model comparison."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import torch

from core.i18n import UserError
from tabs import precision
from tabs.precision_bits import BF16, E4M3, E5M2, FORMATS, FP16, FP32, decode, encode, gap_at, kind, neighbours

TORCH_DTYPE = {f.key: getattr(torch, f.torch_dtype_name) for f in FORMATS}
VIEW = {8: torch.uint8, 16: torch.int16, 32: torch.int32}


def _edge_values() -> list[float]:
    """Values where formats differ: limits, half-way points, subnormals, specials, both signs."""
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, 0.1, 1 / 3, math.pi, 1e-8, 1e-30, 1e-40, 1e-45, 3e38]
    for fmt in FORMATS:
        top, tiny, normal = fmt.max_finite, fmt.min_subnormal, fmt.min_normal
        half_ulp_top = gap_at(top, fmt) / 2
        values += [top, top + half_ulp_top, top + half_ulp_top * 0.999, top + half_ulp_top * 1.001, top * 2,
                   tiny, tiny / 2, tiny * 0.51, tiny * 0.49, tiny * 1.5, tiny * 2.5, normal, normal - tiny,
                   normal * 0.75, 1 + fmt.epsilon / 2, 1 + fmt.epsilon * 1.5, 1 + fmt.epsilon * 0.5000001]
    with np.errstate(over="ignore"):
        return [float(np.float32(v)) for v in values] + [-float(np.float32(v)) for v in values]


def _random_float32(n: int, seed: int = 0) -> list[float]:
    """Random float32 bit patterns: every exponent, subnormals, infs and nans included."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2**32, size=n, dtype=np.uint64).astype(np.uint32)
    return [float(v) for v in bits.view(np.float32)]


VALUES = _edge_values() + _random_float32(6000)
# Float32 numbers in the ranges of the small formats, where rounding matters most.
SMALL_RANGE = [float(v) for v in np.random.default_rng(1).standard_normal(3000).astype(np.float32) * 300]
SMALL_RANGE += [float(np.float32(v)) for v in np.random.default_rng(2).uniform(-1e-3, 1e-3, 1500)]


def _same(ours: int, theirs: int, fmt) -> bool:
    """Equal bit patterns, or both NaN (NaN payloads are not fixed by the standard)."""
    if kind(ours, fmt) == "nan" or kind(theirs, fmt) == "nan":
        return kind(ours, fmt) == kind(theirs, fmt) == "nan"
    return ours == theirs


def test_fp32_matches_struct_and_numpy():
    for x in VALUES + SMALL_RANGE + [0.1, 1e-46, 2.5e-45, 3.4028235677973366e38, 1.0000000596046448]:
        ours = encode(x, FP32)
        with np.errstate(over="ignore"):
            numpy_bits = int(np.array([x], dtype=np.float32).view(np.uint32)[0])
        assert _same(ours, numpy_bits, FP32), (x, hex(ours), hex(numpy_bits))
        if math.isfinite(x) and abs(x) <= FP32.max_finite:
            assert ours == struct.unpack(">I", struct.pack(">f", x))[0], x


def test_fp16_matches_struct_and_numpy():
    for x in VALUES + SMALL_RANGE:
        ours = encode(x, FP16)
        with np.errstate(over="ignore"):
            numpy_bits = int(np.array([x], dtype=np.float32).astype(np.float16).view(np.uint16)[0])
        assert _same(ours, numpy_bits, FP16), (x, hex(ours), hex(numpy_bits))
        if math.isfinite(x) and abs(x) < FP16.max_finite + gap_at(FP16.max_finite, FP16) / 2:
            assert ours == struct.unpack(">H", struct.pack(">e", x))[0], x


@pytest.mark.parametrize("fmt", [BF16, E4M3, E5M2], ids=lambda f: f.key)
def test_bf16_and_fp8_match_torch_conversion(fmt):
    values = VALUES + SMALL_RANGE
    converted = torch.tensor(values, dtype=torch.float32).to(TORCH_DTYPE[fmt.key]).view(VIEW[fmt.bits])
    torch_bits = [int(b) & (2**fmt.bits - 1) for b in converted.tolist()]
    mismatches = [(x, hex(encode(x, fmt)), hex(t)) for x, t in zip(values, torch_bits) if not _same(encode(x, fmt), t, fmt)]
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("fmt", FORMATS[1:], ids=lambda f: f.key)
def test_every_bit_pattern_decodes_as_torch_reads_it(fmt):
    patterns = torch.arange(2**fmt.bits, dtype=torch.int64)
    if fmt.bits == 8:
        stored = patterns.to(torch.uint8).view(TORCH_DTYPE[fmt.key])
    else:  # int16 is signed: patterns from 0x8000 up are negative integers
        stored = (patterns - (patterns >= 2**15) * 2**16).to(torch.int16).view(TORCH_DTYPE[fmt.key])
    theirs = stored.to(torch.float64).tolist()
    for bits, value in zip(range(2**fmt.bits), theirs):
        ours = decode(bits, fmt)
        if math.isnan(value):
            assert math.isnan(ours), (fmt.key, hex(bits))
        else:
            assert ours == value and math.copysign(1, ours) == math.copysign(1, value), (fmt.key, hex(bits), ours, value)


def test_format_limits_match_torch_finfo():
    for fmt in FORMATS:
        info = torch.finfo(TORCH_DTYPE[fmt.key])
        assert fmt.max_finite == info.max
        assert fmt.min_normal == info.smallest_normal
        assert fmt.epsilon == info.eps
    assert E4M3.max_finite == 448 and E5M2.max_finite == 57344 and FP16.max_finite == 65504
    assert FP16.min_subnormal == 2**-24 and E4M3.min_subnormal == 2**-9 and BF16.min_subnormal == 2**-133


def test_special_values_behave_as_each_format_does():
    # E4M3FN has no infinity: torch saturates overflow and inf to +-448, NaN stays NaN.
    assert decode(encode(1e6, E4M3), E4M3) == 448 and decode(encode(-math.inf, E4M3), E4M3) == -448
    assert math.isnan(decode(encode(math.nan, E4M3), E4M3))
    # The others overflow to inf.
    assert decode(encode(70000.0, FP16), FP16) == math.inf and decode(encode(1e5, E5M2), E5M2) == math.inf
    # -0 keeps its sign everywhere.
    for fmt in FORMATS:
        assert encode(-0.0, fmt) == 1 << (fmt.bits - 1)
    # Underflow: below half the smallest subnormal rounds to zero; FP16 subnormal keeps 1e-7 roughly.
    assert decode(encode(1e-8, FP16), FP16) == 0.0
    assert kind(encode(1e-7, FP16), FP16) == "subnormal"
    assert neighbours(encode(1.0, FP16), FP16) == (1 - 2**-11, 1 + 2**-10)


def test_parse_number_accepts_numbers_and_refuses_the_rest():
    assert precision.parse_number("0.1")[0] == 0.1
    assert precision.parse_number(" 1/3 ")[0] == 1 / 3
    assert precision.parse_number("1,000")[0] == 1000.0
    assert math.isnan(precision.parse_number("nan")[0])
    assert precision.parse_number("-inf")[0] == -math.inf
    zero = precision.parse_number("-0")[0]
    assert zero == 0 and math.copysign(1, zero) < 0
    for bad in ["", "   ", "abc", "1e400", "-1e999", "1e-400", "1/0", "1,5", None]:
        with pytest.raises(UserError):
            precision.parse_number(bad)


def test_float_bits_view_reports_the_stored_values():
    html, fig = precision.float_bits_view("0.1", lang="en")
    assert "0.10000000149011612" in html  # FP32
    assert "0.0999755859375" in html  # FP16
    assert "0.10009765625" in html  # BF16
    assert fig.layout.yaxis.type == "log" and len(fig.data) >= len(FORMATS)
    html, _ = precision.float_bits_view("1e6", lang="ko")
    assert "448" in html and "inf" in html


def test_compare_on_the_test_zoo_returns_a_finite_row_per_supported_pair():
    result = precision.compare(model_name="efficientnet_lite0", batch_size=2, matmul_size=256, budget_s=600, repeats=1)
    rows = result.rows
    devices = {str(d) for d in precision.models.available_devices()}
    for device in devices:
        for prec in precision.PRECISIONS:
            for workload in ("cnn", "matmul"):
                matching = [r for r in rows if r.device == device and r.precision == prec and r.workload == workload]
                assert len(matching) == 1, (device, prec, workload)
                row = matching[0]
                ok, reason = precision.support(torch.device(device), prec)
                assert (row.status == "ok") == ok, (row, reason)
                if ok:
                    numbers = [row.latency_ms, row.param_mb, row.peak_mb, row.max_abs_diff, row.throughput]
                    assert all(math.isfinite(v) and v >= 0 for v in numbers), row
                    assert row.latency_ms > 0 and row.throughput > 0
                    if workload == "cnn":
                        assert 0 <= row.top1_agree <= 100
                else:
                    assert row.reason
    cpu32 = next(r for r in rows if r.device == "cpu" and r.precision == "fp32" and r.workload == "cnn")
    assert cpu32.max_abs_diff == 0 and cpu32.top1_agree == 100
    cpu16 = next(r for r in rows if r.device == "cpu" and r.precision == "bf16" and r.workload == "cnn")
    assert cpu16.param_mb == pytest.approx(cpu32.param_mb / 2, rel=0.02)  # 2 bytes per weight instead of 4
    table = precision.rows_table(result, "en")
    assert len(table) == len(rows)
    assert result.fig is not None and "10,000" in result.notes_en


def test_compare_respects_the_time_budget():
    result = precision.compare(model_name="efficientnet_lite0", batch_size=2, matmul_size=256, budget_s=0.01, repeats=2)
    assert any(r.status == "skipped" for r in result.rows)
    assert all(r.status in ("ok", "skipped", "unsupported") for r in result.rows)
