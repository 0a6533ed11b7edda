"""Fine-tuning tab: real accuracy with the real EfficientNet-Lite0, early stopping, independent sessions, bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from core.i18n import UserError
from core.zoo.cnn import load_cnn
from tabs import finetune as tab
from tabs import finetune_train as ft


def _checksum(module: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum() for p in module.parameters()))


@pytest.fixture(scope="module")
def tiny_cnn():
    cnn, _ = load_cnn("efficientnet_lite0", tiny=True)
    return cnn


def _random_prepared(n_train: int, n_val: int, dim: int, n_classes: int, seed: int) -> ft.Prepared:
    """Cached features without running the backbone: separable clusters, one per class."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, dim, generator=g) * 2
    ytr = torch.arange(n_train) % n_classes
    yva = torch.arange(n_val) % n_classes
    xtr = centres[ytr] + torch.randn(n_train, dim, generator=g)
    xva = centres[yva] + torch.randn(n_val, dim, generator=g)
    return ft.Prepared(key=("test", seed), train_views=[xtr], val=xva, train_labels=ytr, val_labels=yva,
                       cached=True, seconds=0.0)


def test_builtin_shapes_with_real_lite0_reach_90_percent():
    cnn, note = load_cnn("efficientnet_lite0", tiny=False)
    assert note is None and cnn.real_weights
    shared_before = _checksum(cnn.model)
    images, pairs = ft.builtin_images(3, 36, seed=0)
    data = ft.make_dataset(images, [en for _, en in pairs])
    cfg, notes = ft.train_config(30, 3e-3, 16, False, 4, 0.005)
    assert notes == []
    model = ft.FineTuned(cnn, len(ft.body_stages(cnn)), data.class_names)  # whole body frozen: head only
    prep = ft.prepare(model, data, cfg)
    assert prep.cached and prep.val.shape == (len(data.val_idx), 1280)
    events = list(ft.train(model, prep, cfg))
    result = events[-1]
    assert isinstance(result, ft.RunResult)
    assert result.best_val_acc >= 0.90, result
    assert result.confusion.sum() == len(data.val_idx)
    assert np.trace(result.confusion) / result.confusion.sum() == pytest.approx(result.best_val_acc)
    # A fresh picture of each shape is recognised with its probabilities summing to one.
    rng = np.random.default_rng(777)
    hits = 0
    for k, (key, _, en) in enumerate(ft.SHAPES[:3]):
        for _ in range(3):
            probs = model.predict(Image.fromarray(ft.draw_shape(key, rng)))
            assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
            hits += max(probs, key=probs.get) == en
    assert hits >= 7
    # The loader's shared model was not trained and is still frozen.
    assert _checksum(cnn.model) == shared_before
    assert not any(p.requires_grad for p in cnn.model.parameters())


def test_early_stopping_rule_with_min_delta():
    stopper = ft.EarlyStopping(patience=3, min_delta=0.02)
    losses = [1.0, 0.8, 0.75, 0.76, 0.74, 0.9]
    stops = [stopper.step(e, loss) for e, loss in enumerate(losses, start=1)]
    # 0.74 is better than 0.75 but by less than min_delta: not an improvement.
    assert stops == [False, False, False, False, False, True]
    assert stopper.best_epoch == 3 and stopper.best_loss == 0.75


