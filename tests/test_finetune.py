"""Fine-tuning lesson: real accuracy with the real EfficientNet-Lite0, early stopping, shared frozen features,
independent sessions, bad input in one language, the ImageNet classes in Korean, and the tab's wiring."""
from __future__ import annotations

import math
import re
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from core import classnames, memory
from core.text import Problem
from core.zoo.cnn import load_cnn
from tabs.finetune import compute, tab, view
from tabs.finetune.data import augment
from tabs.finetune.evaluation import confusion_matrix

HANGUL = re.compile(r"[\uac00-\ud7a3]")
NO_NAMES, NO_FILES = [""] * compute.MAX_CLASSES, [None] * compute.MAX_CLASSES


def _checksum(module: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum() for p in module.parameters()))


@pytest.fixture(scope="module")
def tiny_cnn():
    cnn, _ = load_cnn("efficientnet_lite0", tiny=True)
    return cnn


def _random_prepared(n_train: int, n_val: int, dim: int, n_classes: int, seed: int) -> compute.Prepared:
    """Cached features without running the backbone: separable clusters, one per class."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, dim, generator=g) * 2
    ytr = torch.arange(n_train) % n_classes
    yva = torch.arange(n_val) % n_classes
    xtr = centres[ytr] + torch.randn(n_train, dim, generator=g)
    xva = centres[yva] + torch.randn(n_val, dim, generator=g)
    return compute.Prepared(key=("test", seed), train_views=[xtr], val=xva, train_labels=ytr, val_labels=yva,
                            cached=True, seconds=0.0)


def _run(session: compute.Session, per_class: int, seed: int, n_frozen: int = 12, cont: bool = False,
         n_classes: int = 2, patience: int = 3) -> list[compute.Progress]:
    data, notes = compute.read_data("builtin", n_classes, per_class, seed, NO_NAMES, NO_FILES, ())
    return list(compute.fine_tune(session, data, notes, "efficientnet_lite0", n_frozen, 6, 0.01, 8, False, patience,
                                  0.0, continue_training=cont))


# ---------------------------------------------------------------- the real model learns


def test_builtin_shapes_with_real_lite0_reach_90_percent():
    cnn, note = load_cnn("efficientnet_lite0", tiny=False)
    assert note is None and cnn.real_weights
    shared_before = _checksum(cnn.model)
    data = compute.builtin_dataset(3, 36, seed=0)
    cfg, notes = compute.train_config(30, 3e-3, 16, False, 4, 0.005)
    assert notes == []
    model = compute.FineTuned(cnn, len(compute.body_stages(cnn)), data.class_names)  # whole body frozen: head only
    prep = compute.prepare(model, data, cfg)
    assert prep.cached and prep.val.shape == (len(data.val_idx), 1280)
    result = list(compute.train(model, prep, cfg))[-1]
    assert isinstance(result, compute.RunResult)
    assert result.best_val_acc >= 0.90, result
    assert result.confusion.sum() == len(data.val_idx)
    assert np.trace(result.confusion) / result.confusion.sum() == pytest.approx(result.best_val_acc)
    # Fresh pictures of each shape (random streams the data set never used) are recognised.
    rng = np.random.default_rng(777)
    hits = 0
    for k, shape in enumerate(compute.SHAPES[:3]):
        for _ in range(3):
            probs = compute.predict(model, Image.fromarray(compute.draw_shape(shape, rng)))
            assert probs.sum() == pytest.approx(1.0, abs=1e-5)
            hits += int(np.argmax(probs)) == k
    assert hits >= 7
    # The loader's shared model was not trained and is still frozen.
    assert _checksum(cnn.model) == shared_before
    assert not any(p.requires_grad for p in cnn.model.parameters())


# ---------------------------------------------------------------- early stopping


def test_early_stopping_rule_with_min_delta():
    stopper = compute.EarlyStopping(patience=3, min_delta=0.02)
    losses = [1.0, 0.8, 0.75, 0.76, 0.74, 0.9]
    stops = [stopper.step(e, loss) for e, loss in enumerate(losses, start=1)]
    # 0.74 is better than 0.75 but by less than min_delta: not an improvement.
    assert stops == [False, False, False, False, False, True]
    assert stopper.best_epoch == 3 and stopper.best_loss == 0.75


def test_training_loop_stops_on_scripted_losses_and_restores_best_weights(tiny_cnn):
    model = compute.FineTuned(tiny_cnn, len(compute.body_stages(tiny_cnn)), ["a", "b", "c"])
    prep = _random_prepared(30, 9, compute.backbone_of(tiny_cnn).feature_dim, 3, seed=1)
    scripted = [1.0, 0.7, 0.6, 0.65, 0.62, 0.61, 0.3]  # best at epoch 3; patience 3 -> stop at epoch 6
    snapshots = {}

    def scripted_eval(m, epoch):
        snapshots[epoch] = {k: v.clone() for k, v in m.state_dict().items()}
        return scripted[epoch - 1], 0.5

    cfg = compute.TrainConfig(epochs=20, learning_rate=0.05, batch_size=8, patience=3, min_delta=0.001)
    events = list(compute.train(model, prep, cfg, evaluate_fn=scripted_eval))
    logs, result = events[:-1], events[-1]
    assert [e.epoch for e in logs] == [1, 2, 3, 4, 5, 6]
    assert result.reason == "early_stop" and result.best_epoch == 3 and result.stopped_epoch == 6
    final = model.state_dict()
    for key, value in snapshots[3].items():
        assert torch.equal(final[key], value), key
    # Later epochs really changed the weights, so the restore did something.
    assert not torch.equal(snapshots[6]["head.weight"], snapshots[3]["head.weight"])


def test_stop_flag_ends_the_run_and_keeps_best(tiny_cnn):
    model = compute.FineTuned(tiny_cnn, len(compute.body_stages(tiny_cnn)), ["a", "b"])
    prep = _random_prepared(20, 6, compute.backbone_of(tiny_cnn).feature_dim, 2, seed=2)
    calls = {"n": 0}

    def stop_after_two_epochs():
        calls["n"] += 1
        return calls["n"] > 2 * math.ceil(20 / 4)

    cfg = compute.TrainConfig(epochs=50, learning_rate=0.01, batch_size=4, patience=50)
    result = list(compute.train(model, prep, cfg, should_stop=stop_after_two_epochs))[-1]
    assert result.reason == "stopped" and result.stopped_epoch == 2 and result.best_epoch in (1, 2)


def test_stop_button_reaches_a_running_session(tiny_cnn):
    """tab.stop (the unqueued Stop event) flips the flag the session's running loop reads every batch."""
    session = tab.new_session()
    data = compute.builtin_dataset(2, 8, seed=11)
    run = compute.fine_tune(session, data, [], "efficientnet_lite0", 12, 100, 0.01, 1, False, 100, 0.0)
    seen = []
    for progress in run:
        seen.append(progress.stage)
        if progress.stage == "epoch" and progress.epoch.epoch == 2:
            tab.stop(session)
    assert seen[-1] == "done" and seen.count("epoch") == 2
    assert session.runs[-1].stopped_epoch == 2 and not session.busy


