"""Fine-tuning bench: a full run with early stopping on the built-in shape set (3 classes x 60 images),
EfficientNet-Lite0 backbone frozen, on this CPU. Target: at most 60 s.

Printed with its parts: the one-off feature extraction (frozen backbone over every image) and the
training loop on the cached features. Same-run baselines:
- the same loop when the frozen backbone runs every batch instead of once (what caching the features
  saves), measured on 3 epochs and scaled to the same number of epochs;
- a second student's run on the same data: the frozen features come from the shared store (what the
  store saves a class), against the first student's run;
- the worked example's data set from the store, against drawing it;
- the frozen body in channels-last memory layout (the shared copy), against the loader's model as it is.
"""
from __future__ import annotations

import time

import torch

from bench.common import median_ms, row
from core.zoo.cnn import load_cnn
from tabs.finetune import compute

TAB = "finetune"
BACKBONE = compute.SETTINGS["backbone"].default  # EfficientNet-Lite0: real weights offline


def _full_run(session: compute.Session, data: compute.DataSet) -> tuple[float, compute.Progress]:
    started = time.perf_counter()
    last = None
    for last in compute.fine_tune(session, data, [], BACKBONE, None, *_defaults()):
        pass
    return time.perf_counter() - started, last


def _defaults() -> tuple:
    cfg = compute.TrainConfig()  # the tab's defaults: augmentation off, patience 4, min_delta 0.005
    return cfg.epochs, cfg.learning_rate, cfg.batch_size, cfg.augment, cfg.patience, cfg.min_delta


def rows() -> list[dict]:
    cnn, note = load_cnn(BACKBONE, tiny=False)
    weights = "real" if cnn.real_weights else "random-init"
    started = time.perf_counter()
    compute.BUILTIN.clear()
    data = compute.builtin_dataset(3, 60, seed=0)
    draw_s = time.perf_counter() - started
    store_us = median_ms(lambda: compute.builtin_dataset(3, 60, seed=0)) * 1000
    compute.FEATURES.clear()
    first_s, first = _full_run(compute.Session(), data)
    result, prep = first.result, first.prepared
    print(f"finetune: {result.stopped_epoch} epochs ({result.reason}, best {result.best_epoch}), "
          f"val acc {result.best_val_acc:.1%}, features {prep.seconds:.1f} s, loop {result.seconds:.1f} s, "
          f"threads {torch.get_num_threads()}")
    out = [
        row(TAB, f"full run, 3x60 shapes, Lite0 ({weights}) frozen, early stop at epoch {result.stopped_epoch}, "
                 f"val acc {result.best_val_acc:.0%}", first_s, "s", "<= 60 s"),
        row(TAB, f"  of which: frozen features once ({len(data.images)} images)", prep.seconds, "s"),
        row(TAB, f"  of which: {result.stopped_epoch} epochs on cached features", result.seconds, "s"),
    ]
    # A second student, same data and frozen part: the features come from the shared store.
    second_s, second = _full_run(compute.Session(), data)
    assert second.reused, "the second run should have found the features in the store"
    out.append(row(TAB, "second student's run on the same data (frozen features shared)", second_s, "s", "",
                   baseline=first_s, baseline_what="first student's run"))
    out.append(row(TAB, "worked example's data set (3x60 shapes) from the store", store_us, "µs", "",
                   baseline=draw_s * 1e6, baseline_what="drawn"))
    # Baseline: no cache, the frozen backbone runs inside every batch (3 epochs, scaled).
    base_cfg = compute.TrainConfig(epochs=3, patience=100)
    model = compute.FineTuned(cnn, len(compute.body_stages(cnn)), data.class_names)
    prep_raw = compute.prepare(model, data, base_cfg, cache=False)
    base = list(compute.train(model, prep_raw, base_cfg, max_seconds=600))[-1]
    per_epoch = base.seconds / max(base.stopped_epoch, 1)
    uncached = prep_raw.seconds + per_epoch * result.stopped_epoch
    out.append(row(TAB, f"full run with cached features vs. backbone in every batch ({result.stopped_epoch} epochs)",
                   first_s, "s", "", baseline=uncached, baseline_what="no feature cache"))
    # The frozen body on a batch of 32: the shared channels-last copy against the loader's model.
    x = torch.cat([cnn.preprocess(data.images[i]) for i in range(32)])
    fast = compute.backbone_of(cnn).stages
    plain = [m for _, m in compute.body_stages(cnn)]

    def body(modules, batch):
        with torch.inference_mode():
            for module in modules:
                batch = module(batch)
        return batch

    fast_ms = median_ms(lambda: body(fast, x.contiguous(memory_format=torch.channels_last)), runs=3, warmup=1)
    plain_ms = median_ms(lambda: body(plain, x), runs=3, warmup=1)
    out.append(row(TAB, "frozen body, 32 images, channels-last copy", fast_ms, "ms", "",
                   baseline=plain_ms, baseline_what="loader's model as it is"))
    return out
