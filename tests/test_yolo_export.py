"""core.zoo.yolo_export: the test zoo's YOLO11n exported to ONNX by ultralytics' exporter, once, atomically,
without touching the detector the server path shares; the file computes what the torch network computes
(checked with onnx's own reference evaluator, an implementation independent of torch and of the browser)."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from core import models
from core.zoo import yolo as zoo
from core.zoo import yolo_export
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def cache(tmp_path_factory, detector):
    """A fresh ultralytics cache folder for the module, so every test here really exports. The detector is
    loaded first: ultralytics takes its settings folders from the cache folder once, at its first import."""
    folder = tmp_path_factory.mktemp("ultralytics_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zoo, "CACHE_DIR", folder)
        yield folder


@pytest.fixture(scope="module")
def detector():
    return models.get("yolo11n", tiny=True)


def frame() -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(ROOT / "assets" / "examples" / "cat.jpg").convert("RGB").resize((640, 480)))


def snapshot(detector) -> tuple:
    network = detector.yolo.model
    state = {k: v.detach().clone() for k, v in network.state_dict().items()}
    kinds = [type(m).__name__ for m in network.modules()]
    result = detector.yolo.predict(frame()[:, :, ::-1].copy(), imgsz=320, conf=0.25, verbose=False)[0]
    flags = (network.training, [p.requires_grad for p in network.parameters()])
    return state, kinds, result.boxes.data.cpu().clone(), flags


def test_many_students_opening_the_tab_export_once(cache, detector):
    results, errors = [], []

    def open_tab():
        try:
            results.append(yolo_export.onnx_file("yolo11n", tiny=True))
        except Exception as exc:  # collected: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=open_tab) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(results) == 6 and len(set(results)) == 1
    path = results[0]
    assert path.parent == cache / "onnx" and path.is_file()
    assert yolo_export.export_count[path] == 1
    # Only the finished file is in the folder: no temporary folder or partial file is left behind.
    assert sorted(p.name for p in (cache / "onnx").iterdir()) == sorted([path.name, yolo_export.compact_path(path).name])
    assert not (ROOT / "yolo11n.onnx").exists() and not Path("yolo11n.onnx").exists()  # nothing in the cwd


def test_second_call_uses_the_file(cache, detector):
    path = yolo_export.onnx_file("yolo11n", tiny=True)
    written = path.stat().st_mtime_ns
    assert yolo_export.onnx_file("yolo11n", tiny=True) == path
    assert path.stat().st_mtime_ns == written and yolo_export.export_count[path] == 1


def test_the_file_has_dynamic_size_opset_17_and_the_detect_output(cache, detector):
    import onnx

    model = onnx.load(yolo_export.onnx_file("yolo11n", tiny=True))
    dims = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]  # noqa: E731
    assert [(i.name, dims(i)) for i in model.graph.input] == [("images", ["batch", 3, "height", "width"])]
    assert [(o.name, dims(o)) for o in model.graph.output] == [("output0", ["batch", 84, "anchors"])]
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]


def test_the_file_computes_what_the_torch_network_computes(cache, detector):
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(yolo_export.onnx_file("yolo11n", tiny=True)))
    rng = np.random.default_rng(0)
    for height, width in ((64, 96), (96, 64)):  # two shapes: the height and width really are dynamic
        x = rng.random((1, 3, height, width), dtype=np.float32)
        ours = evaluator.run(None, {"images": x})[0]
        with torch.no_grad():
            expected = detector.yolo.model(torch.from_numpy(x))
        expected = (expected[0] if isinstance(expected, (tuple, list)) else expected).numpy()
        assert ours.shape == expected.shape == (1, 84, sum((height // s) * (width // s) for s in (8, 16, 32)))
        np.testing.assert_allclose(ours[:, :4], expected[:, :4], atol=2e-3)  # boxes, input pixels
        np.testing.assert_allclose(ours[:, 4:], expected[:, 4:], atol=1e-4)  # class scores


def test_export_leaves_the_shared_detector_as_it_was(tmp_path, cache, detector, monkeypatch):
    monkeypatch.setattr(zoo, "CACHE_DIR", tmp_path)
    before_state, before_kinds, before_boxes, before_flags = snapshot(detector)
    path = yolo_export.onnx_file("yolo11n", tiny=True)
    assert yolo_export.export_count[path] == 1  # a real export ran in this test
    after_state, after_kinds, after_boxes, after_flags = snapshot(detector)
    assert after_kinds == before_kinds and after_flags == before_flags
    assert after_state.keys() == before_state.keys()
    assert all(torch.equal(after_state[k], before_state[k]) for k in before_state)
    assert torch.equal(after_boxes, before_boxes) and len(before_boxes) > 0


def test_file_name_says_model_kind_and_weights(tmp_path, cache, detector, monkeypatch):
    monkeypatch.setattr(zoo, "CACHE_DIR", tmp_path)
    tiny_name = yolo_export.onnx_path(detector).name
    assert tiny_name.startswith("yolo11n-tiny-ultralytics") and tiny_name.endswith("-opset17.onnx")
    weights = zoo.weights_path("yolo11n")
    weights.write_bytes(b"weights, first download")
    real = zoo.Detector("yolo11n", detector.yolo, detector.class_names, True, "test")
    first = yolo_export.onnx_path(real)
    assert first.name.startswith("yolo11n-coco-") and first.parent == tmp_path / "onnx"
    weights.write_bytes(b"other weights, a new download")
    os.utime(weights, ns=(1, 2))
    assert yolo_export.onnx_path(real) != first  # new weights: a new export, never a stale file


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of matching rows of two (n, 4) arrays of centre-x, centre-y, width, height boxes."""
    a0, a1 = a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2
    b0, b1 = b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2
    inter = np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0, None).prod(axis=1)
    return inter / (a[:, 2:].prod(axis=1) + b[:, 2:].prod(axis=1) - inter)


def test_the_compact_file_finds_the_same_boxes_in_a_quarter_of_the_bytes(cache, detector):
    """What the page downloads (8-bit weights, float32 arithmetic) against the full file, both run by onnx's
    CPU runtime (the browser's onnxruntime-web is the same engine) on the same letterboxed frame of the test
    photo: every one of the 50 strongest candidates keeps its class, and its box overlaps the full model's with
    IoU >= 0.9."""
    import onnx
    import onnxruntime

    full = yolo_export.onnx_file("yolo11n", tiny=True)
    compact = yolo_export.onnx_file("yolo11n", tiny=True, compact=True)
    assert compact == yolo_export.compact_path(full) and compact.is_file()
    assert compact.stat().st_size < full.stat().st_size / 3
    ops = {node.op_type for node in onnx.load(compact).graph.node}
    assert "DequantizeLinear" in ops and not ops & {"QLinearConv", "ConvInteger", "MatMulInteger"}
    x = np.ascontiguousarray(frame()[112:368, :320].transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
    run = lambda path: onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(  # noqa: E731
        None, {"images": x})[0][0]
    ours, theirs = run(compact), run(full)
    strongest = np.argsort(theirs[4:].max(axis=0))[::-1][:50]
    assert (ours[4:, strongest].argmax(axis=0) == theirs[4:, strongest].argmax(axis=0)).all()
    assert iou(ours[:4, strongest].T, theirs[:4, strongest].T).min() >= 0.9
