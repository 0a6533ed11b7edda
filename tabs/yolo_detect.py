"""YOLO: live object detection on the browser's webcam, on photos and on videos, with what YOLO does made visible.

Pure compute first:
- `detect_array`: one frame through ultralytics `YOLO.predict`, with a forward hook on the Detect head
  that keeps the raw candidate boxes of the same forward pass (no second inference) for the NMS view;
- `nms_with_owners`: greedy, class-aware non-maximum suppression written out (checked against
  torchvision.ops.nms in the tests), which also says which kept box swallowed each candidate;
- grid arithmetic (`model_grid`, `yolo_v1_grid`, `cell_of`): the S x S cells and the cell that holds
  each box's centre;
- `IouTracker`: a small IoU tracker that gives boxes stable numbers from frame to frame;
- drawing, the per-image function `yolo_detect` (also called by the webcam stream), and the video path.
Then a short `build()`.

The webcam view runs detection in each student's own browser by default (assets/js/yolo_live.mjs with
onnxruntime-web, core/webruntime.py): the server only hands out the library and the detector exported to ONNX
(core/zoo/yolo_export.py), so 30 webcams cost it almost nothing and no camera picture leaves a laptop. The
server path (`yolo_detect_live`, the same `yolo_detect` as the photo button) stays as a choice and as the
automatic fallback when the browser cannot run the detector; photos and videos always use it.
"""
from __future__ import annotations

import base64
import binascii
import colorsys
import dataclasses
import functools
import math
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import gradio as gr

from core import draw, i18n, models, text, ui, webruntime
from core.i18n import UserError, t
from core.images import load_image
from core.zoo import yolo as zoo
from core.zoo import yolo_export

TAB_ID = "yolo_detect"
TITLE = "yolo_detect.title"

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "assets" / "examples"
IMGSZ_CHOICES = (320, 416, 512, 640)
DEFAULT_IMGSZ = 320  # a 2-core CPU runs the nano model at roughly 20 ms per frame here
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.7  # ultralytics' default NMS IoU
GRID_V1 = "v1"  # YOLO v1's 7x7 grid over the whole photo
GRID_CHOICES = ("32", "16", "8", GRID_V1)  # strides of the three YOLO11 detection grids, and v1
V1_S = 7
PANEL_SIDE = 320  # long side of the explanation panels (half a 640x480 webcam frame: cheap to draw and to send)
MAX_DRAWN_CANDIDATES = 1500
MAX_VIDEO_SECONDS = 30
MAX_VIDEO_BYTES = 50 * 1024 * 1024
VIDEO_MAX_FPS = 15  # frames above this rate are skipped (the output keeps real time)
VIDEO_MAX_SIDE = 640
JS_DIR = Path(__file__).resolve().parent.parent / "assets" / "js"
WHERE_BROWSER, WHERE_SERVER = "browser", "server"
MAX_PAGE_FRAME_CHARS = 16 * 1024 * 1024  # a 1920x1080 PNG as a data URL is about 4-8 MB

i18n.add({
    "yolo_detect.title": ("4. YOLO 객체 탐지", "4. YOLO detection"),
    "yolo_detect.model": ("모델", "Model"),
    "yolo_detect.conf": ("신뢰도 임계값 (이보다 낮은 후보는 버림)", "Confidence threshold (weaker candidates are dropped)"),
    "yolo_detect.iou": ("NMS IoU 임계값 (이보다 많이 겹치면 지움)", "NMS IoU threshold (boxes overlapping more are removed)"),
    "yolo_detect.imgsz": ("입력 크기 (픽셀, 작을수록 빠름)", "Input size (pixels, smaller is faster)"),
    "yolo_detect.grid": ("격자 보기", "Grid to show"),
    "yolo_detect.grid_32": ("32픽셀 격자 (큰 물체 담당)", "32-pixel grid (large objects)"),
    "yolo_detect.grid_16": ("16픽셀 격자 (중간 물체)", "16-pixel grid (medium objects)"),
    "yolo_detect.grid_8": ("8픽셀 격자 (작은 물체)", "8-pixel grid (small objects)"),
    "yolo_detect.grid_v1": ("YOLO v1 의 7x7 격자", "YOLO v1's 7x7 grid"),
    "yolo_detect.track": ("추적 켜기 (웹캠·동영상: 같은 물체에 같은 번호)", "Tracking (webcam, video: same object keeps its number)"),
    "yolo_detect.classes": ("찾을 클래스 (COCO 80종)", "Classes to find (COCO, 80)"),
    "yolo_detect.all": ("모두 선택", "Select all"),
    "yolo_detect.none": ("모두 해제", "Clear all"),
    "yolo_detect.people_vehicles": ("사람·탈것만", "People and vehicles"),
    "yolo_detect.webcam_tab": ("웹캠 (실시간)", "Webcam (live)"),
    "yolo_detect.webcam": ("내 웹캠: 'Record' 를 누르면 서버에서 실시간 탐지", "My webcam: press 'Record' to detect live on the server"),
    "yolo_detect.where": ("탐지를 어디서 돌릴까요?", "Where does detection run?"),
    "yolo_detect.where_browser": ("이 브라우저에서 (카메라 화면이 이 컴퓨터를 떠나지 않음)",
                                  "In this browser (the camera picture stays on this computer)"),
    "yolo_detect.where_server": ("서버에서 (프레임을 서버로 보냄)", "On the server (frames are sent to it)"),
    "yolo_detect.photo_tab": ("사진", "Photo"),
    "yolo_detect.photo": ("사진 올리기", "Upload a photo"),
    "yolo_detect.run": ("탐지하기", "Detect"),
    "yolo_detect.examples": ("예시 사진", "Example photos"),
    "yolo_detect.video_tab": ("동영상", "Video"),
    "yolo_detect.video": (f"동영상 올리기 ({MAX_VIDEO_SECONDS}초 이하)", f"Upload a video (up to {MAX_VIDEO_SECONDS} s)"),
    "yolo_detect.run_video": ("동영상 전체 탐지하기", "Detect through the whole video"),
    "yolo_detect.video_out": ("탐지 결과 동영상", "Annotated video"),
    "yolo_detect.annotated": ("탐지 결과", "Detections"),
    "yolo_detect.counts": ("클래스별 개수", "Count per class"),
    "yolo_detect.inside": ("YOLO 속 들여다보기: 격자와 NMS", "Inside YOLO: the grid and NMS"),
    "yolo_detect.grid_img": ("격자와 담당 칸", "Grid and responsible cells"),
    "yolo_detect.before": ("NMS 전: 모든 후보", "Before NMS: all candidates"),
    "yolo_detect.after": ("NMS 후: 남은 상자", "After NMS: boxes kept"),
    "yolo_detect.inside_help": (
        "**왼쪽**: 흰 점은 상자의 중심, 색칠된 칸은 그 중심이 들어 있어 물체를 맡은 칸입니다. "
        "**가운데**: 신뢰도를 넘은 모든 후보 상자입니다. 같은 색 상자들은 NMS 가 하나로 합칠 무리입니다 (왼쪽 위 숫자 = 후보 수). "
        "**오른쪽**: NMS 가 남긴 상자입니다 (왼쪽 위 숫자 = 남은 상자 수).",
        "**Left**: white dots are box centres; a filled cell holds a centre, so it is responsible for that object. "
        "**Middle**: every candidate box above the confidence; boxes of one colour are a group NMS merges into one "
        "(top-left number = candidates). **Right**: the boxes NMS keeps (top-left number = boxes kept).",
    ),
})

