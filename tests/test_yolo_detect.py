"""YOLO lesson: the test zoo's YOLO11 (ultralytics yaml, random init) through the lesson's functions, NMS against
torchvision, the grid arithmetic, ByteTrack, the video path, Korean class names and bad input."""
from __future__ import annotations

import base64
import io
import os
import re
import tempfile
import time
from pathlib import Path

import cv2
import gradio as gr
import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from core import classnames, events, models, outputs, text
from core.zoo import yolo as zoo
from tabs.yolo_detect import compute, tab, view
from tabs.yolo_detect.text import TEXT

ROOT = Path(__file__).resolve().parent.parent
CAT = ROOT / "assets" / "examples" / "cat.jpg"
HANGUL = range(0xAC00, 0xD7A4)
ALL = None  # every class


def has_hangul(words: str) -> bool:
    return any(ord(ch) in HANGUL for ch in words)


@pytest.fixture(scope="module")
def detector():
    return models.get("yolo11n", tiny=True)


@pytest.fixture(scope="module")
def frame():
    return np.asarray(Image.open(CAT).convert("RGB").resize((640, 480)))


def photo(frame, lang="ko", **settings):
    """The photo event with the tab's defaults, changed by `settings`."""
    args = dict(model_name="yolo11n", conf=compute.DEFAULT_CONF, iou=compute.DEFAULT_IOU, imgsz=compute.DEFAULT_IMGSZ,
                classes=ALL, grid=compute.DEFAULT_GRID)
    args.update(settings)
    return tab.yolo_detect(frame, *args.values(), lang=lang)


def no_progress(fraction, desc=None):
    return None


# ------------------------------------------------------------------ the zoo


def test_zoo_builds_real_yolo11_architecture_with_coco_names(detector):
    assert detector.real_weights is False
    assert detector.class_names[:3] == ["person", "bicycle", "car"] and len(detector.class_names) == 80
    assert detector.strides == [8, 16, 32]
    n_params = sum(p.numel() for p in detector.yolo.model.parameters())
    assert 2.4e6 < n_params < 2.8e6  # YOLO11n: about 2.6 M parameters
    assert type(detector.head).__name__ == "Detect"


def test_the_korean_class_table_names_the_detectors_classes(detector):
    """The picker's values, the API's class names and the Korean table are the same 80 classes in one order."""
    assert classnames.coco("en") == detector.class_names == compute.class_names()
    assert classnames.coco("ko")[0] == "사람" and classnames.coco_label("ko", 5) == "버스 (bus)"


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


# ------------------------------------------------------------------ the photo event


def test_yolo_detect_on_a_photo(detector, frame):
    annotated, counts, info, grid_img, before, after = photo(frame)
    assert annotated.shape == frame.shape and annotated.dtype == np.uint8
    assert not np.array_equal(annotated, frame)  # boxes were drawn
    det = compute.detect_array(detector, frame, compute.DEFAULT_CONF, compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ, None)
    assert len(det.boxes) > 0 and len(det.candidates) >= len(det.boxes)
    assert sum(row[1] for row in counts["data"]) == len(det.boxes)
    assert f"후보 {len(det.candidates)}개" in info and f"남은 상자 {len(det.boxes)}개" in info
    assert det.input_hw == (256, 320)  # 640x480 letterboxed to imgsz 320 (rect, padded to a stride multiple)
    for panel in (grid_img, before, after):
        assert max(panel.shape[:2]) == view.PANEL_SIDE


def test_nms_view_agrees_with_ultralytics_predict(detector, frame):
    """The 'after NMS' panel (our NMS on the raw candidates) keeps exactly the boxes predict() returned."""
    for imgsz, iou in ((320, 0.7), (640, 0.45)):
        det = compute.detect_array(detector, frame, 0.25, iou, imgsz, None)
        _, _, keep = view.draw_nms_panels(view.panel_base(frame), det, iou)
        ours = det.candidates[keep].copy()
        ours[:, [0, 2]] = ours[:, [0, 2]].clip(0, 640)
        ours[:, [1, 3]] = ours[:, [1, 3]].clip(0, 480)
        assert len(ours) == len(det.boxes)
        np.testing.assert_allclose(np.sort(ours, axis=0), np.sort(det.boxes, axis=0), atol=0.5)


def test_candidates_are_above_threshold_and_follow_the_class_filter(detector, frame):
    det = compute.detect_array(detector, frame, 0.3, 0.7, 320, [0])
    assert (det.cand_scores > 0.3).all()
    assert set(det.cand_classes.tolist()) <= {0} and set(det.classes.tolist()) <= {0}


def test_empty_class_filter_gives_an_empty_result(frame):
    annotated, counts, info, *_ = photo(frame, classes=[])
    assert counts["data"] == []
    np.testing.assert_array_equal(annotated, frame)
    assert TEXT.say("ko", "no_class") in info


def test_class_filter_keeps_only_the_selected_class(frame):
    _, counts, *_ = photo(frame, lang="en", classes=["person"])
    assert counts["data"] and {row[0] for row in counts["data"]} == {"person"}


