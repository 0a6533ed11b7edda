"""The teacher mode in Chromium, in both languages: a teacher page and 3 student pages; start class; the teacher
sends the sliding-window tab with kernel 5 and stride 2 and every student page shows it; pause and release; a
prediction question answered by the 3 students appears on the teacher's page; the teacher shows one student's answer
on the projector (by nickname, then anonymously); the teacher hands each student a different learning rate and the
fine-tuning runs of 2 students are gathered on the teacher's page; end class. The projector shows a QR code."""
from __future__ import annotations

import pytest

from core import text
from core.classroom import TEXT as CLASS_TEXT
from tabs.finetune.settings import SETTINGS as FINETUNE
from tests.conftest import _page, open_tab, running_app, shot

PIN = "4821"


@pytest.fixture(scope="module")
def class_url(screenshots):
    with running_app("server-teacher", args=("--teacher-pin", PIN)) as (url, _, _):
        yield url


def slider_value(page, elem_id: str) -> str:
    return page.locator(f"#{elem_id} input[type=number]").first.input_value()


def set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")
    page.wait_for_function("([sel, v]) => document.querySelector(sel).value === v",
                           arg=[f"#{elem_id} input[type=number]", str(value)])


def unlock_and_start(teacher) -> None:
    teacher.click("#class-teacher")
    teacher.fill("#class-pin input", "0000")
    teacher.click("#class-unlock")
    teacher.locator(".toast-body", has_text="PIN").first.wait_for()  # the refusal, in the page's language
    teacher.fill("#class-pin input", PIN)
    teacher.click("#class-unlock")
    teacher.wait_for_function("() => Boolean(window.dlclassTeacher)")
    teacher.click("#class-start")
    teacher.wait_for_function("() => document.querySelector('#class-bar [data-role=projector]').style.display"
                              " === 'block'")


@pytest.mark.parametrize("locale", ["ko-KR", "en-US"])
def test_a_teacher_leads_three_students(browser, class_url, screenshots, locale):
    lang = locale[:2]
    opened = [_page(browser, class_url, locale) for _ in range(4)]
    teacher, students = opened[0][1], [page for _, page in opened[1:]]
    try:
        unlock_and_start(teacher)
        for student in students:
            student.wait_for_function("() => document.querySelector('#class-nickname').textContent.length > 2")
        nicknames = {s.locator("#class-nickname").inner_text() for s in students}
        assert len(nicknames) == 3
        if lang == "ko":
            assert all(any("\uac00" <= ch <= "\ud7a3" for ch in n) for n in nicknames), nicknames
        else:
            assert all(n.isascii() for n in nicknames), nicknames
        teacher.wait_for_function("() => document.querySelector('#class-count').textContent === '3'")

        # the teacher opens the sliding window, sets kernel 5 and stride 2, and sends it
        open_tab(teacher, "sliding_window")
        set_slider(teacher, "sw-k", 5)
        set_slider(teacher, "sw-stride", 2)
        teacher.click("#class-push")
        for student in students:
            student.wait_for_selector("#tab-sliding_window", state="visible", timeout=30_000)
            student.wait_for_function("() => { const k = document.querySelector('#sw-k input[type=number]');"
                                      " const s = document.querySelector('#sw-stride input[type=number]');"
                                      " return k && s && k.value === '5' && s.value === '2'; }", timeout=30_000)
            student.wait_for_function("() => /1\\s*[×x]\\s*1/.test(document.querySelector('#sw-explain').innerText)",
                                      timeout=30_000)  # the result of kernel 5, stride 2 on 5×5: one output cell
        shot(students[0], screenshots, f"teacher-student-followed-{lang}")

        # pause and release: the cover is on every student page, not on the teacher's
        teacher.click("#class-pause")
        for student in students:
            student.wait_for_selector("#class-paused", state="visible")
        assert not teacher.locator("#class-paused").is_visible()
        shot(students[0], screenshots, f"teacher-student-paused-{lang}")
        teacher.click("#class-pause")
        for student in students:
            student.wait_for_selector("#class-paused", state="hidden")

        # a prediction question: answers arrive on the teacher's page as a histogram; the reveal marks the answer
        teacher.click("#class-ask")
        for student, choice in zip(students, (0, 0, 2)):
            student.wait_for_selector(f"#class-choice-{choice}", state="visible")
            student.click(f"#class-choice-{choice}")
        teacher.wait_for_function("() => { const a = document.querySelector('#class-hist-0');"
                                  " const c = document.querySelector('#class-hist-2');"
                                  " return a && c && a.textContent === '2' && c.textContent === '1'; }")
        teacher.click("#class-reveal")
        students[2].wait_for_selector("#class-choice-0.right")
        teacher.wait_for_selector(".class-hist-row.right")
        assert teacher.locator("#class-qr svg").count() == 1  # the QR code of the address, next to the class code
        show_one_answer(teacher, students[2], lang)
        shot(teacher, screenshots, f"teacher-projector-{lang}")

        class_experiment(teacher, students, lang)
        shot(teacher, screenshots, f"teacher-experiment-{lang}")

        teacher.click("#class-end")
        for student in students:
            student.wait_for_function("() => document.querySelector('#class-nickname').textContent === ''")
            assert not student.locator("#class-follow").is_visible()
    finally:
        for context, _ in opened:
            context.close()


