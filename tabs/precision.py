"""Number precision and devices: what FP32, FP16, BF16 and FP8 keep of a number, and what each
precision costs and gains when a real CNN (and a large matrix multiply) runs on each device here.

Pure compute first: parsing a typed number, the bit view (the bit model itself lives in
tabs/precision_bits.py, tested against struct, numpy and torch), the hardware probe, the timed
comparison under a time budget, the charts and notes. Then a short `build()`.
"""
from __future__ import annotations

import copy
import dataclasses
import html
import math
import os
import platform
import re
import statistics
import time
import warnings
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Callable

import gradio as gr
import torch
from PIL import Image, ImageOps

from core import i18n, models
from core.i18n import UserError, t
from core.images import load_image
from core.zoo import cnn as zoo
from tabs import precision_bits as pb

TAB_ID = "precision"
TITLE = "precision.title"

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
PRECISIONS = ["fp32", "fp16", "bf16", "int8", "fp8"]
PRECISION_LABEL = {"fp32": "FP32", "fp16": "FP16", "bf16": "BF16", "int8": "INT8", "fp8": "FP8 E4M3"}
MATMUL_SIZES = [256, 512, 1024, 2048, 4096]
DEFAULT_BUDGET_S = 25
DEFAULT_BATCH = 8
DEFAULT_MATMUL = 1024
DEFAULT_REPEATS = 5
BIT_COLOURS = {"sign": "#dc2626", "exp": "#2563eb", "man": "#16a34a"}
FORMAT_COLOURS = {"fp32": "#111827", "fp16": "#2563eb", "bf16": "#16a34a", "e4m3": "#dc2626", "e5m2": "#d97706"}
DEVICE_COLOURS = ["#2563eb", "#dc2626", "#16a34a"]

i18n.add({
    "precision.title": ("6. 정밀도와 장치", "6. Precision & devices"),
    "precision.numbers_tab": ("숫자 하나를 비트로 보기", "One number, bit by bit"),
    "precision.number": ("숫자 (예: 0.1, 1/3, 65504, 1e-8, 500, inf, nan, -0)", "A number (e.g. 0.1, 1/3, 65504, 1e-8, 500, inf, nan, -0)"),
    "precision.show_bits": ("비트 보기", "Show the bits"),
    "precision.examples": ("해 볼 만한 숫자", "Numbers worth trying"),
    "precision.spacing": ("이웃한 수 사이의 간격", "Gap between neighbouring numbers"),
    "precision.compare_tab": ("같은 모델, 여러 정밀도", "Same model, many precisions"),
    "precision.model": ("CNN 모델", "CNN model"),
    "precision.precisions": ("정밀도", "Precisions"),
    "precision.devices": ("장치", "Devices"),
    "precision.batch": ("이미지 개수 (예시 사진 + 뒤집기·자르기)", "Images (example photos + flips and crops)"),
    "precision.matmul": ("행렬 곱 크기 N (N x N 두 개를 곱함)", "Matrix multiply size N (two N x N matrices)"),
    "precision.budget": ("시간 예산 (초): 이 안에 끝냅니다", "Time budget (s): the run finishes within it"),
    "precision.run": ("측정하기", "Measure"),
    "precision.chart": ("측정 결과", "Measurements"),
    "precision.table": ("표", "Table"),
    "precision.notes": ("### 결과 읽는 법", "### What the result means"),
    "precision.device_tab": ("이 컴퓨터의 장치", "This machine's devices"),
})


# ------------------------------------------------------------------ the typed number

_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?")
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE]([+-]?\d+))?")
_SPECIAL = {"nan": math.nan, "+nan": math.nan, "-nan": -math.nan, "inf": math.inf, "+inf": math.inf,
            "infinity": math.inf, "+infinity": math.inf, "-inf": -math.inf, "-infinity": -math.inf,
            "∞": math.inf, "-∞": -math.inf, "pi": math.pi, "π": math.pi, "-pi": -math.pi, "-π": -math.pi}


def _not_a_number(text: str) -> UserError:
    shown = text if len(text) <= 40 else text[:40] + "..."
    return UserError(
        f"'{shown}' 은(는) 숫자가 아닙니다. 0.1, -2.5, 1e-8, 1/3, 65504, inf, nan, -0 처럼 입력해 주세요.",
        f"'{shown}' is not a number. Type something like 0.1, -2.5, 1e-8, 1/3, 65504, inf, nan or -0.",
    )


def _too_large() -> UserError:
    return UserError(
        "이 수는 float64(파이썬 float)의 최댓값(약 1.8e308)보다 커서 컴퓨터의 어떤 부동소수점 형식에도 담을 수 없습니다. "
        "1.8e308 이하의 수를 넣거나, 무한대를 보고 싶으면 inf 를 입력해 보세요.",
        "This number is larger than the largest float64 (Python float), about 1.8e308, so no floating-point format "
        "here can hold it. Type a number up to 1.8e308, or type inf to see infinity.",
    )


def _too_small() -> UserError:
    return UserError(
        "이 수는 float64 로도 0 이 될 만큼 작습니다 (가장 작은 float64 는 약 4.9e-324). 더 큰 수를 넣어 보세요.",
        "This number is so small that even float64 turns it into 0 (the smallest float64 is about 4.9e-324). "
        "Try a larger number.",
    )


def parse_number(text) -> tuple[float, Fraction | None]:
    """Typed text -> (the Python float, the exact rational typed, or None for inf/nan/pi).

    Accepts decimals, scientific notation, fractions like 1/3, thousands commas (1,000), inf, nan,
    pi and -0. Refuses empty text, words, and numbers float64 cannot hold, with a Korean/English message.
    """
    if text is None or not str(text).strip():
        raise UserError("숫자를 입력해 주세요 (예: 0.1, 1/3, 65504, 1e-8, inf, nan, -0).",
                        "Please type a number (e.g. 0.1, 1/3, 65504, 1e-8, inf, nan, -0).")
    s = str(text).strip().replace("−", "-").replace("＋", "+").replace(" ", "").replace("_", "")
    if len(s) > 80:
        raise _not_a_number(s)
    low = s.lower()
    if low in _SPECIAL:
        return _SPECIAL[low], None
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    decimal = _DECIMAL.fullmatch(s)
    if decimal and decimal.group(3) is not None and abs(int(decimal.group(3))) > 400:
        # Fraction would build a 10^exponent integer: decide the range from the exponent instead.
        mantissa = float(s[:decimal.start(2)])
        if mantissa == 0:
            return (-0.0 if s.startswith("-") else 0.0), Fraction(0)
        raise _too_large() if int(decimal.group(3)) > 0 else _too_small()
    try:
        exact = Fraction(s)
    except (ValueError, ZeroDivisionError):
        raise _not_a_number(str(text).strip()) from None
    try:
        value = float(exact)
    except OverflowError:
        raise _too_large() from None
    if value == 0 and exact != 0:
        raise _too_small()
    if exact == 0 and s.startswith("-"):
        value = -0.0
    return value, exact


