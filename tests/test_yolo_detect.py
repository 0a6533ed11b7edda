"""YOLO tab: the test zoo's YOLO11 (ultralytics yaml, random init) through the tab's functions, NMS against
torchvision, the grid arithmetic, tracking, the video path and bad input."""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from core import models
from core.i18n import UserError
from core.zoo import yolo as zoo
from tabs import yolo_detect as Y

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "assets" / "examples" / "cat.jpg"


@pytest.fixture(scope="module")
def detector():
    return models.get("yolo11n", tiny=True)


@pytest.fixture(scope="module")
def frame():
    return np.asarray(Image.open(CAT).convert("RGB").resize((640, 480)))


def no_progress(*args, **kwargs):
    return None


# ------------------------------------------------------------------ the zoo


def test_zoo_builds_real_yolo11_architecture_with_coco_names(detector):
    assert detector.real_weights is False
    assert detector.class_names[:3] == ["person", "bicycle", "car"] and len(detector.class_names) == 80
    assert detector.strides == [8, 16, 32]
    n_params = sum(p.numel() for p in detector.yolo.model.parameters())
    assert 2.4e6 < n_params < 2.8e6  # YOLO11n: about 2.6 M parameters
    assert type(detector.head).__name__ == "Detect"


def test_real_loader_without_weights_raises_weights_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(zoo, "CACHE_DIR", tmp_path)
    with pytest.raises(models.WeightsMissing):
        models.spec("yolo11n").load(torch.device("cpu"), torch.float32, False)
    loader = models.ModelLoader(tiny=False)  # DLCLASS_OFFLINE=1 in tests: no download is tried
    with pytest.raises(models.ModelUnavailable) as info:
        loader.get("yolo11n", device="cpu")
    assert "--prefetch yolo11n" in str(info.value)


def test_ultralytics_network_switches_are_off():
    zoo.ultralytics_ready()
    import ultralytics.utils as uu
    from ultralytics.utils import SETTINGS

    assert uu.ONLINE is False  # no update check, analytics or hub
    assert uu.AUTOINSTALL is False  # check_requirements never pip-installs
    assert SETTINGS["sync"] is False
    assert not Path(SETTINGS.file).resolve().is_relative_to(ROOT)
    assert not Path(SETTINGS["runs_dir"]).resolve().is_relative_to(ROOT)
    assert Path(SETTINGS["weights_dir"]) == zoo.CACHE_DIR
    # What ultralytics' PIL patch does to "not an image" is checked in tests/test_offline.py.


# ------------------------------------------------------------------ the per-image function


def test_yolo_detect_on_a_photo(detector, frame):
    annotated, counts, info, grid_img, before, after, state = Y.yolo_detect(Image.fromarray(frame))
    assert annotated.shape == frame.shape and annotated.dtype == np.uint8
    assert not np.array_equal(annotated, frame)  # boxes were drawn
    det = Y.detect_array(detector, frame, Y.DEFAULT_CONF, Y.DEFAULT_IOU, Y.DEFAULT_IMGSZ, None)
    assert len(det.boxes) > 0 and len(det.candidates) >= len(det.boxes)
    assert sum(row[1] for row in counts["data"]) == len(det.boxes)
    assert "ms" in info and "FPS" in info and f"{len(det.candidates)}" in info
    assert det.input_hw == (256, 320)  # 640x480 letterboxed to imgsz 320 (rect, padded to a stride multiple)
    for panel in (grid_img, before, after):
        assert max(panel.shape[:2]) == Y.PANEL_SIDE
    assert isinstance(state, dict)


def test_nms_view_agrees_with_ultralytics_predict(detector, frame):
    """The 'after NMS' panel (our NMS on the raw candidates) keeps exactly the boxes predict() returned."""
    for imgsz, iou in ((320, 0.7), (640, 0.45)):
        det = Y.detect_array(detector, frame, 0.25, iou, imgsz, None)
        _, _, keep = Y.draw_nms_panels(Y.panel_base(frame), det, iou)
        ours = det.candidates[keep].copy()
        ours[:, [0, 2]] = ours[:, [0, 2]].clip(0, 640)
        ours[:, [1, 3]] = ours[:, [1, 3]].clip(0, 480)
        assert len(ours) == len(det.boxes)
        np.testing.assert_allclose(np.sort(ours, axis=0), np.sort(det.boxes, axis=0), atol=0.5)


