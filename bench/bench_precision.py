"""Precision tab: the default comparison's wall time, and the matmul speed of each precision on this CPU."""
from __future__ import annotations

import time

import torch

from bench.common import median_ms, row
from tabs import precision

MATMUL_N = 1024


def rows() -> list[dict]:
    out = []
    started = time.perf_counter()
    result = precision.compare()  # the defaults the tab opens with (first run: includes loading the model)
    wall_ms = (time.perf_counter() - started) * 1000
    skipped = sum(r.status == "skipped" for r in result.rows)
    out.append(row("precision", f"default comparison wall time ({result.model_name}, first run incl. load)", wall_ms, "ms",
                   f"< 30000 ms (budget {precision.DEFAULT_BUDGET_S} s)"))
    out.append(row("precision", "default comparison: rows skipped by the time budget", skipped, "rows", "0 when quiet"))
    for r in result.rows:
        if r.status == "ok" and r.workload == "cnn":
            out.append(row("precision", f"default comparison: CNN {r.device} {precision.PRECISION_LABEL[r.precision]} "
                                        f"(batch {r.items}, top-1 agree {r.top1_agree:.0f}%)", r.throughput, "images/s"))

    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(MATMUL_N, MATMUL_N, generator=gen), torch.randn(MATMUL_N, MATMUL_N, generator=gen)
    flops = 2 * MATMUL_N ** 3
    fp32_gflops = None
    device = torch.device("cpu")
    for prec in ("fp32", "bf16", "fp16", "int8", "fp8"):
        ok, reason = precision.support(device, prec)
        if not ok:
            print(f"# precision: {prec} matmul not supported on this CPU: {reason[1]}")
            continue
        fn = precision.matmul_for(a, b, prec, device)
        slow = prec == "fp16" and not precision.cpu_features()["avx512_fp16"] and not precision.cpu_features()["amx_fp16"]
        ms = median_ms(fn, runs=2 if slow else 7, warmup=1 if slow else 2)
        gflops = flops / (ms / 1000) / 1e9
        fp32_gflops = fp32_gflops or gflops
        out.append(row("precision", f"CPU matmul {MATMUL_N}x{MATMUL_N} {precision.PRECISION_LABEL[prec]} "
                                    f"({gflops / fp32_gflops:.2f}x FP32)", gflops, "GFLOP/s"))
    f = precision.cpu_features()
    print(f"# precision: CPU {f['model']}, AMX {f['amx']}, AVX-512 BF16 {f['avx512_bf16']}, AVX-512 FP16 {f['avx512_fp16']}, "
          f"torch capability {f['capability']}")
    return out
