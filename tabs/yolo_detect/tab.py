"""The YOLO tab: the controls on the left; a photo, the webcam (detected in the student's own browser, or on the
server) and a video on the right, with the detections, the counts and the info lines below; the grid and the
before/after-NMS pictures under "Inside YOLO".

The webcam view runs detection in each student's browser by default (assets/js/yolo_live.mjs with
onnxruntime-web, core/webruntime.py): the server only hands out the library and the detector exported to ONNX
(core/zoo/yolo_export.py), so 30 webcams cost it almost nothing and no camera picture leaves a laptop. The server
path (`yolo_detect_webcam`) stays as a choice and as the automatic fallback; photos and videos always use it."""
from __future__ import annotations

import math
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from core import classnames, components, events, outputs, text, webruntime
from core.class_results import Collect
from core.zoo import yolo as zoo
from core.zoo import yolo_export
from tabs.yolo_detect import compute, view
from tabs.yolo_detect import video as yolo_video
from tabs.yolo_detect.text import TEXT, live_words

JS_DIR = Path(__file__).resolve().parent.parent.parent / "assets" / "js"
TAB_ID = "yolo_detect"
WHERE_BROWSER, WHERE_SERVER = "browser", "server"
FALLBACK_REASONS = ("no_simd", "library", "model", "page")
# The server-path webcam refreshes the three "inside YOLO" pictures once a second, not every frame: every
# returned picture is encoded and sent, and four pictures per frame cut the live frame rate.
PANEL_REFRESH_S = 1.0
# In a class, each page's camera counts are one report (at most one every 2 s, sent again every 5 s while it runs);
# a page whose camera stopped, or that closed, no longer counts after this long.
CLASS_FRESH_S = 10.0


# ---------------------------------------------------------------- the events


def yolo_detect(image, model_name, conf, iou, imgsz, classes, grid, *, lang: str = "ko"):
    """A photo -> (annotated, counts, info, grid panel, before NMS, after NMS)."""
    started = time.perf_counter()
    settings = compute.read_settings(model_name, conf, iou, imgsz, classes, grid)
    frame, det = compute.detect_picture(image, settings)
    drawing = time.perf_counter()
    annotated = view.draw_detections(frame, det, lang)
    panels = view.inside_panels(frame, det, settings)
    done = time.perf_counter()
    info = view.info_markdown(det, settings, (done - drawing) * 1000, (done - started) * 1000, None, lang)
    return (annotated, view.counts_table(det, lang), info, *panels)


def yolo_detect_webcam(frame, model_name, conf, iou, imgsz, classes, grid, track, state, *, lang: str = "ko"):
    """One frame of the server-path webcam -> the outputs of a photo and the session's state (its ByteTrack,
    the frame rate received); the "inside YOLO" pictures once a second."""
    started = time.perf_counter()
    state = state if isinstance(state, dict) else {}
    settings = compute.read_settings(model_name, conf, iou, imgsz, classes, grid, track)
    picture, det = compute.detect_picture(frame, settings)
    drawing = time.perf_counter()
    if settings.track:
        if state.get("tracker") is None or state.get("tracked_model") != settings.model:
            state["tracker"], state["tracked_model"] = compute.new_tracker(), settings.model
        det.ids = compute.track_ids(state["tracker"], det)
    else:
        state["tracker"] = None
    annotated = view.draw_detections(picture, det, lang)
    panels = (gr.skip(), gr.skip(), gr.skip())
    if drawing - state.get("panels_at", -math.inf) >= PANEL_REFRESH_S:
        state["panels_at"] = drawing
        panels = view.inside_panels(picture, det, settings)
    done = time.perf_counter()
    now = time.time()
    last = state.get("last")
    if last is not None and 0 < now - last < 30:  # a longer gap: a new recording
        rate = 1.0 / (now - last)
        state["fps"] = rate if state.get("fps") is None else 0.8 * state["fps"] + 0.2 * rate
    else:
        state["fps"] = None
    state["last"] = now
    info = view.info_markdown(det, settings, (done - drawing) * 1000, (done - started) * 1000, state["fps"], lang)
    return (annotated, view.counts_table(det, lang), info, *panels, state)