def test_a_second_run_in_the_same_session_is_refused_while_one_is_going(tiny_cnn):
    session = tab.new_session()
    data = compute.builtin_dataset(2, 4, seed=12)
    first = compute.fine_tune(session, data, [], "efficientnet_lite0", 12, 3, 0.01, 8, False, 3, 0.0)
    assert next(first).stage == "preparing" and session.busy
    with pytest.raises(Problem) as err:
        next(compute.fine_tune(session, data, [], "efficientnet_lite0", 12, 3, 0.01, 8, False, 3, 0.0))
    assert err.value.message.key == "finetune.busy"
    # Through the tab, the same refusal is a status line in the page's language, not an error.
    outputs = list(tab.train_new("efficientnet_lite0", 12, 3, 0.01, 8, False, 3, 0.0, "builtin", 2, 4, 12,
                                 *NO_NAMES, *NO_FILES, tab.NO_SNAPSHOTS, session, lang="en"))
    assert len(outputs) == 1 and outputs[0][1].startswith("⚠️ A run is already going")
    list(first)
    assert not session.busy


# ---------------------------------------------------------------- sessions and the shared feature store


def test_two_sessions_train_independent_models(tiny_cnn):
    shared_before = _checksum(tiny_cnn.model)
    a, b = tab.new_session(), tab.new_session()
    _run(a, 4, seed=1, n_frozen=11)  # conv_head/bn2 trainable too: real copies of backbone stages
    a_state = {k: v.clone() for k, v in a.model.state_dict().items()}
    _run(b, 4, seed=2, n_frozen=11)
    assert a.model is not b.model and a.model.head is not b.model.head
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, a_state[key]), f"session B changed session A's {key}"
    assert not torch.equal(a.model.head.weight, b.model.head.weight)
    # Trainable stages are copies, never the loader's shared modules nor the shared channels-last copy.
    shared_ptrs = {p.data_ptr() for p in tiny_cnn.model.parameters()}
    shared_ptrs |= {p.data_ptr() for m in compute.backbone_of(tiny_cnn).stages for p in m.parameters()}
    for m in (a.model, b.model):
        assert all(p.data_ptr() not in shared_ptrs for p in m.trainable.parameters())
    assert _checksum(tiny_cnn.model) == shared_before
    assert len(a.runs) == 1 and len(b.runs) == 1
    # Each session's confusion matrix counts its own validation set: 1 of 4 pictures per class.
    assert a.confusion.sum() == 2 and b.confusion.sum() == 2


