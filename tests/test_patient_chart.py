"""The patient chart: registration and search, the versioned history, screening and its rules,
doctors' overrides, versioned consent, patch tests and the treatment gate."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.core.services import void_record
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Ingredient
from clinic.records.consent import services as consent_services
from clinic.records.consent.models import Consent
from clinic.records.gate import check_treatment_allowed
from clinic.records.patients import services as patients
from clinic.records.patients.models import Patient
from clinic.records.patients.search import search_patients
from clinic.records.screening import services as screening_services
from clinic.records.screening.models import Screening, ScreeningArea
from tests.conftest import audit_rows, own_transaction
from tests.factories import (
    AREAS,
    INDICATION,
    TODAY,
    negative_patch_test,
    record_history,
    register,
    rule,
    screen,
    sign_consent,
    treatment_form,
    years_before,
)

# --- the default rules -----------------------------------------------------------------------------

ABSOLUTE = ["pregnancy", "breastfeeding", "active_infection_area", "ingredient_allergy", "active_cancer",
            "diabetes"]
RELATIVE = ["clotting_disorder", "anticoagulant", "autoimmune_disease", "active_eczema", "active_psoriasis",
            "weakened_immune_system", "allergic_reactions_history"]


@pytest.mark.parametrize("code", ABSOLUTE)
def test_each_absolute_contraindication_makes_the_patient_not_eligible(patient, staff, code) -> None:
    assert rule(code).kind == "absolute"
    screening = screen(patient, staff["nurse"], yes={code: None})
    assert screening.result == "not_eligible"
    evaluation = screening_services.evaluate_screening(screening, patient, TODAY)
    assert [f.rule.code for f in evaluation.absolute] == [code]


@pytest.mark.parametrize("code", RELATIVE)
def test_each_relative_contraindication_needs_a_doctor(patient, staff, code) -> None:
    assert rule(code).kind == "relative"
    screening = screen(patient, staff["nurse"], yes={code: None})
    assert screening.result == "needs_review"


def test_a_darker_skin_type_is_a_warning_not_a_block(patient, staff) -> None:
    assert rule("skin_type_dark").kind == "warning"
    screening = screen(patient, staff["nurse"], yes={"skin_type_dark": None})
    assert screening.result == "eligible"
    evaluation = screening_services.evaluate_screening(screening, patient, TODAY)
    assert [f.rule.code for f in evaluation.warnings] == ["skin_type_dark"]


def test_every_contraindication_of_design_md_is_in_the_condition_catalogue(app) -> None:
    from clinic.records.catalogue.models import Condition

    codes = set(db.session.scalars(sa.select(Condition.code)))
    assert {"diabetes", "active_cancer", "active_infection_area", "clotting_disorder", "autoimmune_disease",
            "active_eczema", "active_psoriasis", "weakened_immune_system",
            "allergic_reactions_history"} <= codes


def test_under_18_on_the_screening_date_is_absolute_and_18_that_day_is_not(staff) -> None:
    minor = register(staff["nurse"], first="Lucas", last="Petit", dob=years_before(TODAY, 18) + timedelta(days=1))
    record_history(minor, staff["nurse"])
    blocked = screen(minor, staff["nurse"])
    assert blocked.result == "not_eligible"
    evaluation = screening_services.evaluate_screening(blocked, minor, TODAY)
    assert [f.rule.code for f in evaluation.absolute] == ["age_under_18"]

    adult = register(staff["nurse"], first="Léa", last="Petit", dob=years_before(TODAY, 18))
    record_history(adult, staff["nurse"])
    assert screen(adult, staff["nurse"]).result == "eligible"


@pytest.mark.parametrize(("code", "days", "kind"), [
    ("isotretinoin", 180, "relative"), ("laser", 42, "relative"), ("surgery_area", 90, "relative"),
    ("tattoo_area", 90, "relative"), ("filler", 14, "warning"),
])
def test_a_waiting_period_ends_on_the_right_day(patient, code, days, kind) -> None:
    waiting = rule(code)
    assert (waiting.waiting_days, waiting.kind) == (days, kind)
    treated = date(2026, 3, 2)
    last_day_of_wait = treated + timedelta(days=days - 1)

    def findings(on: date):
        answer = {waiting.id: screening_services.AnswerInput(waiting.id, True, treated)}
        evaluation = screening_services.evaluate([waiting], answer, patient, on)
        return evaluation.relative + evaluation.warnings

    still_waiting = findings(last_day_of_wait)
    assert len(still_waiting) == 1
    assert f"wait until {treated + timedelta(days=days):%d %b %Y}" in still_waiting[0].message
    assert findings(treated + timedelta(days=days)) == []


def test_the_history_suggests_answers_including_the_waiting_period(patient, staff) -> None:
    record_history(patient, staff["nurse"], condition_codes=["diabetes"],
                   medications=[patients.MedicationInput("Apixaban 5 mg", anticoagulant=True)],
                   treatments=[patients.TreatmentInput("laser", TODAY - timedelta(days=10)),
                               patients.TreatmentInput("isotretinoin", TODAY - timedelta(days=400))])
    history = patients.current_history(patient)
    suggested = {code: screening_services.suggest(rule(code), patient, history, TODAY)
                 for code in ("diabetes", "anticoagulant", "laser", "isotretinoin", "pregnancy", "active_cancer")}
    assert suggested["diabetes"].answer is True
    assert suggested["anticoagulant"].answer is True and "Apixaban" in suggested["anticoagulant"].note
    assert suggested["laser"].answer is True and suggested["laser"].event_date == TODAY - timedelta(days=10)
    assert suggested["isotretinoin"].answer is False
    assert suggested["pregnancy"].answer is False
    assert suggested["active_cancer"].answer is False


def test_every_question_must_be_answered_and_a_waiting_rule_needs_its_date(patient, staff) -> None:
    rules = screening_services.applicable_rules(INDICATION, AREAS)
    partial = [screening_services.AnswerInput(r.id, False) for r in rules[2:] if r.trigger != "age_under"]
    with pytest.raises(FieldError, match="Answer this question"):
        screening_services.record_screening(patient, INDICATION, AREAS, partial, staff["nurse"])
    undated = [screening_services.AnswerInput(r.id, r.code == "laser") for r in rules if r.trigger != "age_under"]
    with pytest.raises(FieldError, match="Give the date"):
        screening_services.record_screening(patient, INDICATION, AREAS, undated, staff["nurse"])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Screening)) == 0


def test_a_rule_limited_to_areas_is_asked_only_for_them(app) -> None:
    around_mouth = {r.code for r in screening_services.applicable_rules(INDICATION, ["perioral"])}
    forehead_only = {r.code for r in screening_services.applicable_rules(INDICATION, ["forehead"])}
    assert "herpes_labialis" in around_mouth and "herpes_labialis" not in forehead_only


def test_an_admin_limits_a_rule_to_areas_and_a_stale_second_edit_is_refused(admin_client) -> None:
    eczema = rule("active_eczema")
    assert eczema.area_codes == set() and eczema.indication_codes == set()
    first_version = eczema.version
    form = {"code": eczema.code, "question": eczema.question, "kind": eczema.kind, "trigger": eczema.trigger,
            "trigger_value": eczema.trigger_value, "sort_order": eczema.sort_order, "active": "y",
            "source": eczema.source,
            "indications": [INDICATION], "areas": ["neck", "decolletage"], "version": first_version}
    assert admin_client.submit(f"/admin/rules/{eczema.id}", form).status_code == 302
    db.session.expire_all()
    eczema = rule("active_eczema")
    assert (eczema.indication_codes, eczema.area_codes) == ({INDICATION}, {"neck", "decolletage"})
    assert eczema.version == first_version + 1, "a change of scope alone is a new version"
    assert "active_eczema" in {r.code for r in screening_services.applicable_rules(INDICATION, ["neck"])}
    assert "active_eczema" not in {r.code for r in screening_services.applicable_rules(INDICATION, ["cheeks"])}
    audited = db.session.scalars(sa.select(AuditEvent.record_id).where(
        AuditEvent.record_type == "contraindication_rule_area", AuditEvent.action == "create")).all()
    assert sorted(audited) == [f"{eczema.id},decolletage", f"{eczema.id},neck"]
    trail = admin_client.get("/audit").get_data(as_text=True)
    assert "not shown to admins" not in trail, "a rule's scope is a catalogue: an admin reads what changed"

    stale = admin_client.submit(f"/admin/rules/{eczema.id}", dict(form, areas=["cheeks"]))
    assert stale.status_code == 409
    db.session.expire_all()
    assert rule("active_eczema").area_codes == {"neck", "decolletage"}
    listing = admin_client.get("/admin/rules").get_data(as_text=True)
    assert "Décolletage, Neck" in listing or "Neck, Décolletage" in listing


# --- overrides and validity -----------------------------------------------------------------------


def test_only_a_doctor_overrides_a_relative_contraindication_with_a_reason(patient, staff) -> None:
    screening = screen(patient, staff["nurse"], yes={"anticoagulant": None})
    anticoagulant = rule("anticoagulant")
    with pytest.raises(ClinicError, match="Only a doctor"):
        screening_services.override_relative(screening, anticoagulant.id, staff["nurse"], "fine")
    with pytest.raises(FieldError):
        screening_services.override_relative(screening, anticoagulant.id, staff["doctor"], "  ")
    screening_services.override_relative(screening, anticoagulant.id, staff["doctor"],
                                         "INR 2.1 yesterday; superficial technique, pressure after each point")
    db.session.commit()
    assert screening.result == "eligible"
    row = audit_rows("create")[-1]
    assert row.record_type == "screening_override" and "INR 2.1" in row.changes


def test_a_doctor_overrides_through_the_screening_page_and_a_nurse_is_refused(clients, staff, patient) -> None:
    screening = screen(patient, staff["nurse"], yes={"autoimmune_disease": None})
    url = f"/screenings/{screening.id}/override/{rule('autoimmune_disease').id}"
    assert clients["nurse"].submit(url, {"reason": "stable"}).status_code == 403
    empty = clients["doctor"].submit(url, {"reason": ""})
    assert empty.status_code == 400
    done = clients["doctor"].submit(url, {"reason": "in remission for 3 years, rheumatologist agrees"})
    assert done.status_code == 302
    row = [r for r in audit_rows("create") if r.record_type == "screening_override"][-1]
    assert (row.user_id, row.role) == (staff["doctor"].id, "doctor")
    db.session.expire_all()
    assert db.session.get(Screening, screening.id).result == "eligible"


def test_an_absolute_contraindication_cannot_be_overridden(patient, staff) -> None:
    screening = screen(patient, staff["nurse"], yes={"diabetes": None})
    with pytest.raises(ClinicError, match="cannot be overridden"):
        screening_services.override_relative(screening, rule("diabetes").id, staff["doctor"], "well controlled")
    assert screening.result == "not_eligible"


def test_a_screening_expires_after_the_configured_days(app, patient, staff) -> None:
    days = app.config["SCREENING_VALID_DAYS"]
    assert days == 30
    screening = screen(patient, staff["nurse"], on=TODAY - timedelta(days=40))
    history = patients.current_history(patient)
    on_last_day = screening.screened_on + timedelta(days=days)
    assert screening_services.screening_validity(screening, patient, history, on_last_day).valid
    late = screening_services.screening_validity(screening, patient, history, on_last_day + timedelta(days=1))
    assert not late.valid and "expired" in late.reasons[0].message


def test_a_history_change_that_matters_invalidates_the_screening_and_one_that_does_not_keeps_it(
        patient, staff) -> None:
    screening = screen(patient, staff["nurse"])
    record_history(patient, staff["nurse"], notes="Prefers morning appointments")
    history = patients.current_history(patient)
    assert screening_services.screening_validity(screening, patient, history, TODAY).valid
    record_history(patient, staff["nurse"], condition_codes=["autoimmune_disease"])
    history = patients.current_history(patient)
    validity = screening_services.screening_validity(screening, patient, history, TODAY)
    assert not validity.valid and "autoimmune" in validity.reasons[0].message


def test_a_voided_patient_cannot_be_screened(patient, staff, nurse_client) -> None:
    void_record(patient, staff["nurse"], "registered twice")
    db.session.commit()
    with pytest.raises(ClinicError, match="voided"):
        screen(patient, staff["nurse"])
    db.session.rollback()
    response = nurse_client.get(f"/patients/{patient.id}/screenings/new?indication={INDICATION}&areas=cheeks")
    assert response.status_code == 302
    assert "voided" in nurse_client.get(response.location).get_data(as_text=True)


# --- consent -------------------------------------------------------------------------------------


def test_a_signed_consent_keeps_its_exact_text_when_the_template_changes(patient, staff) -> None:
    consent = sign_consent(patient, staff["nurse"])
    signed = consent.text_version
    original_body, original_hash = signed.body, signed.content_hash
    assert original_hash == hashlib.sha256(original_body.encode("utf-8")).hexdigest()
    form = treatment_form()
    newer = consent_services.publish_text_version(form, original_body + "\n\nI may ask questions at any time.",
                                                  staff["admin"])
    db.session.commit()
    db.session.expire_all()
    assert form.current_version.id == newer.id and newer.number == signed.number + 1
    again = db.session.get(Consent, consent.id)
    assert again.text_version.body == original_body
    assert again.text_version.content_hash == original_hash
    assert again.text_version.body.encode() == original_body.encode()


def test_an_old_or_withdrawn_text_version_cannot_be_signed(patient, staff) -> None:
    form = treatment_form()
    old = form.current_version
    consent_services.publish_text_version(form, old.body + "\nRevised.", staff["admin"])
    db.session.commit()
    with pytest.raises(FieldError, match="newer version"):
        consent_services.record_consent(patient, old, patient.full_name, None, staff["nurse"])
    wrong = form.current_version
    consent_services.withdraw_text_version(wrong, "wrong risk figures")
    db.session.commit()
    with pytest.raises(FieldError, match="withdrawn"):
        consent_services.record_consent(patient, wrong, patient.full_name, None, staff["nurse"])
    # The version before the wrong one is the one to sign again.
    assert form.current_version.id == old.id


def test_the_typed_name_must_match_the_patient_ignoring_case_and_accents(patient, staff) -> None:
    version = treatment_form().current_version
    with pytest.raises(FieldError, match="full name"):
        consent_services.record_consent(patient, version, "Someone Else", None, staff["nurse"])
    consent = consent_services.record_consent(patient, version, "amelie  DURAND", None, staff["nurse"])
    assert consent.signature_method == "typed"


def test_a_signature_that_is_not_a_png_is_refused(patient, staff) -> None:
    version = treatment_form().current_version
    with pytest.raises(FieldError, match="signature"):
        consent_services.record_consent(patient, version, patient.full_name,
                                        "data:image/svg+xml;base64,PHN2Zz4=", staff["nurse"])


def test_a_withdrawn_consent_no_longer_counts(patient, staff) -> None:
    consent = sign_consent(patient, staff["nurse"])
    with pytest.raises(FieldError):
        consent_services.withdraw_consent(consent, TODAY, "", staff["nurse"])
    consent_services.withdraw_consent(consent, TODAY, "changed her mind", staff["nurse"])
    db.session.commit()
    assert not consent.in_force_on(TODAY)
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY)
    assert any("No consent in force" in r.message for r in gate.reasons)


def test_the_consent_pdf_is_a_pdf_with_the_wording(doctor_client, patient, staff) -> None:
    consent = sign_consent(patient, staff["nurse"])
    response = doctor_client.get(f"/consents/{consent.id}/pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert audit_rows("export")[-1].record_type == "consent"


def test_a_consent_is_signed_through_the_page_with_a_typed_name_when_scripts_are_off(
        nurse_client, patient) -> None:
    version = treatment_form().current_version
    page = nurse_client.get(f"/patients/{patient.id}/consents/new?form={treatment_form().id}")
    assert page.status_code == 200
    response = nurse_client.submit(f"/patients/{patient.id}/consents/new", {
        "form": str(treatment_form().id), "text_version_id": str(version.id),
        "content_hash": version.content_hash, "signed_name": "Amélie Durand", "signature_image": "",
    })
    assert response.status_code == 302, response.get_data(as_text=True)
    shown = nurse_client.get(response.location).get_data(as_text=True)
    assert version.body.splitlines()[0][:40] in shown


# --- patch tests -----------------------------------------------------------------------------------


def test_a_positive_patch_test_adds_the_allergy_and_blocks_the_product(patient, staff, vitamin_product) -> None:
    test = patients.record_patch_test(patient, staff["nurse"], product=vitamin_product)
    db.session.commit()
    with pytest.raises(FieldError, match="Describe the reaction"):
        patients.read_patch_test(test, "positive", "", staff["nurse"])
    version = patients.read_patch_test(test, "positive", "wheal 8 mm at 48 h", staff["nurse"])
    db.session.commit()
    assert version.number == 2
    vitamin_c = db.session.scalar(sa.select(Ingredient.id).where(Ingredient.name == "Vitamin C"))
    assert vitamin_c in version.allergy_ingredient_ids
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [vitamin_product], TODAY)
    assert any("Revita C Glow contains Vitamin C" in r.message for r in gate.reasons)


def test_a_negative_patch_test_leaves_the_history_alone(patient, staff, vitamin_product) -> None:
    negative_patch_test(patient, staff["nurse"], vitamin_product)
    assert patients.current_history(patient).number == 1
    with pytest.raises(ClinicError, match="already been read"):
        patients.read_patch_test(patient_tests(patient)[0], "positive", "late", staff["nurse"])


def test_a_nurse_reads_a_patch_test_on_its_page_and_a_positive_one_needs_the_reaction(
        patient, staff, vitamin_product, nurse_client) -> None:
    from datetime import datetime

    test = patients.record_patch_test(patient, staff["nurse"], product=vitamin_product,
                                      applied_at=datetime.now().astimezone() - timedelta(days=2))
    db.session.commit()
    url = f"/patients/{patient.id}/patch-tests/{test.id}/read"
    read_at = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    refused = nurse_client.submit(url, {"result": "positive", "notes": "", "read_at": read_at})
    assert refused.status_code == 400 and "Describe the reaction" in refused.get_data(as_text=True)
    saved = nurse_client.submit(url, {"result": "positive", "notes": "wheal 8 mm at 48 h", "read_at": read_at})
    assert saved.status_code == 302
    db.session.expire_all()
    assert patients.current_history(patient).number == 2


def patient_tests(patient):
    from clinic.records.patients.models import PatchTest

    return list(db.session.scalars(sa.select(PatchTest).where(PatchTest.patient_id == patient.id)))


# --- the gate --------------------------------------------------------------------------------------


def test_the_gate_lists_every_missing_step(patient) -> None:
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY)
    assert not gate.allowed
    assert any("No consent in force" in r.message for r in gate.reasons)
    assert any("No screening" in r.message for r in gate.reasons)
    assert [w.code for w in gate.warnings] == ["first_time_no_patch_test"]


def test_the_gate_allows_a_consented_screened_patch_tested_patient(patient, staff, vitamin_product) -> None:
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"])
    negative_patch_test(patient, staff["nurse"], vitamin_product)
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [vitamin_product], TODAY)
    assert gate.allowed, gate.reasons
    assert gate.reasons == [] and gate.warnings == []
    only_cheeks = check_treatment_allowed(patient, INDICATION, ["cheeks"], [vitamin_product], TODAY)
    assert only_cheeks.allowed
    more_areas = check_treatment_allowed(patient, INDICATION, ["cheeks", "neck"], [vitamin_product], TODAY)
    assert any("covering the planned areas" in r.message for r in more_areas.reasons)


def test_the_gate_blocks_an_unoverridden_relative_contraindication_until_a_doctor_decides(
        patient, staff) -> None:
    sign_consent(patient, staff["nurse"])
    screening = screen(patient, staff["nurse"], yes={"clotting_disorder": None})
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY)
    assert any("not overridden by a doctor" in r.message for r in gate.reasons)
    screening_services.override_relative(screening, rule("clotting_disorder").id, staff["doctor"],
                                         "haematologist letter: mild, treat with pressure")
    db.session.commit()
    assert check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY).allowed


def test_the_gate_blocks_absolute_contraindications_and_a_minor(patient, staff) -> None:
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"], yes={"pregnancy": None})
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY)
    assert any(r.message.startswith("Absolute contraindication") for r in gate.reasons)


def test_the_gate_refuses_a_stale_screening_and_a_voided_patient(patient, staff) -> None:
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"], on=TODAY - timedelta(days=31))
    gate = check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY)
    assert any("expired" in r.message for r in gate.reasons)
    void_record(patient, staff["nurse"], "duplicate of another record")
    db.session.commit()
    assert not check_treatment_allowed(patient, INDICATION, AREAS, [], TODAY).allowed


def test_the_gate_uses_a_fixed_number_of_queries(app, staff, vitamin_product, count_queries) -> None:
    def queries_for(patient, products) -> int:
        db.session.expire_all()
        with count_queries() as counted:
            check_treatment_allowed(db.session.get(Patient, patient.id), INDICATION, AREAS, products, TODAY)
        return len(counted) - 1  # the patient itself, reloaded after expire_all

    small = register(staff["nurse"], first="Nora", last="Small")
    record_history(small, staff["nurse"])
    sign_consent(small, staff["nurse"])
    screen(small, staff["nurse"])

    large = register(staff["nurse"], first="Zoe", last="Large")
    for number in range(6):
        record_history(large, staff["nurse"], notes=f"visit {number}",
                       medications=[patients.MedicationInput(f"drug {i}") for i in range(number)])
        sign_consent(large, staff["nurse"])
        screen(large, staff["nurse"], on=TODAY - timedelta(days=number))
    for _ in range(3):
        negative_patch_test(large, staff["nurse"], vitamin_product)
    more_products = [vitamin_product]
    for index in range(3):
        more_products.append(inventory.create_product(inventory.ProductDetails(
            name=f"Extra {index}", manufacturer="Lumea", kind="other", unit="vial", volume_ml=Decimal("1"),
            gtin="", ingredient_ids=[]))
        )
    db.session.commit()
    assert queries_for(small, [vitamin_product]) == queries_for(large, more_products)


# --- registration, search, editing -----------------------------------------------------------------


def _registration(**overrides):
    data = {"first_name": "Inès", "last_name": "Moreau", "date_of_birth": "1985-09-03", "sex": "female",
            "phone": "020 7946 0321", "email": "ines.moreau@example.com", "fitzpatrick": "3"}
    data.update(overrides)
    return data


def test_a_nurse_registers_a_patient_with_a_generated_record_number(app, nurse_client, staff) -> None:
    response = nurse_client.submit("/patients/new", _registration())
    assert response.status_code == 302
    db.session.expire_all()
    made = db.session.scalar(sa.select(Patient))
    assert made.record_number.startswith(app.config["RECORD_NUMBER_PREFIX"])
    assert made.phone == "+44 20 7946 0321"
    created = [r for r in audit_rows("create") if r.record_type == "patient"]
    assert created[-1].record_id == str(made.id) and created[-1].user_id == staff["nurse"].id


def test_record_numbers_are_unique_and_follow_each_other(staff) -> None:
    first = register(staff["nurse"], first="A", last="One")
    second = register(staff["nurse"], first="B", last="Two")
    assert first.record_number != second.record_number
    assert int(second.record_number[-6:]) == int(first.record_number[-6:]) + 1


def test_a_likely_duplicate_is_warned_before_registering(nurse_client) -> None:
    assert nurse_client.submit("/patients/new", _registration()).status_code == 302
    warned = nurse_client.submit("/patients/new", _registration(first_name="ines", email=""))
    assert warned.status_code == 409
    page = warned.get_data(as_text=True)
    assert "same name and date of birth" in page.lower() and 'value="ines"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1
    confirmed = nurse_client.submit("/patients/new", _registration(first_name="ines", email="",
                                                                   confirm_not_duplicate="y"))
    assert confirmed.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"date_of_birth": (TODAY + timedelta(days=1)).isoformat()}, "in the future"),
    ({"date_of_birth": "1899-12-31"}, "before 1900"),
    ({"email": "ines@@example"}, "email address is not valid"),
    ({"phone": "12"}, "phone number"),
    ({"first_name": ""}, "Enter the first name"),
    ({"record_number": "MR<script>"}, "Use letters, digits"),
])
def test_bad_registration_input_gets_a_message_and_keeps_the_form(nurse_client, changes, message) -> None:
    response = nurse_client.submit("/patients/new", _registration(**changes))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="Moreau"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 0


def test_a_record_number_already_in_use_is_refused(nurse_client, staff) -> None:
    existing = register(staff["nurse"])
    response = nurse_client.submit("/patients/new", _registration(record_number=existing.record_number))
    assert response.status_code == 400
    assert "already belongs to another patient" in response.get_data(as_text=True)


def test_search_ignores_accents_and_case_and_finds_parts_of_names(staff) -> None:
    register(staff["nurse"], first="Zoë", last="Müller", phone="+44 20 7946 0777")
    register(staff["nurse"], first="John", last="Miller")

    def found(query):
        return [p.full_name for p in search_patients(query).patients]

    assert found("zoe muller") == ["Zoë Müller"]
    assert found("MÜLL") == ["Zoë Müller"]
    assert found("ller") == ["John Miller", "Zoë Müller"]
    assert found("020 7946 0777") == ["Zoë Müller"]
    assert found("+44 20 7946 0777") == ["Zoë Müller"]
    assert found("1990-04-12") == ["John Miller", "Zoë Müller"]
    assert found("12/04/1990") == ["John Miller", "Zoë Müller"]
    number = db.session.scalar(sa.select(Patient.record_number).where(Patient.last_name == "Miller"))
    assert found(number.lower()) == ["John Miller"]
    assert found("nobody") == []


def test_every_word_of_the_query_must_match(staff) -> None:
    register(staff["nurse"], first="Annabel", last="Lastra")
    register(staff["nurse"], first="Bethan", last="Lastra")
    register(staff["nurse"], first="Annabel", last="Okafor")
    assert [p.full_name for p in search_patients("annabel lastra").patients] == ["Annabel Lastra"]
    assert [p.full_name for p in search_patients("lastra bet").patients] == ["Bethan Lastra"]


def test_search_pages_by_keyset_without_gaps_or_repeats_and_hides_voided(staff) -> None:
    made = [register(staff["nurse"], first=f"Ann{i:02d}", last="Keyes") for i in range(30)]
    void_record(made[0], staff["nurse"], "test record")
    db.session.commit()
    seen, cursor = [], None
    while True:
        page = search_patients("keyes", cursor=cursor, page_size=7)
        seen.extend(p.id for p in page.patients)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [p.id for p in made[1:]]
    assert len(set(seen)) == 29


def test_the_search_page_answers_and_a_tampered_cursor_starts_again(nurse_client, staff) -> None:
    register(staff["nurse"])
    page = nurse_client.get("/patients?q=amelie")
    assert page.status_code == 200 and "Durand" in page.get_data(as_text=True)
    tampered = nurse_client.get("/patients?q=amelie&after=%%%not-a-cursor")
    assert tampered.status_code == 200 and "Durand" in tampered.get_data(as_text=True)


def test_editing_from_a_stale_form_answers_409_and_keeps_the_input(nurse_client, doctor_client, patient) -> None:
    form = {**_registration(first_name="Amélie", last_name="Durand", date_of_birth="1990-04-12"),
            "version": str(patient.version)}
    assert doctor_client.submit(f"/patients/{patient.id}/edit", {**form, "phone": "020 7946 0100"}).status_code == 302
    stale = nurse_client.submit(f"/patients/{patient.id}/edit", {**form, "notes": "Needle-phobic"})
    assert stale.status_code == 409
    assert "Needle-phobic" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).notes == ""


# --- history -------------------------------------------------------------------------------------


def _history_form(based_on: int, **extra):
    data = {"based_on": str(based_on), "pregnancy": "no", "breastfeeding": "no", "notes": "",
            "medications-0-name": "", "treatments-0-kind": "", "treatments-0-treated_on": "",
            "change_note": ""}
    data.update(extra)
    return data


def test_concurrent_history_edits_give_the_second_409_with_its_input_kept(nurse_client, doctor_client,
                                                                          patient) -> None:
    first = doctor_client.submit(f"/patients/{patient.id}/history",
                                 _history_form(1, **{"medications-0-name": "Metformin 500 mg"}))
    assert first.status_code == 302
    second = nurse_client.submit(f"/patients/{patient.id}/history",
                                 _history_form(1, notes="Reacts to adhesive plasters"))
    assert second.status_code == 409
    assert "Reacts to adhesive plasters" in second.get_data(as_text=True)
    assert "Metformin 500 mg" in second.get_data(as_text=True)  # what was saved meanwhile is shown
    assert patients.current_history(patient).number == 2
    with pytest.raises(VersionConflictError):
        patients.record_history(patient, patients.HistoryInput(), patient_user(patient), based_on=1)


def patient_user(patient):
    from clinic.auth.models import User

    return db.session.get(User, patient.registered_by_id)


def test_a_history_saved_through_the_form_keeps_every_version_readable(nurse_client, patient) -> None:
    response = nurse_client.submit(f"/patients/{patient.id}/history", _history_form(
        1, condition_codes="clotting_disorder", **{"medications-0-name": "Warfarin",
                                                   "medications-0-anticoagulant": "y",
                                                   "treatments-0-kind": "laser",
                                                   "treatments-0-treated_on": (TODAY - timedelta(days=3)).isoformat()}))
    assert response.status_code == 302, response.get_data(as_text=True)
    current = patients.current_history(patient)
    assert current.number == 2 and current.condition_codes == {"clotting_disorder"}
    assert [m.anticoagulant for m in current.medications] == [True]
    old = nurse_client.get(f"/patients/{patient.id}/history/1").get_data(as_text=True)
    assert "Warfarin" not in old
    assert "Warfarin" in nurse_client.get(f"/patients/{patient.id}/history/2").get_data(as_text=True)
    rows = [r for r in audit_rows("create") if r.record_type == "history_version"]
    assert rows and rows[-1].record_id == str(current.id)


def test_a_future_treatment_date_in_the_history_is_refused(nurse_client, patient) -> None:
    response = nurse_client.submit(f"/patients/{patient.id}/history", _history_form(
        1, **{"treatments-0-kind": "laser", "treatments-0-treated_on": (TODAY + timedelta(days=2)).isoformat(),
              "notes": "kept"}))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "cannot be dated in the future" in page and "kept" in page
    assert patients.current_history(patient).number == 1


# --- the chart page, audit and voiding ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["doctor", "nurse", "auditor"])
def test_every_chart_view_is_audited(clients, staff, patient, role) -> None:
    before = len(audit_rows("read_chart"))
    response = clients[role].get(f"/patients/{patient.id}")
    assert response.status_code == 200
    rows = audit_rows("read_chart")
    assert len(rows) == before + 1
    assert (rows[-1].record_id, rows[-1].user_id) == (str(patient.id), staff[role].id)


def test_an_admin_cannot_open_a_chart(admin_client, patient) -> None:
    assert admin_client.get(f"/patients/{patient.id}").status_code == 403
    assert admin_client.get("/patients").status_code == 403


def test_an_auditor_reads_but_cannot_change_a_chart(auditor_client, patient) -> None:
    assert auditor_client.submit(f"/patients/{patient.id}/history", _history_form(1)).status_code == 403
    assert auditor_client.submit(f"/patients/{patient.id}/void", {"reason": "x"}).status_code == 403


def test_the_chart_shows_status_badges(doctor_client, patient, staff, vitamin_product) -> None:
    page = doctor_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "patch test due" in page
    screen(patient, staff["nurse"])
    page = doctor_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "consent missing" in page
    sign_consent(patient, staff["nurse"])
    negative_patch_test(patient, staff["nurse"], vitamin_product)
    page = doctor_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "eligible: Skin rejuvenation" in page and "consent missing" not in page


def test_voiding_a_patient_needs_a_reason_and_keeps_the_record(nurse_client, patient) -> None:
    refused = nurse_client.submit(f"/patients/{patient.id}/void", {"reason": ""})
    assert refused.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Patient, patient.id).is_voided
    nurse_client.submit(f"/patients/{patient.id}/void", {"reason": "registered twice, see MR-2"})
    db.session.expire_all()
    voided = db.session.get(Patient, patient.id)
    assert voided.is_voided and voided.void_reason == "registered twice, see MR-2"
    assert audit_rows("void")[-1].record_id == str(patient.id)
    assert "voided" in nurse_client.get(f"/patients/{patient.id}").get_data(as_text=True)
    with pytest.raises(Exception):
        db.session.delete(voided)
        db.session.flush()
    db.session.rollback()


# --- PostgreSQL: the trigram index serves the search ---------------------------------------------------


def test_the_name_search_can_use_the_trigram_index_on_postgresql(app, staff) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("pg_trgm exists on PostgreSQL only; SQLite uses its FTS5 table")
    register(staff["nurse"])
    with own_transaction() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text(
            "EXPLAIN SELECT id FROM patient WHERE search_text LIKE '%urand%'")).scalars())
    assert "ix_patient_search_text_trgm" in plan


def test_the_history_form_offers_conditions_as_ticked_checkboxes(nurse_client, staff, patient) -> None:
    record_history(patient, staff["nurse"], condition_codes=["herpes_labialis"])
    page = nurse_client.get(f"/patients/{patient.id}/history").get_data(as_text=True)
    diabetes = [line for line in page.splitlines() if 'value="diabetes"' in line]
    assert diabetes and 'type="checkbox"' in diabetes[0] and "checked" not in diabetes[0]
    ticked = [line for line in page.splitlines() if 'value="herpes_labialis"' in line]
    assert ticked and "checked" in ticked[0]


def test_a_screening_for_two_areas_is_saved_from_the_answers_page(nurse_client, patient) -> None:
    plan = nurse_client.get(f"/patients/{patient.id}/screenings/new")
    assert 'type="checkbox"' in plan.get_data(as_text=True)
    page = nurse_client.get(f"/patients/{patient.id}/screenings/new?indication={INDICATION}&areas=cheeks&areas=forehead")
    assert page.status_code == 200
    rules = screening_services.applicable_rules(INDICATION, AREAS)
    data = {"indication": INDICATION, "areas": "cheeks forehead", "confirm": "y"}
    for r in rules:
        if r.trigger != "age_under":
            data[f"rule_{r.id}"] = "no"
    response = nurse_client.submit(f"/patients/{patient.id}/screenings/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert db.session.scalars(sa.select(ScreeningArea.area_code).order_by(ScreeningArea.area_code)).all() == [
        "cheeks", "forehead"]


def test_admins_see_that_a_chart_changed_but_not_its_clinical_content(admin_client, auditor_client, staff) -> None:
    register(staff["nurse"], first="Odile", last="Secret", notes="Confidential: anxious about needles")
    hidden = admin_client.get("/audit").get_data(as_text=True)
    assert "Clinical details are not shown to admins" in hidden
    assert "Odile" not in hidden and "anxious about needles" not in hidden
    shown = auditor_client.get("/audit").get_data(as_text=True)
    assert "Odile" in shown


def test_a_blank_signature_pad_is_refused_when_the_pad_was_shown(nurse_client, patient) -> None:
    version = treatment_form().current_version
    data = {"text_version_id": str(version.id), "content_hash": version.content_hash,
            "signed_name": "Amélie Durand", "signature_image": "", "pad_shown": "1"}
    response = nurse_client.submit(f"/patients/{patient.id}/consents/new", data)
    assert response.status_code == 400
    assert "sign in the box" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 0


def test_an_auditor_finds_a_charts_audit_rows_by_its_record_number(auditor_client, staff) -> None:
    made = register(staff["nurse"], first="Ines", last="Audit")
    auditor_client.get(f"/patients/{made.id}")
    page = auditor_client.get(f"/audit?record_type=Patient&record_id={made.record_number.lower()}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "No entries match" not in text and f"patient {made.id}" in text


def test_a_hand_typed_record_number_equal_to_the_next_generated_one_is_skipped(staff) -> None:
    first = register(staff["nurse"], first="Odile", last="Counter")
    following = f"{first.record_number[:-6]}{int(first.record_number[-6:]) + 1:06d}"
    typed = patients.register_patient(patients.PatientDetails(
        first_name="Typed", last_name="ByHand", date_of_birth=date(1980, 1, 2), sex="female",
        record_number=following), staff["nurse"])
    db.session.commit()
    assert typed.record_number == following
    generated = register(staff["nurse"], first="Next", last="Generated")
    assert generated.record_number == f"{first.record_number[:-6]}{int(first.record_number[-6:]) + 2:06d}"


def test_two_registrations_with_the_same_record_number_at_once_give_the_second_a_409_with_its_form(
        nurse_client, staff, monkeypatch) -> None:
    first = register(staff["nurse"], first="Early", last="Bird")
    # The second request checked before the first committed: the check passes, the database refuses.
    monkeypatch.setattr(patients, "_check_record_number", lambda text, patient: (text or "").strip().upper())
    response = nurse_client.submit("/patients/new", _registration(record_number=first.record_number,
                                                                  first_name="Second", last_name="Comer"))
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "at the same moment" in page and 'value="Comer"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1


def test_a_row_changed_under_a_save_is_a_conflict_not_a_500(staff) -> None:
    from clinic.core.errors import SavedMeanwhile
    from clinic.core.transaction import run_service

    patient = register(staff["nurse"], first="Under", last="Foot")

    def edit_while_someone_else_does() -> None:
        db.session.execute(sa.text("UPDATE patient SET version = version + 1 WHERE id = :id"), {"id": patient.id})
        patient.phone = "+44 20 7946 0999"

    outcome = run_service(edit_while_someone_else_does)
    assert outcome.conflict and isinstance(outcome.error, SavedMeanwhile)


def test_medications_are_added_a_row_at_a_time_and_allergies_ticked_from_the_catalogue(nurse_client,
                                                                                      patient) -> None:
    page = nurse_client.get(f"/patients/{patient.id}/history").get_data(as_text=True)
    assert 'name="allergy_ingredient_ids" type="checkbox"' in page and "<select multiple" not in page
    rows = len(re.findall(r'name="medications-\d+-name"', page))
    typed = _history_form(1, **{"medications-0-name": "Warfarin", "medications-1-name": "Aspirin",
                                "action": "add_medication"})
    more = nurse_client.submit(f"/patients/{patient.id}/history", typed)
    assert more.status_code == 200
    grown = more.get_data(as_text=True)
    assert len(re.findall(r'name="medications-\d+-name"', grown)) == max(rows, 2) + 1
    assert 'value="Warfarin"' in grown and 'value="Aspirin"' in grown  # nothing typed is lost
    assert patients.current_history(patient).number == 1  # and nothing saved yet
    vitamin_c = db.session.scalar(sa.select(Ingredient.id).where(Ingredient.name == "Vitamin C"))
    saved = nurse_client.submit(f"/patients/{patient.id}/history", {
        **_history_form(1, **{"medications-0-name": "Warfarin", "medications-1-name": "Aspirin",
                              "medications-2-name": "Metformin"}), "allergy_ingredient_ids": [str(vitamin_c)]})
    assert saved.status_code == 302
    db.session.expire_all()
    current = patients.current_history(patient)
    assert current.number == 2
    assert [m.name for m in current.medications] == ["Warfarin", "Aspirin", "Metformin"]
    assert current.allergy_ingredient_ids == {vitamin_c}


def test_a_rules_trigger_is_picked_from_what_the_record_knows(admin_client) -> None:
    page = admin_client.get("/admin/rules/new").get_data(as_text=True)
    chosen = page[page.index('name="trigger_value"'):page.index("</select>", page.index('name="trigger_value"'))]
    assert '<optgroup label="A condition in the history">' in chosen and '<optgroup label="A recent treatment">' in chosen
    assert 'value="isotretinoin"' in chosen and 'value="18"' in chosen
    wrong = admin_client.submit("/admin/rules/new", {
        "code": "laser_recent", "question": "Laser in the last month?", "kind": "relative", "trigger": "condition",
        "trigger_value": "laser", "sort_order": "50", "active": "y"})
    assert wrong.status_code == 400  # a treatment kind given for a condition trigger is refused beside the field
    assert "Give the code of a condition" in wrong.get_data(as_text=True)