# Words of the in-browser view (assets/js/yolo_live.mjs): the page gets both languages and shows the one of
# <html lang>; the server says the fallback notices in the language of the request.
LIVE = text.table("yolo_live", {
    "start": ("카메라 켜고 브라우저에서 탐지하기", "Start the camera and detect in this browser"),
    "stop": ("카메라 끄기", "Stop the camera"),
    "snapshot": ("지금 프레임으로 'YOLO 속 들여다보기'", "Look inside YOLO with this frame"),
    "privacy": ("이 방식에서는 탐지가 이 브라우저 안에서 돌아가서 카메라 화면이 이 컴퓨터를 떠나지 않습니다. "
                "'YOLO 속 들여다보기' 버튼을 누를 때만 그 한 장이 서버로 갑니다.",
                "In this mode detection runs inside this browser, so the camera picture never leaves this "
                "computer. Only when you press 'Look inside YOLO' is that one frame sent to the server."),
    "loading_library": ("브라우저용 추론 라이브러리(onnxruntime-web)를 준비하는 중…",
                        "Getting the in-browser inference library (onnxruntime-web) ready…"),
    "loading_model": ("모델 {model} 을 불러오는 중… (처음에는 서버가 ONNX 파일로 바꾸느라 몇 초 걸립니다)",
                      "Loading the model {model}… (the first time, the server takes a few seconds to export it to ONNX)"),
    "starting_camera": ("카메라를 켜는 중…", "Starting the camera…"),
    "camera_denied": ("카메라를 쓸 수 없습니다 ({reason}). 브라우저의 카메라 권한을 확인하거나, 사진·동영상 탭을 써 보세요.",
                      "The camera cannot be used ({reason}). Check the browser's camera permission, or use the "
                      "Photo and Video tabs."),
    "backend_webgpu": ("실행: WebGPU (그래픽 카드)", "Running on: WebGPU (graphics card)"),
    "backend_wasm": ("실행: WebAssembly SIMD (CPU, 스레드 {threads}개)", "Running on: WebAssembly SIMD (CPU, {threads} thread(s))"),
    "fps": ("초당 프레임 (FPS)", "frames per second (FPS)"),
    "stages": ("전처리 {pre} ms · 추론 {infer} ms · NMS {nms} ms · 그리기 {draw} ms",
               "pre-process {pre} ms · inference {infer} ms · NMS {nms} ms · drawing {draw} ms"),
    "nms_line": ("NMS 전 후보 {before}개 (신뢰도 > {conf}) → NMS 후 {after}개 (IoU > {iou} 로 겹친 같은 클래스 상자 제거)",
                 "Before NMS {before} candidates (confidence > {conf}) → after NMS {after} boxes (same-class boxes "
                 "overlapping by IoU > {iou} removed)"),
    "input_line": ("입력 {frame} 프레임 → 네트워크 입력 {net} · 모델 {model}",
                   "Input {frame} frame → network input {net} · model {model}"),
    "counts": ("지금 보이는 것", "In view now"),
    "none_found": ("찾은 물체가 없습니다", "Nothing found"),
    "snapshot_sent": ("이 프레임을 서버로 보냈습니다. 아래 'YOLO 속 들여다보기' 에 격자와 NMS 그림이 나옵니다.",
                      "This frame was sent to the server; the grid and NMS pictures appear under 'Inside YOLO' below."),
    "frame_failed": ("이 프레임을 처리하지 못했습니다 ({detail}).", "This frame could not be processed ({detail})."),
    "fallback_no_simd": ("이 브라우저는 WebAssembly SIMD 를 지원하지 않아 서버에서 탐지합니다.",
                         "This browser has no WebAssembly SIMD, so detection runs on the server."),
    "fallback_library": ("브라우저용 라이브러리를 불러오지 못해 서버에서 탐지합니다: {detail}",
                         "The in-browser library could not be loaded, so detection runs on the server: {detail}"),
    "fallback_model": ("모델 파일을 불러오지 못해 서버에서 탐지합니다 ({detail}).",
                       "The model file could not be loaded, so detection runs on the server ({detail})."),
    "fallback_page": ("페이지 코드를 불러오지 못해 서버에서 탐지합니다 ({detail}).",
                      "The page code could not be loaded, so detection runs on the server ({detail})."),
    "bad_frame": ("페이지가 보낸 프레임을 읽을 수 없습니다.", "The frame sent by the page could not be read."),
})
FALLBACK_REASONS = ("no_simd", "library", "model", "page")

# COCO ids of people and vehicles (person, bicycle, car, motorcycle, airplane, bus, train, truck, boat)
PEOPLE_VEHICLES = ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat")


# ------------------------------------------------------------------ settings from the UI or the API

@dataclasses.dataclass
class Settings:
    model: str
    conf: float
    iou: float
    imgsz: int
    class_names: list[str]
    grid: str
    track: bool
    notes: list[tuple[str, str]]


def _clamp(value, low: float, high: float, default: float, name: tuple[str, str],
           notes: list[tuple[str, str]]) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number):
        notes.append((f"{name[0]} 값이 숫자가 아니어서 기본값 {default} 을 씁니다.",
                      f"{name[1]} was not a number; using the default {default}."))
        return default
    if number < low or number > high:
        clamped = min(max(number, low), high)
        notes.append((f"{name[0]} {number:g} 은 범위 밖이라 {clamped:g} 로 맞췄습니다.",
                      f"{name[1]} {number:g} is out of range; using {clamped:g}."))
        return clamped
    return number


