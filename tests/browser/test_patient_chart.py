"""A patient's chart from registration to an eligible, consented treatment, in a real browser.

A nurse registers a patient, records the history and screens her; the screening
needs a doctor because of a relative contraindication; a doctor overrides it
with a reason, and the patient signs the consent on the signature pad. The
chart's badges follow each step.

The live server is shared by the whole session and its demo patients are made
by Faker, so the patient here has a name of her own and is found again by her
record number.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_sign_in import path_is, sign_in_as

pytestmark = pytest.mark.browser

FIRST_NAME, LAST_NAME = "Maëlle", "Fontaine"
FULL_NAME = f"{FIRST_NAME} {LAST_NAME}"
BORN = date(1991, 6, 14)
INDICATION = "Skin rejuvenation (mesoglow, skin booster)"  # clinic/records/catalogue/defaults.py
CONSENT_TITLE = f"Consent to mesotherapy: {INDICATION}"
AUTOIMMUNE_QUESTION = "Does the patient have an autoimmune disease?"
OVERRIDE_REASON = (
    "Hashimoto's thyroiditis, stable on levothyroxine for six years; no skin involvement. "
    "Superficial treatment of the face is acceptable."
)


def age_on(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def main_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def section(page: Page, heading: str) -> Locator:
    """A chart <section> by its <h2>."""
    return page.locator("section").filter(
        has=page.get_by_role("heading", level=2, name=re.compile(f"^{re.escape(heading)}"))
    )


def facts_value(scope: Locator, term: str) -> Locator:
    """The <dd> that follows a <dt> in a facts list inside ``scope``."""
    return scope.locator("dl.facts dt", has_text=re.compile(f"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def badges(page: Page) -> Locator:
    return page.locator("#chart-badges .badge")


def open_register_form(page: Page) -> None:
    main_nav(page).get_by_role("link", name="Patients").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    page.get_by_role("button", name="Register a patient").click()  # a link styled as a button
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a patient")


def register_patient(page: Page) -> str:
    """Fill the register form; return the record number the app gave."""
    open_register_form(page)
    page.get_by_label("First name").fill(FIRST_NAME)
    page.get_by_label("Last name").fill(LAST_NAME)
    page.get_by_label("Date of birth").fill(BORN.isoformat())
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Skin type (Fitzpatrick)").select_option(label="Type III")
    page.get_by_label("Phone").fill("020 7946 0123")
    page.get_by_label("Email").fill("maelle.fontaine@example.org")
    page.get_by_label("Emergency contact").fill("Hugo Fontaine, brother, 020 7946 0456")
    page.get_by_role("button", name="Register").click()

    status = page.get_by_role("status")
    expect(status).to_have_text(
        re.compile(rf"^{re.escape(FULL_NAME)} is registered with record number (\S+)\.$")
    )
    found = re.search(r"record number (\S+)\.$", status.inner_text())
    assert found is not None
    record_number = found.group(1)
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    return record_number


def test_nurse_screens_a_patient_a_doctor_overrides_and_the_patient_signs(
    page: Page, screenshot_dir: Path
) -> None:
    today = date.today()

    # --- 1. The nurse registers the patient and lands on the chart. -------------------------------
    sign_in_as(page, "nurse")
    record_number = register_patient(page)
    chart_path = re.sub(r"^https?://[^/]+", "", page.url)

    expect(page.get_by_role("heading", level=1)).to_have_text(FULL_NAME)
    expect(page.locator(".chart-header hgroup p")).to_have_text(
        f"Record {record_number} · born {BORN:%d %b %Y} (age {age_on(BORN, today)}) · Female "
        "· skin type III"
    )
    contact = section(page, "Contact")
    expect(facts_value(contact, "Phone")).to_have_text("+44 20 7946 0123")
    expect(facts_value(contact, "Emergency contact")).to_have_text(
        "Hugo Fontaine, brother, 020 7946 0456"
    )
    expect(badges(page)).to_have_text(["history not recorded", "patch test due"])
    expect(section(page, "Medical history")).to_contain_text("Not recorded yet.")

    # --- 2. The medical history: autoimmune disease, not pregnant, not breastfeeding. -------------
    actions = page.get_by_role("navigation", name="Chart actions")
    actions.get_by_role("button", name="Medical history").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Medical history")
    expect(page.get_by_text("First record of this patient's history.")).to_be_visible()
    # By role, not label: the label text of a required field ends in an aria-hidden "*".
    pregnancy = page.get_by_role("combobox", name="Pregnancy", exact=True)
    breastfeeding = page.get_by_role("combobox", name="Breastfeeding", exact=True)
    # A first history asks rather than assumes.
    expect(pregnancy.locator("option:checked")).to_have_text("Not known")
    expect(breastfeeding.locator("option:checked")).to_have_text("Not known")
    page.get_by_role("switch", name="Autoimmune disease", exact=True).check()
    pregnancy.select_option(label="Not pregnant")
    breastfeeding.select_option(label="Not breastfeeding")
    page.get_by_label("What changed").fill("First consultation")
    page.get_by_role("button", name="Save as a new version").click()

    expect(page).to_have_url(path_is(chart_path))
    expect(page.get_by_role("status")).to_have_text("Medical history saved as version 1.")
    history = section(page, "Medical history")
    expect(history.get_by_role("heading", level=2)).to_have_text(
        f"Medical history version 1, {today:%d %b %Y}"
    )
    expect(facts_value(history, "Conditions")).to_have_text("Autoimmune disease")
    expect(facts_value(history, "Pregnancy")).to_have_text(f"Not pregnant (asked {today:%d %b %Y})")
    expect(facts_value(history, "Breastfeeding")).to_have_text("Not breastfeeding")
    expect(badges(page)).to_have_text(["patch test due"])

    # --- 3. The screening for skin rejuvenation, pre-filled from the history. --------------------
    page.get_by_role("navigation", name="Chart actions").get_by_role(
        "button", name="Screen for a treatment"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Screen {FULL_NAME} for a treatment")
    page.get_by_label("Planned treatment").select_option(label=INDICATION)
    areas = page.get_by_role("group", name="Treatment areas")
    for area in ("Forehead", "Cheeks", "Under-eye area"):
        areas.get_by_role("checkbox", name=area, exact=True).check()
    page.get_by_role("button", name="Next: the questions").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Screening: {INDICATION}")
    expect(page.get_by_text("Areas: Forehead, Cheeks, Under-eye area ·")).to_be_visible()
    expect(page.get_by_text("pre-filled from the medical history (version 1)")).to_be_visible()

    autoimmune = page.locator("#question-autoimmune_disease")
    expect(autoimmune.get_by_role("radio", name="Yes")).to_be_checked()
    expect(autoimmune.locator(".suggested")).to_have_text("From the history: yes.")
    pregnant = page.locator("#question-pregnancy")
    expect(pregnant.get_by_role("radio", name="No")).to_be_checked()
    expect(pregnant.locator(".suggested")).to_have_text(
        f"From the history: no (recorded {today:%d %b %Y})."
    )
    expect(page.locator("#question-breastfeeding").get_by_role("radio", name="No")).to_be_checked()
    # The age is worked out, not asked.
    expect(page.locator("#question-age_under_18")).to_contain_text(
        f"No (age {age_on(BORN, today)} on {today:%d %b %Y})"
    )
    # Cold sores only matter near the mouth: not asked for these areas.
    expect(page.locator("#question-herpes_labialis")).to_have_count(0)

    # What the history cannot answer is left for the nurse to ask: answer "no".
    unanswered = page.locator("fieldset.question").evaluate_all(
        """questions => questions
            .filter(q => q.querySelector('input[type=radio]') && !q.querySelector('input:checked'))
            .map(q => q.id)"""
    )
    for question_id in unanswered:
        page.locator(f"#{question_id}").get_by_role("radio", name="No").check()
    assert unanswered == ["question-ingredient_allergy"]

    page.get_by_label("I asked the patient every question above and the answers are theirs").check()
    page.get_by_role("button", name="Record the screening").click()

    expect(page).to_have_url(re.compile(r"/screenings/\d+$"))
    screening_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(page.get_by_role("alert")).to_have_text("Screening recorded: needs doctor review.")
    expect(page.locator("#screening-result")).to_have_text("Needs doctor review")
    relative = page.locator("#relative-autoimmune_disease")
    expect(relative).to_contain_text(f"{AUTOIMMUNE_QUESTION} Yes.")
    # A nurse cannot override: the page says who must decide.
    expect(relative.get_by_text("Needs a doctor's decision.")).to_be_visible()
    expect(page.get_by_role("button", name="Override as the treating doctor")).to_have_count(0)
    answer_row = page.get_by_role("row").filter(has_text=AUTOIMMUNE_QUESTION)
    expect(answer_row.get_by_role("cell")).to_have_text(
        [AUTOIMMUNE_QUESTION, "relative", "Yes (as in the history)"]
    )

    page.get_by_role("link", name=FULL_NAME).click()
    expect(page).to_have_url(path_is(chart_path))
    expect(badges(page)).to_have_text([
        f"consent missing: {INDICATION}", f"needs doctor review: {INDICATION}", "patch test due",
    ])
    screening_row = section(page, "Screenings").get_by_role("row").filter(has_text=INDICATION)
    expect(screening_row.get_by_role("cell")).to_have_text([
        f"{today:%d %b %Y}", INDICATION, "Forehead, Cheeks, Under-eye area", "Needs doctor review",
        "Sam Okafor",
    ])

    # --- 4. The nurse signs out; the doctor finds the patient and overrides. ----------------------
    main_nav(page).get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    sign_in_as(page, "doctor")
    main_nav(page).get_by_role("link", name="Patients").click()
    page.get_by_role("searchbox", name="Search patients").fill(FULL_NAME)
    page.get_by_role("button", name="Search").click()
    result = page.get_by_role("row").filter(has_text=record_number)
    expect(result.get_by_role("cell")).to_have_text(
        [f"{LAST_NAME}, {FIRST_NAME}", record_number, f"{BORN:%d %b %Y}", "+44 20 7946 0123"]
    )
    result.get_by_role("link", name=f"{LAST_NAME}, {FIRST_NAME}").click()
    expect(page).to_have_url(path_is(chart_path))

    section(page, "Screenings").get_by_role("link", name=f"{today:%d %b %Y}").click()
    expect(page).to_have_url(path_is(screening_path))
    relative = page.locator("#relative-autoimmune_disease")
    # No reason, no override.
    relative.get_by_role("button", name="Override as the treating doctor").click()
    relative = page.locator("#relative-autoimmune_disease")
    reason_field = relative.get_by_label("Why treatment is safe despite this")
    expect(reason_field).to_have_attribute("aria-invalid", "true")
    expect(relative.locator(".field-error")).to_have_text("Write the reason for the override.")
    expect(page.locator("#screening-result")).to_have_text("Needs doctor review")

    reason_field.fill(OVERRIDE_REASON)
    relative.get_by_role("button", name="Override as the treating doctor").click()
    expect(page).to_have_url(path_is(screening_path))
    expect(page.get_by_role("status")).to_have_text("Override recorded.")
    expect(page.locator("#screening-result")).to_have_text("Eligible")
    expect(page.locator("#relative-autoimmune_disease")).to_have_count(0)
    overridden = page.locator("article.plan").filter(has_text=AUTOIMMUNE_QUESTION)
    expect(overridden).to_contain_text(
        re.compile(rf"overridden by Dr Lena Marchetti, {today:%d %b %Y} \d\d:\d\d UTC: "
                   + re.escape(OVERRIDE_REASON))
    )

    page.get_by_role("link", name=FULL_NAME).click()
    expect(badges(page)).to_have_text([f"consent missing: {INDICATION}", "patch test due"])
    expect(screening_row.get_by_role("cell").nth(3)).to_have_text("Eligible (1 override)")

    # --- 5. The patient reads the consent, types her name and draws her signature. ----------------
    page.get_by_role("navigation", name="Chart actions").get_by_role(
        "button", name="Record consent"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record consent")
    page.get_by_role("combobox", name="Consent", exact=True).select_option(label=CONSENT_TITLE)
    page.get_by_role("button", name="Show the text").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_TITLE)
    consent_text = page.locator("#consent-text")
    expect(consent_text).to_contain_text(
        f"I, the undersigned, consent to a course of mesotherapy for: {INDICATION}."
    )
    shown_text = consent_text.text_content()
    fingerprint = page.locator("p small code").inner_text()
    expect(page.get_by_text("Witnessed by Dr Lena Marchetti (doctor)")).to_be_visible()

    signed_name = page.get_by_label("Patient's full name, typed by the patient")
    signature_field = page.locator("#signature_image")  # the hidden field signature.js fills
    drawn = re.compile(r"^data:image/png;base64,")
    expect(page.locator("#signature-pad")).to_be_visible()  # shown by signature.js
    expect(signature_field).to_have_value("")

    # The pad is there, so a name alone is not enough.
    signed_name.fill(FULL_NAME)
    page.get_by_role("button", name="Record the signed consent").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(CONSENT_TITLE)
    expect(page.locator("#consent-form .field-error")).to_have_text(
        "Ask the patient to sign in the box above the button."
    )
    expect(signed_name).to_have_value(FULL_NAME)

    # A name that is not the registered one is refused; the drawn signature is kept.
    signed_name.fill(FIRST_NAME)
    draw_signature(page, page.locator("#signature-pad"))
    expect(signature_field).to_have_value(drawn)
    page.get_by_role("button", name="Record the signed consent").click()
    expect(page.locator("#signed_name-error")).to_have_text(
        f"The typed name must be the patient's full name as registered: {FULL_NAME}."
    )
    expect(signed_name).to_have_attribute("aria-invalid", "true")
    expect(signature_field).to_have_value(drawn)

    signed_name.fill(FULL_NAME)
    page.get_by_role("button", name="Record the signed consent").click()

    expect(page).to_have_url(re.compile(r"/consents/\d+$"))
    expect(page.get_by_role("status")).to_have_text(f"Consent recorded: {CONSENT_TITLE}.")
    document = page.locator("article.printable")
    expect(document.get_by_role("heading", level=1)).to_have_text(CONSENT_TITLE)
    expect(document.locator(".consent-text")).to_have_text(shown_text or "")
    expect(document.locator(".meta")).to_contain_text(f"SHA-256 {fingerprint}")
    expect(document).to_contain_text(f"by the patient, who typed: {FULL_NAME}")
    signature = document.get_by_role("img", name=f"Drawn signature of {FULL_NAME}")
    expect(signature).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert signature.evaluate("img => img.complete && img.naturalWidth > 0")
    expect(document.get_by_text("Witness: Dr Lena Marchetti (doctor)")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "chart-consent-page.png"), full_page=True)

    # --- 6. The chart: eligible, with the patch test still to do. ---------------------------------
    page.get_by_role("link", name=FULL_NAME).click()
    expect(page).to_have_url(path_is(chart_path))
    expect(badges(page)).to_have_text([f"eligible: {INDICATION}", "patch test due"])
    expect(page.locator("#chart-badges .badge-ok")).to_have_text(f"eligible: {INDICATION}")
    plan = section(page, "Treatments planned").locator("article.plan")
    expect(plan.get_by_role("heading", level=3)).to_have_text(f"{INDICATION} eligible")
    expect(plan).to_contain_text(
        "First treatment and no negative patch test on record: a patch test is recommended."
    )
    consent_row = section(page, "Consents").get_by_role("row").filter(has_text=CONSENT_TITLE)
    expect(consent_row.get_by_role("cell")).to_have_text([
        re.compile(f"^{re.escape(CONSENT_TITLE)} v1$"),
        re.compile(rf"^{today:%d %b %Y} \d\d:\d\d UTC$"),
        "Dr Lena Marchetti",
        "in force",
    ])
    page.screenshot(path=str(screenshot_dir / "chart-eligible.png"), full_page=True)


def draw_signature(page: Page, pad: Locator) -> None:
    """Two strokes with the mouse, well inside the pad (signature.js listens to pointer events)."""
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.10, 0.60), (0.20, 0.30), (0.30, 0.70), (0.40, 0.35), (0.50, 0.65)],
        [(0.55, 0.50), (0.70, 0.40), (0.85, 0.55)],
    ]
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(left + x * width, top + y * height)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(left + x * width, top + y * height, steps=6)
        page.mouse.up()


def test_a_date_of_birth_in_the_future_is_refused_and_kept(page: Page) -> None:
    future = date.today() + timedelta(days=30)

    sign_in_as(page, "nurse")
    open_register_form(page)
    page.get_by_label("First name").fill("Ottilie")
    page.get_by_label("Last name").fill("Brennan-Okonjo")
    page.get_by_label("Date of birth").fill(future.isoformat())
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_label("Phone").fill("020 7946 0987")
    page.get_by_role("button", name="Register").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Register a patient")
    expect(page).to_have_url(path_is("/patients/new"))
    born = page.get_by_label("Date of birth")
    expect(born).to_have_value(future.isoformat())
    expect(born).to_have_attribute("aria-invalid", "true")
    expect(born).to_have_attribute("aria-describedby", re.compile(r"\bdate_of_birth-error\b"))
    expect(page.locator("#date_of_birth-error")).to_have_text("The date of birth is in the future.")
    # Everything else typed is still there.
    expect(page.get_by_label("First name")).to_have_value("Ottilie")
    expect(page.get_by_label("Last name")).to_have_value("Brennan-Okonjo")
    expect(page.get_by_label("Sex").locator("option:checked")).to_have_text("Female")
    expect(page.get_by_label("Phone")).to_have_value("020 7946 0987")

    # Nothing was registered.
    page.goto("/patients?q=Brennan-Okonjo")
    expect(page.get_by_role("cell", name=re.compile("^No patient matches"))).to_be_visible()