def test_training_loop_stops_on_scripted_losses_and_restores_best_weights(tiny_cnn):
    model = ft.FineTuned(tiny_cnn, len(ft.body_stages(tiny_cnn)), ["a", "b", "c"])
    prep = _random_prepared(30, 9, ft.feature_dim(tiny_cnn), 3, seed=1)
    scripted = [1.0, 0.7, 0.6, 0.65, 0.62, 0.61, 0.3]  # best at epoch 3; patience 3 -> stop at epoch 6
    snapshots = {}

    def scripted_eval(m, epoch):
        snapshots[epoch] = {k: v.clone() for k, v in m.state_dict().items()}
        return scripted[epoch - 1], 0.5

    cfg = ft.TrainConfig(epochs=20, learning_rate=0.05, batch_size=8, patience=3, min_delta=0.001)
    events = list(ft.train(model, prep, cfg, evaluate_fn=scripted_eval))
    logs, result = events[:-1], events[-1]
    assert [e.epoch for e in logs] == [1, 2, 3, 4, 5, 6]
    assert result.reason == "early_stop" and result.best_epoch == 3 and result.stopped_epoch == 6
    final = model.state_dict()
    for key, value in snapshots[3].items():
        assert torch.equal(final[key], value), key
    # Later epochs really changed the weights, so the restore did something.
    assert not torch.equal(snapshots[6]["head.weight"], snapshots[3]["head.weight"])


def test_stop_flag_ends_the_run_and_keeps_best(tiny_cnn):
    model = ft.FineTuned(tiny_cnn, len(ft.body_stages(tiny_cnn)), ["a", "b"])
    prep = _random_prepared(20, 6, ft.feature_dim(tiny_cnn), 2, seed=2)
    calls = {"n": 0}

    def stop_after_two_epochs():
        calls["n"] += 1
        return calls["n"] > 2 * math.ceil(20 / 4)

    cfg = ft.TrainConfig(epochs=50, learning_rate=0.01, batch_size=4, patience=50)
    result = list(ft.train(model, prep, cfg, should_stop=stop_after_two_epochs))[-1]
    assert result.reason == "stopped" and result.stopped_epoch == 2 and result.best_epoch in (1, 2)


def _ui_train(session: tab.Session, per_class: int, seed: int, n_frozen: int = 12, cont: bool = False):
    names, files = [""] * 5, [None] * 5
    outputs = list(tab.run_training(cont, "efficientnet_lite0", n_frozen, 6, 0.01, 8, False, 3, 0.0, "builtin", 2,
                                    per_class, seed, names, files, session))
    return outputs


def test_two_sessions_train_independent_models(tiny_cnn):
    shared_before = _checksum(tiny_cnn.model)
    a, b = tab.Session(), tab.Session()
    _ui_train(a, 4, seed=1, n_frozen=11)  # conv_head/bn2 trainable too: real copies of backbone stages
    a_state = {k: v.clone() for k, v in a.model.state_dict().items()}
    _ui_train(b, 4, seed=2, n_frozen=11)
    assert a.model is not b.model and a.model.head is not b.model.head
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, a_state[key]), f"session B changed session A's {key}"
    assert not torch.equal(a.model.head.weight, b.model.head.weight)
    # Trainable stages are copies, never the loader's shared modules.
    shared_ptrs = {p.data_ptr() for p in tiny_cnn.model.parameters()}
    for m in (a.model, b.model):
        assert all(p.data_ptr() not in shared_ptrs for p in m.trainable.parameters())
    assert _checksum(tiny_cnn.model) == shared_before
    assert len(a.runs) == 1 and len(b.runs) == 1
    # Each session's last output carries a curves figure and a confusion matrix of its own validation set.
    assert a.confusion.sum() == len(a.data.val_idx)


def test_continue_training_unfreezes_more_from_current_weights(tiny_cnn):
    session = tab.Session()
    _ui_train(session, 4, seed=3, n_frozen=12)
    first = session.model
    # The continued model starts from the trained head (a copy), with two more stages unfrozen.
    follow = ft.FineTuned(tiny_cnn, 10, first.class_names, previous=first)
    assert torch.equal(follow.head.weight, first.head.weight) and follow.head is not first.head
    assert [n for n, _ in ft.body_stages(tiny_cnn)][10:] == ["bn2", "global_pool"]
    assert sum(p.numel() for p in follow.trainable.parameters()) == 2560  # bn2 weight and bias
    outputs = _ui_train(session, 4, seed=3, n_frozen=10, cont=True)
    second = session.model
    assert second is not first and second.n_frozen == 10
    assert len(session.runs) == 2 and "이어서" in session.runs[-1]["label"]
    assert outputs[-1][2] is not None  # confusion matrix after the continued run
    # Freezing again after that: the trained bn2 is kept (as trained) in the frozen part, and the
    # feature-cache key changes because that frozen stage is no longer the pretrained one.
    again = ft.FineTuned(tiny_cnn, 12, second.class_names, previous=second)
    assert again.frozen_key() != ft.FineTuned(tiny_cnn, 12, second.class_names).frozen_key()


