"""YOLO: find every object in a picture with one pass through the network, and see how.

Read top to bottom, as the lesson goes:
1. the settings (confidence, NMS IoU, input size, classes) checked and clamped, with notes (`read_settings`);
2. one frame through ultralytics' `YOLO.predict` (`detect_array`): the frame is letterboxed to the input size,
   the network runs once, and a forward hook on the Detect head keeps the raw candidate boxes of that same
   pass (`raw_candidates`), before non-maximum suppression;
3. NMS written out (`nms_with_owners`): the best box stays, the boxes of its class that overlap it by more
   than the IoU threshold go; it also says which kept box swallowed each candidate (the "before NMS" colours);
4. the grid (`model_grid`, `yolo_v1_grid`, `cell_of`): the cell that holds each box's centre is the one
   responsible for it, on YOLO11's three grids or on YOLO v1's 7x7;
5. tracking (`new_tracker`, `track_ids`): ultralytics' own ByteTrack, one per webcam session or video, gives
   each object a number that stays with it from frame to frame (measured against the IoU tracker this lesson
   had before: bench/bench_yolo_detect.py);
6. a whole video, frame by frame (`process_video`);
7. what the in-browser webcam view needs from the server (`browser_model`, `page_frame`).

No Gradio and no language here: notes are `Message`s, bad input raises `Problem`s.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from core import models, values
from core.images import load_image
from core.zoo import yolo as zoo
from core.zoo import yolo_export
from tabs.yolo_detect.text import MAX_VIDEO_SECONDS, TEXT

EXAMPLES_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "examples"
IMGSZ_CHOICES = (320, 416, 512, 640)
DEFAULT_IMGSZ = 320  # a 2-core CPU runs the nano model at roughly 20-30 ms per frame here
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.7  # ultralytics' default NMS IoU
GRID_V1 = "v1"  # YOLO v1's 7x7 grid over the whole photo
GRID_CHOICES = ("32", "16", "8", GRID_V1)  # strides of the three YOLO11 detection grids, and v1
DEFAULT_GRID = "32"
V1_S = 7
MAX_VIDEO_BYTES = 50 * 1024 * 1024
VIDEO_MAX_FPS = 15  # frames above this rate are skipped (the output keeps real time)
VIDEO_MAX_SIDE = 640
MAX_PAGE_FRAME_CHARS = 16 * 1024 * 1024  # a 1920x1080 PNG as a data URL is about 4-8 MB
# People and vehicles (COCO's English names: the class picker's values and the API's).
PEOPLE_VEHICLES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")


def example_photos() -> list[Path]:
    """The example photos; the first is the worked example the tab opens with."""
    first = EXAMPLES_DIR / "astronaut.jpg"  # a person: the class YOLO is surest of
    return [first] + [p for p in sorted(EXAMPLES_DIR.glob("*.jpg")) if p != first]


def class_names() -> list[str]:
    """The 80 COCO class names in English, in YOLO's class order (ultralytics' coco.yaml)."""
    return zoo.coco_names()


# ---------------------------------------------------------------- 1. the settings


@dataclasses.dataclass
class Settings:
    model: str
    conf: float
    iou: float
    imgsz: int
    class_names: list[str]  # the classes to find (English COCO names)
    grid: str
    track: bool
    notes: list  # Messages: what was changed in what the page or the API sent

    def class_ids(self) -> list[int] | None:
        """None = every class (no filter); [] = nothing selected."""
        names = class_names()
        if len(self.class_names) == len(names):
            return None
        index = {n: i for i, n in enumerate(names)}
        return sorted(index[c] for c in self.class_names)


def read_settings(model_name=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                  classes=None, grid=DEFAULT_GRID, track=False) -> Settings:
    """Check what the page (or an API caller, who can send anything) gave; out-of-range numbers are clamped
    with a note. classes=None means every class."""
    model_name = model_name or zoo.DEFAULT_YOLO
    if model_name not in zoo.yolo_names():
        raise TEXT.problem("unknown_model", got=repr(model_name)[:60], choices=", ".join(zoo.yolo_names()))
    notes = []
    conf, note = values.clamp(conf, 0.01, 0.99, DEFAULT_CONF, TEXT.msg("label_conf"))
    notes.append(note)
    iou, note = values.clamp(iou, 0.05, 0.95, DEFAULT_IOU, TEXT.msg("label_iou"))
    notes.append(note)
    size, note = values.clamp(imgsz, 128, 1280, DEFAULT_IMGSZ, TEXT.msg("label_imgsz"), integer=True)
    notes.append(note)
    rounded = int(round(size / 32) * 32)  # YOLO's coarsest grid has 32-pixel cells
    if rounded != size:
        notes.append(TEXT.msg("imgsz_multiple", used=rounded))
    grid, note = values.choice(str(grid), GRID_CHOICES, DEFAULT_GRID, TEXT.msg("label_grid"))
    notes.append(note)
    names = class_names()
    if classes is None:
        classes = names
    if isinstance(classes, str):
        classes = [classes]
    known = set(names)
    unknown = [str(c)[:40] for c in classes if c not in known]
    if unknown:
        notes.append(TEXT.msg("unknown_classes", names=", ".join(unknown[:5])))
    chosen = [c for c in names if c in set(classes)]  # YOLO's order, each class once
    return Settings(model_name, float(conf), float(iou), rounded, chosen, grid, bool(track),
                    [n for n in notes if n is not None])


# ---------------------------------------------------------------- 2. one frame through YOLO


@dataclasses.dataclass
class Detection:
    """What YOLO found in one frame, in the frame's pixel coordinates."""

    boxes: np.ndarray  # (N, 4) xyxy, kept after NMS
    scores: np.ndarray  # (N,)
    classes: np.ndarray  # (N,) int
    candidates: np.ndarray  # (M, 4) xyxy: every raw box above the confidence (before NMS), not clipped
    cand_scores: np.ndarray
    cand_classes: np.ndarray
    input_hw: tuple[int, int]  # the letterboxed network input (height, width)
    frame_hw: tuple[int, int]
    timings: dict  # ms: preprocess, inference, postprocess
    ids: np.ndarray | None = None  # track numbers when tracking (0: not numbered yet)

    @staticmethod
    def empty(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> "Detection":
        z4, z = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        return Detection(z4, z, z.astype(int), z4, z, z.astype(int), input_hw, frame_hw,
                         {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0})


def letterbox_geometry(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[float, float, float]:
    """(gain, pad_x, pad_y): input = frame * gain + pad, as ultralytics' LetterBox and scale_boxes do."""
    gain = min(input_hw[0] / frame_hw[0], input_hw[1] / frame_hw[1])
    pad_x = round((input_hw[1] - frame_hw[1] * gain) / 2 - 0.1)
    pad_y = round((input_hw[0] - frame_hw[0] * gain) / 2 - 0.1)
    return gain, float(pad_x), float(pad_y)


def input_to_frame(boxes_xyxy: np.ndarray, frame_hw, input_hw, clip: bool = True) -> np.ndarray:
    """Boxes in network-input pixels -> frame pixels (undo the letterbox), clipped to the frame."""
    gain, pad_x, pad_y = letterbox_geometry(frame_hw, input_hw)
    out = boxes_xyxy.astype(np.float32).copy()
    out[:, [0, 2]] = (out[:, [0, 2]] - pad_x) / gain
    out[:, [1, 3]] = (out[:, [1, 3]] - pad_y) / gain
    if not clip:
        return out
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, frame_hw[1])
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, frame_hw[0])
    return out


