"""The class on every page: the class bar (nickname, "follow the teacher", the pause cover, the question), the
teacher's controls folded under "Teacher" and the projector panel. The class itself is core/classroom.py.

app.py calls `controls(page, lesson_ids)` above the tabs and, after every tab is built, `wire(page, tabs)`.
A lesson joins the class in its tab.py with `page.class_tab(compute.SETTINGS, {name: control}, show=dependency,
answers={"class_q1": 2})`: its class settings (those declared `for_class`), the event that shows its result
(run again on a student page after the settings arrive: `gr.Tabs(selected=...)` fires no Tab.select), and
the right answer of each of its questions (words in its text.py: `class_q1`, `class_q1_choices` "a|b|c").

Who is the teacher is decided on the server: the PIN unlocks a session (its gr.State, which the page cannot
write), and every teacher event checks that state's key (core.classroom.Refused otherwise); the teacher's own
server functions (`class_spotlight`, `class_qr`) check the key the unlock gave that page. Students' pages talk
to the class through the bar's server functions (`class_wait`, `class_answer`, `class_report`: numbers only,
at most one report per lesson every 2 s), outside the queue.

A lesson that gathers results registers a `core.class_results.Collect` with `page.classroom.collect(...)`; its
reports come from its own server event (`report_from_event`) or, where it says so, from the page itself.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from core import components, events, text
from core.classroom import Classroom, Refused

JS = Path(__file__).resolve().parent.parent / "assets" / "js" / "classroom.js"

TEXT = text.table("teacher", {
    "teacher": ("교사", "Teacher"),
    "pin": ("교사 PIN", "Teacher PIN"),
    "unlock": ("잠금 풀기", "Unlock"),
    "unlocked": ("교사 화면입니다. '수업 시작'을 누르세요.", "This is the teacher's page. Press \"Start class\"."),
    "start": ("수업 시작", "Start class"),
    "started": ("수업 코드 {code}: 학생들이 이 주소를 열면 들어옵니다.", "Class code {code}: students join by opening this address."),
    "push": ("반 전체에 보내기", "Send to class"),
    "pushed": ("보냈습니다: {tab}", "Sent: {tab}"),
    "pause": ("멈춤 / 다시 시작", "Pause / release"),
    "paused": ("학생 화면을 가렸습니다.", "Student pages are covered."),
    "released": ("학생 화면을 다시 열었습니다.", "Student pages are open again."),
    "end": ("수업 끝내기", "End class"),
    "ended": ("수업을 끝냈습니다. 수업에 대한 모든 것을 잊었습니다.", "Class ended; everything about it is forgotten."),
    "question": ("예측 질문", "Prediction question"),
    "ask": ("질문하기", "Ask"),
    "asked": ("질문을 냈습니다.", "Question asked."),
    "reveal": ("정답 공개", "Reveal"),
    "revealed": ("정답: {answer}", "Answer: {answer}"),
    "spread": ("학생마다 다른 값 나눠 주기", "A different value for each student"),
    "spread_none": ("모두 같은 값", "The same for everyone"),
    "spread_low": ("가장 작은 값", "Lowest value"),
    "spread_high": ("가장 큰 값", "Highest value"),
    "spread_blank": ("비우면 설정의 끝값", "empty: the setting's own limit"),
    "spread_other_tab": ("나눠 줄 설정이 지금 탭의 것이 아닙니다: {tab}의 설정입니다.",
                         "The setting to spread belongs to another lesson: {tab}."),
    "pushed_spread": ("보냈습니다: {tab} ({setting}: 학생마다 {low} ~ {high})",
                      "Sent: {tab} ({setting}: {low} to {high}, one value per student)"),
    # the class bar (said in the page by classroom.js)
    "code": ("수업 코드", "Class code"),
    "you": ("내 별명", "You are"),
    "follow": ("선생님 따라가기", "Follow the teacher"),
    "look": ("프로젝터를 보세요", "Look at the projector"),
    "students": ("들어온 학생", "Students in"),
    "following": ("따라오는 학생", "Following"),
    "join": ("이 주소를 여세요", "Open this address"),
    "answers": ("학생들의 답과 결과", "The students' answers and results"),
    "show": ("화면에 띄우기", "Show"),
    "hide": ("내리기", "Take down"),
    "anonymous": ("이름 없이 띄우기", "Show without the name"),
})
BAR_WORDS = ("code", "you", "follow", "look", "students", "following", "join", "answers", "show", "hide", "anonymous")
QR_MAX_ADDRESS = 300  # an app's address, not a page of text

TEMPLATE = """
<div class="class-bar" data-role="bar" style="display:none">
  <span><span data-word="code"></span> <b data-role="code"></b></span>
  <span><span data-word="you"></span>: <b id="class-nickname"></b></span>
  <label class="class-follow"><input type="checkbox" id="class-follow" checked> <span data-word="follow"></span></label>
  <div class="class-question" data-role="question" style="display:none">
    <span data-role="question-text"></span><span class="class-choices" data-role="choices"></span>
  </div>