def yolo_detect_video(video, model_name, conf, iou, imgsz, classes, track, progress=gr.Progress(), *,
                      lang: str = "ko"):
    """A short video -> (annotated WebM, counts table, info)."""
    settings = compute.read_settings(model_name, conf, iou, imgsz, classes, compute.DEFAULT_GRID, track)
    # Written into the app's output folder: Gradio serves it from there as it is (no copy), and it is swept.
    result = yolo_video.process_video(
        video, settings, lambda frame, det: view.draw_detections(frame, det, lang), outputs.OUTPUT_DIR,
        lambda fraction, done: progress(fraction, desc=TEXT.say(lang, "video_progress", done=done)))
    return result.path, view.video_table(result, lang), view.video_info(result, settings, lang)


def inside_yolo_from_page(model_name, conf, iou, imgsz, classes, grid, evt: gr.EventData, *, lang: str = "ko"):
    """The page's current frame (its "look inside YOLO" button) through the server path once: boxes, counts,
    info and the three "inside YOLO" pictures of that frame."""
    frame = compute.page_frame(getattr(evt, "image", None))
    return yolo_detect(frame, model_name, conf, iou, imgsz, classes, grid, lang=lang)


def fall_back_to_server(evt: gr.EventData, *, lang: str = "ko"):
    """The page could not run the detector (no WebAssembly SIMD, library or model not loadable): switch to the
    server path and say why."""
    reason = getattr(evt, "reason", "model")
    reason = reason if reason in FALLBACK_REASONS else "model"
    detail = str(getattr(evt, "detail", ""))[:300]
    notice = TEXT.say(lang, "note", note=TEXT.say(lang, f"live_fallback_{reason}", detail=detail))
    return WHERE_SERVER, gr.update(visible=False), gr.update(visible=True), gr.update(value=notice, visible=True)


def show_where(where):
    """The radio "where does detection run": the in-browser view or the server's webcam stream."""
    in_browser = where != WHERE_SERVER
    return gr.update(visible=in_browser), gr.update(visible=not in_browser)


def select_all():
    return gr.update(value=compute.class_names())


def select_none():
    return gr.update(value=[])


def select_people_vehicles():
    return gr.update(value=list(compute.PEOPLE_VEHICLES))


# ---------------------------------------------------------------- the in-browser view's server side


def browser_files(request_data) -> dict:
    """Called by the page (a gr.HTML server function) on Start and on a change of model, with {model, lang}:
    where onnxruntime-web and the ONNX file of the chosen detector are, downloading or exporting them on first use.

    Answers, never raises: with ok False the page shows `message` (in its language) and falls back to the
    server path (reason "library" or "model")."""
    data = request_data if isinstance(request_data, dict) else {}
    lang = data.get("lang") if data.get("lang") in text.LANGS else text.DEFAULT_LANG
    try:
        ort_dir = webruntime.ensure()
    except text.Problem as problem:
        return {"ok": False, "reason": "library", "message": problem.say(lang)}
    try:
        # The page downloads the compact twin (8-bit weights: 3.0 MB instead of 10.8 MB, the same boxes:
        # tests/test_yolo_export.py), from the ONNX folder that core/server.py marks immutable.
        _, model_name = compute.browser_model(data.get("model"))
        model_file = yolo_export.onnx_file(model_name, compact=True)
    except text.Problem as problem:  # the weights are missing and cannot be downloaded
        return {"ok": False, "reason": "model", "message": problem.say(lang)}
    except Exception as exc:  # an export that failed: the server path still works
        detail = f"{type(exc).__name__}: {str(exc)[:200]}"
        return {"ok": False, "reason": "model", "message": TEXT.say(lang, "export_failed", detail=detail)}
    return {"ok": True, "ort_dir": str(ort_dir), "model_file": str(model_file), "model": model_name}