def test_continue_without_model_is_a_clear_error():
    with pytest.raises(UserError) as err:
        _ui_train(tab.Session(), 4, seed=0, cont=True)
    assert "먼저" in err.value.ko and "first" in err.value.en


def test_split_is_fixed_stratified_and_counted():
    labels = np.repeat(np.arange(3), [10, 7, 2])
    tr1, va1 = ft.split_indices(labels)
    tr2, va2 = ft.split_indices(labels)
    assert np.array_equal(tr1, tr2) and np.array_equal(va1, va2)
    assert set(tr1).isdisjoint(va1) and len(tr1) + len(va1) == len(labels)
    for k in range(3):
        assert (labels[tr1] == k).sum() >= 1 and (labels[va1] == k).sum() >= 1
    images, pairs = ft.builtin_images(3, 8, seed=0)
    data = ft.make_dataset(images, [en for _, en in pairs])
    assert data.counts() == [("circle", 6, 2), ("square", 6, 2), ("triangle", 6, 2)]
    table = tab.split_table(data, "en")
    assert "| circle | 6 | 2 |" in table and "**18**" in table


def test_builtin_shapes_are_varied_and_reproducible():
    a, _ = ft.builtin_images(5, 3, seed=0)
    b, _ = ft.builtin_images(5, 3, seed=0)
    c, _ = ft.builtin_images(5, 3, seed=1)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for xs, ys in zip(a, b) for x, y in zip(xs, ys))
    assert not np.array_equal(np.asarray(a[0][0]), np.asarray(c[0][0]))
    arr = np.asarray(a[3][0])
    assert arr.shape == (224, 224, 3) and arr.std() > 10  # a shape on a background, with noise
    means = [np.asarray(img).reshape(-1, 3).mean(0) for img in a[0]]
    assert np.ptp(np.array(means), axis=0).max() > 5  # random colours


def test_bad_data_gives_korean_and_english_messages(tmp_path):
    img = Image.new("RGB", (32, 32))
    with pytest.raises(UserError) as err:
        ft.make_dataset([[img, img]], ["only"])
    assert "2" in err.value.ko and "2" in err.value.en
    with pytest.raises(UserError) as err:
        ft.make_dataset([[img, img], []], ["cup", "phone"])
    assert "phone" in err.value.ko and "no images" in err.value.en
    with pytest.raises(UserError):
        ft.make_dataset([[img, img], [img]], ["cup", "phone"])
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(UserError) as err:
        tab.collect_data("mine", 2, 0, 0, ["cup", "phone"], [[str(bad)], []], [[], []], "en")
    assert "cup" in err.value.en and "not an image" in err.value.en
    with pytest.raises(UserError):
        tab.collect_data("mine", 1, 0, 0, ["cup"], [[]], [[]], "ko")
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(good)
    data, _ = tab.collect_data("mine", 2, 0, 0, ["cup", ""], [[str(good)] * 3, []],
                               [[], [np.zeros((40, 40, 3), np.uint8)] * 2], "en")
    assert data.class_names == ["cup", "class 2"] and len(data.images) == 5