</div>
<div class="class-projector" data-role="projector" style="display:none">
  <div class="class-big"><span data-word="code"></span> <b data-role="big-code"></b></div>
  <div class="class-join"><div data-role="qr" id="class-qr"></div>
    <div class="class-big"><span data-word="join"></span>: <b data-role="address"></b></div></div>
  <div class="class-big"><span data-word="students"></span>: <b id="class-count">0</b>
    &nbsp; <span data-word="following"></span>: <b data-role="following">0</b></div>
  <div data-role="poll" style="display:none"><div class="class-big" data-role="poll-text"></div>
    <div data-role="histogram" id="class-histogram"></div></div>
  <div data-role="results" id="class-results"></div>
  <div class="class-shown" data-role="shown" id="class-shown" style="display:none"></div>
  <details class="class-roster" data-role="roster-box"><summary data-word="answers"></summary>
    <label><input type="checkbox" id="class-anonymous"> <span data-word="anonymous"></span></label>
    <div data-role="roster" id="class-roster"></div></details>
</div>
<div id="class-paused" style="display:none"><div data-word="look"></div></div>
"""

CSS = """
.class-bar { display: flex; flex-wrap: wrap; gap: 1.2em; align-items: center; padding: 6px 10px;
  border-radius: 8px; background: var(--color-accent-soft); }
.class-choices { display: inline-flex; gap: 6px; margin-left: 10px; flex-wrap: wrap; }
.class-choice { padding: 4px 12px; border-radius: 6px; border: 1px solid var(--border-color-primary); }
.class-choice.mine { background: var(--color-accent); color: white; }
.class-choice.right, .class-hist-row.right { outline: 3px solid #16a34a; }
.class-projector { padding: 10px; border-radius: 8px; border: 2px solid var(--color-accent); }
.class-big { font-size: 1.8em; margin: 4px 0; word-break: break-all; }
.class-hist-row { display: flex; gap: 10px; align-items: center; font-size: 1.3em; margin: 4px 0; }
.class-hist-row .label { min-width: 8em; }
.class-hist-row .bar { height: 1.1em; background: var(--color-accent); display: inline-block; }
.class-join { display: flex; gap: 16px; align-items: center; }
#class-qr svg { width: 180px; height: 180px; background: white; }
.class-shown { margin: 8px 0; padding: 8px 12px; border-radius: 8px; background: var(--color-accent-soft); }
.class-roster-row { display: flex; gap: 10px; align-items: center; margin: 2px 0; }
#class-paused { position: fixed; inset: 0; z-index: 10000; background: rgba(15, 23, 42, 0.92); color: white;
  align-items: center; justify-content: center; font-size: 3em; }
"""


def follow_event(tab_id: str) -> str:
    return f"follow_{tab_id}"


def bar_js(lesson_ids) -> str:
    names = {tab_id: follow_event(tab_id) for tab_id in lesson_ids}
    return f"const FOLLOW_EVENTS = {json.dumps(names)};\n" + JS.read_text(encoding="utf-8")


def question_keys(lesson_ids) -> list[str]:
    """Every lesson's prediction questions, by full key ("<tab>.class_q1"), from its text table."""
    found = []
    for tab_id in lesson_ids:
        prefix = f"{tab_id}.class_q"
        found += [k for k in text.KO if k.startswith(prefix) and not k.endswith("_choices")]
    return found


def _dict(data) -> dict:
    return data if isinstance(data, dict) else {}


def _lang(data: dict) -> str:
    return "en" if data.get("lang") == "en" else "ko"


def class_bar(classroom: Classroom, lesson_ids) -> gr.HTML:
    """The bar every page shows, with its server functions (called by classroom.js, outside the queue)."""
    words = {lang: {w: TEXT.say(lang, w) for w in BAR_WORDS} for lang in text.LANGS}
    return gr.HTML(html_template=TEMPLATE, css_template=CSS, js_on_load=bar_js(lesson_ids), padding=False,
                   server_functions=page_functions(classroom) + teacher_functions(classroom), elem_id="class-bar",
                   words=words)


