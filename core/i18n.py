"""Korean and English text for the whole app.

Two kinds of text exist:
- static UI text (labels, titles, lesson notes): registered here under a key and translated in the
  browser by Gradio's i18n (picked by the browser's locale);
- messages computed on the server (errors, warnings, chart titles): always written in both
  languages with `both()`, or in the request's language with `pick()`.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

KO: dict[str, str] = {}
EN: dict[str, str] = {}

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def add(strings: dict[str, tuple[str, str]]) -> None:
    """Register static strings: {key: (korean, english)}. Keys are global, so prefix them with the tab name."""
    for key, (ko, en) in strings.items():
        if key in KO and (KO[key], EN[key]) != (ko, en):
            raise ValueError(f"i18n key {key!r} registered twice with different text")
        KO[key], EN[key] = ko, en


def t(key: str) -> gr.i18n.I18nData:
    """The browser-translated form of a registered key (for labels, Markdown, button text)."""
    if key not in KO:
        raise KeyError(f"i18n key {key!r} is not registered")
    return gr.i18n.I18nData(key)


def lesson_note(tab: str) -> gr.i18n.I18nData:
    """The lesson note of a tab, read from assets/lessons/<tab>.ko.md and <tab>.en.md."""
    key = f"{tab}.lesson_note"
    if key not in KO:
        ko = (ASSETS / "lessons" / f"{tab}.ko.md").read_text(encoding="utf-8")
        en = (ASSETS / "lessons" / f"{tab}.en.md").read_text(encoding="utf-8")
        add({key: (ko, en)})
    return t(key)


def both(ko: str, en: str) -> str:
    """A server-side message in both languages, Korean first (the class is Korean)."""
    return f"{ko}\n{en}"


def lang_of(request: gr.Request | None) -> str:
    """'ko' or 'en' from the browser's Accept-Language header; Korean when unknown."""
    if request is None:
        return "ko"
    header = ""
    try:
        header = request.headers.get("accept-language", "") or ""
    except Exception:  # a request object without headers (API call through a proxy)
        return "ko"
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()
        if code.startswith("ko"):
            return "ko"
        if code.startswith("en"):
            return "en"
    return "ko"


def pick(request: gr.Request | None, ko: str, en: str) -> str:
    """Text in the request's language (for chart titles and other computed text)."""
    return ko if lang_of(request) == "ko" else en


class UserError(gr.Error):
    """A problem the user can fix, shown in the browser as a Gradio error in Korean and English.

    Pure compute functions raise it too: it is an ordinary exception outside Gradio.
    """

    def __init__(self, ko: str, en: str, title: str | None = None):
        self.ko, self.en = ko, en
        super().__init__(both(ko, en), title=title or "입력 확인 / Check the input", print_exception=False)


def build_i18n() -> gr.I18n:
    """The app's gr.I18n, to pass to launch() once every tab has registered its strings."""
    return gr.I18n(ko=KO, en=EN)
