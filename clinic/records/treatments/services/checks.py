"""Every check a session passes before it is saved, one function per concern, each giving findings.

``check_session`` runs them all at once: the form's fields, the arithmetic of what was drawn and
injected, each lot's usability and stock, the treatment gate of the patient chart, and the warnings
the doctor must acknowledge (interval, skin type). Nothing is written unless all of it passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from clinic.auth.models import Role, User
from clinic.core.clock import clinic_day, clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.findings import Finding
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.inventory.services import LOT_DEPLETED, LOT_RECALLED, check_lot_usable, lot_stock
from clinic.records.catalogue.models import Area, ProtocolRange
from clinic.records.codes import WarningCode
from clinic.records.gate import GateResult, PatientFacts, check_treatment_allowed, load_patient_facts
from clinic.records.patients.models import Patient
from clinic.records.signals import lot_recalled_after
from clinic.records.treatments.models import (
    DEPTH_MM,
    NEEDLE_GAUGES,
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Course,
    TreatmentSession,
)
from clinic.records.treatments.services.courses import live_sessions
from clinic.records.treatments.services.inputs import SessionInput

# Gate reasons that mean the patient is not ready (consent, screening, contraindications, allergies) keep a
# draft anyway, so that leaving to fix one loses nothing; signing is what they block (the draft's readiness
# shows them). A voided patient has nothing to be ready for: that one refuses the draft itself.
REFUSES_A_DRAFT = frozenset({"patient_voided"})


@dataclass
class SessionCheck:
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    lots: dict[int, Lot] = field(default_factory=dict)
    facts: PatientFacts | None = None  # what the gate read, for the draft's readiness once it is saved


def decimal_in(value: object, name: str, message: str) -> Decimal:
    """A finite decimal from a form value, or the field's message."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise FieldError(name, message) from None
    if not number.is_finite():
        raise FieldError(name, message)
    return number


def ml(volume: Decimal) -> str:
    return format(volume.normalize(), "f")


def check_fields(course: Course, entry: SessionInput, today: date) -> None:
    """The session's own fields: date, preparation, technique, needle, cream, nurse, something done."""
    if course.status in ("completed", "stopped"):
        raise ClinicError(f"This course is {course.status_label.lower()}; no more sessions can be added.")
    if entry.performed_at is None:
        raise FieldError("performed_at", "Enter the date and time of the session.")
    on = clinic_day(entry.performed_at)
    if on > today:
        raise FieldError("performed_at", "A session cannot be dated in the future.")
    if on < course.starts_on:
        raise FieldError("performed_at", f"The course starts on {course.starts_on:%d %b %Y}; "
                                         "a session cannot be dated before that.")
    if entry.skin_preparation not in SKIN_PREPARATIONS:
        raise FieldError("skin_preparation", "Choose the skin preparation.")
    if entry.technique not in TECHNIQUES:
        raise FieldError("technique", "Choose the technique.")
    if entry.needle_gauge not in NEEDLE_GAUGES:
        raise FieldError("needle_gauge", "The needle gauge is 27, 30, 31 or 32G.")
    length = decimal_in(entry.needle_length_mm, "needle_length_mm", "Enter the needle length in mm.")
    if not Decimal("0") < length <= Decimal("13"):
        raise FieldError("needle_length_mm", "The needle length is above 0 and at most 13 mm.")
    if entry.anaesthetic_minutes is not None and not 0 < entry.anaesthetic_minutes <= 120:
        raise FieldError("anaesthetic_minutes", "Minutes of anaesthetic cream are between 1 and 120.")
    if entry.nurse_id is not None:
        nurse = db.session.get(User, entry.nurse_id)
        if nurse is None or nurse.role != Role.NURSE or not nurse.is_active:
            raise FieldError("nurse_id", "Choose an active nurse.")
    if not entry.preparations:
        raise FieldError("preparations", "Record what was drawn up (at least one preparation).")
    if not entry.injections:
        raise FieldError("injections", "Record at least one treated area.")