def raw_candidates(head_output, conf: float, class_ids: list[int] | None):
    """The Detect head's output (1, 4+nc, anchors: xywh in input pixels, class scores) -> candidates.

    Same rule as ultralytics' NMS: a box's class is its best-scoring class, it is a candidate when
    that score beats `conf`, and the class filter keeps boxes whose best class is selected.
    """
    pred = head_output[0] if isinstance(head_output, (tuple, list)) else head_output
    pred = pred[0].float()  # (4+nc, A)
    scores, classes = pred[4:].max(0)
    keep = scores > conf
    if class_ids is not None:
        import torch

        keep &= torch.isin(classes, torch.as_tensor(class_ids, device=classes.device))
    xywh = pred[:4, keep].T.cpu().numpy()
    xyxy = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
    return xyxy, scores[keep].cpu().numpy(), classes[keep].cpu().numpy().astype(int)


def detect_array(detector: zoo.Detector, frame_rgb: np.ndarray, conf: float, iou: float, imgsz: int,
                 class_ids: list[int] | None, want_candidates: bool = True) -> Detection:
    """One RGB frame through `YOLO.predict`; the raw candidates come from the same forward pass."""
    frame_hw = frame_rgb.shape[:2]
    if class_ids is not None and len(class_ids) == 0:
        return Detection.empty(frame_hw, frame_hw)
    captured: dict = {}

    def keep_output(module, inputs, output):
        captured["out"] = output
        captured["input_hw"] = tuple(int(s) * int(module.stride[0]) for s in inputs[0][0].shape[2:])

    bgr = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)  # ultralytics reads numpy frames as BGR
    with detector.lock:  # one predictor per model: one frame at a time
        hook = detector.head.register_forward_hook(keep_output) if want_candidates else None
        try:
            result = detector.yolo.predict(bgr, conf=conf, iou=iou, imgsz=imgsz, classes=class_ids,
                                           max_det=300, verbose=False)[0]
        finally:
            if hook is not None:
                hook.remove()
    boxes = result.boxes
    det = Detection(
        boxes.xyxy.cpu().numpy().astype(np.float32), boxes.conf.cpu().numpy().astype(np.float32),
        boxes.cls.cpu().numpy().astype(int), np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
        np.zeros(0, int), captured.get("input_hw", frame_hw), frame_hw, dict(result.speed),
    )
    if want_candidates and "out" in captured:
        xyxy, scores, classes = raw_candidates(captured["out"], conf, class_ids)
        # Not clipped: NMS compares the boxes as the network drew them (clipping would make them overlap more).
        det.candidates = input_to_frame(xyxy, frame_hw, det.input_hw, clip=False)
        det.cand_scores, det.cand_classes = scores, classes
    return det


