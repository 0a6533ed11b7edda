"""Fair one-slot kinds: one student never holds more than one place in a queue the whole class shares.

The kinds `training`, `bench`, `diffusion` and `video` have one slot for the class (core/events.py). A page
cannot click twice while its job is under way (Gradio's `trigger_mode="once"`), but a script or a reloaded
tab can: each of its joins would wait for the slot and then hold it in turn. Here, a session has at most one
job of each one-slot kind waiting: a newer click of the same kind *replaces* the one still waiting (that one
is answered at once, when its turn comes, with a note in the page's language, and takes the slot for no
time), and while a job runs, the newer one waits for it.

How: core/guard.py sees every click join the queue (`ticket_for_join`): it numbers the joins of each
(session, kind) and passes the number on in a request header (`TICKET_HEADER`), which the event layer reads
back from the request Gradio gives the event (`one_job_per_session`). A job whose number is not its
session's latest for that kind has been replaced.
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Callable

from core import text

ONE_SLOT_KINDS = frozenset({"training", "bench", "diffusion", "video"})
TICKET_HEADER = "x-dlclass-ticket"
FORGET_AFTER_S = 3600  # a session silent for an hour is forgotten

TEXT = text.table("fairness", {
    "replaced": ("같은 작업을 다시 눌러서, 기다리던 이전 요청은 건너뛰고 새 요청을 실행합니다.",
                 "You clicked again, so the earlier request that was still waiting is skipped and the new one runs."),
})


class Tickets:
    """The latest join number of each (session, kind)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest: dict[tuple[str, str], tuple[int, float]] = {}
        self.counter = itertools.count(1)
        self.cleaned = time.monotonic()
        self.replaced = 0

    def joined(self, session: str, kind: str) -> int:
        now = time.monotonic()
        with self.lock:
            if now - self.cleaned > 60:
                self.cleaned = now
                for key in [k for k, (_, t) in self.latest.items() if now - t > FORGET_AFTER_S]:
                    del self.latest[key]
            ticket = next(self.counter)
            self.latest[(session, kind)] = (ticket, now)
            return ticket

    def is_replaced(self, session: str, kind: str, ticket: int) -> bool:
        with self.lock:
            latest = self.latest.get((session, kind))
            replaced = latest is not None and latest[0] > ticket
            self.replaced += replaced
            return replaced

    def forget(self, session: str) -> None:
        """The session's page closed (core.events.release_session)."""
        with self.lock:
            for key in [k for k in self.latest if k[0] == session]:
                del self.latest[key]

    def __len__(self) -> int:
        return len(self.latest)


TICKETS = Tickets()


def ticket_for_join(session: str, kind: str | None) -> int | None:
    """The number of a click joining the queue of `kind` (None: not a one-slot kind)."""
    if not session or kind not in ONE_SLOT_KINDS:
        return None
    return TICKETS.joined(session, kind)


def _ticket_of(request) -> tuple[str, int] | None:
    headers = getattr(request, "headers", None) or {}
    session = getattr(request, "session_hash", None)
    raw = headers.get(TICKET_HEADER) if hasattr(headers, "get") else None
    if not session or raw is None or not str(raw).isdigit():
        return None
    return session, int(raw)


def one_job_per_session(answer: Callable, kind: str, n_outputs: int, streams: bool) -> Callable:
    """answer(*args, request) that changes nothing, with a note, when a newer click of the same kind from
    the same session is waiting (`streams`: answer is a generator function)."""
    def replaced(args) -> bool:
        ticket = _ticket_of(args[-1] if args else None)
        if ticket is None or not TICKETS.is_replaced(ticket[0], kind, ticket[1]):
            return False
        import gradio as gr

        gr.Warning(TEXT.say(text.lang_of(args[-1]), "replaced"))
        return True

    def unchanged():
        from core.event_wrappers import nothing_changes

        return nothing_changes(n_outputs)

    if streams:
        def fair_stream(*args):
            if replaced(args):
                yield unchanged()
                return
            yield from answer(*args)
        return fair_stream

    def fair(*args):
        return unchanged() if replaced(args) else answer(*args)
    return fair
