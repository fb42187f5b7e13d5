"""Every main page fits the screen at the chair: a desk (1280 px), a tablet (820 px) and a phone (390 px).

For each role, each page its menu and its records lead to is opened at each width, and the page may not
be wider than the screen (no sideways scrolling; a wide table scrolls inside itself or stacks). On a
phone the menu folds behind a "Menu" button that opens it. Screenshots are kept for a person to look at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.test_sign_in import sign_in_as

pytestmark = pytest.mark.browser

WIDTHS = {"desk": (1280, 900), "tablet": (820, 1180), "phone": (390, 844)}


def _record_pages(live_app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A signed session of the demo and what hangs off it: the chart, the course, the lot's trace."""
    from clinic.extensions import db

    with live_app.app_context():
        row = db.session.execute(sa.text(
            "SELECT s.id, c.id, c.patient_id, l.id, l.lot_number FROM treatment_session s "
            "JOIN course c ON c.id = s.course_id JOIN preparation p ON p.session_id = s.id "
            "JOIN preparation_component pc ON pc.preparation_id = p.id JOIN lot l ON l.id = pc.lot_id "
            "WHERE s.locked_at IS NOT NULL ORDER BY s.id LIMIT 1")).one()
    session_id, course_id, patient_id, lot_id, lot_number = row
    return {"chart": f"/patients/{patient_id}", "course": f"/courses/{course_id}",
            "course report": f"/courses/{course_id}/report",
            "session": f"/sessions/{session_id}", "trace": f"/trace?lot={lot_number}",
            "lot": f"/inventory/lots/{lot_id}", "history": f"/patients/{patient_id}/history"}


PAGES = {
    "doctor": ["/", "/patients", "chart", "course", "course report", "session", "history", "/follow-ups", "/flags",
               "trace",
               "/recalls", "/inventory/stock", "lot", "/account"],
    "nurse": ["/", "/patients", "chart", "session", "/follow-ups", "trace", "/recalls", "/inventory/stock",
              "/inventory/receive"],
    "auditor": ["/", "/patients", "chart", "session", "trace", "/recalls", "/audit", "/inventory/expiring",
                "/reports?period=year"],
    "admin": ["/", "/admin/users", "/admin/rules", "/admin/side-effect-types", "/inventory/products", "/audit"],
}


@pytest.mark.parametrize("role", list(PAGES))
def test_every_main_page_fits_the_screen_at_each_size(page: Page, live_app, role: str,
                                                      screenshot_dir: Path) -> None:
    records = _record_pages(live_app)
    sign_in_as(page, role)
    too_wide = []
    for size, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name in PAGES[role]:
            path = records.get(name, name)
            response = page.goto(path)
            assert response is not None and response.status == 200, f"{role} {path}: {response and response.status}"
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                too_wide.append(f"{path} at {width} px is {overflow} px too wide")
            if name in ("/", "session", "chart", "/audit"):
                label = name.strip("/") or "home"
                page.screenshot(path=str(screenshot_dir / f"layout-{role}-{label}-{size}.png"), full_page=True)
    assert too_wide == []


def test_on_a_phone_the_menu_opens_from_its_button(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as(page, "doctor")
    nav = page.get_by_role("navigation", name="Main")
    patients = nav.get_by_role("link", name="Patients", exact=True)
    expect(patients).to_be_hidden()
    nav.get_by_text("Menu").click()
    expect(patients).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_in_viewport()
    patients.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Patients")
    # On a tablet and a desk the menu is simply there, with no Menu button beside it.
    for width in (820, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        expect(nav.get_by_role("link", name="Patients", exact=True)).to_be_visible()
        expect(nav.get_by_text("Menu")).to_be_hidden()


HOME_CARDS = {"doctor": ["sessions-today", "drafts", "overdue-courses", "flags"],
              "nurse": ["urgent", "overdue-follow-ups", "due-today", "upcoming"],
              "auditor": ["lots-flagged", "unreported", "recalls-pending"],
              "admin": ["active-accounts", "no-two-step", "deactivated"]}


@pytest.mark.parametrize("role", list(HOME_CARDS))
def test_the_home_pages_count_cards_fit_a_phone_and_lead_to_their_lists(page: Page, role: str,
                                                                         screenshot_dir: Path) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as(page, role)
    cards = page.locator("#count-cards .count-card")
    expect(cards).to_have_count(len(HOME_CARDS[role]))
    assert [cards.nth(i).get_attribute("id") for i in range(cards.count())] == [
        f"count-{key}" for key in HOME_CARDS[role]]
    try:  # polled: the first paint after signing in can come before the phone's width applies
        page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth", timeout=5000)
    except PlaywrightTimeout:
        wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)
            .map(e => `${e.tagName}#${e.id}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)""")
        pytest.fail(f"the {role}'s home is wider than a phone: {wide}")
    boxes = [cards.nth(i).bounding_box() for i in range(cards.count())]
    assert all(box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390 for box in boxes), boxes
    assert boxes[0]["y"] == boxes[1]["y"], "two cards a row on a phone"  # type: ignore[index]
    page.screenshot(path=str(screenshot_dir / f"home-cards-{role}-phone.png"))
    for key in HOME_CARDS[role]:
        card = page.locator(f"#count-{key}")
        href = card.get_attribute("href") or ""
        shown = card.locator(".count-number").inner_text()
        card.click()
        path, _, anchor = href.partition("#")
        if path:
            expect(page).to_have_url(re.compile(re.escape(path) + r"(#.*)?$"))
        if anchor:
            target = page.locator(f"#{anchor}")
            if key in ("sessions-today", "drafts") or shown != "0":
                expect(target).to_be_attached()
            if key in ("sessions-today", "drafts"):  # the doctor's lists are whole: as many entries as counted
                expect(target.locator("li")).to_have_count(int(shown))
        page.goto("/")
