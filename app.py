"""딥러닝 교실 / Deep Learning Classroom: `python app.py` serves the dashboard.

    python app.py                      # http://127.0.0.1:7860
    python app.py --prefetch           # download the default models once (before class), then exit
    python app.py --device cpu --port 8000
"""
from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

import gradio as gr

import tabs
from core import classroom, events, guard, layout, memory, models, outputs, server, teacher, text, theme
from core.page import Page
from core.settings import Settings, from_args

TEXT = text.table("app", {
    "downloading": ("모델을 내려받습니다", "Downloading models"),
    "pin": ("교사 PIN (이 터미널에만 표시): {pin}", "Teacher PIN (shown in this terminal only): {pin}"),
})


# Uploads (Gradio's cache folder) are deleted UPLOAD_SWEEP[1] seconds after they arrive, checked every
# UPLOAD_SWEEP[0] s: an answer needs its photo for a moment, and a cached answer is keyed by the photo's content.
UPLOAD_SWEEP = (60, 15 * 60)
# Gradio keeps a copy of the page's state for each session (about 0.85 MB each, measured on this app), up to
# this many; the least recently used go first. 100 holds a class of 30 with its reloads and the teacher, and
# bounds what any number of visitors (or scripts) can cost at about 85 MB (tests/test_day.py: flat after it).
SESSION_CAPACITY = 100


def build_app(settings: Settings | None = None) -> tuple[gr.Blocks, Page]:
    """The page with every tab, and its Page: the events registered (`page.registered`) and the warm-up
    that belong to this build alone."""
    settings = settings or Settings()
    outputs.register_static_dir()
    lessons = tabs.load_all()
    the_class = classroom.Classroom(classroom.pin_from(settings.teacher_pin)[0])  # one class per server process
    with gr.Blocks(title="딥러닝 교실 / Deep Learning Classroom", delete_cache=UPLOAD_SWEEP) as demo:
        page = Page(settings, demo, classroom=the_class)
        layout.header()
        with events.registering_into(page.registered):
            class_controls = teacher.controls(page, [lesson.id for lesson in lessons])
            tab_blocks = {}
            with layout.lesson_tabs() as lesson_tabs:
                for index, lesson in enumerate(lessons):
                    with gr.Tab(lesson.text.ui("title"), id=lesson.id, elem_id=f"tab-{lesson.id}") as tab:
                        layout.lesson_note(lesson)
                        lesson.tab.build(page.for_tab(tab, is_first=index == 0))
                    tab_blocks[lesson.id] = tab
            teacher.wire(page, class_controls, lesson_tabs, tab_blocks)
        events.on_page_closed(demo, events.release_session)
    # Every event has its own queue (core.events.KINDS); the queue holds at most 512 waiting events.
    events.apply_gradio_queue_settings()
    demo.queue(max_size=512)
    return demo, page


def launch_kwargs(settings: Settings) -> dict:
    return dict(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        i18n=text.build_i18n(),
        theme=theme.theme(),
        css=theme.css(),
        max_file_size="50mb",
        footer_links=["api", "settings"],
        show_error=True,
        ssr_mode=False,
        state_session_capacity=SESSION_CAPACITY,
        # Our own layer around Gradio's server (outermost first): Cache-Control and precompressed files,
        # the per-client limits and Gradio's messages in the page's language, then gzip.
        app_kwargs={"middleware": server.middleware(immutable_roots, private_roots, inner=guard.middleware())},
    )


def immutable_roots() -> list[Path]:
    """Folders whose files never change under their names: the pictures (named by content), the versioned
    browser runtime and the detector's ONNX files (named by their weights)."""
    from core import webruntime
    from core.zoo import yolo_export

    return [outputs.OUTPUT_DIR, webruntime.folder(), yolo_export.onnx_dir()]


def private_roots() -> list[Path]:
    """Where Gradio keeps uploads: a student's photo is never stored by a shared cache on the way."""
    from gradio import utils

    return [Path(utils.get_upload_folder())]


def prefetch(names: tuple[str, ...]) -> int:
    """Download the default models (or the named ones) and, with the defaults, the in-browser detector's
    runtime (onnxruntime-web from the npm registry), so that a classroom works offline afterwards."""
    from core import webruntime

    chosen = list(names) or [s.name for s in models.specs() if s.prefetch_default]
    print(f"{text.say('ko', 'app.downloading')} / {text.say('en', 'app.downloading')}:", ", ".join(chosen))
    results = models.prefetch(chosen)
    if not names:
        results.append(webruntime.prefetch())
    for name, status in results:
        print(f"  {name:28s} {status}")
    return 0 if all(status == "ok" for _, status in results) else 1


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = from_args(argv)
    models.set_device(settings.device)
    if settings.prefetch is not None:
        return prefetch(settings.prefetch)
    pin, made_here = classroom.pin_from(settings.teacher_pin)
    if made_here:  # printed, never logged: the PIN stays in the terminal of whoever started the server
        print(f"{text.say('ko', 'app.pin', pin=pin)}\n{text.say('en', 'app.pin', pin=pin)}", flush=True)
    settings = dataclasses.replace(settings, teacher_pin=pin)
    demo, page = build_app(settings)
    demo.launch(prevent_thread_lock=True, **launch_kwargs(settings))
    # The server answers now. Behind it: import the heavy libraries, then compute every tab's worked
    # example once, so that neither the first student nor a class of 30 waits for them.
    if settings.warm_up:
        page.warm_up_in_background(before=models.import_heavy_libraries)
    else:
        models.warm_up_in_background()
    memory.log_report_every(60)
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
