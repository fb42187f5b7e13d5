"""Recalls: opening marks lots recalled and builds the worklist; contacts; unreachable; closing; badges."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.orm import Session

from clinic.core.errors import ClinicError, FieldError
from clinic.core.models import utcnow
from clinic.extensions import db
from clinic.records.chart import load_chart
from clinic.records.treatments import services as treatments
from clinic.tracing import recalls
from clinic.tracing.models import Recall, RecallLot, RecallPatient
from tests.conftest import PASSWORDS, audit_rows
from tests.factories import NOW, TODAY, entry, save


def _open(staff, lot_ids, **overrides):
    values = dict(reason="Manufacturer notice: possible particulate matter", source="manufacturer",
                  reference="FSN-2026-114", lot_ids=lot_ids)
    values.update(overrides)
    made = recalls.open_recall(recalls.RecallInput(**values), staff["auditor"])
    db.session.commit()
    return made


def test_opening_a_recall_marks_the_lots_and_lists_every_patient(course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    assert stock["ha"].recalled_at is not None
    assert [row.patient_id for row in recall.rows] == [course.patient_id]
    with pytest.raises(treatments.SessionRefused) as refused:
        treatments.save_session(course, entry(stock, when=utcnow(), acknowledged=["interval"]), staff["doctor"])
    assert any("recalled" in reason.message for reason in refused.value.reasons)


def test_a_recall_needs_lots_or_a_location_and_window_and_cannot_repeat(stock, staff) -> None:
    with pytest.raises(FieldError, match="Choose the lots"):
        _open(staff, [])
    with pytest.raises(FieldError, match="both window dates"):
        _open(staff, [], location_id=stock["ha"].receipts[0].storage_location_id)
    db.session.rollback()
    _open(staff, [stock["ha"].id])
    with pytest.raises(FieldError, match="Already recalled"):
        _open(staff, [stock["ha"].id])


def test_a_temperature_excursion_affects_sessions_from_the_window_on_and_cannot_be_in_the_future(
    course, stock, staff
) -> None:
    fridge = stock["ha"].receipts[0].storage_location_id
    earlier = save(course, stock, staff["doctor"])
    earlier.performed_at = NOW - timedelta(days=5)  # logged for a session five days ago
    db.session.commit()
    with pytest.raises(FieldError, match="cannot end in the future"):
        _open(staff, [], source="internal", location_id=fridge, window_start=TODAY,
              window_end=TODAY + timedelta(days=1))
    db.session.rollback()
    later = _open(staff, [], source="internal", reference="", location_id=fridge,
                  window_start=TODAY - timedelta(days=3), window_end=TODAY - timedelta(days=1))
    assert later.rows == []  # the session five days ago used the lots before the fridge failed
    assert all(link.affected_from is not None for link in later.lots)
    assert recalls.affected_sessions(later) == {}


def test_a_temperature_excursion_recalls_every_lot_in_the_location(stock, staff) -> None:
    fridge = stock["ha"].receipts[0].storage_location_id
    recall = _open(staff, [], source="internal", reference="", location_id=fridge,
                   window_start=TODAY - timedelta(days=3), window_end=TODAY - timedelta(days=1))
    assert {link.lot_id for link in recall.lots} == {stock["ha"].id, stock["vitamins"].id}


def test_contacts_close_rows_unreachable_after_three_tries_then_the_recall_closes(course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    row = recall.rows[0]
    with pytest.raises(ClinicError, match="still to be dealt with"):
        recalls.close_recall(recall, staff["auditor"])
    start = utcnow()
    for attempt in range(3):  # failed tries count when RECALL_MIN_HOURS_BETWEEN_ATTEMPTS apart
        with time_machine.travel(start + timedelta(hours=5 * attempt), tick=False):
            recalls.record_contact(row, "phone", False, "voicemail", staff["nurse"])
    assert row.status == "unreachable" and row.closed_by_id == staff["nurse"].id
    recalls.close_recall(recall, staff["auditor"])
    db.session.commit()
    with pytest.raises(ClinicError, match="closed"):
        recalls.record_contact(row, "phone", True, "late call", staff["nurse"])


def test_an_unreachable_patient_stays_flagged_until_reached_and_progress_counts_each_once(
    nurse_client, course, stock, staff
) -> None:
    save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    row = recall.rows[0]
    contact_url = f"/recalls/{recall.id}/patients/{row.id}"
    start = utcnow()
    for attempt in range(3):  # failed tries count when RECALL_MIN_HOURS_BETWEEN_ATTEMPTS apart
        page = nurse_client.get(contact_url).get_data(as_text=True)
        assert ('id="last-attempt"' in page) == (attempt == 2)
        with time_machine.travel(start + timedelta(hours=5 * attempt), tick=False):
            recalls.record_contact(row, "phone", False, "no answer", staff["nurse"])
            db.session.commit()
    assert row.status == "unreachable"
    assert recalls.progress(recall) == recalls.Progress(affected=1, to_reach=0, reached=0, closed=0, unreachable=1)
    labels = [b.label for b in load_chart(course.patient, TODAY).badges]
    assert "in recall FSN-2026-114: unreachable, tell the patient" in labels
    assert "Marked unreachable after 3 attempts" in nurse_client.get(contact_url).get_data(as_text=True)
    recalls.record_contact(row, "in_person", True, "Told at her visit; no symptoms", staff["nurse"])
    db.session.commit()
    assert row.status == "contacted" and row.closed_at is None
    recalls.record_contact(row, "phone", False, "no answer to book the check", staff["nurse"])
    db.session.commit()
    assert row.status == "contacted"  # failures count again from the last talk
    assert recalls.progress(recall).reached == 1 and recalls.progress(recall).done == 0
    recalls.record_contact(row, "in_person", True, "Check booked", staff["nurse"], outcome="follow_up_booked")
    db.session.commit()
    assert not any("in recall" in b.label for b in load_chart(course.patient, TODAY).badges)
    assert recalls.progress(recall).percent_done == 100


def test_correcting_or_voiding_the_only_affected_session_closes_the_unworked_row(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    vitamins_only = [treatments.PreparationInput("Vit", [treatments.ComponentInput(stock["vitamins"].id,
                                                                                   Decimal("3"))])]
    one_area = [treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1"), volume_ml=Decimal("2"), points=40)]
    treatments.save_session(course, entry(stock, preparations=vitamins_only, injections=one_area), staff["doctor"],
                            session=session)
    db.session.commit()
    row = recall.rows[0]
    assert row.status == "no_action_needed" and "lots were corrected" in row.outcome_note
    assert row.closed_by_id == staff["doctor"].id
    assert not any("in recall" in b.label for b in load_chart(course.patient, TODAY).badges)
    assert recalls.progress(recall) == recalls.Progress(0, 0, 0, 0, 0, released=1)
    # Corrected back: the lot was used after all, so the patient is called again.
    treatments.save_session(course, entry(stock, acknowledged=[f"recalled_after:{stock['ha'].id}"]),
                            staff["doctor"], session=session)
    db.session.commit()
    assert row.status == "to_contact" and row.closed_at is None and "Reopened" in row.outcome_note
    assert recalls.progress(recall).to_reach == 1


def test_voiding_a_session_after_a_contact_leaves_the_row_to_the_staff(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    recalls.record_contact(recall.rows[0], "phone", False, "voicemail", staff["nurse"])
    treatments.void_session(session, staff["doctor"], "wrong chart")
    db.session.commit()
    assert recall.rows[0].status == "to_contact"


def test_a_reached_patient_needs_a_note_and_an_outcome_closes_the_row(course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    row = _open(staff, [stock["ha"].id]).rows[0]
    with pytest.raises(FieldError, match="what the patient was told"):
        recalls.record_contact(row, "phone", True, "", staff["nurse"])
    recalls.record_contact(row, "phone", True, "No symptoms; check booked for Tuesday", staff["nurse"],
                           outcome="follow_up_booked")
    assert row.status == "follow_up_booked" and row.is_closed


def test_the_chart_shows_the_recall_until_the_row_is_closed(course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    labels = [b.label for b in load_chart(course.patient, TODAY).badges]
    assert "in recall FSN-2026-114: contact pending" in labels
    recalls.record_contact(recall.rows[0], "phone", True, "fine", staff["nurse"], outcome="no_action_needed")
    db.session.commit()
    assert not any("in recall" in b.label for b in load_chart(course.patient, TODAY).badges)


def test_the_doctors_schedule_shows_the_recall_until_the_row_is_closed(clients, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    recall = _open(staff, [stock["ha"].id])
    home = clients["doctor"].get("/").get_data(as_text=True)
    schedule = home.split('id="doctor-worklist"')[1]
    assert schedule.count("in recall FSN-2026-114") == 2  # today's sessions and the unsigned drafts
    assert f"/recalls/{recall.id}" in schedule
    recalls.record_contact(recall.rows[0], "phone", True, "fine", staff["nurse"], outcome="no_action_needed")
    db.session.commit()
    assert "in recall" not in clients["doctor"].get("/").get_data(as_text=True)
    for role in ("nurse", "auditor", "admin"):
        home = clients[role].get("/").get_data(as_text=True)
        assert 'id="open-recalls"' in home and "ready to close" in home


def test_the_pages_auditor_opens_nurse_contacts_admin_sees_no_patients(clients, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    form = {"reason": "Fridge alarm overnight", "source": "internal", "reference": "INC-7",
            "notice_date": TODAY.isoformat(), "lot_ids": [str(stock["ha"].id)]}
    preview = clients["auditor"].submit("/recalls/new", form)
    assert preview.status_code == 200
    assert "Recall 1 lot now" in preview.get_data(as_text=True) and "<strong>1 patient</strong>" in preview.get_data(
        as_text=True)
    assert stock["ha"].recalled_at is None and db.session.scalar(sa.select(sa.func.count(RecallPatient.id))) == 0
    stale = clients["auditor"].submit("/recalls/new", {**form, "confirm_plan": "999"})
    assert stale.status_code == 200 and stock["ha"].recalled_at is None  # shown again, not opened
    key = re.search(r'name="confirm_plan" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    assert key.startswith(f"{stock['ha'].id}:")
    opened = clients["auditor"].submit("/recalls/new", {**form, "confirm_plan": key})
    assert opened.status_code == 302
    double_click = clients["auditor"].submit("/recalls/new", {**form, "confirm_plan": key})
    assert double_click.status_code == 302 and double_click.location == opened.location
    recall_url = opened.location
    row = db.session.scalar(sa.select(RecallPatient))
    worklist = clients["nurse"].get(recall_url).get_data(as_text=True)
    assert "Amélie Durand" in worklist and "session 1</a> <span class=\"badge badge-warn\">draft</span>: Cheeks, Forehead" in worklist
    admin_page = clients["admin"].get(recall_url).get_data(as_text=True)
    assert "Amélie Durand" not in admin_page and "not shown to admins" in admin_page
    assert clients["admin"].get(f"/recalls/{row.recall_id}/patients/{row.id}").status_code == 403
    contact_page = clients["nurse"].get(f"/recalls/{row.recall_id}/patients/{row.id}").get_data(as_text=True)
    assert "injected into cheeks, forehead" in contact_page
    done = clients["nurse"].submit(f"/recalls/{row.recall_id}/patients/{row.id}", {
        "method": "phone", "reached": "y", "note": "No reaction; reassured", "outcome": "no_action_needed"})
    assert done.status_code == 302
    letter = clients["nurse"].get(f"/recalls/{row.recall_id}/patients/{row.id}/letter").get_data(as_text=True)
    assert "L-HA" in letter and "FSN" not in letter and "INC-7" in letter
    assert clients["admin"].submit(f"/recalls/{row.recall_id}/close").status_code == 302
    report = clients["auditor"].get(f"/recalls/{row.recall_id}/report").get_data(as_text=True)
    assert "No reaction; reassured" in report and "Test Nurse" in report
    assert "Confirm the export" in clients["auditor"].get(f"/recalls/{row.recall_id}/report.pdf").get_data(
        as_text=True)
    pdf = clients["auditor"].submit(f"/recalls/{row.recall_id}/report.pdf", {"password": PASSWORDS["auditor"]})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert audit_rows("read_worklist")


@pytest.mark.commits  # the first click commits on a connection of its own
def test_two_clicks_at_the_same_moment_open_one_recall_and_the_second_finds_it(
        clients, course, stock, staff, monkeypatch) -> None:
    save(course, stock, staff["doctor"])
    form = {"reason": "Fridge alarm overnight", "source": "internal", "reference": "INC-8",
            "notice_date": TODAY.isoformat(), "lot_ids": [str(stock["ha"].id)]}
    preview = clients["auditor"].submit("/recalls/new", form)
    key = re.search(r'name="confirm_plan" value="([^"]+)"', preview.get_data(as_text=True)).group(1)
    opening = recalls.open_recall
    first = {}

    def first_click_commits_meanwhile(entry, by, **kwargs):  # noqa: ANN001, ANN003, ANN202
        with Session(db.engine) as other:
            recall = Recall(reason="Fridge alarm overnight", source="internal", reference="INC-8",
                            notice_date=TODAY, opened_by_id=by.id)
            recall.lots.append(RecallLot(lot_id=stock["ha"].id))
            other.add(recall)
            other.commit()
            first["id"] = recall.id
        return opening(entry, by, **kwargs)

    monkeypatch.setattr(recalls, "open_recall", first_click_commits_meanwhile)
    second = clients["auditor"].submit("/recalls/new", {**form, "confirm_plan": key})
    assert second.status_code == 302 and second.location.endswith(f"/recalls/{first['id']}")
    assert "the second click changed nothing" in clients["auditor"].get(second.location).get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Recall.id))) == 1


def test_a_recall_without_lots_is_refused_on_the_page_with_the_input_kept(auditor_client, stock) -> None:
    response = auditor_client.submit("/recalls/new", {"reason": "kept reason", "source": "internal",
                                                      "notice_date": TODAY.isoformat()})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Choose the lots" in page and "kept reason" in page


def test_the_letter_names_a_lot_once_with_every_date_it_was_used(clients, course, stock, staff) -> None:
    first = save(course, stock, staff["doctor"], when=NOW - timedelta(days=9))
    second = save(course, stock, staff["doctor"], when=NOW, acknowledged=["interval"])
    recall = _open(staff, [stock["ha"].id])
    row = db.session.scalar(sa.select(RecallPatient).where(RecallPatient.recall_id == recall.id))
    letter = clients["nurse"].get(f"/recalls/{recall.id}/patients/{row.id}/letter").get_data(as_text=True)
    products = letter[letter.index('id="recalled-products"'):letter.index("</ul>", letter.index('id="recalled-products"'))]
    assert products.count("lot L-HA") == 1
    assert (f"used in your treatment on {first.performed_at:%d %B %Y} and {second.performed_at:%d %B %Y}"
            in products)
