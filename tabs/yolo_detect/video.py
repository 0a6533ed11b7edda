"""YOLO through a whole video, frame by frame (step 6 of the lesson; compute.py has steps 1-5).

Read top to bottom, as a video job runs:
1. the upload checked: a file, not empty, not too large (`video_path`), a readable video that is short enough
   (`open_video`);
2. the frames sampled: at most VIDEO_MAX_FPS a second (the output keeps real time), at most VIDEO_MAX_SIDE
   pixels on the longer side (`sampled_frames`);
3. every sampled frame through the same detection as a photo (`compute.detect_array`), one ByteTrack for the
   whole video (`compute.track_ids`), counted (`Tally`), drawn by the view and written to a VP8 WebM;
4. the answer (`VideoResult`): the WebM, written straight into the folder the caller names (the app's output
   folder, which Gradio serves as it is and which is swept), so no temporary folder is left behind; a job that
   fails leaves no file.
"""
from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from core import models
from tabs.yolo_detect import compute
from tabs.yolo_detect.text import MAX_VIDEO_SECONDS, TEXT

MAX_VIDEO_BYTES = 50 * 1024 * 1024
VIDEO_MAX_FPS = 15  # frames above this rate are skipped (the output keeps real time)
VIDEO_MAX_SIDE = 640


# ---------------------------------------------------------------- 1. the upload


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


def count_frames(cap: cv2.VideoCapture, fps: float) -> int:
    """Frames of a container that does not say how many it has, counted up to just past the time limit (the
    capture is used up)."""
    frames = 0
    while cap.grab():
        frames += 1
        if frames / fps > MAX_VIDEO_SECONDS:
            break
    cap.release()
    return frames


def open_video(path: str) -> tuple[cv2.VideoCapture, float, int]:
    """(capture, fps, frame count), or a Problem for what is not a readable, short enough video."""
    cap = cv2.VideoCapture(path)
    ok, first = cap.read() if cap.isOpened() else (False, None)
    if not ok or first is None or first.ndim != 3:
        cap.release()
        raise TEXT.problem("not_video")
    cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if math.isfinite(fps) and 1 <= fps <= 240 else 25.0
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if frames <= 0:  # some containers do not say: count them, then start again
        frames = count_frames(cap, fps)
        cap = cv2.VideoCapture(path)
    if frames <= 1:  # FFmpeg also opens a photo as a one-frame "video"
        cap.release()
        raise TEXT.problem("single_frame")
    seconds = frames / fps
    if seconds > MAX_VIDEO_SECONDS + 0.5:
        cap.release()
        raise TEXT.problem("video_too_long", seconds=f"{seconds:.0f}", limit=MAX_VIDEO_SECONDS)
    return cap, fps, frames


# ---------------------------------------------------------------- 2. the frames


def shrink(frame: np.ndarray) -> np.ndarray:
    """At most VIDEO_MAX_SIDE on the longer side, even width and height (what the VP8 encoder wants)."""
    h, w = frame.shape[:2]
    if max(h, w) <= VIDEO_MAX_SIDE:
        return frame
    f = VIDEO_MAX_SIDE / max(h, w)
    return cv2.resize(frame, (round(w * f) // 2 * 2, round(h * f) // 2 * 2), interpolation=cv2.INTER_AREA)


def sampled_frames(cap: cv2.VideoCapture, step: int) -> Iterator[tuple[int, np.ndarray]]:
    """(1-based frame number, RGB frame) of every `step`-th frame; the others are only grabbed (not decoded)."""
    index = 0
    while cap.grab():
        index += 1
        if (index - 1) % step:
            continue
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            return
        yield index, shrink(np.ascontiguousarray(bgr[:, :, ::-1]))


# ---------------------------------------------------------------- 3. detected, counted, written


@dataclasses.dataclass
class Tally:
    """What the frames of a video add up to."""

    most: np.ndarray  # (classes,) most boxes of each class in one frame
    first_class: dict[int, int]  # track number -> the class it was first seen as
    timings: dict  # ms summed over the frames: preprocess, inference, postprocess
    frames: int = 0

    @staticmethod
    def empty(n_classes: int) -> "Tally":
        return Tally(np.zeros(n_classes, dtype=int), {}, {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0})

    def add(self, det: compute.Detection) -> None:
        if det.ids is not None:
            for number, cls in zip(det.ids.tolist(), det.classes.tolist()):
                if number:  # 0: not numbered yet
                    self.first_class.setdefault(number, cls)
        if len(det.classes):
            self.most = np.maximum(self.most, np.bincount(det.classes, minlength=len(self.most)))
        for key in self.timings:
            self.timings[key] += det.timings.get(key, 0.0)
        self.frames += 1

    def tracked(self) -> np.ndarray:
        """(classes,) objects ByteTrack numbered, by the class each was first seen as."""
        return np.bincount(np.array(list(self.first_class.values()), dtype=int), minlength=len(self.most))


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


def answer_file(folder: str | Path, source: str) -> str:
    """A new, unique file for the annotated video in `folder`, named after the uploaded one."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(dir=folder, prefix=f"{Path(source).stem[:40] or 'video'}_yolo_", suffix=".webm")
    os.close(handle)
    return path


def detect_and_write(detector, cap: cv2.VideoCapture, frames: int, step: int, out_fps: float,
                     settings: compute.Settings, annotate: Callable, out_path: str,
                     progress: Callable | None) -> Tally:
    """Every sampled frame detected (one tracker for the whole video), counted, drawn and written."""
    class_ids = settings.class_ids()
    tracker = compute.new_tracker() if settings.track else None
    tally, writer = Tally.empty(len(detector.class_names)), None
    try:
        for index, frame in sampled_frames(cap, step):
            det = compute.detect_array(detector, frame, settings.conf, settings.iou, settings.imgsz, class_ids,
                                       want_candidates=False)
            if tracker is not None:
                det.ids = compute.track_ids(tracker, det)
            tally.add(det)
            annotated = annotate(frame, det)
            writer = writer or open_writer(out_path, out_fps, (annotated.shape[1], annotated.shape[0]))
            writer.write(np.ascontiguousarray(annotated[:, :, ::-1]))
            if progress is not None and frames:
                progress(min(1.0, index / frames), tally.frames)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    return tally


def process_video(video, settings: compute.Settings, annotate: Callable[[np.ndarray, compute.Detection], np.ndarray],
                  folder: str | Path, progress: Callable[[float, int], None] | None = None) -> VideoResult:
    """A short video -> an annotated WebM in `folder`: the same detection on every frame (at most VIDEO_MAX_FPS
    frames a second), one tracker for the whole video. `annotate(frame, det)` draws a frame (the view, in the
    page's language); `progress(fraction, frames done)` is told as frames are done."""
    path = video_path(video)
    detector = models.get(settings.model)
    out_path = answer_file(folder, path)
    try:
        cap, fps, frames = open_video(path)
        step = max(1, math.ceil(fps / VIDEO_MAX_FPS))
        started = time.perf_counter()
        tally = detect_and_write(detector, cap, frames, step, fps / step, settings, annotate, out_path,
                                progress)
        if tally.frames == 0:
            raise TEXT.problem("video_no_frames")
    except BaseException:
        Path(out_path).unlink(missing_ok=True)  # no answer: nothing to keep
        raise
    return VideoResult(out_path, tally.frames, fps, fps / step, step, tally.most,
                       tally.tracked() if settings.track else None,
                       {k: v / tally.frames for k, v in tally.timings.items()}, time.perf_counter() - started)