def _fmt_value(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    return repr(v)


def _fmt_err(v: float | None) -> str:
    if v is None:
        return "—"
    if math.isinf(v):
        return "∞"
    if v == 0:
        return "0"
    return f"{v:.3g}"


def _outcome(x: float, bits: int, fmt: pb.FloatFormat, lang: str) -> str:
    """What happened to x in this format, in one short sentence."""
    L = (lambda ko, en: ko if lang == "ko" else en)
    stored = pb.decode(bits, fmt)
    what = pb.kind(bits, fmt)
    x32 = pb.to_format(x, pb.FP32)
    if math.isnan(x):
        return L("NaN 은 NaN 으로 남습니다", "NaN stays NaN") + (
            L(" (E4M3FN 의 NaN 은 S.1111.111 하나뿐)", " (E4M3FN has one NaN pattern: S.1111.111)") if fmt is pb.E4M3 else "")
    if math.isinf(x):
        if fmt.has_inf:
            return L("무한대는 무한대로 (지수 비트가 모두 1, 가수 0)", "inf stays inf (exponent all ones, mantissa 0)")
        return L("E4M3FN 에는 무한대가 없어서 torch 는 ±448 (가장 큰 수)로 포화시킵니다",
                 "E4M3FN has no infinity: torch saturates it to ±448, the largest finite value")
    if x == 0:
        if math.copysign(1, x) < 0:
            return L("-0: 부호 비트만 1 (0 과 같다고 비교되지만 1/-0 = -inf)", "-0: only the sign bit is 1 (equals 0, but 1/-0 = -inf)")
        return L("0: 모든 비트가 0", "0: every bit is 0")
    if math.isinf(stored):
        return L(f"넘침(overflow): 최댓값 {fmt.max_finite:g} 보다 커서 무한대가 됩니다",
                 f"overflow: beyond the largest value {fmt.max_finite:g}, so it becomes inf")
    if fmt is pb.E4M3 and abs(x32) > fmt.max_finite:
        return L("넘침: E4M3FN 은 무한대가 없어 torch 가 ±448 로 포화시킵니다 (예전 PyTorch 는 NaN 을 냈습니다)",
                 "overflow: E4M3FN has no inf, so torch saturates to ±448 (older PyTorch versions gave NaN)")
    if stored == 0:
        return L(f"언더플로: 가장 작은 수 {fmt.min_subnormal:.3g} 의 절반보다 작아 0 이 됩니다",
                 f"underflow: below half the smallest number {fmt.min_subnormal:.3g}, so it becomes 0")
    if what == "subnormal":
        return L("비정규수(subnormal): 정규 범위보다 작아 유효 비트가 줄어듭니다",
                 "subnormal: below the normal range, so fewer significant bits remain")
    if stored == x:
        return L("정확히 저장됩니다", "stored exactly")
    return L("가장 가까운 수로 반올림 (동점이면 짝수 쪽)", "rounded to the nearest number (ties to even)")


def _bits_html(bits: int, fmt: pb.FloatFormat) -> str:
    sign, exponent, mantissa = pb.bit_string(bits, fmt)
    cells = []
    for part, colour in ((sign, BIT_COLOURS["sign"]), (exponent, BIT_COLOURS["exp"]), (mantissa, BIT_COLOURS["man"])):
        for bit in part:
            cells.append(f'<span class="pbit" style="background:{colour};opacity:{1.0 if bit == "1" else 0.45}">{bit}</span>')
        cells.append('<span class="pgap"></span>')
    return "".join(cells)


def formats_table_html(lang: str) -> str:
    L = (lambda ko, en: ko if lang == "ko" else en)
    head = [L("형식", "Format"), L("비트 (부호+지수+가수)", "Bits (sign+exp+mantissa)"), L("가장 큰 수", "Largest value"),
            L("가장 작은 정규수", "Smallest normal"), L("가장 작은 비정규수", "Smallest subnormal"),
            L("머신 엡실론", "Machine epsilon"), L("십진 유효숫자", "Decimal digits"), L("무한대", "Infinity")]
    rows = []
    for fmt in pb.FORMATS:
        inf = L("있음", "yes") if fmt.has_inf else L("없음 (±448 로 포화)", "none (saturates to ±448)")
        rows.append([fmt.label, f"{fmt.bits} = 1+{fmt.exp_bits}+{fmt.man_bits}", f"{fmt.max_finite:.6g}",
                     f"{fmt.min_normal:.4g}", f"{fmt.min_subnormal:.4g}", f"{fmt.epsilon:.4g}",
                     f"{fmt.decimal_digits:.1f}", inf])
    out = ['<table class="ptable"><tr>' + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
    return "".join(out) + "</table>"


_STYLE = """<style>
.pbits{white-space:nowrap}
.pbits .pbit{display:inline-block;width:0.95em;text-align:center;color:#fff;font-family:monospace;font-weight:700;
 margin:0 1px 2px 0;border-radius:3px;font-size:0.85rem}
.pbits .pgap{display:inline-block;width:0.5em}
.ptable{border-collapse:collapse;margin:6px 0 12px 0;font-size:0.95rem}
.ptable th,.ptable td{border:1px solid #cbd5e1;padding:4px 8px;color:#111;text-align:left;vertical-align:middle}
.ptable th{background:#e2e8f0}
.precision-bits .ptable td:last-child{min-width:16em}
.plegend span{display:inline-block;padding:1px 8px;border-radius:4px;color:#fff;font-weight:700;margin-right:6px}
</style>"""


def float_bits_view(text, lang: str = "ko"):
    """The number view: (HTML with the bits, stored values and errors of every format, Plotly gap chart)."""
    L = (lambda ko, en: ko if lang == "ko" else en)
    x, exact = parse_number(text)
    reference = exact if exact is not None else (Fraction(x) if math.isfinite(x) else None)
    head = [L("형식", "Format"), L("비트: 부호 | 지수 | 가수", "Bits: sign | exponent | mantissa"), L("16진수", "Hex"),
            L("실제로 저장된 값", "Value actually stored"), L("절대 오차", "Absolute error"), L("상대 오차", "Relative error"),
            L("무슨 일이 일어났나", "What happened")]
    rows = []
    for fmt in pb.FORMATS:
        bits = pb.encode(x, fmt)
        stored = pb.decode(bits, fmt)
        abs_err = rel_err = None
        if reference is not None and not math.isnan(stored):
            if math.isinf(stored):
                abs_err = rel_err = math.inf
            else:
                diff = abs(Fraction(stored) - reference)
                abs_err = float(diff)
                rel_err = float(diff / abs(reference)) if reference != 0 else None
        rows.append("<tr>" + "".join([
            f"<td><b>{fmt.label}</b></td>", f'<td class="pbits">{_bits_html(bits, fmt)}</td>',
            f"<td><code>0x{bits:0{fmt.bits // 4}X}</code></td>", f"<td><code>{_fmt_value(stored)}</code></td>",
            f"<td>{_fmt_err(abs_err)}</td>", f"<td>{_fmt_err(rel_err)}</td>",
            f"<td>{html.escape(_outcome(x, bits, fmt, lang))}</td>"]) + "</tr>")
    legend = (f'<div class="plegend"><span style="background:{BIT_COLOURS["sign"]}">{L("부호", "sign")}</span>'
              f'<span style="background:{BIT_COLOURS["exp"]}">{L("지수", "exponent")}</span>'
              f'<span style="background:{BIT_COLOURS["man"]}">{L("가수", "mantissa")}</span> '
              f'{L("(흐린 칸 = 0, 진한 칸 = 1)", "(pale box = 0, strong box = 1)")}</div>')
    if exact is not None and math.isfinite(x):
        f64_err = float(abs(Fraction(x) - exact))
        typed = L(f"입력한 수를 파이썬 float(float64)는 <code>{_fmt_value(x)}</code> 로 저장합니다 (오차 {_fmt_err(f64_err)}). "
                  "FP16·BF16·FP8 은 FP32 값에서 변환합니다 (model.half() 처럼). 오차는 입력한 정확한 수와 비교한 값입니다.",
                  f"Python's float (float64) stores what you typed as <code>{_fmt_value(x)}</code> (error {_fmt_err(f64_err)}). "
                  "FP16, BF16 and FP8 are converted from the FP32 value (as model.half() does). Errors are against the exact number you typed.")
    else:
        typed = L("inf, nan, pi 는 정확한 유리수가 아니므로 오차는 float64 값과 비교합니다.",
                  "inf, nan and pi are not exact fractions, so errors are against the float64 value.")
    table = ('<table class="ptable"><tr>' + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>")
    neighbours = []
    for fmt in pb.FORMATS:
        around = pb.neighbours(pb.encode(x, fmt), fmt)
        if around is not None:
            above = L("(더 큰 수 없음)", "(no larger number)") if math.isnan(around[1]) else _fmt_value(around[1])
            below = L("(더 작은 수 없음)", "(no smaller number)") if math.isnan(around[0]) else _fmt_value(around[0])
            neighbours.append(f"<b>{fmt.label}</b>: {below} &lt; <b>{_fmt_value(pb.to_format(x, fmt))}</b> &lt; {above}")
    neighbour_html = (f"<p>{L('저장된 값과 그 바로 아래·위의 수:', 'The stored value and the numbers just below and above it:')}<br>"
                      + "<br>".join(neighbours) + "</p>") if neighbours else ""
    props = f"<h4>{L('형식별 한계', 'Limits of each format')}</h4>" + formats_table_html(lang)
    page = _STYLE + f'<div class="precision-bits">{legend}{table}<p>{typed}</p>{neighbour_html}{props}</div>'
    return page, spacing_figure(x, lang)


def spacing_figure(x: float, lang: str = "ko"):
    """Log-log step chart: the gap to the next representable number, per format, around |x|."""
    import plotly.graph_objects as go

    L = (lambda ko, en: ko if lang == "ko" else en)
    centre = abs(pb.to_format(x, pb.FP32)) if math.isfinite(x) and x != 0 else 1.0
    centre = centre if centre > 0 and math.isfinite(centre) else 1.0
    lo, hi = centre / 2 ** 12, centre * 2 ** 12
    fig = go.Figure()
    for fmt in pb.FORMATS:
        xs, gaps = pb.gap_steps(lo, hi, fmt)
        name = fmt.label if xs else f"{fmt.label} ({L('이 범위 밖', 'out of range here')})"
        fig.add_trace(go.Scatter(x=xs or [None], y=gaps or [None], mode="lines", line_shape="hv", name=name,
                                 line=dict(color=FORMAT_COLOURS[fmt.key], width=3),
                                 hovertemplate=L("값 %{x:.4g} 근처 간격 %{y:.3g}", "near %{x:.4g}: gap %{y:.3g}") + f"<extra>{fmt.label}</extra>"))
        here = abs(pb.to_format(x, fmt)) if math.isfinite(x) and x != 0 else None
        if here and math.isfinite(here) and here >= fmt.min_subnormal:
            fig.add_trace(go.Scatter(x=[here], y=[pb.gap_at(here, fmt)], mode="markers", showlegend=False,
                                     marker=dict(color=FORMAT_COLOURS[fmt.key], size=12, line=dict(color="white", width=2)),
                                     hovertemplate=f"{fmt.label}: " + L("여기서 간격 %{y:.3g}", "gap here %{y:.3g}") + "<extra></extra>"))
    if math.isfinite(x) and x != 0:
        fig.add_vline(x=centre, line=dict(color="#6b7280", dash="dash"),
                      annotation_text=L(f"입력한 수 |x| = {centre:.4g}", f"your number |x| = {centre:.4g}"))
    fig.update_xaxes(type="log", title=L("수의 크기 |x| (로그 눈금)", "size of the number |x| (log scale)"), exponentformat="power")
    fig.update_yaxes(type="log", title=L("바로 다음 수까지의 간격 (로그 눈금)", "gap to the next representable number (log scale)"),
                     exponentformat="power")
    fig.update_layout(title=L("수가 커질수록 간격도 커집니다: 2의 거듭제곱마다 두 배",
                              "The gap grows with the number: it doubles at every power of two"),
                      height=460, margin=dict(l=70, r=20, t=60, b=60), legend=dict(orientation="h", y=-0.22),
                      template="plotly_white", font=dict(size=15))
    return fig


# ------------------------------------------------------------------ hardware

@lru_cache(maxsize=1)
def cpu_features() -> dict:
    """CPU model, cores and the instruction-set flags that matter for low precision."""
    model_name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model_name = line.split(":", 1)[1].strip()
            elif line.startswith(("flags", "Features")) and ":" in line and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    capability = torch.backends.cpu.get_cpu_capability()
    return {
        "model": model_name or "unknown", "cores": os.cpu_count() or 1,
        "capability": capability, "amx": bool({"amx_bf16", "amx_tile", "amx_fp16"} & flags),
        "avx512_bf16": "avx512_bf16" in flags, "avx512_fp16": "avx512_fp16" in flags,
        "amx_fp16": "amx_fp16" in flags, "amx_bf16": "amx_bf16" in flags, "avx512": "avx512f" in flags,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@lru_cache(maxsize=1)
def cpu_probe(n: int = 384) -> dict[str, float]:
    """Measured GFLOP/s of a small n x n matmul in FP32, BF16 and FP16 on this CPU (once per process)."""
    out = {}
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
    for key, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a_, b_ = a.to(dtype), b.to(dtype)
        a_ @ b_  # warm-up
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            a_ @ b_
            samples.append(time.perf_counter() - started)
        out[key] = 2 * n ** 3 / statistics.median(samples) / 1e9
    return out


def cpu_case(lang: str) -> str:
    """Which kind of CPU this is for low precision: flags and a measured matmul, in one paragraph."""
    L = (lambda ko, en: ko if lang == "ko" else en)
    f, probe = cpu_features(), cpu_probe()
    yes, no = L("있음", "yes"), L("없음", "no")
    bf, hf = probe["bf16"] / probe["fp32"], probe["fp16"] / probe["fp32"]
    flags = (f"AMX: {yes if f['amx'] else no}, AVX-512 BF16: {yes if f['avx512_bf16'] else no}, "
             f"AVX-512 FP16: {yes if f['avx512_fp16'] else no}; torch CPU capability: {f['capability']}")
    measured = L(f"384x384 행렬 곱 측정: FP32 {probe['fp32']:.0f}, BF16 {probe['bf16']:.0f} ({bf:.2f}배), FP16 {probe['fp16']:.1f} ({hf:.2f}배) GFLOP/s.",
                 f"Measured 384x384 matmul: FP32 {probe['fp32']:.0f}, BF16 {probe['bf16']:.0f} ({bf:.2f}x), FP16 {probe['fp16']:.1f} ({hf:.2f}x) GFLOP/s.")
    if bf >= 1.2 and hf >= 1.2:
        case = L("→ 이 CPU 는 BF16 과 FP16 전용 연산 장치(AMX 같은)가 있는 경우입니다: 낮은 정밀도가 실제로 더 빠릅니다.",
                 "→ This CPU has fast BF16 and FP16 units (like AMX): lower precision really is faster here.")
    elif bf >= 1.2:
        case = L("→ 이 CPU 는 BF16 은 하드웨어(AVX-512 BF16)로 빠르지만 FP16 전용 장치는 없는 경우입니다: "
                 "FP16 은 소프트웨어로 흉내 내므로 FP32 보다 훨씬 느립니다.",
                 "→ This CPU does BF16 in hardware (AVX-512 BF16) but has no FP16 unit: FP16 is emulated in software "
                 "and is much slower than FP32.")
    elif hf >= 1.2:
        case = L("→ 이 CPU 는 FP16 은 빠르지만 BF16 은 빠르지 않은 경우입니다.", "→ On this CPU FP16 is fast but BF16 is not.")
    else:
        case = L("→ 이 CPU 에는 낮은 정밀도 전용 연산 장치가 없는 경우입니다: FP16·BF16 은 보통 FP32 보다 느립니다. "
                 "CPU 에서는 FP32(또는 INT8), GPU 에서는 FP16·BF16 이 답입니다.",
                 "→ This CPU has no low-precision units: FP16 and BF16 are usually slower than FP32 here. "
                 "Use FP32 (or INT8) on a CPU and FP16/BF16 on a GPU.")
    contrast = L("참고: AMX 가 있는 최신 서버 CPU 에서는 2048x2048 행렬 곱이 FP32 약 275, BF16·FP16 약 1,600 GFLOP/s 로 측정된 적이 있고 "
                 "ResNet18 이 BF16 에서 약 2배 빨랐습니다.",
                 "For contrast: on a recent server CPU with AMX a 2048x2048 matmul measured about 275 GFLOP/s in FP32 and "
                 "about 1,600 in BF16 and FP16, and ResNet18 ran about 2x faster in BF16.")
    return f"{flags}. {measured} {case} {contrast}"


def gpu_features() -> list[dict]:
    out = []
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(index)
            out.append({"name": p.name, "memory_gb": p.total_memory / 2 ** 30, "capability": f"{p.major}.{p.minor}",
                        "sms": p.multi_processor_count, "cuda": torch.version.cuda})
    return out


def device_panel(lang: str) -> str:
    L = (lambda ko, en: ko if lang == "ko" else en)
    f = cpu_features()
    lines = [f"### {L('이 컴퓨터', 'This machine')}",
             f"- **CPU**: {f['model']}, {L('논리 코어', 'logical cores')} {f['cores']}, "
             f"{L('PyTorch 스레드', 'PyTorch threads')} {torch.get_num_threads()}, {L('명령어', 'instructions')} {f['capability']}"]
    gpus = gpu_features()
    for g in gpus:
        lines.append(f"- **GPU**: {g['name']}, {g['memory_gb']:.0f} GiB, compute capability {g['capability']}, "
                     f"{g['sms']} SM, CUDA {g['cuda']}")
    if not gpus:
        lines.append(L("- **GPU**: 없음 (CUDA 를 쓸 수 없습니다). Hugging Face 무료 Space 도 GPU 가 없습니다.",
                       "- **GPU**: none (CUDA is not available). The free Hugging Face Space has no GPU either."))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        lines.append(L("- **Apple GPU (MPS)**: 있음", "- **Apple GPU (MPS)**: available"))
    lines.append(f"- PyTorch {torch.__version__}")
    lines += ["", f"### {L('CPU / GPU / 클라우드 GPU', 'CPU / GPU / cloud GPU')}",
              L("| | CPU | GPU | 클라우드 GPU |\n|---|---|---|---|\n"
                "| 처리 방식 | 강한 코어 몇 개가 차례로 | 단순한 코어 수천 개가 동시에 | GPU 를 필요한 만큼 빌려서 동시에 |\n"
                "| 딥러닝 학습 | 느림 | 빠름 (한 대의 메모리가 한계) | 여러 대로 큰 모델·큰 데이터 |\n"
                "| 비용 | 이미 있음 | 비싼 장비를 사야 함 | 쓴 시간만큼 지불 |\n"
                "| 관리 | 직접 | 직접 (드라이버, 냉각) | 클라우드 회사가 |",
                "| | CPU | GPU | Cloud GPU |\n|---|---|---|---|\n"
                "| How it works | a few strong cores, one task after another | thousands of simple cores at once | rented GPUs, as many as needed |\n"
                "| Training deep nets | slow | fast (limited by one card's memory) | many GPUs for big models and data |\n"
                "| Cost | already there | buy an expensive card | pay for the hours used |\n"
                "| Upkeep | you | you (drivers, cooling) | the cloud provider |"),
              "",
              L("'같은 모델, 여러 정밀도' 탭에서 측정하기를 누르면, 그래프 아래 '결과 읽는 법'에 이 컴퓨터에서 잰 속도로 "
                "이미지 10,000장에 걸리는 시간이 장치·정밀도마다 나옵니다.",
                "Press Measure in 'Same model, many precisions': 'What the result means' under the chart then gives, for each "
                "device and precision, the time 10,000 images take at the speed measured here.")]
    return "\n".join(lines)


# ------------------------------------------------------------------ what runs where

def _fp8_capable(device: torch.device) -> tuple[bool, int, int]:
    if device.type != "cuda" or not hasattr(torch, "_scaled_mm"):
        return False, 0, 0
    major, minor = torch.cuda.get_device_capability(device)
    return (major, minor) >= (8, 9), major, minor


def support(device: torch.device, precision: str) -> tuple[bool, tuple[str, str]]:
    """Can this device run this precision here? (ok, (reason ko, reason en)) — the reason says why not."""
    ok = (True, ("", ""))
    if precision == "fp32":
        return ok
    if precision == "fp16":
        return ok
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return False, ("이 GPU 는 BF16 을 지원하지 않습니다 (Ampere, compute capability 8.0 이상 필요).",
                           "This GPU does not support BF16 (needs Ampere, compute capability 8.0 or newer).")
        return ok
    if precision == "int8":
        if device.type != "cpu":
            return False, ("PyTorch 의 동적 INT8 양자화(quantize_dynamic)는 CPU 용 커널(fbgemm/oneDNN)만 있습니다.",
                           "PyTorch's dynamic INT8 quantisation (quantize_dynamic) only has CPU kernels (fbgemm/oneDNN).")
        quantization = getattr(getattr(torch, "ao", None), "quantization", None)
        if quantization is None or not hasattr(quantization, "quantize_dynamic"):
            return False, ("이 PyTorch 에는 torch.ao.quantization.quantize_dynamic 이 없습니다 (후속은 torchao 패키지이며 설치되어 있지 않습니다).",
                           "This PyTorch has no torch.ao.quantization.quantize_dynamic (its successor, the torchao package, is not installed).")
        if not ({"x86", "fbgemm", "onednn", "qnnpack"} & set(torch.backends.quantized.supported_engines)):
            return False, ("이 PyTorch 빌드에는 INT8 양자화 엔진이 없습니다.", "This PyTorch build has no INT8 quantisation engine.")
        return ok
    if precision == "fp8":
        capable, major, minor = _fp8_capable(device)
        if capable:
            return ok
        if device.type == "cpu":
            return False, ("CPU 에는 FP8 연산 장치가 없습니다. PyTorch 의 FP8 행렬 곱(torch._scaled_mm)은 compute capability 8.9 이상인 "
                           "NVIDIA GPU (Ada, Hopper, Blackwell)에서만 돕니다.",
                           "CPUs have no FP8 arithmetic units. PyTorch's FP8 matmul (torch._scaled_mm) runs only on NVIDIA GPUs "
                           "of compute capability 8.9 or newer (Ada, Hopper, Blackwell).")
        if device.type == "cuda":
            return False, (f"이 GPU 는 compute capability {major}.{minor} 입니다. FP8 텐서 코어는 8.9 이상(Ada, Hopper)부터 있습니다.",
                           f"This GPU is compute capability {major}.{minor}. FP8 tensor cores start at 8.9 (Ada, Hopper).")
        return False, ("Apple GPU(MPS)에서는 PyTorch 가 FP8 연산을 지원하지 않습니다.", "PyTorch has no FP8 arithmetic on Apple GPUs (MPS).")
    return False, (f"알 수 없는 정밀도: {precision}", f"Unknown precision: {precision}")


def param_bytes(model: torch.nn.Module) -> int:
    """Bytes of the weights, including INT8 weights packed inside dynamically quantised Linear layers."""
    total = models.model_bytes(model)
    for module in model.modules():
        packed = getattr(module, "_packed_params", None)
        if packed is not None and hasattr(packed, "_weight_bias"):
            weight, bias = packed._weight_bias()
            total += weight.numel() * weight.element_size()
            total += bias.numel() * bias.element_size() if bias is not None else 0
    return total


def _dequantise_fp8(module: torch.nn.Module, _args) -> None:
    module.weight = module.weight_fp8.to(torch.bfloat16) * module.weight_scale


def fp8_weight_model(model: torch.nn.Module) -> torch.nn.Module:
    """A copy whose conv/linear weights are stored in FP8 E4M3 (one scale per tensor); compute is BF16.

    PyTorch has no FP8 convolution, so a CNN can only keep its weights in FP8: each layer turns
    them back into BF16 just before it runs. This shows FP8's memory saving and accuracy cost.
    """
    model = copy.deepcopy(model).to(torch.bfloat16)
    for module in model.modules():
        weight = module._parameters.get("weight")
        if weight is None or weight.ndim < 2:
            continue
        w = weight.detach().float()
        scale = w.abs().amax().clamp(min=1e-12) / pb.E4M3.max_finite
        del module._parameters["weight"]
        module.register_buffer("weight_fp8", (w / scale).to(torch.float8_e4m3fn))
        module.register_buffer("weight_scale", scale.to(torch.bfloat16))
        module.register_forward_pre_hook(_dequantise_fp8)
    return model


def _quantize_dynamic(model: torch.nn.Module) -> torch.nn.Module:
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is marked deprecated in favour of torchao
        return quantize_dynamic(copy.deepcopy(model).cpu(), {torch.nn.Linear}, dtype=torch.qint8)


def cnn_for(model32: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, torch.dtype]:
    """The FP32 model in another precision, and the dtype its input must have."""
    if precision == "fp32":
        return model32, torch.float32
    if precision in ("fp16", "bf16"):
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        return copy.deepcopy(model32).to(dtype), dtype
    if precision == "int8":
        return _quantize_dynamic(model32), torch.float32
    if precision == "fp8":
        return fp8_weight_model(model32), torch.bfloat16
    raise ValueError(precision)


def matmul_for(a: torch.Tensor, b: torch.Tensor, precision: str, device: torch.device) -> Callable[[], torch.Tensor]:
    """A function computing a @ b in this precision on this device (inputs converted beforehand)."""
    if precision in ("fp32", "fp16", "bf16"):
        dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        a_, b_ = a.to(device=device, dtype=dtype), b.to(device=device, dtype=dtype)
        return lambda: a_ @ b_
    if precision == "int8":
        linear = torch.nn.Linear(b.shape[0], b.shape[1], bias=False)
        with torch.no_grad():
            linear.weight.copy_(b.t())
        quantised = _quantize_dynamic(torch.nn.Sequential(linear))
        return lambda: quantised(a)
    if precision == "fp8":
        scale_a = (a.abs().amax() / pb.E4M3.max_finite).to(device)
        scale_b = (b.abs().amax() / pb.E4M3.max_finite).to(device)
        a8 = (a.to(device) / scale_a).to(torch.float8_e4m3fn)
        b8 = (b.to(device) / scale_b).to(torch.float8_e4m3fn).t().contiguous().t()  # _scaled_mm wants b column-major
        return lambda: torch._scaled_mm(a8, b8, scale_a=scale_a.float(), scale_b=scale_b.float(), out_dtype=torch.bfloat16)
    raise ValueError(precision)


# ------------------------------------------------------------------ the images

def image_batch(n: int) -> list[Image.Image]:
    """n images: the example photos, then their mirror images, then crops of corners and centre."""
    photos = [load_image(str(p)) for p in sorted(EXAMPLES_DIR.glob("*.jpg"))]
    if not photos:
        raise UserError("assets/examples 에 예시 사진이 없습니다.", "There are no example photos in assets/examples.")
    variants: list[Image.Image] = list(photos) + [ImageOps.mirror(p) for p in photos]
    boxes = [(0.0, 0.0, 0.75, 0.75), (0.25, 0.25, 1.0, 1.0), (0.25, 0.0, 1.0, 0.75), (0.0, 0.25, 0.75, 1.0),
             (0.15, 0.15, 0.85, 0.85), (0.1, 0.0, 0.7, 0.6)]
    for box in boxes:
        for p in photos:
            w, h = p.size
            variants.append(p.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h))))
    while len(variants) < n:
        variants += [ImageOps.mirror(v) for v in variants[len(photos) * 2:]]
    return variants[:n]


# ------------------------------------------------------------------ the comparison

@dataclasses.dataclass
class Row:
    device: str
    precision: str
    workload: str  # "cnn" or "matmul"
    status: str  # "ok", "unsupported" or "skipped"
    reason: tuple[str, str] = ("", "")
    latency_ms: float = math.nan  # one batch (cnn) or one multiply (matmul)
    throughput: float = math.nan  # images/s (cnn) or GFLOP/s (matmul)
    param_mb: float = math.nan
    peak_mb: float = math.nan
    max_abs_diff: float = math.nan
    top1_agree: float = math.nan  # % of images with the same top-1 class as FP32 on the CPU (cnn only)
    items: int = 0  # images in the batch, or the matrix size N
    runs: int = 0


@dataclasses.dataclass
class CompareResult:
    rows: list[Row]
    model_name: str
    real_weights: bool
    fallback_note: str | None
    wall_s: float
    budget_s: float
    fig: object = None
    notes_ko: str = ""
    notes_en: str = ""


class _Clock:
    """The time budget: how much is left, and a fair share of it for the next task."""

    def __init__(self, budget_s: float, tasks: int, progress: Callable[[float, str], None] | None):
        self.started = time.perf_counter()
        self.budget = budget_s
        self.tasks_left = tasks
        self.progress = progress

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return self.budget - self.elapsed()

    def share(self) -> float:
        return self.left() / max(1, self.tasks_left)

    def tell(self, what: str) -> None:
        if self.progress is not None:
            self.progress(min(1.0, self.elapsed() / self.budget), f"{what} ({self.elapsed():.0f} / {self.budget:.0f} s)")


class _OutOfTime(Exception):
    """Raised from inside a forward pass when the whole time budget is used up."""

    def __init__(self, done: int, total: int, seconds: float):
        super().__init__(f"{done}/{total} layers in {seconds:.1f} s")
        self.done, self.total, self.seconds = done, total, seconds


def _budget_guard(model: torch.nn.Module, clock: "_Clock"):
    """Hooks that stop a forward pass between two layers once the budget is over (a slow precision cannot overrun it).

    Returns a function that removes the hooks."""
    layers = [m for m in model.modules() if not list(m.children())]
    state = {"done": 0, "started": time.perf_counter()}

    def before(_module, _args):
        if state["done"] == 0:
            state["started"] = time.perf_counter()
        if clock.left() <= 0:
            raise _OutOfTime(state["done"] % len(layers), len(layers), time.perf_counter() - state["started"])
        state["done"] += 1

    def after(_module, _args, _out):
        if state["done"] >= len(layers):
            state["done"] = 0

    handles = [m.register_forward_pre_hook(before) for m in layers]
    handles.append(layers[-1].register_forward_hook(after))
    return lambda: [h.remove() for h in handles]


def _timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    _sync(device)
    started = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - started


def _activation_peak(fn: Callable[[], object], device: torch.device) -> tuple[object, int]:
    """Run fn once and measure the most memory its intermediate tensors held at one time."""
    if device.type == "cuda":
        _sync(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        out = fn()
        _sync(device)
        return out, torch.cuda.max_memory_allocated(device) - before
    if device.type == "cpu":
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = fn()
        live = peak = 0
        for event in sorted(prof.events(), key=lambda e: e.time_range.start):
            live += event.self_cpu_memory_usage
            peak = max(peak, live)
        return out, peak
    out = fn()  # MPS: no per-run peak counter; report the weights and input only
    return out, 0


def _repeat(fn: Callable[[], object], device: torch.device, first_s: float, deadline: float, repeats: int,
            clock: _Clock) -> list[float]:
    samples = [first_s]
    while len(samples) < repeats and clock.elapsed() + statistics.median(samples) < deadline:
        try:
            samples.append(_timed(fn, device)[1])
        except _OutOfTime:  # the budget ended during this run: keep the runs already timed
            break
    return samples


def _skipped(device: str, precision: str, workload: str, need_s: float | None = None) -> Row:
    if need_s is not None:
        return Row(device, precision, workload, "skipped",
                   (f"이미지 한 장에 약 {need_s:.0f}초가 걸릴 것으로 보여 (FP32 속도와 측정한 행렬 곱 속도로 추정) 남은 시간 안에 못 끝냅니다.",
                    f"One image would take about {need_s:.0f} s (estimated from the FP32 speed and the measured matmul speed): "
                    "more than the time left."))
    return Row(device, precision, workload, "skipped",
               ("시간 예산을 다 써서 건너뛰었습니다. 예산을 늘리거나 고른 항목을 줄여 보세요.",
                "Skipped: the time budget ran out. Raise the budget or pick fewer items."))


def _run_cnn(model32, precision: str, device: torch.device, batch: torch.Tensor, reference: torch.Tensor | None,
             repeats: int, clock: _Clock) -> Row:
    """Time the CNN on as many images of the batch as the budget's share allows (all of them when there is time).

    The first pass (one image) warms up and measures the memory one image needs; then the batch is timed.
    """
    deadline = clock.elapsed() + clock.share()
    model, in_dtype = cnn_for(model32, precision)
    run_device = torch.device("cpu") if precision == "int8" else device
    x_all = batch.to(device=run_device, dtype=in_dtype)
    remove_guard = _budget_guard(model, clock)
    try:
        return _measure_cnn(model, precision, device, run_device, x_all, reference, deadline, repeats, clock)
    except _OutOfTime as stop:
        if stop.done == 0:
            return _skipped(str(device), precision, "cnn")
        need = stop.seconds * stop.total / stop.done
        return Row(str(device), precision, "cnn", "skipped",
                   (f"시간 예산이 끝나 멈췄습니다: {stop.seconds:.0f}초 동안 이미지 한 장의 층 {stop.done}/{stop.total}개만 계산했습니다 "
                    f"(한 장에 약 {need:.0f}초).",
                    f"Stopped when the time budget ran out: in {stop.seconds:.0f} s only {stop.done} of {stop.total} layers of "
                    f"one image were computed (about {need:.0f} s per image)."))
    finally:
        remove_guard()


def _measure_cnn(model, precision: str, device: torch.device, run_device: torch.device, x_all: torch.Tensor,
                 reference: torch.Tensor | None, deadline: float, repeats: int, clock: "_Clock") -> Row:
    with torch.inference_mode():
        started = time.perf_counter()
        first_out, activations = _activation_peak(lambda: model(x_all[:1]), run_device)
        one = time.perf_counter() - started
        n = min(len(x_all), int(max(0.0, deadline - clock.elapsed()) / 2 / max(one, 1e-4)))
        try:
            if n < 1:
                raise _OutOfTime(0, 1, one)
            x = x_all[:n]
            out, first = _timed(lambda: model(x), run_device)
            samples = _repeat(lambda: model(x), run_device, first, deadline, repeats, clock)
        except _OutOfTime:  # no time for the batch: the one-image pass is the only measurement
            n, out, samples = 1, first_out, [one]
    logits = out.float().cpu()
    latency = statistics.median(samples)
    weights = param_bytes(model)
    one_image = x_all[:1].numel() * x_all.element_size()
    row = Row(str(device), precision, "cnn", "ok", latency_ms=latency * 1000, throughput=n / latency,
              param_mb=weights / 1e6, peak_mb=(weights + one_image + activations) / 1e6, items=n, runs=len(samples))
    if reference is not None:
        ref = reference[:n]
        row.max_abs_diff = float((logits - ref).abs().max())
        row.top1_agree = 100.0 * float((logits.argmax(1) == ref.argmax(1)).float().mean())
    return row


def _estimate_one_image(one_fp32: float | None, precision: str, device: torch.device) -> float | None:
    """Expected seconds for one image in this precision, from FP32's and the CPU matmul probe (CPU only)."""
    if one_fp32 is None or device.type != "cpu" or precision not in ("fp16", "bf16"):
        return None
    probe = cpu_probe()
    return one_fp32 * probe["fp32"] / max(probe[precision], 1e-6)


def _run_matmul(precision: str, device: torch.device, size: int, references: dict, repeats: int,
                clock: _Clock) -> Row:
    """Time an N x N matmul. N grows from size/8 by doubling while the next size (8x the work) still fits the
    share of the budget, so a precision that is slow here is measured at a smaller N instead of overrunning."""
    deadline = clock.elapsed() + clock.share()

    def build(n: int):
        gen = torch.Generator().manual_seed(n)
        a, b = torch.randn(n, n, generator=gen), torch.randn(n, n, generator=gen)
        return a, b, matmul_for(a, b, precision, device)

    n = max(64, size // 8)
    a, b, fn = build(n)
    _timed(fn, device)  # warm-up: first call, kernel selection
    out, first = _timed(fn, device)
    while n < size and first * 8 * 2 < deadline - clock.elapsed():
        n *= 2
        a, b, fn = build(n)
        out, first = _timed(fn, device)
    samples = _repeat(fn, device, first, deadline, repeats, clock)
    if n not in references:
        references[n] = a @ b  # FP32 on the CPU
    latency = statistics.median(samples)
    elements = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "fp8": 1}[precision]
    diff = float((out.float().cpu() - references[n]).abs().max())
    return Row(str(device), precision, "matmul", "ok", latency_ms=latency * 1000, throughput=2 * n ** 3 / latency / 1e9,
               param_mb=2 * n * n * elements / 1e6, peak_mb=(2 * n * n * elements + n * n * out.element_size()) / 1e6,
               max_abs_diff=diff, items=n, runs=len(samples))


def compare(model_name: str | None = None, devices: list[str] | None = None, precisions: list[str] | None = None,
            batch_size: int = DEFAULT_BATCH, matmul_size: int = DEFAULT_MATMUL, budget_s: float = DEFAULT_BUDGET_S,
            repeats: int = DEFAULT_REPEATS, progress: Callable[[float, str], None] | None = None,
            tiny: bool | None = None) -> CompareResult:
    """Run the CNN and the matmul in each precision on each device, within budget_s seconds.

    Returns one Row per (device, precision, workload): measured ("ok"), "unsupported" with the reason,
    or "skipped" when the budget ran out. Reference for differences: FP32 on the CPU.
    """
    precisions = [p for p in PRECISIONS if p in (precisions or PRECISIONS)]
    present = {str(d): d for d in models.available_devices()}
    chosen = [present[d] for d in (devices or list(present)) if d in present] or [torch.device("cpu")]
    tasks = [(d, p, w) for d in chosen for p in precisions for w in ("cnn", "matmul") if support(d, p)[0]]
    clock = _Clock(budget_s, len(tasks) + 1, progress)
    clock.tell("CNN")
    cnn_cpu, note = zoo.load_cnn(model_name, device="cpu", tiny=tiny)
    images = image_batch(batch_size)
    batch = torch.cat([cnn_cpu.preprocess(img).float().cpu() for img in images])
    with torch.inference_mode():
        reference = cnn_cpu.model(batch).float()  # FP32 on the CPU: the yardstick for every row
    clock.tasks_left -= 1
    rows: list[Row] = []
    matmul_refs: dict[int, torch.Tensor] = {}
    # Slow-on-this-machine precisions last, so the budget goes to the others first; the table keeps PRECISIONS order.
    run_order = sorted(precisions, key=["fp32", "bf16", "int8", "fp8", "fp16"].index)
    for device in chosen:
        model32 = cnn_cpu.model if device.type == "cpu" else zoo.load_cnn(model_name, device=device, tiny=tiny)[0].model
        one_fp32: float | None = None
        for precision in run_order:
            ok, reason = support(device, precision)
            for workload in ("cnn", "matmul"):
                if not ok:
                    rows.append(Row(str(device), precision, workload, "unsupported", reason))
                    continue
                label = f"{device.type.upper()} · {PRECISION_LABEL[precision]} · {'CNN' if workload == 'cnn' else 'matmul'}"
                clock.tell(label)
                need = _estimate_one_image(one_fp32, precision, device) if workload == "cnn" else None
                if clock.left() <= 0:
                    rows.append(_skipped(str(device), precision, workload))
                elif need is not None and need * 1.5 > clock.left():
                    rows.append(_skipped(str(device), precision, workload, need))
                else:
                    try:
                        if workload == "cnn":
                            row = _run_cnn(model32, precision, device, batch, reference, repeats, clock)
                            if precision == "fp32":
                                one_fp32 = row.latency_ms / 1000 / row.items
                        else:
                            row = _run_matmul(precision, device, matmul_size, matmul_refs, repeats, clock)
                        rows.append(row)
                    except (RuntimeError, NotImplementedError, TypeError) as exc:  # a kernel missing in this build
                        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                        rows.append(Row(str(device), precision, workload, "unsupported",
                                        (f"이 장치에서 실행되지 않았습니다: {first}", f"Does not run on this device: {first}")))
                clock.tasks_left -= 1
    rows.sort(key=lambda r: ([str(d) for d in chosen].index(r.device), PRECISIONS.index(r.precision), r.workload))
    clock.tell("✓")
    result = CompareResult(rows, cnn_cpu.name, cnn_cpu.real_weights, note, clock.elapsed(), budget_s)
    result.fig = compare_figure(result, "ko")
    result.notes_ko, result.notes_en = compare_notes(result, "ko"), compare_notes(result, "en")
    return result


# ------------------------------------------------------------------ charts, table, notes

def _duration(seconds: float, lang: str) -> str:
    if not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s" if lang == "en" else f"{seconds:.0f}초"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min" if lang == "en" else f"{seconds / 60:.1f}분"
    return f"{seconds / 3600:.1f} h" if lang == "en" else f"{seconds / 3600:.1f}시간"


def compare_figure(result: CompareResult, lang: str):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    L = (lambda ko, en: ko if lang == "ko" else en)
    titles = (L("CNN: 초당 이미지 수 (클수록 빠름)", "CNN: images per second (higher is faster)"),
              L("행렬 곱: GFLOP/s (클수록 빠름)", "Matrix multiply: GFLOP/s (higher is faster)"),
              L("CNN 메모리 MB: 가중치(진한 막대) / 이미지 1장 최대(빗금)", "CNN memory MB: weights (solid) / peak for 1 image (hatched)"),
              L("CNN: FP32 와 같은 1등 클래스 (%)", "CNN: same top-1 class as FP32 (%)"))
    fig = make_subplots(rows=2, cols=2, subplot_titles=titles, vertical_spacing=0.16, horizontal_spacing=0.08)
    devices = list(dict.fromkeys(r.device for r in result.rows))
    labels = [PRECISION_LABEL[p] for p in PRECISIONS if any(r.precision == p for r in result.rows)]
    for i, device in enumerate(devices):
        colour = DEVICE_COLOURS[i % len(DEVICE_COLOURS)]
        ok = [r for r in result.rows if r.device == device and r.status == "ok"]
        cnn = [r for r in ok if r.workload == "cnn"]
        mm = [r for r in ok if r.workload == "matmul"]
        name = device.upper()
        fig.add_trace(go.Bar(x=[PRECISION_LABEL[r.precision] for r in cnn], y=[r.throughput for r in cnn], name=name,
                             marker_color=colour, legendgroup=name, text=[f"{r.throughput:.1f}" for r in cnn],
                             textposition="outside"), row=1, col=1)
        fig.add_trace(go.Bar(x=[PRECISION_LABEL[r.precision] for r in mm], y=[r.throughput for r in mm], name=name,
                             marker_color=colour, legendgroup=name, showlegend=False,
                             text=[f"{r.throughput:.0f}" for r in mm], textposition="outside"), row=1, col=2)
        fig.add_trace(go.Bar(x=[PRECISION_LABEL[r.precision] for r in cnn], y=[r.param_mb for r in cnn],
                             name=f"{name} {L('가중치', 'weights')}", marker_color=colour, legendgroup=name,
                             showlegend=False, text=[f"{r.param_mb:.1f}" for r in cnn], textposition="outside"), row=2, col=1)
        fig.add_trace(go.Bar(x=[PRECISION_LABEL[r.precision] for r in cnn], y=[r.peak_mb for r in cnn],
                             name=f"{name} {L('최대', 'peak')}", marker_color=colour, marker_pattern_shape="/",
                             opacity=0.6, legendgroup=name, showlegend=False,
                             text=[f"{r.peak_mb:.0f}" for r in cnn], textposition="outside"), row=2, col=1)
        fig.add_trace(go.Bar(x=[PRECISION_LABEL[r.precision] for r in cnn], y=[r.top1_agree for r in cnn], name=name,
                             marker_color=colour, legendgroup=name, showlegend=False,
                             text=[f"{r.top1_agree:.0f}%" for r in cnn], textposition="outside",
                             customdata=[r.max_abs_diff for r in cnn],
                             hovertemplate="%{x}: %{y:.0f}% · max|Δ| %{customdata:.3g}<extra></extra>"), row=2, col=2)
    for r_, c_ in ((1, 1), (1, 2), (2, 1), (2, 2)):
        fig.update_xaxes(categoryorder="array", categoryarray=labels, row=r_, col=c_)
    fig.update_traces(cliponaxis=False)
    fig.update_yaxes(range=[0, 115], row=2, col=2)
    missing = sorted({PRECISION_LABEL[r.precision] for r in result.rows if r.status != "ok"} -
                     {PRECISION_LABEL[r.precision] for r in result.rows if r.status == "ok"})
    subtitle = (L(" · 빈 칸: 여기서 실행 못 함 (표에 이유)", " · empty: cannot run here (reason in the table)") if missing else "")
    fig.update_layout(barmode="group", height=720, template="plotly_white", font=dict(size=14),
                      title=f"{result.model_name} · {L('기준: CPU 의 FP32', 'reference: FP32 on the CPU')}{subtitle}",
                      margin=dict(l=60, r=20, t=90, b=40), legend=dict(orientation="h", y=1.08, x=1, xanchor="right"))
    return fig


def rows_table(result: CompareResult, lang: str):
    import pandas as pd

    L = (lambda ko, en: ko if lang == "ko" else en)
    status = {"ok": L("측정함", "measured"), "unsupported": L("여기서 안 됨", "not supported here"),
              "skipped": L("건너뜀 (시간)", "skipped (time)")}
    records = []
    for r in result.rows:
        measured = r.status == "ok"
        cnn = r.workload == "cnn"
        note = r.reason[0 if lang == "ko" else 1]
        if measured and r.precision == "int8" and cnn:
            note = L("Linear 층만 INT8, 합성곱은 FP32", "only Linear layers are INT8; convolutions stay FP32")
        if measured and r.precision == "fp8" and cnn:
            note = L("가중치만 FP8 로 저장, 계산은 BF16", "weights stored in FP8, computed in BF16")
        records.append({
            L("장치", "Device"): r.device.upper(),
            L("정밀도", "Precision"): PRECISION_LABEL[r.precision],
            L("작업", "Workload"): "CNN" if cnn else L("행렬 곱", "matmul"),
            L("상태", "Status"): status[r.status],
            L("이미지 수 / N", "Images / N"): r.items if measured else "",
            L("지연 (ms)", "Latency (ms)"): round(r.latency_ms, 1) if measured else "",
            L("이미지/s 또는 GFLOP/s", "Images/s or GFLOP/s"): round(r.throughput, 1) if measured else "",
            L("가중치 MB", "Weights MB"): round(r.param_mb, 2) if measured else "",
            L("최대 메모리 MB (1장)", "Peak MB (1 image)"): round(r.peak_mb, 1) if measured else "",
            L("FP32 와 최대 차이", "Max |Δ| vs FP32"): float(f"{r.max_abs_diff:.3g}") if measured else "",
            L("1등 일치 %", "Top-1 agree %"): round(r.top1_agree, 1) if measured and cnn else "",
            L("1만 장 걸리는 시간", "Time for 10,000 images"): _duration(10_000 / r.throughput, lang) if measured and cnn else "",
            L("참고", "Note"): note,
        })
    return pd.DataFrame(records)


def compare_notes(result: CompareResult, lang: str) -> str:
    L = (lambda ko, en: ko if lang == "ko" else en)
    ok = [r for r in result.rows if r.status == "ok"]
    cnn = {(r.device, r.precision): r for r in ok if r.workload == "cnn"}
    mm = {(r.device, r.precision): r for r in ok if r.workload == "matmul"}
    lines = []
    weights = L("진짜 가중치", "real weights") if result.real_weights else L("무작위 가중치(테스트용)", "random weights (test zoo)")
    lines.append(L(f"**모델**: {result.model_name} ({weights}). 차이와 1등 일치는 CPU 의 FP32 출력과 비교했습니다. "
                   f"**시간**: {result.wall_s:.1f}초 / 예산 {result.budget_s:.0f}초.",
                   f"**Model**: {result.model_name} ({weights}). Differences and top-1 agreement are against FP32 on the CPU. "
                   f"**Time**: {result.wall_s:.1f} s of the {result.budget_s:.0f} s budget."))
    if result.fallback_note:
        lines.append(result.fallback_note.split("\n")[0 if lang == "ko" else -1])
    skipped = [r for r in result.rows if r.status == "skipped"]
    if skipped:
        lines.append(L(f"시간 예산이 모자라 {len(skipped)}개 항목을 건너뛰었습니다.", f"{len(skipped)} item(s) skipped for lack of time."))
    threads = L(f"PyTorch 는 이번에 CPU 코어 {os.cpu_count()}개 중 {torch.get_num_threads()}개 스레드를 썼습니다. ",
                f"PyTorch used {torch.get_num_threads()} thread(s) of the {os.cpu_count()} CPU cores. ")
    lines.append(f"**CPU**: {threads}{cpu_case(lang)}")
    base = cnn.get(("cpu", "fp32"))
    for p in ("bf16", "fp16"):
        r = cnn.get(("cpu", p))
        if base and r:
            ratio = r.throughput / base.throughput
            lines.append(L(f"이번 측정에서 CPU 의 CNN 은 {PRECISION_LABEL[p]} 가 FP32 의 **{ratio:.2f}배** 속도였습니다.",
                           f"In this run the CPU ran the CNN in {PRECISION_LABEL[p]} at **{ratio:.2f}x** the FP32 speed."))
    if ("cpu", "int8") in cnn:
        r, m8, m32 = cnn[("cpu", "int8")], mm.get(("cpu", "int8")), mm.get(("cpu", "fp32"))
        extra = ""
        if m8 and m32:
            extra = L(f" 순수한 행렬 곱에서는 INT8 이 FP32 의 {m8.throughput / m32.throughput:.2f}배 속도였습니다 (N={m8.items}).",
                      f" On the plain matmul INT8 ran at {m8.throughput / m32.throughput:.2f}x the FP32 speed (N={m8.items}).")
        lines.append(L("**INT8 (동적 양자화)**: Linear 층의 가중치를 8비트 정수로 저장하고 입력은 실행할 때마다 양자화합니다. "
                       "합성곱 층은 FP32 그대로라서 CNN 에서는 분류기만 바뀝니다 (가중치 "
                       f"{r.param_mb:.1f} MB)." + extra,
                       "**INT8 (dynamic quantisation)**: the weights of Linear layers are stored as 8-bit integers and the input is "
                       "quantised on every call. Convolutions stay FP32, so in a CNN only the classifier changes (weights "
                       f"{r.param_mb:.1f} MB)." + extra))
    if any(r.precision == "fp8" for r in ok):
        lines.append(L("**FP8**: 행렬 곱은 GPU 의 FP8 텐서 코어(torch._scaled_mm, 텐서마다 배율 하나)로 계산합니다. "
                       "PyTorch 에는 FP8 합성곱이 없어 CNN 은 가중치만 FP8 로 저장하고 BF16 으로 계산합니다.",
                       "**FP8**: the matmul runs on the GPU's FP8 tensor cores (torch._scaled_mm, one scale per tensor). "
                       "PyTorch has no FP8 convolution, so the CNN only stores its weights in FP8 and computes in BF16."))
    else:
        lines.append(L("**FP8**: 이 컴퓨터에서는 실행할 수 없습니다 (표의 이유 참고). FP8 은 컴퓨트 캐퍼빌리티 8.9 이상인 GPU 가 있어야 빠릅니다.",
                       "**FP8**: cannot run on this machine (see the reason in the table). FP8 needs a GPU of compute capability 8.9+."))
    agree = [r for r in cnn.values() if r.precision != "fp32" and math.isfinite(r.top1_agree)]
    if agree and result.real_weights:
        worst = min(agree, key=lambda r: r.top1_agree)
        lines.append(L(f"**정확도**: 가장 낮은 1등 일치는 {worst.device.upper()} {PRECISION_LABEL[worst.precision]} 의 {worst.top1_agree:.0f}% 입니다. "
                       "출력 숫자가 조금 달라도 1등 클래스는 대부분 그대로입니다: 추론에는 16비트로 충분한 경우가 많습니다.",
                       f"**Accuracy**: the lowest top-1 agreement is {worst.top1_agree:.0f}% ({worst.device.upper()} "
                       f"{PRECISION_LABEL[worst.precision]}). The outputs move a little, but the top class mostly stays: "
                       "16 bits are usually enough for inference."))
    # 10,000 images on each device measured: the CPU / GPU / cloud GPU comparison with real numbers.
    times = []
    for (device, precision), r in sorted(cnn.items(), key=lambda kv: -kv[1].throughput):
        times.append(f"{device.upper()} {PRECISION_LABEL[precision]}: {_duration(10_000 / r.throughput, lang)}")
    if times:
        lines.append(L(f"**이미지 10,000장**을 이 모델로 분류하면 (여기서 잰 속도로): " + " · ".join(times) + ".",
                       f"**10,000 images** through this model would take (at the speeds measured here): " + " · ".join(times) + "."))
    gpu = [r for r in cnn.values() if r.device != "cpu"]
    cpu_best = max((r for r in cnn.values() if r.device == "cpu"), key=lambda r: r.throughput, default=None)
    if gpu and cpu_best:
        best = max(gpu, key=lambda r: r.throughput)
        lines.append(L(f"여기서 GPU 는 CPU 의 가장 빠른 설정보다 **{best.throughput / cpu_best.throughput:.0f}배** 빨랐습니다. "
                       "클라우드 GPU 는 같은 종류의 GPU 를 시간 단위로 빌리는 것이므로 계산 속도는 같은 모델의 GPU 와 같고, "
                       "쓴 시간만큼 돈을 냅니다 (데이터를 올리는 시간은 따로).",
                       f"Here the GPU was **{best.throughput / cpu_best.throughput:.0f}x** faster than the CPU's best setting. "
                       "A cloud GPU is the same kind of GPU rented by the hour: the compute speed is that of the same GPU model, "
                       "and you pay for the time used (uploading the data is extra)."))
    else:
        lines.append(L("이 컴퓨터에는 GPU 가 없어 GPU 줄은 없습니다 (Hugging Face 무료 Space 도 CPU 뿐). GPU 가 있는 컴퓨터나 "
                       "클라우드 GPU 에서 같은 버튼을 누르면 GPU 줄이 함께 측정됩니다. 클라우드 GPU 는 같은 GPU 를 시간 단위로 빌리는 것입니다.",
                       "This machine has no GPU, so there are no GPU rows (the free Hugging Face Space is CPU-only too). Press the "
                       "same button on a machine or cloud GPU with CUDA and the GPU rows are measured as well. A cloud GPU is the "
                       "same GPU rented by the hour."))
    return "\n\n".join(lines)


# ------------------------------------------------------------------ Gradio

def _clamp_int(value, lo: int, hi: int, default: int) -> int:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    if not math.isfinite(v):
        return default
    return int(min(hi, max(lo, round(v))))


def build() -> None:
    from core import ui

    i18n.add({"precision.device_panel": (device_panel("ko"), device_panel("en"))})
    device_names = [str(d) for d in models.available_devices()]

    def float_bits(text: str, request: gr.Request):
        return float_bits_view(text, i18n.lang_of(request))

    def precision_compare(model_name, precisions, devices, batch_size, matmul_size, budget_s,
                          request: gr.Request, progress=gr.Progress()):
        lang = i18n.lang_of(request)
        if model_name not in zoo.cnn_names():
            raise UserError(f"알 수 없는 모델: {model_name!r}", f"Unknown model: {model_name!r}")
        chosen = [p for p in (precisions or []) if p in PRECISIONS]
        if not chosen:
            raise UserError("정밀도를 하나 이상 골라 주세요.", "Please pick at least one precision.")
        wanted_devices = [d for d in (devices or []) if d in device_names] or ["cpu"]
        result = compare(model_name, wanted_devices, chosen, _clamp_int(batch_size, 1, 32, DEFAULT_BATCH),
                         _clamp_int(matmul_size, 64, 4096, DEFAULT_MATMUL), _clamp_int(budget_s, 5, 300, DEFAULT_BUDGET_S),
                         progress=lambda frac, desc: progress(frac, desc=desc))
        fig = compare_figure(result, lang) if lang != "ko" else result.fig
        return fig, rows_table(result, lang), result.notes_ko if lang == "ko" else result.notes_en

    with gr.Tabs(elem_id="precision-tabs"):
        _build_tabs(ui, device_names, float_bits, precision_compare)


def _build_tabs(ui, device_names, float_bits, precision_compare) -> None:
    with gr.Tab(t("precision.numbers_tab"), id="precision-numbers", elem_id="precision-numbers"):
        with gr.Row():
            number = gr.Textbox(value="0.1", label=t("precision.number"), elem_id="precision-number", scale=3)
            show = gr.Button(t("precision.show_bits"), variant="primary", elem_id="precision-show", scale=1)
        gr.Examples([["0.1"], ["1/3"], ["65504"], ["70000"], ["500"], ["1e-7"], ["1e-8"], ["-0"], ["inf"], ["nan"], ["3.4e38"]],
                    inputs=[number], label=t("precision.examples"), examples_per_page=12)
        bits_html = gr.HTML(elem_id="precision-bits")
        spacing = gr.Plot(label=t("precision.spacing"), elem_id="precision-spacing")
    with gr.Tab(t("precision.compare_tab"), id="precision-compare", elem_id="precision-compare"):
        with gr.Row():
            model = gr.Dropdown(zoo.cnn_names(), value=zoo.DEFAULT_CNN, label=t("precision.model"))
            precisions = gr.CheckboxGroup([(PRECISION_LABEL[p], p) for p in PRECISIONS], value=PRECISIONS,
                                          label=t("precision.precisions"))
            devices = gr.CheckboxGroup(device_names, value=device_names, label=t("precision.devices"))
        with gr.Row():
            batch = gr.Slider(1, 32, value=DEFAULT_BATCH, step=1, label=t("precision.batch"), elem_id="precision-batch")
            matmul = gr.Dropdown(MATMUL_SIZES, value=DEFAULT_MATMUL, label=t("precision.matmul"))
            budget = gr.Slider(5, 120, value=DEFAULT_BUDGET_S, step=5, label=t("precision.budget"), elem_id="precision-budget")
        run = gr.Button(t("precision.run"), variant="primary", elem_id="precision-run")
        chart = gr.Plot(label=t("precision.chart"), elem_id="precision-chart")
        gr.Markdown(t("precision.notes"))
        notes = gr.Markdown(elem_id="precision-notes")
        table = gr.Dataframe(label=t("precision.table"), wrap=True, elem_id="precision-table", max_height=900,
                             column_widths=["5%", "7%", "6%", "7%", "5%", "6%", "6%", "6%", "6%", "6%", "5%", "7%", "28%"])
    with gr.Tab(t("precision.device_tab"), id="precision-device", elem_id="precision-device"):
        gr.Markdown(t("precision.device_panel"), elem_id="precision-device-panel")

    show.click(float_bits, [number], [bits_html, spacing], api_name="float_bits", **ui.QUICK)
    number.submit(float_bits, [number], [bits_html, spacing], api_name=False, **ui.QUICK)
    run.click(precision_compare, [model, precisions, devices, batch, matmul, budget], [chart, table, notes],
              api_name="precision_compare", **ui.HEAVY_BENCH)
