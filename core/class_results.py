"""What the class sends back: the numbers a seat reports in a lesson that gathers results, checked here, and
where each seat sits when the teacher spreads a setting over the class. Used by core/classroom.py; nothing of
Gradio, no words.

A lesson that gathers results registers a `Collect` (`classroom.collect(tab_id, Collect(...))`): how it reads
a report (its compute), and how the teacher's page sums the reports up and shows one (its view).
"""
from __future__ import annotations

import dataclasses
import math
import re
from typing import Callable

MAX_REPORT_ITEMS = 200  # numbers in one list or table of a report (a 50-epoch curve fits)
MAX_REPORT_NUMBER = 1e12
REPORT_KEY = re.compile(r"[A-Za-z0-9_]{1,32}")


@dataclasses.dataclass(frozen=True)
class Collect:
    """What a lesson gathers from each seat (numbers only) and how the teacher's page sums it up. The functions
    are the lesson's (its compute reads, its view says): read(numbers) -> the report as the lesson keeps it, or
    None when it is not one; summary(every seat's kept reports, lang) -> {"title": str, "rows": [[label, number,
    text]]} for the projector; describe(one report, lang) -> [[label, text]] for "show one answer"."""

    read: Callable[[dict], dict | None]
    summary: Callable[[list[dict], str], dict]
    describe: Callable[[dict, str], list]
    keep: int = 1  # reports kept per seat (1: a new one replaces the last)
    fresh_s: float | None = None  # a report older than this no longer counts (a live count whose camera stopped)
    from_page: bool = False  # the page itself sends it (the bar's class_report); else only the lesson's own event


def numbers_only(value, depth: int = 0):
    """`value` when it holds numbers only (booleans, finite numbers, lists of them, tables of them keyed by short
    names), else None: whatever a page sends the class is checked here, so no text and no picture can reach the
    teacher's page."""
    if isinstance(value, bool) or (isinstance(value, (int, float)) and abs(value) <= MAX_REPORT_NUMBER
                                   and math.isfinite(value)):
        return value
    if depth >= 3 or not isinstance(value, (list, tuple, dict)) or len(value) > MAX_REPORT_ITEMS:
        return None
    if isinstance(value, dict):
        if not all(isinstance(k, str) and REPORT_KEY.fullmatch(k) for k in value):
            return None
        items = {k: numbers_only(v, depth + 1) for k, v in value.items()}
        return None if any(v is None for v in items.values()) else items
    items = [numbers_only(v, depth + 1) for v in value]
    return None if any(v is None for v in items) else items


def kept_reports(collect: Collect, by_seat: dict, seats, now: float) -> list[tuple[str, list[dict]]]:
    """(seat token, its reports that still count) for every seat in the class with one."""
    found = []
    for token, kept in list(by_seat.items()):
        reports = [r for at, r in list(kept) if collect.fresh_s is None or now - at <= collect.fresh_s]
        if reports and token in seats:
            found.append((token, reports))
    return found


def summaries(collects: dict, kept_of: Callable[[str], list], report_n: dict, lang: str) -> dict:
    """Per lesson that gathers results: its summary for the projector, the number of pages in it and a counter
    that moves with every report that changed something (the teacher's page redraws its figures on it)."""
    results = {}
    for tab_id, collect in list(collects.items()):
        kept = kept_of(tab_id)
        if kept or report_n.get(tab_id):
            summary = collect.summary([r for _, reports in kept for r in reports], lang)
            results[tab_id] = dict(summary, pages=len(kept), n=report_n.get(tab_id, 0))
    return results


def spread_fraction(index: int, count: int) -> float:
    """Where the `index`-th of `count` seats sits in a spread range (0 = low, 1 = high): evenly from end to end."""
    return 0.5 if count <= 1 else index / (count - 1)


def late_fraction(k: int) -> float:
    """The place of the k-th seat (1, 2, ...) that joined after the push: 1/2, 1/4, 3/4, 1/8, ... (van der Corput),
    so late joiners fill the range's gaps instead of piling up at one end."""
    fraction, base = 0.0, 0.5
    while k:
        fraction, k, base = fraction + base * (k & 1), k >> 1, base / 2
    return fraction


def spread_plan(setting, low=None, high=None) -> dict:
    """The range of a spread setting (a numeric `core.values.Setting`): [low, high] read through the setting
    (None: its declared end), on a log scale when it is not whole numbers and spans more than a factor of 10."""
    low = setting.low if _number(low) is None else setting.take(_number(low), [])
    high = setting.high if _number(high) is None else setting.take(_number(high), [])
    low, high = sorted((float(low), float(high)))
    return {"name": setting.name, "low": low, "high": high, "integer": setting.integer,
            "log": not setting.integer and low > 0 and high / low > 10}


def spread_value(plan: dict, fraction: float) -> float:
    """The value at `fraction` (0..1) of a spread range: 2 significant digits on a log scale (3e-4, 1e-3, ...),
    else a whole number or 3 significant digits."""
    low, high = plan["low"], plan["high"]
    if plan["log"]:
        return float(f"{low * (high / low) ** fraction:.2g}")
    value = low + fraction * (high - low)
    return round(value) if plan["integer"] else float(f"{value:.3g}")


def _number(value) -> float | None:
    """A number the teacher typed ("0.001", 3, ...), or None for an empty box or anything else."""
    try:
        number = float(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
