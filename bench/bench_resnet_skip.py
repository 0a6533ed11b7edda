"""Skip-connection bench: the wall time of each event as the server runs it (compute, view, and the figures'
JSON that Gradio sends), on this CPU. Target: each answers within 10 s.

- gradient norms (recomputed whenever a setting moves): the default (30 blocks, sigmoid) and the largest
  (50 blocks with batch norm), warm (median of 5);
- "Train both networks": the default (30 blocks, sigmoid, 10 epochs) and the largest setting (50 blocks,
  batch norm, 30 epochs), from scratch, with the tab's time budget: printed with the epochs that fitted.
Same-run baseline for the default training: the two networks trained one after the other with no budget.
"""
from __future__ import annotations

import time

from bench.common import median_ms, row
from core import digits
from tabs.resnet_skip import compute, tab, view

TAB = "resnet_skip"


def _json(outputs) -> None:
    for value in outputs:
        if hasattr(value, "to_json"):
            value.to_json()


def rows() -> list[dict]:
    digits.split_digits(0)  # the first call's scikit-learn import: paid once by the warm-up
    out = []
    for depth, bn in ((30, False), (50, True)):
        ms = median_ms(lambda: _json(tab.gradients(depth, "sigmoid", bn, 0, lang="ko")), runs=5, warmup=1)
        out.append(row(TAB, f"gradient norms, {depth} blocks, sigmoid{' + batch norm' if bn else ''}, "
                            "compute + view", ms, "ms", "<= 1000 ms (runs on every change)"))
    for depth, bn, epochs in ((30, False, 10), (50, True, 30)):
        baseline, baseline_what = None, ""
        if (depth, bn, epochs) == (30, False, 10):
            settings, _ = compute.read_networks(depth, "sigmoid", bn, 0)
            compute._train_both(settings, 1, None)  # untimed warm-up: a process's first training pays one-off costs
            base_started = time.perf_counter()
            compute._train_both(settings, epochs, None)
            baseline, baseline_what = time.perf_counter() - base_started, "the 2 trainings, no budget"
        compute.RUNS.clear()
        started = time.perf_counter()
        result = compute.train_both(depth, "sigmoid", bn, 0, epochs)  # the body of tab.training
        _json((view.training_figure(result, "ko"), view.training_markdown(result, "ko")))
        seconds = time.perf_counter() - started
        fitted = f"{result.epochs_run} of {epochs} epochs (budget)" if not result.complete else f"{epochs} epochs"
        compute.RUNS.clear()
        out.append(row(TAB, f"Train both, {depth} blocks, sigmoid{' + batch norm' if bn else ''}, {fitted}, "
                            f"plain {100 * result.final_acc('plain'):.0f}% vs residual "
                            f"{100 * result.final_acc('residual'):.0f}%, compute + view", seconds, "s", "<= 10 s",
                       baseline=baseline, baseline_what=baseline_what))
    return out


if __name__ == "__main__":
    for r in rows():
        print(f"{r['what']}: {r['value']:.2f} {r['unit']}")