def page_functions(classroom: Classroom) -> list:
    """What every page asks: the long-poll, an answer, and the page's own numbers in a lesson that takes them."""

    async def class_wait(data):
        data = _dict(data)
        key, follow = data.get("teacher"), data.get("follow") is not False
        teacher = classroom.is_teacher(key)
        seat = None if teacher else classroom.seat(data.get("seat"), follow)
        if data.get("known") is not None:
            await classroom.wait(data.get("known"), teacher)
            # a page that had no seat gets one when it asks again (a page left behind by a reload gets none)
            seat = None if teacher else classroom.seat(seat, follow, create=False)
        return classroom.view(seat, _lang(data), key)

    def class_answer(data):
        data = _dict(data)
        return classroom.answer(data.get("seat"), data.get("n"), data.get("choice"))

    def class_report(data):
        data = _dict(data)
        return classroom.report(data.get("seat"), data.get("tab"), data.get("numbers"), from_page=True)

    return [class_wait, class_answer, class_report]


def teacher_functions(classroom: Classroom) -> list:
    """The teacher's page's own: one student's results on the projector, and the QR code of the app's address.
    Each checks the teacher key that the unlock gave this page; anyone else gets the refusal."""

    def class_spotlight(data):
        data = _dict(data)
        try:
            shown = classroom.spotlight(data.get("teacher"), data.get("seat"), data.get("anonymous") is True)
        except Refused as refused:
            return {"ok": False, "message": refused.say(_lang(data))}
        return {"ok": True, "shown": shown is not None}

    def class_qr(data):
        data = _dict(data)
        if not classroom.is_teacher(data.get("teacher")):
            return {"ok": False, "message": Refused("not_teacher").say(_lang(data))}
        return {"ok": True, "svg": qr_svg(str(data.get("address") or ""))}

    return [class_spotlight, class_qr]


@functools.lru_cache(maxsize=8)
def qr_svg(address: str) -> str:
    """The QR code of `address` (an http(s) address of this app) as inline SVG; "" for anything else."""
    import segno  # pure Python (requirements.txt)

    if not address.startswith(("http://", "https://")) or len(address) > QR_MAX_ADDRESS:
        return ""
    # without a size of its own (a viewBox only): the projector's CSS makes it as big as the room needs
    return segno.make(address, error="m").svg_inline(border=2, omitsize=True, dark="#000", light="#fff")


def controls(page, lesson_ids) -> SimpleNamespace:
    """The class bar, then the teacher's controls folded under "Teacher" (made before the tabs, wired after)."""
    ui = TEXT.ui
    c = SimpleNamespace(bar=class_bar(page.classroom, lesson_ids))
    with gr.Accordion(ui("teacher"), open=False, elem_id="class-teacher"):
        with gr.Row(equal_height=True):
            c.pin = gr.Textbox(type="password", label=ui("pin"), max_length=32, scale=2, elem_id="class-pin")
            c.unlock = gr.Button(ui("unlock"), scale=1, elem_id="class-unlock")
        with gr.Row():
            c.start = gr.Button(ui("start"), variant="primary", elem_id="class-start")
            c.push = gr.Button(ui("push"), variant="primary", elem_id="class-push")
            c.pause = gr.Button(ui("pause"), elem_id="class-pause")
            c.end = gr.Button(ui("end"), variant="stop", elem_id="class-end")
        with gr.Row(equal_height=True):  # choices filled in on unlock, from the lessons that joined the class
            c.spread = components.Dropdown([(ui("spread_none"), "")], value="", label=ui("spread"), scale=3,
                                           elem_id="class-spread")
            # Text boxes: empty means the setting's own limit (a number box would show, and send, 0)
            c.spread_low = gr.Textbox("", label=ui("spread_low"), placeholder=ui("spread_blank"), max_length=24,
                                      scale=1, elem_id="class-spread-low")
            c.spread_high = gr.Textbox("", label=ui("spread_high"), placeholder=ui("spread_blank"), max_length=24,
                                       scale=1, elem_id="class-spread-high")
        with gr.Row(equal_height=True):
            keys = question_keys(lesson_ids)
            c.question = components.Dropdown([(text.ui(k), k) for k in keys], value=keys[0] if keys else None,
                                             label=ui("question"), scale=3, elem_id="class-question")
            c.ask = gr.Button(ui("ask"), scale=1, elem_id="class-ask")
            c.reveal = gr.Button(ui("reveal"), scale=1, elem_id="class-reveal")
        c.status = gr.Markdown(elem_id="class-status")
        c.key = gr.Textbox(visible="hidden", elem_id="class-key")
        c.current = gr.Textbox(value=lesson_ids[0] if lesson_ids else "", visible="hidden", elem_id="class-current-tab")
    c.session = gr.State({})
    return c


