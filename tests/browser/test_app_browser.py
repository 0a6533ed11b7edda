"""The app shell in real Chromium: every lesson tab opens, titled in Korean and in English."""
from __future__ import annotations

import pytest

import app  # noqa: F401 - registers the header strings
from core import i18n
from tabs import load_lessons
from tests.conftest import open_tab, shot

pytestmark = pytest.mark.browser


def _tab_titles(page) -> list[str]:
    buttons = page.locator("button[role='tab']")
    return [buttons.nth(k).inner_text().strip() for k in range(buttons.count())]


@pytest.mark.parametrize("fixture, table", [("page_ko", i18n.KO), ("page_en", i18n.EN)])
def test_every_tab_opens_with_its_title(request, fixture, table, screenshots):
    page = request.getfixturevalue(fixture)
    lessons = load_lessons()
    expected = [table[lesson.TITLE] for lesson in lessons]
    titles = _tab_titles(page)
    assert titles[: len(expected)] == expected
    assert table["app.header"].splitlines()[0].lstrip("# ") in page.inner_text("#app-header")
    for lesson in lessons:
        open_tab(page, lesson.TAB_ID)
        note = page.locator(f"#tab-{lesson.TAB_ID} .lesson-note").first
        assert note.inner_text().strip(), f"{lesson.TAB_ID} has an empty lesson note"
    open_tab(page, lessons[0].TAB_ID)
    shot(page, screenshots, f"app_{fixture}")
