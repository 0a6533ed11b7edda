"""core/page.py: a tab's worked example appears when the student first opens the tab (the first tab: when
the page opens), computed once at warm-up for the whole class, and a tab opened again keeps its state."""
from __future__ import annotations

import gradio as gr
from gradio.helpers import special_args

from core.page import Page
from core.settings import Settings


def _build():
    calls = []

    def example(n, lang):
        calls.append((n, lang))
        return f"{n} squared is {n * n} ({lang})"

    with gr.Blocks() as demo:
        page = Page(Settings(), demo)
        with gr.Tabs():
            with gr.Tab("first") as first:
                n1, out1 = gr.Number(value=3), gr.Markdown()
                page.for_tab(first, is_first=True).on_open(example, [n1], [out1], kind="training")
            with gr.Tab("second") as second:
                n2, out2 = gr.Number(value=4), gr.Markdown()
                page.for_tab(second, is_first=False).on_open(example, [n2], [out2], kind="model")
    return demo, page, calls, (first, second)


def test_the_first_tab_opens_with_the_page_and_the_others_when_selected():
    demo, page, _, _ = _build()
    opening = [f for f in demo.fns.values() if f.fn is not None]
    assert len(opening) == 2
    assert {name for _, name in opening[0].targets} == {"select", "load"}
    assert {name for _, name in opening[1].targets} == {"select"}
    # cached answers share a wide queue: 30 page opens must not wait behind a one-slot kind (training)
    assert {f.concurrency_id for f in opening} == {"open"}


def test_warm_up_computes_each_example_once_per_language_and_the_page_gets_it_from_the_cache():
    demo, page, calls, _ = _build()
    report = page.warm_up()
    assert report["failed"] == 0 and sorted(calls) == [(3, "en"), (3, "ko"), (4, "en"), (4, "ko")]
    first = [f for f in demo.fns.values() if f.fn is not None][0]

    class Korean:
        headers = {"accept-language": "ko-KR"}

    args, *_ = special_args(first.fn, [False, 3], request=Korean())
    assert first.fn(*args) == ("3 squared is 9 (ko)", True)  # the worked example, and "opened" is now set
    assert len(calls) == 4  # from the cache
    args, *_ = special_args(first.fn, [True, 3], request=Korean())
    skipped, opened = first.fn(*args)
    assert skipped == gr.skip() and opened is True  # opened again: what the student did there stays


def test_a_click_on_the_worked_examples_setting_gets_the_very_same_result():
    """The worked example and the button that computes the same setting share one cached result: the class
    clicking "run" on the example gets it at once, as the same picture (the same file)."""
    from core import events

    calls = []

    def square(n, lang):
        calls.append(n)
        return f"{n} squared is {n * n}"

    with gr.Blocks() as demo:
        page = Page(Settings(), demo)
        with gr.Tab("only") as only:
            n, out, run = gr.Number(value=5), gr.Markdown(), gr.Button()
            clicked = events.on(run.click, square, [n], [out], kind="quick", cache=True, api_name="square")
            opened = page.for_tab(only, is_first=True).on_open(square, [n], [out], kind="quick")
    page.warm_up()
    assert calls == [5, 5]  # once per language
    assert opened.registered.run(False, 5, lang="en") == ("5 squared is 25", True)
    assert clicked.registered.run(5, lang="en") == "5 squared is 25"
    assert calls == [5, 5]  # both answered from the one cached result
    assert clicked.registered.run(6, lang="en") == "6 squared is 36" and calls == [5, 5, 6]


def test_each_tab_builds_with_its_own_page_and_what_it_warms_joins_the_apps_lists():
    import dataclasses

    import pytest

    def export():
        return None

    with gr.Blocks() as demo:
        page = Page(Settings(), demo)
        with gr.Tab("a") as tab:
            tab_page = page.for_tab(tab, is_first=False)
    assert (tab_page.tab, tab_page.tab_is_first, page.tab) == (tab, False, None)
    assert tab_page.settings is page.settings and tab_page.blocks is demo
    tab_page.warm_task(export)
    assert page.warm_tasks == [export]
    assert tab_page.warm_calls is page.warm_calls and tab_page.registered is page.registered
    with pytest.raises(dataclasses.FrozenInstanceError):  # no tab is set on a page shared by the others
        page.tab = tab
