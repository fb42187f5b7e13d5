"""Courses and sessions: the gates, cocktail arithmetic, derived stock, signature, lock, amendments, aftercare."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.auth.services import ReauthenticationFailed
from clinic.core.errors import ClinicError, FieldError, RecordLockedError
from clinic.core.services import void_record
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Ingredient
from clinic.records.treatments import services
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments.services.signing import as_signed
from clinic.records.treatments.models import InjectionLog, TreatmentSession
from tests.conftest import PASSWORDS, audit_rows
from tests.factories import (
    AREAS,
    INDICATION,
    NOW,
    TODAY,
    entry,
    ready_course,
    record_history,
    register,
    save,
    screen,
    sign_consent,
)

# --- courses ------------------------------------------------------------------------------------


def test_a_course_takes_its_defaults_from_the_indication(patient, staff) -> None:
    course = services.plan_course(patient, services.CourseInput("hair_loss", ["scalp"]), staff["doctor"])
    assert (course.planned_sessions, course.interval_days, course.status) == (12, 7, "planned")
    assert services.next_due(course) == TODAY


def test_a_course_needs_known_areas_and_a_sane_plan(patient, staff) -> None:
    with pytest.raises(FieldError, match="at least one"):
        services.plan_course(patient, services.CourseInput(INDICATION, []), staff["doctor"])
    with pytest.raises(FieldError, match="between 1 and 50"):
        services.plan_course(patient, services.CourseInput(INDICATION, AREAS, planned_sessions=80), staff["doctor"])


# --- saving a session: gates and arithmetic -------------------------------------------------------------


def test_a_session_is_saved_numbered_and_draws_down_stock(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    assert session.number == 1 and course.status == "active"
    assert session.preparations[0].drawn_ml == Decimal("5")
    assert [i.bolus_ml for i in session.injections] == [Decimal("0.050"), Decimal("0.050")]
    assert inventory.lot_stock(stock["vitamins"]).used == 1
    assert inventory.lot_stock(stock["ha"]).on_hand == 9
    second = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), acknowledged=["interval"])
    assert second.number == 2


def test_a_voided_draft_gives_its_units_back(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.void_session(session, staff["doctor"], "entered for the wrong patient")
    db.session.commit()
    assert inventory.lot_stock(stock["ha"]).on_hand == 10


def test_more_injected_than_drawn_is_refused(course, stock, staff) -> None:
    too_much = [services.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("6"), points=50)]
    with pytest.raises(FieldError, match="only 5 ml was drawn"):
        services.save_session(course, entry(stock, injections=too_much), staff["doctor"])


def test_more_drawn_than_the_vials_hold_is_refused(course, stock, staff) -> None:
    greedy = [services.PreparationInput("HA", [services.ComponentInput(stock["ha"].id, Decimal("3"))])]
    with pytest.raises(FieldError, match="holds 2 ml"):
        services.save_session(course, entry(stock, preparations=greedy), staff["doctor"])


@pytest.mark.parametrize(("injection", "message"), [
    (dict(depth_mm=Decimal("0.2")), "between 0.5 and 13"),
    (dict(depth_mm=Decimal("14")), "between 0.5 and 13"),
    (dict(volume_ml=Decimal("0")), "above 0 ml"),
    (dict(points=0), "injection points"),
    (dict(needle_gauge=25), "27, 30, 31 or 32"),
])
def test_out_of_range_injection_values_are_refused(course, stock, staff, injection, message) -> None:
    row = dict(area_code="cheeks", preparation_index=0, depth_mm=Decimal("1"), volume_ml=Decimal("1"), points=10)
    row.update(injection)
    with pytest.raises(FieldError, match=message):
        services.save_session(course, entry(stock, injections=[services.InjectionInput(**row)]), staff["doctor"])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 0


def test_a_skipped_area_needs_a_reason(course, stock, staff) -> None:
    rows = [services.InjectionInput("cheeks", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1"), points=20),
            services.InjectionInput("forehead", None, administered=False)]
    with pytest.raises(FieldError, match="not treated"):
        services.save_session(course, entry(stock, injections=rows), staff["doctor"])
    rows[1].not_administered_reason = "patient felt faint"
    session = services.save_session(course, entry(stock, injections=rows), staff["doctor"])
    assert [i.administered for i in session.injections] == [True, False]


@pytest.mark.parametrize(("when", "message"), [
    (NOW + timedelta(days=2), "future"),
    (NOW - timedelta(days=30), "course starts on"),
])
def test_a_session_dated_in_the_future_or_before_the_course_is_refused(course, stock, staff, when, message) -> None:
    with pytest.raises(FieldError, match=message):
        services.save_session(course, entry(stock, when=when), staff["doctor"])


def test_a_session_on_a_stopped_course_is_refused(course, stock, staff) -> None:
    services.stop_course(course, "patient moved abroad")
    with pytest.raises(ClinicError, match="stopped early"):
        services.save_session(course, entry(stock), staff["doctor"])


@pytest.mark.parametrize("problem", ["expired", "quarantined", "recalled"])
def test_an_unusable_lot_blocks_the_session(course, stock, staff, problem) -> None:
    lot = stock["ha"]
    if problem == "expired":
        lot.expiry_date = TODAY - timedelta(days=2)
    elif problem == "quarantined":
        inventory.quarantine_lot(lot, staff["auditor"], "fridge alarm")
    else:
        lot.recalled_at = inventory.utcnow()
    db.session.commit()
    with pytest.raises(services.SessionRefused) as refused:
        services.save_session(course, entry(stock), staff["doctor"])
    assert any(problem in reason.message for reason in refused.value.reasons)


def test_a_lot_of_another_product_than_the_row_says_is_refused(course, stock, staff) -> None:
    mixed = [services.PreparationInput("x", [services.ComponentInput(stock["ha"].id, Decimal("1"),
                                                                      product_id=stock["vitamins"].product_id)])]
    with pytest.raises(FieldError, match="is a lot of HydraVeil"):
        services.save_session(course, entry(stock, preparations=mixed), staff["doctor"])


def test_an_allergy_to_an_ingredient_of_a_lot_blocks_signing_the_draft(course, stock, staff, patient) -> None:
    vitamin_c = db.session.scalar(sa.select(Ingredient.id).where(Ingredient.name == "Vitamin C"))
    record_history(patient, staff["nurse"], allergy_ingredient_ids=[vitamin_c])
    screen(patient, staff["nurse"])  # the old screening no longer matches the history
    draft = services.save_session(course, entry(stock), staff["doctor"])  # kept: leaving to check loses nothing
    with pytest.raises(services.SessionRefused) as refused:
        services.sign_session(draft, staff["doctor"], PASSWORDS["doctor"])
    assert any("Vitamin C" in reason.message for reason in refused.value.reasons)
    assert not draft.is_signed and audit_rows("reauth_failed") == []  # refused before the password is asked


def test_no_consent_keeps_the_draft_and_blocks_its_signature_until_consent_is_recorded(
        course, stock, staff, patient) -> None:
    consent = patient_consent(patient)
    services_withdraw(consent, staff)
    draft = services.save_session(course, entry(stock), staff["doctor"])
    db.session.commit()
    with pytest.raises(services.SessionRefused, match="cannot be signed yet") as refused:
        services.sign_session(draft, staff["doctor"], PASSWORDS["doctor"])
    assert any("No consent in force" in r.message for r in refused.value.reasons)
    sign_consent(patient, staff["nurse"])
    services.sign_session(draft, staff["doctor"], PASSWORDS["doctor"])
    assert draft.is_signed


def patient_consent(patient):
    from clinic.records.consent.models import Consent

    return db.session.scalar(sa.select(Consent).where(Consent.patient_id == patient.id))


def services_withdraw(consent, staff) -> None:
    from clinic.records.consent.services import withdraw_consent

    withdraw_consent(consent, TODAY, "changed her mind", staff["nurse"])
    db.session.commit()


def test_warnings_need_an_acknowledgement_that_is_recorded(course, stock, staff, patient) -> None:
    save(course, stock, staff["doctor"], when=NOW - timedelta(seconds=30))
    patient.fitzpatrick = 5
    db.session.commit()
    with pytest.raises(services.NeedsAcknowledgement) as asked:
        services.save_session(course, entry(stock), staff["doctor"])
    codes = {w.code for w in asked.value.warnings}
    assert codes == {"interval", "hyperpigmentation"}
    session = services.save_session(course, entry(stock, acknowledged=sorted(codes)), staff["doctor"])
    assert session.acknowledged_warnings == "hyperpigmentation interval"


def test_a_first_treatment_without_a_patch_test_is_a_warning(patient, staff, stock) -> None:
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"])
    course = services.plan_course(patient, services.CourseInput(INDICATION, AREAS, starts_on=TODAY), staff["doctor"])
    with pytest.raises(services.NeedsAcknowledgement) as asked:
        services.save_session(course, entry(stock), staff["doctor"])
    assert [w.code for w in asked.value.warnings] == ["first_time_no_patch_test"]


def test_only_a_doctor_records_a_session(course, stock, staff) -> None:
    with pytest.raises(ClinicError, match="Only a doctor"):
        services.save_session(course, entry(stock), staff["nurse"])


# --- signing, the lock, amendments -----------------------------------------------------------------


def test_signing_needs_the_password_and_a_wrong_one_is_audited(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    with pytest.raises(ReauthenticationFailed):
        services.sign_session(session, staff["doctor"], "not my password")
    db.session.commit()
    assert not session.is_signed and not session.is_locked
    assert audit_rows("reauth_failed")[-1].reason == "sign session"
    signature = services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    assert session.is_locked and signature.printed_name == staff["doctor"].full_name
    assert signature.meaning == "performed by" and len(signature.content_sha256) == 64
    assert services.signature_intact(session)


def test_signing_schedules_the_follow_up_calls(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    tasks = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == session.id)).all()
    assert [t.due_on for t in tasks] == [session.performed_at.astimezone().date() + timedelta(days=1)]


def test_a_signed_session_and_its_rows_cannot_be_edited(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    session.notes = "changed quietly"
    with pytest.raises(RecordLockedError):
        db.session.flush()
    db.session.rollback()
    injection = db.session.scalar(sa.select(InjectionLog))
    injection.volume_ml = Decimal("0.1")
    with pytest.raises(RecordLockedError):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(RecordLockedError):
        services.save_session(course, entry(stock), staff["doctor"], session=db.session.get(TreatmentSession, session.id))


def test_a_raw_sql_change_to_a_signed_row_shows_as_altered(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    db.session.execute(sa.text("UPDATE injection_log SET volume_ml = 0.5 WHERE session_id = :id"), {"id": session.id})
    db.session.commit()
    db.session.expire_all()
    assert not services.signature_intact(db.session.get(TreatmentSession, session.id))


def test_an_amendment_keeps_the_original_and_needs_a_reason_and_the_password(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    target = session.injections[0]
    with pytest.raises(FieldError, match="why"):
        services.amend_session(session, staff["doctor"], target, "volume_ml", "2", "", PASSWORDS["doctor"])
    with pytest.raises(ReauthenticationFailed):
        services.amend_session(session, staff["doctor"], target, "volume_ml", "2", "typo", "wrong")
    db.session.rollback()
    amendment = services.amend_session(session, staff["doctor"], target, "volume_ml", "2",
                                       "2.5 was a typo; the syringe log says 2 ml", PASSWORDS["doctor"])
    db.session.commit()
    assert (amendment.old_value, amendment.new_value) == ("2.5", "2")
    assert services.current_value(session, target, "volume_ml") == "2"
    # The record holds the current value (every figure follows it); the signed original stays beside it,
    # and the signature is checked against the content as signed.
    assert session.injections[0].volume_ml == Decimal("2")
    assert as_signed(session)[("injection", target.id, "volume_ml")] == "2.5"
    assert services.signature_intact(session)
    with pytest.raises(FieldError, match="between"):
        services.amend_session(session, staff["doctor"], target, "depth_mm", "40", "typo", PASSWORDS["doctor"])


def test_only_its_doctor_voids_a_signed_session_and_it_stays_on_record(course, stock, staff) -> None:
    from clinic.auth.services import create_user

    other = create_user("second.doctor@example.test", "Second Doctor", "doctor", "correct horse battery staple x")
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    with pytest.raises(ClinicError, match="Only the doctor who signed"):
        services.void_session(session, other, "not mine")
    services.void_session(session, staff["doctor"], "wrong patient chart")
    db.session.commit()
    assert session.is_voided and session.is_signed
    assert db.session.get(TreatmentSession, session.id) is not None


# --- aftercare -----------------------------------------------------------------------------------


def test_the_aftercare_sheet_turns_the_rules_into_dates() -> None:
    performed = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
    items = {item.text: item.from_time for item in services.aftercare(performed)}
    local = performed.astimezone()
    assert items["No sauna, Turkish bath or steam bath until"] == local + timedelta(days=5)
    assert items["No swimming pool until"] == local + timedelta(hours=48)
    assert items["Retinol, AHA/BHA acids and vitamin C serums only from"].date() == (local + timedelta(days=7)).date()
    assert items["Use sunscreen SPF 50 and avoid direct sun throughout the course"] is None


def test_every_signed_change_is_audited(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    created = {r.record_type for r in audit_rows("create")}
    assert {"course", "treatment_session", "preparation", "preparation_component", "injection_log"} <= created
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    assert audit_rows("lock")[-1].record_id == str(session.id)


def test_a_voided_patient_cannot_have_a_session(course, stock, staff, patient) -> None:
    void_record(patient, staff["nurse"], "duplicate record")
    db.session.commit()
    with pytest.raises(services.SessionRefused):
        services.save_session(course, entry(stock), staff["doctor"])



# --- the pages ---------------------------------------------------------------------------------------


def _session_post(stock, **overrides):
    local = NOW.astimezone().replace(tzinfo=None)
    data = {
        "action": "save", "performed_at": local.strftime("%Y-%m-%dT%H:%M"), "skin_preparation": "chlorhexidine",
        "technique": "nappage", "needle_gauge": "32", "needle_length_mm": "4", "nurse_id": "",
        "anaesthetic_lot_id": "", "anaesthetic_minutes": "", "notes": "",
        "preparations-0-label": "Glow cocktail",
        "preparations-0-components-0-lot_id": str(stock["vitamins"].id),
        "preparations-0-components-0-units": "1", "preparations-0-components-0-volume_ml": "3",
        "preparations-0-components-1-lot_id": str(stock["ha"].id),
        "preparations-0-components-1-units": "1", "preparations-0-components-1-volume_ml": "2",
        "injections-0-area_code": "cheeks", "injections-0-preparation": "0", "injections-0-depth_mm": "1.5",
        "injections-0-volume_ml": "2.5", "injections-0-points": "50",
        "injections-1-area_code": "forehead", "injections-1-preparation": "0", "injections-1-depth_mm": "1",
        "injections-1-volume_ml": "1.5", "injections-1-points": "30",
    }
    data.update(overrides)
    return data


def test_a_doctor_plans_a_course_from_the_chart(doctor_client, patient) -> None:
    page = doctor_client.get(f"/patients/{patient.id}/courses/new")
    assert page.status_code == 200 and 'type="checkbox"' in page.get_data(as_text=True)
    response = doctor_client.submit(f"/patients/{patient.id}/courses/new", {
        "indication_code": "mesolift", "area_codes": ["cheeks", "neck"], "starts_on": TODAY.isoformat()})
    assert response.status_code == 302
    course_page = doctor_client.get(response.location).get_data(as_text=True)
    assert "0 of 6" in course_page and "Log session 1" in course_page
    chart = doctor_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Anti-ageing (mesolift)" in chart
    course_id = response.location.rstrip("/").rsplit("/", 1)[1]
    assert f'href="/courses/{course_id}/report"' in chart  # the course report one click from the chart


def test_a_doctor_logs_signs_and_amends_a_session_through_the_pages(doctor_client, course, stock, staff) -> None:
    form = doctor_client.get(f"/courses/{course.id}/sessions/new")
    assert form.status_code == 200
    assert 'id="area-map"' in form.get_data(as_text=True)
    saved = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(stock))
    assert saved.status_code == 302, saved.get_data(as_text=True)[:3000]
    session = db.session.scalar(sa.select(TreatmentSession))
    page = doctor_client.get(saved.location).get_data(as_text=True)
    assert "draft, not signed" in page and "L-VITAMINS" in page

    wrong = doctor_client.submit(f"/sessions/{session.id}/sign", {"password": "guess"})
    assert wrong.status_code == 400 and "did not match" in wrong.get_data(as_text=True)
    summary = wrong.get_data(as_text=True).split('id="error-summary"')[1].split("</div>")[0]
    assert "before this can be signed" in summary and 'href="#password"' in summary
    assert audit_rows("reauth_failed")[-1].user_id == staff["doctor"].id
    signed = doctor_client.submit(f"/sessions/{session.id}/sign", {"password": PASSWORDS["doctor"]})
    assert signed.status_code == 302
    page = doctor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert 'id="signature-status">signed' in page and "performed by" in page

    injection = db.session.scalar(sa.select(InjectionLog).where(InjectionLog.area_code == "cheeks"))
    amended = doctor_client.submit(f"/sessions/{session.id}/amend", {
        "target_field": f"injection:{injection.id}:volume_ml", "new_value": "2", "reason": "typo",
        "password": PASSWORDS["doctor"]})
    assert amended.status_code == 302
    page = doctor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "<del" in page and "typo" in page
    assert doctor_client.get(f"/sessions/{session.id}/edit").status_code == 302  # signed: no editing


def test_a_refused_session_shows_every_reason_and_keeps_the_input(doctor_client, course, stock, staff) -> None:
    inventory.quarantine_lot(stock["ha"], staff["auditor"], "fridge alarm")
    db.session.commit()
    response = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(stock, notes="kept text"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "cannot be saved" in page and "quarantined" in page and "kept text" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 0


def test_a_row_error_is_shown_next_to_its_row(doctor_client, course, stock) -> None:
    response = doctor_client.submit(f"/courses/{course.id}/sessions/new",
                                     _session_post(stock, **{"injections-1-depth_mm": "20"}))
    assert response.status_code == 400
    assert "between 0.5 and 13" in response.get_data(as_text=True)


def test_adding_a_row_saves_nothing(doctor_client, course, stock) -> None:
    response = doctor_client.submit(f"/courses/{course.id}/sessions/new",
                                    _session_post(stock, action="add_injection"))
    assert response.status_code == 200
    assert 'name="injections-2-area_code"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 0


def test_two_doctors_saving_the_same_draft_the_second_gets_409(doctor_client, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    version = str(session.version)
    first = doctor_client.submit(f"/sessions/{session.id}/edit", _session_post(stock, version=version, notes="a"))
    assert first.status_code == 302
    second = doctor_client.submit(f"/sessions/{session.id}/edit", _session_post(stock, version=version, notes="b"))
    assert second.status_code == 409 and "b</textarea>" in second.get_data(as_text=True)


def test_nurses_and_auditors_read_sessions_but_only_doctors_write(clients, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    for role in ("nurse", "auditor"):
        assert clients[role].get(f"/sessions/{session.id}").status_code == 200
        assert clients[role].get(f"/courses/{course.id}").status_code == 200
        assert clients[role].get(f"/courses/{course.id}/sessions/new").status_code == 403
    assert clients["admin"].get(f"/sessions/{session.id}").status_code == 403
    before = len(audit_rows("read_chart"))
    clients["auditor"].get(f"/sessions/{session.id}")
    assert len(audit_rows("read_chart")) == before + 1


def test_the_aftercare_sheet_and_its_pdf(nurse_client, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    page = nurse_client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    sauna = (session.performed_at.astimezone() + timedelta(days=5)).strftime("%A %d %B")
    assert sauna in page and "Revita C Glow, lot L-VITAMINS" in page and "+44 20 7946 0000" in page
    pdf = nurse_client.get(f"/sessions/{session.id}/aftercare.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_doctors_home_page_lists_drafts_and_todays_sessions(doctor_client, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    page = doctor_client.get("/").get_data(as_text=True)
    assert "Your drafts not yet signed" in page and "Amélie Durand" in page


def test_the_session_page_uses_a_fixed_number_of_queries(
    app, doctor_client, course, stock, staff, count_queries
) -> None:
    def queries(session_id: int) -> int:
        with count_queries() as counted:
            assert doctor_client.get(f"/sessions/{session_id}").status_code == 200
        return len(counted)

    small = save(course, stock, staff["doctor"])
    rows = [services.InjectionInput(code, 0, depth_mm=Decimal("1"), volume_ml=Decimal("0.3"), points=10)
            for code in ("cheeks", "forehead", "chin", "perioral", "temples", "under_eye", "neck")]
    record_history(course.patient, staff["nurse"])
    screen(course.patient, staff["nurse"], areas=("cheeks", "forehead", "chin", "perioral", "temples", "under_eye",
                                                  "neck"))
    large = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=20), injections=rows,
                 acknowledged=["interval"])
    assert queries(small.id) == queries(large.id)


def test_an_amended_volume_cannot_exceed_what_was_drawn_and_labels_are_understood(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    treatments_sign(session, staff)
    target = session.injections[0]
    with pytest.raises(FieldError, match="only 5 ml was drawn"):
        services.amend_session(session, staff["doctor"], target, "volume_ml", "50", "typo", PASSWORDS["doctor"])
    amendment = services.amend_session(session, staff["doctor"], None, "technique", "Papule",
                                       "point-by-point papules, not nappage", PASSWORDS["doctor"])
    assert amendment.new_value == "papule"


def treatments_sign(session, staff) -> None:
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()


def test_unusable_lots_are_not_offered_on_the_session_form(doctor_client, course, stock, staff) -> None:
    inventory.quarantine_lot(stock["ha"], staff["auditor"], "fridge alarm")
    db.session.commit()
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert "L-VITAMINS" in page and "L-HA" not in page


def test_a_draft_whose_lot_is_recalled_afterwards_is_still_edited_and_joins_the_worklist(
    doctor_client, course, stock, staff
) -> None:
    from clinic.tracing import recalls

    session = save(course, stock, staff["doctor"])
    recall = recalls.open_recall(recalls.RecallInput(
        reason="Manufacturer notice", source="manufacturer", reference="FSN-9", lot_ids=[stock["ha"].id]),
        staff["auditor"])
    db.session.commit()
    row = recall.rows[0]
    db.session.delete(row)  # as if the draft's patient had not been on the worklist
    db.session.commit()
    form = doctor_client.get(f"/sessions/{session.id}/edit").get_data(as_text=True)
    assert re.search(r'<option selected value="%d">HydraVeil HA 1.5%% — lot L-HA[^<]*recalled' % stock["ha"].id, form)
    data = _session_post(stock, version=str(session.version), notes="completed after the recall")
    asked = doctor_client.submit(f"/sessions/{session.id}/edit", data)
    assert asked.status_code == 400
    assert "was recalled after this session" in asked.get_data(as_text=True)
    warning_codes = re.findall(r'name="acknowledged" value="([^"]+)"', asked.get_data(as_text=True))
    saved = doctor_client.submit(f"/sessions/{session.id}/edit", {**data, "acknowledged": warning_codes})
    assert saved.status_code == 302
    assert [r.patient_id for r in db.session.get(type(recall), recall.id).rows] == [course.patient_id]
    page = doctor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert 'badge-bad">recalled' in page and "lot L-HA recalled after the session" in page


def test_a_session_after_the_recall_is_refused_and_every_form_error_is_shown(doctor_client, course, stock,
                                                                             staff) -> None:
    from clinic.tracing import recalls

    recalls.open_recall(recalls.RecallInput(reason="Manufacturer notice", source="manufacturer",
                                            lot_ids=[stock["ha"].id]), staff["auditor"])
    stock["ha"].recalled_at = NOW - timedelta(hours=1)  # recalled before the session took place
    db.session.commit()
    stale = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(stock))
    assert stale.status_code == 400 and "has been recalled" in stale.get_data(as_text=True)
    no_lot = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(
        stock, **{"preparations-0-components-1-lot_id": ""}))
    assert no_lot.status_code == 400
    assert 'class="field-error"' in no_lot.get_data(as_text=True)
    nothing_drawn = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(
        stock, **{"preparations-0-components-0-lot_id": "", "preparations-0-components-1-lot_id": "",
                  "preparations-0-components-0-volume_ml": "", "preparations-0-components-1-volume_ml": ""}))
    assert nothing_drawn.status_code == 400
    assert "Record what was drawn up" in nothing_drawn.get_data(as_text=True)


def test_a_volume_drawn_without_its_lot_is_never_dropped(doctor_client, course, stock) -> None:
    second_row_without_lot = _session_post(stock, **{"preparations-0-components-1-lot_id": ""})
    refused = doctor_client.submit(f"/courses/{course.id}/sessions/new", second_row_without_lot)
    assert refused.status_code == 400
    assert "Choose the lot the 2 ml was drawn from, or clear that volume." in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 0


def test_the_doctors_home_page_costs_the_same_queries_for_two_or_six_overdue_courses(
    doctor_client, course, stock, staff, count_queries
) -> None:
    def queries() -> int:
        with count_queries() as counted:
            page = doctor_client.get("/")
        assert page.status_code == 200 and "Courses with a session overdue" in page.get_data(as_text=True)
        return len(counted)

    save(course, stock, staff["doctor"])  # a draft of today, with a patient and indication to show
    for n in range(2):
        ready_course(staff, f"Early{n}", "Overdue", starts_on=TODAY - timedelta(days=30))
    few = queries()
    for n in range(4):
        ready_course(staff, f"Late{n}", "Overdue", starts_on=TODAY - timedelta(days=30))
    assert queries() == few


def test_a_lot_number_past_any_id_is_a_field_error_not_a_crash(doctor_client, course, stock) -> None:
    """Found by the fuzz test: a lot id of 2^63 overflowed the database driver while the form was built."""
    for too_big in (str(2**63), str(2**31), "9" * 40):
        refused = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(
            stock, **{"preparations-0-components-0-lot_id": too_big}))
        assert refused.status_code == 400, too_big
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TreatmentSession)) == 0


# --- what is missing, said before the doctor fills anything (issue 14, item 1) ------------------------


def test_the_session_form_says_at_once_what_blocks_with_links_that_come_back(doctor_client, course, stock, staff,
                                                                             patient) -> None:
    services_withdraw(patient_consent(patient), staff)
    form_url = f"/courses/{course.id}/sessions/new"
    page = doctor_client.get(form_url).get_data(as_text=True)
    panel = page[page.index('id="readiness"'):page.index("</section>", page.index('id="readiness"'))]
    assert "Before you start: 1 thing to put in order" in panel
    assert "No consent in force" in panel
    assert f'href="/patients/{patient.id}/consents/new?back=/courses/{course.id}/sessions/new"' in panel
    assert 'id="readiness-screening" class="check-ok"' in panel
    # The consent, recorded from that link, comes back to the session form.
    from clinic.records.consent.models import ConsentForm

    chooser = doctor_client.get(f"/patients/{patient.id}/consents/new?back={form_url}").get_data(as_text=True)
    assert f'name="back" value="{form_url}"' in chooser
    form = db.session.scalar(sa.select(ConsentForm).where(ConsentForm.indication_code == course.indication_code))
    version = form.current_version
    signed = doctor_client.submit(f"/patients/{patient.id}/consents/new?back={form_url}", {
        "text_version_id": version.id, "content_hash": version.content_hash, "signed_name": patient.full_name,
        "back": form_url})
    assert signed.status_code == 302 and signed.location == form_url
    again = doctor_client.get(form_url).get_data(as_text=True)
    assert "Ready to treat" in again


def test_a_blocked_session_is_kept_as_a_draft_and_its_page_says_what_signing_waits_for(
        doctor_client, course, stock, staff, patient) -> None:
    from tests.test_treatments import _session_post

    services_withdraw(patient_consent(patient), staff)
    saved = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(stock))
    assert saved.status_code == 302
    page = doctor_client.get(saved.location).get_data(as_text=True)
    assert "cannot be signed until this is in order: No consent in force" in page
    assert "Before this draft can be signed" in page and 'id="sign-form"' not in page
    session_id = int(saved.location.rsplit("/", 1)[1])
    assert doctor_client.submit(f"/sessions/{session_id}/sign", {"password": PASSWORDS["doctor"]}).status_code == 302
    assert not db.session.get(TreatmentSession, session_id).is_signed


def test_a_link_back_to_another_site_is_not_followed(app) -> None:
    from clinic.core.http import return_to

    for elsewhere in ("//evil.example/x", "https://evil.example/", "/%2F/evil.example", "javascript:alert(1)"):
        with app.test_request_context("/", query_string={"back": elsewhere}):
            assert return_to() is None, elsewhere
    with app.test_request_context("/", query_string={"back": "/courses/1/sessions/new"}):
        assert return_to() == "/courses/1/sessions/new"


def test_screening_from_a_course_takes_its_indication_and_areas(doctor_client, course, patient, staff) -> None:
    from clinic.records.screening.models import Screening

    for screening in db.session.scalars(sa.select(Screening).where(Screening.patient_id == patient.id)):
        void_record(screening, staff["doctor"], "screened for the wrong areas")
    db.session.commit()
    page = doctor_client.get(f"/courses/{course.id}").get_data(as_text=True)
    areas = "+".join(course.area_codes)
    link = (f"/patients/{patient.id}/screenings/new?indication={course.indication_code}&amp;areas={areas}"
            f"&amp;back=/courses/{course.id}")
    assert "Screen for this course" in page and link in page
    answers = doctor_client.get(link.replace("&amp;", "&"))
    assert answers.status_code == 200 and 'id="screening-form"' in answers.get_data(as_text=True)
    assert 'name="back" value="/courses/' in answers.get_data(as_text=True)


def test_a_course_completed_too_soon_is_reopened_by_its_doctor_with_a_reason(
        doctor_client, nurse_client, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    page = doctor_client.get(f"/courses/{course.id}").get_data(as_text=True)
    assert "Completing the course closes it as done" in page  # it says what will happen before it happens
    assert doctor_client.submit(f"/courses/{course.id}/complete").status_code == 302
    assert "Reopen this course" in doctor_client.get(f"/courses/{course.id}").get_data(as_text=True)
    no_reason = doctor_client.submit(f"/courses/{course.id}/reopen", {"reason": "  "})
    db.session.expire_all()
    assert no_reason.status_code == 302 and db.session.get(type(course), course.id).status == "completed"
    assert nurse_client.submit(f"/courses/{course.id}/reopen", {"reason": "x"}).status_code == 403
    reopened = doctor_client.submit(f"/courses/{course.id}/reopen", {"reason": "Session 4 was still to come"})
    assert reopened.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(course), course.id).status == "active"
    assert audit_rows("reopen_course")[-1].reason == "Session 4 was still to come"
    assert doctor_client.get(f"/courses/{course.id}/sessions/new").status_code == 200


# --- protocol guidance at the chair (issue 14, item 9) ------------------------------------------------


def test_a_depth_or_bolus_outside_the_usual_range_is_a_warning_the_doctor_acknowledges(course, stock, staff) -> None:
    deep = entry(stock, injections=[
        services.InjectionInput("cheeks", 0, depth_mm=Decimal("3"), volume_ml=Decimal("2.5"), points=50),
        services.InjectionInput("forehead", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1.5"), points=10),
    ])
    with pytest.raises(services.NeedsAcknowledgement) as asked:
        services.save_session(course, deep, staff["doctor"])
    found = {w.code: w.message for w in asked.value.warnings}
    assert found["protocol:depth_mm:cheeks"] == "Cheeks: depth 3 mm is outside the usual 1–2 mm."
    assert found["protocol:bolus_ml:forehead"] == "Forehead: volume a point 0.15 ml is outside the usual 0.01–0.05 ml."
    assert "protocol:depth_mm:forehead" not in found  # 1 mm is usual for skin rejuvenation
    deep.needle_gauge = 27
    with pytest.raises(services.NeedsAcknowledgement) as asked:
        services.save_session(course, deep, staff["doctor"])
    needle = next(w.message for w in asked.value.warnings if w.code == "protocol:needle_gauge")
    assert needle.startswith("Needle ") and "27G" in needle  # a sentence of its own, capitalised
    found = {w.code: w.message for w in asked.value.warnings}
    deep.acknowledged = list(found)
    saved = services.save_session(course, deep, staff["doctor"])
    assert "protocol:depth_mm:cheeks" in saved.acknowledged_warnings.split()
    assert "depth outside the usual range (Cheeks)" in saved.acknowledged_labels  # the area by its name


def test_a_session_page_links_each_lot_to_its_trace_for_those_who_trace(course, stock, staff, auditor_client,
                                                                         admin_client) -> None:
    session = save(course, stock, staff["doctor"])
    db.session.commit()
    lot_number = stock["ha"].lot_number
    link = f'href="/trace?lot={lot_number}"'
    assert link in auditor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert admin_client.get(f"/sessions/{session.id}").status_code == 403  # administrators see no records


def test_a_new_session_lists_the_planned_areas_top_down_and_a_refused_row_is_named_by_its_area(
    doctor_client, course, stock
) -> None:
    from clinic.records.catalogue.models import Area

    order = {a.code: a.sort_order for a in db.session.scalars(sa.select(Area))}
    form = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    rows = re.findall(r'<select[^>]*name="injections-\d+-area_code"[^>]*>.*?<option selected value="([^"]*)"', form, re.S)
    rows = [code for code in rows if code]  # the blank rows after them
    assert len(rows) == len(course.area_codes) >= 2 and rows == sorted(rows, key=order.__getitem__)
    refused = doctor_client.submit(f"/courses/{course.id}/sessions/new",
                                   _session_post(stock, **{"injections-1-depth_mm": ""}))
    assert refused.status_code == 400
    summary = refused.get_data(as_text=True).split('id="error-summary"')[1].split("</div>")[0]
    assert "Area row 2 (Forehead):" in summary


def test_the_warnings_to_acknowledge_say_nothing_is_saved_and_how_many_are_left(doctor_client, course,
                                                                               stock) -> None:
    data = _session_post(stock, **{"needle_gauge": "27", "injections-0-depth_mm": "3"})
    asked = doctor_client.submit(f"/courses/{course.id}/sessions/new", data)
    page = asked.get_data(as_text=True)
    codes = re.findall(r'name="acknowledged" value="([^"]+)"', page)
    assert asked.status_code == 400 and len(codes) >= 2
    assert "Nothing is saved yet. Tick each warning you have considered, then save again." in page
    again = doctor_client.submit(f"/courses/{course.id}/sessions/new", {**data, "acknowledged": codes[:1]})
    assert again.status_code == 400
    assert f"{len(codes) - 1} of {len(codes)} still to tick" in again.get_data(as_text=True)
    assert doctor_client.submit(f"/courses/{course.id}/sessions/new", {**data, "acknowledged": codes}).status_code == 302


def test_the_session_form_shows_the_usual_ranges_beside_the_fields(doctor_client, course) -> None:
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert "Usual: 1–2 mm." in page  # skin rejuvenation's depth
    assert "Usual: 30–32G." in page and "Usual: 0.01–0.05 ml a point." in page


def test_an_admin_corrects_a_range_and_the_next_session_is_checked_against_it(admin_client, doctor_client,
                                                                             course, stock, staff) -> None:
    from clinic.records.catalogue.models import ProtocolRange

    depth = db.session.scalar(sa.select(ProtocolRange).where(ProtocolRange.measure == "depth_mm",
                                                            ProtocolRange.indication_code == course.indication_code))
    assert doctor_client.get(f"/admin/protocol-ranges/{depth.id}").status_code == 403
    assert "1–2 mm" in doctor_client.get("/admin/protocol-ranges").get_data(as_text=True)
    refused = admin_client.submit(f"/admin/protocol-ranges/{depth.id}", {"low": "3", "high": "1", "active": "y"})
    assert refused.status_code == 400 and "cannot be below the lower end" in refused.get_data(as_text=True)
    saved = admin_client.submit(f"/admin/protocol-ranges/{depth.id}", {"low": "1", "high": "3.5", "active": "y"})
    assert saved.status_code == 302
    db.session.expire_all()
    deep = entry(stock, injections=[
        services.InjectionInput("cheeks", 0, depth_mm=Decimal("3"), volume_ml=Decimal("2.5"), points=50)])
    assert not [w for w in services.check_session(course, deep).warnings if w.code.startswith("protocol:")]
    updates = [r for r in audit_rows("update") if r.record_type == "protocol_range"]
    assert updates and '"high":["2.000","3.5"]' in updates[-1].changes


def test_a_range_no_column_can_hold_is_refused_beside_its_field(admin_client) -> None:
    """Found by the fuzz test on PostgreSQL: 10^20 overflowed the numeric column."""
    from clinic.records.catalogue.models import ProtocolRange

    depth = db.session.scalar(sa.select(ProtocolRange).where(ProtocolRange.measure == "depth_mm"))
    refused = admin_client.submit(f"/admin/protocol-ranges/{depth.id}", {"low": "1", "high": "9" * 20, "active": "y"})
    assert refused.status_code == 400 and "No usual range at the chair goes above 1000" in refused.get_data(as_text=True)


def _new_range(**fields: str) -> dict[str, str]:
    return {"measure": "depth_mm", "indication_code": "acne", "area_code": "chin", "low": "1", "high": "2.5",
            "source": "Clinic protocol, March 2026", "active": "y", **fields}


def test_an_admin_adds_a_range_once_and_the_session_form_uses_it(admin_client) -> None:
    from clinic.records.catalogue.models import ProtocolRange

    listing = admin_client.get("/admin/protocol-ranges").get_data(as_text=True)
    assert 'href="/admin/protocol-ranges/new"' in listing
    form = admin_client.get("/admin/protocol-ranges/new").get_data(as_text=True)
    assert '<option value="acne">Acne</option>' in form and '<option value="chin">Chin</option>' in form
    assert '<option value="depth_mm">Depth (mm)</option>' in form
    key = re.search(r'name="submission" type="hidden" value="([^"]+)"', form).group(1)
    first = admin_client.submit("/admin/protocol-ranges/new", {**_new_range(), "submission": key})
    again = admin_client.submit("/admin/protocol-ranges/new", {**_new_range(), "submission": key})
    assert first.status_code == again.status_code == 302
    assert first.location == again.location == "/admin/protocol-ranges"
    added = db.session.scalars(sa.select(ProtocolRange).where(ProtocolRange.indication_code == "acne",
                                                             ProtocolRange.area_code == "chin")).all()
    assert [(r.measure, r.text, r.source, r.active) for r in added] == [
        ("depth_mm", "1–2.5 mm", "Clinic protocol, March 2026", True)]
    created = [r for r in audit_rows("create") if r.record_type == "protocol_range"]
    assert len(created) == 1 and '"area_code":' in created[0].changes
    ranges = services.protocol_ranges("acne")
    assert services.usual_range(ranges, "depth_mm", "chin").text == "1–2.5 mm"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"low": "3", "high": "1"}, "high", "The upper end cannot be below the lower end."),
    ({"low": "0"}, "low", "Give the lower end, above zero."),
    ({"high": "abc"}, "high", "Not a valid decimal value."),
    ({"high": "5000"}, "high", "No usual range at the chair goes above 1000."),
    ({"measure": "points"}, "measure", "Not a valid choice."),
    ({"indication_code": "botox"}, "indication_code", "Not a valid choice."),
    ({"indication_code": "", "area_code": ""}, "measure", "There is already a depth range for this indication and "
                                                          "area (1–4 mm): correct that one instead."),
])
def test_a_range_that_cannot_be_added_is_refused_beside_its_field_and_kept(admin_client, fields, field,
                                                                           message) -> None:
    from clinic.records.catalogue.models import ProtocolRange

    before = db.session.scalar(sa.select(sa.func.count(ProtocolRange.id)))
    refused = admin_client.submit("/admin/protocol-ranges/new", _new_range(**fields))
    page = refused.get_data(as_text=True).replace("&#39;", "'")
    assert refused.status_code == 400
    assert f'<small id="{field}-error" class="field-error" role="alert">{message}</small>' in page
    assert 'value="Clinic protocol, March 2026"' in page  # what was typed stays
    assert db.session.scalar(sa.select(sa.func.count(ProtocolRange.id))) == before


@pytest.mark.parametrize("role", ["doctor", "nurse", "auditor", "admin"])
def test_only_admins_add_a_range(clients, role) -> None:
    from clinic.records.catalogue.models import ProtocolRange

    before = db.session.scalar(sa.select(sa.func.count(ProtocolRange.id)))
    shown = clients[role].get("/admin/protocol-ranges/new")
    sent = clients[role].submit("/admin/protocol-ranges/new", _new_range())
    listing = clients[role].get("/admin/protocol-ranges").get_data(as_text=True)
    added = db.session.scalar(sa.select(sa.func.count(ProtocolRange.id))) - before
    if role == "admin":
        assert (shown.status_code, sent.status_code, added) == (200, 302, 1)
        assert "Add a range" in listing
    else:
        assert (shown.status_code, sent.status_code, added) == (403, 403, 0)
        assert "Add a range" not in listing


def _zone(page: str, code: str) -> tuple[str, str]:
    """The read-only zone chart's zone for an area and its label ("" if none): templates/treatments/_zone_chart.html."""
    chart = page[page.index('id="zone-chart"'):]
    found = re.search(rf'<g data-area="{code}" class="[^"]*"[^>]*>.*?</g>', chart, re.S)
    assert found, f"no zone {code} on the chart"
    tag = re.search(rf'<g class="zone-tag[^"]*" data-tag="{code}">.*?</g>', chart, re.S)
    return found.group(0), tag.group(0) if tag else ""