# ---------------------------------------------------------------- the events

# After "Unlock": the page's class bar asks again as the teacher's page (the key stays in this page only).
TEACHER_KEY_JS = """(key) => { if (key) { window.dlclassTeacher = key;
  window.dispatchEvent(new Event('dlclass-teacher')); } return []; }"""


def wire(page, c: SimpleNamespace, lesson_tabs, tab_blocks: dict) -> None:
    """Register the lessons with the class, the teacher's events and each lesson's follow event."""
    classroom = page.classroom
    for record in page.class_tabs:
        classroom.register(record.id, record.settings, record.answers)
    for tab_id, tab in tab_blocks.items():  # which tab the teacher is on, and its question: in the browser only
        key = f"{tab_id}.class_q1"
        if key in text.KO:
            tab.select(None, None, [c.current, c.question], js=f"() => [{json.dumps(tab_id)}, {json.dumps(key)}]")
        else:
            tab.select(None, None, [c.current], js=f"() => {json.dumps(tab_id)}")
    actions = TeacherActions(classroom, page.class_tabs)
    teacher = dict(kind="quick", api_visibility="private")
    unlocked = events.on(c.unlock.click, actions.unlock, [c.session, c.pin],
                         [c.session, c.key, c.status, c.pin, c.spread], api_name="class_unlock", **teacher)
    unlocked.then(None, [c.key], None, js=TEACHER_KEY_JS)
    events.on(c.start.click, actions.start, [c.session], [c.status], api_name="class_start", **teacher)
    events.on(c.push.click, actions.send, [c.session, c.current] + actions.controls + [c.spread, c.spread_low,
              c.spread_high], [c.status], api_name="class_push", **teacher)
    events.on(c.pause.click, actions.pause, [c.session], [c.status], api_name="class_pause", **teacher)
    events.on(c.ask.click, actions.ask, [c.session, c.question], [c.status], api_name="class_ask", **teacher)
    events.on(c.reveal.click, actions.reveal, [c.session], [c.status], api_name="class_reveal", **teacher)
    events.on(c.end.click, actions.end, [c.session], [c.status], api_name="class_end", **teacher)
    for record in page.class_tabs:
        follow_tab(page, c.bar, lesson_tabs, record)


def follow_tab(page, bar, lesson_tabs, record) -> None:
    """A student page receiving the teacher's push for this tab: open the tab, set its controls, then show
    its result (the tab's own event, from the result cache when it is the same work)."""
    classroom, names, tab_id = page.classroom, list(record.controls), record.id

    def follow(evt: gr.EventData = None):
        push = classroom.push
        if push is None or push["tab"] != tab_id:
            return (gr.skip(),) * (1 + len(names))
        values = classroom.values_for(event_value(evt, "seat"))  # with a spread: this seat's own value
        return (gr.Tabs(selected=tab_id), *[values.get(n, gr.skip()) for n in names])

    opened = events.on(getattr(bar, follow_event(record.id)), follow, None,
                       [lesson_tabs] + [record.controls[n] for n in names], kind="quick", api_visibility="private",
                       name=f"class_follow:{record.id}", show_progress="hidden")
    if record.show is not None:
        shown = record.show.registered
        config, blocks = dict(record.show), page.blocks.blocks
        events.on(opened.then, shown.fn, [blocks[i] for i in config["inputs"]], [blocks[i] for i in config["outputs"]],
                  kind=shown.kind.name, cache=shown.cache, api_visibility="private",
                  name=f"class_show:{record.id}")


def event_value(evt, name: str):
    """A value the page sent with a custom event (`trigger(name, {...})`), or None."""
    try:
        return getattr(evt, name)
    except (AttributeError, TypeError):  # no event, or an event sent without data
        return None


# The lessons' own class events: the page's seat, or its teacher key, put in front of the inputs in the page.
SEAT_JS = "(seat, ...rest) => [window.dlclassSeat || null, ...rest]"
KEY_JS = "(key, ...rest) => [window.dlclassTeacher || null, ...rest]"


