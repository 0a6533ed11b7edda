"""Kinds-of-networks bench: the wall time of each button as the server runs it (compute, view, and the figures'
JSON that Gradio sends), on this CPU. Target: each answers within 10 s.

- "Train all four": the default (seed 0, 15 epochs) from scratch, with the tab's time budget, as a student's
  click on new settings runs it. Printed with its epochs (fewer than asked means the budget ended it) and the
  first-call cost the page's warm-up pays once (importing scikit-learn, reading the digits).
- "Measure": the default (lengths up to 1024) and the longest (up to 4096, stopped by its 8 s budget).
Same-run baseline for the training: the same four trainings one after another without the side-by-side
loop and its budget checks (what the fair-stop bookkeeping costs).
"""
from __future__ import annotations

import time

import torch

from bench.common import row
from tabs.nn_types import compute, tab

TAB = "nn_types"


def _click(fn, *args) -> tuple[float, tuple]:
    """Seconds for one call of an event function, including the JSON of its figures (what Gradio sends)."""
    started = time.perf_counter()
    outputs = fn(*args, lang="ko")
    for value in outputs:
        if hasattr(value, "to_json"):
            value.to_json()
    return time.perf_counter() - started, outputs


def rows() -> list[dict]:
    out = []
    started = time.perf_counter()
    compute.split_digits(0)  # first call: imports scikit-learn and reads the digits (the warm-up pays it once)
    first_call = time.perf_counter() - started
    out.append(row(TAB, "first call only: import scikit-learn + read 1,797 digits", first_call, "s"))

    # The button's own body (tab.permutation_run), split open only to read how many epochs fitted.
    compute.EXPERIMENTS.clear()
    started = time.perf_counter()
    result = compute.permutation_experiment(0, 15)
    for value in tab._permutation_views(result, "ko"):
        if hasattr(value, "to_json"):
            value.to_json()
    seconds = time.perf_counter() - started
    compute.EXPERIMENTS.clear()
    epochs = f"{result.epochs_run} of 15 epochs (budget)" if not result.complete else "15 epochs"
    # Baseline: the four trainings one after another, no side-by-side loop, no budget.
    split = compute.split_digits(0)
    shuffled = compute.permute_pixels(split, compute.pixel_permutation(0))
    base_started = time.perf_counter()
    for data in (split, shuffled):
        for arch in compute.ARCHS:
            _, trainer = compute.trainer(arch, data, 0)
            for _ in range(15):
                next(trainer)
    baseline = time.perf_counter() - base_started
    out.append(row(TAB, f"Train all four (MLP+CNN x original+shuffled, {epochs}), compute + view",
                   seconds, "s", "<= 10 s", baseline=baseline, baseline_what="the 4 trainings alone, 15 epochs"))

    for max_length in (1024, 4096):
        seconds, (figure, _) = _click(tab.sequence_timing, max_length, "cpu")
        measured = max(figure.data[0].x)
        out.append(row(TAB, f"Measure LSTM vs attention, lengths 16..{max_length} (CPU, longest measured "
                            f"{measured}), compute + view", seconds, "s", "<= 10 s"))
    print(f"nn_types: torch threads {torch.get_num_threads()}", flush=True)
    return out


if __name__ == "__main__":
    for r in rows():
        print(f"{r['what']}: {r['value']:.2f} {r['unit']}")
