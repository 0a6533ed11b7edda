"""The page around the tabs: the header above them and the lesson note at the top of each tab.

app.py builds the page in this order: `header()`, then for each tab `lesson_note(lesson)` followed by the
tab's own `build(page)`. What the page looks like on a Chromebook, a phone and a projector is decided
here and in assets/style.css; no tab knows about it.
"""
from __future__ import annotations

import gradio as gr

from core import text

TEXT = text.table("app", {
    "title": ("딥러닝 교실", "Deep Learning Classroom"),
    "header": (
        "# 딥러닝 교실\n진짜 모델을 직접 만져 보며 배우는 딥러닝. 아래 탭을 수업 순서대로 하나씩 열어 보세요.",
        "# Deep Learning Classroom\nLearn deep learning by poking real models. Open the tabs below one by one, in lesson order.",
    ),
})


def header() -> None:
    gr.Markdown(TEXT.ui("header"), elem_id="app-header")


def lesson_note(lesson) -> None:
    """The lesson note (Korean/English Markdown of `tabs/<id>/note.*.md`) at the top of its tab."""
    note = text.table(lesson.id, {"lesson_note": lesson.note})
    gr.Markdown(note.ui("lesson_note"), elem_classes=["lesson-note"])
