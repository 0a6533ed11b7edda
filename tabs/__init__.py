"""The lessons, in teaching order.

A lesson is a module with TAB_ID (also the name of its lesson-note files in assets/lessons/),
TITLE (an i18n key) and build() (declares its Gradio components inside the open tab).
Adding a lesson = one new module + one line here.
"""
from __future__ import annotations

import importlib
from types import ModuleType

LESSONS = [
    "tabs.yolo_detect",
]


def load_lessons() -> list[ModuleType]:
    return [importlib.import_module(name) for name in LESSONS]
