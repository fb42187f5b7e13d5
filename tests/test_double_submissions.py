"""A double click never stores twice (issue 12, item 4; SECURITY.md D1): create forms carry a one-time key
and a repeat answers with the first result; three failed recall calls in a minute are one."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
import time_machine

from clinic.core.models import utcnow
from clinic.core.submissions import FormSubmission
from clinic.extensions import db
from clinic.inventory.models import LotReceipt
from clinic.records.treatments.models import TreatmentSession
from clinic.tracing import recalls
from clinic.tracing.models import RecallContact
from tests.factories import TODAY, save


def _key(page: str) -> str:
    found = re.search(r'name="submission" type="hidden" value="([^"]+)"', page) or re.search(
        r'type="hidden" name="submission" value="([^"]+)"', page) or re.search(
        r'id="submission" name="submission" type="hidden" value="([^"]+)"', page)
    assert found, "the form carries a one-time key"
    return found.group(1)


def test_a_delivery_sent_twice_is_received_once(stock, nurse_client) -> None:
    form_page = nurse_client.get(_receive_url(nurse_client)).get_data(as_text=True)
    key = _key(form_page)
    lot = stock["vitamins"]
    form = {"submission": key, "product_id": str(lot.product_id), "lot_number": "DBL-1", "lot_number_again": "DBL-1",
            "expiry_date": (TODAY + timedelta(days=300)).isoformat(), "quantity": "10", "supplier": "MedAesthetic",
            "received_on": TODAY.isoformat(), "storage_location_id": str(lot.receipts[0].storage_location_id)}
    first = nurse_client.submit(_receive_url(nurse_client), form)
    second = nurse_client.submit(_receive_url(nurse_client), form)
    assert first.status_code == 302 and second.status_code == 302
    assert second.location == first.location, "the repeat shows the first result"
    received = db.session.scalars(sa.select(LotReceipt).join(LotReceipt.lot).where(
        LotReceipt.lot.has(lot_number="DBL-1"))).all()
    assert [r.quantity for r in received] == [10], "20 units on record for a delivery of 10 was the bug"
    assert "already sent" in nurse_client.get(second.location).get_data(as_text=True)


def _receive_url(client) -> str:
    from flask import url_for

    with client.application.test_request_context():
        return url_for("inventory.receive")


def test_a_session_form_sent_twice_makes_one_draft(course, stock, staff, doctor_client) -> None:
    url = f"/courses/{course.id}/sessions/new"
    key = _key(doctor_client.get(url).get_data(as_text=True))
    form = {
        "submission": key, "performed_at": (utcnow() - timedelta(minutes=5)).astimezone().strftime("%Y-%m-%dT%H:%M"),
        "skin_preparation": "chlorhexidine", "technique": "nappage", "needle_gauge": "32", "needle_length_mm": "4",
        "preparations-0-label": "Glow", "preparations-0-components-0-lot_id": str(stock["vitamins"].id),
        "preparations-0-components-0-volume_ml": "3",
        "injections-0-area_code": "cheeks", "injections-0-preparation": "0", "injections-0-depth_mm": "1.5",
        "injections-0-volume_ml": "2", "injections-0-points": "40", "injections-0-administered": "y",
    }
    first = doctor_client.submit(url, form)
    assert first.status_code == 302, [line for line in first.get_data(as_text=True).splitlines() if "error" in line]
    second = doctor_client.submit(url, form)
    assert second.status_code == 302 and second.location == first.location
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 1


def test_a_refused_form_can_be_corrected_and_sent_again_with_the_same_key(stock, nurse_client) -> None:
    key = _key(nurse_client.get(_receive_url(nurse_client)).get_data(as_text=True))
    lot = stock["vitamins"]
    form = {"submission": key, "product_id": str(lot.product_id), "lot_number": "DBL-2", "lot_number_again": "DBL-2",
            "expiry_date": (TODAY - timedelta(days=1)).isoformat(), "quantity": "4", "supplier": "MedAesthetic",
            "received_on": TODAY.isoformat(), "storage_location_id": str(lot.receipts[0].storage_location_id)}
    assert nurse_client.submit(_receive_url(nurse_client), form).status_code == 400
    assert db.session.get(FormSubmission, key) is None, "a refusal rolls its claim back"
    form["expiry_date"] = (TODAY + timedelta(days=100)).isoformat()
    assert nurse_client.submit(_receive_url(nurse_client), form).status_code == 302


def test_a_recall_call_double_clicked_is_stored_once(course, stock, staff, nurse_client) -> None:
    save(course, stock, staff["doctor"])
    recall = recalls.open_recall(recalls.RecallInput(reason="Particles", source="manufacturer", reference="R-1",
                                                     lot_ids=[stock["ha"].id]), staff["auditor"])
    db.session.commit()
    url = f"/recalls/{recall.id}/patients/{recall.rows[0].id}"
    key = _key(nurse_client.get(url).get_data(as_text=True))
    form = {"submission": key, "method": "phone", "note": "No answer"}
    assert nurse_client.submit(url, form).status_code == 302
    assert nurse_client.submit(url, form).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecallContact)) == 1


def test_three_missed_recall_calls_within_minutes_count_once(course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    recall = recalls.open_recall(recalls.RecallInput(reason="Particles", source="manufacturer", reference="R-2",
                                                     lot_ids=[stock["ha"].id]), staff["auditor"])
    db.session.commit()
    row = recall.rows[0]
    for _ in range(3):
        recalls.record_contact(row, "phone", False, "voicemail", staff["nurse"])
        db.session.commit()
    assert row.status == "to_contact" and recalls.failed_attempts(row) == 1
    start = utcnow()
    for hours in (5, 10):
        with time_machine.travel(start + timedelta(hours=hours), tick=False):
            recalls.record_contact(row, "phone", False, "voicemail", staff["nurse"])
            db.session.commit()
    assert row.status == "unreachable"


def test_a_registration_a_course_and_a_side_effect_sent_twice_are_stored_once(
        course, stock, staff, nurse_client, doctor_client) -> None:
    from clinic.records.followups.models import SideEffect
    from clinic.records.patients.models import Patient
    from clinic.records.treatments import services as treatments
    from clinic.records.treatments.models import Course
    from tests.conftest import PASSWORDS

    patients_before = db.session.scalar(sa.select(sa.func.count()).select_from(Patient))
    key = _key(nurse_client.get("/patients/new").get_data(as_text=True))
    form = {"submission": key, "first_name": "Twice", "last_name": "Clicked", "date_of_birth": "1988-02-03",
            "sex": "female"}
    assert nurse_client.submit("/patients/new", form).status_code == 302
    assert nurse_client.submit("/patients/new", form).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == patients_before + 1

    url = f"/patients/{course.patient_id}/courses/new"
    key = _key(doctor_client.get(url).get_data(as_text=True))
    form = {"submission": key, "indication_code": "skin_rejuvenation", "area_codes": ["cheeks"],
            "starts_on": TODAY.isoformat()}
    assert doctor_client.submit(url, form).status_code == 302
    assert doctor_client.submit(url, form).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 2  # the fixture's and this one

    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    url = f"/sessions/{session.id}/side-effects/new?source=chart"
    key = _key(nurse_client.get(url).get_data(as_text=True))
    form = {"submission": key, "type_code": "bruising", "injection_ids": str(session.injections[0].id),
            "onset_hours": "0", "grade": "1", "action": "none", "causality": "possible", "outcome": "ongoing"}
    assert nurse_client.submit(url, form).status_code == 302
    assert nurse_client.submit(url, form).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SideEffect)) == 1


def test_the_back_button_refills_a_form_with_a_new_key_and_it_is_still_one_record(stock, nurse_client) -> None:
    lot = stock["vitamins"]
    form = {"product_id": str(lot.product_id), "lot_number": "DBL-3", "lot_number_again": "DBL-3",
            "expiry_date": (TODAY + timedelta(days=300)).isoformat(), "quantity": "6", "supplier": "MedAesthetic",
            "received_on": TODAY.isoformat(), "storage_location_id": str(lot.receipts[0].storage_location_id)}
    first = nurse_client.submit(_receive_url(nurse_client), {
        **form, "submission": _key(nurse_client.get(_receive_url(nurse_client)).get_data(as_text=True))})
    again = nurse_client.submit(_receive_url(nurse_client), {
        **form, "submission": _key(nurse_client.get(_receive_url(nurse_client)).get_data(as_text=True))})
    assert again.status_code == 302 and again.location == first.location
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LotReceipt).where(
        LotReceipt.lot.has(lot_number="DBL-3"))) == 1
    other = nurse_client.submit(_receive_url(nurse_client), {
        **form, "quantity": "4",
        "submission": _key(nurse_client.get(_receive_url(nurse_client)).get_data(as_text=True))})
    assert other.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LotReceipt).where(
        LotReceipt.lot.has(lot_number="DBL-3"))) == 2, "a different delivery is a new record"