def test_class_names_in_the_page_language(detector, frame):
    """Korean page: '사람 (person)' in the counts, Korean box tags drawn on the picture; English page: 'person'."""
    annotated_ko, counts_ko, info_ko, *_ = photo(frame, lang="ko")
    annotated_en, counts_en, info_en, *_ = photo(frame, lang="en")
    assert counts_ko["headers"] == ["클래스", "개수"] and counts_en["headers"] == ["class", "count"]
    det = compute.detect_array(detector, frame, compute.DEFAULT_CONF, compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ, None)
    expected = {classnames.coco_label("ko", c) for c in det.classes.tolist()}
    assert {row[0] for row in counts_ko["data"]} == expected and any(has_hangul(name) for name in expected)
    assert {row[0] for row in counts_en["data"]} == {detector.class_names[c] for c in det.classes.tolist()}
    # The tags differ only where the words differ: the same boxes, another language.
    assert not np.array_equal(annotated_ko, annotated_en)
    assert view.box_label("ko", 0, 0.873, 3) == "사람 0.87 #3" and view.box_label("en", 5, 0.5, 0) == "bus 0.50"
    assert not has_hangul(info_en) and "후보" in info_ko  # one language per message


def test_without_a_hangul_font_the_boxes_say_english_names(monkeypatch):
    """A laptop with no font that has Hangul: a box reads "person 0.87", never a row of empty boxes."""
    from core import draw

    assert draw.hangul_font_path() is not None  # this machine has Noto CJK (README's test command)
    monkeypatch.setattr(draw, "HANGUL_FONTS", ["/nonexistent/font.ttc"])
    assert view.box_label("ko", 0, 0.873, 3) == "person 0.87 #3"
    assert view.box_label("en", 5, 0.5, 0) == "bus 0.50"


def test_a_korean_tag_is_drawn_with_a_hangul_font():
    """The Korean class name on a box's tag is the Hangul font's drawing of it (checked against PIL drawing the
    same name with the same font file), followed by the figures; the tag is the box colour."""
    from PIL import ImageDraw, ImageFont

    from core import draw

    frame = np.full((480, 640, 3), 255, np.uint8)
    det = compute.Detection.empty((480, 640), (256, 320))
    det.boxes = np.array([[40, 200, 300, 400]], np.float32)
    det.scores, det.classes, det.ids = np.array([0.9], np.float32), np.array([0]), np.array([7])
    drawn = view.draw_detections(frame, det, "ko")
    scale = round(max(0.45, min(1.2, 640 / 900)), 2)
    height, baseline = view._tag_geometry("사람", scale)
    tag = drawn[200 - height:200, 40:]
    assert tuple(tag[0, 0]) == view.color_for(7)  # the tag: the colour of track 7
    name_width = draw.label_size("사람", scale)[0]
    ours = tag[:, view.LABEL_PAD:view.LABEL_PAD + name_width].max(axis=2) < 80  # black ink of the name
    font = ImageFont.truetype(draw.hangul_font_path(), max(10, round(30 * scale)))
    canvas = Image.new("L", (name_width, height), 255)
    ImageDraw.Draw(canvas).text((0, baseline), "사람", font=font, fill=0, anchor="ls")  # where put_label puts it
    expected = np.asarray(canvas) < 80
    overlap = (ours & expected).sum() / max(1, (ours | expected).sum())
    assert expected.sum() > 40 and overlap > 0.6, overlap  # the same glyphs (the tag's text has a thin outline)
    figures = tag[:, view.LABEL_PAD + name_width:view.LABEL_PAD + name_width + draw.label_size(" 0.90 #7", scale)[0]]
    assert (figures.max(axis=2) < 80).sum() > 30  # " 0.90 #7" after the name


def test_clearing_the_photo_asks_for_one(frame):
    with pytest.raises(text.Problem) as info:
        photo(None, lang="en")
    assert info.value.message.key == "images.missing"


def test_bad_input(frame):
    with pytest.raises(text.Problem):
        photo(b"this is not an image")
    with pytest.raises(text.Problem) as info:
        photo(np.zeros((64, 64, 3), np.uint8), model_name="yolo99x")
    assert "yolo11n" in info.value.say("en") and "알 수 없는 모델" in info.value.say("ko")
    settings = compute.read_settings("yolo11n", float("nan"), 7.0, 10_000, ["person", "unicorn"], "bogus", 1)
    assert settings.conf == compute.DEFAULT_CONF and settings.iou == 0.95 and settings.imgsz == 1280
    assert settings.class_names == ["person"] and settings.grid == "32" and settings.track is True
    assert len(settings.notes) == 5  # conf, iou, input size, grid, unknown class
    assert compute.read_settings("yolo11n", 0.25, 0.7, 300, [], "32", False).imgsz == 288  # a multiple of 32
    _, _, info_en, *_ = photo(np.zeros((64, 64, 3), np.uint8), lang="en", conf=float("inf"), classes=["cat", "unicorn"])
    assert "⚠️ Confidence threshold must be from 0.01 to 0.99; using 0.99." in info_en
    assert "unicorn" in info_en and not has_hangul(info_en)
    _, _, info_ko, *_ = photo(np.zeros((64, 64, 3), np.uint8), lang="ko", conf=float("inf"))
    assert "⚠️ 신뢰도 임계값: 0.01~0.99 사이여야 해서 0.99(으)로 맞췄습니다." in info_ko


