"""Every word of the app, in Korean and English, written one way.

Each lesson (and each core module that talks to people) keeps its words in one table:

    TEXT = text.table("cnn_features", {
        "title": ("2. CNN 특징 맵", "2. CNN feature maps"),
        "bad_class": ("클래스 번호는 0부터 {last} 사이의 정수여야 합니다 (받은 값: {got}).",
                      "The class index must be a whole number from 0 to {last} (got {got})."),
    })

Three uses, one table:
- static labels, translated in the browser by the page's locale:   TEXT.ui("title")
- a message computed on the server, in the language of the page:   TEXT.say(lang, "bad_class", last=999, got=x)
- a message that does not know its language yet (compute code):    TEXT.msg("bad_class", ...) / TEXT.problem(...)

Compute code knows no language: it returns `Message`s (notes) and raises `Problem`s (bad input), and
the view or the event layer says them in the language of the request. `lang` is always "ko" or "en";
Korean is the default (the class is Korean), also for API calls that send no Accept-Language.

This module does not import Gradio at import time, so compute modules may use it.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"

# Every registered string, by full key ("<table>.<key>"): the browser's translations come from here.
KO: dict[str, str] = {}
EN: dict[str, str] = {}


@dataclasses.dataclass(frozen=True)
class Message:
    """Words not yet in a language: a full key and its parameters (parameters may be Messages too)."""

    key: str
    params: dict = dataclasses.field(default_factory=dict)

    def say(self, lang: str) -> str:
        return say(lang, self.key, **self.params)

    def __str__(self) -> str:  # logs and test failures read English
        return self.say("en")


@dataclasses.dataclass(frozen=True)
class Capitalized:
    """A Message said with its first letter upper-case (English sentences that start with a label)."""

    message: Message

    def say(self, lang: str) -> str:
        words = self.message.say(lang)
        return words[:1].upper() + words[1:]


class Problem(Exception):
    """Bad input the user can fix. Raised anywhere (compute included); the event layer shows it as a
    Gradio error in the language of the page that asked (`core.events`)."""

    def __init__(self, message: Message, title: Message | None = None):
        self.message = message
        self.title = title or Message("core.check_input")
        super().__init__(str(message))

    def say(self, lang: str) -> str:
        return self.message.say(lang)

    def __reduce__(self):  # picklable (ZeroGPU runs events in another process)
        return (Problem, (self.message, self.title))


class Table:
    """The words of one lesson or module; keys are local ("title"), stored as "<name>.title"."""

    def __init__(self, name: str):
        self.name = name

    def key(self, key: str) -> str:
        full = f"{self.name}.{key}"
        if full not in KO:
            raise KeyError(f"text {full!r} is not in the table")
        return full

    def say(self, lang: str, key: str, **params) -> str:
        return say(lang, self.key(key), **params)

    def msg(self, key: str, **params) -> Message:
        return Message(self.key(key), params)

    def problem(self, key: str, **params) -> Problem:
        return Problem(self.msg(key, **params))

    def ui(self, key: str):
        """A static label, translated in the browser (gr.i18n.I18nData)."""
        return ui(self.key(key))

    def both(self, key: str) -> tuple[str, str]:
        """(Korean, English) of a key: for pages that show both on purpose (e.g. a bilingual data file)."""
        full = self.key(key)
        return KO[full], EN[full]

    def __contains__(self, key: str) -> bool:
        return f"{self.name}.{key}" in KO


def table(name: str, entries: dict[str, tuple[str, str]]) -> Table:
    """Register a table of {key: (korean, english)} under `name` (a lesson id or core module name)."""
    for key, (ko, en) in entries.items():
        full = f"{name}.{key}"
        if full in KO and (KO[full], EN[full]) != (ko, en):
            raise ValueError(f"text {full!r} registered twice with different words")
        KO[full], EN[full] = ko, en
    return Table(name)


def _render(lang: str, value: Any) -> Any:
    if isinstance(value, (Message, Capitalized)):
        return value.say(lang)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Message) for v in value):
        return ", ".join(v.say(lang) for v in value)
    return value


def say(lang: str, key: str, **params) -> str:
    """The text of a full key in `lang`, formatted with `params` (Messages among them said in `lang`)."""
    words = (KO if lang == "ko" else EN).get(key)
    if words is None:
        raise KeyError(f"text {key!r} is not registered")
    if not params:
        return words
    return words.format(**{name: _render(lang, value) for name, value in params.items()})


def lang_of(request) -> str:
    """'ko' or 'en' from a request's Accept-Language header (the page's language); Korean when unknown."""
    if request is None:
        return DEFAULT_LANG
    try:
        header = request.headers.get("accept-language", "") or ""
    except Exception:  # a request object without headers
        return DEFAULT_LANG
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()
        if code.startswith("ko"):
            return "ko"
        if code.startswith("en"):
            return "en"
    return DEFAULT_LANG


def count(lang: str, n: float) -> str:
    """A large count as a Korean student reads it (만/억: 11,689,512 -> '1,169만') or as English does ('11.7 M')."""
    n = float(n)
    if not math.isfinite(n):
        return str(n)
    sign, a = ("-" if n < 0 else ""), abs(n)
    if lang == "ko":
        if a >= 1e8:
            return f"{sign}{a / 1e8:,.1f}억".replace(".0억", "억")
        if a >= 1e4:
            return f"{sign}{a / 1e4:,.0f}만"
        return f"{sign}{a:,.0f}"
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= size:
            return f"{sign}{a / size:.1f} {unit}"
    return f"{sign}{a:,.0f}"


# The keys the page itself translates (labels made with `ui`). Only these travel to the browser: the
# messages said on the server (`say`, `Message`) never do, which keeps 200 kB of words out of every page.
IN_PAGE: set[str] = set()


def ui(full_key: str):
    """The label of a full key ("<table>.<key>"), translated in the browser by the page's locale."""
    import gradio as gr

    if full_key not in KO:
        raise KeyError(f"text {full_key!r} is not registered")
    IN_PAGE.add(full_key)
    return gr.i18n.I18nData(full_key)


def build_i18n():
    """The app's gr.I18n, passed to launch() once every tab is built: the words of the labels in the page."""
    import gradio as gr

    return gr.I18n(ko={k: KO[k] for k in sorted(IN_PAGE)}, en={k: EN[k] for k in sorted(IN_PAGE)})


CORE = table("core", {
    "check_input": ("입력 확인", "Check the input"),
    "error": ("오류", "Error"),
})