def test_sessions_on_the_same_data_share_frozen_features_in_the_memory_budget(tiny_cnn):
    a, b = tab.new_session(), tab.new_session()
    misses = compute.FEATURES.misses
    first = _run(a, 5, seed=21)
    second = _run(b, 5, seed=21)
    assert compute.FEATURES.misses == misses + 1  # computed once for both sessions
    assert not first[-1].reused and second[-1].reused
    assert first[-1].prepared is second[-1].prepared
    assert memory.BUDGET.report()["finetune_features"]["bytes"] >= first[-1].prepared.val.numel() * 4
    # The status line says the features were reused.
    assert "reused" in view.status_markdown(second[-1], "en")


def test_features_of_a_sessions_own_trained_stages_go_when_the_session_ends(tiny_cnn):
    session = tab.new_session()
    _run(session, 4, seed=31, n_frozen=10)  # trains bn2: a stage of this session only
    progress = _run(session, 4, seed=31, n_frozen=12, cont=True)  # bn2 frozen again, as trained
    key = progress[-1].prepared.key
    assert key in session.private_features and key in compute.FEATURES
    session.free()
    assert key not in compute.FEATURES and session.model is None


def test_continue_training_unfreezes_more_from_current_weights(tiny_cnn):
    session = tab.new_session()
    _run(session, 4, seed=3, n_frozen=12)
    first = session.model
    # The continued model starts from the trained head (a copy), with two more stages unfrozen.
    follow = compute.FineTuned(tiny_cnn, 10, first.class_names, previous=first)
    assert torch.equal(follow.head.weight, first.head.weight) and follow.head is not first.head
    assert [n for n, _ in compute.body_stages(tiny_cnn)][10:] == ["bn2", "global_pool"]
    assert sum(p.numel() for p in follow.trainable.parameters()) == 2560  # bn2 weight and bias
    follow.train_mode()  # bn2 learns its scale and shift but keeps ImageNet's running statistics
    assert follow.head.training and not follow.trainable[0].training
    progress = _run(session, 4, seed=3, n_frozen=10, cont=True)
    second = session.model
    assert second is not first and second.n_frozen == 10
    assert len(session.runs) == 2 and session.runs[-1].continued
    assert "이어서" in view.run_label(session.runs[-1], "ko") and "cont." in view.run_label(session.runs[-1], "en")
    assert progress[-1].stage == "done" and progress[-1].result.confusion.sum() == 2
    # Freezing again after that: the trained bn2 is kept (as trained) in the frozen part, and the
    # feature-cache key changes because that frozen stage is no longer the pretrained one.
    again = compute.FineTuned(tiny_cnn, 12, second.class_names, previous=second)
    assert again.frozen_key() != compute.FineTuned(tiny_cnn, 12, second.class_names).frozen_key()


def test_continue_without_model_is_a_clear_error():
    with pytest.raises(Problem) as err:
        _run(tab.new_session(), 4, seed=0, cont=True)
    assert "먼저" in err.value.say("ko") and "first" in err.value.say("en")
    assert not HANGUL.search(err.value.say("en"))


# ---------------------------------------------------------------- the data


def test_split_is_fixed_stratified_and_counted():
    labels = np.repeat(np.arange(3), [10, 7, 2])
    tr1, va1 = compute.split_indices(labels)
    tr2, va2 = compute.split_indices(labels)
    assert np.array_equal(tr1, tr2) and np.array_equal(va1, va2)
    assert set(tr1).isdisjoint(va1) and len(tr1) + len(va1) == len(labels)
    for k in range(3):
        assert (labels[tr1] == k).sum() >= 1 and (labels[va1] == k).sum() >= 1
    data = compute.builtin_dataset(3, 8, seed=0)
    assert [(view.name("en", n), tr, va) for n, tr, va in data.counts()] == [
        ("circle", 6, 2), ("square", 6, 2), ("triangle", 6, 2)]
    table = view.split_table(data, "en")
    assert "| circle | 6 | 2 |" in table and "**18**" in table and "| **total** |" in table
    assert "| 삼각형 | 6 | 2 |" in view.split_table(data, "ko")


def test_builtin_shapes_are_varied_and_reproducible():
    a = compute.builtin_dataset(5, 3, seed=0)
    b = [[compute.shape_picture(k, i, 0) for i in range(3)] for k in range(5)]  # drawn again, outside the store
    c = compute.builtin_dataset(5, 3, seed=1)
    assert all(np.array_equal(np.asarray(a.images[3 * k + i]), b[k][i]) for k in range(5) for i in range(3))
    assert not np.array_equal(np.asarray(a.images[0]), np.asarray(c.images[0]))
    arr = np.asarray(a.images[9])
    assert arr.shape == (224, 224, 3) and arr.std() > 10  # a shape on a background, with noise
    means = [np.asarray(img).reshape(-1, 3).mean(0) for img in a.images[:3]]
    assert np.ptp(np.array(means), axis=0).max() > 5  # random colours
    # Each picture has its own random stream: a bigger set starts with the same pictures.
    bigger = compute.builtin_dataset(5, 6, seed=0)
    assert np.array_equal(np.asarray(bigger.images[6 * 2 + 1]), np.asarray(a.images[3 * 2 + 1]))


