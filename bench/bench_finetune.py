"""Fine-tuning bench: a full run with early stopping on the built-in shape set (3 classes x 60 images),
EfficientNet-Lite0 backbone frozen, on this CPU. Target: at most 60 s.

Printed with its parts: the one-off feature extraction (frozen backbone over every image) and the
training loop on the cached features. Same-run baseline: the same training loop when the frozen
backbone runs every batch instead of once (what caching the features saves), measured on 3 epochs
and scaled to the same number of epochs.
"""
from __future__ import annotations

import time

import torch

from bench.common import row
from core.zoo.cnn import load_cnn
from tabs import finetune_train as ft

TAB = "finetune"


def _full_run(cnn, data, cfg):
    started = time.perf_counter()
    model = ft.FineTuned(cnn, len(ft.body_stages(cnn)), data.class_names)
    prep = ft.prepare(model, data, cfg)
    result = list(ft.train(model, prep, cfg))[-1]
    return time.perf_counter() - started, prep, result


def rows() -> list[dict]:
    cnn, note = load_cnn("efficientnet_lite0", tiny=False)
    weights = "real" if cnn.real_weights else "random-init"
    images, pairs = ft.builtin_images(3, 60, seed=0)
    data = ft.make_dataset(images, [en for _, en in pairs])
    cfg = ft.TrainConfig()  # the tab's defaults: augmentation off, patience 4, min_delta 0.005
    total_s, prep, result = _full_run(cnn, data, cfg)
    print(f"finetune: {result.stopped_epoch} epochs ({result.reason}, best {result.best_epoch}), "
          f"val acc {result.best_val_acc:.1%}, features {prep.seconds:.1f} s, loop {result.seconds:.1f} s, "
          f"threads {torch.get_num_threads()}")
    out = [
        row(TAB, f"full run, 3x60 shapes, Lite0 ({weights}) frozen, early stop at epoch {result.stopped_epoch}, "
                 f"val acc {result.best_val_acc:.0%}", total_s, "s", "<= 60 s"),
        row(TAB, f"  of which: frozen features once ({len(data.images)} images)", prep.seconds, "s"),
        row(TAB, f"  of which: {result.stopped_epoch} epochs on cached features", result.seconds, "s"),
    ]
    # Baseline: no cache, the frozen backbone runs inside every batch (3 epochs, scaled).
    base_cfg = ft.TrainConfig(epochs=3, patience=100)
    model = ft.FineTuned(cnn, len(ft.body_stages(cnn)), data.class_names)
    prep_raw = ft.prepare(model, data, base_cfg, cache=False)
    base = list(ft.train(model, prep_raw, base_cfg, max_seconds=600))[-1]
    per_epoch = base.seconds / max(base.stopped_epoch, 1)
    uncached = prep_raw.seconds + per_epoch * result.stopped_epoch
    out.append(row(TAB, f"full run with cached features vs. backbone in every batch ({result.stopped_epoch} epochs)",
                   total_s, "s", "", baseline=uncached, baseline_what="no feature cache"))
    return out