def live_view_props() -> dict:
    """What the page needs besides its code: its words and the class names in both languages (it shows the one
    of <html lang>), the controls' defaults, ByteTrack's settings (the server's), the file names of
    onnxruntime-web and where the page code is (served by Gradio's file route)."""
    n_classes = len(compute.class_names())
    version = max(p.stat().st_mtime_ns for p in JS_DIR.glob("yolo_*.*js"))  # a new page version is fetched anew
    return dict(
        words={lang: live_words(lang) for lang in text.LANGS},
        names={lang: [classnames.coco_label(lang, i) for i in range(n_classes)] for lang in text.LANGS},
        short_names={lang: classnames.coco(lang) for lang in text.LANGS},
        models=zoo.yolo_names(),
        defaults=dict(model=zoo.DEFAULT_YOLO, conf=compute.DEFAULT_CONF, iou=compute.DEFAULT_IOU,
                      imgsz=compute.DEFAULT_IMGSZ, classes=compute.class_names(), track=True),
        tracker=compute.tracker_settings(),
        ort_bundles=dict(wasm=webruntime.WASM_BUNDLE, webgpu=webruntime.WEBGPU_BUNDLE),
        page_module=str(JS_DIR / "yolo_live.mjs"),
        page_version=str(version),
        server_webcam_id="yolo-webcam",
    )


def serve_page_files() -> None:
    """Let Gradio's file route serve exactly three folders to the page: the page code, onnxruntime-web's
    files and the exported ONNX detectors (not the rest of the cache or the home folder). Gradio serves
    them with the type Python's mimetypes gives: application/wasm for .wasm (needed for WebAssembly's
    streaming compile), a JavaScript type for .mjs (tested in tests/test_webruntime.py)."""
    gr.set_static_paths([JS_DIR, webruntime.folder(), yolo_export.onnx_dir()])


def export_default_detector() -> Path:
    """Warm-up: the default detector's ONNX file, so the first student who starts the camera does not wait."""
    return yolo_export.onnx_file(zoo.DEFAULT_YOLO, compact=True)


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


# ---------------------------------------------------------------- the tab, section by section


def settings_column() -> SimpleNamespace:
    """The left column: the settings of a detection (declared in compute.SETTINGS) and the classes to find."""
    ui, setting, names = TEXT.ui, compute.SETTINGS, compute.class_names()
    c = SimpleNamespace()
    c.model = components.control(setting["model"], widget="dropdown", label=ui("model"), elem_id="yolo-model")
    c.conf = components.control(setting["conf"], label=ui("conf"))
    c.iou = components.control(setting["iou"], label=ui("iou"))
    # A few good sizes to pick from (the API takes any multiple of 32 in the setting's range).
    c.imgsz = components.Radio(list(compute.IMGSZ_CHOICES), value=setting["imgsz"].default, label=ui("imgsz"),
                               elem_id="yolo-imgsz")
    c.grid = components.control(setting["grid"], label=ui("grid"),
                                choices=[(ui(f"grid_{g}"), g) for g in compute.GRID_CHOICES])
    c.track = gr.Checkbox(value=setting["track"].default, label=ui("track"))
    with gr.Accordion(ui("classes"), open=False):
        with gr.Row():
            c.all_button = gr.Button(ui("all"), size="sm")
            c.none_button = gr.Button(ui("none"), size="sm")
            c.people_button = gr.Button(ui("people_vehicles"), size="sm")
        # Labels in the page's language ("사람 (person)"), values COCO's English names (the API's).
        c.classes = components.CheckboxGroup([(ui(f"class_{i}"), name) for i, name in enumerate(names)],
                                             value=names, show_label=False, elem_id="yolo-classes")
    return c


