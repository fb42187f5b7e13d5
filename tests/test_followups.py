"""The nurse's side: the follow-up worklist, working a follow-up, side effects with their history, the
flags a doctor must review and the review itself, the side-effect catalogue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.extensions import db
from clinic.records.followups import queries
from clinic.records.followups import services as followups
from clinic.records.followups.models import FlagReview, FollowUpTask, SideEffect, SideEffectType
from clinic.records.treatments import services as treatments
from tests.conftest import PASSWORDS
from tests.factories import ready_course, save



def _next_friday() -> datetime:
    """15:00 UTC on the next Friday at least a day away: a clock the rules are checked against."""
    day = date.today() + timedelta(days=1)
    while day.weekday() != 4:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 15, 0, tzinfo=UTC)


def _signed(course, stock, staff, *, nurse=None):
    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    if nurse is not None:
        session.nurse_id = nurse.id
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    return session


@pytest.fixture
def signed(course, stock, staff):
    return _signed(course, stock, staff)


def _task(session) -> FollowUpTask:
    return db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == session.id)
                              .order_by(FollowUpTask.id)).first()


def _effect(session, by, now, **values) -> SideEffect:
    values.setdefault("injection_ids", [session.injections[0].id])
    values.setdefault("causality", "probable")
    entry = followups.SideEffectInput(**{"type_code": "bruising", "grade": 1, "onset_hours": 0, **values})
    made = followups.record_side_effect(session, by, entry, source="chart", now=now)
    db.session.commit()
    return made


def _not_reached(task, by, at) -> None:
    followups.record_attempt(task, by, followups.AttemptInput(at, "phone", reached=False), now=at)
    db.session.commit()


# --- the worklist --------------------------------------------------------------------------------


def test_the_worklist_sorts_follow_ups_into_overdue_today_and_upcoming(course, stock, staff) -> None:
    session = _signed(course, stock, staff)
    task = _task(session)
    due = task.due_on
    for today, bucket in ((due - timedelta(days=8), None), (due - timedelta(days=3), "upcoming"),
                          (due, "today"), (due + timedelta(days=2), "overdue")):
        rows = queries.nurse_worklist(today).rows
        assert [row.bucket(today) for row in rows if row.task_id == task.id] == ([bucket] if bucket else [])
    row = queries.nurse_worklist(due).rows[0]
    patient = course.patient
    assert (row.patient_name, row.record_number, row.phone) == (patient.full_name, patient.record_number,
                                                                patient.phone)
    assert (row.session_number, row.planned_sessions, row.indication) == (1, course.planned_sessions,
                                                                           course.indication.name)
    assert sorted(row.areas) == ["Cheeks", "Forehead"]
    assert row.products == ["HydraVeil HA 1.5%", "Revita C Glow"]
    assert row.attempts == 0


def test_mine_shows_only_the_sessions_the_nurse_assisted(course, stock, staff) -> None:
    assisted = _signed(course, stock, staff, nurse=staff["nurse"])
    other = ready_course(staff, "Inès", "Moreau")
    not_assisted = _signed(other, stock, staff)
    today = _task(assisted).due_on
    mine = {row.session_id for row in queries.nurse_worklist(today, nurse_id=staff["nurse"].id).rows}
    everyone = {row.session_id for row in queries.nurse_worklist(today).rows}
    assert mine == {assisted.id} and everyone == {assisted.id, not_assisted.id}


def test_the_worklist_pages_by_keyset_without_losing_or_repeating_a_row(stock, staff) -> None:
    sessions = [_signed(ready_course(staff, f"Patient{i}", "Keyset"), stock, staff) for i in range(5)]
    today = _task(sessions[0]).due_on
    seen, after = [], None
    while True:
        page = queries.nurse_worklist(today, after=after, limit=2)
        seen += [row.task_id for row in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert sorted(seen) == sorted(_task(s).id for s in sessions) and len(seen) == len(set(seen))


# The worklist's, a follow-up's, a side effect's and the flags' query budgets (the same for 2 and for 50 rows):
# tests/test_query_budgets_records.py.


# --- working a follow-up -------------------------------------------------------------------------


def test_a_call_that_misses_moves_to_the_next_working_day_and_the_third_closes_it(signed, staff) -> None:
    task = _task(signed)
    friday = _next_friday()
    _not_reached(task, staff["nurse"], friday)
    monday = friday.astimezone().date() + timedelta(days=3)
    assert task.is_open and task.due_on == monday, "Friday's miss moves to Monday"
    followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
        friday + timedelta(days=3), "message", reached=False, reschedule_to=monday + timedelta(days=3)),
        now=friday + timedelta(days=3))
    assert task.due_on == monday + timedelta(days=3)
    _not_reached(task, staff["nurse"], friday + timedelta(days=6))
    assert task.status == "not_reached" and not task.is_open and len(task.attempts) == 3
    assert [f.follow_up for f in queries.doctor_flags(friday + timedelta(days=6))] == [task]
    with pytest.raises(ClinicError, match="already closed"):
        _not_reached(task, staff["nurse"], friday + timedelta(days=7))


def test_a_reached_follow_up_records_what_the_patient_reports(signed, staff, nurse_client) -> None:
    task = _task(signed)
    page = nurse_client.get(f"/follow-ups/{task.id}")
    assert page.status_code == 200 and signed.course.patient.full_name in page.get_data(as_text=True)
    when = datetime.now().replace(second=0, microsecond=0)
    response = nurse_client.submit(f"/follow-ups/{task.id}", {
        "attempted_at": when.strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "reached": "yes",
        "patient_report": "A small bruise on the left cheek, no pain.", "side_effects": "some",
        "version": task.version})
    assert response.status_code == 302
    assert f"/sessions/{signed.id}/side-effects/new?follow_up={task.id}" in response.location
    db.session.expire_all()
    task = db.session.get(FollowUpTask, task.id)
    assert task.status == "done" and task.no_side_effects is False
    assert task.patient_report == "A small bruise on the left cheek, no pain."
    form = nurse_client.get(response.location)
    assert form.status_code == 200 and "Cheeks" in form.get_data(as_text=True)
    created = nurse_client.submit(response.location, {
        "type_code": "bruising", "injection_ids": str(signed.injections[0].id), "onset_hours": "0",
        "size_cm": "1.5", "grade": "1", "action": "cold_compress", "causality": "probable", "outcome": "ongoing"})
    assert created.status_code == 302
    effect = db.session.scalars(sa.select(SideEffect)).one()
    assert (effect.follow_up_id, effect.source, effect.type_code) == (task.id, "follow_up", "bruising")
    assert [a.injection_id for a in effect.areas] == [signed.injections[0].id]


def test_a_reached_follow_up_needs_the_patients_words(signed, staff, nurse_client) -> None:
    task = _task(signed)
    response = nurse_client.submit(f"/follow-ups/{task.id}", {
        "attempted_at": datetime.now().strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "reached": "yes",
        "patient_report": "  ", "side_effects": "none", "version": task.version})
    assert response.status_code == 400
    assert "Write what the patient reports" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(FollowUpTask, task.id).is_open and not db.session.get(FollowUpTask, task.id).attempts


def test_two_nurses_saving_the_same_follow_up_the_second_gets_409_with_its_input(signed, staff, clients) -> None:
    task = _task(signed)
    version = task.version
    form = {"attempted_at": datetime.now().strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "reached": "no",
            "note": "Voicemail, left a message", "version": version}
    assert clients["nurse"].submit(f"/follow-ups/{task.id}", form).status_code == 302
    second = clients["doctor"].submit(f"/follow-ups/{task.id}", dict(form, note="Rang twice, no answer"))
    assert second.status_code == 409
    assert "Rang twice, no answer" in second.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.get(FollowUpTask, task.id).attempts) == 1


def test_a_voided_session_cancels_its_follow_ups_and_refuses_new_work(signed, staff) -> None:
    task = _task(signed)
    treatments.void_session(signed, staff["doctor"], "Logged on the wrong patient")
    db.session.commit()
    assert task.status == "cancelled"
    task.status = "due"  # even an open one on a voided session is refused
    with pytest.raises(ClinicError, match="voided"):
        _not_reached(task, staff["nurse"], datetime.now(UTC))
    db.session.rollback()
    with pytest.raises(ClinicError, match="voided"):
        _effect(signed, staff["nurse"], datetime.now(UTC))


# --- side effects: bad input ---------------------------------------------------------------------


BAD_INPUT = [
    ({"onset_at": "2000-01-01T10:00", "onset_hours": ""}, "before the session"),
    ({"onset_at": "2999-01-01T10:00", "onset_hours": ""}, "in the future"),
    ({"outcome": "resolved", "resolved_on": "2000-01-01"}, "resolve before it started"),
    ({"grade": "7"}, "grade"),
    ({"injection_ids": "999999"}, "not a valid choice"),
    ({"size_cm": "0"}, "more than 0 cm"),
    ({"note": "x" * 10_000}, "4000"),
    ({"type_code": "other", "other_text": ""}, "Say what the side effect is"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT)
def test_bad_side_effect_input_is_refused_beside_its_field_and_nothing_is_written(
        signed, nurse_client, change, message) -> None:
    form = {"type_code": "redness", "injection_ids": str(signed.injections[0].id), "onset_hours": "0",
            "size_cm": "3", "grade": "1", "action": "none", "causality": "possible", "outcome": "ongoing",
            "note": "Typed by the nurse"}
    form.update(change)
    response = nurse_client.submit(f"/sessions/{signed.id}/side-effects/new?source=chart", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page[:500]
    assert message in page
    if "note" not in change:
        assert "Typed by the nurse" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SideEffect)) == 0


def test_an_area_not_treated_in_that_session_is_refused(signed, staff, course, stock) -> None:
    other = _signed(ready_course(staff, "Zoé", "Other"), stock, staff)
    with pytest.raises(FieldError, match="treated in this session"):
        followups.record_side_effect(signed, staff["nurse"], followups.SideEffectInput(
            "redness", 1, onset_hours=0, injection_ids=[other.injections[0].id], causality="possible"),
            source="chart", now=datetime.now(UTC))


# --- side effects: history and lots --------------------------------------------------------------


def test_an_update_is_a_new_version_and_the_first_stays_readable(signed, staff, nurse_client) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), type_code="redness", grade=1,
                     size_cm=Decimal("3"))
    response = nurse_client.submit(f"/side-effects/{effect.id}/update", {
        "type_code": "redness", "onset_hours": "0", "size_cm": "6", "grade": "2", "action": "antihistamine",
        "causality": "probable", "outcome": "resolving", "note": "Larger today", "version": effect.version})
    assert response.status_code == 302
    db.session.expire_all()
    effect = db.session.get(SideEffect, effect.id)
    assert (effect.grade, effect.size_cm, len(effect.versions)) == (2, Decimal("6.0"), 2)
    assert [(v.number, v.grade, v.size_cm) for v in effect.versions] == [(1, 1, Decimal("3.0")),
                                                                         (2, 2, Decimal("6.0"))]
    page = nurse_client.get(f"/side-effects/{effect.id}").get_data(as_text=True)
    assert "Larger today" in page and "Antihistamine" in page
    stale = nurse_client.submit(f"/side-effects/{effect.id}/update", {
        "type_code": "redness", "onset_hours": "0", "grade": "1", "action": "none", "causality": "probable",
        "outcome": "resolved", "resolved_on": date.today().isoformat(), "version": 1})
    assert stale.status_code == 409
    db.session.expire_all()
    assert len(db.session.get(SideEffect, effect.id).versions) == 2


def test_a_side_effect_leads_to_the_lots_of_its_area(signed, staff, stock, auditor_client) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC))
    page = auditor_client.get(f"/side-effects/{effect.id}").get_data(as_text=True)
    for lot in (stock["vitamins"], stock["ha"]):
        assert lot.lot_number in page
    counts = queries.side_effects_by_patient_for_lots([stock["vitamins"].id])
    assert counts[signed.course.patient_id].count == 1


def test_a_single_product_syringe_named_after_its_product_is_named_once(course, stock, staff,
                                                                        auditor_client) -> None:
    ha = stock["ha"]
    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"], preparations=[
        treatments.PreparationInput(ha.product.name, [treatments.ComponentInput(ha.id, Decimal("2"))])],
        injections=[treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2"),
                                              points=40)])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    effect = _effect(session, staff["nurse"], datetime.now(UTC))
    page = auditor_client.get(f"/side-effects/{effect.id}").get_data(as_text=True)
    assert f"Cheeks: {ha.product.name} lot " in page and f"{ha.product.name} — " not in page


# --- flags ---------------------------------------------------------------------------------------


def _flagged(now) -> list[int]:
    return [f.side_effect.id for f in queries.doctor_flags(now) if f.side_effect is not None]


def test_redness_is_flagged_on_the_hour_it_outlasts_its_expected_duration(signed, staff) -> None:
    onset = signed.performed_at + timedelta(hours=1)
    effect = _effect(signed, staff["nurse"], onset + timedelta(hours=1), type_code="redness",
                     onset_at=onset, onset_hours=None)
    assert effect.overdue_at == onset + timedelta(hours=24)
    assert _flagged(onset + timedelta(hours=23, minutes=59)) == []
    assert _flagged(onset + timedelta(hours=24)) == [effect.id]


def test_a_side_effect_resolved_in_time_is_never_flagged(signed, staff) -> None:
    onset = signed.performed_at + timedelta(hours=1)
    effect = _effect(signed, staff["nurse"], onset + timedelta(hours=3), type_code="swelling", onset_at=onset,
                     onset_hours=None)
    followups.update_side_effect(effect, staff["nurse"], followups.SideEffectInput(
        "swelling", 1, onset_at=onset, causality="probable", outcome="resolved",
        resolved_on=(onset + timedelta(hours=10)).astimezone().date()), now=onset + timedelta(hours=10))
    db.session.commit()
    assert _flagged(onset + timedelta(days=5)) == []


@pytest.mark.parametrize("values", [{"grade": 3}, {"serious": True}, {"type_code": "infection"},
                                    {"type_code": "nodule"}, {"type_code": "allergic_reaction"},
                                    {"type_code": "necrosis"}, {"type_code": "hyperpigmentation"}])
def test_severe_serious_and_rare_side_effects_are_flagged_at_once(signed, staff, values) -> None:
    now = datetime.now(UTC)
    effect = _effect(signed, staff["nurse"], now, **values)
    assert _flagged(now) == [effect.id]


def test_a_mild_bruise_within_its_days_is_not_flagged(signed, staff) -> None:
    now = datetime.now(UTC)
    _effect(signed, staff["nurse"], now, grade=1)
    assert _flagged(now + timedelta(days=1)) == []


def test_a_doctors_review_clears_the_flag_and_books_the_next_follow_up(signed, staff, doctor_client) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), grade=3, type_code="swelling")
    home = doctor_client.get("/").get_data(as_text=True)
    assert "grade 3 or more" in home and f"/flags/side-effect/{effect.id}/review" in home
    next_call = date.today() + timedelta(days=2)
    response = doctor_client.submit(f"/flags/side-effect/{effect.id}/review", {
        "assessment": "Marked swelling, no sign of infection", "plan": "Cold compress, antihistamine",
        "next_contact_on": next_call.isoformat()})
    assert response.status_code == 302
    assert _flagged(datetime.now(UTC)) == []
    review = db.session.scalars(sa.select(FlagReview)).one()
    booked = db.session.get(FollowUpTask, review.next_follow_up_id)
    assert (booked.due_on, booked.reason, booked.session_id) == (next_call, "doctor_review", signed.id)
    assert "Nothing flagged" in doctor_client.get("/flags").get_data(as_text=True)


def test_a_side_effect_that_worsens_after_its_review_is_flagged_again(signed, staff) -> None:
    now = datetime.now(UTC)
    effect = _effect(signed, staff["nurse"], now, grade=3)
    followups.review_flag(staff["doctor"], assessment="Seen", plan="Watch", next_contact_on=None,
                          today=now.date(), side_effect=effect)
    db.session.commit()
    assert _flagged(now + timedelta(minutes=1)) == []
    followups.update_side_effect(effect, staff["nurse"], followups.SideEffectInput(
        "bruising", 4, onset_hours=0, injection_ids=[], causality="probable"), now=now + timedelta(minutes=2))
    db.session.commit()
    assert _flagged(now + timedelta(minutes=3)) == [effect.id]


def test_only_a_doctor_reviews(signed, staff, nurse_client) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), grade=3)
    with pytest.raises(ClinicError, match="Only a doctor"):
        followups.review_flag(staff["nurse"], assessment="x", plan="y", next_contact_on=None,
                              today=date.today(), side_effect=effect)
    assert nurse_client.get(f"/flags/side-effect/{effect.id}/review").status_code == 403


# --- the catalogue -------------------------------------------------------------------------------


def test_the_catalogue_is_seeded_from_the_design_with_expected_durations(app) -> None:
    kinds = {k.code: k for k in db.session.scalars(sa.select(SideEffectType))}
    assert (kinds["redness"].expected_min_hours, kinds["redness"].expected_max_hours) == (6, 24)
    assert (kinds["bruising"].expected_min_hours, kinds["bruising"].expected_max_hours) == (48, 120)
    assert {code for code, k in kinds.items() if k.always_flag} == {
        "nodule", "infection", "allergic_reaction", "hyperpigmentation", "necrosis", "other"}


def test_an_admin_adds_a_kind_and_it_is_offered_to_nurses(signed, admin_client, nurse_client) -> None:
    response = admin_client.submit("/admin/side-effect-types", {
        "code": "blister", "name": "Blister", "plain_name": "A blister", "expected_min_hours": "24",
        "expected_max_hours": "72", "sort_order": "115", "active": "y"})
    assert response.status_code == 302
    form = nurse_client.get(f"/sessions/{signed.id}/side-effects/new?source=chart").get_data(as_text=True)
    assert 'value="blister"' in form
    refused = admin_client.submit("/admin/side-effect-types", {
        "code": "hives", "name": "Hives", "plain_name": "Hives", "expected_max_hours": "5", "active": "y"})
    assert refused.status_code == 400 and "both ends" in refused.get_data(as_text=True)
    never_seen = admin_client.submit("/admin/side-effect-types", {
        "code": "hives", "name": "Hives", "plain_name": "Hives", "active": "y"})
    assert never_seen.status_code == 400 and "mark the kind as rare" in never_seen.get_data(as_text=True)
    assert admin_client.get(f"/side-effects/1").status_code == 403


def test_a_side_effect_is_recorded_from_the_chart_the_session_page_and_the_next_session(
        signed, staff, nurse_client, doctor_client) -> None:
    chart = nurse_client.get(f"/patients/{signed.course.patient_id}").get_data(as_text=True)
    assert f"/sessions/{signed.id}/side-effects/new?source=chart" in chart
    assert f"/sessions/{signed.id}/side-effects/new?source=chart" in nurse_client.get(
        f"/sessions/{signed.id}").get_data(as_text=True)
    next_form = doctor_client.get(f"/courses/{signed.course_id}/sessions/new").get_data(as_text=True)
    assert f"/sessions/{signed.id}/side-effects/new?source=next_session" in next_form
    response = doctor_client.submit(f"/sessions/{signed.id}/side-effects/new?source=next_session", {
        "type_code": "hyperpigmentation", "injection_ids": str(signed.injections[1].id), "onset_hours": "0",
        "grade": "1", "action": "none", "causality": "possible", "outcome": "ongoing"})
    assert response.status_code == 302
    effect = db.session.scalars(sa.select(SideEffect)).one()
    assert (effect.source, effect.recorded_by_id) == ("next_session", staff["doctor"].id)
    assert nurse_client.get(f"/sessions/{signed.id}/side-effects/new?source=patient").status_code == 404


# --- what the click-through found --------------------------------------------------------------


def _patient_report(session, now=None) -> SideEffect:
    now = now or datetime.now(UTC)
    call = FollowUpTask(session_id=session.id, patient_id=session.course.patient_id, kind="phone_check",
                        due_on=date.today(), reason="patient_report", urgent=True)
    db.session.add(call)
    db.session.flush()
    made = followups.record_side_effect(session, None, followups.SideEffectInput(
        "swelling", 3, onset_hours=0, callback_phone="+44 7700 900123"), source="patient", now=now, follow_up=call)
    db.session.commit()
    return made


def test_a_patients_report_is_pinned_above_the_worklist_with_the_number_they_gave(
        stock, staff, signed, nurse_client) -> None:
    for i in range(3):
        _signed(ready_course(staff, f"Busy{i}", "Day"), stock, staff)
    _patient_report(signed)
    page = nurse_client.get("/follow-ups?after=2000-01-01_0").get_data(as_text=True)  # even on a later page
    urgent = page[page.index('id="follow-ups-urgent"'):page.index('id="follow-ups-overdue"')]
    assert signed.course.patient.full_name in urgent
    assert "+44 7700 900123" in urgent and "Swelling or puffiness, severe" in urgent
    home = nurse_client.get("/").get_data(as_text=True)
    assert home.index('id="follow-ups-urgent"') < home.index('id="follow-ups-today"')


def test_a_patients_report_is_linked_to_the_treated_areas_when_followed_up(signed, staff, stock,
                                                                           nurse_client) -> None:
    reported = _patient_report(signed)
    assert queries.side_effects_by_patient_for_lots([stock["vitamins"].id]) == {}
    page = nurse_client.get(f"/side-effects/{reported.id}/update").get_data(as_text=True)
    assert 'name="injection_ids"' in page
    response = nurse_client.submit(f"/side-effects/{reported.id}/update", {
        "type_code": "swelling", "injection_ids": str(signed.injections[0].id),
        "onset_at": reported.onset_at.astimezone().strftime("%Y-%m-%dT%H:%M"), "grade": "3",
        "action": "antihistamine", "causality": "probable", "outcome": "ongoing", "version": reported.version})
    body = response.get_data(as_text=True)
    assert response.status_code == 302, [line for line in body.splitlines() if "error" in line]
    assert queries.side_effects_by_patient_for_lots([stock["vitamins"].id])[signed.course.patient_id].count == 1


def test_a_doctors_review_is_shown_where_the_nurse_and_the_next_reader_look(signed, staff, nurse_client) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), grade=3)
    review = followups.review_flag(staff["doctor"], assessment="Haematoma, soft", plan="Check it is smaller",
                                   next_contact_on=date.today() + timedelta(days=2), today=date.today(),
                                   side_effect=effect)
    db.session.commit()
    for url in (f"/side-effects/{effect.id}", f"/follow-ups/{review.next_follow_up_id}"):
        page = nurse_client.get(url).get_data(as_text=True)
        assert "Haematoma, soft" in page and "Check it is smaller" in page, url


@pytest.mark.parametrize("url_form", ["attempt", "side_effect"])
def test_a_date_in_year_one_is_refused_beside_its_field_not_a_500(signed, nurse_client, url_form) -> None:
    task = _task(signed)
    if url_form == "attempt":
        response = nurse_client.submit(f"/follow-ups/{task.id}", {
            "attempted_at": "0001-01-01T00:00", "channel": "phone", "reached": "no", "version": task.version})
    else:
        response = nurse_client.submit(f"/sessions/{signed.id}/side-effects/new?source=chart", {
            "type_code": "redness", "injection_ids": str(signed.injections[0].id), "onset_at": "0001-01-01T00:00",
            "grade": "1", "action": "none", "causality": "possible", "outcome": "ongoing"})
    assert response.status_code == 400 and "Check the year" in response.get_data(as_text=True)


def test_a_kind_taken_out_of_use_stays_valid_for_the_side_effects_recorded_with_it(signed, staff) -> None:
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), type_code="tenderness")
    db.session.get(SideEffectType, "tenderness").active = False
    db.session.commit()
    followups.update_side_effect(effect, staff["nurse"], followups.SideEffectInput(
        "tenderness", 1, onset_hours=0, causality="probable", outcome="resolving"), now=datetime.now(UTC))
    with pytest.raises(FieldError, match="Choose the side effect"):
        _effect(signed, staff["nurse"], datetime.now(UTC), type_code="tenderness")


def test_a_call_with_side_effects_to_record_warns_until_one_is(signed, staff, nurse_client) -> None:
    task = _task(signed)
    followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
        datetime.now(UTC), "phone", reached=True, patient_report="A lump on the chin"), now=datetime.now(UTC))
    db.session.commit()
    assert 'id="side-effects-missing"' in nurse_client.get(f"/follow-ups/{task.id}").get_data(as_text=True)
    followups.record_side_effect(signed, staff["nurse"], followups.SideEffectInput(
        "lump", 1, onset_hours=0, injection_ids=[signed.injections[0].id], causality="possible"),
        source="follow_up", now=datetime.now(UTC), follow_up=task)
    db.session.commit()
    page = nurse_client.get(f"/follow-ups/{task.id}").get_data(as_text=True)
    assert 'id="side-effects-missing"' not in page
    # The nurse's record of the call is not shown as something the patient sent in (found clicking through).
    assert 'id="patient-reported"' not in page and "The patient reported" not in page


def test_the_aftercare_sheet_takes_the_expected_durations_from_the_catalogue(signed, admin_client,
                                                                            nurse_client) -> None:
    sheet = nurse_client.get(f"/sessions/{signed.id}/aftercare").get_data(as_text=True)
    assert "Redness of the skin (6–24 hours)" in sheet and "A bruise (2–5 days)" in sheet
    assert "Necrosis" not in sheet and "Skin turning pale" not in sheet  # the rare ones are for the call-us list
    admin_client.submit("/admin/side-effect-types/redness", {
        "name": "Redness", "plain_name": "Redness of the skin", "expected_min_hours": "6",
        "expected_max_hours": "36", "sort_order": "10", "active": "y"})
    assert "Redness of the skin (6–36 hours)" in nurse_client.get(
        f"/sessions/{signed.id}/aftercare").get_data(as_text=True)


# --- "no side effects" while one is still open on record -------------------------------------------


def _call(task, **fields) -> dict[str, object]:
    return {"attempted_at": datetime.now().strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "reached": "yes",
            "patient_report": "All fine, the bruise is still there.", "side_effects": "none",
            "version": task.version, **fields}


def test_no_new_side_effects_with_one_still_open_asks_the_nurse_naming_it(signed, staff, nurse_client) -> None:
    task = _task(signed)
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), type_code="bruising")
    _effect(signed, staff["nurse"], datetime.now(UTC), type_code="redness", outcome="resolved",
            resolved_on=date.today())
    refused = nurse_client.submit(f"/follow-ups/{task.id}", _call(task))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    ongoing = page[page.index('id="still-ongoing"'):page.index("</fieldset>", page.index('id="still-ongoing"'))]
    assert f'name="acknowledged" value="ongoing:{effect.id}"' in ongoing and "Bruising" in ongoing
    assert "Redness" not in ongoing  # resolved: nothing to confirm
    # In a new tab, so that going to update it does not lose the call typed here (found clicking through).
    assert (f'href="/side-effects/{effect.id}/update?back=/follow-ups/{task.id}" target="_blank"') in ongoing
    assert "All fine, the bruise is still there." in page  # what was typed stays
    db.session.expire_all()
    task = db.session.get(FollowUpTask, task.id)
    assert task.is_open and task.attempts == []


def test_the_nurse_confirms_it_is_still_ongoing_and_the_call_says_so(signed, staff, nurse_client) -> None:
    task = _task(signed)
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), type_code="bruising")
    saved = nurse_client.submit(f"/follow-ups/{task.id}", _call(task, acknowledged=f"ongoing:{effect.id}"))
    assert saved.status_code == 302
    db.session.expire_all()
    task = db.session.get(FollowUpTask, task.id)
    assert task.status == "done" and task.no_side_effects is True
    assert task.attempts[0].note.startswith("Still ongoing, nothing new: Bruising (since ")
    page = nurse_client.get(f"/follow-ups/{task.id}").get_data(as_text=True)
    assert "no new side effects" in page and "Still ongoing, nothing new: Bruising" in page


def test_a_side_effect_updated_to_resolved_or_voided_asks_nothing(signed, staff, nurse_client) -> None:
    task = _task(signed)
    effect = _effect(signed, staff["nurse"], datetime.now(UTC), type_code="bruising")
    update = nurse_client.submit(f"/side-effects/{effect.id}/update?back=/follow-ups/{task.id}", {
        "type_code": "bruising", "injection_ids": str(signed.injections[0].id), "onset_hours": "0", "grade": "1",
        "action": "none", "causality": "probable", "outcome": "resolved", "resolved_on": date.today().isoformat(),
        "version": effect.version, "back": f"/follow-ups/{task.id}"})
    assert update.status_code == 302 and update.location == f"/follow-ups/{task.id}"
    assert nurse_client.submit(f"/follow-ups/{task.id}", _call(task)).status_code == 302
    db.session.expire_all()
    assert db.session.get(FollowUpTask, task.id).attempts[0].note == ""


def test_side_effects_to_record_with_one_still_open_asks_nothing(signed, staff) -> None:
    task = _task(signed)
    _effect(signed, staff["nurse"], datetime.now(UTC), type_code="bruising")
    with pytest.raises(followups.StillOngoing):
        followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
            datetime.now(UTC), "phone", reached=True, patient_report="Fine", no_side_effects=True),
            now=datetime.now(UTC))
    db.session.rollback()
    task = _task(signed)
    followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
        datetime.now(UTC), "phone", reached=True, patient_report="A new lump", no_side_effects=False),
        now=datetime.now(UTC))
    assert task.status == "done"
