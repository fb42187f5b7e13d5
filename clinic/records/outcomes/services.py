"""Recording what a course achieved: measures at baseline, at a session, at the end and at maintenance
visits; corrections that void and replace; the measure catalogue an admin keeps."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.core.errors import ClinicError, FieldError, FieldErrors
from clinic.core.services import check_version, required_text, stored, void_record
from clinic.extensions import db
from clinic.records.catalogue.models import Indication
from clinic.records.outcomes.models import (
    GAIS,
    GAIS_SCALE,
    MEASURE_KINDS,
    TIMEPOINTS,
    MeasureDefinition,
    MeasureIndication,
    OutcomeMeasure,
)
from clinic.records.treatments.models import Course, TreatmentSession

TEXT_MAX = 2000
SITE_MAX = 200
# A number, then perhaps the unit it was typed in: "72.5", "72,5 cm", "140 hairs/cm2".
_NUMBER = re.compile(r"\s*([+-]?\d+(?:[.,]\d+)?)\s*(.*?)\s*")
# Spellings of a unit a keyboard gives for the one the catalogue writes.
_UNIT_SPELLINGS = {"²": "2", "^2": "2", " ": "", "hairs/cm2": "hairs/cm2", "/cm2": "hairs/cm2"}


def _unit_key(unit: str) -> str:
    text = unit.lower()
    for spelled, meant in _UNIT_SPELLINGS.items():
        text = text.replace(spelled, meant)
    return text.rstrip(".")


def _same_unit(typed: str, unit: str) -> bool:
    typed_key, unit_key = _unit_key(typed), _unit_key(unit)
    # "140" alone, "3 grade" or "3 grades", "8 /10": the catalogue's unit.
    return typed_key in ("", unit_key, unit_key + "s", unit_key.rstrip("s")) or typed_key == "/" + unit_key


@dataclass
class Reading:
    """A value checked against its measure's definition, ready to store."""

    number: Decimal | None = None
    text: str | None = None


