"""The nurse's day in a real browser: she works through the day's follow-ups, records a bruise and a
redness that has outlasted its expected day; a patient reports a severe swelling from her aftercare
link on a phone; a doctor sees the flags on his home page and reviews one.

The records behind it are set up through the services on the live server's own database
(``live_app``): two new patients with a signed session each, one today and one two days ago (its
follow-up overdue), so the test leaves the demo's own follow-ups alone.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask import g
from playwright.sync_api import Page, expect

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.followups.models import FollowUpTask, PatientReportLink
from clinic.records.treatments import services as treatments
from tests.browser.test_sign_in import ACCOUNTS, sign_in_as
from tests.factories import AREAS, INDICATION, record_history, register, screen, sign_consent

pytestmark = pytest.mark.browser

VITAMINS_LOT = "VR55-2502"  # a demo lot (clinic/inventory/demo.py)


def _patient_with_a_signed_session(staff: dict[str, User], first: str, last: str) -> int:
    """Registered, consented, screened and treated now (the clock may be moved back); the session id."""
    now = datetime.now().astimezone()
    g.audit_actor = Actor(staff["nurse"].id, staff["nurse"].email, "nurse")
    patient = register(staff["nurse"], first=first, last=last)
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"], on=now.date())
    g.audit_actor = Actor(staff["doctor"].id, staff["doctor"].email, "doctor")
    course = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=now.date()),
                                    staff["doctor"])
    vitamins = db.session.scalar(sa.select(Lot).where(Lot.lot_number == VITAMINS_LOT))
    entry = treatments.SessionInput(
        performed_at=now - timedelta(minutes=5), skin_preparation="chlorhexidine", technique="nappage",
        needle_gauge=32, needle_length_mm=Decimal("4"), nurse_id=staff["nurse"].id,
        preparations=[treatments.PreparationInput("Glow", [treatments.ComponentInput(vitamins.id, Decimal("2"))])],
        injections=[treatments.InjectionInput(area, 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("1"), points=20)
                    for area in AREAS],
    )
    entry.acknowledged = [warning.code for warning in treatments.check_session(course, entry).warnings]
    session = treatments.save_session(course, entry, staff["doctor"])
    treatments.apply_signature(session, staff["doctor"])
    db.session.commit()
    return session.id


@pytest.fixture
def todays_follow_ups(live_app) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        staff = {role: db.session.scalar(sa.select(User).where(User.email == ACCOUNTS[role][0]))
                 for role in ("doctor", "nurse")}
        with time_machine.travel(datetime.now().astimezone() - timedelta(days=2), tick=True):
            _patient_with_a_signed_session(staff, "Lina", f"Rougeur {tag}")
        bruised = _patient_with_a_signed_session(staff, "Jade", f"Hématome {tag}")
        swollen = _patient_with_a_signed_session(staff, "Maëlle", f"Œdème {tag}")
        token = db.session.scalar(sa.select(PatientReportLink.token).where(PatientReportLink.session_id == swollen))
        # The call scheduled for tomorrow is brought forward: the nurse works it today.
        task = db.session.scalar(sa.select(FollowUpTask).where(FollowUpTask.session_id == bruised))
        task.due_on = date.today()
        db.session.commit()
        del g.audit_actor
    return {"red": f"Lina Rougeur {tag}", "bruise": f"Jade Hématome {tag}", "swollen": f"Maëlle Œdème {tag}",
            "link": f"/r/{token}"}


def _work_the_call(page: Page, patient: str, said: str) -> None:
    row = page.locator("#nurse-worklist tr", has_text=patient)
    row.get_by_role("button", name="Work it").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient)
    page.get_by_label("Reached", exact=True).check()
    page.get_by_label("What the patient reports").fill(said)
    page.get_by_label("Side effects to record").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record a side effect")


def _record(page: Page, kind: str, *, hours: str, size: str, grade: str) -> None:
    page.get_by_role("combobox", name="Side effect", exact=True).select_option(label=kind)
    page.get_by_label("Cheeks").check()
    page.get_by_label("hours after the session").fill(hours)
    page.get_by_label("Size (cm)").fill(size)
    page.get_by_label(grade).check()
    page.get_by_label("Action taken").select_option(label="Cold compress")
    page.get_by_label("Link with the treatment").select_option(label="Probable")
    page.get_by_role("button", name="Record the side effect").click()
    expect(page.get_by_text(f"{kind} recorded.")).to_be_visible()


def test_a_nurse_works_the_days_follow_ups_and_a_doctor_reviews_the_flag(
        page: Page, live_server: str, todays_follow_ups: dict[str, str], screenshot_dir: Path) -> None:
    red, bruise = todays_follow_ups["red"], todays_follow_ups["bruise"]
    sign_in_as(page, "nurse")
    expect(page.locator("#follow-ups-overdue")).to_contain_text(red)
    expect(page.locator("#follow-ups-today")).to_contain_text(bruise)
    page.screenshot(path=str(screenshot_dir / "follow-ups-nurse-home.png"), full_page=True)

    # A bruise on today's patient: expected for a few days, nothing for a doctor.
    _work_the_call(page, bruise, "A small bruise on the cheek, no pain.")
    page.get_by_role("combobox", name="Side effect", exact=True).select_option(label="Bruising")
    # Bad input first: a grade is required; what was typed stays.
    page.get_by_label("Size (cm)").fill("1.5")
    page.get_by_label("Cheeks").check()
    page.get_by_label("hours after the session").fill("0")
    page.get_by_role("button", name="Record the side effect").click()
    expect(page.locator("#grade-error")).to_have_text("Choose a grade from 1 to 4.")
    expect(page.locator("#error-summary")).to_be_focused()
    expect(page.get_by_label("Size (cm)")).to_have_value("1.5")
    _record(page, "Bruising", hours="0", size="1.5", grade="1 – mild")
    expect(page.locator("#side-effects")).to_contain_text("Bruising")

    # The redness of two days ago is still there: past its expected 6–24 h.
    page.get_by_role("link", name="Follow-ups", exact=True).first.click()
    page.goto("/")
    _work_the_call(page, red, "Still red and warm on both cheeks.")
    _record(page, "Redness", hours="2", size="4", grade="1 – mild")
    page.screenshot(path=str(screenshot_dir / "follow-ups-side-effect.png"), full_page=True)
    page.goto("/")
    expect(page.locator("#nurse-worklist")).not_to_contain_text(red)
    expect(page.locator("#nurse-worklist")).not_to_contain_text(bruise)
    page.get_by_role("button", name="Sign out").click()

    # A patient reports a severe swelling from the link on her aftercare sheet, on her phone, no account.
    phone = page.context.browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    mobile = phone.new_page()
    mobile.goto(todays_follow_ups["link"])
    expect(mobile.get_by_role("heading", level=1)).to_have_text("Hello Maëlle")
    expect(mobile.locator("body")).not_to_contain_text("Œdème")  # her first name only
    mobile.get_by_label("Swelling or puffiness").check()
    mobile.get_by_label("Since when?").fill(datetime.now().strftime("%Y-%m-%dT%H:%M"))
    mobile.get_by_label("Severe").check()
    mobile.get_by_label("Anything else we should know?").fill("My cheek is very swollen.")
    mobile.get_by_role("button", name="Send to the clinic").click()
    expect(mobile.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(mobile.get_by_role("alert")).to_contain_text("call emergency services now")
    mobile.screenshot(path=str(screenshot_dir / "follow-ups-patient-report-phone.png"), full_page=True)
    phone.close()

    # The report is an urgent call on the nurses' worklist, today.
    sign_in_as(page, "nurse")
    expect(page.locator("#follow-ups-urgent tr", has_text=todays_follow_ups["swollen"])).to_contain_text(
        "urgent: patient report")
    page.get_by_role("button", name="Sign out").click()

    # The doctor: the redness is flagged (the bruise is not), with why; he reviews it.
    sign_in_as(page, "doctor")
    flags = page.locator("#doctor-flags")
    flag = flags.locator("li", has_text=red)
    expect(flag).to_contain_text("still open past its expected duration")
    expect(flags).not_to_contain_text(bruise)
    expect(flags.locator("li", has_text=todays_follow_ups["swollen"])).to_contain_text("reported by the patient")
    page.screenshot(path=str(screenshot_dir / "follow-ups-doctor-flags.png"), full_page=True)
    flag.get_by_role("link", name="Review").click()
    page.get_by_label("Your assessment").fill("Persistent erythema, no sign of infection.")
    page.get_by_label("Plan").fill("Cold compresses; call again in two days.")
    page.get_by_label("Next contact").fill((date.today() + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Save the review").click()
    expect(page.get_by_text("The nurses have a follow-up on")).to_be_visible()
    expect(page.locator("#flags")).not_to_contain_text(red)
