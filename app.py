"""딥러닝 교실 / Deep Learning Classroom: `python app.py` serves the dashboard.

    python app.py                      # http://127.0.0.1:7860
    python app.py --prefetch           # download the default models once (before class), then exit
    python app.py --device cpu --port 8000
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

import gradio as gr

from core import i18n, models, ui
from core.i18n import t
from tabs import load_lessons

i18n.add({
    "app.title": ("딥러닝 교실", "Deep Learning Classroom"),
    "app.header": (
        "# 딥러닝 교실\n진짜 모델을 직접 만져 보며 배우는 딥러닝. 아래 탭을 수업 순서대로 하나씩 열어 보세요.",
        "# Deep Learning Classroom\nLearn deep learning by poking real models. Open the tabs below one by one, in lesson order.",
    ),
})


def build_app() -> gr.Blocks:
    lessons = load_lessons()
    with gr.Blocks(title="딥러닝 교실 / Deep Learning Classroom") as demo:
        gr.Markdown(t("app.header"), elem_id="app-header")
        with gr.Tabs():
            for lesson in lessons:
                with gr.Tab(t(lesson.TITLE), id=lesson.TAB_ID, elem_id=f"tab-{lesson.TAB_ID}"):
                    gr.Markdown(i18n.lesson_note(lesson.TAB_ID), elem_classes=["lesson-note"])
                    lesson.build()
    demo.queue(default_concurrency_limit=4, max_size=256)
    return ui.harden(demo)


def launch_kwargs(host: str, port: int, share: bool) -> dict:
    return dict(
        server_name=host,
        server_port=port,
        share=share,
        i18n=i18n.build_i18n(),
        theme=ui.theme(),
        css=ui.css(),
        max_file_size="50mb",
        footer_links=["api", "settings"],
        show_error=True,
        ssr_mode=False,
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="딥러닝 교실 / Deep Learning Classroom")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to bind (default 127.0.0.1; Spaces sets GRADIO_SERVER_NAME=0.0.0.0)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="create a public gradio.live link (off by default)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where models run (auto: cuda > mps > cpu)")
    parser.add_argument("--no-safety-checker", action="store_true",
                        help="turn off the Stable Diffusion safety checker (on by default: the audience is a classroom)")
    parser.add_argument("--prefetch", nargs="*", metavar="MODEL",
                        help="download the default models (or the named ones) into the cache, then exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(argv)
    models.set_device(args.device)
    if args.no_safety_checker:
        os.environ["DLCLASS_SAFETY_CHECKER"] = "0"
    if args.prefetch is not None:
        names = args.prefetch or None
        print("모델을 내려받습니다 / Downloading models:", ", ".join(names or [s.name for s in models.specs() if s.prefetch_default]))
        results = models.prefetch(names)
        for name, status in results:
            print(f"  {name:28s} {status}")
        return 0 if all(status == "ok" for _, status in results) else 1
    demo = build_app()
    demo.launch(prevent_thread_lock=True, **launch_kwargs(args.host, args.port, args.share))
    # The server answers now; import the heavy libraries behind it, before students need them.
    models.warm_up_in_background()
    demo.block_thread()
    return 0


if __name__ == "__main__":
    sys.exit(main())
