"""Registering patients, recording their history and patch tests. Services flush; callers commit."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import phonenumbers
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.core.errors import ClinicError, FieldError, VersionConflictError
from clinic.core.models import utcnow
from clinic.core.services import check_version, stored
from clinic.extensions import db
from clinic.inventory.models import Ingredient, Product
from clinic.records.catalogue.models import Condition
from clinic.records.patients.models import (
    BREASTFEEDING,
    FITZPATRICK,
    PREGNANCY,
    SEXES,
    TREATMENT_KINDS,
    HistoryAllergy,
    HistoryCondition,
    HistoryMedication,
    HistoryTreatment,
    HistoryVersion,
    PatchTest,
    Patient,
    RecordNumberCounter,
)
from clinic.records.patients.search import normalise, search_text_for, sort_name_for

EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass
class PatientDetails:
    first_name: str
    last_name: str
    date_of_birth: date
    sex: str
    phone: str = ""
    email: str = ""
    address: str = ""
    fitzpatrick: int | None = None
    emergency_contact: str = ""
    notes: str = ""
    record_number: str = ""


def clean_phone(text: str, field: str = "phone") -> str:
    """A phone number in international form ("" when none); ``field`` names the form field it came from."""
    text = (text or "").strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, current_app.config["PHONE_REGION"])
    except phonenumbers.NumberParseException:
        raise FieldError(field, "This phone number cannot be read. Include the country code if it "
                                "is from abroad, e.g. +44 20 7946 0958.") from None
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, "This is not a valid phone number. Check the digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _clean_email(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise FieldError("email", f"This email address is not valid: {error}") from None


def clean_name(text: str | None) -> str:
    """A name as typed, without invisible formatting characters: bidirectional overrides and zero-width
    marks would make a chart, a trace row or a search show one name and hold another."""
    return "".join(ch for ch in (text or "") if unicodedata.category(ch) != "Cf").strip()


def _check_details(details: PatientDetails, today: date) -> dict[str, object]:
    first, last = clean_name(details.first_name), clean_name(details.last_name)
    if not first:
        raise FieldError("first_name", "Enter the patient's first name.")
    if not last:
        raise FieldError("last_name", "Enter the patient's last name.")
    if details.date_of_birth is None:
        raise FieldError("date_of_birth", "Enter the date of birth.")
    if details.date_of_birth > today:
        raise FieldError("date_of_birth", "The date of birth is in the future.")
    if details.date_of_birth < EARLIEST_BIRTH:
        raise FieldError("date_of_birth", "The date of birth is before 1900; check the year.")
    if details.sex not in SEXES:
        raise FieldError("sex", "Choose from the list.")
    if details.fitzpatrick is not None and details.fitzpatrick not in FITZPATRICK:
        raise FieldError("fitzpatrick", "Choose a skin type from I to VI.")
    return {
        "first_name": first, "last_name": last, "date_of_birth": details.date_of_birth,
        "sex": details.sex, "phone": clean_phone(details.phone), "email": _clean_email(details.email),
        "address": (details.address or "").strip(), "fitzpatrick": details.fitzpatrick,
        "emergency_contact": (details.emergency_contact or "").strip(), "notes": (details.notes or "").strip(),
    }


def _next_record_number() -> str:
    """The next free generated number. A number typed by hand may already hold the counter's next
    value: that one is skipped, never given twice (an insert that failed on it would roll the counter
    back with it, and every later registration would fail the same way)."""
    table = RecordNumberCounter.__table__
    while True:
        number = db.session.execute(
            sa.update(table).where(table.c.id == 1).values(last_number=table.c.last_number + 1)
            .returning(table.c.last_number)
        ).scalar_one()
        record_number = f"{current_app.config['RECORD_NUMBER_PREFIX']}{number:06d}"
        if db.session.scalar(sa.select(Patient.id).where(Patient.record_number == record_number)) is None:
            return record_number


def _check_record_number(text: str, patient: Patient | None) -> str:
    value = (text or "").strip().upper()
    if not value:
        return ""
    # Latin letters and digits only: the number names export files and is read out on the phone.
    if len(value) > 20 or not all((ch.isascii() and ch.isalnum()) or ch in "-/." for ch in value):
        raise FieldError("record_number", "Use letters, digits and - / . only (at most 20).")
    other = db.session.scalar(sa.select(Patient).where(Patient.record_number == value))
    if other is not None and other is not patient:
        raise FieldError("record_number", f"Record number {value} already belongs to another patient.")
    return value


def likely_duplicates(first_name: str, last_name: str, date_of_birth: date | None) -> list[Patient]:
    """Patients with the same name (ignoring case and accents) and date of birth."""
    if date_of_birth is None:
        return []
    wanted = normalise(f"{last_name} {first_name}")
    return list(db.session.scalars(
        sa.select(Patient).where(Patient.date_of_birth == date_of_birth, Patient.sort_name == wanted)
    ))


def _apply(patient: Patient, values: dict[str, object]) -> None:
    for key, value in values.items():
        if getattr(patient, key) != value:
            setattr(patient, key, value)
    patient.search_text = search_text_for(patient)
    patient.sort_name = sort_name_for(patient)


def register_patient(details: PatientDetails, by: User, *, today: date | None = None) -> Patient:
    """A new patient with a unique record number (generated unless one is given)."""
    values = _check_details(details, today or clinic_today())
    record_number = _check_record_number(details.record_number, None) or _next_record_number()
    patient = Patient(record_number=record_number, registered_by_id=by.id)
    _apply(patient, values)
    return stored(patient)


def update_patient(patient: Patient, details: PatientDetails, *, expected_version: int | str | None = None,
                   today: date | None = None) -> None:
    """Correct demographics; ``expected_version`` (the form's) refuses a save over someone else's."""
    if expected_version is not None:
        check_version(patient, expected_version)
    if patient.is_voided:
        raise ClinicError("This patient was registered in error and is voided; it cannot be edited.")
    values = _check_details(details, today or clinic_today())
    record_number = _check_record_number(details.record_number, patient)
    if record_number:
        values["record_number"] = record_number
    _apply(patient, values)
    db.session.flush()


# --- medical history ------------------------------------------------------------------------


@dataclass
class MedicationInput:
    name: str
    anticoagulant: bool = False


@dataclass
class TreatmentInput:
    kind: str
    treated_on: date
    note: str = ""


@dataclass
class HistoryInput:
    condition_codes: Sequence[str] = ()
    medications: Sequence[MedicationInput] = ()
    allergy_ingredient_ids: Sequence[int] = ()
    other_allergies: Sequence[str] = ()
    pregnancy: str = "unknown"
    breastfeeding: str = "unknown"
    treatments: Sequence[TreatmentInput] = ()
    notes: str = ""
    change_note: str = ""
    extra: dict[str, object] = field(default_factory=dict)


def current_history(patient: Patient) -> HistoryVersion | None:
    return patient.histories[-1] if patient.histories else None


def _check_history(entry: HistoryInput, today: date) -> None:
    known = set(db.session.scalars(sa.select(Condition.code)))
    if not set(entry.condition_codes) <= known:
        raise FieldError("condition_codes", "Choose conditions from the list.")
    if entry.pregnancy not in PREGNANCY:
        raise FieldError("pregnancy", "Choose from the list.")
    if entry.breastfeeding not in BREASTFEEDING:
        raise FieldError("breastfeeding", "Choose from the list.")
    ingredient_ids = set(entry.allergy_ingredient_ids)
    found = set(db.session.scalars(sa.select(Ingredient.id).where(Ingredient.id.in_(ingredient_ids))))
    if found != ingredient_ids:
        raise FieldError("allergy_ingredient_ids", "Choose ingredients from the catalogue.")
    for treatment in entry.treatments:
        if treatment.kind not in TREATMENT_KINDS:
            raise FieldError("treatments", "Choose the kind of each recent treatment from the list.")
        if treatment.treated_on is None:
            raise FieldError("treatments", "Give the date of each recent treatment.")
        if treatment.treated_on > today:
            raise FieldError("treatments", "A recent treatment cannot be dated in the future.")


def record_history(patient: Patient, entry: HistoryInput, by: User, *, based_on: int | None,
                   today: date | None = None) -> HistoryVersion:
    """Write a new version of the history. ``based_on`` is the version the form showed."""
    today = today or clinic_today()
    if patient.is_voided:
        raise ClinicError("This patient is voided; their history cannot change.")
    current = current_history(patient)
    current_number = current.number if current else 0
    if (based_on or 0) != current_number:
        raise VersionConflictError(current or patient, based_on)
    _check_history(entry, today)
    version = HistoryVersion(
        patient=patient, number=current_number + 1, recorded_by_id=by.id,
        pregnancy=entry.pregnancy, breastfeeding=entry.breastfeeding,
        pregnancy_recorded_on=today, notes=(entry.notes or "").strip(),
        change_note=(entry.change_note or "").strip(),
    )
    for code in sorted(set(entry.condition_codes)):
        version.conditions.append(HistoryCondition(condition_code=code))
    for medication in entry.medications:
        if medication.name.strip():
            version.medications.append(HistoryMedication(name=medication.name.strip(),
                                                         anticoagulant=medication.anticoagulant))
    for ingredient_id in sorted(set(entry.allergy_ingredient_ids)):
        version.allergies.append(HistoryAllergy(ingredient_id=ingredient_id))
    for text in entry.other_allergies:
        if text.strip():
            version.allergies.append(HistoryAllergy(description=text.strip()))
    for treatment in entry.treatments:
        version.treatments.append(HistoryTreatment(kind=treatment.kind, treated_on=treatment.treated_on,
                                                   note=(treatment.note or "").strip()))
    return stored(version)


def history_input_from(version: HistoryVersion | None) -> HistoryInput:
    """The form's starting point: what the current version says."""
    if version is None:
        return HistoryInput()
    return HistoryInput(
        condition_codes=sorted(version.condition_codes),
        medications=[MedicationInput(m.name, m.anticoagulant) for m in version.medications],
        allergy_ingredient_ids=sorted(version.allergy_ingredient_ids),
        other_allergies=[a.description for a in version.allergies if a.ingredient_id is None],
        pregnancy=version.pregnancy, breastfeeding=version.breastfeeding,
        treatments=[TreatmentInput(t.kind, t.treated_on, t.note) for t in version.treatments],
        notes=version.notes,
    )


# --- patch tests --------------------------------------------------------------------------------


def record_patch_test(patient: Patient, by: User, *, product: Product | None = None,
                      ingredient: Ingredient | None = None, applied_at: datetime | None = None) -> PatchTest:
    """A patch test applied now (or at the given time), to be read later."""
    if patient.is_voided:
        raise ClinicError("This patient is voided.")
    if (product is None) == (ingredient is None):
        raise FieldError("substance", "Choose either a product or an ingredient.")
    applied_at = applied_at or utcnow()
    if applied_at > utcnow():
        raise FieldError("applied_at", "The patch test cannot be applied in the future.")
    test = PatchTest(patient_id=patient.id, product=product, ingredient=ingredient,
                     applied_at=applied_at, applied_by_id=by.id)
    return stored(test)


def read_patch_test(test: PatchTest, result: str, notes: str, by: User,
                    *, read_at: datetime | None = None) -> HistoryVersion | None:
    """Record the reading. A positive result adds the allergy to the history (a new version)."""
    if test.result != "pending":
        raise ClinicError("This patch test has already been read.")
    if result not in ("negative", "positive"):
        raise FieldError("result", "Choose negative or positive.")
    read_at = read_at or utcnow()
    if read_at < test.applied_at:
        raise FieldError("read_at", "A patch test is read after it was applied.")
    notes = (notes or "").strip()
    if result == "positive" and not notes:
        raise FieldError("notes", "Describe the reaction (redness, swelling, size).")
    by_id = by.id
    test.result, test.notes, test.read_at, test.read_by_id = result, notes, read_at, by_id
    if result != "positive":
        db.session.flush()
        return None
    patient = db.session.get_one(Patient, test.patient_id)
    current = current_history(patient)
    entry = history_input_from(current)
    if test.product is not None:
        substances = [link.ingredient_id for link in test.product.ingredients]
    else:
        assert test.ingredient_id is not None  # a product or an ingredient (one_substance)
        substances = [test.ingredient_id]
    entry.allergy_ingredient_ids = sorted(set(entry.allergy_ingredient_ids) | set(substances))
    if test.product is not None and not test.product.ingredients:
        entry.other_allergies = [*entry.other_allergies, f"{test.product.name} (positive patch test)"]
    entry.change_note = f"Positive patch test to {test.substance}: {notes}"
    return record_history(patient, entry, by, based_on=current.number if current else None)
