"""The class: one teacher, the students' pages, what the teacher sent them. In this process's memory only.

One `Classroom` per server process (app.py makes it). It knows nothing of Gradio: core/teacher.py puts it
on the page. What it keeps while a class runs, and nothing else:
- the teacher's unlocked sessions (a random key each) and, per session, the count of wrong PINs;
- the class code; each student page's seat (a random token), its nickname (three numbers: adjective,
  animal, number, said in the page's language) and when it last asked;
- the teacher's current push (a tab id and that tab's class settings, read through its `SETTINGS`; with a
  spread, each seat's own place in the range), the pause flag, the current question (its key) and each
  seat's chosen answer (a number);
- what each seat reported to the class in the lessons that gather results (`collect`): numbers only, checked
  here (`numbers_only`), the last few per seat; and which seat the teacher shows on the projector.
`end` forgets all of it at once; so does 4 hours without a teacher action, a join, an answer or a report.

Students' pages wait for changes with `await classroom.wait(...)` (an async long-poll outside Gradio's
queue): a waiting page costs the server nothing until something changes.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hmac
import secrets
import threading
import time
from typing import Any, Callable

from core import text
from core.class_results import (Collect, kept_reports, late_fraction, numbers_only, spread_fraction, spread_plan,
                                spread_value, summaries)

TEXT = text.table("classroom", {
    "adjectives": ("용감한|씩씩한|슬기로운|재빠른|느긋한|명랑한|다정한|부지런한|호기심 많은|꼼꼼한|당당한|상냥한",
                   "Brave|Bold|Wise|Swift|Calm|Cheerful|Kind|Busy|Curious|Careful|Proud|Gentle"),
    "animals": ("수달|펭귄|고래|여우|부엉이|판다|다람쥐|돌고래|호랑이|거북이|코알라|고슴도치",
                "Otter|Penguin|Whale|Fox|Owl|Panda|Squirrel|Dolphin|Tiger|Turtle|Koala|Hedgehog"),
    "refused": ("수업", "Class"),
    "not_teacher": ("교사 화면에서 PIN으로 잠금을 푼 뒤에만 할 수 있습니다.",
                    "Only the teacher's page can do this, after unlocking it with the PIN."),
    "wrong_pin": ("PIN이 맞지 않습니다 (남은 시도 {left}번).", "Wrong PIN ({left} tries left)."),
    "locked": ("PIN을 여러 번 틀렸습니다. {seconds}초 뒤에 다시 해 보세요.",
               "Too many wrong PINs. Try again in {seconds} s."),
    "no_class": ("먼저 '수업 시작'을 누르세요.", "Press \"Start class\" first."),
    "no_such_tab": ("이 탭은 반 전체에 보낼 수 없습니다.", "This tab cannot be sent to the class."),
    "no_such_question": ("그런 질문이 없습니다.", "There is no such question."),
    "no_question": ("먼저 질문을 내세요.", "Ask a question first."),
    "no_spread": ("이 설정은 학생마다 다른 값으로 나눠 줄 수 없습니다.", "This setting cannot be spread over the class."),
    "no_such_seat": ("그 학생은 지금 수업에 없습니다.", "That student is not in the class now."),
    "anonymous": ("한 학생", "A student"),
})

MAX_WRONG_PINS = 5  # wrong PINs in a row before the session waits
LOCKOUT_S = 60.0
IDLE_END_S = 4 * 3600.0  # a class nobody touched for this long is forgotten
PRESENT_S = 60.0  # a student page that asked within this many seconds is "in" (pages ask every WAIT_S at most)
WAIT_S = 25.0  # the longest a page's request waits for a change (under proxies' 60 s limits)
MAX_SEATS = 400  # a page flood cannot grow the class without bound


class Refused(text.Problem):
    """A teacher action from a session that did not unlock, or a request that does not fit the class now (said
    in the page's language by the event layer, like every Problem)."""

    def __init__(self, key: str, **params):
        super().__init__(TEXT.msg(key, **params), TEXT.msg("refused"))
        self.key = key

    def __reduce__(self):
        return (text.Problem, (self.message, self.title))


@dataclasses.dataclass(frozen=True)
class Question:
    tab: str
    key: str  # its words: "<tab>.<key>" (the question) and "<tab>.<key>_choices" ("a|b|c")
    answer: int  # index of the right choice

    def words(self, lang: str) -> tuple[str, list[str]]:
        return (text.say(lang, f"{self.tab}.{self.key}"),
                text.say(lang, f"{self.tab}.{self.key}_choices").split("|"))


@dataclasses.dataclass
class ClassTab:
    """A lesson as the class sees it: its declared settings (those `for_class` can be sent) and questions."""

    id: str
    settings: Any  # core.values.Settings
    questions: dict[str, Question]


@dataclasses.dataclass
class Seat:
    nickname: tuple[int, int, int]
    seen: float
    following: bool = True


def pin_from(given: str | None) -> tuple[str, bool]:
    """(the teacher PIN, whether it was made here): the given one, else a random 6-digit PIN."""
    if given:
        return str(given).strip(), False
    return f"{secrets.randbelow(10**6):06d}", True


def nickname(parts: tuple[int, int, int], lang: str) -> str:
    adjectives = TEXT.say(lang, "adjectives").split("|")
    animals = TEXT.say(lang, "animals").split("|")
    return f"{adjectives[parts[0] % len(adjectives)]} {animals[parts[1] % len(animals)]} {parts[2]}"


class Classroom:
    def __init__(self, pin: str, clock: Callable[[], float] = time.monotonic):
        if not pin:
            raise ValueError("a classroom needs a PIN")
        self._pin = pin.encode()
        self._clock = clock
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self.tabs: dict[str, ClassTab] = {}
        self.collects: dict[str, Collect] = {}  # the lessons that gather results (registered at build)
        self._wrong: dict[str, tuple[int, float]] = {}  # session id: (wrong PINs in a row, locked until)
        self._teachers: set[str] = set()  # keys of unlocked sessions
        self.version = 0  # what every page shows changed
        self.roster_version = 0  # what only the teacher's page shows changed (joins, answers)
        self._reset()

    # ------------------------------------------------------------ the lessons

    def register(self, tab_id: str, settings, answers: dict[str, int] | None = None) -> ClassTab:
        questions = {key: Question(tab_id, key, answer) for key, answer in (answers or {}).items()}
        for question in questions.values():
            question.words("ko")  # its words exist (KeyError at build time otherwise)
        self.tabs[tab_id] = ClassTab(tab_id, settings, questions)
        return self.tabs[tab_id]

    def collect(self, tab_id: str, collect: Collect) -> None:
        """The lesson `tab_id` gathers results from the class (numbers only, read by `collect.read`)."""
        self.collects[str(tab_id)] = collect

    def question(self, full_key: str) -> Question | None:
        tab_id, _, key = str(full_key).partition(".")
        tab = self.tabs.get(tab_id)
        return tab.questions.get(key) if tab else None

    # ------------------------------------------------------------ the teacher

    def _reset(self) -> None:
        self.code: str | None = None
        self.seats: dict[str, Seat] = {}
        self.push_n = 0
        self.push: dict | None = None  # {"tab": id, "values": {...}}
        self.paused = False
        self.asked: Question | None = None
        self.ask_n = 0
        self.answers: dict[str, int] = {}
        self.revealed = False
        self.spread: dict | None = None  # {"name", "low", "high", "log", "integer"} of the current push
        self.spread_at: dict[str, float] = {}  # seat token: its place in the spread range
        self.spread_first = 0  # seats placed when the spread was sent (the others joined later)
        self.reports: dict[str, dict[str, list[tuple[float, dict]]]] = {}  # tab: seat token: [(when, report)]
        self.report_n: dict[str, int] = {}  # tab: reports that changed something
        self.shown: dict | None = None  # {"token", "anonymous"}: the seat on the projector
        self.last_activity = self._clock()

    @property
    def running(self) -> bool:
        return self.code is not None

    def unlock(self, session: dict, pin) -> str:
        """Check `pin` for this session (a dict Gradio keeps per page); on success the session holds a teacher
        key and the key is returned. Refused: a wrong PIN, or the 60 s wait after 5 of them."""
        sid = session.setdefault("id", secrets.token_hex(8))
        now = self._clock()
        with self._lock:
            wrong, until = self._wrong.get(sid, (0, 0.0))
            if now < until:
                raise Refused("locked", seconds=int(until - now) + 1)
            if not hmac.compare_digest(str(pin or "").strip().encode(), self._pin):
                wrong += 1
                self._wrong[sid] = (0, now + LOCKOUT_S) if wrong >= MAX_WRONG_PINS else (wrong, 0.0)
                raise Refused("wrong_pin", left=max(0, MAX_WRONG_PINS - wrong))
            self._wrong.pop(sid, None)
            key = session.get("teacher") if session.get("teacher") in self._teachers else secrets.token_urlsafe(18)
            self._teachers.add(key)
            session["teacher"] = key
        self._changed(roster=True)
        return key

    def is_teacher(self, session_or_key) -> bool:
        key = session_or_key.get("teacher") if isinstance(session_or_key, dict) else session_or_key
        return isinstance(key, str) and key in self._teachers

    def _teacher(self, session) -> None:
        if not self.is_teacher(session):
            raise Refused("not_teacher")
        self._expire_if_idle()
        self.last_activity = self._clock()

    def _need_class(self) -> None:
        if not self.running:
            raise Refused("no_class")

    def start(self, session) -> str:
        self._teacher(session)
        with self._lock:
            if not self.running:
                self._reset()
                self.code = f"{secrets.randbelow(10**4):04d}"
        self._changed(roster=True)
        return self.code

    def send(self, session, tab_id: str, values: dict, spread: tuple | None = None) -> dict:
        """The teacher's tab and its class settings, each read through the tab's declared setting (clamped).
        spread: (setting name, low, high): each seat gets its own value of that setting in [low, high] (None for
        the declared end), evenly over the seats in by then, on a log scale for a range over a factor of 10."""
        self._teacher(session)
        self._need_class()
        tab = self.tabs.get(str(tab_id))
        if tab is None:
            raise Refused("no_such_tab")
        allowed = {s.name for s in tab.settings.for_class()}
        notes: list = []
        taken = tab.settings.take_all({k: v for k, v in dict(values).items() if k in allowed}, notes)
        plan = None
        if spread:
            name, low, high = (list(spread) + [None, None])[:3]
            setting = tab.settings.get(name) if name in allowed else None
            if setting is None or setting.choices is not None:
                raise Refused("no_spread")
            plan = spread_plan(setting, low, high)
        with self._lock:
            self.push_n += 1
            self.push = {"n": self.push_n, "tab": tab.id, "values": taken}
            self.spread, self.spread_at = plan, {}
            if plan:
                self.push["spread"] = plan
                seats = sorted(self.seats, key=lambda token: self.seats[token].nickname[2])
                self.spread_at = {token: spread_fraction(i, len(seats)) for i, token in enumerate(seats)}
                self.spread_first = len(seats)
        self._changed()
        return self.push

    def values_for(self, token) -> dict:
        """The pushed settings as this seat receives them: with a spread, its own value of the spread setting."""
        push, plan = self.push, self.spread
        if push is None:
            return {}
        values = dict(push["values"])
        if plan is None or not isinstance(token, str) or token not in self.seats:
            return values
        with self._lock:
            if token not in self.spread_at:
                self.spread_at[token] = late_fraction(len(self.spread_at) - self.spread_first + 1)
            fraction = self.spread_at[token]
        values[plan["name"]] = self.tabs[push["tab"]].settings[plan["name"]].take(spread_value(plan, fraction), [])
        return values

    def set_paused(self, session, paused: bool) -> bool:
        self._teacher(session)
        self._need_class()
        self.paused = bool(paused)
        self._changed()
        return self.paused

    def ask(self, session, full_key: str) -> Question:
        self._teacher(session)
        self._need_class()
        question = self.question(full_key)
        if question is None:
            raise Refused("no_such_question")
        with self._lock:
            self.asked, self.answers, self.revealed = question, {}, False
            self.ask_n += 1
        self._changed(roster=True)
        return question

    def reveal(self, session) -> int:
        self._teacher(session)
        self._need_class()
        if self.asked is None:
            raise Refused("no_question")
        self.revealed = True
        self._changed(roster=True)
        return self.asked.answer

    def spotlight(self, session, seat_id, anonymous: bool = False) -> dict | None:
        """Put one seat's results on the teacher's page (the projector), by its number; None takes it down."""
        self._teacher(session)
        self._need_class()
        if seat_id is None:
            self.shown = None
        else:
            token = next((t for t, s in list(self.seats.items()) if s.nickname[2] == _integer(seat_id)), None)
            if token is None:
                raise Refused("no_such_seat")
            self.shown = {"token": token, "anonymous": bool(anonymous)}
        self._changed(roster=True)
        return self.shown

    def reports_for(self, session, tab_id: str) -> list[dict]:
        """Every kept report of a lesson, for the teacher's figures (anonymous: numbers only, seat by seat)."""
        self._teacher(session)
        return [report for _, kept in self._kept(str(tab_id)) for report in kept]

    def end(self, session) -> None:
        """Forget the class at once (the teacher stays unlocked)."""
        self._teacher(session)
        with self._lock:
            self._reset()
        self._changed(roster=True)

    def _expire_if_idle(self) -> None:
        if self.running and self._clock() - self.last_activity > IDLE_END_S:
            with self._lock:
                self._reset()
            self._changed(roster=True)

    # ------------------------------------------------------------ the students

    def seat(self, token, following: bool = True, create: bool = True) -> str | None:
        """The seat of a student page (with `create`, a new one for an unknown token), while a class runs; None
        otherwise."""
        self._expire_if_idle()
        if not self.running:
            return None
        now, joined = self._clock(), False
        with self._lock:
            seat = self.seats.get(token) if isinstance(token, str) else None
            if seat is None:
                if not create or len(self.seats) >= MAX_SEATS:
                    return None
                token = secrets.token_urlsafe(12)
                numbers = {s.nickname[2] for s in self.seats.values()}
                number = next(n for n in range(1, MAX_SEATS + 2) if n not in numbers)
                seat = self.seats[token] = Seat((secrets.randbelow(97), secrets.randbelow(89), number), now)
                self.last_activity, joined = now, True
            seat.seen, changed = now, seat.following != bool(following)
            seat.following = bool(following)
        if joined or changed:
            self._changed(roster=True, everyone=False)
        return token

    def answer(self, token, ask_n, choice) -> bool:
        """A seat's choice for the current question (changeable until the answer is revealed)."""
        question = self.asked
        if question is None or self.revealed or token not in self.seats or ask_n != self.ask_n:
            return False
        try:
            choice = int(choice)
        except (TypeError, ValueError):
            return False
        if not 0 <= choice < len(question.words("en")[1]):
            return False
        self.answers[token] = choice
        self.last_activity = self._clock()
        self._changed(roster=True, everyone=False)
        return True

    def report(self, token, tab_id, numbers, from_page: bool = False) -> bool:
        """A seat's result in a lesson that gathers them (numbers only, read by the lesson); from_page: sent by
        the page itself, accepted only where the lesson says a page may."""
        collect = self.collects.get(str(tab_id))
        seat = self.seats.get(token) if isinstance(token, str) else None
        if collect is None or seat is None or not self.running or (from_page and not collect.from_page):
            return False
        checked = numbers_only(numbers)
        report = collect.read(checked) if isinstance(checked, dict) else None
        if report is None:
            return False
        now = self._clock()
        with self._lock:
            kept = self.reports.setdefault(str(tab_id), {}).setdefault(token, [])
            changed = not kept or kept[-1][1] != report
            if changed:
                kept.append((now, report))
                del kept[:-collect.keep]
                self.report_n[str(tab_id)] = self.report_n.get(str(tab_id), 0) + 1
            else:
                kept[-1] = (now, report)
            seat.seen = self.last_activity = now
        if changed:
            self._changed(roster=True, everyone=False)
        return True

    def _kept(self, tab_id: str) -> list[tuple[str, list[dict]]]:
        collect = self.collects.get(tab_id)
        return kept_reports(collect, self.reports.get(tab_id, {}), self.seats, self._clock()) if collect else []

    def present(self) -> int:
        now = self._clock()
        return sum(1 for s in list(self.seats.values()) if now - s.seen <= PRESENT_S)

    def histogram(self) -> list[int]:
        if self.asked is None:
            return []
        counts = [0] * len(self.asked.words("en")[1])
        for choice in list(self.answers.values()):
            counts[choice] += 1
        return counts

    # ------------------------------------------------------------ what a page shows

    def view(self, token, lang: str, teacher_key=None) -> dict:
        """Everything one page needs, in its language: numbers, choices and the teacher's words only."""
        teacher = self.is_teacher(teacher_key)
        seat = self.seats.get(token) if isinstance(token, str) else None
        view = {"v": [self.version, self.roster_version if teacher else 0], "running": self.running,
                "code": self.code, "teacher": teacher, "paused": self.paused and not teacher, "push": self.push,
                "seat": token if seat else None, "nickname": nickname(seat.nickname, lang) if seat else None}
        if self.push is not None and seat is not None and self.spread is not None:
            view["push"] = dict(self.push, values=self.values_for(token))
        if self.asked is not None:
            words, choices = self.asked.words(lang)
            view["question"] = {"n": self.ask_n, "text": words, "choices": choices,
                                "mine": self.answers.get(token), "answer": self.asked.answer if self.revealed else None}
        if teacher:
            view["count"] = self.present()
            view["following"] = sum(1 for s in list(self.seats.values()) if s.following)
            view["histogram"] = self.histogram()
            view["results"] = summaries(self.collects, self._kept, self.report_n, lang)
            view["roster"] = self._roster(lang)
            view["shown"] = self._shown(lang)
        return view

    def _roster(self, lang: str) -> list[dict]:
        """The seats with something to show (an answer or a result), by number: what "show one answer" offers."""
        reported = {token for tab_id in list(self.collects) for token, _ in self._kept(tab_id)}
        return [{"id": seat.nickname[2], "nickname": nickname(seat.nickname, lang)}
                for token, seat in sorted(list(self.seats.items()), key=lambda item: item[1].nickname[2])
                if token in reported or token in self.answers]

    def _shown(self, lang: str) -> dict | None:
        shown = self.shown
        seat = self.seats.get(shown["token"]) if shown else None
        if seat is None:
            return None
        rows = []
        if self.asked is not None and shown["token"] in self.answers:
            words, choices = self.asked.words(lang)
            rows.append([words, choices[self.answers[shown["token"]]]])
        for tab_id, reports in ((t, dict(self._kept(t)).get(shown["token"])) for t in list(self.collects)):
            if reports:
                rows += self.collects[tab_id].describe(reports[-1], lang)
        name = TEXT.say(lang, "anonymous") if shown["anonymous"] else nickname(seat.nickname, lang)
        return {"id": seat.nickname[2], "name": name, "anonymous": shown["anonymous"], "rows": rows}

    # ------------------------------------------------------------ waiting for a change

    def _changed(self, roster: bool = False, everyone: bool = True) -> None:
        with self._lock:
            if everyone:
                self.version += 1
            if roster:
                self.roster_version += 1
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_settle, future)

    async def wait(self, known, teacher: bool, timeout: float = WAIT_S) -> None:
        """Return when what this page shows has changed since `known` ([version, roster version]), or after
        `timeout` seconds. Waiting costs nothing: a future that a change settles."""
        deadline = time.monotonic() + timeout
        while not self._differs(known, teacher):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            future = asyncio.get_running_loop().create_future()
            with self._lock:
                self._waiters.append((asyncio.get_running_loop(), future))
            if self._differs(known, teacher):  # changed between the check and the registration
                return
            await asyncio.wait([future], timeout=left)
            with self._lock:
                if (asyncio.get_running_loop(), future) in self._waiters:
                    self._waiters.remove((asyncio.get_running_loop(), future))

    def _differs(self, known, teacher: bool) -> bool:
        if not isinstance(known, (list, tuple)) or len(known) != 2:
            return True
        return known[0] != self.version or (teacher and known[1] != self.roster_version)


def _integer(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _settle(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)