def test_absurd_hyper_parameters_are_clamped_with_notes():
    cfg, notes = ft.train_config(float("nan"), 1e9, -5, True, float("inf"), -1)
    assert cfg.epochs == ft.LIMITS["epochs"][2] and cfg.learning_rate == 1.0 and cfg.batch_size == 1
    assert cfg.patience == ft.LIMITS["patience"][2] and cfg.min_delta == 0.0
    assert len(notes) == 5
    cfg, notes = ft.train_config("abc", 0.001, 16, False, 4, 0.005)
    assert cfg.epochs == ft.LIMITS["epochs"][2] and len(notes) == 1
    _, notes = tab.collect_data("builtin", 99, 2, -3, [], [], [], "ko")
    assert len(notes) == 3


def test_freeze_counts_and_model_split(tiny_cnn):
    body = ft.body_stages(tiny_cnn)
    everything = ft.parameter_summary(tiny_cnn, len(body), 3)
    assert everything["trainable"] == 1280 * 3 + 3 and everything["trainable_body"] == 0
    nothing = ft.parameter_summary(tiny_cnn, 0, 3)
    assert nothing["frozen"] == 0 and nothing["trainable"] == nothing["total"]
    assert ft.parameter_summary(tiny_cnn, 99, 3) == everything  # clamped
    model = ft.FineTuned(tiny_cnn, 9, ["a", "b", "c"])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == ft.parameter_summary(tiny_cnn, 9, 3)["trainable"]
    text = tab.freeze_text(tiny_cnn, 9, 3, "ko")
    assert f"{trainable:,}" in text and "conv_head" in text


def test_charts_mark_best_and_stop(tiny_cnn):
    logs = [ft.EpochLog(e, 1 / e, 0.5, 1 / e + (0.1 if e > 3 else 0), 0.6, 0.1) for e in range(1, 7)]
    runs = [{"number": 0, "label": "#1", "history": logs[:4], "best_epoch": 2, "stopped_epoch": 4},
            {"number": 1, "label": "#2", "history": logs, "best_epoch": 3, "stopped_epoch": 6}]
    fig = tab.curves_figure(runs, "en")
    stars = [tr for tr in fig.data if tr.marker.symbol == "star"]
    assert len(stars) == 4 and {tuple(s.x) for s in stars} == {(2,), (3,)}
    assert any(sh.x0 == 6 for sh in fig.layout.shapes)  # the stopping epoch line of the current run
    assert any("stop 6" in a.text for a in fig.layout.annotations)
    cm = np.array([[5, 1], [0, 6]])
    conf = tab.confusion_figure(cm, ["a", "b"], "ko")
    assert np.array_equal(np.asarray(conf.data[0].z), cm) and "91.7%" in conf.layout.title.text


def test_augmented_views_and_uncached_path_with_unfrozen_stages(tiny_cnn):
    images, pairs = ft.builtin_images(2, 4, seed=5)
    data = ft.make_dataset(images, [en for _, en in pairs])
    cfg = ft.TrainConfig(epochs=2, batch_size=4, augment=True, patience=5)
    model = ft.FineTuned(tiny_cnn, 10, data.class_names)  # bn2 (and pooling) trainable
    prep = ft.prepare(model, data, cfg)
    assert prep.cached and len(prep.train_views) == 1 + ft.AUG_VIEWS
    assert prep.train_views[0].shape == (len(data.train_idx), 1280, 7, 7)
    assert not torch.allclose(prep.train_views[0], prep.train_views[1])  # augmented copies really differ
    result = list(ft.train(model, prep, cfg))[-1]
    assert result.stopped_epoch == 2 and result.confusion.sum() == len(data.val_idx)
    # Over the memory budget (forced here): the frozen part runs in every batch, on input pixels.
    raw = ft.prepare(ft.FineTuned(tiny_cnn, 10, data.class_names), data, cfg, cache=False)
    assert not raw.cached and raw.val.shape[1:] == (3, 224, 224)
    result = list(ft.train(ft.FineTuned(tiny_cnn, 10, data.class_names), raw, cfg))[-1]
    assert result.stopped_epoch == 2
