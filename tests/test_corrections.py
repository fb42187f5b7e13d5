"""Corrections reach everything built on the record (issue 12, items 1–3): an amendment writes the current
value into the record, so the trace, its CSV and totals, stock, bolus and recall worklists follow it; the
value as signed stays beside it and the signature still proves what was signed. A lot, its units and
volume, and an injection's area can be corrected; the old lot's trace keeps the session, marked."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.core.errors import FieldError
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import InjectionLog
from clinic.tracing import recalls
from clinic.tracing.models import RecallPatient
from clinic.tracing.services import trace_lot
from tests.conftest import PASSWORDS
from tests.factories import NOW, TODAY, entry, save


@pytest.fixture
def signed(course, stock, staff):
    """Cheeks 2.5 ml and forehead 1.5 ml from one cocktail: 1 vial of vitamins (3 ml) and 1 of HA (2 ml)."""
    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    return session


def _amend(session, doctor, target, name, value, reason="Wrong in the chair log"):
    made = treatments.amend_session(session, doctor, target, name, value, reason, PASSWORDS["doctor"])
    db.session.commit()
    return made


def _component(session, lot):
    return next(c for p in session.preparations for c in p.components if c.lot_id == lot.id)


@pytest.fixture
def second_vitamins_lot(stock, staff):
    lot, _ = inventory.receive_lot(inventory.Receipt(
        product=stock["vitamins"].product, lot_number="L-VITAMINS-2", expiry_date=TODAY + timedelta(days=300),
        quantity=5, supplier="MedAesthetic Supplies", received_on=TODAY - timedelta(days=2),
        location=stock["vitamins"].receipts[0].storage_location), staff["nurse"])
    db.session.commit()
    return lot


def test_an_amended_volume_reaches_the_trace_its_totals_and_csv_and_the_bolus(
        signed, staff, stock, doctor_client) -> None:
    cheeks = signed.injections[0]
    before = trace_lot([stock["ha"]], everything=True)
    assert Decimal(before.totals.lot_ml) == Decimal("1.6")  # 2.5 and 1.5 ml, 2 ml of the 5 drawn being HA
    _amend(signed, staff["doctor"], cheeks, "volume_ml", "2.6")
    page = trace_lot([stock["ha"]], everything=True)
    row = next(r for r in page.rows if r.injection_id == cheeks.id)
    assert row.injected_ml == Decimal("2.60") and row.amended
    # The lot's share follows: 2 ml of the 5 ml drawn was HA, so 2.6 × 2 / 5.
    assert row.lot_ml == Decimal("1.04")
    assert Decimal(page.totals.lot_ml) == Decimal("1.64")
    assert not next(r for r in page.rows if r.injection_id != cheeks.id).amended
    assert db.session.get(InjectionLog, cheeks.id).bolus_ml == Decimal("0.052")
    assert treatments.signature_intact(signed), "the signature still proves what was signed"
    session_page = doctor_client.get(f"/sessions/{signed.id}").get_data(as_text=True)
    assert '<del title="as signed">2.5</del> <ins>2.60</ins>' in session_page
    assert 'id="signature-status">signed' in session_page
    trace_page = doctor_client.get(f"/trace?lot={stock['ha'].lot_number}").get_data(as_text=True)
    assert "amended" in trace_page


def test_a_changed_column_without_an_amendment_still_shows_as_altered(signed, staff) -> None:
    _amend(signed, staff["doctor"], signed.injections[0], "volume_ml", "2.6")
    db.session.execute(sa.update(InjectionLog).where(InjectionLog.id == signed.injections[1].id)
                       .values(volume_ml=Decimal("1.4")))
    db.session.commit()
    db.session.expire_all()
    assert not treatments.signature_intact(signed)


def test_a_wrong_lot_is_corrected_and_stock_traces_and_recalls_follow(
        signed, staff, stock, second_vitamins_lot, doctor_client) -> None:
    old, new = stock["vitamins"], second_vitamins_lot
    used = {s.lot.id: s.used for s in inventory.lots_stock([old.id, new.id])}
    assert (used[old.id], used[new.id]) == (1, 0)
    old_recall = recalls.open_recall(recalls.RecallInput(
        reason="Particles", source="manufacturer", reference="FSN-1", lot_ids=[old.id]), staff["auditor"])
    db.session.commit()
    assert [row.patient_id for row in old_recall.rows] == [signed.course.patient_id]
    new_recall = recalls.open_recall(recalls.RecallInput(
        reason="Sterility", source="manufacturer", reference="FSN-2", lot_ids=[new.id]), staff["auditor"])
    db.session.commit()
    assert new_recall.rows == []

    amendment = _amend(signed, staff["doctor"], _component(signed, old), "lot_id", "l-vitamins-2",
                       reason="The vial in the bin was lot L-VITAMINS-2")
    assert (amendment.old_value, amendment.new_value) == (str(old.id), str(new.id))
    used = {s.lot.id: s.used for s in inventory.lots_stock([old.id, new.id])}
    assert (used[old.id], used[new.id]) == (0, 1)
    assert [r.patient_id for r in trace_lot([new], everything=True).rows] == [signed.course.patient_id] * 2
    old_trace = trace_lot([old], everything=True)
    assert old_trace.rows == []
    assert [(c.session_id, c.to_lot) for c in old_trace.corrected_away] == [(signed.id, "L-VITAMINS-2")]
    page = doctor_client.get(f"/trace?lot={old.lot_number}").get_data(as_text=True)
    assert "corrected to lot <code>L-VITAMINS-2</code>" in page
    db.session.expire_all()
    rows = {row.recall_id: row for row in db.session.scalars(sa.select(RecallPatient))}
    assert rows[new_recall.id].status == "to_contact", "newly affected: on the new lot's worklist"
    assert rows[old_recall.id].status == "no_action_needed", "no longer affected: released"
    assert treatments.signature_intact(signed)
    session_page = doctor_client.get(f"/sessions/{signed.id}").get_data(as_text=True)
    assert f'<del title="as signed">{old.lot_number}</del> <ins>L-VITAMINS-2</ins>' in session_page


def test_the_old_lot_csv_keeps_the_corrected_session_marked(signed, staff, stock, second_vitamins_lot,
                                                            doctor_client) -> None:
    _amend(signed, staff["doctor"], _component(signed, stock["vitamins"]), "lot_id", "L-VITAMINS-2")
    from clinic.tracing.exports import CSV_HEADER, csv_rows

    rows = csv_rows(trace_lot([stock["vitamins"]], everything=True))
    assert len(rows) == 1 and rows[0][CSV_HEADER.index("corrected_to_lot")] == "L-VITAMINS-2"
    assert list(csv.reader(io.StringIO(",".join(CSV_HEADER))))[0][-2:] == ["amended", "corrected_to_lot"]


def test_an_injections_area_is_corrected(signed, staff, stock) -> None:
    cheeks = signed.injections[0]
    _amend(signed, staff["doctor"], cheeks, "area_code", "Chin")
    areas = {r.injection_id: r.area for r in trace_lot([stock["ha"]], everything=True).rows}
    assert areas[cheeks.id] == "Chin"
    with pytest.raises(FieldError, match="area of the catalogue"):
        treatments.amend_session(signed, staff["doctor"], cheeks, "area_code", "Elbow", "typo", PASSWORDS["doctor"])


def test_a_corrected_volume_drawn_cannot_leave_less_than_was_injected(signed, staff, stock) -> None:
    component = _component(signed, stock["ha"])
    with pytest.raises(FieldError, match="only 3.5 ml was drawn"):
        treatments.amend_session(signed, staff["doctor"], component, "volume_ml", "0.5", "typo", PASSWORDS["doctor"])
    _amend(signed, staff["doctor"], component, "units", "2")
    assert {s.lot.id: s.used for s in inventory.lots_stock([stock["ha"].id])}[stock["ha"].id] == 2
    with pytest.raises(FieldError, match="No lot"):
        treatments.amend_session(signed, staff["doctor"], component, "lot_id", "NOPE", "typo", PASSWORDS["doctor"])


def test_a_session_at_the_same_minute_as_another_gets_the_interval_warning(course, stock, staff) -> None:
    first = save(course, stock, staff["doctor"])
    check = treatments.check_session(course, entry(stock, when=first.performed_at))
    assert [w.code for w in check.warnings] == ["interval"]
    earlier = treatments.check_session(course, entry(stock, when=NOW - timedelta(days=2)))
    assert "before session 1" in next(w.message for w in earlier.warnings if w.code == "interval")


def test_a_doctor_corrects_a_lot_from_the_amendment_page(signed, stock, second_vitamins_lot, doctor_client) -> None:
    component = _component(signed, stock["vitamins"])
    page = doctor_client.get(f"/sessions/{signed.id}/amend").get_data(as_text=True)
    assert f'value="component:{component.id}:lot_id"' in page
    response = doctor_client.submit(f"/sessions/{signed.id}/amend", {
        "target_field": f"component:{component.id}:lot_id", "new_value": "L-VITAMINS-2",
        "reason": "The empty vial says L-VITAMINS-2", "password": PASSWORDS["doctor"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert _component(signed, second_vitamins_lot).lot_id == second_vitamins_lot.id
    shown = doctor_client.get(f"/sessions/{signed.id}").get_data(as_text=True)
    assert "The empty vial says L-VITAMINS-2" in shown and "from <del>L-VITAMINS</del> to <ins>L-VITAMINS-2</ins>" in shown


def test_a_lot_correction_keeps_the_product_and_the_stock_it_has(signed, staff, stock) -> None:
    component = _component(signed, stock["vitamins"])
    with pytest.raises(FieldError, match="keeps the product"):
        treatments.amend_session(signed, staff["doctor"], component, "lot_id", stock["ha"].lot_number, "typo",
                                 PASSWORDS["doctor"])
    with pytest.raises(FieldError, match="left"):
        treatments.amend_session(signed, staff["doctor"], component, "units", "999", "typo", PASSWORDS["doctor"])


def test_a_lot_corrected_and_corrected_back_is_not_listed_as_moved(signed, staff, stock, second_vitamins_lot) -> None:
    component = _component(signed, stock["vitamins"])
    _amend(signed, staff["doctor"], component, "lot_id", "L-VITAMINS-2")
    _amend(signed, staff["doctor"], component, "lot_id", stock["vitamins"].lot_number, reason="Wrong again")
    assert trace_lot([stock["vitamins"]], everything=True).corrected_away == []
    assert trace_lot([second_vitamins_lot], everything=True).corrected_away == []
    assert {r.session_id for r in trace_lot([stock["vitamins"]], everything=True).rows} == {signed.id}


def test_the_amendments_list_names_each_field_as_its_row_does(signed, staff, stock, doctor_client) -> None:
    _amend(signed, staff["doctor"], signed.injections[0], "volume_ml", "2.2")
    _amend(signed, staff["doctor"], _component(signed, stock["ha"]), "volume_ml", "2.5")
    page = doctor_client.get(f"/sessions/{signed.id}").get_data(as_text=True)
    listed = page[page.index('id="amendments"'):]
    assert "<strong>Volume (ml)</strong> (Cheeks)" in listed
    assert "<strong>Volume drawn (ml)</strong> (Glow cocktail, HydraVeil HA 1.5%)" in listed