def test_candidates_are_above_threshold_and_follow_the_class_filter(detector, frame):
    det = Y.detect_array(detector, frame, 0.3, 0.7, 320, [0])
    assert (det.cand_scores > 0.3).all()
    assert set(det.cand_classes.tolist()) <= {0} and set(det.classes.tolist()) <= {0}


def test_empty_class_filter_gives_an_empty_result(frame):
    annotated, counts, info, *_ = Y.yolo_detect(frame, classes=[])
    assert counts["data"] == []
    np.testing.assert_array_equal(annotated, frame)
    assert "선택한 클래스가 없어" in info


def test_class_filter_keeps_only_the_selected_class(frame):
    _, counts, *_ = Y.yolo_detect(frame, classes=["person"])
    assert counts["data"] and {row[0] for row in counts["data"]} <= {"person"}


def test_clearing_the_photo_changes_nothing():
    assert all(isinstance(out, dict) and out.get("__type__") == "update" for out in Y.detect_new_photo(None))


def test_bad_input():
    from core import text

    with pytest.raises((UserError, text.Problem)):  # core.images says it as a text.Problem
        Y.yolo_detect(None)
    with pytest.raises((UserError, text.Problem)):
        Y.yolo_detect(b"this is not an image")
    with pytest.raises(UserError):
        Y.yolo_detect(np.zeros((64, 64, 3), np.uint8), model_name="yolo99x")
    settings = Y.parse_settings("yolo11n", float("nan"), 7.0, 10_000, ["person", "unicorn"], "bogus", 1)
    assert settings.conf == Y.DEFAULT_CONF and settings.iou == 0.95 and settings.imgsz == 1280
    assert settings.class_names == ["person"] and settings.grid == "32" and settings.track is True
    assert len(settings.notes) == 4
    assert Y.parse_settings("yolo11n", 0.25, 0.7, 300, [], "32", False).imgsz == 288  # a multiple of 32
    _, _, info, *_ = Y.yolo_detect(np.zeros((64, 64, 3), np.uint8), conf=float("inf"), request=None)
    assert "⚠️" in info


# ------------------------------------------------------------------ NMS written out vs torchvision


def test_nms_known_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # IoU(A,B) = 90/110 = 0.818; IoU(A,D) = 50/100 = 0.5; C overlaps nothing.
    keep, owner = Y.nms_with_owners(boxes, scores, None, 0.7)
    assert keep.tolist() == [0, 2, 3] and owner.tolist() == [0, 0, 2, 3]
    keep, owner = Y.nms_with_owners(boxes, scores, None, 0.45)
    assert keep.tolist() == [0, 2] and owner.tolist() == [0, 0, 2, 0]
    keep, _ = Y.nms_with_owners(boxes, scores, None, 0.85)
    assert keep.tolist() == [0, 1, 2, 3]
    keep, _ = Y.nms_with_owners(boxes, scores, np.array([0, 1, 0, 0]), 0.45)  # B is another class: it stays
    assert keep.tolist() == [0, 1, 2]
    for thr in (0.45, 0.7, 0.85):
        expected = torchvision.ops.nms(torch.tensor(boxes), torch.tensor(scores), thr).tolist()
        assert Y.nms_with_owners(boxes, scores, None, thr)[0].tolist() == expected


def test_nms_matches_torchvision_on_clusters():
    rng = np.random.default_rng(0)
    centres = rng.uniform(50, 450, size=(12, 2))
    boxes, classes = [], []
    for k, (cx, cy) in enumerate(centres):  # clusters of jittered copies, like YOLO's neighbouring anchors
        for _ in range(8):
            w, h = rng.uniform(40, 80, 2)
            jx, jy = rng.normal(0, 4, 2)
            boxes.append([cx + jx - w / 2, cy + jy - h / 2, cx + jx + w / 2, cy + jy + h / 2])
            classes.append(k % 3)
    boxes, classes = np.array(boxes), np.array(classes)
    scores = rng.uniform(0.1, 1.0, len(boxes))
    tb, ts, tc = torch.tensor(boxes), torch.tensor(scores), torch.tensor(classes)
    for thr in (0.3, 0.5, 0.7, 0.9):
        keep, owner = Y.nms_with_owners(boxes, scores, None, thr)
        assert keep.tolist() == torchvision.ops.nms(tb, ts, thr).tolist()
        keep_c, owner_c = Y.nms_with_owners(boxes, scores, classes, thr)
        assert keep_c.tolist() == torchvision.ops.batched_nms(tb, ts, tc, thr).tolist()
        # every removed box overlaps its owner by more than the threshold, and the owner is kept and stronger
        removed = np.setdiff1d(np.arange(len(boxes)), keep_c)
        assert set(owner_c[removed].tolist()) <= set(keep_c.tolist())
        ious = Y.pairwise_iou(boxes[removed], boxes[owner_c[removed]]).diagonal()
        assert (ious > thr).all() and (scores[owner_c[removed]] >= scores[removed]).all()
        assert (classes[owner_c[removed]] == classes[removed]).all()
    assert len(Y.nms_with_owners(boxes, scores, None, 0.5)[0]) < len(boxes)  # the clusters do get merged