def test_the_builtin_set_is_drawn_once_and_counted_in_the_memory_budget():
    first = compute.builtin_dataset(2, 5, seed=41)
    assert compute.builtin_dataset(2, 5, seed=41) is first
    assert memory.BUDGET.report()["finetune_builtin"]["bytes"] >= 10 * 224 * 224 * 3


def test_bad_data_is_a_problem_in_one_language(tmp_path):
    img = Image.new("RGB", (32, 32))
    with pytest.raises(Problem) as err:
        compute.make_dataset([[img, img]], ["only"])
    assert err.value.message.key == "finetune.too_few_classes" and "2" in err.value.say("en")
    with pytest.raises(Problem) as err:
        compute.make_dataset([[img, img], []], ["cup", "phone"])
    assert "phone" in err.value.say("ko") and "no images" in err.value.say("en")
    assert not HANGUL.search(err.value.say("en"))
    with pytest.raises(Problem) as err:
        compute.make_dataset([[img, img], [img]], ["cup", "phone"])
    assert err.value.message.key == "finetune.class_one_image"
    with pytest.raises(Problem) as err:
        compute.make_dataset([[img, img], [img, img]], ["cup", "cup"])
    assert err.value.message.key == "finetune.duplicate_names"
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(Problem) as err:
        compute.read_data("mine", 2, 0, 0, ["cup", "phone"], [[str(bad)], []], ())
    assert err.value.say("en").startswith("Class 'cup': This is not an image file")
    assert err.value.say("ko").startswith("클래스 'cup': 이미지 파일이 아니거나")
    with pytest.raises(Problem):  # one class given (clamped to two), the second has no images
        compute.read_data("mine", 1, 0, 0, ["cup"], [[]], ())
    good = tmp_path / "good.png"
    Image.new("RGB", (640, 480), (200, 10, 10)).save(good)
    snapshots = ((), (np.zeros((40, 40, 3), np.uint8),) * 2)
    data, _ = compute.read_data("mine", 2, 0, 0, ["cup", ""], [[str(good)] * 3, []], snapshots)
    assert [view.name("en", n) for n in data.class_names] == ["cup", "class 2"]
    assert [view.name("ko", n) for n in data.class_names] == ["cup", "클래스 2"]
    assert len(data.images) == 5 and max(data.images[0].size) == compute.STORE_SIDE  # kept small


def test_too_many_pictures_are_cut_with_a_note(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 48), (10, 200, 10)).save(good)
    data, notes = compute.read_data("mine", 2, 0, 0, ["a", "b"], [[str(good)] * (compute.MAX_IMAGES_PER_CLASS + 3),
                                                               [str(good)] * 2], ())
    assert (data.labels == 0).sum() == compute.MAX_IMAGES_PER_CLASS
    assert [n.key for n in notes] == ["finetune.too_many_images"]
    assert "103" in notes[0].say("en") and "103" in notes[0].say("ko")


def test_snapshots_are_added_per_class_and_bounded():
    shots = tab.NO_SNAPSHOTS
    for _ in range(2):
        shots = compute.add_snapshot(shots, np.full((50, 60, 3), 90, np.uint8), 1)
    assert [len(s) for s in shots] == [0, 2, 0, 0, 0]
    assert view.snapshot_counts(shots, "en") == "Snapshots per class: 1: 0, 2: 2, 3: 0, 4: 0, 5: 0"
    full = ((), (np.zeros((8, 8, 3), np.uint8),) * compute.MAX_IMAGES_PER_CLASS)
    with pytest.raises(Problem) as err:
        compute.add_snapshot(full, np.zeros((50, 50, 3), np.uint8), 1)
    assert err.value.message.key == "finetune.too_many_snapshots"


def test_absurd_hyper_parameters_are_clamped_with_notes():
    settings = compute.SETTINGS
    cfg, notes = compute.train_config(float("nan"), 1e9, -5, True, float("inf"), -1)
    assert cfg.epochs == settings["epochs"].default and cfg.learning_rate == 1.0 and cfg.batch_size == 1
    assert cfg.patience == settings["patience"].high == 20 and cfg.min_delta == 0.0 and cfg.augment is True
    assert len(notes) == 5
    assert "Max epochs" in notes[0].say("en") and "최대 에포크" in notes[0].say("ko")
    cfg, notes = compute.train_config("abc", 0.001, 16, False, 4, 0.005)
    assert cfg.epochs == settings["epochs"].default and len(notes) == 1
    _, notes = compute.train_config(30, 0.003, 16, "yes", 4, 0.005)  # augmentation is on or off, nothing else
    assert [n.key for n in notes] == ["values.not_allowed"] and "Augmentation" in notes[0].say("en")
    _, notes = compute.read_data("builtin", 99, 2, -3, [], [], ())
    assert len(notes) == 3
    _, notes = compute.read_data("somewhere", 2, 4, 0, [], [], ())  # an unknown source: the built-in set
    assert [n.key for n in notes] == ["values.not_allowed"]


