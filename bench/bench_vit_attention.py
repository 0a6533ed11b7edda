"""ViT tab: one photo through DeiT-Tiny and ViT-Base (real architectures, random init, built locally)
with attention weights out, attention rollout and every picture of the tab drawn.

Targets (2-core CPU, warm): DeiT-Tiny <= 300 ms, ViT-Base <= 1 s. The forward-only time (eager
attention, weights returned) is printed beside each as a same-run baseline, so the share of the
rollout and the drawing is visible. A second row per model gives the CPU time on one torch thread,
which stays meaningful when the machine is shared.
"""
from __future__ import annotations

import statistics
import time

import torch

from bench.common import median_ms, row
from core.images import load_image
from core.zoo import vit as vit_zoo
from tabs import vit_attention as va

TAB = "vit_attention"
TARGETS_MS = {"deit_tiny": 300, "vit_base": 1000}


def rows() -> list[dict]:
    photo = load_image(va.EXAMPLES / "cat.jpg")
    out = []
    for name, target in TARGETS_MS.items():
        vit = vit_zoo.build_real_architecture(name)  # the real config: no download, same compute as trained weights
        view = vit.fit_image(photo)
        tensor = vit.to_tensor(view)

        def forward_only():
            with torch.inference_mode():
                vit.model(tensor, output_attentions=True)

        def whole_event():
            # use_cache=False: the forward pass really runs every time (a new photo).
            va.analyze(vit, photo, layer=None, head=va.MEAN_HEAD, patch=None, use_cache=False)

        forward_ms = median_ms(forward_only, runs=7, warmup=2)
        total_ms = median_ms(whole_event, runs=7, warmup=2)
        cpu_ms = _single_thread_cpu_ms(whole_event)
        layers, heads = vit.num_layers, vit.num_heads
        print(f"{name}: forward with attentions {forward_ms:.0f} ms; forward + rollout + {len(_PICTURES)} pictures "
              f"{total_ms:.0f} ms (target <= {target} ms); {layers} layers x {heads} heads, "
              f"{vit.grid[0] * vit.grid[1] + 1} tokens, {torch.get_num_threads()} torch threads")
        out.append(row(TAB, f"{name} (hidden {vit.hidden_size}, {layers} layers, {heads} heads): "
                            "forward with attentions + rollout + rendering", total_ms, "ms", f"<= {target} ms",
                       baseline=forward_ms, baseline_what="forward with attentions only"))
        out.append(row(TAB, f"{name}: the same, CPU time on 1 torch thread (hardly moved by other load)", cpu_ms,
                       "ms", f"<= {target} ms"))
    return out


def _single_thread_cpu_ms(fn, runs: int = 5) -> float:
    """Median process CPU time of fn() with one torch thread: a figure that other processes' load hardly
    changes (wall time on a shared 2-core machine can be several times the quiet figure)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fn()
        samples = []
        for _ in range(runs):
            started = time.process_time()
            fn()
            samples.append((time.process_time() - started) * 1000)
        return statistics.median(samples)
    finally:
        torch.set_num_threads(threads)


_PICTURES = ("patches", "strip", "pos_one", "pos_all", "cls_attention", "heads", "rollout", "patch_attention")