# ------------------------------------------------------------------ NMS written out vs torchvision


def test_nms_known_overlaps():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [0, 0, 10, 5]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    # IoU(A,B) = 90/110 = 0.818; IoU(A,D) = 50/100 = 0.5; C overlaps nothing.
    keep, owner = compute.nms_with_owners(boxes, scores, None, 0.7)
    assert keep.tolist() == [0, 2, 3] and owner.tolist() == [0, 0, 2, 3]
    keep, owner = compute.nms_with_owners(boxes, scores, None, 0.45)
    assert keep.tolist() == [0, 2] and owner.tolist() == [0, 0, 2, 0]
    keep, _ = compute.nms_with_owners(boxes, scores, None, 0.85)
    assert keep.tolist() == [0, 1, 2, 3]
    keep, _ = compute.nms_with_owners(boxes, scores, np.array([0, 1, 0, 0]), 0.45)  # B is another class: it stays
    assert keep.tolist() == [0, 1, 2]
    for thr in (0.45, 0.7, 0.85):
        expected = torchvision.ops.nms(torch.tensor(boxes), torch.tensor(scores), thr).tolist()
        assert compute.nms_with_owners(boxes, scores, None, thr)[0].tolist() == expected


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
        keep, owner = compute.nms_with_owners(boxes, scores, None, thr)
        assert keep.tolist() == torchvision.ops.nms(tb, ts, thr).tolist()
        keep_c, owner_c = compute.nms_with_owners(boxes, scores, classes, thr)
        assert keep_c.tolist() == torchvision.ops.batched_nms(tb, ts, tc, thr).tolist()
        # every removed box overlaps its owner by more than the threshold, and the owner is kept and stronger
        removed = np.setdiff1d(np.arange(len(boxes)), keep_c)
        assert set(owner_c[removed].tolist()) <= set(keep_c.tolist())
        ious = compute.pairwise_iou(boxes[removed], boxes[owner_c[removed]]).diagonal()
        assert (ious > thr).all() and (scores[owner_c[removed]] >= scores[removed]).all()
        assert (classes[owner_c[removed]] == classes[removed]).all()
    assert len(compute.nms_with_owners(boxes, scores, None, 0.5)[0]) < len(boxes)  # the clusters do get merged


def test_pairwise_iou_matches_torchvision():
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 100, (7, 2, 2)), axis=1).reshape(7, 4)[:, [0, 2, 1, 3]]
    b = np.sort(rng.uniform(0, 100, (5, 2, 2)), axis=1).reshape(5, 4)[:, [0, 2, 1, 3]]
    np.testing.assert_allclose(compute.pairwise_iou(a, b),
                               torchvision.ops.box_iou(torch.tensor(a), torch.tensor(b)).numpy(), atol=1e-9)


# ------------------------------------------------------------------ grid arithmetic


def test_letterbox_and_box_scaling_match_ultralytics():
    from ultralytics.utils import ops

    boxes = np.array([[10.0, 20.0, 200.0, 150.0], [0.0, 8.0, 320.0, 248.0]], np.float32)
    for frame_hw, input_hw in (((480, 640), (256, 320)), ((480, 640), (480, 640)), ((1080, 1920), (384, 640)),
                               ((640, 480), (320, 256))):
        expected = ops.scale_boxes(input_hw, torch.tensor(boxes), frame_hw).numpy()
        np.testing.assert_allclose(compute.input_to_frame(boxes, frame_hw, input_hw), expected, atol=1e-3)
    assert compute.letterbox_geometry((480, 640), (256, 320)) == (0.5, 0.0, 8.0)


