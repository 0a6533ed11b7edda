"""딥러닝 교실 / Deep Learning Classroom: `python app.py` serves the dashboard.

    python app.py                      # http://127.0.0.1:7860
    python app.py --prefetch           # download the default models once (before class), then exit
    python app.py --device cpu --port 8000
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import gradio as gr

import tabs
from core import events, memory, models, outputs, text, theme
from core.page import Page
from core.settings import Settings, from_args

TEXT = text.table("app", {
    "title": ("딥러닝 교실", "Deep Learning Classroom"),
    "header": (
        "# 딥러닝 교실\n진짜 모델을 직접 만져 보며 배우는 딥러닝. 아래 탭을 수업 순서대로 하나씩 열어 보세요.",
        "# Deep Learning Classroom\nLearn deep learning by poking real models. Open the tabs below one by one, in lesson order.",
    ),
    "downloading": ("모델을 내려받습니다", "Downloading models"),
})


def build_app(settings: Settings | None = None) -> tuple[gr.Blocks, Page]:
    settings = settings or Settings()
    outputs.register_static_dir()
    with gr.Blocks(title="딥러닝 교실 / Deep Learning Classroom") as demo:
        page = Page(settings, demo)
        gr.Markdown(TEXT.ui("header"), elem_id="app-header")
        with gr.Tabs():
            for index, lesson in enumerate(tabs.load_all()):
                note = text.table(lesson.id, {"lesson_note": lesson.note})
                with gr.Tab(lesson.text.ui("title"), id=lesson.id, elem_id=f"tab-{lesson.id}") as tab:
                    page.tab, page.tab_is_first = tab, index == 0
                    gr.Markdown(note.ui("lesson_note"), elem_classes=["lesson-note"])
                    lesson.tab.build(page)
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
    )


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
