"""A recall in a real browser: an auditor traces a lot used inside a cocktail, opens the recall,
sees exactly the patients who received it, records a contact with each and closes the recall.

The records behind it are set up through the services on the live server's own database
(``live_app``): three new patients, two of whom received a new lot of hyaluronic acid (one in a
cocktail with a demo vitamin lot, one alone) and one who received only the vitamins. The lot is
new, so the recall leaves the demo lots and the other browser tests alone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import g
from playwright.sync_api import Page, expect

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Lot, Product, StorageLocation
from clinic.records.treatments import services as treatments
from tests.browser.test_sign_in import ACCOUNTS, sign_in_as
from tests.factories import (
    AREAS,
    INDICATION,
    NOW,
    TODAY,
    record_history,
    register,
    screen,
    sign_consent,
)

pytestmark = pytest.mark.browser

VITAMINS_LOT = "VR55-2502"  # a demo lot (clinic/inventory/demo.py), 3 ml vials


def _log_signed_session(patient, doctor, components) -> None:
    course = treatments.plan_course(patient, treatments.CourseInput(
        INDICATION, AREAS, starts_on=TODAY - timedelta(days=1)), doctor)
    drawn = sum(volume for _lot, volume in components)
    entry = treatments.SessionInput(
        performed_at=NOW, skin_preparation="chlorhexidine", technique="nappage", needle_gauge=32,
        needle_length_mm=Decimal("4"),
        preparations=[treatments.PreparationInput("Recall test", [
            treatments.ComponentInput(lot.id, volume) for lot, volume in components])],
        injections=[treatments.InjectionInput(area, 0, depth_mm=Decimal("1.5"), volume_ml=drawn / len(AREAS),
                                              points=20) for area in AREAS],
    )
    entry.acknowledged = [warning.code for warning in treatments.check_session(course, entry).warnings]
    treatments.apply_signature(treatments.save_session(course, entry, doctor), doctor)
    db.session.commit()


@pytest.fixture
def new_lot_in_a_cocktail(live_app) -> dict[str, object]:
    """A new HA lot: patient A got it in a cocktail, B alone; C got only the demo vitamins."""
    tag = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        staff = {role: db.session.scalar(sa.select(User).where(User.email == ACCOUNTS[role][0]))
                 for role in ("doctor", "nurse")}
        g.audit_actor = Actor(staff["nurse"].id, staff["nurse"].email, "nurse")
        lot, _receipt = inventory.receive_lot(inventory.Receipt(
            product=db.session.scalar(sa.select(Product).where(Product.name == "HydraVeil HA 1.5%")),
            lot_number=f"HVR-{tag}", expiry_date=TODAY + timedelta(days=300), quantity=6, supplier="Lumea",
            received_on=TODAY, location=db.session.scalars(sa.select(StorageLocation)).first(),
        ), staff["nurse"])
        vitamins = db.session.scalar(sa.select(Lot).where(Lot.lot_number == VITAMINS_LOT))
        names = {}
        for key, first in (("A", "Iris"), ("B", "Noé"), ("C", "Maud")):
            g.audit_actor = Actor(staff["nurse"].id, staff["nurse"].email, "nurse")
            patient = register(staff["nurse"], first=first, last=f"Rappel {tag}")
            record_history(patient, staff["nurse"])
            sign_consent(patient, staff["nurse"])
            screen(patient, staff["nurse"])
            g.audit_actor = Actor(staff["doctor"].id, staff["doctor"].email, "doctor")
            components = {"A": [(vitamins, Decimal("1")), (lot, Decimal("1"))], "B": [(lot, Decimal("2"))],
                          "C": [(vitamins, Decimal("2"))]}[key]
            _log_signed_session(patient, staff["doctor"], components)
            names[key] = patient.full_name
        del g.audit_actor
        return {"lot": lot.lot_number, "names": names, "tag": tag}


def test_auditor_recalls_a_lot_used_in_a_cocktail_contacts_every_patient_and_closes(
    page: Page, new_lot_in_a_cocktail: dict, screenshot_dir: Path
) -> None:
    lot, names, tag = new_lot_in_a_cocktail["lot"], new_lot_in_a_cocktail["names"], new_lot_in_a_cocktail["tag"]
    sign_in_as(page, "auditor")

    # --- 1. Trace: both patients who received the lot, one of them inside a cocktail. ------------
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trace a lot").click()
    page.get_by_label("Lot number").fill(lot.lower())  # typed in any case
    page.get_by_role("button", name="Trace").click()
    totals = page.locator("#trace-totals")
    expect(totals.locator("dt", has_text="Patients").locator("xpath=following-sibling::dd[1]")).to_have_text("2")
    rows = page.locator("#trace-rows tbody tr")
    expect(rows).to_have_count(4)  # two areas each
    expect(rows.filter(has_text=names["A"]).first).to_contain_text("in a cocktail")
    expect(rows.filter(has_text=names["B"]).first).not_to_contain_text("in a cocktail")
    expect(page.locator("#trace-rows")).not_to_contain_text(names["C"])

    # --- 2. Open the recall from the trace. -----------------------------------------------------------
    # The CSV holds patient data: the password first (a wrong one is refused), then the file; Back returns.
    page.get_by_role("button", name="CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm the export")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Download").click()
    expect(page.locator(".field-error").filter(has_text="The password or code did not match.")).to_be_visible()
    page.get_by_label("Your password").fill(ACCOUNTS["auditor"][2])
    with page.expect_download() as download:
        page.get_by_role("button", name="Download").click()
    assert download.value.suggested_filename == f"trace-{lot}.csv"
    page.get_by_role("button", name="Back").click()
    expect(page.locator("#trace-rows tbody tr")).to_have_count(4)

    page.get_by_role("button", name="Open a recall for this lot").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("recall")
    expect(page.get_by_role("checkbox", name=lot)).to_be_checked()
    page.get_by_role("button", name="Check the recall").click()
    expect(page.get_by_label("Reason")).to_be_visible()  # refused: no reason or source yet, lot kept
    expect(page.locator("#reason-error")).to_have_text("Give the reason for the recall.")
    expect(page.get_by_role("checkbox", name=lot)).to_be_checked()
    page.get_by_label("Reason").fill("Manufacturer field safety notice: possible particles in the vial")
    page.get_by_label("Source").select_option(label="Manufacturer notice")
    page.get_by_label("Reference").fill(f"FSN-{tag}")
    page.get_by_role("button", name="Check the recall").click()
    # Nothing is recalled yet: the lots and the number of patients, then a deliberate confirmation.
    preview = page.locator("#recall-preview")
    expect(preview).to_contain_text("1 lot")
    expect(preview).to_contain_text("2 patients")
    expect(preview).to_contain_text(lot)
    preview.get_by_role("button", name="Recall 1 lot now").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Recall FSN-{tag}")
    progress = page.locator("#recall-progress")
    expect(progress.locator("dt", has_text="Affected patients").locator("xpath=following-sibling::dd[1]")
           ).to_have_text("2")
    worklist = page.locator("#worklist tbody tr")
    expect(worklist).to_have_count(2)
    expect(worklist.filter(has_text=names["A"])).to_contain_text("To contact")
    expect(page.locator("#worklist")).not_to_contain_text(names["C"])
    page.screenshot(path=str(screenshot_dir / "recall-worklist.png"), full_page=True)

    # --- 3. Contacts: A reached, follow-up booked; B not reached at first, then reached. -------------
    worklist.filter(has_text=names["A"]).get_by_role("link", name=names["A"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(names["A"])
    expect(page.locator("main")).to_contain_text(lot)
    page.get_by_label("How").select_option(label="Phone")
    page.get_by_label("The patient was reached").check()
    page.get_by_label("What was said").fill("No reaction; check booked for next week")
    page.get_by_label("Close the row").select_option(label="Follow-up appointment booked")
    page.get_by_role("button", name="Save the contact").click()
    expect(page.get_by_text(f"Contact recorded: {names['A']}")).to_be_visible()

    page.locator("#worklist tbody tr").filter(has_text=names["B"]).get_by_role("link", name=names["B"]).click()
    page.get_by_label("What was said").fill("Voicemail")
    page.get_by_role("button", name="Save the contact").click()
    page.locator("#worklist tbody tr").filter(has_text=names["B"]).get_by_role("link", name=names["B"]).click()
    expect(page.locator("#contacts li")).to_have_count(1)
    expect(page.locator("#last-attempt")).to_have_count(0)  # two more tries before "unreachable"
    page.get_by_label("The patient was reached").check()
    page.get_by_label("What was said").fill("Reached on the second try; no symptoms")
    page.get_by_label("Close the row").select_option(label="No action needed")
    page.get_by_role("button", name="Save the contact").click()
    expect(progress.locator("dt", has_text="Done").locator("xpath=following-sibling::dd[1]")
           ).to_have_text("2 of 2 (100%)")

    # --- 4. Close the recall and read its report. --------------------------------------------------
    page.get_by_text("Close the recall…").click()  # it says what closing does, then asks
    expect(page.locator("#close-recall")).to_contain_text("no further contact can be recorded")
    page.get_by_role("button", name="Yes, close the recall").click()
    expect(page.get_by_text("Recall closed.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("closed")
    page.get_by_role("button", name="Report").click()
    report = page.locator("main")
    for text in (names["A"], names["B"], "No reaction; check booked for next week", "Voicemail",
                 ACCOUNTS["auditor"][1]):
        expect(report).to_contain_text(text)
    expect(report).not_to_contain_text(names["C"])

    # --- 5. The lot is recalled: the trace says so. ------------------------------------------------------
    page.goto(f"/trace?lot={lot}")
    expect(page.locator("#trace-result h2")).to_contain_text("recalled")