def test_grid_cells_of_box_centres():
    grid = compute.model_grid((480, 640), (256, 320), 32)  # 32 input px = 64 frame px; 8 px of padding on top
    assert (grid.rows, grid.cols, grid.cell_w, grid.x0, grid.y0) == (8, 10, 64.0, 0.0, -16.0)
    boxes = np.array([[90, 90, 110, 110], [600, 440, 639, 479], [0, 0, 2, 2], [127, 47, 129, 49]], float)
    assert compute.cell_of(boxes, grid).tolist() == [[1, 1], [7, 9], [0, 0], [1, 2]]
    v1 = compute.yolo_v1_grid((480, 640))
    assert (v1.rows, v1.cols) == (7, 7)
    assert compute.cell_of(np.array([[310, 230, 330, 250], [0, 0, 10, 10], [630, 470, 640, 480]]), v1).tolist() == \
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
        grid = compute.model_grid(frame_hw, input_hw, stride)
        as_boxes = compute.input_to_frame(np.concatenate([points, points], axis=1), frame_hw, input_hw)
        rows, cols = np.divmod(np.arange(len(points)), input_hw[1] // stride)
        inside = (points[:, 1] > 8) & (points[:, 1] < 248)  # anchors on the letterbox padding clip to the edge
        np.testing.assert_array_equal(compute.cell_of(as_boxes, grid)[inside], np.stack([rows, cols], 1)[inside])


# ------------------------------------------------------------------ tracking: ultralytics' ByteTrack


def detections(boxes, scores=None, classes=None, frame_hw=(480, 640)) -> compute.Detection:
    det = compute.Detection.empty(frame_hw, frame_hw)
    det.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    det.scores = np.full(len(det.boxes), 0.8, np.float32) if scores is None else np.asarray(scores, np.float32)
    det.classes = np.zeros(len(det.boxes), int) if classes is None else np.asarray(classes)
    return det


def test_tracker_numbers_follow_their_boxes_and_a_new_box_waits_one_frame():
    tracker = compute.new_tracker()
    a = np.array([[0, 0, 50, 50], [100, 100, 160, 160]], float)
    assert compute.track_ids(tracker, detections(a, classes=[0, 2])).tolist() == [1, 2]  # the first frame: at once
    moved = a + 5
    # The boxes come in another order: the numbers follow the boxes, not their places in the list.
    assert compute.track_ids(tracker, detections(moved[::-1], classes=[2, 0])).tolist() == [2, 1]
    newcomer = np.array([[300, 300, 340, 340], *(moved + 5)])
    assert compute.track_ids(tracker, detections(newcomer, classes=[0, 0, 2])).tolist() == [0, 1, 2]
    assert compute.track_ids(tracker, detections(newcomer + 3, classes=[0, 0, 2])).tolist() == [3, 1, 2]
    assert compute.track_ids(tracker, detections(np.zeros((0, 4)))).tolist() == []  # nothing seen: no error


def test_tracker_keeps_numbers_when_two_people_cross_and_after_a_missed_frame():
    """What the IoU tracker the lesson had before got wrong (bench/bench_yolo_detect.py counts it): two people
    walking past each other swap numbers when boxes are matched by overlap alone; ByteTrack's Kalman filter
    predicts where each one goes."""
    tracker = compute.new_tracker()
    left, right = np.array([40, 100, 160, 420.0]), np.array([600, 110, 720, 430.0])
    seen = {0: set(), 1: set()}
    for t in range(45):
        if t == 30:  # the detector misses both for one frame
            compute.track_ids(tracker, detections(np.zeros((0, 4))))
            continue
        boxes = np.stack([left + [12 * t, 0, 12 * t, 0], right - [12 * t, 0, 12 * t, 0]])
        ids = compute.track_ids(tracker, detections(boxes, scores=[0.8, 0.7]))
        for person, number in enumerate(ids.tolist()):
            seen[person].add(number)
    assert seen == {0: {1}, 1: {2}}


def test_each_tracker_numbers_its_own_objects_from_one():
    first, second = compute.new_tracker(), compute.new_tracker()
    boxes = detections([[0, 0, 50, 50], [100, 100, 150, 150]])
    compute.track_ids(first, boxes)
    assert compute.track_ids(second, detections([[300, 300, 350, 350]])).tolist() == [1]  # another session


def test_the_tracker_settings_are_ultralytics_bytetrack_yaml():
    zoo.prepare_library()
    from ultralytics.utils import YAML
    from ultralytics.utils.checks import check_yaml

    assert compute.tracker_settings() == YAML.load(check_yaml("bytetrack.yaml"))
    assert compute.tracker_settings()["tracker_type"] == "bytetrack"


# ------------------------------------------------------------------ the webcam on the server path


def test_webcam_stream_tracks_and_refreshes_panels_once_a_second(monkeypatch):
    """The live stream sends the three 'inside YOLO' pictures at most once per PANEL_REFRESH_S and the annotated
    frame every time; its session state carries one ByteTrack, whose numbers reach the info line."""
    monkeypatch.setattr(tab, "PANEL_REFRESH_S", 0.5)
    frame = np.asarray(Image.open(CAT).convert("RGB").resize((640, 480)))
    settings = ("yolo11n", compute.DEFAULT_CONF, compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ, ALL, "32")
    first = tab.yolo_detect_webcam(frame, *settings, True, None, lang="en")
    second = tab.yolo_detect_webcam(frame, *settings, True, first[-1], lang="en")
    skip = type(gr.skip())
    assert all(isinstance(panel, np.ndarray) and panel.ndim == 3 and max(panel.shape[:2]) == view.PANEL_SIDE
               for panel in first[3:6])
    assert all(type(p) is skip for p in second[3:6])  # within the refresh time: no pictures sent
    for result in (first, second):  # the annotated frame comes every time
        assert isinstance(result[0], np.ndarray) and result[0].shape == frame.shape
    state = second[-1]
    assert state["tracker"].frame_id == 2 and "Frames received" in second[2]
    n_boxes = sum(row[1] for row in second[1]["data"])
    assert f"**Tracking** ByteTrack: {n_boxes} objects numbered now" in second[2]  # the same boxes, all numbered
    time.sleep(0.6)
    third = tab.yolo_detect_webcam(frame, *settings, False, second[-1], lang="en")
    assert all(isinstance(panel, np.ndarray) for panel in third[3:6])  # refreshed after the refresh time
    assert third[-1]["tracker"] is None and "Tracking" not in third[2]  # tracking switched off


def test_webcam_frames_from_the_page_are_bytes_of_a_picture():
    """components.Image hands the stream's frames on as the bytes of the data URL the page sends."""
    buffer = io.BytesIO()
    Image.open(CAT).convert("RGB").resize((320, 240)).save(buffer, format="JPEG")
    out = tab.yolo_detect_webcam(buffer.getvalue(), "yolo11n", 0.25, 0.7, 320, ALL, "32", False, None, lang="ko")
    assert out[0].shape == (240, 320, 3)


# ------------------------------------------------------------------ video


@pytest.fixture
def output_dir(tmp_path, monkeypatch) -> Path:
    """The app's output folder, one per test: the video answers are written there."""
    folder = tmp_path / "outputs"
    monkeypatch.setattr(outputs, "OUTPUT_DIR", folder)
    return folder


def write_video(path: Path, frames: int, fps: float, size=(320, 240), fourcc="mp4v") -> Path:
    cat = cv2.resize(cv2.imread(str(CAT)), size)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.roll(cat, 6 * i, axis=1))
    writer.release()
    return path


