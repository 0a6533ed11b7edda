"""Precision lesson: the bits view (computed, then from the result cache), the default comparison's wall time
within its budget, and the matmul speed of each precision on this CPU."""
from __future__ import annotations

import time

import torch

from bench.common import median_ms, row
from tabs.precision import compare, compute, convert, hardware, view

MATMUL_N = 1024
TAB = "precision"


def _bits_rows() -> list[dict]:
    """float_bits as the page calls it: computed once (compute + view + output preparation), then served
    from the shared result cache. Same run, same numbers."""
    import gradio as gr

    from core import events
    from core.page import Page
    from core.settings import Settings
    from tabs.precision import tab

    before = len(events.REGISTERED)
    with gr.Blocks() as demo:
        tab.build(Page(Settings(), demo))
    bits = next(r for r in events.REGISTERED[before:] if r.name == "float_bits")
    typed = [f"{k}/7" for k in range(1, 41)]  # fresh numbers: nothing of them is cached yet
    started = time.perf_counter()
    for t in typed:
        bits.run(t, lang="ko")
    computed_ms = (time.perf_counter() - started) * 1000 / len(typed)
    started = time.perf_counter()
    for t in typed:
        bits.run(t, lang="ko")
    cached_ms = (time.perf_counter() - started) * 1000 / len(typed)
    torch_ms = median_ms(lambda: compute.float_bits("0.1"), runs=20, warmup=2)
    view_ms = median_ms(lambda: (view.bits_html(compute.float_bits("0.1"), "ko"),
                                 view.spacing_figure(compute.float_bits("0.1"), "ko")), runs=20, warmup=2)
    return [
        row(TAB, "float_bits compute: 5 formats from torch casts (0.1)", torch_ms, "ms", "< 10 ms"),
        row(TAB, "float_bits compute + HTML + gap chart (0.1)", view_ms, "ms", "< 100 ms (quick)"),
        row(TAB, "float_bits event, served from the result cache", cached_ms, "ms", "< 5 ms",
            baseline=computed_ms, baseline_what="first call of the same number: computed"),
    ]


def rows() -> list[dict]:
    out = _bits_rows()
    started = time.perf_counter()
    result = compare.compare()  # the defaults the tab opens with (first run: loads the model first)
    wall_ms = (time.perf_counter() - started) * 1000
    out.append(row(TAB, f"default comparison: measurements ({result.model_name})", result.wall_s * 1000, "ms",
                   f"<= {compare.SETTINGS['budget_s'].default * 1000} ms (the budget) + one row's overrun"))
    out.append(row(TAB, "default comparison: loading model and images before the budget (first run)",
                   result.load_s * 1000, "ms"))
    out.append(row(TAB, "default comparison: whole call, first run", wall_ms, "ms"))
    skipped = sum(r.status == "skipped" for r in result.rows)
    out.append(row(TAB, "default comparison: rows skipped by the time budget", skipped, "rows", "0 when quiet"))
    for r in result.rows:
        if r.status == "ok" and r.workload == "cnn":
            out.append(row(TAB, f"default comparison: CNN {r.device} {compare.PRECISION_LABEL[r.precision]} "
                                f"(batch {r.items}, top-1 agree {r.top1_agree:.0f}%)", r.throughput, "images/s"))

    generator = torch.Generator().manual_seed(0)
    a, b = torch.randn(MATMUL_N, MATMUL_N, generator=generator), torch.randn(MATMUL_N, MATMUL_N, generator=generator)
    flops = 2 * MATMUL_N ** 3
    fp32_gflops = None
    device = torch.device("cpu")
    cpu = hardware.cpu()
    for precision in ("fp32", "bf16", "fp16", "int8", "fp8"):
        reason = hardware.support(device, precision)
        if reason is not None:
            print(f"# precision: {precision} matmul does not run on this CPU: {reason.say('en')}")
            continue
        fn = convert.matmul_for(a, b, precision, device)
        slow = precision == "fp16" and not cpu.has("avx512_fp16") and not cpu.has("amx_fp16")
        ms = median_ms(fn, runs=2 if slow else 7, warmup=1 if slow else 2)
        gflops = flops / (ms / 1000) / 1e9
        fp32_gflops = fp32_gflops or gflops
        out.append(row(TAB, f"CPU matmul {MATMUL_N}x{MATMUL_N} {compare.PRECISION_LABEL[precision]} "
                            f"({gflops / fp32_gflops:.2f}x FP32)", gflops, "GFLOP/s"))
    flags = {name: cpu.has(flag) for flag, name in cpu.named_flags}
    print(f"# precision: CPU {cpu.model}, torch capability {cpu.capability}, flags {flags}")
    return out