def test_settings_are_declared_once_for_compute_the_controls_and_the_teacher():
    settings = compute.SETTINGS
    # What the teacher may hand the class: every number and choice, never the student's own photos.
    assert [s.name for s in settings.for_class()] == [
        "source", "n_classes", "per_class", "seed", "backbone", "n_frozen", "epochs", "learning_rate", "batch_size",
        "augment", "patience", "min_delta"]
    assert not settings["snap_class"].for_class
    # TrainConfig starts from the declared defaults (the bench's "tab defaults" read them from there).
    cfg = compute.TrainConfig()
    assert (cfg.epochs, cfg.learning_rate, cfg.batch_size, cfg.augment, cfg.patience, cfg.min_delta) == (
        30, 3e-3, 16, False, 4, 0.005)
    assert settings.take_all({"epochs": 500, "learning_rate": 0.01, "unknown": 1}, notes := []) == {
        "epochs": 50, "learning_rate": 0.01}
    assert [n.key for n in notes] == ["values.clamped"]


def test_frozen_stages_setting_spans_every_backbone():
    """The declared range of n_frozen covers the backbone with the most stages; its default is the
    whole body of the default backbone; the running backbone's own count bounds it with a note."""
    counts = {name: len(compute.body_stages(load_cnn(name, tiny=True)[0]))
              for name in compute.SETTINGS["backbone"].choices}
    frozen = compute.SETTINGS["n_frozen"]
    assert frozen.low == 0 and frozen.high == max(counts.values()) == counts["mobilenet_v3_large"]
    assert frozen.default == counts[compute.SETTINGS["backbone"].default] == 12
    resnet, _ = load_cnn("resnet18", tiny=True)
    notes = []
    assert compute.frozen_count(resnet, 15, notes) == counts["resnet18"] == 9
    assert "Stages kept frozen" in notes[0].say("en") and "0~9" in notes[0].say("ko")
    assert compute.frozen_count(resnet, None, notes) == 9 and len(notes) == 1  # None: the whole body, no note


def test_the_controls_are_made_from_the_settings_and_look_as_before():
    from tests.conftest import build_lesson_tab

    demo, _, _ = build_lesson_tab(tab)
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    by_label = {b.label.key: b for b in demo.blocks.values() if hasattr(getattr(b, "label", None), "key")}
    n_classes, per_class, freeze = by_id["finetune-n-classes"], by_id["finetune-per-class"], by_id["finetune-freeze"]
    assert (n_classes.minimum, n_classes.maximum, n_classes.value, n_classes.step) == (2, 5, 3, 1)
    assert (per_class.minimum, per_class.maximum, per_class.value) == (4, 100, 60)
    assert (freeze.minimum, freeze.value) == (0, 12) and freeze.label.key == "finetune.freeze"
    epochs, patience = by_label["finetune.epochs"], by_id["finetune-patience"]
    assert (epochs.minimum, epochs.maximum, epochs.value, epochs.step) == (1, 50, 30, 1)
    assert (patience.minimum, patience.maximum, patience.value) == (1, 20, 4)
    lr = by_id["finetune-lr"]
    assert [v for _, v in lr.choices] == tab.LEARNING_RATES and lr.value == 0.003 and lr.allow_custom_value
    batch, min_delta = by_label["finetune.batch"], by_label["finetune.min_delta"]
    assert [v for _, v in batch.choices] == tab.BATCH_SIZES and batch.value == 16 and not batch.allow_custom_value
    assert [v for _, v in min_delta.choices] == tab.MIN_DELTAS and min_delta.allow_custom_value
    assert by_id["finetune-source"].value == "builtin" and [v for _, v in by_id["finetune-source"].choices] == [
        "builtin", "mine"]
    assert by_id["finetune-backbone"].value == "efficientnet_lite0"
    seed = by_label["finetune.data_seed"]
    assert (seed.minimum, seed.maximum, seed.value, seed.precision) == (0, 10_000, 0, 0)
    assert by_label["finetune.augment"].value is False


# ---------------------------------------------------------------- ② ③ freeze and the new layer