def video(source, lang="ko", **settings):
    args = dict(model_name="yolo11n", conf=compute.DEFAULT_CONF, iou=compute.DEFAULT_IOU,
                imgsz=compute.DEFAULT_IMGSZ, classes=ALL, track=True)
    args.update(settings)
    return tab.yolo_detect_video(source, *args.values(), no_progress, lang=lang)


def frames_said(info: str) -> int:
    """The frame count of the video info line ("**6개 프레임** ..." in Korean)."""
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


def test_video_path_writes_a_playable_webm(tmp_path, output_dir):
    src = write_video(tmp_path / "clip.mp4", frames=6, fps=5)
    out, table, info = video(str(src))
    assert out.endswith(".webm") and os.path.getsize(out) > 1000
    assert frames_in(out) == 6
    cap = cv2.VideoCapture(out)
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 320
    cap.release()
    with open(out, "rb") as f:
        assert f.read(4) == b"\x1a\x45\xdf\xa3"  # EBML header: WebM
    assert table["headers"] == ["클래스", "한 프레임 최대", "추적한 개수"]
    assert table["data"] and max(row[2] for row in table["data"]) >= 1  # tracked objects counted
    assert all(has_hangul(row[0]) for row in table["data"])  # "사람 (person)"
    assert frames_said(info) == 6  # the info line counts the frames it processed


def test_video_counts_the_objects_bytetrack_numbered(tmp_path, output_dir, detector):
    """'tracked objects' per class = the distinct ByteTrack numbers a new tracker gives over the same frames."""
    src = write_video(tmp_path / "clip.mp4", frames=5, fps=5)
    _, table, _ = video(str(src), lang="en")
    tracker, first_class = compute.new_tracker(), {}
    cap = cv2.VideoCapture(str(src))
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        det = compute.detect_array(detector, np.ascontiguousarray(bgr[:, :, ::-1]), compute.DEFAULT_CONF,
                                   compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ, None, want_candidates=False)
        for number, cls in zip(compute.track_ids(tracker, det).tolist(), det.classes.tolist()):
            if number:
                first_class.setdefault(number, cls)
    cap.release()
    expected = {detector.class_names[c]: list(first_class.values()).count(c) for c in set(first_class.values())}
    assert {row[0]: row[2] for row in table["data"] if row[2]} == expected


def test_video_frames_above_15_fps_are_skipped(tmp_path, output_dir):
    src = write_video(tmp_path / "fast.mp4", frames=12, fps=30)
    out, _, info = video({"video": {"path": str(src)}}, classes=[])
    cap = cv2.VideoCapture(out)
    assert int(cap.get(cv2.CAP_PROP_FPS)) == 15
    cap.release()
    # 12 frames at 30 FPS -> every second one: 6 frames written, 6 counted, and the info says why
    assert frames_in(out) == 6 and frames_said(info) == 6
    assert "2장마다 1장" in info


def test_bad_videos(tmp_path, output_dir):
    def problem(source) -> str:
        with pytest.raises(text.Problem) as info:
            video(source, lang="en")
        return info.value.message.key

    assert problem(None) == "yolo_detect.video_missing"
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all" * 100)
    assert problem(str(fake)) == "yolo_detect.not_video"
    still = tmp_path / "photo.mp4"
    still.write_bytes(CAT.read_bytes())
    assert problem(str(still)) in ("yolo_detect.single_frame", "yolo_detect.not_video")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert problem(str(empty)) == "yolo_detect.video_empty"
    long = write_video(tmp_path / "long.mp4", frames=32, fps=1, size=(64, 48))  # 32 s
    assert problem(str(long)) == "yolo_detect.video_too_long"
    assert not output_dir.exists() or not any(output_dir.iterdir())  # no answer, no file