def check_preparations(entry: SessionInput, lots: dict[int, Lot]) -> tuple[dict[int, int], list[Decimal]]:
    """Each preparation's lots and volumes: units opened per lot, and millilitres drawn per preparation."""
    drawn_units: dict[int, int] = {}
    drawn_ml: list[Decimal] = []
    for p_index, preparation in enumerate(entry.preparations):
        name = f"preparations-{p_index}"
        if not preparation.components:
            raise FieldError(name, "Each preparation needs at least one lot.")
        total = Decimal("0")
        for component in preparation.components:
            lot = lots.get(component.lot_id or 0)
            if lot is None:
                raise FieldError(name, "Choose a received lot for each component.")
            if component.product_id is not None and component.product_id != lot.product_id:
                raise FieldError(name, f"Lot {lot.lot_number} is a lot of {lot.product.name}, "
                                       "not of the product chosen.")
            units = component.units or 0
            if units <= 0:
                raise FieldError(name, "Units opened must be at least 1.")
            volume = decimal_in(component.volume_ml, name, "Enter the volume drawn in ml.")
            if volume <= 0:
                raise FieldError(name, "The volume drawn must be above 0 ml.")
            available_ml = lot.product.volume_ml * units
            if volume > available_ml:
                raise FieldError(name, f"{units} × {lot.product.name} holds {ml(available_ml)} ml; "
                                       f"{ml(volume)} ml cannot be drawn.")
            drawn_units[lot.id] = drawn_units.get(lot.id, 0) + units
            total += volume
        drawn_ml.append(total)
    return drawn_units, drawn_ml


def check_injections(entry: SessionInput, drawn_ml: list[Decimal]) -> list[str]:
    """Each treated area's row, and no preparation injected beyond what it drew. Gives the areas treated."""
    injected = [Decimal("0")] * len(entry.preparations)
    areas_done = []
    for i_index, row in enumerate(entry.injections):
        name = f"injections-{i_index}"
        if db.session.get(Area, row.area_code or "") is None:
            raise FieldError(name, "Choose the area.")
        if not row.administered:
            if not (row.not_administered_reason or "").strip():
                raise FieldError(name, "Say why this planned area was not treated.")
            continue
        if row.preparation_index is None or not 0 <= row.preparation_index < len(entry.preparations):
            raise FieldError(name, "Choose which preparation was injected.")
        if row.technique and row.technique not in TECHNIQUES:
            raise FieldError(name, "Choose the technique.")
        depth = decimal_in(row.depth_mm, name, "Enter the depth in mm.")
        if not DEPTH_MM[0] <= depth <= DEPTH_MM[1]:
            raise FieldError(name, "The depth is between 0.5 and 13 mm.")
        volume = decimal_in(row.volume_ml, name, "Enter the volume injected in ml.")
        if volume <= 0:
            raise FieldError(name, "The volume injected must be above 0 ml.")
        if not row.points or row.points <= 0:
            raise FieldError(name, "Enter the number of injection points (at least 1).")
        if row.needle_gauge is not None and row.needle_gauge not in NEEDLE_GAUGES:
            raise FieldError(name, "The needle gauge is 27, 30, 31 or 32G.")
        injected[row.preparation_index] += volume
        areas_done.append(row.area_code)
    for p_index, (drawn, used) in enumerate(zip(drawn_ml, injected, strict=True)):
        if used > drawn:
            raise FieldError(f"preparations-{p_index}",
                             f"{ml(used)} ml injected from preparation {p_index + 1}, "
                             f"but only {ml(drawn)} ml was drawn.")
    return areas_done


def check_lot_for_session(lot: Lot, performed_at: datetime) -> tuple[list[Finding], list[Finding]]:
    """Why a lot cannot be used for this session, and what the doctor must acknowledge about it.

    Stock is counted apart (``check_stock``). A lot recalled only after the session took place was
    usable then: the truth is recorded, and an open recall that affects the session is a warning.
    """
    reasons = [r for r in check_lot_usable(lot, clinic_day(performed_at)).reasons if r.code != LOT_DEPLETED]
    warnings: list[Finding] = []
    if lot.recalled_at is not None and lot.recalled_at > performed_at:
        answers = [answer for _, answer in lot_recalled_after.send(lot, performed_at=performed_at)
                   if answer is not None]
        if answers:
            reasons = [r for r in reasons if r.code != LOT_RECALLED]
            warnings = [finding for answer in answers for finding in answer]
    return reasons, warnings


def check_stock(drawn_units: dict[int, int], lots: dict[int, Lot], session: TreatmentSession | None) -> list[Finding]:
    """Enough units on hand for what was opened; a draft being edited gives back the units it holds."""
    held: dict[int, int] = {}
    if session is not None:
        for preparation in session.preparations:
            for component in preparation.components:
                held[component.lot_id] = held.get(component.lot_id, 0) + component.units
    reasons = []
    for lot_id, units in drawn_units.items():
        lot = lots[lot_id]
        on_hand = lot_stock(lot).on_hand + held.get(lot_id, 0)
        if units > on_hand:
            reasons.append(Finding("stock_short", f"Only {on_hand} unit{'s' if on_hand != 1 else ''} of lot "
                                                  f"{lot.lot_number} ({lot.product.name}) are in stock; "
                                                  f"{units} cannot be used."))
    return reasons