def parse_settings(model_name, conf, iou, imgsz, classes, grid, track) -> Settings:
    """Check and clamp what the UI (or an API caller, who can send anything) gave."""
    notes: list[tuple[str, str]] = []
    model_name = model_name or zoo.DEFAULT_YOLO
    if model_name not in zoo.yolo_names():
        raise UserError(f"알 수 없는 모델입니다: {model_name!r}. 고를 수 있는 모델: {', '.join(zoo.yolo_names())}",
                        f"Unknown model {model_name!r}. Choose one of: {', '.join(zoo.yolo_names())}")
    conf = _clamp(conf, 0.01, 0.99, DEFAULT_CONF, ("신뢰도", "Confidence"), notes)
    iou = _clamp(iou, 0.05, 0.95, DEFAULT_IOU, ("IoU", "IoU"), notes)
    size = _clamp(imgsz, 128, 1280, DEFAULT_IMGSZ, ("입력 크기", "Input size"), notes)
    rounded = int(round(size / 32) * 32)  # YOLO's coarsest grid has 32-pixel cells
    if rounded != size:
        notes.append((f"입력 크기는 32의 배수여야 해서 {rounded} 로 맞췄습니다.",
                      f"The input size must be a multiple of 32; using {rounded}."))
    if classes is None:
        classes = []
    if isinstance(classes, str):
        classes = [classes]
    known = set(zoo.coco_names())
    unknown = [c for c in classes if c not in known]
    if unknown:
        notes.append((f"모르는 클래스는 무시했습니다: {', '.join(map(str, unknown[:5]))}",
                      f"Unknown classes were ignored: {', '.join(map(str, unknown[:5]))}"))
    grid = str(grid) if str(grid) in GRID_CHOICES else "32"
    return Settings(model_name, conf, iou, rounded, [c for c in classes if c in known], grid, bool(track), notes)


# ------------------------------------------------------------------ one frame through YOLO


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
    ids: np.ndarray | None = None  # track numbers when tracking

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


# ------------------------------------------------------------------ NMS written out


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


# ------------------------------------------------------------------ the grid


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


def cell_of(boxes_xyxy: np.ndarray, grid: Grid) -> np.ndarray:
    """(row, col) of the cell holding each box's centre -> (N, 2) int, clipped into the grid."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    col = np.floor((cx - grid.x0) / grid.cell_w).astype(int).clip(0, grid.cols - 1)
    row = np.floor((cy - grid.y0) / grid.cell_h).astype(int).clip(0, grid.rows - 1)
    return np.stack([row, col], axis=1)


# ------------------------------------------------------------------ tracking


class IouTracker:
    """Frame-to-frame box numbering: a new box takes the number of the previous box of the same class it
    overlaps most (IoU above `match_iou`, best pairs first); unmatched boxes get new numbers; a number
    is forgotten after `max_missed` frames without its box."""

    def __init__(self, match_iou: float = 0.3, max_missed: int = 15):
        self.match_iou = match_iou
        self.max_missed = max_missed
        self.next_id = 1
        self.tracks: dict[int, tuple[np.ndarray, int, int]] = {}  # id -> (box, class, frames missed)

    def update(self, boxes: np.ndarray, classes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        classes = np.asarray(classes).reshape(-1)
        ids = np.zeros(len(boxes), dtype=int)
        track_ids = list(self.tracks)
        matched_tracks: set[int] = set()
        if track_ids and len(boxes):
            previous = np.stack([self.tracks[i][0] for i in track_ids])
            previous_cls = np.array([self.tracks[i][1] for i in track_ids])
            overlap = pairwise_iou(previous, boxes)
            overlap[previous_cls[:, None] != classes[None, :]] = 0.0
            pairs = np.argwhere(overlap > self.match_iou)
            pairs = pairs[np.argsort(-overlap[pairs[:, 0], pairs[:, 1]], kind="stable")]
            used_detections: set[int] = set()
            for t_idx, d_idx in pairs.tolist():  # best overlaps first; each track and box used once
                if track_ids[t_idx] in matched_tracks or d_idx in used_detections:
                    continue
                ids[d_idx] = track_ids[t_idx]
                matched_tracks.add(track_ids[t_idx])
                used_detections.add(d_idx)
        for d in range(len(boxes)):
            if ids[d] == 0:
                ids[d] = self.next_id
                self.next_id += 1
        for tid in track_ids:
            if tid not in matched_tracks:
                box, cls, missed = self.tracks[tid]
                if missed + 1 > self.max_missed:
                    del self.tracks[tid]
                else:
                    self.tracks[tid] = (box, cls, missed + 1)
        for d, tid in enumerate(ids):
            self.tracks[int(tid)] = (boxes[d], int(classes[d]), 0)
        return ids


# ------------------------------------------------------------------ drawing


@functools.lru_cache(maxsize=4096)
def color_for(index: int) -> tuple[int, int, int]:
    """A bright, distinct RGB colour per class (or track) number."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_detections(frame_rgb: np.ndarray, det: Detection, names: list[str]) -> np.ndarray:
    """The main view: a box, class name, confidence (and track number) per kept detection."""
    out = frame_rgb.copy()
    scale = max(0.45, min(1.2, max(out.shape[:2]) / 900))
    thickness = max(2, round(max(out.shape[:2]) / 320))
    text_thickness = max(1, round(scale * 2))
    ids = det.ids.tolist() if det.ids is not None else None
    for k, (box, score, cls) in enumerate(zip(det.boxes.tolist(), det.scores.tolist(), det.classes.tolist())):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        color = color_for(ids[k] if ids is not None else cls)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thickness)
        text = f"{names[cls]} {score:.2f}" + (f" #{ids[k]}" if ids is not None else "")
        # a filled tag in the box colour with black text: one putText, readable on any background
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, text_thickness)
        top = y1 - th - base - 4 if y1 - th - base - 4 >= 0 else y1
        cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 4), color, -1)
        cv2.putText(out, text, (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), text_thickness,
                    cv2.LINE_AA)
    return out