def test_a_video_job_leaves_no_temporary_folder_behind(tmp_path, output_dir):
    """The annotated video is written straight into the app's output folder (Gradio serves it from there without
    a copy, and the folder is swept): nothing is left in the temporary folder, each job has its own file, and a
    job that fails leaves no file."""
    temp = Path(tempfile.gettempdir())
    before = {p.name for p in temp.iterdir()}
    src = write_video(tmp_path / "clip.mp4", frames=4, fps=5)
    first, _, _ = video(str(src))
    second, _, _ = video(str(src), lang="en")
    assert first != second and {Path(first).parent, Path(second).parent} == {output_dir}
    assert Path(first).name.startswith("clip_yolo_") and frames_in(first) == frames_in(second) == 4
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"not a video at all" * 100)
    with pytest.raises(text.Problem):
        video(str(fake))
    assert sorted(output_dir.iterdir()) == sorted([Path(first), Path(second)])
    left = sorted(name for name in {p.name for p in temp.iterdir()} - before if name.startswith("yolo_video_"))
    assert not left, f"video jobs left temporary folders behind: {left}"


# ------------------------------------------------------------------ the tab: its events and its opening


def build_tab():
    from tests.conftest import build_lesson_tab

    return build_lesson_tab(tab)


def test_the_controls_are_made_from_the_declared_settings():
    """compute.SETTINGS declares each setting once: the tab's controls carry its range, step, choices and default,
    and the teacher may send every one of them to the class (a photo or a video is not a setting)."""
    demo, _, _ = build_tab()
    props = [c["props"] for c in demo.config["components"]]

    def control(key: str) -> dict:
        return next(p for p in props if f'"key": "yolo_detect.{key}"' in str(p.get("label")))

    settings = compute.SETTINGS
    for name in ("conf", "iou"):
        assert (control(name)["minimum"], control(name)["maximum"], control(name)["step"], control(name)["value"]) \
            == (settings[name].low, settings[name].high, settings[name].step, settings[name].default)
    assert control("model")["value"] == settings["model"].default == zoo.DEFAULT_YOLO
    assert [value for _, value in control("model")["choices"]] == list(settings["model"].choices)
    assert [value for _, value in control("grid")["choices"]] == list(settings["grid"].choices)
    assert control("imgsz")["value"] == settings["imgsz"].default
    assert control("track")["value"] is settings["track"].default
    assert [s.name for s in settings.for_class()] == ["model", "conf", "iou", "imgsz", "grid", "track"]


def test_the_tab_registers_its_events_with_their_kinds_and_warms_every_example():
    demo, page, registered = build_tab()
    kinds = {}
    for record in registered:
        kinds.setdefault(record.name, set()).add((record.kind.name, record.cache))
    assert kinds["yolo_detect"] == {("model", True)}  # the button, a new photo, and the opening: one cache
    assert kinds["yolo_detect_webcam"] == {("stream", False)}
    assert kinds["yolo_detect_video"] == {("video", False)}
    assert kinds["inside_yolo_from_page"] == {("model", False)}
    for quick in ("show_where", "fall_back_to_server", "select_all", "select_none", "select_people_vehicles"):
        assert kinds[quick] == {("quick", False)}, quick
    api = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"yolo_detect", "yolo_detect_webcam", "yolo_detect_video"} <= api
    stream = next(fn for fn in demo.fns.values() if fn.api_name == "yolo_detect_webcam")
    assert stream.concurrency_id == "stream" and stream.time_limit == events.KINDS["stream"].time_limit
    photos = [str(p) for p in compute.example_photos()]
    defaults = ("yolo11n", compute.DEFAULT_CONF, compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ, compute.class_names(), "32")
    assert [args for record, args in page.warm_calls if record.name == "yolo_detect"] == [(p, *defaults) for p in photos]
    opening = [args for record, args in page.warm_calls if record.name == "on_open:yolo_detect"]
    assert len(opening) == 1 and tuple(opening[0][2:]) == defaults  # (not opened yet, the photo, the defaults)
    assert Path(opening[0][1]).read_bytes() == Path(photos[0]).read_bytes()  # the worked example: the first photo
    assert tab.export_default_detector in page.warm_tasks


def test_the_class_picker_shows_names_in_the_page_language_and_sends_english():
    demo, _, _ = build_tab()
    picker = next(c for c in demo.blocks.values() if getattr(c, "elem_id", None) == "yolo-classes")
    labels = [label for label, _ in picker.choices]
    assert [value for _, value in picker.choices] == compute.class_names() == picker.value
    assert all(isinstance(label, gr.i18n.I18nData) for label in labels)
    assert text.say("ko", labels[0].key) == "사람 (person)" and text.say("en", labels[0].key) == "person"


