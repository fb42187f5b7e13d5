"""A lot's kept count of units on hand (what the session form lists lots by) always equals the count from its
rows: after a delivery, a session drafted, a draft's lots changed, a correction of a signed session, a
discard and a session voided."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Lot
from clinic.records.treatments import services as treatments
from tests.conftest import PASSWORDS
from tests.factories import NOW, TODAY, save


def _kept_and_counted(*lots: Lot) -> list[tuple[int, int]]:
    db.session.expire_all()
    return [(db.session.get(Lot, lot.id).units_on_hand, inventory.lot_stock(lot).on_hand) for lot in lots]


def _agrees(*lots: Lot, expected: list[int]) -> None:
    assert _kept_and_counted(*lots) == [(units, units) for units in expected]


def test_the_kept_count_follows_every_change_to_a_lots_stock(course, stock, staff) -> None:
    vitamins, ha = stock["vitamins"], stock["ha"]
    _agrees(vitamins, ha, expected=[10, 10])

    draft = save(course, stock, staff["doctor"])  # one vial of each
    _agrees(vitamins, ha, expected=[9, 9])

    # The draft now draws two vials of vitamins and no HA.
    treatments.save_session(course, treatments.SessionInput(
        performed_at=NOW, skin_preparation="chlorhexidine", technique="nappage", needle_gauge=32,
        needle_length_mm=Decimal("4"),
        preparations=[treatments.PreparationInput(
            "Vitamins", [treatments.ComponentInput(vitamins.id, Decimal("6"), units=2)])],
        injections=[treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2"), points=40)],
    ), staff["doctor"], session=draft, expected_version=draft.version)
    db.session.commit()
    _agrees(vitamins, ha, expected=[8, 10])

    treatments.sign_session(draft, staff["doctor"], PASSWORDS["doctor"])
    component = draft.preparations[0].components[0]
    treatments.amend_session(draft, staff["doctor"], component, "units", "3", "three vials were opened",
                             PASSWORDS["doctor"])
    db.session.commit()
    _agrees(vitamins, ha, expected=[7, 10])

    inventory.record_discard(ha, 4, "broken", "dropped", TODAY, staff["nurse"])
    db.session.commit()
    _agrees(vitamins, ha, expected=[7, 6])

    second = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=20), acknowledged=["interval"])
    _agrees(vitamins, ha, expected=[6, 5])
    treatments.void_session(second, staff["doctor"], "logged against the wrong patient")
    db.session.commit()
    _agrees(vitamins, ha, expected=[7, 6])


def test_a_used_up_lot_leaves_the_session_form(course, stock, staff, doctor_client) -> None:
    vitamins = stock["vitamins"]
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert "lot L-VITAMINS" in page and "10 left" in page
    inventory.record_discard(vitamins, 10, "expired", "", TODAY, staff["nurse"])
    db.session.commit()
    assert db.session.scalar(sa.select(Lot.units_on_hand).where(Lot.id == vitamins.id)) == 0
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert "lot L-VITAMINS" not in page and "lot L-HA" in page


def test_a_draft_holding_a_lot_since_quarantined_names_it_quarantined(course, stock, staff, doctor_client) -> None:
    draft = save(course, stock, staff["doctor"])
    inventory.quarantine_lot(stock["ha"], staff["nurse"], "storage temperature out of range")
    db.session.commit()
    page = doctor_client.get(f"/sessions/{draft.id}/edit").get_data(as_text=True)
    assert re.search(r"lot L-HA, exp\. [^<,]*, quarantined<", page)
