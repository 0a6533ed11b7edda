"""The app shell in real Chromium: every lesson tab opens, titled in Korean and in English, with its
lesson note, and its worked example computed before anyone clicks."""
from __future__ import annotations

import pytest

import app  # noqa: F401 - registers the header words
import tabs
from core import text
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser


def _tab_titles(page) -> list[str]:
    buttons = page.locator("button[role='tab']")
    return [buttons.nth(k).inner_text().strip() for k in range(buttons.count()) if buttons.nth(k).is_visible()]


@pytest.mark.parametrize("fixture, table", [("page_ko", text.KO), ("page_en", text.EN)])
def test_every_tab_opens_with_its_title_and_note(request, fixture, table, screenshots):
    page = request.getfixturevalue(fixture)
    all_lessons = tabs.load_all()
    expected = [table[lesson.title_key] for lesson in all_lessons]
    titles = _tab_titles(page)
    # the tab bar shows the first titles in lesson order; the rest sit in its overflow menu
    assert titles and titles == expected[: len(titles)], titles
    assert table["app.header"].splitlines()[0].lstrip("# ") in page.inner_text("#app-header")
    for lesson in all_lessons:
        open_tab(page, lesson.id)
        note = page.locator(f"#tab-{lesson.id} .lesson-note").first
        assert note.inner_text().strip(), f"{lesson.id} has an empty lesson note"
    open_tab(page, all_lessons[0].id)
    shot(page, screenshots, f"app_{fixture}")
