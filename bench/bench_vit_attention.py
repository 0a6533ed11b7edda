"""ViT lesson: one photo through DeiT-Tiny and ViT-Base (real architectures, random init, built locally)
with attention weights out, attention rollout and every panel of the tab drawn; then a click on another
layer, head or patch of the same photo, which reads the stored forward pass and only draws.

Targets (2-core CPU, warm): a new photo through DeiT-Tiny <= 300 ms, ViT-Base <= 1 s; a click <= 100 ms
(a "quick" event). The forward-only time (eager attention, weights returned) is the same-run baseline of
a new photo, and the new-photo time the baseline of a click. A row per model gives the CPU time on one
torch thread, which stays meaningful when the machine is shared.
"""
from __future__ import annotations


import torch

from bench.common import median_ms, row, single_thread_cpu_ms
from core.images import load_image
from core.zoo import vit as vit_zoo
from tabs.vit_attention import compute, view

TAB = "vit_attention"
TARGETS_MS = {"deit_tiny": 300, "vit_base": 1000}
CLICK_TARGET_MS = 100


def rows() -> list[dict]:
    photo = str(compute.EXAMPLES / "cat.jpg")  # a file, as the tab gets it: every request decodes it
    out = []
    for name, target in TARGETS_MS.items():
        vit = vit_zoo.build_real_architecture(name)  # the real config: no download, same compute as trained weights
        tensor = vit.to_tensor(vit.fit_image(load_image(photo)))

        def forward_only():
            with torch.inference_mode():
                vit.model(tensor, output_attentions=True)

        def new_photo():
            compute.FORWARDS.clear()  # the forward pass really runs every time, as for a photo not seen yet
            analysis = compute.analyse(vit, photo)
            view.photo_panels(analysis, "ko")
            view.choice_panels(analysis, "ko")

        clicks = iter(range(10**6))

        def click():
            # Another patch each time (the result cache would answer a repeated click before this runs).
            analysis = compute.analyse(vit, photo, layer=1, head="1", patch=next(clicks) % 196)
            view.choice_panels(analysis, "ko")

        forward_ms = median_ms(forward_only, runs=7, warmup=2)
        total_ms = median_ms(new_photo, runs=7, warmup=2)
        compute.analyse(vit, photo)  # the photo's pass, stored as the main event leaves it
        click_ms = median_ms(click, runs=9, warmup=2)
        cpu_ms = single_thread_cpu_ms(new_photo)
        compute.analyse(vit, photo)
        cpu_click_ms = single_thread_cpu_ms(click)
        layers, heads = vit.num_layers, vit.num_heads
        print(f"{name}: forward with attentions {forward_ms:.0f} ms; new photo (forward + rollout + every panel) "
              f"{total_ms:.0f} ms (target <= {target} ms); a click {click_ms:.0f} ms; {layers} layers x {heads} "
              f"heads, {vit.grid[0] * vit.grid[1] + 1} tokens, {torch.get_num_threads()} torch threads")
        out.append(row(TAB, f"{name} (hidden {vit.hidden_size}, {layers} layers, {heads} heads): new photo, "
                            "forward with attentions + rollout + every panel", total_ms, "ms", f"<= {target} ms",
                       baseline=forward_ms, baseline_what="forward with attentions only"))
        out.append(row(TAB, f"{name}: a click on another patch/layer/head (stored forward pass, drawing only)",
                       click_ms, "ms", f"<= {CLICK_TARGET_MS} ms", baseline=total_ms,
                       baseline_what="the same photo as a new photo"))
        out.append(row(TAB, f"{name}: new photo, CPU time on 1 torch thread (hardly moved by other load)", cpu_ms,
                       "ms", f"<= {target} ms"))
        out.append(row(TAB, f"{name}: a click, CPU time on 1 torch thread", cpu_click_ms, "ms",
                       f"<= {CLICK_TARGET_MS} ms", baseline=cpu_ms, baseline_what="a new photo, CPU time"))
    return out