def _other_sessions(patient: Patient, excluding: int | None) -> sa.Exists:
    """EXISTS: a live session of the patient's other than ``excluding``."""
    query = (sa.select(TreatmentSession.id).join(Course)
             .where(Course.patient_id == patient.id, TreatmentSession.voided_at.is_(None)))
    if excluding is not None:
        query = query.where(TreatmentSession.id != excluding)
    return query.exists()


def check_interval(course: Course, entry: SessionInput, session: TreatmentSession | None) -> list[Finding]:
    """Sooner than the course's minimum interval after the previous session: a warning."""
    on = clinic_day(entry.performed_at)
    # Every other session of the course counts, before, after or at the same minute (a session logged
    # late, or twice by mistake, is as close as one before it).
    others = [s for s in live_sessions(course) if session is None or s.id != session.id]
    if not others:
        return []
    nearest = min(others, key=lambda s: (abs((on - clinic_day(s.performed_at)).days), s.number))
    days = abs((on - clinic_day(nearest.performed_at)).days)
    if days >= course.interval_days:
        return []
    interval = f"the course's interval is {course.interval_days} days."
    apart = "1 day" if days == 1 else f"{days} days"
    if nearest.performed_at <= entry.performed_at:
        said = ("The same day as the last session" if days == 0 else f"Only {apart} since the last session")
    else:  # logged afterwards for an earlier time
        said = (f"The same day as session {nearest.number}, before it" if days == 0
                else f"Only {apart} before session {nearest.number}")
    return [Finding(WarningCode.INTERVAL, f"{said}; {interval}")]


def protocol_ranges(indication: str) -> dict[tuple[str, str | None], ProtocolRange]:
    """The usual ranges that apply to ``indication``, keyed by measure and area (None: any area), the
    most specific first: the indication's own row wins over the general one. One query."""
    rows = db.session.scalars(sa.select(ProtocolRange).where(
        ProtocolRange.active.is_(True),
        sa.or_(ProtocolRange.indication_code.is_(None), ProtocolRange.indication_code == indication)))
    found: dict[tuple[str, str | None], ProtocolRange] = {}
    for row in sorted(rows, key=lambda r: r.indication_code is not None):  # specific rows last, so they win
        found[(row.measure, row.area_code)] = row
    return found


def usual_range(ranges: dict[tuple[str, str | None], ProtocolRange], measure: str,
                area: str | None = None) -> ProtocolRange | None:
    return ranges.get((measure, area)) or ranges.get((measure, None))


def check_protocol(course: Course, entry: SessionInput) -> list[Finding]:
    """Depth, needle and volume a point outside the usual ranges (DESIGN.md): a warning to acknowledge,
    never a silent pass, never a refusal (the doctor may have a reason)."""
    ranges = protocol_ranges(course.indication_code)
    warnings: list[Finding] = []

    def outside(measure: str, value: Decimal, area: str | None, where: str) -> None:
        usual = usual_range(ranges, measure, area)
        if usual is None or usual.low <= value <= usual.high:
            return
        code = WarningCode.PROTOCOL.of(f"{measure}:{area}" if area else measure)
        if any(w.code == code for w in warnings):
            return
        shown = f"{value.normalize():f}" + ("G" if measure == "needle_gauge" else f" {usual.unit}")
        sentence = f"{where}{usual.label.lower()} {shown} is outside the usual {usual.text}."
        warnings.append(Finding(code, sentence[:1].upper() + sentence[1:]))  # the session's own needle: no area

    if entry.needle_gauge:
        outside("needle_gauge", Decimal(entry.needle_gauge), None, "")
    names = dict(db.session.execute(sa.select(Area.code, Area.name)).tuples().all())
    for injection in entry.injections:
        if not injection.administered:
            continue
        where = f"{names.get(injection.area_code, injection.area_code)}: "
        if injection.depth_mm is not None:
            outside("depth_mm", Decimal(injection.depth_mm), injection.area_code, where)
        if injection.needle_gauge:
            outside("needle_gauge", Decimal(injection.needle_gauge), None, where)
        if injection.volume_ml and injection.points:
            bolus = (Decimal(injection.volume_ml) / injection.points).quantize(Decimal("0.001"))
            outside("bolus_ml", bolus, injection.area_code, where)
    return warnings