def test_freeze_counts_and_model_split(tiny_cnn):
    body = compute.body_stages(tiny_cnn)
    everything = compute.freeze_summary(tiny_cnn, len(body), 3)
    assert everything.trainable == 1280 * 3 + 3 and everything.trainable_body == 0
    assert everything.total == sum(p.numel() for _, m in body for p in m.parameters()) + 1280 * 3 + 3
    nothing = compute.freeze_summary(tiny_cnn, 0, 3)
    assert nothing.frozen == 0 and nothing.trainable == nothing.total
    assert compute.freeze_summary(tiny_cnn, 99, 3) == everything  # clamped
    model = compute.FineTuned(tiny_cnn, 9, ["a", "b", "c"])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == compute.freeze_summary(tiny_cnn, 9, 3).trainable
    words = view.freeze_markdown(compute.freeze_summary(tiny_cnn, 9, 3), "ko")
    assert view.parameters("ko", trainable) in words and "conv_head" in words
    notes = []
    assert compute.frozen_count(tiny_cnn, 40, notes) == len(body) and notes[0].key == "values.clamped"
    assert "1280 → 3" in view.head_markdown(everything, "en") and "3,843" in view.head_markdown(everything, "en")


def test_page_open_example_shows_the_shapes_and_the_freeze_summary(tiny_cnn):
    """What page.on_open shows: the built-in set previewed and split, and the whole body frozen."""
    gallery, split = tab.show_data("builtin", 3, 60, 0, *NO_NAMES, *NO_FILES, tab.NO_SNAPSHOTS, lang="ko")
    assert len(gallery) == 3 * view.PREVIEW_PER_CLASS and [c for _, c in gallery[::4]] == ["원", "사각형", "삼각형"]
    assert "| 원 | 45 | 15 |" in split and "**135**" in split
    slider, freeze_md, head_md = tab.show_backbone("efficientnet_lite0", 3, lang="en")
    n_body = len(compute.body_stages(tiny_cnn))
    assert slider["maximum"] == n_body and slider["value"] == n_body
    assert "trainable parameters **3,843**" in freeze_md and "Linear(1280 → 3)" in head_md


# ---------------------------------------------------------------- views: one language per message


def test_a_whole_run_speaks_one_language(tiny_cnn):
    for lang in ("en", "ko"):
        session = tab.new_session()
        outputs = list(tab.train_new("efficientnet_lite0", 12, 3, 0.01, 8, False, 1, 0.0, "builtin", 2, 4, 51,
                                     *NO_NAMES, *NO_FILES, tab.NO_SNAPSHOTS, session, lang=lang))
        statuses = [out[1] for out in outputs]
        assert statuses[0].startswith("⏳") and statuses[-1].startswith(
            "학습 파라미터 2,562개" if lang == "ko" else "2,562 trainable parameters")
        assert "✅" in statuses[-1]
        curves, confusion = outputs[-1][0], outputs[-1][2]
        words = statuses + [curves.to_json(), confusion.to_json()]
        if lang == "en":
            assert not any(HANGUL.search(w) for w in words), [w for w in words if HANGUL.search(w)][:1]
        else:
            assert all(HANGUL.search(w) for w in statuses)
            assert "검증 정확도" in confusion.layout.title.text and "원" in confusion.data[0].x


def test_charts_mark_best_and_stop():
    logs = [compute.EpochLog(e, 1 / e, 0.5, 1 / e + (0.1 if e > 3 else 0), 0.6, 0.1) for e in range(1, 7)]
    runs = [compute.Run(1, False, 12, 4, logs[:4], best_epoch=2, stopped_epoch=4),
            compute.Run(2, False, 12, 4, logs, best_epoch=3, stopped_epoch=6)]
    fig = view.curves_figure(runs, "en")
    stars = [tr for tr in fig.data if tr.marker.symbol == "star"]
    assert len(stars) == 4 and {tuple(s.x) for s in stars} == {(2,), (3,)}
    assert any(sh.x0 == 6 for sh in fig.layout.shapes)  # the stopping epoch line of the current run
    assert any("stop 6" in a.text for a in fig.layout.annotations)
    assert any("멈춤 6" in a.text for a in view.curves_figure(runs, "ko").layout.annotations)
    cm = np.array([[5, 1], [0, 6]])
    conf = view.confusion_figure(cm, [compute.shape_name(0), "mug"], "ko")
    assert np.array_equal(np.asarray(conf.data[0].z), cm) and "91.7%" in conf.layout.title.text
    assert list(conf.data[0].x) == ["원", "mug"]


# ---------------------------------------------------------------- ⑤ a new picture