def test_the_session_page_charts_the_ml_per_zone_as_amended(doctor_client, course, stock, staff) -> None:
    # Two rows in the cheeks (1.2 + 0.8 ml) and the forehead at 1.5 ml, then amended to 1 ml after signing.
    rows = [services.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("1.2"), points=40),
            services.InjectionInput("cheeks", 0, depth_mm=Decimal("1"), volume_ml=Decimal("0.8"), points=20),
            services.InjectionInput("forehead", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1.5"), points=30)]
    session = save(course, stock, staff["doctor"], injections=rows)
    treatments_sign(session, staff)
    forehead = next(i for i in session.injections if i.area_code == "forehead")
    services.amend_session(session, staff["doctor"], forehead, "volume_ml", "1", "the syringe log says 1 ml",
                           PASSWORDS["doctor"])
    db.session.commit()

    page = doctor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert "Injected by zone" in page
    cheeks, cheeks_tag = _zone(page, "cheeks")
    assert 'class="zone chosen"' in cheeks and 'aria-label="Cheeks: 2 ml"' in cheeks
    assert re.search(r'<text class="zone-label"[^>]*>Cheeks</text>', cheeks_tag)
    assert re.search(r'<text class="zone-volume"[^>]*>2 ml</text>', cheeks_tag)
    forehead_zone, forehead_tag = _zone(page, "forehead")
    assert 'aria-label="Forehead: 1 ml"' in forehead_zone
    assert re.search(r'<text class="zone-volume"[^>]*>1 ml</text>', forehead_tag)
    # A zone not injected is drawn, unlabelled and without a figure.
    chin, chin_tag = _zone(page, "chin")
    assert "chosen" not in chin and chin_tag == ""


def test_the_form_chart_offers_only_the_areas_in_use(doctor_client, course) -> None:
    from clinic.records.catalogue.models import Area

    db.session.get(Area, "buttocks").active = False
    db.session.commit()
    form = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    chart = form[form.index('id="area-map"'):form.index('id="injection-rows"')]
    assert 'data-area="cheeks"' in chart and 'aria-label="Cheeks"' in chart
    assert 'data-area="buttocks"' not in chart and 'class="zone-off"' in chart


def test_the_doctors_home_lists_the_50_longest_overdue_courses_and_says_how_many_more(
        doctor_client, staff) -> None:
    for number in range(53):
        late = register(staff["nurse"], first=f"Late{number:02d}", last="Patient")
        starts_on = TODAY - timedelta(days=60 - number)
        services.plan_course(late, services.CourseInput(INDICATION, AREAS, starts_on=starts_on), staff["doctor"])
    db.session.commit()
    page = doctor_client.get("/").get_data(as_text=True)
    assert "Late00 Patient" in page and "Late49 Patient" in page and "Late50 Patient" not in page
    assert "at least 3 more courses are overdue" in page


@pytest.mark.parametrize("consent_in_force", [True, False])
def test_a_saved_drafts_readiness_is_what_the_gate_says_of_it_read_afresh(
        course, stock, staff, patient, consent_in_force, count_queries) -> None:
    if not consent_in_force:
        services_withdraw(patient_consent(patient), staff)
    with count_queries() as statements:
        saved = services.save_draft(course, entry(stock), staff["doctor"])
    afresh = services.session_readiness(saved.session)
    assert [r.code for r in saved.readiness.reasons] == [r.code for r in afresh.reasons]
    assert [w.code for w in saved.readiness.warnings] == [w.code for w in afresh.warnings]
    assert bool(saved.readiness.reasons) is not consent_in_force
    # The gate's facts (history, consents, screenings, products: one statement) read once for the checks
    # and the readiness; read afresh, they cost that statement again.
    with count_queries() as again:
        services.session_readiness(saved.session)
    facts = [statement for statement in again if "FULL OUTER JOIN" in statement]
    assert len(facts) == 1 and statements.count(facts[0]) == 1


def test_the_next_due_date_counts_from_the_latest_session_on_the_course_page_and_the_chart(
        course, stock, staff) -> None:
    from clinic.records.chart import load_chart

    save(course, stock, staff["doctor"], when=NOW - timedelta(days=3))
    # Logged afterwards for an earlier day: it gets the next number, but the course moved on from the first
    # (the home page's overdue list, in SQL, takes the latest time too).
    save(course, stock, staff["doctor"], when=NOW - timedelta(days=8), acknowledged=["interval"])
    expected = services.due_after(course, 2, NOW - timedelta(days=3))
    assert expected != services.due_after(course, 2, NOW - timedelta(days=8))
    db.session.expire_all()
    assert services.next_due(course) == expected
    summary = next(s for s in load_chart(course.patient, TODAY).courses if s.course.id == course.id)
    assert summary.next_due == expected


@pytest.mark.parametrize(("first", "then", "said"), [
    ((3, 10), (3, 12), "The same day as the last session; the course's interval is"),
    ((4, 12), (3, 12), "Only 1 day since the last session; the course's interval is"),
    ((3, 12), (8, 12), "Only 5 days before session 1; the course's interval is"),
])
def test_a_session_too_close_to_another_says_how_close_in_words(course, stock, staff, first, then, said) -> None:
    from datetime import time

    from clinic.core.clock import clinic_zone

    def at(days_ago: int, hour: int) -> datetime:  # a clinic day's wall-clock time, whatever the hour now
        return datetime.combine(TODAY - timedelta(days=days_ago), time(hour), tzinfo=clinic_zone()) \
            .astimezone(timezone.utc)

    save(course, stock, staff["doctor"], when=at(*first))
    check = services.check_session(course, entry(stock, when=at(*then)))
    assert [w.message for w in check.warnings if w.code == "interval"][0].startswith(said)
