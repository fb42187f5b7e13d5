"""The session form's zone chart, in a real browser: mouse and keyboard, labels and volumes, and the list
without scripts.

The doctor opens a planned course that is due (the demo's skin-rejuvenation courses, screened for cheeks,
chin and forehead: the form comes with those three rows and an empty one) and works the chart. Nothing is
saved, so the demo data other tests use stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.test_sessions import INDICATION, TABLET, area_values, worklist_items, zone
from tests.browser.test_sign_in import sign_in_as

pytestmark = pytest.mark.browser


def tag(page: Page, area: str, part: str) -> Locator:
    """A zone's label ("label": its name) or its volume ("volume": "1.5 ml"), drawn over the chart."""
    return page.locator(f"#area-map [data-tag={area}] .zone-{part}")


def open_session_form(page: Page) -> None:
    page.set_viewport_size(TABLET)
    sign_in_as(page, "doctor")
    due = worklist_items(page, "Courses with a session overdue").filter(has_text=INDICATION).last
    due.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/courses/\d+$"))
    page.get_by_role("button", name=re.compile(r"^Log session \d+$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")


def test_the_chart_works_by_mouse_and_keyboard_with_labels_and_volumes(page: Page, screenshot_dir: Path) -> None:
    open_session_form(page)
    chart = page.locator("#area-map")
    expect(chart).to_be_visible()
    assert area_values(page) == ["forehead", "cheeks", "chin", ""]  # top of the face down

    # Each zone is named for hover (<title>) and for a screen reader; the chosen ones show their name.
    expect(zone(page, "temples").locator("title")).to_have_text("Temples")
    expect(chart.get_by_role("button", name="Temples")).to_have_attribute("aria-pressed", "false")
    expect(tag(page, "cheeks", "label")).to_be_visible()
    expect(tag(page, "cheeks", "label")).to_have_text("Cheeks")
    expect(tag(page, "decolletage", "label")).to_be_hidden()

    # Keyboard: Tab from the button before the chart reaches its first zone, then the next.
    page.get_by_role("button", name="Add a preparation").focus()
    page.keyboard.press("Tab")
    expect(zone(page, "forehead")).to_be_focused()
    page.keyboard.press("Tab")
    temples = zone(page, "temples")
    expect(temples).to_be_focused()
    expect(tag(page, "temples", "label")).to_be_visible()  # named on focus
    page.keyboard.press("Enter")
    expect(page.locator("#injections-3-area_code")).to_have_value("temples")
    expect(page.locator("#injections-3-volume_ml")).to_be_focused()
    expect(temples).to_have_attribute("aria-pressed", "true")
    expect(tag(page, "temples", "label")).to_be_visible()
    page.keyboard.type("1.5")
    expect(tag(page, "temples", "volume")).to_have_text("1.5 ml")

    # Space on a zone already chosen finds its row.
    zone(page, "chin").focus()
    page.keyboard.press("Space")
    expect(page.locator("#injections-2-area_code")).to_be_focused()

    # Mouse: every row is taken, so a new zone adds a row; its volume shows once typed.
    zone(page, "neck").click()
    expect(page.locator("#injection-rows .injection-row")).to_have_count(5)
    expect(page.locator("#injections-4-area_code")).to_have_value("neck")
    expect(page.locator("#injections-4-volume_ml")).to_be_focused()
    expect(tag(page, "neck", "label")).to_have_text("Neck")
    expect(tag(page, "neck", "volume")).to_have_text("")
    page.locator("#injections-4-volume_ml").fill("0.4")
    expect(tag(page, "neck", "volume")).to_have_text("0.4 ml")
    # Two rows in one area add up on its zone.
    page.locator("#injections-1-volume_ml").fill("0.8")
    page.locator("#injections-2-area_code").select_option("cheeks")
    page.locator("#injections-2-volume_ml").fill("0.45")
    expect(tag(page, "cheeks", "volume")).to_have_text("1.25 ml")
    expect(zone(page, "chin")).to_have_attribute("aria-pressed", "false")
    # The cheek on the other side answers a tap too: it finds the cheeks' first row.
    chart.locator("[data-echo=cheeks]").click()
    expect(page.locator("#injections-1-area_code")).to_be_focused()
    page.screenshot(path=str(screenshot_dir / "zone-chart-tablet.png"), full_page=True)
    chart.screenshot(path=str(screenshot_dir / "zone-chart-tablet-chart.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(screenshot_dir / "zone-chart-phone.png"), full_page=True)
    chart.screenshot(path=str(screenshot_dir / "zone-chart-phone-chart.png"))
    page.set_viewport_size(TABLET)

    # Clearing a row's area clears its zone.
    page.locator("#injections-3-area_code").select_option("")
    expect(temples).to_have_attribute("aria-pressed", "false")
    expect(tag(page, "temples", "volume")).to_have_text("")


@pytest.fixture
def page_without_scripts(browser: Browser, live_server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_scripts_the_chart_is_hidden_and_the_area_lists_do_the_job(page_without_scripts: Page) -> None:
    page = page_without_scripts
    open_session_form(page)
    expect(page.locator("#area-map")).to_be_hidden()
    expect(page.locator("#injections-3-area_code")).to_be_visible()
    page.locator("#injections-3-area_code").select_option("neck")
    # "Add an area" posts the form back with one more row, the area chosen kept.
    page.get_by_role("button", name="Add an area").click()
    expect(page.locator("#injection-rows .injection-row")).to_have_count(5)
    expect(page.locator("#injections-3-area_code")).to_have_value("neck")
    expect(page.locator("#injections-4-area_code")).to_have_value("")
    expect(page.locator("#area-map")).to_be_hidden()