def test_predict_shows_new_classes_and_the_backbones_imagenet_classes_in_korean(tiny_cnn):
    session = tab.new_session()
    with pytest.raises(Problem) as err:
        tab.predict(np.zeros((64, 64, 3), np.uint8), session, lang="en")
    assert err.value.message.key == "finetune.train_first"
    _run(session, 4, seed=61)
    picture = compute.new_shape_picture(session.model.class_names, 2, np.random.default_rng(5))
    label, figure = tab.predict(picture, session, lang="ko")
    assert set(label) == {"원", "사각형"} and sum(label.values()) == pytest.approx(1.0, abs=1e-3)
    # The ImageNet top 5, checked against the backbone run by hand, named as a Korean student reads them.
    with torch.no_grad():
        logits = tiny_cnn.model(tiny_cnn.preprocess(Image.fromarray(picture)))
    expected = torch.topk(torch.softmax(logits.float(), 1)[0], 5).indices.tolist()
    shown = list(figure.data[0].y)[::-1]  # most likely first
    assert shown == [classnames.imagenet_label("ko", i) for i in expected]
    assert all(re.search(r"\(.+\)$", s) and HANGUL.search(s) for s in shown)
    _, figure_en = tab.predict(picture, session, lang="en")
    assert list(figure_en.data[0].y)[::-1] == [classnames.imagenet_label("en", i) for i in expected]


# ---------------------------------------------------------------- heavier paths


def test_augmentation_is_seeded_and_changes_the_picture():
    picture = Image.fromarray(compute.shape_picture(2, 0, 0)).resize((300, 200))
    first = [np.asarray(augment(picture, np.random.default_rng(7))) for _ in range(2)]
    other = np.asarray(augment(picture, np.random.default_rng(8)))
    assert first[0].shape == other.shape == (200, 300, 3)  # the picture's own size
    assert np.array_equal(first[0], first[1]) and not np.array_equal(first[0], other)
    assert not np.array_equal(first[0], np.asarray(picture))


def test_confusion_matrix_counts_every_class_even_one_never_seen():
    labels = np.array([0, 0, 1, 1, 1, 3])
    preds = np.array([0, 1, 1, 1, 0, 3])
    expected = np.zeros((4, 4), dtype=np.int64)
    for t, p in zip(labels, preds):
        expected[t, p] += 1
    cm = confusion_matrix(labels, preds, 4)
    assert cm.dtype == np.int64 and np.array_equal(cm, expected) and cm[2].sum() == cm[:, 2].sum() == 0


def test_augmented_views_and_uncached_path_with_unfrozen_stages(tiny_cnn):
    data = compute.builtin_dataset(2, 4, seed=5)
    cfg = compute.TrainConfig(epochs=2, batch_size=4, augment=True, patience=5)
    model = compute.FineTuned(tiny_cnn, 10, data.class_names)  # bn2 (and pooling) trainable
    prep = compute.prepare(model, data, cfg)
    assert prep.cached and len(prep.train_views) == 1 + compute.AUG_VIEWS
    assert prep.train_views[0].shape == (len(data.train_idx), 1280, 7, 7)
    assert not torch.allclose(prep.train_views[0], prep.train_views[1])  # augmented copies really differ
    again = compute.prepare(model, data, cfg)  # seeded: the same views again (the feature store keys on the seed)
    assert all(torch.equal(a, b) for a, b in zip(prep.train_views, again.train_views))
    result = list(compute.train(model, prep, cfg))[-1]
    assert result.stopped_epoch == 2 and result.confusion.sum() == len(data.val_idx)
    # Over the memory limit (forced here): the frozen part runs in every batch, on input pixels.
    raw = compute.prepare(compute.FineTuned(tiny_cnn, 10, data.class_names), data, cfg, cache=False)
    assert not raw.cached and raw.val.shape[1:] == (3, 224, 224)
    result = list(compute.train(compute.FineTuned(tiny_cnn, 10, data.class_names), raw, cfg))[-1]
    assert result.stopped_epoch == 2


def test_a_stop_in_another_session_does_not_stop_a_run_that_joined_its_features(tiny_cnn):
    """Single-flight: B joins A's feature computation; A's Stop ends A's, and B computes again."""
    data = compute.builtin_dataset(2, 6, seed=71)
    cfg = compute.TrainConfig()
    a_model = compute.FineTuned(tiny_cnn, 12, data.class_names)
    b_model = compute.FineTuned(tiny_cnn, 12, data.class_names)
    a_may_stop = threading.Event()
    results = {}

    def run_a():
        try:  # A's computation waits at its first batch until B has joined it, then A presses Stop
            compute.shared_features(a_model, data, cfg, lambda: a_may_stop.wait(timeout=60))
        except compute.StopRequested:
            results["a"] = "stopped"

    def run_b():
        results["b"] = compute.shared_features(b_model, data, cfg)

    hits = compute.FEATURES.hits
    a, b = threading.Thread(target=run_a), threading.Thread(target=run_b)
    a.start()
    while compute.features_key(a_model, data, cfg) not in compute.FEATURES._inflight:
        a.join(timeout=0.01)
    b.start()
    while compute.FEATURES.hits == hits:  # B has joined A's computation
        b.join(timeout=0.01)
    a_may_stop.set()
    a.join(timeout=120)
    b.join(timeout=120)
    assert results["a"] == "stopped"
    prep, reused = results["b"]
    assert prep.val.shape[0] == len(data.val_idx) and not reused


