"""A course's results, in a real browser: a doctor records the baseline measures and a photo, logs and signs
the first session, records its measures and a second photo of the same view, completes the course (which asks
for the end-of-course measures), and opens the course report with its charts and photo pair, then its PDF.

The patient is made through the services on the live server's database (``live_app``): consented to treatment
and to photography, screened, with a course planned from today, so the test leaves the demo's courses alone.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.extensions import db
from clinic.records.treatments import services as treatments
from tests.browser.test_sessions import draw_up, fill_injection, save_draft, session_fields
from tests.browser.test_sign_in import ACCOUNTS, sign_in_as
from tests.factories import AREAS, INDICATION, record_history, register, screen, sign_consent
from tests.results_helpers import jpeg_with_gps, sign_photo_consent

pytestmark = pytest.mark.browser

_EMAIL, _NAME, DOCTOR_PASSWORD = ACCOUNTS["doctor"]
INDICATION_NAME = "Skin rejuvenation (mesoglow, skin booster)"


@pytest.fixture
def planned_course(live_app) -> tuple[int, str]:
    tag = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        staff = {role: db.session.scalar(sa.select(User).where(User.email == ACCOUNTS[role][0]))
                 for role in ("doctor", "nurse")}
        g.audit_actor = Actor(staff["nurse"].id, staff["nurse"].email, "nurse")
        patient = register(staff["nurse"], first="Noémie", last=f"Résultat {tag}")
        record_history(patient, staff["nurse"])
        sign_consent(patient, staff["nurse"])
        sign_photo_consent(patient, staff["nurse"])
        screen(patient, staff["nurse"])
        g.audit_actor = Actor(staff["doctor"].id, staff["doctor"].email, "doctor")
        course = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=date.today()),
                                        staff["doctor"])
        db.session.commit()
        del g.audit_actor
        return course.id, patient.full_name


def _photo_file(tmp_path: Path, name: str, size: tuple[int, int]) -> Path:
    path = tmp_path / name
    path.write_bytes(jpeg_with_gps(size))
    return path


def _choose_session(page: Page, session: str) -> None:
    select = page.get_by_label("Session")
    select.select_option(select.locator("option", has_text=f"{session} —").get_attribute("value"))


def _add_photo(page: Page, course_id: int, file: Path, *, timepoint: str, session: str | None = None) -> None:
    page.goto(f"/courses/{course_id}/photos/new")
    page.get_by_label("Photo", exact=True).set_input_files(str(file))
    page.get_by_label("When").select_option(label=timepoint)
    if session:
        _choose_session(page, session)
    page.get_by_label("Standard view").select_option(label="Front")
    page.get_by_role("button", name="Keep the photo").click()
    expect(page.get_by_role("status")).to_contain_text("Photo kept: Front")


def test_doctor_records_results_from_baseline_to_the_end_and_opens_the_report(
        page: Page, planned_course, tmp_path: Path, screenshot_dir: Path) -> None:
    course_id, patient_name = planned_course
    sign_in_as(page, "doctor")

    # --- 1. Baseline: measures and a photo. ---------------------------------------------------------
    page.goto(f"/courses/{course_id}")
    page.locator("#course-results").get_by_role("link", name="Record measures").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record measures")
    expect(page.get_by_label("When")).to_have_value("baseline")
    page.get_by_label("Wrinkle severity (grade)").fill("4")
    page.get_by_label("Skin quality (grade)").fill("2")
    page.screenshot(path=str(screenshot_dir / "record-measures.png"), full_page=True)
    page.get_by_role("button", name="Save the measures").click()
    expect(page.get_by_role("status")).to_have_text("2 measures recorded.")
    _add_photo(page, course_id, _photo_file(tmp_path, "before.jpg", (400, 300)), timepoint="Baseline (course start)")

    # --- 2. The first session, logged and signed at the chair. ---------------------------------------
    page.goto(f"/courses/{course_id}")
    page.get_by_role("button", name="Log session 1").click()
    fields = session_fields(page)
    fields.get_by_role("combobox", name="Skin preparation").select_option(label="Chlorhexidine 0.5% in alcohol")
    fields.get_by_role("combobox", name="Technique").select_option(label="Nappage")
    fields.get_by_role("combobox", name="Needle gauge").select_option(label="32G")
    fields.get_by_role("spinbutton", name="Needle length (mm)").fill("4")
    draw_up(page, "1.5", "1.0")
    for row in range(2):
        fill_injection(page, row, depth="1.0", volume="1.0", points="20")
    save_draft(page)
    for box in page.locator("#gate-warnings").get_by_role("checkbox").all():
        box.check()
    save_draft(page)
    expect(page).to_have_url(re.compile(r"/sessions/\d+$"))
    page.get_by_label("Your password").fill(DOCTOR_PASSWORD)
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Session 1 of \d+\s+signed"))

    # --- 3. The session's measures (GAIS from here on) and its photo of the same view. ---------------
    page.goto(f"/courses/{course_id}/measures/new?timepoint=session")
    _choose_session(page, "Session 1")
    page.get_by_label("Wrinkle severity (grade)").fill("3")
    page.get_by_label("GAIS (clinician)").select_option(label="Much improved")
    page.get_by_role("button", name="Save the measures").click()
    expect(page.get_by_role("status")).to_have_text("2 measures recorded.")
    _add_photo(page, course_id, _photo_file(tmp_path, "after.jpg", (300, 400)), timepoint="At a session",
               session="Session 1")

    # --- 4. Completing the course asks for the end measures; a value out of range is refused. -------
    page.goto(f"/courses/{course_id}")
    page.get_by_text("Complete or stop this course").click()
    page.get_by_role("button", name="Mark the course completed").click()
    expect(page.get_by_role("status")).to_have_text("Course completed. Now record the end-of-course measures.")
    expect(page.get_by_label("When")).to_have_value("end")
    page.get_by_label("Wrinkle severity (grade)").fill("2")
    page.get_by_label("Skin quality (grade)").fill("4")
    page.get_by_label("Patient satisfaction (/10)").fill("12")
    page.get_by_role("button", name="Save the measures").click()
    satisfaction = page.get_by_label("Patient satisfaction (/10)")
    expect(satisfaction).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#value_satisfaction-error")).to_have_text("Patient satisfaction must be within 0–10 /10.")
    expect(page.get_by_label("Wrinkle severity (grade)")).to_have_value("2")  # what was typed is kept
    satisfaction.fill("9")
    page.get_by_role("button", name="Save the measures").click()
    expect(page.get_by_role("status")).to_have_text("3 measures recorded.")

    # --- 5. The report: plan against done, the change from baseline, the charts, the photo pair. -----
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Course report: {INDICATION_NAME}")
    expect(page.locator("#sessions-done")).to_contain_text("1 of 4")
    expect(page.locator("#change-wrinkle_grade .change")).to_contain_text("-2 grade (-50.0 %)")
    expect(page.locator("#change-skin_quality .change")).to_contain_text("+2 grade (+100.0 %)")
    expect(page.locator("#chart-wrinkle_grade svg circle")).to_have_count(3)
    pair = page.locator(".photo-pair").first
    expect(pair).to_contain_text("Front: Baseline")
    images = pair.locator("img")
    expect(images).to_have_count(2)
    for i in range(2):
        images.nth(i).scroll_into_view_if_needed()
        expect(images.nth(i)).to_have_js_property("complete", True)
        assert images.nth(i).evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(screenshot_dir / "course-report.png"), full_page=True)

    # --- 6. The same view side by side: the first and the last visit. ------------------------------------
    page.get_by_role("link", name="All photos and comparison").click()
    compare = page.locator("#comparison")
    expect(compare.locator("figcaption")).to_have_text([re.compile("^Baseline"), re.compile("^Session 1")])
    for image in compare.locator("img").all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") > 0
    page.screenshot(path=str(screenshot_dir / "course-photos.png"), full_page=True)
    page.go_back()

    # --- 7. Its PDF. ---------------------------------------------------------------------------------
    pdf_link = page.get_by_role("link", name="PDF", exact=True)
    response = page.request.get(pdf_link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.body())).pages).split())
    assert patient_name in text and "-2 grade (-50.0 %)" in text and "Wrinkle severity (grade)" in text