def read_value(definition: MeasureDefinition, raw: str, field_name: str) -> Reading:
    """The typed value as the definition allows it, or the reason it is refused (beside ``field_name``)."""
    typed = (raw or "").strip()
    if definition.kind == "gais":
        if typed not in GAIS:
            raise FieldError(field_name, f"{definition.name}: choose a grade of the scale.")
        return Reading(text=typed)
    if definition.kind == "text":
        if len(typed) > TEXT_MAX:
            raise FieldError(field_name, f"Keep {definition.name.lower()} under {TEXT_MAX} characters.")
        return Reading(text=typed)
    match = _NUMBER.fullmatch(typed)
    if match is None:
        raise FieldError(field_name, f"{definition.name}: give a number in {definition.unit or 'its unit'}, "
                                     f"for example {definition.range_text.split('–')[0]}.")
    number_text, unit = match.groups()
    if not _same_unit(unit, definition.unit):
        raise FieldError(field_name, f"{definition.name} is recorded in {definition.unit}, not “{unit}”: "
                                     f"give the value in {definition.unit}.")
    try:
        number = Decimal(number_text.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise FieldError(field_name, f"{definition.name}: give a number.") from None
    places = -int(number.as_tuple().exponent)
    if places > definition.decimals:
        allowed = "no decimals" if definition.decimals == 0 else f"at most {definition.decimals} decimal" + (
            "s" if definition.decimals > 1 else "")
        raise FieldError(field_name, f"{definition.name} is given with {allowed}.")
    low, high = definition.min_value, definition.max_value
    if (low is not None and number < low) or (high is not None and number > high):
        raise FieldError(field_name, f"{definition.name} must be within {definition.range_text}.")
    return Reading(number=number)


@dataclass
class MeasureValueInput:
    code: str
    value: str
    site: str = ""


@dataclass
class MeasuresInput:
    timepoint: str
    measured_on: date | None
    session_id: int | None = None
    values: Sequence[MeasureValueInput] = field(default_factory=list)


def measures_for(indication_code: str) -> list[MeasureDefinition]:
    """The measures in use for an indication, in the catalogue's order."""
    definitions = db.session.scalars(sa.select(MeasureDefinition).where(MeasureDefinition.active.is_(True))
                                     .order_by(MeasureDefinition.sort_order, MeasureDefinition.name))
    return [d for d in definitions if d.applies_to(indication_code)]


def _session_of(course: Course, session_id: int | None, timepoint: str) -> TreatmentSession | None:
    if session_id is None:
        if timepoint == "session":
            raise FieldError("session_id", "Choose the session these measures were taken at.")
        return None
    session = next((s for s in course.sessions if s.id == session_id), None)
    if session is None:
        raise FieldError("session_id", "Choose a session of this course.")
    if session.is_voided:
        raise FieldError("session_id", "This session was voided (entered in error): choose another.")
    return session


def check_occasion(course: Course, timepoint: str, session_id: int | None, day: date | None, *, today: date,
                   day_field: str = "measured_on") -> TreatmentSession | None:
    """When a measure or photo was taken: a known timepoint, a live session of this course, a day within the
    course and not in the future. Gives the session, if one was named; refuses every wrong box at once."""
    if course.patient.is_voided:
        raise ClinicError("This patient was registered in error (voided).")
    problems: list[FieldError] = []
    session = None
    if timepoint not in TIMEPOINTS:
        problems.append(FieldError("timepoint", "Choose when it was taken."))
    elif timepoint == "maintenance" and course.status not in ("completed", "stopped"):
        problems.append(FieldError("timepoint", "Maintenance visits come after the course is closed."))
    try:
        session = _session_of(course, session_id, timepoint)
    except FieldError as error:
        problems.append(error)
    if day is None:
        problems.append(FieldError(day_field, "Give the day it was taken."))
    elif day < course.starts_on:
        problems.append(FieldError(day_field, f"This is before the course started ({course.starts_on:%d %b %Y})."))
    elif day > today:
        problems.append(FieldError(day_field, "This day is in the future."))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise FieldErrors(problems)
    return session


def record_measures(course: Course, by: User, entry: MeasuresInput, *, today: date) -> list[OutcomeMeasure]:
    """Every value typed for one occasion, stored together or not at all. Every wrong box is named at once
    (``FieldErrors``), each beside its field, not one per try."""
    problems: list[FieldError] = []
    session = None
    try:
        session = check_occasion(course, entry.timepoint, entry.session_id, entry.measured_on, today=today)
    except FieldErrors as errors:
        problems.extend(errors.errors)
    except FieldError as error:
        problems.append(error)
    definitions = {d.code: d for d in db.session.scalars(sa.select(MeasureDefinition))}
    indication = course.indication
    made = []
    for value in entry.values:
        field_name = f"value_{value.code}"
        definition = definitions.get(value.code)
        try:
            if definition is None or not definition.active or not definition.applies_to(course.indication_code):
                name = definition.name if definition is not None else "This measure"
                raise FieldError(field_name, f"{name} is not measured for {indication.name.lower()}.")
            if not (value.value or "").strip():
                continue
            if definition.kind == "gais" and entry.timepoint == "baseline":
                raise FieldError(field_name, f"{definition.name} compares with the baseline: it is not given at it.")
            reading = read_value(definition, value.value, field_name)
        except FieldError as error:
            problems.append(error)
            continue
        if len(value.site or "") > SITE_MAX:
            problems.append(FieldError(f"site_{value.code}",
                                       f"Keep where it was measured under {SITE_MAX} characters."))
            continue
        made.append(OutcomeMeasure(
            course_id=course.id, patient_id=course.patient_id, session_id=session.id if session else None,
            definition=definition, definition_code=definition.code, timepoint=entry.timepoint,
            measured_on=entry.measured_on, value_number=reading.number, value_text=reading.text,
            unit=definition.unit if definition.is_number else "",
            scale=GAIS_SCALE if definition.kind == "gais" else "",
            site=(value.site or "").strip(), recorded_by_id=by.id))
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise FieldErrors(problems)
    if not made:
        raise ClinicError("Enter at least one measure.")
    for measure in made:
        stored(measure)
    return made


def correct_measure(measure: OutcomeMeasure, by: User, *, value: str, site: str, reason: str,
                    expected_version: int | str | None = None) -> OutcomeMeasure:
    """A wrong value is voided with the reason and a new one takes its place; both stay on record."""
    if expected_version is not None:
        check_version(measure, expected_version)
    if measure.is_voided:
        raise ClinicError("This value was voided: correct the value that replaced it.")
    reason = required_text(reason, "reason", "Say why the value is corrected.")
    reading = read_value(measure.definition, value, "value")
    if reading.text == "" and measure.definition.kind == "text":
        raise FieldError("value", "Write the corrected text, or void the value instead.")
    if len(site or "") > SITE_MAX:
        raise FieldError("site", f"Keep where it was measured under {SITE_MAX} characters.")
    void_record(measure, by, f"Corrected: {reason}")
    return stored(OutcomeMeasure(
        course_id=measure.course_id, patient_id=measure.patient_id, session_id=measure.session_id,
        definition_code=measure.definition_code, timepoint=measure.timepoint, measured_on=measure.measured_on,
        value_number=reading.number, value_text=reading.text, unit=measure.unit, scale=measure.scale,
        site=(site or "").strip(), replaces_id=measure.id, recorded_by_id=by.id))


# --- the catalogue (admins) ----------------------------------------------------------------------


@dataclass
class DefinitionInput:
    code: str
    name: str
    kind: str = "number"
    unit: str = ""
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    decimals: int = 0
    higher_is_better: bool = True
    how_to_measure: str = ""
    every_indication: bool = False
    indication_codes: Sequence[str] = ()
    sort_order: int = 100
    active: bool = True


def _is_used(definition: MeasureDefinition) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(OutcomeMeasure.definition_code == definition.code))) \
        is True


