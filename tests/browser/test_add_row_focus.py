"""Adding a row to a form goes on where the row was added: the new row's first box has the focus.

"Add another medication" (the medical history) and "Add an area" / "Add a preparation" (the session
form) post the form back for one more row, as they must without scripts; the page that comes back
used to leave the focus at its top, so the next keystrokes went nowhere near the new row.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_sessions import INDICATION, TABLET, worklist_items
from tests.browser.test_sign_in import sign_in_as

pytestmark = pytest.mark.browser


def test_another_medication_row_takes_the_focus_and_keeps_what_was_typed(page: Page) -> None:
    sign_in_as(page, "nurse")
    page.goto("/patients/1/history")
    expect(page.get_by_role("heading", level=1)).to_have_text("Medical history")
    rows = page.locator("input[name$='-name'][name^='medications-']")
    before = rows.count()
    rows.nth(before - 1).fill("Ibuprofen 400 mg")
    page.get_by_role("button", name="Add another medication").click()

    expect(rows).to_have_count(before + 1)
    expect(page.locator(f"#medications-{before}-name")).to_be_focused()
    expect(page.locator(f"#medications-{before - 1}-name")).to_have_value("Ibuprofen 400 mg")
    page.keyboard.type("Warfarin 5 mg")
    expect(page.locator(f"#medications-{before}-name")).to_have_value("Warfarin 5 mg")

    page.get_by_role("button", name="Add another treatment").click()
    treatments = page.locator("select[name^='treatments-'][name$='-kind']")
    expect(page.locator(f"#treatments-{treatments.count() - 1}-kind")).to_be_focused()


def test_another_area_or_preparation_row_takes_the_focus(page: Page) -> None:
    page.set_viewport_size(TABLET)
    sign_in_as(page, "doctor")
    due = worklist_items(page, "Courses with a session overdue").filter(has_text=INDICATION).first
    due.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/courses/\d+$"))
    page.get_by_role("button", name=re.compile(r"^Log session \d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")

    areas = page.locator("select.area-select")
    before = areas.count()
    page.get_by_role("button", name="Add an area").click()
    expect(areas).to_have_count(before + 1)
    expect(page.locator(f"#injections-{before}-area_code")).to_be_focused()

    page.get_by_role("button", name="Add a preparation").click()
    expect(page.locator("#preparations-1-label")).to_be_focused()