def photo_tab() -> SimpleNamespace:
    """A photo: the tab opens on its worked example (the first example photo, detected at warm-up)."""
    ui, examples = TEXT.ui, compute.example_photos()
    with gr.Row():
        photo = components.Image(value=str(examples[0]), sources=["upload", "clipboard"], height=360,
                                 label=ui("photo"), elem_id="yolo-photo")
        with gr.Column():
            run = gr.Button(ui("run"), variant="primary", elem_id="yolo-run")
            gr.Examples([[str(p)] for p in examples], inputs=[photo], label=ui("examples"))
    return SimpleNamespace(photo=photo, run=run)


def webcam_tab() -> SimpleNamespace:
    """The webcam: detected in this browser (the default), or streamed to the server."""
    ui = TEXT.ui
    where = components.Radio([(ui("where_browser"), WHERE_BROWSER), (ui("where_server"), WHERE_SERVER)],
                             value=WHERE_BROWSER, label=ui("where"), elem_id="yolo-where")
    notice = gr.Markdown(visible=False, elem_id="yolo-notice")
    live = gr.HTML(html_template=LIVE_TEMPLATE, css_template=LIVE_CSS,
                   js_on_load=(JS_DIR / "yolo_live_boot.js").read_text(encoding="utf-8"),
                   server_functions=[browser_files], elem_id="yolo-live", **live_view_props())
    webcam = components.Image(
        sources=["webcam"], streaming=True, height=360, label=ui("webcam"), elem_id="yolo-webcam", visible=False,
        webcam_options=gr.WebcamOptions(
            mirror=True, constraints={"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}))
    return SimpleNamespace(where=where, notice=notice, live=live, webcam=webcam)


def video_tab() -> SimpleNamespace:
    ui = TEXT.ui
    with gr.Row():
        video = gr.Video(sources=["upload"], label=ui("video"), height=360, elem_id="yolo-video-in")
        video_out = gr.Video(label=ui("video_out"), height=360, interactive=False, elem_id="yolo-video-out")
    run_video = gr.Button(ui("run_video"), variant="primary", elem_id="yolo-run-video")
    return SimpleNamespace(video=video, video_out=video_out, run_video=run_video)


def sources_and_results() -> SimpleNamespace:
    """The right column: a photo, the webcam and a video in tabs, then the detections, the counts and the info."""
    ui = TEXT.ui
    with gr.Tabs(elem_id="yolo-sources"):
        with gr.Tab(ui("photo_tab"), id="yolo-photo-tab"):
            photo = photo_tab()
        with gr.Tab(ui("webcam_tab"), id="yolo-webcam-tab", elem_id="yolo-webcam-tab"):
            webcam = webcam_tab()
        with gr.Tab(ui("video_tab"), id="yolo-video-tab"):
            video = video_tab()
    with gr.Row():
        annotated = components.image_output(label=ui("annotated"), scale=3, elem_id="yolo-annotated")
        with gr.Column(scale=1, min_width=220):
            counts = gr.Dataframe(label=ui("counts"), interactive=False, elem_id="yolo-counts")
    info = gr.Markdown(elem_id="yolo-info")
    return SimpleNamespace(**vars(photo), **vars(webcam), **vars(video), annotated=annotated, counts=counts,
                           info=info)


def inside_yolo() -> SimpleNamespace:
    """Under the results: the grid and the boxes before and after NMS."""
    ui = TEXT.ui
    with gr.Accordion(ui("inside"), open=True):
        gr.Markdown(ui("inside_help"))
        with gr.Row():
            grid = components.image_output(label=ui("grid_img"), height=330, elem_id="yolo-grid")
            before = components.image_output(label=ui("before"), height=330, elem_id="yolo-before")
            after = components.image_output(label=ui("after"), height=330, elem_id="yolo-after")
    return SimpleNamespace(grid=grid, before=before, after=after)


def build(page) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            controls = settings_column()
        with gr.Column(scale=3):
            sources = sources_and_results()
    inside = inside_yolo()
    state = gr.State(None)
    c = controls
    picture_outputs = [sources.annotated, sources.counts, sources.info, inside.grid, inside.before, inside.after]
    photo_inputs = [sources.photo, c.model, c.conf, c.iou, c.imgsz, c.classes, c.grid]
    # A photo: the Detect button and a new photo (an upload, or a click on an example) share one cached event.
    detected = events.on([sources.run.click, sources.photo.change], yolo_detect, photo_inputs, picture_outputs,
                         kind="model", cache=True, api_name="yolo_detect")
    # The server-path webcam: its own queue and time limit; frames past the server's budget are dropped at once.
    # No trigger_mode="always_last": with it Gradio 6.31 delivers one frame and then stops (measured: 0.1 FPS).
    events.on(sources.webcam.stream, yolo_detect_webcam,
              [sources.webcam, c.model, c.conf, c.iou, c.imgsz, c.classes, c.grid, c.track, state],
              picture_outputs + [state], kind="stream", api_name="yolo_detect_webcam", stream_every=0.1,
              show_progress="hidden")
    events.on(sources.run_video.click, yolo_detect_video,
              [sources.video, c.model, c.conf, c.iou, c.imgsz, c.classes, c.track],
              [sources.video_out, sources.counts, sources.info], kind="video", api_name="yolo_detect_video")
    live_view_events(controls, sources, picture_outputs)
    for button, choose in ((c.all_button, select_all), (c.none_button, select_none),
                           (c.people_button, select_people_vehicles)):
        events.on(button.click, choose, None, [c.classes], kind="quick", api_visibility="private")
    opening_and_warm_up(page, detected, photo_inputs, picture_outputs)
    join_the_class(page, controls, detected)


def join_the_class(page, controls, detected) -> None:
    """The teacher mode: the detection settings go to the class (a following page detects its photo with them; the
    photo itself is never sent), and each page's in-browser camera reports its counts per class (numbers only) for
    the projector's totals."""
    c = controls
    page.class_tab(compute.SETTINGS, {"model": c.model, "conf": c.conf, "iou": c.iou, "imgsz": c.imgsz, "grid": c.grid},
                   show=detected, answers={"class_q1": 2})
    if page.classroom is not None:
        page.classroom.collect(TAB_ID, Collect(compute.class_report, view.class_summary, view.class_one,
                                               fresh_s=CLASS_FRESH_S, from_page=True))


def live_view_events(controls, sources, picture_outputs: list) -> None:
    """The in-browser view: its files, the switch between it and the server stream, its fallback, its "look inside
    YOLO" frame, and the controls applied to it at once (in the browser, no server trip)."""
    c, private = controls, dict(api_visibility="private")
    serve_page_files()
    events.on(sources.where.change, show_where, [sources.where], [sources.live, sources.webcam], kind="quick",
              **private)
    events.on(sources.live.fallback, fall_back_to_server, None,
              [sources.where, sources.live, sources.webcam, sources.notice], kind="quick", **private)
    events.on(sources.live.snapshot, inside_yolo_from_page, [c.model, c.conf, c.iou, c.imgsz, c.classes, c.grid],
              picture_outputs, kind="model", **private)
    page_settings = [c.model, c.conf, c.iou, c.imgsz, c.classes, c.track]
    gr.on([control.change for control in page_settings], None, page_settings, None,
          js=SETTINGS_TO_PAGE_JS)  # browser-only: no server event


def opening_and_warm_up(page, detected, photo_inputs: list, picture_outputs: list) -> None:
    """The worked example when the tab opens (the first photo, computed at warm-up); every example photo computed
    once for the button and the examples too; and the default detector exported for the browser before the
    first student asks."""
    page.on_open(yolo_detect, photo_inputs, picture_outputs, kind="model")
    defaults = (zoo.DEFAULT_YOLO, compute.DEFAULT_CONF, compute.DEFAULT_IOU, compute.DEFAULT_IMGSZ,
                compute.class_names(), compute.DEFAULT_GRID)
    for example in compute.example_photos():
        page.warm(detected, str(example), *defaults)
    page.warm_task(export_default_detector)
    page.warm_task(webruntime.ensure)  # onnxruntime-web, when online and not in the cache yet
