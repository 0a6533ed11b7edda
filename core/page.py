"""The page being built: what a lesson's `tab.build(page)` gets besides Gradio itself.

- `page.settings`: the app's settings (core/settings.py), from the command line;
- `page.on_open(fn, inputs, outputs, kind=...)`: run when the page opens, so the tab shows its worked
  example at once; also computed once in the background right after the server starts (`warm_up`),
  so the first student does not wait for it either;
- `page.warm(dependency, *args)`: precompute one more call of a registered event (e.g. each example
  photo), in both languages when the event speaks one;
- `page.warm_task(task)`: run a task once in the background after start;
- `page.class_tab(settings, controls, show=dependency, answers={...})`: the lesson joins the teacher mode
  (core/teacher.py): which of its controls the teacher can send to the class, the event that shows its
  result, and the right answers of its prediction questions.

app.py makes one Page for the app and gives each tab's build its own, `page.for_tab(tab, is_first)`: the
same settings, the same warm-up lists and registry (they belong to the app), and the tab it builds.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any, Callable

from core import events, text
from core.settings import Settings

log = logging.getLogger("dlclass.page")


def initial_input(component) -> Any:
    """What an event function receives for a component's starting value (the same as when the page
    opens and sends it back): Gradio's stored value, read back through the component's preprocess."""
    from gradio.data_classes import GradioModel, GradioRootModel

    value = component.value
    model = getattr(component, "data_model", None)
    if value is not None and isinstance(model, type) and issubclass(model, (GradioModel, GradioRootModel)):
        value = model.model_validate(value)
    return component.preprocess(value)


@dataclasses.dataclass
class ClassTab:
    """A lesson joined to the class (`Page.class_tab`)."""

    id: str | None
    settings: Any  # core.values.Settings
    controls: dict  # setting name: its Gradio control
    show: Any  # the dependency that shows the result, or None
    answers: dict[str, int]


@dataclasses.dataclass(frozen=True, eq=False)
class Page:
    settings: Settings
    blocks: Any  # gr.Blocks
    tab: Any = None  # the gr.Tab being built (None: the page alone, as a test builds one tab)
    tab_is_first: bool = True  # the first tab shows its example when the page opens
    warm_calls: list[tuple[events.Registered, tuple]] = dataclasses.field(default_factory=list)
    warm_tasks: list[Callable[[], Any]] = dataclasses.field(default_factory=list)
    registered: list[events.Registered] = dataclasses.field(default_factory=list)  # app.py registers into it
    classroom: Any = None  # core.classroom.Classroom: the class of this server process (app.py makes it)
    class_tabs: list[ClassTab] = dataclasses.field(default_factory=list)  # the lessons that joined the class

    def for_tab(self, tab, is_first: bool) -> Page:
        """The page as the build of `tab` sees it: its worked example opens with `tab` (and with the page,
        for the first tab); what it warms up joins the app's lists."""
        return dataclasses.replace(self, tab=tab, tab_is_first=is_first)

    def class_tab(self, settings, controls: dict, show=None, answers: dict[str, int] | None = None) -> ClassTab:
        """This tab in the teacher mode. settings: its declared `values.Settings`; controls: {setting name: its
        control} for the settings the teacher may send (only those declared `for_class`); show: the dependency
        that shows the tab's result (run on a student page after the teacher's settings arrive); answers: the
        right choice (0-based) of each prediction question in its text table ({"class_q1": 2})."""
        allowed = {s.name for s in settings.for_class()}
        refused = set(controls) - allowed
        if refused:
            raise ValueError(f"not class settings (declare them for_class or leave them out): {sorted(refused)}")
        tab_id = getattr(self.tab, "id", None)
        record = ClassTab(tab_id, settings, dict(controls), show, dict(answers or {}))
        self.class_tabs.append(record)
        return record

    def on_open(self, fn: Callable, inputs=None, outputs=None, *, kind: str, cache: bool = True, **kwargs):
        """Register `fn` to show the tab's worked example when the student first opens the tab (the first
        tab: when the page opens). Computed once at warm-up for the whole class (cached), so it appears at
        once; a tab opened again keeps what the student did there.

        Why on opening the tab rather than the page: a page load that filled all ten tabs would send 19
        requests and 20-odd pictures per student; a class of 30 opening the page at once would queue 570
        events behind each other before anyone could click."""
        import gradio as gr

        inputs_list = events._listify(inputs)
        opened = gr.State(False)  # per student: has this tab shown its worked example yet?
        triggers = [self.tab.select] if self.tab is not None else []
        if self.tab is None or self.tab_is_first:
            triggers.append(self.blocks.load)
        kwargs.setdefault("api_visibility", "private")
        dependency = events.on(triggers, fn, inputs_list, outputs, kind=kind, cache=cache, once=opened,
                               name=f"on_open:{getattr(fn, '__qualname__', fn)}", share_queue_of="open", **kwargs)
        if cache:
            self.warm(dependency, False, *[initial_input(c) for c in inputs_list])
        return dependency

    def warm(self, dependency, *args) -> None:
        """Compute `dependency`'s event for `args` in the background after start (its result is cached)."""
        record = dependency.registered
        if not record.cache:
            raise ValueError(f"{record.name}: only cached events can be warmed")
        self.warm_calls.append((record, args))

    def warmed(self) -> list[tuple[str, tuple]]:
        """(event name, arguments) of every warm call, as the lesson wrote them: a worked example on opening is
        named "on_open:<function>", without the flag `on_open` adds in front of its arguments."""
        return [(record.name, args[1:] if record.once else args) for record, args in self.warm_calls]

    def warm_task(self, task: Callable[[], Any]) -> None:
        """Run `task()` once in the background after start, before the warm calls (e.g. export a model file
        the page will fetch). A failure is logged, never raised."""
        self.warm_tasks.append(task)

    def warm_up(self) -> dict:
        """Run every warm task, then every warm call (both languages where the event speaks one)."""
        started = time.perf_counter()
        done = failed = 0
        for task in self.warm_tasks:
            try:
                task()
                done += 1
            except Exception as exc:
                failed += 1
                log.info("warm-up task %s skipped: %s", getattr(task, "__name__", task), str(exc).splitlines()[0][:120])
        for record, args in self.warm_calls:
            for lang in (text.LANGS if record.wants_lang else (text.DEFAULT_LANG,)):
                try:
                    result = record.run(*args, lang=lang)
                    if hasattr(result, "__next__"):  # a generator: run it to its end
                        for _ in result:
                            pass
                    done += 1
                except Exception as exc:  # a missing model offline, say: the click will explain it
                    failed += 1
                    log.info("warm-up of %s (%s) skipped: %s", record.name, lang, str(exc).splitlines()[0][:120])
        report = {"computed": done, "failed": failed, "seconds": time.perf_counter() - started}
        log.info("warm-up: %(computed)d results in %(seconds).1f s (%(failed)d skipped)", report)
        return report

    def warm_up_in_background(self, before: Callable[[], None] | None = None) -> threading.Thread:
        def run():
            if before is not None:
                before()
            self.warm_up()

        thread = threading.Thread(target=run, name="dlclass-warm-up", daemon=True)
        thread.start()
        return thread
