"""Each role's main journey at a desk (1280 px), on a tablet at the chair (820 px) and on a phone (390 px).

At every step the page may be no wider than the screen (no sideways scrolling) and the step's key content
must be on screen, not cut off by the screen's edge or by a box that scrolls sideways. On a phone the
menu is opened with its "Menu" button, as a person would. Screenshots of the main pages are kept, one set
per size, for a person to look at.

* doctor: finds a patient by name, opens the chart, the course, logs session 1 (one lot, one injection),
  saves the draft and signs it with her password; the session page shows points, bolus, needle, depth and
  ml in view on the tablet;
* nurse: from the home page to the follow-ups, works one call, records the bruise the patient reports,
  and is back on the worklist with the call done;
* auditor: traces a lot by its number, looks at the recalls and the reports, then the audit trail;
* admin: from the staff accounts opens a new one (with the admin's password) and lands on its page.

The records behind the doctor's and the nurse's journeys are made through the services on the live
server's database, with names of their own, so each size has its own patient and the demo's are left alone.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from playwright.sync_api import Locator, Page, expect

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory.models import Product
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments import services as treatments
from tests.browser.test_follow_ups import _patient_with_a_signed_session, _record
from tests.browser.test_sessions import HYALURONIC, choose_lot, save_draft, session_fields
from tests.browser.test_sign_in import ACCOUNTS, sign_in_as
from tests.factories import INDICATION, negative_patch_test, record_history, register, screen, sign_consent

pytestmark = pytest.mark.browser

SIZES = {"desk": (1280, 900), "tablet": (820, 1180), "phone": (390, 844)}
AREA = ("cheeks",)
INDICATION_NAME = "Skin rejuvenation (mesoglow, skin booster)"
SESSION_COLUMNS = ("Depth mm", "Volume ml", "Points", "Bolus ml", "Needle")

# Why an element is not whole on screen: past the screen's edge, cut off by a box around it, or in a box
# that scrolls sideways (a table wider than the screen, scrolled inside itself, hides some of its columns).
_CLIPPED = """element => {
  const box = element.getBoundingClientRect();
  if (box.left < -1 || box.right > window.innerWidth + 1) return `past the screen's edge (${box.left}–${box.right})`;
  for (let outer = element.parentElement; outer; outer = outer.parentElement) {
    if (getComputedStyle(outer).overflowX === 'visible') continue;
    const frame = outer.getBoundingClientRect();
    if (box.left < frame.left - 1 || box.right > frame.right + 1) return `cut off by a <${outer.localName}>`;
    if (outer.scrollWidth > outer.clientWidth + 1) return `in a <${outer.localName}> that scrolls sideways`;
  }
  return '';
}"""

# The first elements that reach past the screen's right edge, for the message of a failed step.
_TOO_WIDE = """() => [...document.body.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 5)
  .map(e => `<${e.localName}${e.id ? ' id=' + e.id : ''}${e.className ? ' class=' + e.className : ''}>`)"""


class Journey:
    """One role at one size: steps that must fit the screen, the menu used as the size asks."""

    def __init__(self, page: Page, role: str, size: str, screenshot_dir: Path) -> None:
        self.page, self.role, self.size, self.screenshot_dir = page, role, size, screenshot_dir
        width, height = SIZES[size]
        page.set_viewport_size({"width": width, "height": height})

    @property
    def phone(self) -> bool:
        return self.size == "phone"

    def step(self, name: str, *key: Locator, shot: bool = False) -> None:
        """The page fits the screen and each key element is visible, whole, within it."""
        self.page.wait_for_load_state()  # its stylesheets too: a heading can be there before them
        for element in key:
            expect(element).to_be_visible()
            element.scroll_into_view_if_needed()  # a table scrolled sideways to it still counts as cut off below
            clipped = element.evaluate(_CLIPPED)
            assert not clipped, f"{self.role} at {self.size}, {name}: {element} is {clipped}"
        overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (f"{self.role} at {self.size}, {name}: the page is {overflow} px wider than the screen; "
                               f"past its edge: {self.page.evaluate(_TOO_WIDE)}")
        if shot:
            label = name.replace(" ", "-")
            self.page.screenshot(path=str(self.screenshot_dir / f"journey-{self.role}-{label}-{self.size}.png"),
                                 full_page=True)

    def go(self, link: str) -> None:
        """Follow a link of the main menu; on a phone the menu is folded behind its button first."""
        nav = self.page.get_by_role("navigation", name="Main")
        target = nav.get_by_role("link", name=link, exact=True)
        if self.phone:
            expect(target).to_be_hidden()
            nav.get_by_text("Menu", exact=True).click()
        self.step(f"menu to {link}", target)
        target.click()

    def heading(self, text: str | re.Pattern[str]) -> Locator:
        heading = self.page.get_by_role("heading", level=1)
        expect(heading).to_contain_text(text)
        return heading


def _staff() -> dict[str, User]:
    return {role: db.session.scalar(sa.select(User).where(User.email == ACCOUNTS[role][0]))
            for role in ("doctor", "nurse")}


@pytest.fixture
def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


@pytest.fixture
def planned_course(live_app, tag: str) -> str:
    """A new patient ready for a first session of skin rejuvenation on the cheeks, with a negative patch test
    to the product; their last name."""
    last = f"Voyage {tag}"
    with live_app.app_context():
        staff = _staff()
        g.audit_actor = Actor(staff["nurse"].id, staff["nurse"].email, "nurse")
        patient = register(staff["nurse"], first="Inès", last=last)
        record_history(patient, staff["nurse"])
        sign_consent(patient, staff["nurse"])
        screen(patient, staff["nurse"], areas=AREA)
        negative_patch_test(patient, staff["nurse"],
                            db.session.scalar(sa.select(Product).where(Product.name == HYALURONIC[0])))
        g.audit_actor = Actor(staff["doctor"].id, staff["doctor"].email, "doctor")
        treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREA, starts_on=date.today()),
                               staff["doctor"])
        db.session.commit()
        del g.audit_actor
    return last


@pytest.fixture
def follow_up_due(live_app, tag: str) -> str:
    """A new patient treated today whose follow-up call is due today; their full name."""
    with live_app.app_context():
        session_id = _patient_with_a_signed_session(_staff(), "Romane", f"Appel {tag}")
        task = db.session.scalar(sa.select(FollowUpTask).where(FollowUpTask.session_id == session_id))
        task.due_on = date.today()
        db.session.commit()
        del g.audit_actor
    return f"Romane Appel {tag}"


@pytest.mark.parametrize("size", SIZES)
def test_doctor_finds_a_patient_logs_a_session_and_signs_it(
        page: Page, size: str, planned_course: str, screenshot_dir: Path) -> None:
    journey = Journey(page, "doctor", size, screenshot_dir)
    sign_in_as(page, "doctor")
    journey.step("home", journey.heading("Welcome"))

    journey.go("Patients")
    search = page.get_by_role("searchbox", name="Search patients")
    journey.step("patients", search)
    search.fill(planned_course)
    page.get_by_role("button", name="Search").click()
    found = page.locator("#patients").get_by_role("link", name=re.compile(re.escape(planned_course)))
    journey.step("search result", found, shot=True)

    found.click()
    journey.step("chart", journey.heading(f"Inès {planned_course}"),
                 page.locator("#courses").get_by_role("link", name=INDICATION_NAME), shot=True)

    page.locator("#courses").get_by_role("link", name=INDICATION_NAME).click()
    log = page.get_by_role("button", name="Log session 1")  # a link styled as a button
    journey.step("course", journey.heading(INDICATION_NAME), log, shot=True)

    log.click()
    journey.heading("Log a session")
    fields = session_fields(page)
    fields.get_by_role("combobox", name="Skin preparation").select_option(label="Chlorhexidine 0.5% in alcohol")
    fields.get_by_role("combobox", name="Technique").select_option(label="Nappage")
    fields.get_by_role("combobox", name="Needle gauge").select_option(label="32G")
    fields.get_by_role("spinbutton", name="Needle length (mm)").fill("4")
    page.locator("#preparations-0-label").fill("HA alone")
    choose_lot(page, 0, 0, *HYALURONIC)
    page.locator("#preparations-0-components-0-units").fill("1")
    page.locator("#preparations-0-components-0-volume_ml").fill("1.0")
    expect(page.locator("#injections-0-area_code")).to_have_value("cheeks")
    page.locator("#injections-0-preparation").select_option("0")
    page.locator("#injections-0-depth_mm").fill("1.5")
    page.locator("#injections-0-volume_ml").fill("1.0")
    page.locator("#injections-0-points").fill("20")
    journey.step("session form", page.locator("#preparations-0-components-0-lot_id"),
                 page.locator("#injections-0-points"), page.get_by_role("button", name="Check and save the draft"),
                 shot=True)
    save_draft(page)  # nothing to acknowledge: within the usual ranges, after a negative patch test

    journey.heading(re.compile(r"Session 1 of \d+\s+draft, not signed"))
    injection = page.locator("#injections tbody tr").filter(has_text="Cheeks")
    cells = [injection.locator(f'td[data-label="{column}"]') for column in SESSION_COLUMNS]
    for cell, text in zip(cells, ("1.5", "1.0", "20", "0.050", "as session"), strict=True):
        expect(cell).to_have_text(re.compile(rf"^{re.escape(text)}0*$"))
    journey.step("session", *cells, shot=True)

    password = page.get_by_label("Your password")
    journey.step("sign", password, page.get_by_role("button", name="Sign and lock"))
    password.fill(ACCOUNTS["doctor"][2])
    page.get_by_role("button", name="Sign and lock").click()
    journey.heading(re.compile(r"Session 1 of \d+\s+signed"))
    journey.step("signed session", *cells, page.locator("#signature code.digest"), shot=True)


@pytest.mark.parametrize("size", SIZES)
def test_nurse_works_a_follow_up_from_the_worklist_and_records_a_side_effect(
        page: Page, size: str, follow_up_due: str, screenshot_dir: Path) -> None:
    journey = Journey(page, "nurse", size, screenshot_dir)
    sign_in_as(page, "nurse")
    journey.step("home", journey.heading("Welcome"), shot=True)

    journey.go("Follow-ups")
    row = page.locator("#follow-ups-today tbody tr").filter(has_text=follow_up_due)
    work = row.get_by_role("button", name="Work it")
    journey.step("follow-ups", journey.heading("Follow-ups"), row.get_by_role("link", name=follow_up_due), work,
                 shot=True)

    work.click()
    journey.heading(follow_up_due)
    save = page.get_by_role("button", name="Save")
    journey.step("follow-up", page.get_by_label("Reached", exact=True), save, shot=True)
    page.get_by_label("Reached", exact=True).check()
    page.get_by_label("What the patient reports").fill("A small bruise on the cheek.")
    page.get_by_label("Side effects to record").check()
    save.click()

    journey.heading("Record a side effect")
    journey.step("side effect form", page.get_by_role("combobox", name="Side effect", exact=True),
                 page.get_by_role("button", name="Record the side effect"), shot=True)
    _record(page, "Bruising", hours="0", size="1.5", grade="1 – mild")
    journey.step("side effect recorded", page.get_by_text("Bruising recorded."))

    journey.go("Follow-ups")
    journey.step("follow-ups after the call", journey.heading("Follow-ups"))
    expect(page.locator("main")).not_to_contain_text(follow_up_due)


@pytest.mark.parametrize("size", SIZES)
def test_auditor_traces_a_lot_then_reads_recalls_reports_and_the_audit_trail(
        page: Page, size: str, screenshot_dir: Path) -> None:
    journey = Journey(page, "auditor", size, screenshot_dir)
    sign_in_as(page, "auditor")
    journey.step("home", journey.heading("Welcome"))

    journey.go("Trace a lot")
    lot = page.get_by_label("Lot number")
    journey.step("trace form", lot)
    lot.fill(HYALURONIC[1].lower())  # any case
    page.get_by_role("button", name="Trace", exact=True).click()
    first = page.locator("#trace-rows tbody tr").first
    journey.step("trace", page.locator("#trace-result h2"), page.locator("#trace-totals"),
                 page.locator("#trace-rows thead").get_by_role("link", name="Patient"),  # sorting, as cards too
                 first.locator('td[data-label="Patient"] a'), first.locator('td[data-label="From lot ml"]'),
                 shot=True)

    journey.go("Recalls")
    journey.step("recalls", journey.heading("Recalls"), shot=True)

    journey.go("Reports")
    journey.step("reports", journey.heading("Clinic reports"), shot=True)

    journey.go("Audit trail")
    event = page.locator(".audit-table tbody tr").first
    journey.step("audit trail", journey.heading("Audit trail"), event.locator('td[data-label="Action"]'),
                 event.locator('td[data-label="Who"]'), shot=True)


@pytest.mark.parametrize("size", SIZES)
def test_admin_opens_an_account_from_the_staff_list(page: Page, size: str, tag: str, screenshot_dir: Path) -> None:
    journey = Journey(page, "admin", size, screenshot_dir)
    sign_in_as(page, "admin")
    journey.step("home", journey.heading("Welcome"))

    journey.go("Accounts")
    open_one = page.get_by_role("button", name="Open an account")  # a link styled as a button
    journey.step("accounts", journey.heading("Staff accounts"), page.locator("#users tbody tr").first, open_one,
                 shot=True)

    open_one.click()
    journey.heading("Open an account")
    name, email = f"Camille Essai {tag}", f"camille.{tag.lower()}@demo.clinic"
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Role").select_option(label="Nurse")
    page.get_by_label("Your password, to confirm").fill(ACCOUNTS["admin"][2])
    submit = page.get_by_role("button", name="Open account")
    journey.step("new account", submit, shot=True)
    submit.click()

    journey.step("account", journey.heading(name), page.get_by_role("status"), shot=True)
    expect(page.get_by_role("status")).to_contain_text(f"Account opened for {name}")
