"""The page around the tabs: the header above them, the tab bar, and the lesson note at the top of each tab.

app.py builds the page in this order: `header()`, then inside `lesson_tabs()` for each tab `lesson_note(lesson)`
followed by the tab's own `build(page)`. What the page looks like on a Chromebook, a phone and a projector is
decided here and in assets/style.css; no tab knows about it.

- Each tab opens on its idea: the note shows its first sentence (the bold lead of note.*.md); the rest folds
  into an accordion that a student or the teacher opens on demand.
- Every lesson's title stays visible: the tab bar wraps onto a second row instead of hiding titles in a menu.
- The projector view (`?view=projector`, or the switch in the header) centres the page, uses the full width
  and draws text and charts 1.5 times larger (the `projector` class on <body>, see assets/style.css).
- Plotly's chart toolbar stays for the mouse but leaves the keyboard's Tab order (158 of 453 Tab stops were
  its buttons).
"""
from __future__ import annotations

import re

import gradio as gr

from core import text
from tabs import LESSON_IDS  # the list alone (tabs/__init__ imports no tab)

LESSON_COUNT = len(LESSON_IDS)

TEXT = text.table("app", {
    "title": ("딥러닝 교실", "Deep Learning Classroom"),
    "header": (
        f"# 딥러닝 교실\n진짜 모델을 직접 만져 보며 배우는 딥러닝. 수업 {LESSON_COUNT}개: 아래 탭을 순서대로 하나씩 열어 보세요.",
        f"# Deep Learning Classroom\nLearn deep learning by poking real models. {LESSON_COUNT} lessons: open the tabs "
        "below one by one, in order.",
    ),
    "note_more": ("수업 노트 더 보기", "More of the lesson note"),
    "projector": ("프로젝터 화면", "Projector view"),
})

PROJECTOR_CLASS = "projector"

# Runs once when the page loads (gr.HTML's js_on_load): the projector class from the address, the switch that
# toggles it (and keeps the address in step, so a reload or a shared link keeps the view), and the chart
# toolbars taken out of the Tab order as Plotly draws them.
PAGE_JS = """
const body = document.body;
const wanted = () => new URLSearchParams(location.search).get('view') === 'projector';
const show = (on) => {
  body.classList.toggle('%(cls)s', on);
  const button = document.getElementById('projector-switch');
  if (button) button.setAttribute('aria-pressed', on ? 'true' : 'false');
  window.dispatchEvent(new Event('resize'));  // Plotly redraws its charts at the new size
};
show(wanted());
document.addEventListener('click', (event) => {
  if (!event.target.closest('#projector-switch')) return;
  const on = !body.classList.contains('%(cls)s');
  const url = new URL(location.href);
  if (on) url.searchParams.set('view', 'projector'); else url.searchParams.delete('view');
  history.replaceState(null, '', url);
  show(on);
});
const untab = (root) => {
  root.querySelectorAll('.modebar-btn, .modebar a').forEach(el => el.setAttribute('tabindex', '-1'));
  // a wide table scrolls sideways inside its block (style.css): reachable and scrollable by keyboard
  root.querySelectorAll('.prose table, .md table').forEach(el => el.setAttribute('tabindex', '0'));
};
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) if (n.nodeType === 1) untab(n.parentElement || n);
  const button = document.getElementById('projector-switch');
  if (button && !button.hasAttribute('aria-pressed')) show(body.classList.contains('%(cls)s'));
}).observe(body, {childList: true, subtree: true});
untab(document);
""" % {"cls": PROJECTOR_CLASS}


def header() -> None:
    with gr.Row(elem_id="app-header-row", equal_height=False):
        gr.Markdown(TEXT.ui("header"), elem_id="app-header")
        gr.Button(TEXT.ui("projector"), elem_id="projector-switch", size="sm", scale=0, min_width=160)
    gr.HTML("", js_on_load=PAGE_JS, elem_id="page-script", padding=False, container=False)


def lesson_tabs(**kwargs) -> gr.Tabs:
    """The tab bar: every title visible (it wraps onto another row rather than hiding titles in a "⋯" menu)."""
    kwargs.setdefault("overflow_behavior", "wrap")
    kwargs.setdefault("elem_id", "lessons")
    return gr.Tabs(**kwargs)


LEAD = re.compile(r"\s*(\*\*[^*]+\*\*)\s*")  # a note opens on its idea: one bold sentence
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=다\.)")


def split_note(markdown: str) -> tuple[str, str]:
    """(first sentence, the rest) of a lesson note: the bold lead when the note starts with one, else the text
    up to the first sentence end. lead + " " + rest says the whole note."""
    bold = LEAD.match(markdown)
    if bold:
        return bold.group(1), markdown[bold.end():].strip()
    first, *rest = SENTENCE_END.split(markdown.strip(), maxsplit=1)
    return first.strip(), (rest[0].strip() if rest else "")


def lesson_note(lesson) -> None:
    """The lesson note (Korean/English Markdown of `tabs/<id>/note.*.md`) at the top of its tab: its first
    sentence, and the rest folded (open on demand)."""
    (lead_ko, rest_ko), (lead_en, rest_en) = (split_note(md) for md in lesson.note)
    note = text.table(lesson.id, {"lesson_lead": (lead_ko, lead_en), "lesson_rest": (rest_ko, rest_en)})
    with gr.Column(elem_classes=["lesson-note"]):
        gr.Markdown(note.ui("lesson_lead"), elem_classes=["lesson-lead"])
        if rest_ko or rest_en:
            with gr.Accordion(TEXT.ui("note_more"), open=False, elem_classes=["lesson-more"]):
                gr.Markdown(note.ui("lesson_rest"), elem_classes=["lesson-rest"])
