"""The one way to take a number from a control or an API call: clamp it into range and say so.

Sliders and radios keep values in range in the browser, but API callers (and hand-edited requests)
can send anything: 1e400, NaN, "abc", 3.7 for a whole number. Every lesson passes such values through
`clamp`, which returns the value it will use and, when that differs from what was sent, a note (a
`Message`) the view shows in the page's language.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

from core import text

TEXT = text.table("values", {
    "clamped": ("{label}: {low}~{high} 사이여야 해서 {used}(으)로 맞췄습니다.",
                "{label} must be from {low} to {high}; using {used}."),
    "not_number": ("{label}: 숫자가 아니어서 {used}(으)로 했습니다.", "{label} was not a number; using {used}."),
    "rounded": ("{label}: 정수여야 해서 {used}(으)로 반올림했습니다.", "{label} must be a whole number; rounded to {used}."),
    "not_allowed": ("{label}: {allowed} 중 하나여야 해서 {used}(으)로 했습니다.",
                    "{label} must be one of {allowed}; using {used}."),
})


def _show(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:g}"


def clamp(value, low: float, high: float, default: float, label: text.Message,
          integer: bool = False) -> tuple[float | int, text.Message | None]:
    """(value to use, note or None). Non-numbers and NaN give `default`; out-of-range values the nearest
    bound; with `integer`, fractions are rounded. `label` names the control (a Message, said in the page's language)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    label = text.Capitalized(label)  # it starts the English sentence
    if math.isnan(number):
        used = int(default) if integer else float(default)
        return used, TEXT.msg("not_number", label=label, used=_show(used, integer))
    used = min(max(number, low), high)
    if integer:
        used = int(round(used))
    if used != number:
        show = dict(label=label, used=_show(used, integer))
        if low <= number <= high:  # in range, only rounded
            return used, TEXT.msg("rounded", **show)
        return used, TEXT.msg("clamped", low=_show(low, integer), high=_show(high, integer), **show)
    return (int(used) if integer else used), None


def choice(value, allowed, default, label: text.Message) -> tuple[object, text.Message | None]:
    """A value that must be one of `allowed` (a radio or dropdown sent through the API)."""
    if value in allowed:
        return value, None
    return default, TEXT.msg("not_allowed", label=text.Capitalized(label), used=default,
                             allowed=", ".join(str(a) for a in allowed))



# ---------------------------------------------------------------- a lesson's settings, declared once


@dataclasses.dataclass(frozen=True)
class Setting:
    """One number or choice of a lesson that a student (an API caller, or the teacher) sets.

    A lesson declares each of its settings once, in `compute.py`:

        SETTINGS = values.settings(
            values.Setting("epochs", TEXT.msg("name_epochs"), default=15, low=1, high=30, integer=True),
            values.Setting("arch", TEXT.msg("name_arch"), default="cnn", choices=("mlp", "cnn")),
        )

    and reads a request's value with one call: `epochs = SETTINGS["epochs"].take(value, notes)` (the value
    it will use; what it had to change goes to `notes` as a Message). The tab makes the control from the
    same declaration (`core.components.control`), and the teacher mode sends the class the settings whose
    `for_class` is true (a photo a student uploaded is never one of them).
    """

    name: str
    label: text.Message  # names the setting in notes (and its control, through the same key)
    default: Any
    low: float | None = None
    high: float | None = None
    integer: bool = False
    choices: tuple | None = None
    step: float | None = None  # the control's step (sliders); None: 1 for whole numbers, else free
    for_class: bool = True  # the teacher may send it to the class

    def __post_init__(self):
        if self.choices is None and (self.low is None or self.high is None):
            raise ValueError(f"setting {self.name!r}: give low and high, or choices")
        if self.choices is not None and self.default not in self.choices:
            raise ValueError(f"setting {self.name!r}: default {self.default!r} is not among its choices")
        if self.choices is None and not self.low <= self.default <= self.high:
            raise ValueError(f"setting {self.name!r}: default {self.default!r} is outside {self.low}..{self.high}")

    def read(self, value) -> tuple[Any, text.Message | None]:
        """(value to use, note or None): a number clamped into range, or a choice checked against `choices`."""
        if self.choices is not None:
            return choice(value, self.choices, self.default, self.label)
        return clamp(value, self.low, self.high, self.default, self.label, integer=self.integer)

    def take(self, value, notes: list) -> Any:
        """The value to use; the note saying what changed (if anything) is appended to `notes`."""
        used, note = self.read(value)
        if note is not None:
            notes.append(note)
        return used


class Settings(dict):
    """A lesson's settings by name, in the order it declared them."""

    def defaults(self) -> dict[str, Any]:
        return {name: setting.default for name, setting in self.items()}

    def for_class(self) -> list[Setting]:
        return [setting for setting in self.values() if setting.for_class]

    def take_all(self, given: dict, notes: list) -> dict[str, Any]:
        """Every setting named in `given` read at once (the teacher mode's settings sent to a page)."""
        return {name: self[name].take(value, notes) for name, value in given.items() if name in self}


def settings(*declared: Setting) -> Settings:
    names = [s.name for s in declared]
    if len(set(names)) != len(names):
        raise ValueError(f"a setting is declared twice: {names}")
    return Settings((s.name, s) for s in declared)


def keep(notes: list) -> Callable[[tuple[Any, text.Message | None]], Any]:
    """For a (value, note) pair made by hand (`clamp` or `choice` with limits known only at run time):
    `take = values.keep(notes); size = take(values.clamp(...))`."""
    def take(pair):
        value, note = pair
        if note is not None:
            notes.append(note)
        return value
    return take