def panel_base(frame_rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """The frame shrunk to PANEL_SIDE for the explanation panels, and the shrink factor."""
    h, w = frame_rgb.shape[:2]
    factor = min(1.0, PANEL_SIDE / max(h, w))
    if factor < 1.0:
        return cv2.resize(frame_rgb, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_LINEAR), factor
    return np.ascontiguousarray(frame_rgb), factor


def draw_grid_panel(base: tuple[np.ndarray, float], det: Detection, grid: Grid) -> np.ndarray:
    """The frame (darkened) with the grid, the cells that hold a box centre lit, and each centre marked."""
    small, f = base
    out = cv2.convertScaleAbs(small, alpha=0.55)
    h, w = out.shape[:2]
    cells = cell_of(det.boxes, grid)
    if len(cells):
        overlay = out.copy()
        for k, (row, col) in enumerate(cells):
            color = color_for(int(det.classes[k]))
            x1, y1 = (grid.x0 + col * grid.cell_w) * f, (grid.y0 + row * grid.cell_h) * f
            cv2.rectangle(overlay, (int(x1), int(y1)), (int(x1 + grid.cell_w * f), int(y1 + grid.cell_h * f)),
                          color, -1)
        out = cv2.addWeighted(overlay, 0.55, out, 0.45, 0)
    for c in range(grid.cols + 1):
        x = int(round((grid.x0 + c * grid.cell_w) * f))
        if 0 <= x < w:
            cv2.line(out, (x, 0), (x, h - 1), (255, 255, 255), 1)
    for r in range(grid.rows + 1):
        y = int(round((grid.y0 + r * grid.cell_h) * f))
        if 0 <= y < h:
            cv2.line(out, (0, y), (w - 1, y), (255, 255, 255), 1)
    for k, box in enumerate(det.boxes):
        color = color_for(int(det.classes[k]))
        x1, y1, x2, y2 = (int(round(v * f)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, 1)
        cv2.circle(out, ((x1 + x2) // 2, (y1 + y2) // 2), 4, (255, 255, 255), -1)
        cv2.circle(out, ((x1 + x2) // 2, (y1 + y2) // 2), 3, color, -1)
    label = f"{grid.rows} x {grid.cols}"
    draw.put_label(out, label, (6, 22), scale=0.6)
    return out


def draw_nms_panels(base: tuple[np.ndarray, float], det: Detection, iou: float):
    """Before NMS: the candidates, coloured by the kept box that swallows them. After: the kept boxes.

    Returns (before, after, keep) where keep indexes det.candidates."""
    small, f = base
    before, after = small.copy(), small.copy()
    order = np.argsort(-det.cand_scores, kind="stable")[:MAX_DRAWN_CANDIDATES]
    cand, scores, classes = det.candidates[order], det.cand_scores[order], det.cand_classes[order]
    keep, owner = nms_with_owners(cand, scores, classes, iou)
    pixels = np.round(cand * f).astype(int).tolist()
    owners = owner.tolist()
    for i in np.argsort(scores).tolist():  # weakest first, so the strongest lie on top
        x1, y1, x2, y2 = pixels[i]
        cv2.rectangle(before, (x1, y1), (x2, y2), color_for(owners[i]), 1)
    for i in keep.tolist():
        x1, y1, x2, y2 = pixels[i]
        color = color_for(i)
        cv2.rectangle(after, (x1, y1), (x2, y2), color, 2)
    draw.put_label(before, f"{len(cand)}", (6, 24), scale=0.7)
    draw.put_label(after, f"{len(keep)}", (6, 24), scale=0.7)
    return before, after, order[keep]


def count_table(det: Detection, names: list[str], lang: str) -> dict:
    """{"headers", "data"} for gr.Dataframe: one row per class found, most frequent first."""
    header = ["클래스", "개수"] if lang == "ko" else ["class", "count"]
    if len(det.classes) == 0:
        return {"headers": header, "data": []}
    ids, counts = np.unique(det.classes, return_counts=True)
    rows = sorted(([names[i], c] for i, c in zip(ids.tolist(), counts.tolist())), key=lambda r: (-r[1], r[0]))
    return {"headers": header, "data": rows}


# ------------------------------------------------------------------ the per-image function


def _class_ids(settings: Settings, names: list[str]) -> list[int] | None:
    """None = every class (no filter); [] = nothing selected."""
    if len(settings.class_names) == len(names):
        return None
    index = {n: i for i, n in enumerate(names)}
    return sorted(index[c] for c in settings.class_names if c in index)


def _grid_for(det: Detection, choice: str) -> Grid:
    if choice == GRID_V1:
        return yolo_v1_grid(det.frame_hw)
    return model_grid(det.frame_hw, det.input_hw, int(choice))


def _new_state() -> dict:
    return {"tracker": None, "last": None, "fps": None}


def yolo_detect(image, model_name=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                classes=None, grid="32", track=False, state=None, request: gr.Request | None = None, *,
                panels: bool = True):
    """One image (a photo, or a webcam frame) -> (annotated, counts, info, grid panel, before NMS, after NMS, state).

    classes=None means every class; an empty list means none (an empty result). With panels=False the
    three "inside YOLO" pictures are not drawn (returned as None)."""
    started = time.perf_counter()
    frame = np.asarray(load_image(image))
    settings = parse_settings(model_name, conf, iou, imgsz, zoo.coco_names() if classes is None else classes,
                              grid, track)
    detector = models.get(settings.model)
    names = detector.class_names
    state = state if isinstance(state, dict) else _new_state()
    det = detect_array(detector, frame, settings.conf, settings.iou, settings.imgsz, _class_ids(settings, names))
    draw_started = time.perf_counter()
    if settings.track:
        if state.get("tracker") is None:
            state["tracker"] = IouTracker()
        det.ids = state["tracker"].update(det.boxes, det.classes)
    else:
        state["tracker"] = None
    annotated = draw_detections(frame, det, names)
    grid_panel = before = after = None
    if panels:
        base = panel_base(frame)
        grid_panel = draw_grid_panel(base, det, _grid_for(det, settings.grid))
        before, after, _ = draw_nms_panels(base, det, settings.iou)
    draw_ms = (time.perf_counter() - draw_started) * 1000
    total_ms = (time.perf_counter() - started) * 1000
    now = time.time()
    if state.get("last") is not None and 0 < now - state["last"] < 30:  # a longer gap: a new recording
        rate = 1.0 / (now - state["last"])
        state["fps"] = rate if state.get("fps") is None else 0.8 * state["fps"] + 0.2 * rate
    else:
        state["fps"] = None
    state["last"] = now
    lang = i18n.lang_of(request)
    info = info_text(det, settings, draw_ms, total_ms, state.get("fps"), lang)
    return annotated, count_table(det, names, lang), info, grid_panel, before, after, state


# The webcam stream refreshes the three "inside YOLO" panels once a second, not every frame: Gradio
# encodes and sends every returned picture, and four pictures per frame cut the live frame rate.
PANEL_REFRESH_S = 1.0


def yolo_detect_live(image, model_name=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                     classes=None, grid="32", track=True, state=None, request: gr.Request | None = None):
    """yolo_detect for the streaming webcam: the same detection on every frame, the panels once a second."""
    state = state if isinstance(state, dict) else _new_state()
    now = time.perf_counter()
    due = now - state.get("panels_at", float("-inf")) >= PANEL_REFRESH_S
    if due:
        state["panels_at"] = now
    annotated, counts, info, grid_panel, before, after, state = yolo_detect(
        image, model_name, conf, iou, imgsz, classes, grid, track, state, request, panels=due)
    if not due:
        grid_panel, before, after = gr.skip(), gr.skip(), gr.skip()
    return annotated, counts, info, grid_panel, before, after, state


def detect_new_photo(image, *args, request: gr.Request | None = None):
    """`yolo_detect` when the photo changes; nothing when it was cleared."""
    if image is None:
        return tuple(gr.skip() for _ in range(7))
    return yolo_detect(image, *args, request=request)


def info_text(det: Detection, settings: Settings, draw_ms: float, total_ms: float, received_fps: float | None,
              lang: str) -> str:
    tm = det.timings
    fps = 1000 / max(total_ms, 1e-6)
    lines = []
    if not settings.class_names:
        lines.append(("선택한 클래스가 없어 아무것도 찾지 않았습니다. 찾을 클래스를 골라 주세요.",
                      "No class is selected, so nothing was searched for. Pick the classes to find."))
    lines.append((f"**시간** 전처리 {tm['preprocess']:.1f} ms · 추론 {tm['inference']:.1f} ms · "
                  f"후처리(NMS) {tm['postprocess']:.1f} ms · 그리기 {draw_ms:.1f} ms · 합계 {total_ms:.1f} ms "
                  f"→ 처리 속도 {fps:.1f} FPS",
                  f"**Time** pre-process {tm['preprocess']:.1f} ms · inference {tm['inference']:.1f} ms · "
                  f"post-process (NMS) {tm['postprocess']:.1f} ms · drawing {draw_ms:.1f} ms · total {total_ms:.1f} ms "
                  f"→ {fps:.1f} FPS of processing"))
    if received_fps is not None:
        lines.append((f"**받는 프레임** {received_fps:.1f} FPS (브라우저 ↔ 서버 왕복 포함)",
                      f"**Frames received** {received_fps:.1f} FPS (browser ↔ server round trip included)"))
    lines.append((f"**NMS** 후보 {len(det.candidates)}개 (신뢰도 > {settings.conf:.2f}) → 남은 상자 {len(det.boxes)}개 "
                  f"(IoU > {settings.iou:.2f} 로 겹친 같은 클래스 상자 제거)",
                  f"**NMS** {len(det.candidates)} candidates (confidence > {settings.conf:.2f}) → {len(det.boxes)} boxes "
                  f"remain (same-class boxes overlapping by IoU > {settings.iou:.2f} removed)"))
    size = f"{det.frame_hw[1]}x{det.frame_hw[0]}"
    net = f"{det.input_hw[1]}x{det.input_hw[0]}"
    lines.append((f"**입력** {size} 프레임 → 네트워크 입력 {net} · 모델 {settings.model}",
                  f"**Input** {size} frame → network input {net} · model {settings.model}"))
    lines += [(f"⚠️ {note_ko}", f"⚠️ {note_en}") for note_ko, note_en in settings.notes]
    return "\n\n".join(ko if lang == "ko" else en for ko, en in lines)


# ------------------------------------------------------------------ video


def _video_path(video) -> str:
    if video is None or (isinstance(video, str) and not video.strip()):
        raise UserError("동영상을 먼저 올려 주세요.", "Please upload a video first.")
    if isinstance(video, dict):
        video = video.get("video") or video.get("path") or video.get("name")
        if isinstance(video, dict):
            video = video.get("path")
    if isinstance(video, (list, tuple)):
        video = video[0]
    path = str(video)
    if not os.path.isfile(path):
        raise UserError("동영상 파일을 찾을 수 없습니다.", "The video file could not be found.")
    size = os.path.getsize(path)
    if size == 0:
        raise UserError("빈 파일(0바이트)입니다.", "The file is empty (0 bytes).")
    if size > MAX_VIDEO_BYTES:
        raise UserError(f"동영상이 너무 큽니다 ({size / 1e6:.0f} MB). {MAX_VIDEO_BYTES // 2**20} MB 이하로 올려 주세요.",
                        f"The video is too large ({size / 1e6:.0f} MB). Please keep it under {MAX_VIDEO_BYTES // 2**20} MB.")
    return path


def open_video(path: str) -> tuple[cv2.VideoCapture, float, int]:
    """(capture, fps, frame count), or a UserError for what is not a readable, short enough video."""
    not_video = UserError("동영상 파일이 아니거나 읽을 수 없는 형식입니다. MP4, WEBM, MOV, AVI 동영상을 올려 주세요.",
                          "This is not a video, or its format cannot be read. Please upload an MP4, WEBM, MOV or AVI video.")
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        cap.release()
        raise not_video
    ok, first = cap.read()
    if not ok or first is None or first.ndim != 3:
        cap.release()
        raise not_video
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
        raise UserError("프레임이 하나뿐인 파일입니다 (사진?). 사진은 '사진' 탭에서 올려 주세요.",
                        "This file has a single frame (a photo?). Please upload photos in the 'Photo' tab.")
    seconds = frames / fps
    if seconds > MAX_VIDEO_SECONDS + 0.5:
        cap.release()
        raise UserError(f"동영상이 너무 깁니다 ({seconds:.0f}초). {MAX_VIDEO_SECONDS}초 이하로 잘라서 올려 주세요.",
                        f"The video is too long ({seconds:.0f} s). Please cut it to {MAX_VIDEO_SECONDS} s or less.")
    return cap, fps, frames


def open_writer(path: str, fps: float, size_wh: tuple[int, int]) -> cv2.VideoWriter:
    """VP8 in WebM: this OpenCV's FFmpeg has no H.264 encoder, and every browser plays VP8 WebM."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"VP80"), fps, size_wh)
    if not writer.isOpened():
        raise RuntimeError("OpenCV could not open a VP8 WebM writer")
    return writer


def process_video(video, model_name=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                  classes=None, track=True, request: gr.Request | None = None, progress=gr.Progress()):
    """A short video -> (annotated WebM path, counts table, info). Runs the same detection per frame."""
    path = _video_path(video)
    settings = parse_settings(model_name, conf, iou, imgsz, zoo.coco_names() if classes is None else classes,
                              "32", track)
    detector = models.get(settings.model)
    names = detector.class_names
    class_ids = _class_ids(settings, names)
    cap, fps, frames = open_video(path)
    step = max(1, math.ceil(fps / VIDEO_MAX_FPS))
    out_fps = fps / step
    out_dir = Path(tempfile.mkdtemp(prefix="yolo_video_"))
    out_path = str(out_dir / f"{Path(path).stem[:40] or 'video'}_yolo.webm")
    writer = None
    tracker = IouTracker() if settings.track else None
    most = np.zeros(len(names), dtype=int)  # most boxes of each class seen in one frame
    seen_tracks: dict[int, int] = {}  # track number -> class
    timings = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
    done = 0
    started = time.perf_counter()
    try:
        index = 0
        while True:
            ok = cap.grab()
            if not ok:
                break
            if index % step:
                index += 1
                continue
            ok, bgr = cap.retrieve()
            index += 1
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
                det.ids = tracker.update(det.boxes, det.classes)
                for tid, cls in zip(det.ids.tolist(), det.classes.tolist()):
                    seen_tracks.setdefault(tid, cls)
            if len(det.classes):
                most = np.maximum(most, np.bincount(det.classes, minlength=len(names)))
            for key in timings:
                timings[key] += det.timings.get(key, 0.0)
            annotated = draw_detections(frame, det, names)
            if writer is None:
                writer = open_writer(out_path, out_fps, (annotated.shape[1], annotated.shape[0]))
            writer.write(np.ascontiguousarray(annotated[:, :, ::-1]))
            done += 1
            if frames:
                progress(min(1.0, index / frames), desc=f"{done} frames")
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if done == 0:
        raise UserError("동영상에서 프레임을 하나도 읽지 못했습니다.", "No frame could be read from the video.")
    ko = i18n.lang_of(request) == "ko"
    header = ["클래스", "한 프레임 최대", "추적한 개수"] if ko else ["class", "most in one frame", "tracked objects"]
    per_track = np.bincount(np.array(list(seen_tracks.values()), dtype=int), minlength=len(names)) \
        if seen_tracks else np.zeros(len(names), int)
    table = {"headers": header if settings.track else header[:2],
             "data": [[names[i], int(most[i])] + ([int(per_track[i])] if settings.track else [])
                      for i in np.argsort(-most, kind="stable").tolist() if most[i] > 0]}
    elapsed = time.perf_counter() - started
    per = {k: v / done for k, v in timings.items()}
    lines = [(f"**{done}개 프레임** ({out_fps:.1f} FPS 동영상)을 {elapsed:.1f}초에 처리했습니다 → 초당 {done / elapsed:.1f} 프레임.",
              f"**{done} frames** (a {out_fps:.1f} FPS video) processed in {elapsed:.1f} s → {done / elapsed:.1f} frames per second."),
             (f"프레임당 전처리 {per['preprocess']:.1f} ms · 추론 {per['inference']:.1f} ms · 후처리 {per['postprocess']:.1f} ms",
              f"Per frame: pre-process {per['preprocess']:.1f} ms · inference {per['inference']:.1f} ms · "
              f"post-process {per['postprocess']:.1f} ms")]
    if step > 1:
        lines.append((f"원본 {fps:.0f} FPS 중 {step}장마다 1장을 처리했습니다.",
                      f"The original is {fps:.0f} FPS; one frame in {step} was processed."))
    if not settings.class_names:
        lines.append(("선택한 클래스가 없어 아무것도 찾지 않았습니다.", "No class is selected, so nothing was searched for."))
    lines += [(f"⚠️ {note_ko}", f"⚠️ {note_en}") for note_ko, note_en in settings.notes]
    info = "\n\n".join(line_ko if ko else line_en for line_ko, line_en in lines)
    return out_path, table, info


# ------------------------------------------------------------------ the in-browser view (server side)


def class_names(lang: str, short: bool = False) -> list[str]:
    """The 80 COCO names as the page shows them in `lang`: short ("사람") for box labels, else as in the
    counts ("사람 (person)"). Ultralytics' English names when core.classnames is not there."""
    try:
        from core import classnames
    except ImportError:
        return zoo.coco_names()
    return classnames.coco(lang) if short else [classnames.coco_label(lang, i) for i in range(len(zoo.coco_names()))]


def _both(message) -> dict:
    """{"ko": ..., "en": ...} of a Problem or of an old-style UserError, for the page to pick from."""
    if isinstance(message, text.Problem):
        return {lang: message.say(lang) for lang in text.LANGS}
    return {"ko": getattr(message, "ko", str(message)), "en": getattr(message, "en", str(message))}


def browser_files(request_data) -> dict:
    """Called by the page (a gr.HTML server function) on Start and on a change of model: where onnxruntime-web
    and the ONNX file of the chosen detector are, downloading or exporting them on first use.

    Answers, never raises: with ok False the page shows `message` in its language and falls back to the
    server path (reason "library" or "model")."""
    model_name = request_data.get("model") if isinstance(request_data, dict) else None
    if model_name not in zoo.yolo_names():
        model_name = zoo.DEFAULT_YOLO
    try:
        ort_dir = webruntime.ensure()
    except text.Problem as problem:
        return {"ok": False, "reason": "library", "message": _both(problem)}
    try:
        model_file = yolo_export.onnx_file(model_name)
    except (text.Problem, UserError) as problem:  # the weights are missing and cannot be downloaded
        return {"ok": False, "reason": "model", "message": _both(problem)}
    except Exception as exc:  # an export that failed: the server path still works
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"ok": False, "reason": "model", "message": {"ko": detail, "en": detail}}
    return {"ok": True, "ort_dir": str(ort_dir), "model_file": str(model_file), "model": model_name}


def show_where(where):
    """The radio "where does detection run": the in-browser view or the server's webcam stream."""
    in_browser = where != WHERE_SERVER
    return gr.update(visible=in_browser), gr.update(visible=not in_browser)


def fall_back_to_server(evt: gr.EventData, request: gr.Request | None = None):
    """The page could not run the detector (no WebAssembly SIMD, library or model not loadable): switch to the
    server path and say why, in the language of the page."""
    reason = getattr(evt, "reason", "model")
    reason = reason if reason in FALLBACK_REASONS else "model"
    detail = str(getattr(evt, "detail", ""))[:300]
    notice = "⚠️ " + LIVE.say(text.lang_of(request), f"fallback_{reason}", detail=detail)
    return WHERE_SERVER, gr.update(visible=False), gr.update(visible=True), gr.update(value=notice, visible=True)


def page_frame(data_url) -> bytes:
    """The bytes of a picture the page sent as a data URL ("data:image/png;base64,..."), or a Problem."""
    if not isinstance(data_url, str) or len(data_url) > MAX_PAGE_FRAME_CHARS or not data_url.startswith("data:image/"):
        raise LIVE.problem("bad_frame")
    header, _, payload = data_url.partition(",")
    if not header.endswith(";base64"):
        raise LIVE.problem("bad_frame")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise LIVE.problem("bad_frame") from None


def inside_yolo_from_page(model_name, conf, iou, imgsz, classes, grid, evt: gr.EventData,
                          request: gr.Request | None = None):
    """The page's current frame (its "look inside YOLO" button) through the server path once: boxes, counts,
    info and the three "inside YOLO" pictures of that frame."""
    try:
        frame = page_frame(getattr(evt, "image", None))
    except text.Problem as problem:
        raise gr.Error(problem.say(text.lang_of(request)), print_exception=False) from None
    annotated, counts, info, grid_img, before, after, _ = yolo_detect(
        frame, model_name, conf, iou, imgsz, classes, grid, False, None, request)
    return annotated, counts, info, grid_img, before, after


def live_view_props() -> dict:
    """What the page needs besides its code: words and class names in both languages, the controls'
    defaults, the file names of onnxruntime-web and where the page code is (served by Gradio's file route)."""
    page_module = JS_DIR / "yolo_live.mjs"
    version = max(p.stat().st_mtime_ns for p in JS_DIR.glob("*.*js"))  # a new page version is fetched anew
    return dict(
        words={lang: {key.split(".", 1)[1]: text.say(lang, key) for key in text.KO if key.startswith("yolo_live.")}
               for lang in text.LANGS},
        names={lang: class_names(lang) for lang in text.LANGS},
        short_names={lang: class_names(lang, short=True) for lang in text.LANGS},
        models=zoo.yolo_names(),
        defaults=dict(model=zoo.DEFAULT_YOLO, conf=DEFAULT_CONF, iou=DEFAULT_IOU, imgsz=DEFAULT_IMGSZ,
                      classes=zoo.coco_names(), track=True),
        ort_bundles=dict(wasm=webruntime.WASM_BUNDLE, webgpu=webruntime.WEBGPU_BUNDLE),
        page_module=str(page_module),
        page_version=str(version),
        server_webcam_id="yolo-webcam",
    )


def serve_page_files() -> None:
    """Let Gradio's file route serve exactly three folders to the page: the page code, onnxruntime-web's
    files and the exported ONNX detectors (not the rest of the cache or the home folder). Gradio serves
    them with the type Python's mimetypes gives: application/wasm for .wasm (needed for WebAssembly's
    streaming compile), a JavaScript type for .mjs (tested in tests/test_webruntime.py)."""
    gr.set_static_paths([JS_DIR, webruntime.folder(), yolo_export.onnx_dir()])


LIVE_TEMPLATE = """
<div class="yl">
  <div class="yl-bar">
    <button type="button" class="yl-btn yl-primary" data-role="start" data-word="start" disabled></button>
    <button type="button" class="yl-btn" data-role="stop" data-word="stop" hidden></button>
    <button type="button" class="yl-btn" data-role="snapshot" data-word="snapshot" disabled></button>
    <span class="yl-backend" data-role="backend"></span>
  </div>
  <p class="yl-privacy" data-word="privacy"></p>
  <div class="yl-stage" data-role="stage" hidden>
    <video data-role="video" muted playsinline></video>
    <canvas data-role="overlay"></canvas>
  </div>
  <div class="yl-status" data-role="status" role="status" aria-live="polite"></div>
  <div class="yl-stats" data-role="stats"></div>
</div>
"""

# Scoped to the view by Gradio. The video is mirrored by CSS; the canvas is not, because the page detects
# on the mirrored picture and draws its boxes in that picture's coordinates.
LIVE_CSS = """
.yl { display: flex; flex-direction: column; gap: 8px; }
.yl-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.yl-btn { padding: 8px 14px; border-radius: 8px; border: 1px solid #888; background: #f3f4f6; font-weight: 600;
          cursor: pointer; color: #111; }
.yl-btn:disabled { opacity: 0.5; cursor: default; }
.yl-primary { background: #2563eb; color: #fff; border-color: #2563eb; }
.yl-backend { font-weight: 600; }
.yl-privacy { margin: 0; font-size: 0.9em; }
.yl-stage { position: relative; width: 100%; max-width: 800px; line-height: 0; background: #000; }
.yl-stage[hidden] { display: none; }
.yl-stage video { width: 100%; height: auto; transform: scaleX(-1); }
.yl-stage canvas { position: absolute; left: 0; top: 0; width: 100%; height: 100%; pointer-events: none; }
.yl-status { min-height: 1.4em; font-weight: 600; }
.yl-figures { display: flex; flex-wrap: wrap; gap: 6px 18px; }
.yl-figures b { font-size: 1.4em; }
.yl-counts { margin-top: 6px; border-collapse: collapse; }
.yl-counts caption { text-align: left; font-weight: 700; }
.yl-counts td { padding: 2px 10px; border-bottom: 1px solid #ddd; }
"""

# The tab's controls reach the page's running detector in the browser, without a trip to the server.
SETTINGS_TO_PAGE_JS = """
(model, conf, iou, imgsz, classes, track) => {
  window.dlclassYoloSettings = { model, conf, iou, imgsz, classes, track };
}
"""


# ------------------------------------------------------------------ UI


def example_paths() -> list[str]:
    return sorted(str(p) for p in EXAMPLES_DIR.glob("*.jpg"))


def build() -> None:
    names = zoo.coco_names()
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            model = gr.Dropdown(choices=zoo.yolo_names(), value=zoo.DEFAULT_YOLO, label=t("yolo_detect.model"),
                                elem_id="yolo-model")
            conf = gr.Slider(0.01, 0.99, value=DEFAULT_CONF, step=0.01, label=t("yolo_detect.conf"))
            iou = gr.Slider(0.05, 0.95, value=DEFAULT_IOU, step=0.05, label=t("yolo_detect.iou"))
            imgsz = gr.Radio(choices=list(IMGSZ_CHOICES), value=DEFAULT_IMGSZ, label=t("yolo_detect.imgsz"),
                             elem_id="yolo-imgsz")
            grid = gr.Radio(choices=[(t("yolo_detect.grid_32"), "32"), (t("yolo_detect.grid_16"), "16"),
                                     (t("yolo_detect.grid_8"), "8"), (t("yolo_detect.grid_v1"), GRID_V1)],
                            value="32", label=t("yolo_detect.grid"))
            track = gr.Checkbox(value=True, label=t("yolo_detect.track"))
            with gr.Accordion(t("yolo_detect.classes"), open=False):
                with gr.Row():
                    select_all = gr.Button(t("yolo_detect.all"), size="sm")
                    select_none = gr.Button(t("yolo_detect.none"), size="sm")
                    select_people = gr.Button(t("yolo_detect.people_vehicles"), size="sm")
                classes = gr.CheckboxGroup(choices=names, value=names, show_label=False, elem_id="yolo-classes")
        with gr.Column(scale=3):
            with gr.Tabs():
                with gr.Tab(t("yolo_detect.webcam_tab"), id="yolo-webcam"):
                    where = gr.Radio(choices=[(t("yolo_detect.where_browser"), WHERE_BROWSER),
                                              (t("yolo_detect.where_server"), WHERE_SERVER)],
                                     value=WHERE_BROWSER, label=t("yolo_detect.where"), elem_id="yolo-where")
                    notice = gr.Markdown(visible=False, elem_id="yolo-notice")
                    live = gr.HTML(html_template=LIVE_TEMPLATE, css_template=LIVE_CSS,
                                   js_on_load=(JS_DIR / "yolo_live_boot.js").read_text(encoding="utf-8"),
                                   server_functions=[browser_files], elem_id="yolo-live", **live_view_props())
                    with gr.Row():
                        webcam = gr.Image(sources=["webcam"], streaming=True, type="numpy", height=360,
                                          label=t("yolo_detect.webcam"), elem_id="yolo-webcam", visible=False,
                                          webcam_options=gr.WebcamOptions(
                                              mirror=True,
                                              constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}))
                with gr.Tab(t("yolo_detect.photo_tab"), id="yolo-photo"):
                    with gr.Row():
                        photo = gr.Image(sources=["upload", "clipboard"], type="pil", height=360,
                                         label=t("yolo_detect.photo"), elem_id="yolo-photo")
                        with gr.Column():
                            run = gr.Button(t("yolo_detect.run"), variant="primary", elem_id="yolo-run")
                            gr.Examples(example_paths(), inputs=photo, label=t("yolo_detect.examples"))
                with gr.Tab(t("yolo_detect.video_tab"), id="yolo-video"):
                    with gr.Row():
                        video = gr.Video(sources=["upload"], label=t("yolo_detect.video"), height=360,
                                         elem_id="yolo-video-in")
                        video_out = gr.Video(label=t("yolo_detect.video_out"), height=360, interactive=False,
                                             elem_id="yolo-video-out")
                    run_video = gr.Button(t("yolo_detect.run_video"), variant="primary", elem_id="yolo-run-video")
            with gr.Row():
                annotated = gr.Image(label=t("yolo_detect.annotated"), format="jpeg", interactive=False, scale=3,
                                     elem_id="yolo-annotated", buttons=["fullscreen"])
                with gr.Column(scale=1, min_width=220):
                    counts = gr.Dataframe(label=t("yolo_detect.counts"), interactive=False, elem_id="yolo-counts")
            info = gr.Markdown(elem_id="yolo-info")
    with gr.Accordion(t("yolo_detect.inside"), open=True):
        gr.Markdown(t("yolo_detect.inside_help"))
        with gr.Row():
            panel = dict(format="jpeg", interactive=False, height=330, buttons=["fullscreen"])
            grid_img = gr.Image(label=t("yolo_detect.grid_img"), elem_id="yolo-grid", **panel)
            before_img = gr.Image(label=t("yolo_detect.before"), elem_id="yolo-before", **panel)
            after_img = gr.Image(label=t("yolo_detect.after"), elem_id="yolo-after", **panel)
    state = gr.State(None)

    controls = [model, conf, iou, imgsz, classes, grid, track]
    outputs = [annotated, counts, info, grid_img, before_img, after_img, state]
    # Photos: no tracking and no frame-rate state between clicks (each photo stands alone), hence a hidden
    # "track off" input and a state that is never written back.
    no_track = gr.Checkbox(value=False, visible=False)
    photo_state, photo_state_sink = gr.State(None), gr.State(None)
    photo_inputs = [photo, model, conf, iou, imgsz, classes, grid, no_track, photo_state]
    photo_outputs = outputs[:-1] + [photo_state_sink]
    run.click(yolo_detect, photo_inputs, photo_outputs, api_name="yolo_detect", **ui.MODEL)
    # A new photo (an upload or a click on an example) is detected at once; clearing the photo does nothing.
    photo.change(detect_new_photo, photo_inputs, photo_outputs, api_visibility="private", **ui.MODEL)
    webcam.stream(yolo_detect_live, [webcam] + controls + [state], outputs, api_name="yolo_detect_webcam",
                  # No trigger_mode="always_last": with it Gradio 6.31 delivers one frame and then stops
                  # (measured: 0.1 FPS). The webcam itself skips frames while one is being processed.
                  stream_every=0.1, show_progress="hidden", **ui.STREAM)
    # The in-browser view: its files, the switch between it and the server stream, its fallback, its
    # "look inside YOLO" frame, and the controls applied to it at once (in the browser, no server trip).
    serve_page_files()
    where.change(show_where, where, [live, webcam], api_visibility="private", **ui.QUICK)
    live.fallback(fall_back_to_server, None, [where, live, webcam, notice], api_visibility="private", **ui.QUICK)
    live.snapshot(inside_yolo_from_page, [model, conf, iou, imgsz, classes, grid], outputs[:6],
                  api_visibility="private", **ui.MODEL)
    gr.on([model.change, conf.change, iou.change, imgsz.change, classes.change, track.change], None,
          [model, conf, iou, imgsz, classes, track], None, js=SETTINGS_TO_PAGE_JS)
    run_video.click(process_video, [video, model, conf, iou, imgsz, classes, track], [video_out, counts, info],
                    api_name="yolo_detect_video", **ui.MODEL)
    select_all.click(lambda: gr.update(value=names), None, classes, api_visibility="private", **ui.QUICK)
    select_none.click(lambda: gr.update(value=[]), None, classes, api_visibility="private", **ui.QUICK)
    select_people.click(lambda: gr.update(value=list(PEOPLE_VEHICLES)), None, classes, api_visibility="private",
                        **ui.QUICK)