def test_pairwise_iou_matches_torchvision():
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 100, (7, 2, 2)), axis=1).reshape(7, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 100, (5, 2, 2)), axis=1).reshape(5, 4)[:, [0, 2, 1, 3]]
    np.testing.assert_allclose(Y.pairwise_iou(a, b), torchvision.ops.box_iou(torch.tensor(a), torch.tensor(b)).numpy(),
                               atol=1e-9)


# ------------------------------------------------------------------ grid arithmetic


def test_letterbox_and_box_scaling_match_ultralytics():
    from ultralytics.utils import ops

    boxes = np.array([[10.0, 20.0, 200.0, 150.0], [0.0, 8.0, 320.0, 248.0]], np.float32)
    for frame_hw, input_hw in (((480, 640), (256, 320)), ((480, 640), (480, 640)), ((1080, 1920), (384, 640)),
                               ((640, 480), (320, 256))):
        expected = ops.scale_boxes(input_hw, torch.tensor(boxes), frame_hw).numpy()
        np.testing.assert_allclose(Y.input_to_frame(boxes, frame_hw, input_hw), expected, atol=1e-3)
    assert Y.letterbox_geometry((480, 640), (256, 320)) == (0.5, 0.0, 8.0)


def test_grid_cells_of_box_centres():
    grid = Y.model_grid((480, 640), (256, 320), 32)  # 32 input px = 64 frame px; 8 px of padding on top
    assert (grid.rows, grid.cols, grid.cell_w, grid.x0, grid.y0) == (8, 10, 64.0, 0.0, -16.0)
    boxes = np.array([[90, 90, 110, 110], [600, 440, 639, 479], [0, 0, 2, 2], [127, 47, 129, 49]], float)
    assert Y.cell_of(boxes, grid).tolist() == [[1, 1], [7, 9], [0, 0], [1, 2]]
    v1 = Y.yolo_v1_grid((480, 640))
    assert (v1.rows, v1.cols) == (7, 7)
    assert Y.cell_of(np.array([[310, 230, 330, 250], [0, 0, 10, 10], [630, 470, 640, 480]]), v1).tolist() == \
        [[3, 3], [0, 0], [6, 6]]