# ---------------------------------------------------------------- the wiring


def test_the_tab_registers_its_events_with_the_right_kinds():
    from tests.conftest import build_lesson_tab

    demo, page, registered = build_lesson_tab(tab)
    mine = {r.name: r for r in registered}
    deps = {d.api_name: d for d in demo.fns.values()}
    assert mine["finetune"].kind.name == "training" and not mine["finetune"].cache
    assert mine["finetune_continue"].kind.name == "training" and not mine["finetune_continue"].cache
    assert mine["finetune_predict"].kind.name == "model" and not mine["finetune_predict"].cache
    assert mine["finetune_data"].cache and mine["show_freeze"].cache
    assert deps["finetune_stop"].queue is False  # gets through while the training queue is busy
    assert deps["finetune"].concurrency_id == "training"
    # The worked example is computed at warm-up: the data preview and the freeze summary.
    assert {name for name, _ in page.warmed()} == {"on_open:show_data", "on_open:show_backbone"}


# ---------------------------------------------------------------- the class as the experiment


def test_a_finished_run_reports_its_settings_curve_and_best_epoch_as_numbers_only(tiny_cnn):
    from core.class_results import numbers_only

    session = tab.new_session()
    assert tab.last_run(session) is None  # no run yet: nothing to report
    data, notes = compute.read_data("builtin", 2, 4, 51, NO_NAMES, NO_FILES, ())
    list(compute.fine_tune(session, data, notes, "efficientnet_lite0", 10, 4, 0.003, 8, False, 1, 0.0))
    run = session.runs[-1]
    report = tab.last_run(session)
    assert numbers_only(report) == report and compute.class_run(report) == report
    assert report["learning_rate"] == 0.003 and report["n_frozen"] == 10
    assert report["val_acc"] == [round(h.val_acc, 4) for h in run.history] and len(report["val_acc"]) == run.stopped_epoch
    assert report["best_epoch"] == run.best_epoch >= 1
    assert report["early_stop"] == (run.reason == "early_stop") and run.reason in ("early_stop", "epochs")
    assert report["best_val_acc"] == round(run.best_val_acc, 4)
    assert compute.class_report(compute.Run(1, False, 12, 4)) is None  # a run that has not finished
    for bad in (dict(report, learning_rate=0.0), dict(report, best_epoch=len(report["val_acc"]) + 1),
                dict(report, val_acc=[1.5] * len(report["val_acc"])), dict(report, early_stop=1),
                {k: v for k, v in report.items() if k != "n_frozen"}):
        assert compute.class_run(bad) is None


def test_the_class_figures_overlay_every_run_and_mark_early_stopping():
    def run(lr, curve, early):
        return {"learning_rate": lr, "n_frozen": 12, "val_acc": curve, "val_loss": [1, 0.5, 0.7],
                "best_epoch": 2, "stopped_epoch": 3, "early_stop": early, "best_val_acc": curve[1]}

    reports = [run(0.1, [0.25, 0.5, 0.4], True), run(0.001, [0.4, 0.8, 0.7], False), run(0.01, [0.45, 0.9, 0.8], True)]
    curves, lr_best = tab.class_figures(reports, "en")
    lines = [t for t in curves.data if t.mode == "lines"]
    assert [tuple(t.y) for t in lines] == [(0.4, 0.8, 0.7), (0.45, 0.9, 0.8), (0.25, 0.5, 0.4)]  # by learning rate
    stars = [t for t in curves.data if t.mode == "markers" and t.marker.symbol == "star"]
    crosses = [t for t in curves.data if t.mode == "markers" and t.marker.symbol == "x"]
    assert [(t.x, t.y) for t in stars] == [((2,), (0.8,)), ((2,), (0.9,)), ((2,), (0.5,))]
    assert [(t.x, t.y) for t in crosses] == [((3,), (0.8,)), ((3,), (0.4,))]  # the two runs early stopping ended
    assert lines[0].line.color != lines[2].line.color  # coloured by learning rate
    assert lr_best.layout.xaxis.type == "log"
    early, full = lr_best.data
    assert (early.x, early.y, early.marker.symbol) == ((0.1, 0.01), (0.5, 0.9), "x")
    assert (full.x, full.y, full.marker.symbol) == ((0.001,), (0.8,), "circle")
    assert early.name == "stopped early" and full.name == "ran every epoch"
    ko = tab.class_figures(reports, "ko")
    assert HANGUL.search(ko[0].layout.title.text) and HANGUL.search(ko[1].layout.xaxis.title.text)
    assert not any(HANGUL.search(f.to_json()) for f in (curves, lr_best))
    summary = view.class_summary(reports, "en")
    assert summary["rows"] == [["lr 0.001", 80.0, "80%"], ["lr 0.01", 90.0, "90%"], ["lr 0.1", 50.0, "50%"]]
    assert "3 fine-tuning runs" in summary["title"]
