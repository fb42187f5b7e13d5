"""Results across a course: the measure catalogue, measures recorded at baseline, sessions and the end,
never overwritten (voided and replaced), and refused with a clear message when they cannot be right."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.core.errors import ClinicError, FieldError
from clinic.extensions import db
from clinic.records.outcomes import services as outcomes
from clinic.records.outcomes.models import GAIS_SCALE, MeasureDefinition, OutcomeMeasure
from clinic.records.treatments import services as treatments
from tests.conftest import audit_rows
from tests.factories import record_history, register, screen, sign_consent
from tests.results_helpers import measure


def _measures(course_id: int) -> list[OutcomeMeasure]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OutcomeMeasure).where(OutcomeMeasure.course_id == course_id)
                                   .order_by(OutcomeMeasure.id)))


def _hair_course(staff):
    patient = register(staff["nurse"], first="Hugo", last="Lefèvre", sex="male")
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"], "hair_loss")
    screen(patient, staff["nurse"], indication="hair_loss", areas=("scalp",))
    made = treatments.plan_course(patient, treatments.CourseInput("hair_loss", ["scalp"],
                                                                  starts_on=date.today() - timedelta(days=30)),
                                  staff["doctor"])
    db.session.commit()
    return made


# --- the catalogue -------------------------------------------------------------------------------


def test_the_catalogue_holds_a_measure_per_indication_from_the_design(app) -> None:
    hair = {d.code: d for d in outcomes.measures_for("hair_loss")}
    assert hair["hair_density"].unit == "hairs/cm²" and hair["hair_density"].higher_is_better
    assert not hair["hair_pull"].higher_is_better
    cellulite = {d.code for d in outcomes.measures_for("cellulite")}
    assert {"waist", "hips", "thigh_left", "thigh_right", "weight", "cellulite_grade"} <= cellulite
    assert "hair_density" not in cellulite
    facial = {d.code for d in outcomes.measures_for("mesolift")}
    assert {"wrinkle_grade", "skin_notes", "gais_clinician", "gais_patient", "satisfaction"} <= facial
    grade = db.session.get(MeasureDefinition, "cellulite_grade")
    assert (grade.min_value, grade.max_value, grade.decimals) == (0, 3, 0)


def test_an_admin_adds_a_measure_and_one_already_recorded_keeps_its_unit(admin_client, course, staff) -> None:
    response = admin_client.submit("/admin/outcome-measures", {
        "code": "arm_left", "name": "Circumference at the upper arm, left", "kind": "number", "unit": "cm",
        "min_value": "15", "max_value": "80", "decimals": "1", "how_to_measure": "Midway shoulder to elbow.",
        "indication_codes": ["localized_fat"], "sort_order": "200", "active": "y"})
    assert response.status_code == 302
    added = db.session.get(MeasureDefinition, "arm_left")
    assert added.indication_codes == ["localized_fat"] and added.unit == "cm"

    refused = admin_client.submit("/admin/outcome-measures", {
        "code": "arm_right", "name": "Arm right", "kind": "number", "unit": "cm", "min_value": "80",
        "max_value": "15", "decimals": "1", "indication_codes": ["localized_fat"]})
    assert refused.status_code == 400
    assert "The highest value must be above the lowest." in refused.get_data(as_text=True)
    assert db.session.get(MeasureDefinition, "arm_right") is None

    measure(course, staff["doctor"], "satisfaction", "6", timepoint="end", on=date.today())
    changed = admin_client.submit("/admin/outcome-measures/satisfaction", {
        "name": "Patient satisfaction", "kind": "number", "unit": "%", "min_value": "0", "max_value": "100",
        "decimals": "0", "every_indication": "y", "sort_order": "30", "active": "y"})
    assert changed.status_code == 400
    assert "already recorded in this unit" in changed.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MeasureDefinition, "satisfaction").unit == "/10"


def test_clinicians_and_auditors_cannot_change_the_catalogue(clients) -> None:
    for role in ("doctor", "nurse", "auditor"):
        assert clients[role].get("/admin/outcome-measures").status_code == 403


# --- recording -----------------------------------------------------------------------------------


def test_a_doctor_records_the_baseline_of_a_hair_loss_course_with_units_and_the_spot(doctor_client, staff) -> None:
    course = _hair_course(staff)
    form = doctor_client.get(f"/courses/{course.id}/measures/new?timepoint=baseline")
    page = form.get_data(as_text=True)
    assert form.status_code == 200
    assert "Hair density (hairs/cm²)" in page and "Circumference" not in page
    response = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "baseline", "measured_on": course.starts_on.isoformat(),
        "value_hair_density": "142", "site_hair_density": "vertex, tattoo dot", "value_hair_pull": "9 hairs"})
    assert response.status_code == 302
    stored = {m.definition_code: m for m in _measures(course.id)}
    assert stored["hair_density"].value_number == 142 and stored["hair_density"].unit == "hairs/cm²"
    assert stored["hair_density"].site == "vertex, tattoo dot"
    assert stored["hair_pull"].value_number == 9 and stored["hair_pull"].timepoint == "baseline"
    created = [r for r in audit_rows("create") if r.record_type == "outcome_measure"]
    assert len(created) == 2


def test_gais_is_stored_with_its_scale_and_is_not_given_at_baseline(course, staff) -> None:
    gais = measure(course, staff["doctor"], "gais_clinician", "much_improved", timepoint="end", on=date.today())
    assert gais.scale == GAIS_SCALE and gais.display == "Much improved"
    with pytest.raises(FieldError, match="not given at it"):
        measure(course, staff["doctor"], "gais_patient", "improved", timepoint="baseline")


@pytest.mark.parametrize(("typed", "message"), [
    ("11", "Patient satisfaction must be within 0–10 /10."),
    ("-1", "Patient satisfaction must be within 0–10 /10."),
    ("7.5", "Patient satisfaction is given with no decimals."),
    ("seven", "Patient satisfaction: give a number in /10"),
])
def test_a_value_that_cannot_be_right_is_refused_beside_its_box_and_nothing_is_written(
        doctor_client, course, typed, message) -> None:
    response = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "baseline", "measured_on": course.starts_on.isoformat(), "value_satisfaction": typed,
        "value_wrinkle_grade": "3"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page.replace("&#39;", "'")
    assert f'value="{typed}"' in page  # the input is kept
    assert _measures(course.id) == []  # not even the valid wrinkle grade


def test_every_wrong_box_gets_its_own_message_at_once_with_the_summary_at_the_top(doctor_client, course) -> None:
    response = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "session", "measured_on": (date.today() + timedelta(days=1)).isoformat(),
        "value_satisfaction": "seven", "value_wrinkle_grade": "99"})
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 400
    assert '<small id="value_satisfaction-error" class="field-error" role="alert">Patient satisfaction: give a number' in page
    assert '<small id="value_wrinkle_grade-error" class="field-error" role="alert">' in page
    assert '<small id="measured_on-error" class="field-error" role="alert">This day is in the future.' in page
    assert '<small id="session_id-error"' in page  # "at a session" names no session
    assert "4 things to fix before this can be saved" in page
    for target in ("value_satisfaction", "value_wrinkle_grade", "measured_on", "session_id"):
        assert f'href="#{target}"' in page
    assert _measures(course.id) == []


def test_gais_is_not_offered_at_baseline_and_refused_there_if_posted(doctor_client, course) -> None:
    baseline = doctor_client.get(f"/courses/{course.id}/measures/new?timepoint=baseline").get_data(as_text=True)
    assert 'id="measure-gais_clinician" data-timepoint-not="baseline" hidden disabled>' in baseline
    assert "it is not given at it" in baseline
    later = doctor_client.get(f"/courses/{course.id}/measures/new?timepoint=end").get_data(as_text=True)
    assert 'id="measure-gais_clinician" data-timepoint-not="baseline">' in later
    refused = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "baseline", "measured_on": course.starts_on.isoformat(), "value_gais_clinician": "improved",
        "value_wrinkle_grade": "3"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert '<small id="value_gais_clinician-error" class="field-error" role="alert">' in page
    assert 'id="measure-gais_clinician" data-timepoint-not="baseline">' in page  # in view, beside its message
    assert _measures(course.id) == []


def test_a_circumference_in_inches_is_refused_with_the_unit_it_needs(staff) -> None:
    patient = register(staff["nurse"], first="Clara", last="Petit")
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"], "cellulite")
    screen(patient, staff["nurse"], indication="cellulite", areas=("thighs",))
    course = treatments.plan_course(patient, treatments.CourseInput("cellulite", ["thighs"]), staff["doctor"])
    db.session.commit()
    with pytest.raises(FieldError, match="recorded in cm, not “in”") as refused:
        measure(course, staff["doctor"], "thigh_left", "22.5 in")
    assert refused.value.field == "value_thigh_left"
    assert measure(course, staff["doctor"], "thigh_left", "57,5 cm").value_number == Decimal("57.5")


def test_a_measure_not_taken_for_the_indication_is_refused_by_name(doctor_client, course) -> None:
    response = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "baseline", "measured_on": course.starts_on.isoformat(), "value_hair_density": "150",
        "value_satisfaction": "5"})
    assert response.status_code == 400
    assert "Hair density is not measured for skin rejuvenation" in response.get_data(as_text=True)
    assert _measures(course.id) == []


@pytest.mark.parametrize(("offset", "message"), [
    (-1, "This is before the course started"), (None, "This day is in the future."),
])
def test_a_measure_dated_before_the_course_or_in_the_future_is_refused(doctor_client, course, offset,
                                                                       message) -> None:
    day = course.starts_on + timedelta(days=offset) if offset is not None else date.today() + timedelta(days=1)
    response = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "baseline", "measured_on": day.isoformat(), "value_satisfaction": "5"})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert _measures(course.id) == []


def test_a_measure_at_a_session_names_a_live_session_of_this_course(course, stock, staff) -> None:
    with pytest.raises(FieldError, match="Choose the session"):
        measure(course, staff["doctor"], "satisfaction", "5", timepoint="session", on=date.today())
    session = treatments.save_session(course, _entry(stock), staff["doctor"])
    treatments.void_session(session, staff["doctor"], "Wrong patient")
    db.session.commit()
    with pytest.raises(FieldError, match="voided"):
        measure(course, staff["doctor"], "satisfaction", "5", timepoint="session", on=date.today(), session=session)


def _entry(stock):
    from tests.factories import entry
    return entry(stock, acknowledged=["first_time_no_patch_test"])


def test_maintenance_measures_wait_for_the_course_to_close(course, staff) -> None:
    with pytest.raises(FieldError, match="after the course is closed"):
        measure(course, staff["doctor"], "satisfaction", "8", timepoint="maintenance", on=date.today())


def test_an_empty_form_is_refused(course, staff) -> None:
    with pytest.raises(ClinicError, match="at least one measure"):
        measure(course, staff["doctor"], "satisfaction", "  ")


# --- corrections and voids -----------------------------------------------------------------------


def test_a_correction_voids_the_wrong_value_and_keeps_it_readable(doctor_client, course, staff) -> None:
    wrong = measure(course, staff["doctor"], "wrinkle_grade", "4")
    response = doctor_client.submit(f"/measures/{wrong.id}/correct", {
        "value": "2", "reason": "Read from the wrong photo", "version": str(wrong.version)})
    assert response.status_code == 302
    first, second = _measures(course.id)
    assert first.value_number == 4 and first.is_voided and first.void_reason == "Corrected: Read from the wrong photo"
    assert second.value_number == 2 and second.replaces_id == first.id and not second.is_voided
    report = doctor_client.get(f"/courses/{course.id}/report").get_data(as_text=True)
    assert "Corrected" not in report and '<td data-label="Value">2 grade</td>' in report


def test_a_correction_from_a_stale_form_is_refused_with_409(doctor_client, course, staff) -> None:
    value = measure(course, staff["doctor"], "wrinkle_grade", "4")
    outcomes.correct_measure(value, staff["doctor"], value="3", site="", reason="Recounted")
    db.session.commit()
    response = doctor_client.submit(f"/measures/{value.id}/correct", {
        "value": "2", "reason": "Recounted again", "version": "1"})
    assert response.status_code == 409
    assert len(_measures(course.id)) == 2


def test_a_voided_value_needs_a_reason_and_leaves_the_report(doctor_client, course, staff) -> None:
    value = measure(course, staff["doctor"], "skin_quality", "2")
    refused = doctor_client.submit(f"/measures/{value.id}/void", {"reason": ""})
    assert refused.status_code == 302 and not _measures(course.id)[0].is_voided
    doctor_client.submit(f"/measures/{value.id}/void", {"reason": "Entered for the wrong patient"})
    assert _measures(course.id)[0].is_voided
    assert "Skin quality" not in doctor_client.get(f"/courses/{course.id}/report").get_data(as_text=True)


def test_nurses_record_measures_and_auditors_only_read(clients, course) -> None:
    data = {"timepoint": "baseline", "measured_on": course.starts_on.isoformat(), "value_satisfaction": "4"}
    assert clients["nurse"].submit(f"/courses/{course.id}/measures/new", data).status_code == 302
    assert clients["auditor"].submit(f"/courses/{course.id}/measures/new", data).status_code == 403
    assert clients["admin"].get(f"/courses/{course.id}/report").status_code == 403
    reads_before = len(audit_rows("read_chart"))
    read = clients["auditor"].get(f"/courses/{course.id}/report")
    assert read.status_code == 200
    assert len(audit_rows("read_chart")) == reads_before + 1
    # The readings are listed for the auditor too, without offering what only clinicians may do.
    page = read.get_data(as_text=True)
    assert 'id="all-readings"' in page and "correct or void" not in page and "/correct" not in page
    assert "correct or void" in clients["nurse"].get(f"/courses/{course.id}/report").get_data(as_text=True)


# --- completing a course ---------------------------------------------------------------------------


def test_completing_a_course_asks_for_its_end_measures_and_home_lists_it_until_they_are_in(
        doctor_client, course, stock, staff) -> None:
    from tests.factories import save

    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    treatments.apply_signature(session, staff["doctor"])
    db.session.commit()
    completed = doctor_client.submit(f"/courses/{course.id}/complete", {})
    assert completed.status_code == 302
    assert completed.location.endswith(f"/courses/{course.id}/measures/new?timepoint=end")
    home = doctor_client.get("/").get_data(as_text=True)
    assert 'id="missing-end-measures"' in home and "Amélie Durand" in home
    report = doctor_client.get(f"/courses/{course.id}/report").get_data(as_text=True)
    assert "end-of-course measures are missing" in report
    recorded = doctor_client.submit(f"/courses/{course.id}/measures/new", {
        "timepoint": "end", "measured_on": date.today().isoformat(), "value_satisfaction": "9",
        "value_gais_clinician": "much_improved", "value_gais_patient": "improved"})
    assert recorded.status_code == 302
    assert 'id="missing-end-measures"' not in doctor_client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("typed", ["NaN", "Infinity", "1e308", "-99999999999"])
def test_a_range_end_that_is_no_number_a_measure_can_have_is_refused(admin_client, typed) -> None:
    response = admin_client.submit("/admin/outcome-measures", {
        "code": "odd", "name": "Odd", "kind": "number", "unit": "cm", "min_value": "0", "max_value": typed,
        "decimals": "0", "every_indication": "y"})
    assert response.status_code == 400
    assert db.session.get(MeasureDefinition, "odd") is None