def test_grid_cells_are_the_anchor_cells_of_the_model():
    """Each YOLO11 anchor point sits at the centre of its cell: mapped to the frame, cell_of finds that cell."""
    from ultralytics.utils.tal import make_anchors

    frame_hw, input_hw = (480, 640), (256, 320)
    for level, stride in enumerate((8, 16, 32)):
        feats = [torch.zeros(1, 1, input_hw[0] // s, input_hw[1] // s) for s in (8, 16, 32)]
        anchors, _ = make_anchors(feats, torch.tensor([8.0, 16.0, 32.0]), 0.5)
        sizes = [(input_hw[0] // s) * (input_hw[1] // s) for s in (8, 16, 32)]
        start = sum(sizes[:level])
        points = anchors[start:start + sizes[level]].numpy() * stride  # anchor centres in input pixels
        grid = Y.model_grid(frame_hw, input_hw, stride)
        as_boxes = Y.input_to_frame(np.concatenate([points, points], axis=1), frame_hw, input_hw)
        rows, cols = np.divmod(np.arange(len(points)), input_hw[1] // stride)
        inside = (points[:, 1] > 8) & (points[:, 1] < 248)  # anchors on the letterbox padding clip to the edge
        np.testing.assert_array_equal(Y.cell_of(as_boxes, grid)[inside], np.stack([rows, cols], 1)[inside])


# ------------------------------------------------------------------ tracking


def test_tracker_keeps_numbers_for_moving_boxes():
    tracker = Y.IouTracker(match_iou=0.3, max_missed=2)
    a = np.array([[0, 0, 50, 50], [100, 100, 160, 160]], float)
    first = tracker.update(a, np.array([0, 2]))
    assert first.tolist() == [1, 2]
    moved = a + 5
    assert tracker.update(moved[::-1], np.array([2, 0])).tolist() == [2, 1]  # order changes, numbers follow
    third = tracker.update(np.array([[300, 300, 340, 340], *moved]), np.array([0, 0, 2]))
    assert third.tolist() == [3, 1, 2]
    assert tracker.update(moved, np.array([1, 2]))[0] == 4  # same place, another class: a new number
    for _ in range(3):
        tracker.update(np.zeros((0, 4)), np.zeros(0, int))
    assert tracker.tracks == {}


# ------------------------------------------------------------------ video


def write_video(path: Path, frames: int, fps: float, size=(320, 240), fourcc="mp4v") -> Path:
    cat = cv2.resize(cv2.imread(str(CAT)), size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.roll(cat, 6 * i, axis=1))
    writer.release()
    return path


def test_video_path_writes_a_playable_webm(tmp_path):
    src = write_video(tmp_path / "clip.mp4", frames=6, fps=5)
    out, table, info = Y.process_video(str(src), track=True, progress=no_progress)
    assert out.endswith(".webm") and os.path.getsize(out) > 1000
    cap = cv2.VideoCapture(out)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 6
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 320
    cap.release()
    with open(out, "rb") as f:
        assert f.read(4) == b"\x1a\x45\xdf\xa3"  # EBML header: WebM
    assert table["data"] and max(row[2] for row in table["data"]) >= 1  # tracked objects counted
    assert frames_said(info) == 6  # the info line counts the frames it processed


def frames_said(info: str) -> int:
    """The frame count of the video info line ("**6개 프레임** ..."; Korean for a call without a page)."""
    found = re.findall(r"\*\*(\d+)개 프레임\*\*", info)
    assert len(found) == 1, info
    return int(found[0])


def frames_in(path: str) -> int:
    cap = cv2.VideoCapture(path)
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    return count


def test_video_frames_above_15_fps_are_skipped(tmp_path):
    src = write_video(tmp_path / "fast.mp4", frames=12, fps=30)
    out, _, info = Y.process_video({"video": {"path": str(src)}}, classes=[], progress=no_progress)
    cap = cv2.VideoCapture(out)
    assert int(cap.get(cv2.CAP_PROP_FPS)) == 15
    cap.release()
    # 12 frames at 30 FPS -> every second one: 6 frames written, 6 counted, and the info says why
    assert frames_in(out) == 6 and frames_said(info) == 6
    assert "2장마다 1장" in info


def test_bad_videos(tmp_path):
    with pytest.raises(UserError):
        Y.process_video(None, progress=no_progress)
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all" * 100)
    with pytest.raises(UserError, match="not a video"):
        Y.process_video(str(fake), progress=no_progress)
    photo = tmp_path / "photo.mp4"
    photo.write_bytes(CAT.read_bytes())
    with pytest.raises(UserError):
        Y.process_video(str(photo), progress=no_progress)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="empty"):
        Y.process_video(str(empty), progress=no_progress)
    long = write_video(tmp_path / "long.mp4", frames=32, fps=1, size=(64, 48))  # 32 s
    with pytest.raises(UserError, match="too long"):
        Y.process_video(str(long), progress=no_progress)


def test_webcam_stream_refreshes_panels_once_a_second(monkeypatch):
    """The live stream sends the three 'inside YOLO' pictures at most once per PANEL_REFRESH_S, and the
    annotated frame every time."""
    import time

    import gradio as gr

    from tabs.yolo_detect import yolo_detect_live

    monkeypatch.setattr(Y, "PANEL_REFRESH_S", 0.5)
    frame = np.zeros((480, 640, 3), np.uint8)
    first = yolo_detect_live(frame, state=None)
    second = yolo_detect_live(frame, state=first[-1])
    skip = type(gr.skip())
    assert all(isinstance(panel, np.ndarray) and panel.ndim == 3 and max(panel.shape[:2]) == Y.PANEL_SIDE
               for panel in first[3:6])
    assert all(type(p) is skip for p in second[3:6])  # within the refresh time: no pictures sent
    for result in (first, second):  # the annotated frame comes every time
        assert isinstance(result[0], np.ndarray) and result[0].shape == frame.shape
    time.sleep(0.6)
    third = yolo_detect_live(frame, state=second[-1])
    assert all(isinstance(panel, np.ndarray) for panel in third[3:6])  # refreshed after the refresh time


# ------------------------------------------------------------------ the in-browser view: its server side


@pytest.fixture
def installed_runtime(tmp_path, monkeypatch, detector):
    """An app cache holding onnxruntime-web's page files (as core.webruntime leaves them) and a fresh
    ultralytics cache, so the ONNX export really runs. (The detector is loaded first: ultralytics takes its
    settings folders from the real cache folder once, at its first import.)"""
    from core import webruntime

    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))
    folder = webruntime.folder()
    folder.mkdir(parents=True)
    for name in webruntime.PAGE_FILES:
        (folder / name).write_text("// page file")
    (folder / webruntime.MARKER).write_text(webruntime.INTEGRITY)
    monkeypatch.setattr(zoo, "CACHE_DIR", tmp_path / "ultralytics")
    return folder


def test_browser_files_points_at_the_library_and_the_exported_detector(installed_runtime):
    answer = Y.browser_files({"model": "yolo11n"})
    assert answer["ok"] is True and answer["model"] == "yolo11n"
    assert Path(answer["ort_dir"]) == installed_runtime
    model_file = Path(answer["model_file"])
    assert model_file.suffix == ".onnx" and model_file.parent == zoo.CACHE_DIR / "onnx"
    assert model_file.stat().st_size > 1_000_000  # yolo11n: about 10 MB of float32 weights
    assert Y.browser_files({"model": "no-such-model"})["model"] == zoo.DEFAULT_YOLO  # API callers send anything
    assert Y.browser_files(None)["model"] == zoo.DEFAULT_YOLO


def test_browser_files_without_the_library_offline_says_prefetch(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))  # empty cache; DLCLASS_OFFLINE=1 in tests
    answer = Y.browser_files({"model": "yolo11n"})
    assert answer["ok"] is False and answer["reason"] == "library"
    assert "python app.py --prefetch" in answer["message"]["ko"] and "오프라인" in answer["message"]["ko"]
    assert "python app.py --prefetch" in answer["message"]["en"] and "offline" in answer["message"]["en"]


def test_browser_files_when_the_model_is_unavailable(installed_runtime, monkeypatch):
    def unavailable(name, tiny=None):
        raise models.ModelUnavailable(name, "offline")

    monkeypatch.setattr(models, "get", unavailable)
    answer = Y.browser_files({"model": "yolo11s"})
    assert answer["ok"] is False and answer["reason"] == "model"
    assert "--prefetch yolo11s" in answer["message"]["en"] and "--prefetch yolo11s" in answer["message"]["ko"]


def png_data_url(frame: np.ndarray) -> str:
    import base64
    import io

    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class FakeRequest:
    def __init__(self, language: str):
        self.headers = {"accept-language": language}


def test_inside_yolo_from_the_page_frame_is_the_photo_path_on_that_frame(frame):
    import gradio as gr

    event = gr.EventData(None, {"image": png_data_url(frame)})
    settings = ("yolo11n", 0.25, 0.7, 320, zoo.coco_names(), "16")
    from_page = Y.inside_yolo_from_page(*settings, event, FakeRequest("en-US"))
    expected = Y.yolo_detect(frame, *settings, False, None, FakeRequest("en-US"))
    assert len(from_page) == 6
    np.testing.assert_array_equal(from_page[0], expected[0])  # the same pixels reached the detector
    assert from_page[1] == expected[1] and len(from_page[1]["data"]) > 0
    for ours, theirs in zip(from_page[3:6], expected[3:6]):  # grid, before NMS, after NMS
        np.testing.assert_array_equal(ours, theirs)
    assert "candidates" in from_page[2]


@pytest.mark.parametrize("data_url", [None, 12, "", "data:text/plain;base64,aGk=", "data:image/png,notbase64",
                                      "data:image/png;base64,@@@@", "data:image/png;base64,aGVsbG8="])
def test_a_bad_frame_from_the_page_is_refused_in_the_page_language(data_url):
    import gradio as gr

    from core import text

    with pytest.raises((gr.Error, UserError, text.Problem)) as info:
        Y.inside_yolo_from_page("yolo11n", 0.25, 0.7, 320, None, "32", gr.EventData(None, {"image": data_url}),
                                FakeRequest("en-US"))
    assert "frame" in str(info.value) or "image" in str(info.value).lower()


def test_fallback_switches_to_the_server_and_says_why_in_the_page_language():
    import gradio as gr

    event = gr.EventData(None, {"reason": "model", "detail": "HTTP 404 for the model file"})
    where, live, webcam, notice = Y.fall_back_to_server(event, FakeRequest("en-US,en;q=0.9"))
    assert where == Y.WHERE_SERVER and live["visible"] is False and webcam["visible"] is True
    assert "model file could not be loaded" in notice["value"] and "HTTP 404" in notice["value"]
    _, _, _, korean = Y.fall_back_to_server(event, FakeRequest("ko-KR"))
    assert "모델 파일을 불러오지 못해" in korean["value"]
    _, _, _, unknown = Y.fall_back_to_server(gr.EventData(None, {"reason": "<script>"}), FakeRequest("en"))
    assert "model file" in unknown["value"] and "<script>" not in unknown["value"]
    _, _, _, simd = Y.fall_back_to_server(gr.EventData(None, {"reason": "no_simd"}), FakeRequest("en"))
    assert "SIMD" in simd["value"]


def test_where_radio_shows_one_view():
    live, webcam = Y.show_where(Y.WHERE_SERVER)
    assert live["visible"] is False and webcam["visible"] is True
    live, webcam = Y.show_where(Y.WHERE_BROWSER)
    assert live["visible"] is True and webcam["visible"] is False


def test_the_page_gets_every_word_and_class_name_it_uses():
    props = Y.live_view_props()
    js = "".join((Y.JS_DIR / name).read_text(encoding="utf-8") for name in ("yolo_live.mjs", "yolo_live_boot.js"))
    used = set(re.findall(r"(?:word|status)\('([a-z_]+)'", js))
    used |= set(re.findall(r'data-word="([a-z_]+)"', Y.LIVE_TEMPLATE))
    used |= {f"fallback_{reason}" for reason in Y.FALLBACK_REASONS} | {"fallback_page"}
    assert {"start", "privacy", "stages", "nms_line", "fallback_model"} <= used  # the scan found the words
    for lang in ("ko", "en"):
        missing = used - set(props["words"][lang])
        assert not missing, f"{lang}: {missing}"
        assert all(props["words"][lang][key].strip() for key in used)
        assert len(props["names"][lang]) == len(props["short_names"][lang]) == 80
    assert props["words"]["ko"]["start"] != props["words"]["en"]["start"]
    assert props["short_names"]["en"][0] == "person" and props["short_names"]["ko"][0] == "사람"
    assert props["defaults"]["classes"] == zoo.coco_names() and props["models"] == zoo.yolo_names()
    assert Path(props["page_module"]).is_file() and props["page_module"].endswith(".mjs")


def test_the_file_route_serves_the_page_folders_and_not_the_cache_around_them(tmp_path, monkeypatch, detector):
    import fastapi
    import gradio as gr
    from fastapi.testclient import TestClient

    from core import webruntime
    from core.zoo import yolo_export

    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(zoo, "CACHE_DIR", tmp_path / "ultralytics")
    for folder in (webruntime.folder(), yolo_export.onnx_dir()):
        folder.mkdir(parents=True)
        (folder / "served.txt").write_text("for the page")
    (tmp_path / "ultralytics" / "yolo11n.pt").write_text("weights: not for the page")
    (tmp_path / "npm" / "other-package.txt").write_text("not for the page")
    Y.serve_page_files()
    with gr.Blocks() as demo:
        gr.Markdown("x")
    client = TestClient(gr.mount_gradio_app(fastapi.FastAPI(), demo, path="/"))
    get = lambda path: client.get(f"/gradio_api/file={path}").status_code  # noqa: E731
    assert get(webruntime.folder() / "served.txt") == 200
    assert get(yolo_export.onnx_dir() / "served.txt") == 200
    assert get(Y.JS_DIR / "yolo_steps.mjs") == 200
    assert get(tmp_path / "ultralytics" / "yolo11n.pt") == 403
    assert get(tmp_path / "npm" / "other-package.txt") == 403
    assert get(Y.JS_DIR.parent / "lessons" / "yolo_detect.en.md") == 403