def check_skin_type(patient: Patient, warnings: list[Finding]) -> list[Finding]:
    """Fitzpatrick IV–VI: a hyperpigmentation warning, unless a screening rule already gave one."""
    already = any(w.code == WarningCode.RULE.of("skin_type_dark") for w in warnings)
    if not patient.fitzpatrick or patient.fitzpatrick < 4 or already:
        return []
    return [Finding(WarningCode.HYPERPIGMENTATION,
                    f"Skin type {patient.fitzpatrick_label}: higher risk of hyperpigmentation.")]


def check_session(course: Course, entry: SessionInput, *, session: TreatmentSession | None = None,
                  today: date | None = None) -> SessionCheck:
    """Every reason the session cannot be saved, and every warning to acknowledge."""
    today = today or clinic_today()
    check_fields(course, entry, today)
    on = clinic_day(entry.performed_at)
    patient = db.session.get_one(Patient, course.patient_id)
    lot_ids = {c.lot_id for p in entry.preparations for c in p.components if c.lot_id}
    if entry.anaesthetic_lot_id:
        lot_ids.add(entry.anaesthetic_lot_id)
    lots = {lot.id: lot for lot in db.session.scalars(sa.select(Lot).where(Lot.id.in_(lot_ids)))} if lot_ids else {}
    check = SessionCheck(lots=lots)

    drawn_units, drawn_ml = check_preparations(entry, lots)
    areas_done = check_injections(entry, drawn_ml)
    for lot_id in drawn_units:
        reasons, warnings = check_lot_for_session(lots[lot_id], entry.performed_at)
        check.reasons.extend(reasons)
        check.warnings.extend(warnings)
    check.reasons.extend(check_stock(drawn_units, lots, session))
    if entry.anaesthetic_lot_id:
        cream = lots.get(entry.anaesthetic_lot_id)
        if cream is None:
            raise FieldError("anaesthetic_lot_id", "Choose a received lot of anaesthetic cream.")
        check.reasons.extend(r for r in check_lot_usable(cream, on).reasons if r.code != LOT_DEPLETED)

    products = sorted({lots[lot_id].product_id for lot_id in drawn_units})
    others = _other_sessions(patient, session.id if session else None)
    facts = check.facts = load_patient_facts(patient, sessions=others, product_ids=products)
    gate = check_treatment_allowed(patient, course.indication_code, sorted(set(areas_done)) or course.area_codes,
                                   products, on, first_treatment=not facts.treated_before, facts=facts)
    check.reasons.extend(r for r in gate.reasons if r.code in REFUSES_A_DRAFT)
    check.warnings.extend(gate.warnings)
    check.warnings.extend(check_interval(course, entry, session))
    check.warnings.extend(check_protocol(course, entry))
    check.warnings.extend(check_skin_type(patient, check.warnings))
    return check


def course_readiness(course: Course, on: date | None = None) -> GateResult:
    """What the gate says before a session of ``course`` is started: consent, screening, contraindications,
    allergies to the planned products, patch test. Shown at the top of the session form and the course."""
    patient = db.session.get_one(Patient, course.patient_id)
    products = [link.product_id for link in course.planned_products]
    facts = load_patient_facts(patient, sessions=_other_sessions(patient, None), product_ids=products)
    return check_treatment_allowed(patient, course.indication_code, course.area_codes, products,
                                   on or clinic_today(), first_treatment=not facts.treated_before, facts=facts)


def session_readiness(session: TreatmentSession, *, facts: PatientFacts | None = None) -> GateResult:
    """The gate on what a draft holds (its areas and the products of its lots, on its day), run again at
    signing because consent, screening or history may have changed since it was saved: its reasons are
    why the draft cannot be signed yet. ``facts``: what the gate read for this draft in this transaction
    (``save_draft`` has them from the checks it saved by)."""
    course = session.course
    patient = db.session.get_one(Patient, course.patient_id)
    areas = sorted({injection.area_code for injection in session.injections})
    products = sorted({component.lot.product_id for preparation in session.preparations
                       for component in preparation.components})
    if facts is None:
        facts = load_patient_facts(patient, sessions=_other_sessions(patient, session.id), product_ids=products)
    return check_treatment_allowed(patient, course.indication_code, areas or course.area_codes, products,
                                   clinic_day(session.performed_at), first_treatment=not facts.treated_before,
                                   facts=facts)
