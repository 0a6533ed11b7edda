"""The tabs of the app, in teaching order: each tab is one lesson.

A tab lives in its folder `tabs/<id>/` (see DEVELOPERS.md, "The shape of a lesson"): compute.py (the
algorithm), text.py (its words), view.py (figures and pictures), tab.py (`build(page)`: its Gradio
components and events), note.ko.md / note.en.md (the lesson note shown at the top of the tab).
Tabs never import each other: what two share lives in core/ (tests/test_code_rules.py checks).

Adding a tab: copy a tab's folder, then add its id to `LESSON_IDS` here ("How to add a lesson").
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from types import ModuleType

LESSON_IDS = [
    "nn_types",
    "sliding_window",
    "cnn_features",
    "resnet_skip",
    "word_attention",
    "vit_attention",
    "yolo_detect",
    "diffusion",
    "precision",
    "finetune",
    "hub",
]

HERE = Path(__file__).resolve().parent


@dataclasses.dataclass
class Lesson:
    id: str
    tab: ModuleType  # has build(page)
    text: object  # its core.text.Table
    note: tuple[str, str]  # (Korean, English) lesson note, Markdown

    @property
    def title_key(self) -> str:
        return f"{self.id}.title"


def load(lesson_id: str) -> Lesson:
    folder = HERE / lesson_id
    tab = importlib.import_module(f"tabs.{lesson_id}.tab")
    words = importlib.import_module(f"tabs.{lesson_id}.text").TEXT
    note = tuple((folder / f"note.{lang}.md").read_text(encoding="utf-8") for lang in ("ko", "en"))
    return Lesson(lesson_id, tab, words, note)


def load_all() -> list[Lesson]:
    return [load(lesson_id) for lesson_id in LESSON_IDS]