def detect_picture(image, settings: Settings) -> tuple[np.ndarray, Detection]:
    """A photo or a webcam frame (anything `load_image` takes) -> (the RGB frame, what YOLO found in it)."""
    frame = np.asarray(load_image(image))
    detector = models.get(settings.model)
    return frame, detect_array(detector, frame, settings.conf, settings.iou, settings.imgsz, settings.class_ids())


# ---------------------------------------------------------------- 3. NMS written out


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in a (N,4 xyxy) with every box in b (M,4) -> (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.where(union > 0, union, np.inf)


def nms_with_owners(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray | None, iou_threshold: float):
    """Greedy NMS, as in the lesson: take the best box, delete the boxes of its class that overlap it
    by more than `iou_threshold`, repeat with what is left.

    Returns (keep, owner): keep = indices of the kept boxes, best first; owner[i] = the index of the kept
    box that removed box i (a kept box owns itself). classes=None: every box competes with every box.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    classes = np.zeros(len(boxes), int) if classes is None else np.asarray(classes).reshape(-1)
    owner = np.full(len(boxes), -1, dtype=int)
    keep: list[int] = []
    order = np.argsort(-scores, kind="stable")
    # One IoU matrix up front (the view caps the candidates), then each round is a cheap row lookup.
    overlaps = pairwise_iou(boxes, boxes) > iou_threshold
    overlaps &= classes[:, None] == classes[None, :]
    while order.size:
        best = int(order[0])
        keep.append(best)
        owner[best] = best
        rest = order[1:]
        removed = overlaps[best, rest]
        owner[rest[removed]] = best
        order = rest[~removed]
    return np.asarray(keep, dtype=int), owner


# ---------------------------------------------------------------- 4. the grid


@dataclasses.dataclass(frozen=True)
class Grid:
    """A grid of rows x cols cells over the frame: cell (r, c) spans x0 + c*cell_w ... (frame pixels)."""

    x0: float
    y0: float
    cell_w: float
    cell_h: float
    rows: int
    cols: int


def model_grid(frame_hw: tuple[int, int], input_hw: tuple[int, int], stride: int) -> Grid:
    """One of YOLO11's detection grids (stride 8, 16 or 32 pixels of the network input) mapped onto the frame."""
    gain, pad_x, pad_y = letterbox_geometry(frame_hw, input_hw)
    cell = stride / gain
    return Grid(-pad_x / gain, -pad_y / gain, cell, cell, math.ceil(input_hw[0] / stride),
                math.ceil(input_hw[1] / stride))


def yolo_v1_grid(frame_hw: tuple[int, int], s: int = V1_S) -> Grid:
    """YOLO v1: the whole image cut into S x S cells."""
    return Grid(0.0, 0.0, frame_hw[1] / s, frame_hw[0] / s, s, s)


def grid_for(det: Detection, choice: str) -> Grid:
    """The grid the page asked to see: one of the model's three, or YOLO v1's."""
    if choice == GRID_V1:
        return yolo_v1_grid(det.frame_hw)
    return model_grid(det.frame_hw, det.input_hw, int(choice))


def cell_of(boxes_xyxy: np.ndarray, grid: Grid) -> np.ndarray:
    """(row, col) of the cell holding each box's centre -> (N, 2) int, clipped into the grid."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    col = np.floor((cx - grid.x0) / grid.cell_w).astype(int).clip(0, grid.cols - 1)
    row = np.floor((cy - grid.y0) / grid.cell_h).astype(int).clip(0, grid.rows - 1)
    return np.stack([row, col], axis=1)


# ---------------------------------------------------------------- 5. tracking


def tracker_settings() -> dict:
    """ultralytics' ByteTrack settings, from its own bytetrack.yaml (read without importing ultralytics, so the
    tab can hand them to the page at build time): the server's tracker and the page's use the same numbers."""
    import importlib.util

    import yaml

    package = importlib.util.find_spec("ultralytics")
    path = Path(package.submodule_search_locations[0]) / "cfg" / "trackers" / "bytetrack.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def new_tracker():
    """ultralytics' own ByteTrack (Kalman-filter motion, two-stage IoU matching), one per webcam session or
    video: each tracker numbers its objects from 1."""
    zoo.prepare_library()
    from ultralytics.trackers.byte_tracker import BYTETracker
    from ultralytics.utils import IterableSimpleNamespace

    return BYTETracker(IterableSimpleNamespace(**tracker_settings()))


def track_ids(tracker, det: Detection) -> np.ndarray:
    """Feed one frame's kept boxes to `tracker`; the track number of each box (0: not numbered yet, as a new
    object waits one frame to be confirmed). ByteTrack answers rows [x1, y1, x2, y2, id, score, class, index
    of the box in this frame]; the boxes drawn stay the detector's own."""
    from ultralytics.engine.results import Boxes

    data = np.concatenate([det.boxes, det.scores[:, None], det.classes[:, None]], axis=1).astype(np.float32)
    rows = tracker.update(Boxes(data.reshape(-1, 6), det.frame_hw))
    ids = np.zeros(len(det.boxes), dtype=int)
    for row in np.asarray(rows).reshape(-1, 8):
        ids[int(row[7])] = int(row[4])
    return ids


