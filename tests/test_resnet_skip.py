"""Deep networks and the skip connection: gradient norms against an independent torch.autograd.grad call,
the vanishing gradient (plain) and its absence (residual), training of both, determinism, bad input, both
languages, and the tab's wiring."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from core import digits
from tabs.resnet_skip import compute, tab, view
from tabs.resnet_skip.text import TEXT

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _independent_norms(settings: compute.Networks, residual: bool) -> np.ndarray:
    """The same network and batch, gradients by torch.autograd.grad (no .backward(), no .grad fields)."""
    net = compute.build(settings, residual)
    net.train()
    x, y = compute.gradient_batch(digits.split_digits(settings.seed), settings.seed)
    loss = nn.functional.cross_entropy(net(x), y)
    grads = torch.autograd.grad(loss, net.weights())
    return np.array([float(torch.linalg.vector_norm(g)) for g in grads])


@pytest.mark.parametrize("depth, activation, batch_norm", [(30, "sigmoid", False), (10, "relu", True),
                                                          (50, "tanh", False)])
def test_gradient_norms_equal_torch_autograd_grad(depth, activation, batch_norm):
    grads = compute.gradient_norms(depth, activation, batch_norm, seed=3)
    assert grads.layers == depth + 2 and grads.batch == compute.GRADIENT_BATCH
    for variant in compute.VARIANTS:
        expected = _independent_norms(grads.settings, residual=variant == "residual")
        np.testing.assert_allclose(getattr(grads, variant), expected, rtol=1e-5, atol=1e-37)


def test_deep_plain_sigmoid_gradient_vanishes_and_the_skip_connection_keeps_it():
    grads = compute.gradient_norms(30, "sigmoid", False, seed=0)
    # Plain: the first layer gets several orders of magnitude less than the last (here: exactly 0 in float32).
    assert grads.first_over_last("plain") < 1e-3
    assert grads.plain[-1] > 1e-2  # the output layer does get a gradient
    # It shrinks towards the input: the input half gets far less than the output half.
    half = grads.layers // 2
    assert grads.plain[:half].max() < 1e-3 * grads.plain[half:].max()
    # Residual: first and last layer within about one order of magnitude, and no layer left without gradient.
    assert 0.1 <= grads.first_over_last("residual") <= 10
    assert grads.residual.min() > 0.1 * grads.residual.max()


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_residual_keeps_the_gradient_for_every_activation_at_depth_30(activation):
    grads = compute.gradient_norms(30, activation, False, seed=1)
    assert 0.1 <= grads.first_over_last("residual") <= 10
    assert grads.first_over_last("plain") < 1e-3  # without batch norm every plain version vanishes here


def test_plain_and_residual_start_from_the_same_weights():
    settings, _ = compute.read_networks(12, "tanh", True, 4)
    plain, residual = compute.build(settings, False), compute.build(settings, True)
    assert plain.state_dict().keys() == residual.state_dict().keys()
    for key, value in plain.state_dict().items():
        assert torch.equal(value, residual.state_dict()[key]), key


def test_the_residual_deep_network_trains_and_the_plain_one_stalls():
    """Measured here (depth 30, sigmoid, 10 epochs, seed 0): plain stays at 10.0 % (chance), residual 94 %."""
    result = compute.train_both(30, "sigmoid", False, 0, 10, budget_s=None)
    assert result.complete
    assert result.final_acc("residual") >= 0.85
    assert result.final_acc("plain") <= 0.2
    assert result.final_acc("residual") - result.final_acc("plain") >= 0.5
    assert len(result.history["plain"]) == len(result.history["residual"]) == 10
    assert not result.diverged("plain") and not result.diverged("residual")
    # The skip connection has no weights: both networks have the same count, by hand.
    width = compute.WIDTH
    assert result.parameters == (64 * width + width) + 30 * (width * width + width) + (width * 10 + 10)


def test_everything_is_deterministic_per_seed():
    settings, _ = compute.read_networks(8, "relu", True, 7)
    assert np.array_equal(compute._gradients(settings).plain, compute._gradients(settings).plain)
    first, again = compute._train_both(settings, 2, None), compute._train_both(settings, 2, None)
    assert first.history == again.history
    other, _ = compute.read_networks(8, "relu", True, 8)
    assert compute._train_both(other, 2, None).history != first.history
    assert not np.array_equal(compute._gradients(other).plain, compute._gradients(settings).plain)


@pytest.mark.parametrize("depth, activation, seed, used, note_keys", [
    (0, "sigmoid", 0, (5, "sigmoid", 0), ["values.clamped"]),
    (1000, "relu", 0, (50, "relu", 0), ["values.clamped"]),
    (float("nan"), "tanh", 0, (30, "tanh", 0), ["values.not_number"]),
    (12.6, "swish", float("nan"), (13, "sigmoid", 0), ["values.rounded", "values.not_number", "values.not_allowed"]),
])
def test_bad_input_is_clamped_or_replaced_with_notes(depth, activation, seed, used, note_keys):
    settings, notes = compute.read_networks(depth, activation, False, seed)
    assert (settings.depth, settings.activation, settings.seed) == used
    assert [n.key for n in notes] == note_keys
    grads = compute.gradient_norms(depth, activation, False, seed)
    assert grads.layers == used[0] + 2 and [n.key for n in grads.notes] == note_keys
    chart, words = tab.gradients(depth, activation, False, seed, lang="en")
    assert all(n.say("en") in words for n in notes)


def test_the_time_budget_stops_both_networks_after_the_same_epoch_and_is_not_kept():
    result = compute.train_both(20, "tanh", False, 3, 30, budget_s=0.0)
    assert result.epochs_run == 1 and not result.complete
    assert len(result.history["plain"]) == len(result.history["residual"]) == 1
    assert [n.key for n in result.notes] == ["digits.out_of_time"]
    assert (result.settings, 30) not in compute.RUNS
    assert result.notes[0].say("ko") in view.training_markdown(result, "ko")


def test_bad_epochs_are_clamped_with_a_note():
    notes = []
    epochs = compute.SETTINGS["epochs"]
    assert epochs.take(0, notes) == 1 and epochs.take("x", notes) == 10
    assert epochs.take(1e9, notes) == 30
    assert [n.key for n in notes] == ["values.clamped", "values.not_number", "values.clamped"]


# ---------------------------------------------------------------- the view, in both languages


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_views_speak_one_language_and_show_the_numbers(lang):
    result = compute.train_both(30, "sigmoid", False, 0, 10, budget_s=None)  # complete, kept: the tab reuses it
    chart, words = tab.gradients(30, "sigmoid", False, 0, lang=lang)
    curves, table = tab.training(30, "sigmoid", False, 0, 10, lang=lang)
    for block in (words, table, chart.to_json(), curves.to_json()):
        assert bool(HANGUL.search(block)) == (lang == "ko"), block[:200]
    grads = compute.gradient_norms(30, "sigmoid", False, 0)
    zeros = int((grads.plain == 0).sum())
    assert zeros > 0 and TEXT.say(lang, "zero_layers", count=zeros) in words
    # Zeros are left out of the log axis (None), the rest drawn as computed.
    plain_y = list(chart.data[0].y)
    assert plain_y.count(None) == zeros
    assert [v for v in plain_y if v is not None] == [float(v) for v in grads.plain if v > 0]
    assert chart.layout.yaxis.type == "log"
    assert f"{100 * result.final_acc('residual'):.1f}%" in table


def test_exploding_gradient_is_named_when_the_plain_network_has_batch_norm():
    grads = compute.gradient_norms(30, "relu", True, 0)
    assert grads.first_over_last("plain") > 100  # measured: the gradient grows towards the input
    assert TEXT.say("en", "plain_explodes", times=f"{grads.first_over_last('plain'):.0f}") in \
        view.gradients_markdown(grads, "en")


def test_the_static_words_match_the_networks_they_describe():
    ko, en = TEXT.both("setup_h")
    assert f"Linear({compute.WIDTH}→{compute.WIDTH})" in ko and f"Linear({compute.WIDTH}→{compute.WIDTH})" in en
    ko, en = TEXT.both("gradients_h")
    assert str(compute.GRADIENT_BATCH) in ko and str(compute.GRADIENT_BATCH) in en


# ---------------------------------------------------------------- the wiring


def test_the_tab_registers_its_events_and_worked_examples():
    from tests.conftest import build_lesson_tab

    demo, page, registered = build_lesson_tab(tab)
    mine = {r.name: r for r in registered}
    assert mine["resnet_skip_gradients"].kind.name == "model" and mine["resnet_skip_gradients"].cache
    assert mine["resnet_skip_training"].kind.name == "training" and not mine["resnet_skip_training"].cache
    warm = dict(page.warmed())
    assert warm == {"on_open:gradients": (30, "sigmoid", False, 0),
                    "on_open:training_example": (30, "sigmoid", False, 0, 10)}
    # The warm-up runs them as the server will (both languages, outputs prepared for the page).
    report = page.warm_up()
    assert report["failed"] == 0 and report["computed"] == 4
