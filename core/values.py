"""The one way to take a number from a control or an API call: clamp it into range and say so.

Sliders and radios keep values in range in the browser, but API callers (and hand-edited requests)
can send anything: 1e400, NaN, "abc", 3.7 for a whole number. Every lesson passes such values through
`clamp`, which returns the value it will use and, when that differs from what was sent, a note (a
`Message`) the view shows in the page's language.
"""
from __future__ import annotations

import math

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