def test_the_worked_example_is_computed_at_warm_up_and_then_served_from_the_cache(monkeypatch):
    _, page, registered = build_tab()
    page.warm_tasks.clear()  # the ONNX export is tested in tests/test_yolo_export.py
    record, args = next((r, a) for r, a in page.warm_calls if r.name == "on_open:yolo_detect")
    page.warm_calls[:] = [(record, args)]
    assert page.warm_up()["failed"] == 0
    calls = []
    monkeypatch.setattr(compute, "detect_array", lambda *a, **k: calls.append(a))
    annotated, counts, info, *_, opened = record.run(*args, lang="ko")
    assert calls == [] and Path(annotated).is_file() and "후보" in info  # from the cache: no detection ran
    assert opened is True and counts["headers"] == ["클래스", "개수"]


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
    answer = tab.browser_files({"model": "yolo11n", "lang": "en"})
    assert answer["ok"] is True and answer["model"] == "yolo11n"
    assert Path(answer["ort_dir"]) == installed_runtime
    model_file = Path(answer["model_file"])
    assert model_file.suffix == ".onnx" and model_file.parent == zoo.CACHE_DIR / "onnx"
    assert model_file.stat().st_size > 1_000_000  # yolo11n: about 10 MB of float32 weights
    assert tab.browser_files({"model": "no-such-model"})["model"] == zoo.DEFAULT_YOLO  # API callers send anything
    assert tab.browser_files(None)["model"] == zoo.DEFAULT_YOLO


def test_browser_files_without_the_library_offline_says_prefetch_in_the_page_language(tmp_path, monkeypatch):
    monkeypatch.setenv("DLCLASS_CACHE_DIR", str(tmp_path))  # empty cache; DLCLASS_OFFLINE=1 in tests
    korean = tab.browser_files({"model": "yolo11n", "lang": "ko"})
    assert korean["ok"] is False and korean["reason"] == "library"
    assert "python app.py --prefetch" in korean["message"] and "오프라인" in korean["message"]
    english = tab.browser_files({"model": "yolo11n", "lang": "en"})
    assert "python app.py --prefetch" in english["message"] and "offline" in english["message"]
    assert not has_hangul(english["message"])


def test_browser_files_when_the_model_is_unavailable(installed_runtime, monkeypatch):
    def unavailable(name, tiny=None):
        raise models.ModelUnavailable(name, "offline")

    monkeypatch.setattr(models, "get", unavailable)
    answer = tab.browser_files({"model": "yolo11s", "lang": "en"})
    assert answer["ok"] is False and answer["reason"] == "model"
    assert "--prefetch yolo11s" in answer["message"] and not has_hangul(answer["message"])


