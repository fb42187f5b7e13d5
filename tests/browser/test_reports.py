"""An auditor opens the reports, sees the flagged lot, and quarantines it from the signal, in a real
browser against gunicorn.

The live server is shared by the whole session: the test receives two lots of its own and gives them the
daily figures a bad batch leaves in the rollup (the rollup's upkeep from the records is tested in
tests/test_reports_figures.py; the signal from real sessions in tests/test_reports_signal.py).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import g
from playwright.sync_api import Page, expect

from clinic.audit.services import Actor
from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Product, StorageLocation
from clinic.reports import figures
from clinic.reports.models import DailyFigure
from tests.browser.test_sign_in import ACCOUNTS, sign_in_as

pytestmark = pytest.mark.browser


def _figures(lot_id: int, doctor_id: int, sessions: int, signal: int) -> dict[str, object]:
    return {"day": date.today() - timedelta(days=1), "scope": "all", "dimension": "lot", "item": str(lot_id),
            "indication_code": "skin_rejuvenation", "doctor_id": doctor_id, "sessions": sessions,
            "with_side_effect": signal, "grade_1": 0, "grade_2": signal, "grade_3": 0, "grade_4": 0,
            "serious": 0, "signal": signal}


@pytest.fixture
def bad_batch(live_app) -> str:
    """A bad lot of HydraVeil: 14 of 40 sessions with grade 2 bruising, against 12 of 400 for its sibling."""
    tag = uuid.uuid4().hex[:6].upper()
    with live_app.app_context():
        nurse = db.session.scalar(sa.select(User).where(User.email == ACCOUNTS["nurse"][0]))
        doctor = db.session.scalar(sa.select(User).where(User.email == ACCOUNTS["doctor"][0]))
        g.audit_actor = Actor(nurse.id, nurse.email, "nurse")
        product = db.session.scalar(sa.select(Product).where(Product.name == "HydraVeil HA 1.5%"))
        fridge = db.session.scalar(sa.select(StorageLocation).order_by(StorageLocation.id))
        lots = []
        for number in (f"BAD-{tag}", f"GOOD-{tag}"):
            lot, _ = inventory.receive_lot(inventory.Receipt(
                product=product, lot_number=number, expiry_date=date.today() + timedelta(days=300), quantity=20,
                supplier="MedAesthetic Supplies", received_on=date.today() - timedelta(days=30), location=fridge),
                nurse)
            lots.append(lot)
        db.session.execute(sa.insert(DailyFigure.__table__), [
            _figures(lots[0].id, doctor.id, 40, 14), _figures(lots[1].id, doctor.id, 400, 12)])
        yesterday = date.today() - timedelta(days=1)
        figures.sum_any_doctor(yesterday)  # then the sums the rollup keeps beside them
        figures.refresh_month(yesterday)
        db.session.commit()
        del g.audit_actor
    return f"BAD-{tag}"


def test_an_auditor_sees_the_flagged_lot_in_the_reports_and_quarantines_it(page: Page, bad_batch: str) -> None:
    sign_in_as(page, "auditor")
    expect(page.locator("#home-flagged-lots")).to_contain_text(bad_batch)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clinic reports")
    flagged = page.locator("#lot-signal tr", has_text=bad_batch)
    expect(flagged).to_contain_text("higher than its siblings")
    expect(flagged).to_contain_text("14 (35.0 per 100)")
    flagged.get_by_role("link", name="Quarantine this lot").click()
    expect(page.locator("#lot-notes")).to_contain_text("14 of this lot's 40 sessions (35.0 per 100)")
    page.locator("#quarantine").get_by_label("Reason").fill("Safety signal: bruising in a third of sessions")
    page.locator("#quarantine").get_by_role("button", name="Quarantine this lot").click()
    expect(page.get_by_role("heading", level=2, name="Release from quarantine")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.locator("#lot-signal tr", has_text=bad_batch)).to_contain_text("quarantined")