def save_definition(definition: MeasureDefinition | None, entry: DefinitionInput) -> MeasureDefinition:
    """Add a measure or change one. A measure already recorded keeps its code, kind and unit: the values
    on record were taken in them."""
    code = (entry.code or "").strip().lower()
    if definition is None:
        if not re.fullmatch(r"[a-z0-9_]{1,40}", code):
            raise FieldError("code", "Use lower-case letters, digits and _ only.")
        if db.session.get(MeasureDefinition, code) is not None:
            raise FieldError("code", "Another measure has this code.")
        definition = MeasureDefinition(code=code)
    elif _is_used(definition) and (entry.kind != definition.kind or (entry.unit or "").strip() != definition.unit):
        raise FieldError("unit", "Values are already recorded in this unit: add a new measure instead.")
    if entry.kind not in MEASURE_KINDS:
        raise FieldError("kind", "Choose how the measure is given.")
    unit = (entry.unit or "").strip()
    if entry.kind == "number":
        if not unit:
            raise FieldError("unit", "Give the unit (cm, kg, hairs/cm², grade…).")
        if entry.min_value is None or entry.max_value is None:
            raise FieldError("max_value", "Give the lowest and the highest value that can be right.")
        if entry.max_value <= entry.min_value:
            raise FieldError("max_value", "The highest value must be above the lowest.")
        if not 0 <= entry.decimals <= 3:
            raise FieldError("decimals", "Between 0 and 3 decimals.")
    chosen = sorted(set(entry.indication_codes))
    if not entry.every_indication:
        if not chosen:
            raise FieldError("indication_codes", "Choose the indications it is measured for, or every indication.")
        known = set(db.session.scalars(sa.select(Indication.code).where(Indication.code.in_(chosen))))
        if known != set(chosen):
            raise FieldError("indication_codes", "Choose indications from the list.")
    definition.name = required_text(entry.name, "name", "Give the measure's name.")
    definition.kind = entry.kind
    definition.unit = unit if entry.kind == "number" else ""
    numeric = entry.kind == "number"
    definition.min_value = entry.min_value if numeric else None
    definition.max_value = entry.max_value if numeric else None
    definition.decimals = entry.decimals if numeric else 0
    definition.higher_is_better, definition.how_to_measure = bool(entry.higher_is_better), \
        (entry.how_to_measure or "").strip()
    definition.every_indication = bool(entry.every_indication)
    definition.sort_order, definition.active = entry.sort_order, bool(entry.active)
    wanted = [] if entry.every_indication else chosen
    kept = {link.indication_code: link for link in definition.indication_links}
    definition.indication_links = [kept.get(c) or MeasureIndication(indication_code=c) for c in wanted]
    return stored(definition)