# ---------------------------------------------------------------- 6. a whole video


def video_path(video) -> str:
    """The uploaded video's file, checked: present, not empty, not too large."""
    if video is None or (isinstance(video, str) and not video.strip()):
        raise TEXT.problem("video_missing")
    if isinstance(video, dict):
        video = video.get("video") or video.get("path") or video.get("name")
        if isinstance(video, dict):
            video = video.get("path")
    if isinstance(video, (list, tuple)):
        video = video[0] if video else None
    path = str(video)
    if not video or not os.path.isfile(path):
        raise TEXT.problem("video_not_found")
    size = os.path.getsize(path)
    if size == 0:
        raise TEXT.problem("video_empty")
    if size > MAX_VIDEO_BYTES:
        raise TEXT.problem("video_too_large", mb=f"{size / 1e6:.0f}", limit=MAX_VIDEO_BYTES // 2**20)
    return path


def open_video(path: str) -> tuple[cv2.VideoCapture, float, int]:
    """(capture, fps, frame count), or a Problem for what is not a readable, short enough video."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise TEXT.problem("not_video")
    ok, first = cap.read()
    if not ok or first is None or first.ndim != 3:
        cap.release()
        raise TEXT.problem("not_video")
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and 1 <= fps <= 240 else 25.0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if frames <= 0:  # some containers do not say: count them (bounded by the time limit below)
        frames = 0
        while cap.grab():
            frames += 1
            if frames / fps > MAX_VIDEO_SECONDS:
                break
        cap.release()
        cap = cv2.VideoCapture(path)
    if frames <= 1:  # FFmpeg also opens a photo as a one-frame "video"
        cap.release()
        raise TEXT.problem("single_frame")
    seconds = frames / fps
    if seconds > MAX_VIDEO_SECONDS + 0.5:
        cap.release()
        raise TEXT.problem("video_too_long", seconds=f"{seconds:.0f}", limit=MAX_VIDEO_SECONDS)
    return cap, fps, frames


def open_writer(path: str, fps: float, size_wh: tuple[int, int]) -> cv2.VideoWriter:
    """VP8 in WebM: this OpenCV's FFmpeg has no H.264 encoder, and every browser plays VP8 WebM."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"VP80"), fps, size_wh)
    if not writer.isOpened():
        raise RuntimeError("OpenCV could not open a VP8 WebM writer")
    return writer


@dataclasses.dataclass
class VideoResult:
    path: str  # the annotated WebM
    frames: int  # frames processed
    fps: float  # the original's frame rate
    out_fps: float
    step: int  # one frame in `step` was processed
    most: np.ndarray  # (80,) most boxes of each class in one frame
    tracked: np.ndarray | None  # (80,) objects tracked per class (None: tracking off)
    timings: dict  # ms per frame: preprocess, inference, postprocess
    seconds: float


def process_video(video, settings: Settings, annotate: Callable[[np.ndarray, Detection], np.ndarray],
                  progress: Callable[[float, int], None] | None = None) -> VideoResult:
    """A short video -> an annotated WebM: the same detection on every frame (at most VIDEO_MAX_FPS frames a
    second), one tracker for the whole video. `annotate(frame, det)` draws a frame (the view, in the page's
    language); `progress(fraction, frames done)` is told as frames are done."""
    path = video_path(video)
    detector = models.get(settings.model)
    n_classes = len(detector.class_names)
    class_ids = settings.class_ids()
    cap, fps, frames = open_video(path)
    step = max(1, math.ceil(fps / VIDEO_MAX_FPS))
    out_fps = fps / step
    out_path = str(Path(tempfile.mkdtemp(prefix="yolo_video_")) / f"{Path(path).stem[:40] or 'video'}_yolo.webm")
    writer = None
    tracker = new_tracker() if settings.track else None
    most = np.zeros(n_classes, dtype=int)
    first_class: dict[int, int] = {}  # track number -> the class it was first seen as
    timings = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
    done = index = 0
    started = time.perf_counter()
    try:
        while cap.grab():
            index += 1
            if (index - 1) % step:
                continue
            ok, bgr = cap.retrieve()
            if not ok or bgr is None:
                break
            frame = np.ascontiguousarray(bgr[:, :, ::-1])
            h, w = frame.shape[:2]
            if max(h, w) > VIDEO_MAX_SIDE:
                f = VIDEO_MAX_SIDE / max(h, w)
                frame = cv2.resize(frame, (round(w * f) // 2 * 2, round(h * f) // 2 * 2), interpolation=cv2.INTER_AREA)
            det = detect_array(detector, frame, settings.conf, settings.iou, settings.imgsz, class_ids,
                               want_candidates=False)
            if tracker is not None:
                det.ids = track_ids(tracker, det)
                for tid, cls in zip(det.ids.tolist(), det.classes.tolist()):
                    if tid:
                        first_class.setdefault(tid, cls)
            if len(det.classes):
                most = np.maximum(most, np.bincount(det.classes, minlength=n_classes))
            for key in timings:
                timings[key] += det.timings.get(key, 0.0)
            annotated = annotate(frame, det)
            if writer is None:
                writer = open_writer(out_path, out_fps, (annotated.shape[1], annotated.shape[0]))
            writer.write(np.ascontiguousarray(annotated[:, :, ::-1]))
            done += 1
            if progress is not None and frames:
                progress(min(1.0, index / frames), done)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if done == 0:
        raise TEXT.problem("video_no_frames")
    tracked = None
    if tracker is not None:
        tracked = np.bincount(np.array(list(first_class.values()), dtype=int), minlength=n_classes)
    return VideoResult(out_path, done, fps, out_fps, step, most, tracked,
                       {k: v / done for k, v in timings.items()}, time.perf_counter() - started)


# ---------------------------------------------------------------- 7. the in-browser webcam view's server side


def browser_model(model_name) -> tuple[Path, str]:
    """(the ONNX file of the detector, its model name) for the page that runs YOLO itself, exported on first use
    (`core.zoo.yolo_export`: the very network `models.get` gives the server path). An unknown name means the
    default (the page sends what it has). Raises a Problem when the weights are missing."""
    model_name = model_name if model_name in zoo.yolo_names() else zoo.DEFAULT_YOLO
    return yolo_export.onnx_file(model_name), model_name


def page_frame(data_url) -> bytes:
    """The bytes of a picture the page sent as a data URL ("data:image/png;base64,..."), or a Problem."""
    if not isinstance(data_url, str) or len(data_url) > MAX_PAGE_FRAME_CHARS or not data_url.startswith("data:image/"):
        raise TEXT.problem("bad_frame")
    header, _, payload = data_url.partition(",")
    if not header.endswith(";base64"):
        raise TEXT.problem("bad_frame")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise TEXT.problem("bad_frame") from None