def report_after(page, dependency, tab_id: str, numbers_of, inputs: list):
    """After `dependency` (a lesson's run on the server) the run's numbers go to the class: numbers_of(*inputs)
    -> numbers (None: nothing to report), for the seat of the page that ran it. One quick event per run; it does
    nothing when no class runs or the page has no seat. None when the app has no class (a tab built alone)."""
    if page.classroom is None:
        return None
    seat = gr.Textbox(visible="hidden")
    classroom = page.classroom

    def class_report(seat, *values):
        numbers = numbers_of(*values) if isinstance(seat, str) and seat in classroom.seats else None
        if numbers is not None:
            classroom.report(seat, tab_id, numbers)

    return events.on(dependency.then, class_report, [seat] + list(inputs), None, kind="quick", js=SEAT_JS,
                     api_visibility="private", show_progress="hidden", name=f"class_report:{tab_id}")


def results_button(page, tab_id: str, button, figures_of, outputs: list, api_name: str):
    """`button` (on the teacher's page) draws the class's reports of this lesson: figures_of(reports, lang) ->
    the outputs. A teacher action: the page's teacher key is checked on the server. classroom.js presses the
    button with elem_id "class-gather-<tab_id>" again whenever new reports arrive."""
    key = gr.Textbox(visible="hidden")
    classroom = page.classroom

    def class_results(key, *, lang: str = "ko"):
        return figures_of(classroom.reports_for(key, tab_id), lang)

    return events.on(button.click, class_results, [key], outputs, kind="quick", js=KEY_JS, api_name=api_name,
                     api_visibility="private")


class TeacherActions:
    """The teacher's events: each checks the session's key on the server (core.classroom.Refused otherwise)."""

    def __init__(self, classroom: Classroom, class_tabs: list):
        self.classroom = classroom
        self.class_tabs = class_tabs
        self.slots = [(record.id, name) for record in class_tabs for name in record.controls]
        self.controls = [record.controls[name] for record in class_tabs for name in record.controls]

    def unlock(self, session, pin, *, lang: str = "ko"):
        session = dict(session) if isinstance(session, dict) else {}
        key = self.classroom.unlock(session, pin)
        return session, key, TEXT.say(lang, "unlocked"), "", gr.update(choices=self.spread_choices(lang), value="")

    def spread_choices(self, lang: str) -> list[tuple[str, str]]:
        """Every numeric class setting a lesson's controls can receive: ("<lesson> · <setting>", "<tab>.<name>")."""
        choices = [(TEXT.say(lang, "spread_none"), "")]
        for record in self.class_tabs:
            title = text.say(lang, f"{record.id}.title")
            choices += [(f"{title} · {record.settings[name].label.say(lang)}", f"{record.id}.{name}")
                        for name in record.controls if record.settings[name].choices is None]
        return choices

    def start(self, session, *, lang: str = "ko"):
        return TEXT.say(lang, "started", code=self.classroom.start(session))

    def send(self, session, current, *rest, lang: str = "ko"):
        """The current tab's controls to the class; with a spread setting chosen, one value per student."""
        values, (spread_key, low, high) = rest[:len(self.slots)], (list(rest[len(self.slots):]) + [None] * 3)[:3]
        chosen = {name: value for (tab_id, name), value in zip(self.slots, values) if tab_id == current}
        spread = None
        if spread_key and self.classroom.is_teacher(session):
            tab_id, _, name = str(spread_key).partition(".")
            if tab_id != current:
                raise TEXT.problem("spread_other_tab", tab=text.say(lang, f"{tab_id}.title"))
            spread = (name, low, high)
        push = self.classroom.send(session, current, chosen, spread)
        title = text.say(lang, f"{push['tab']}.title")
        plan = push.get("spread")
        if plan is None:
            return TEXT.say(lang, "pushed", tab=title)
        setting = self.classroom.tabs[push["tab"]].settings[plan["name"]]
        return TEXT.say(lang, "pushed_spread", tab=title, setting=setting.label.say(lang), low=f"{plan['low']:g}",
                        high=f"{plan['high']:g}")

    def pause(self, session, *, lang: str = "ko"):
        paused = self.classroom.set_paused(session, not self.classroom.paused)
        return TEXT.say(lang, "paused" if paused else "released")

    def ask(self, session, question, *, lang: str = "ko"):
        self.classroom.ask(session, question)
        return TEXT.say(lang, "asked")

    def reveal(self, session, *, lang: str = "ko"):
        answer = self.classroom.reveal(session)
        return TEXT.say(lang, "revealed", answer=self.classroom.asked.words(lang)[1][answer])

    def end(self, session, *, lang: str = "ko"):
        self.classroom.end(session)
        return TEXT.say(lang, "ended")