def png_data_url(frame: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_inside_yolo_from_the_page_frame_is_the_photo_path_on_that_frame(frame):
    event = gr.EventData(None, {"image": png_data_url(frame)})
    settings = ("yolo11n", 0.25, 0.7, 320, compute.class_names(), "16")
    from_page = tab.inside_yolo_from_page(*settings, event, lang="en")
    expected = tab.yolo_detect(frame, *settings, lang="en")
    assert len(from_page) == 6
    np.testing.assert_array_equal(from_page[0], expected[0])  # the same pixels reached the detector
    assert from_page[1] == expected[1] and len(from_page[1]["data"]) > 0
    for ours, theirs in zip(from_page[3:6], expected[3:6]):  # grid, before NMS, after NMS
        np.testing.assert_array_equal(ours, theirs)
    assert "candidates" in from_page[2]


@pytest.mark.parametrize("data_url", [None, 12, "", "data:text/plain;base64,aGk=", "data:image/png,notbase64",
                                      "data:image/png;base64,@@@@", "data:image/png;base64,aGVsbG8="])
def test_a_bad_frame_from_the_page_is_refused(data_url):
    with pytest.raises(text.Problem) as info:
        tab.inside_yolo_from_page("yolo11n", 0.25, 0.7, 320, None, "32", gr.EventData(None, {"image": data_url}),
                                  lang="en")
    assert info.value.message.key in ("yolo_detect.bad_frame", "images.not_image")


def test_fallback_switches_to_the_server_and_says_why_in_the_page_language():
    event = gr.EventData(None, {"reason": "model", "detail": "HTTP 404 for the model file"})
    where, live, webcam, notice = tab.fall_back_to_server(event, lang="en")
    assert where == tab.WHERE_SERVER and live["visible"] is False and webcam["visible"] is True
    assert "model file could not be loaded" in notice["value"] and "HTTP 404" in notice["value"]
    assert not has_hangul(notice["value"])
    _, _, _, korean = tab.fall_back_to_server(event, lang="ko")
    assert "모델 파일을 불러오지 못해" in korean["value"] and "could not be loaded" not in korean["value"]
    _, _, _, unknown = tab.fall_back_to_server(gr.EventData(None, {"reason": "<script>"}), lang="en")
    assert "model file" in unknown["value"] and "<script>" not in unknown["value"]
    _, _, _, simd = tab.fall_back_to_server(gr.EventData(None, {"reason": "no_simd"}), lang="en")
    assert "SIMD" in simd["value"]


def test_where_radio_shows_one_view():
    live, webcam = tab.show_where(tab.WHERE_SERVER)
    assert live["visible"] is False and webcam["visible"] is True
    live, webcam = tab.show_where(tab.WHERE_BROWSER)
    assert live["visible"] is True and webcam["visible"] is False


def test_the_page_gets_every_word_class_name_and_tracker_setting_it_uses():
    props = tab.live_view_props()
    js = "".join((tab.JS_DIR / name).read_text(encoding="utf-8")
                 for name in ("yolo_live.mjs", "yolo_live_boot.js", "yolo_steps.mjs"))
    used = set(re.findall(r"(?:word|status)\('([a-z_]+)'", js))
    used |= set(re.findall(r'data-word="([a-z_]+)"', tab.LIVE_TEMPLATE))
    used |= {f"fallback_{reason}" for reason in tab.FALLBACK_REASONS} | {"fallback_page"}
    assert {"start", "privacy", "stages", "nms_line", "fallback_model"} <= used  # the scan found the words
    for lang in ("ko", "en"):
        missing = used - set(props["words"][lang])
        assert not missing, f"{lang}: {missing}"
        assert all(props["words"][lang][key].strip() for key in used)
        assert len(props["names"][lang]) == len(props["short_names"][lang]) == 80
    assert props["words"]["ko"]["start"] != props["words"]["en"]["start"]
    assert props["short_names"]["en"][0] == "person" and props["short_names"]["ko"][0] == "사람"
    assert props["names"]["ko"][0] == "사람 (person)"
    assert props["defaults"]["classes"] == zoo.coco_names() and props["models"] == zoo.yolo_names()
    used_settings = set(re.findall(r"s\.([a-z_]+_thresh|track_buffer)|settings\.(fuse_score)", js))
    used_settings = {name for pair in used_settings for name in pair if name}
    assert used_settings and used_settings <= set(props["tracker"]), used_settings
    assert Path(props["page_module"]).is_file() and props["page_module"].endswith(".mjs")


def test_the_file_route_serves_the_page_folders_and_not_the_cache_around_them(tmp_path, monkeypatch, detector):
    import fastapi
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
    tab.serve_page_files()
    with gr.Blocks() as demo:
        gr.Markdown("x")
    client = TestClient(gr.mount_gradio_app(fastapi.FastAPI(), demo, path="/"))
    get = lambda path: client.get(f"/gradio_api/file={path}").status_code  # noqa: E731
    assert get(webruntime.folder() / "served.txt") == 200
    assert get(yolo_export.onnx_dir() / "served.txt") == 200
    assert get(tab.JS_DIR / "yolo_steps.mjs") == 200
    assert get(tmp_path / "ultralytics" / "yolo11n.pt") == 403
    assert get(tmp_path / "npm" / "other-package.txt") == 403
    assert get(ROOT / "tabs" / "yolo_detect" / "note.en.md") == 403
    assert get(ROOT / "tabs" / "yolo_detect" / "compute.py") == 403


# ------------------------------------------------------------------ in a class: the cameras' counts


def test_a_pages_camera_counts_are_read_as_numbers_in_range():
    assert compute.class_report({"camera": 1, "counts": {"0": 2, "2": 0, "79": 1}}) == \
        {"camera": 1, "counts": {"0": 2, "79": 1}}
    assert compute.class_report({"camera": 0, "counts": {}}) == {"camera": 0, "counts": {}}
    for bad in ({"camera": 1, "counts": {"80": 1}}, {"camera": 1, "counts": {"-1": 1}}, {"camera": 1, "counts": {"x": 1}},
                {"camera": 1, "counts": {"0": compute.MAX_DET + 1}}, {"camera": 1, "counts": {"0": True}},
                {"camera": 1, "counts": {"0": 0.5}}, {"camera": 3, "counts": {}}, {"camera": 1}, {"counts": {}}):
        assert compute.class_report(bad) is None, bad


def test_the_projector_sums_the_class_in_the_pages_language():
    reports = [{"camera": 1, "counts": {"0": 2, "2": 1}}, {"camera": 1, "counts": {"0": 1, "16": 1}},
               {"camera": 0, "counts": {}}]
    assert compute.class_totals(reports) == (2, {0: 3, 2: 1, 16: 1})
    en, ko = view.class_summary(reports, "en"), view.class_summary(reports, "ko")
    assert en["rows"] == [["person", 3, "3"], ["car", 1, "1"], ["dog", 1, "1"]]
    assert en["title"] == "Cameras on in the class: 2 · objects in view now: 5"
    assert [row[0] for row in ko["rows"]] == [classnames.coco_label("ko", c) for c in (0, 2, 16)]
    assert has_hangul(ko["title"]) and not has_hangul(str(en))
    assert view.class_one(reports[0], "en") == [["Objects the camera finds", "person 2, car 1"]]
    assert view.class_one(reports[2], "ko") == [["카메라가 찾은 물체", "없음"]]