def show_one_answer(teacher, student, lang: str) -> None:
    """The teacher puts one student's answer on the projector by nickname, then without it."""
    nickname = student.locator("#class-nickname").inner_text()
    choice = student.locator("#class-choice-2").inner_text()
    teacher.locator("details[data-role=roster-box] summary").click()
    teacher.locator(".class-roster-row", has_text=nickname).locator("button").click()
    teacher.wait_for_function("(name) => document.querySelector('#class-shown').innerText.includes(name)",
                              arg=nickname)
    assert choice in teacher.locator("#class-shown").inner_text()
    teacher.locator("#class-anonymous").check()
    teacher.locator(".class-roster-row", has_text=nickname).locator("button").click()
    anonymous = CLASS_TEXT.say(lang, "anonymous")
    teacher.wait_for_function("(name) => document.querySelector('#class-shown').innerText.includes(name)",
                              arg=anonymous)
    assert nickname not in teacher.locator("#class-shown").inner_text()
    assert not student.locator("#class-shown").is_visible()  # on the projector only
    teacher.click("#class-hide")
    teacher.wait_for_selector("#class-shown", state="hidden")


def choose(page, elem_id: str, label: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=label, exact=True).click()


def lr_of(page) -> str:
    return page.locator("#finetune-lr input").input_value()


def class_experiment(teacher, students, lang: str) -> None:
    """Each student gets a learning rate of their own (0.001, 0.01, 0.1 over the 3 seats); 2 of them train; their
    curves and their points on the learning-rate chart appear on the teacher's page."""
    open_tab(teacher, "finetune")
    set_slider(teacher, "finetune-per-class", 8)
    set_slider(teacher, "finetune-patience", 2)
    setting = f"{text.say(lang, 'finetune.title')} · {FINETUNE['learning_rate'].label.say(lang)}"
    choose(teacher, "class-spread", setting)
    for elem_id, value in (("class-spread-low", "0.001"), ("class-spread-high", "0.1")):
        box = teacher.locator(f"#{elem_id}").locator("input, textarea").first
        box.fill(value)
        box.press("Enter")
    teacher.click("#class-push")
    for student in students:
        student.wait_for_selector("#tab-finetune", state="visible", timeout=30_000)
        student.wait_for_function("() => document.querySelector('#finetune-per-class input[type=number]').value"
                                  " === '8'", timeout=30_000)
    rates = [lr_of(student) for student in students]
    assert sorted(rates, key=float) == ["0.001", "0.01", "0.1"], rates
    for student in students[:2]:
        student.locator("#finetune-train").click()
        student.wait_for_function("() => document.querySelector('#finetune-status').innerText.includes('✅')",
                                  timeout=240_000)
    teacher.wait_for_function(
        "() => { const plot = document.querySelector('#finetune-class-curves .js-plotly-plot');"
        " return plot && plot.data && plot.data.filter(t => t.mode === 'lines').length === 2; }", timeout=60_000)
    points = teacher.evaluate("() => document.querySelector('#finetune-class-lr .js-plotly-plot').data"
                              ".flatMap(t => Array.from(t.x))")
    assert sorted(points) == sorted(float(r) for r in rates[:2]), (points, rates)
    assert teacher.locator("#finetune-class").is_visible()
    assert not students[2].locator("#finetune-class").is_visible()  # the teacher's section only
    assert teacher.locator("#class-results-finetune").is_visible()  # the projector's summary
