"""Planning courses, recording, signing and amending sessions. Services flush; callers commit.

Before a session is saved ``check_session`` runs every gate at once: the
treatment gate of the patient chart, ``check_lot_usable`` for every lot, the
arithmetic of what was drawn and injected, and the warnings the doctor must
acknowledge. Nothing is written unless all of it passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.auth.models import User
from clinic.auth.services import reauthenticate
from clinic.core.errors import ClinicError, FieldError, RecordLockedError
from clinic.core.models import utcnow
from clinic.core.services import locked_in_database
from clinic.extensions import db
from clinic.inventory.models import Lot, Product
from clinic.inventory.services import check_lot_usable, lot_stock
from clinic.records.catalogue.models import Area, Indication
from clinic.records.gate import GateWarning, check_treatment_allowed
from clinic.records.patients.models import Patient
from clinic.records.treatments.models import (
    DEPTH_MM,
    NEEDLE_GAUGES,
    SIGNATURE_MEANING,
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Amendment,
    Course,
    CourseProduct,
    FollowUpTask,
    InjectionLog,
    Preparation,
    PreparationComponent,
    SessionSignature,
    TreatmentSession,
)
from clinic.tracing.models import Recall
from clinic.tracing.recalls import add_to_worklist, open_recall_of_lot, release_unaffected

# Follow-up calls after a signed session, in days; mesolift and body treatments also on day 3.
FOLLOW_UP_DAYS = {"default": (1,), "mesolift": (1, 3), "cellulite": (1, 3), "localized_fat": (1, 3)}


class SessionRefused(ClinicError):
    """The gate blocks this session; ``reasons`` says every why."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("This session cannot be saved: " + " ".join(reasons))
        self.reasons = reasons


class NeedsAcknowledgement(ClinicError):
    """Warnings the doctor has not yet acknowledged."""

    def __init__(self, warnings: list[GateWarning]) -> None:
        super().__init__("Acknowledge the warnings before saving.")
        self.warnings = warnings


# --- courses -------------------------------------------------------------------------------------


@dataclass
class CourseInput:
    indication_code: str
    area_codes: Sequence[str]
    planned_sessions: int | None = None
    interval_days: int | None = None
    product_ids: Sequence[int] = ()
    goals: str = ""
    baseline_notes: str = ""
    starts_on: date | None = None


def course_defaults(indication: Indication) -> tuple[int, int]:
    """Planned sessions and minimum interval from the catalogue (DESIGN.md)."""
    return indication.sessions_max, indication.interval_min_days


def plan_course(patient: Patient, entry: CourseInput, by: User, *, today: date | None = None) -> Course:
    today = today or date.today()
    if patient.is_voided:
        raise ClinicError("This patient was registered in error (voided).")
    indication = db.session.get(Indication, entry.indication_code or "")
    if indication is None or not indication.active:
        raise FieldError("indication_code", "Choose the indication from the list.")
    areas = sorted(set(entry.area_codes))
    if not areas:
        raise FieldError("area_codes", "Choose at least one target area.")
    known = set(db.session.scalars(sa.select(Area.code).where(Area.code.in_(areas))))
    if known != set(areas):
        raise FieldError("area_codes", "Choose areas from the list.")
    sessions, interval = course_defaults(indication)
    sessions = entry.planned_sessions or sessions
    interval = entry.interval_days or interval
    if not 1 <= sessions <= 50:
        raise FieldError("planned_sessions", "Plan between 1 and 50 sessions.")
    if not 1 <= interval <= 365:
        raise FieldError("interval_days", "The interval is between 1 and 365 days.")
    starts_on = entry.starts_on or today
    product_ids = sorted(set(entry.product_ids))
    products = list(db.session.scalars(sa.select(Product).where(Product.id.in_(product_ids)))) if product_ids else []
    if len(products) != len(product_ids):
        raise FieldError("product_ids", "Choose products from the catalogue.")
    course = Course(
        patient_id=patient.id, indication_code=indication.code, areas=" ".join(areas), planned_sessions=sessions,
        interval_days=interval, goals=(entry.goals or "").strip(), baseline_notes=(entry.baseline_notes or "").strip(),
        status="planned", created_by_id=by.id, starts_on=starts_on,
    )
    for product in products:
        course.planned_products.append(CourseProduct(product_id=product.id))
    db.session.add(course)
    db.session.flush()
    return course


def live_sessions(course: Course) -> list[TreatmentSession]:
    return [s for s in course.sessions if not s.is_voided]


def next_due(course: Course) -> date | None:
    """The next session's due date: the course start, then the last session plus the interval."""
    if course.status in ("completed", "stopped"):
        return None
    done = live_sessions(course)
    if len(done) >= course.planned_sessions:
        return None
    if not done:
        return course.starts_on
    return done[-1].performed_at.astimezone().date() + timedelta(days=course.interval_days)


def stop_course(course: Course, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "Say why the course stops early.")
    if course.status in ("completed", "stopped"):
        raise ClinicError("This course is already closed.")
    course.status, course.stop_reason = "stopped", reason
    db.session.flush()


def complete_course(course: Course) -> None:
    if course.status in ("completed", "stopped"):
        raise ClinicError("This course is already closed.")
    if any(not s.is_voided and not s.is_signed for s in course.sessions):
        raise ClinicError("Sign or void the draft sessions first.")
    course.status = "completed"
    db.session.flush()


# --- sessions ------------------------------------------------------------------------------------


@dataclass
class ComponentInput:
    lot_id: int | None
    volume_ml: Decimal | None
    units: int | None = 1
    product_id: int | None = None  # what the row says the lot is, when the form asks


@dataclass
class PreparationInput:
    label: str
    components: Sequence[ComponentInput]


@dataclass
class InjectionInput:
    area_code: str
    preparation_index: int | None
    technique: str = ""
    depth_mm: Decimal | None = None
    volume_ml: Decimal | None = None
    points: int | None = None
    needle_gauge: int | None = None
    administered: bool = True
    not_administered_reason: str = ""


@dataclass
class SessionInput:
    performed_at: datetime
    skin_preparation: str
    technique: str
    needle_gauge: int
    needle_length_mm: Decimal
    preparations: Sequence[PreparationInput]
    injections: Sequence[InjectionInput]
    nurse_id: int | None = None
    anaesthetic_lot_id: int | None = None
    anaesthetic_minutes: int | None = None
    notes: str = ""
    acknowledged: Sequence[str] = ()


@dataclass
class SessionCheck:
    reasons: list[str] = field(default_factory=list)
    warnings: list[GateWarning] = field(default_factory=list)
    lots: dict[int, Lot] = field(default_factory=dict)
    recalls: list[Recall] = field(default_factory=list)  # open recalls of lots recalled after the session


def _decimal(value: object, name: str, message: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise FieldError(name, message) from None
    if not number.is_finite():
        raise FieldError(name, message)
    return number


def _ml(volume: Decimal) -> str:
    return format(volume.normalize(), "f")


def _check_fields(course: Course, entry: SessionInput, today: date) -> None:
    if course.status in ("completed", "stopped"):
        raise ClinicError(f"This course is {course.status_label.lower()}; no more sessions can be added.")
    if entry.performed_at is None:
        raise FieldError("performed_at", "Enter the date and time of the session.")
    on = entry.performed_at.astimezone().date()
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
    length = _decimal(entry.needle_length_mm, "needle_length_mm", "Enter the needle length in mm.")
    if not Decimal("0") < length <= Decimal("13"):
        raise FieldError("needle_length_mm", "The needle length is above 0 and at most 13 mm.")
    if entry.anaesthetic_minutes is not None and not 0 < entry.anaesthetic_minutes <= 120:
        raise FieldError("anaesthetic_minutes", "Minutes of anaesthetic cream are between 1 and 120.")
    if entry.nurse_id is not None:
        nurse = db.session.get(User, entry.nurse_id)
        if nurse is None or nurse.role != "nurse" or not nurse.is_active:
            raise FieldError("nurse_id", "Choose an active nurse.")
    if not entry.preparations:
        raise FieldError("preparations", "Record what was drawn up (at least one preparation).")
    if not entry.injections:
        raise FieldError("injections", "Record at least one treated area.")


def _first_treatment(patient: Patient, excluding: int | None) -> bool:
    query = (
        sa.select(sa.func.count()).select_from(TreatmentSession).join(Course)
        .where(Course.patient_id == patient.id, TreatmentSession.voided_at.is_(None))
    )
    if excluding is not None:
        query = query.where(TreatmentSession.id != excluding)
    return db.session.scalar(query) == 0


def _recalled_after(lot: Lot, performed_at: datetime) -> tuple[Recall, bool] | None:
    """For a lot recalled only after the session took place: its open recall, and whether the session is
    affected by it (a storage-window recall spares sessions before the window)."""
    if lot.recalled_at is None or lot.recalled_at <= performed_at:
        return None
    found = open_recall_of_lot(lot)
    if found is None:
        return None
    recall, link = found
    return recall, link.affected_from is None or performed_at >= link.affected_from


def check_session(course: Course, entry: SessionInput, *, session: TreatmentSession | None = None,
                  today: date | None = None) -> SessionCheck:
    """Every reason the session cannot be saved, and every warning to acknowledge."""
    today = today or date.today()
    _check_fields(course, entry, today)
    on = entry.performed_at.astimezone().date()
    check = SessionCheck()
    patient = db.session.get(Patient, course.patient_id)

    lot_ids = {c.lot_id for p in entry.preparations for c in p.components if c.lot_id}
    if entry.anaesthetic_lot_id:
        lot_ids.add(entry.anaesthetic_lot_id)
    lots = {lot.id: lot for lot in db.session.scalars(sa.select(Lot).where(Lot.id.in_(lot_ids)))} if lot_ids else {}
    check.lots = lots
    drawn_units: dict[int, int] = {}
    drawn_ml: list[Decimal] = []
    for p_index, preparation in enumerate(entry.preparations):
        if not preparation.components:
            raise FieldError(f"preparations-{p_index}", "Each preparation needs at least one lot.")
        total = Decimal("0")
        for component in preparation.components:
            lot = lots.get(component.lot_id or 0)
            if lot is None:
                raise FieldError(f"preparations-{p_index}", "Choose a received lot for each component.")
            if component.product_id is not None and component.product_id != lot.product_id:
                raise FieldError(f"preparations-{p_index}",
                                 f"Lot {lot.lot_number} is a lot of {lot.product.name}, not of the product chosen.")
            units = component.units or 0
            if units <= 0:
                raise FieldError(f"preparations-{p_index}", "Units opened must be at least 1.")
            volume = _decimal(component.volume_ml, f"preparations-{p_index}", "Enter the volume drawn in ml.")
            if volume <= 0:
                raise FieldError(f"preparations-{p_index}", "The volume drawn must be above 0 ml.")
            available_ml = lot.product.volume_ml * units
            if volume > available_ml:
                raise FieldError(f"preparations-{p_index}",
                                 f"{units} × {lot.product.name} holds {_ml(available_ml)} ml; {_ml(volume)} ml cannot be drawn.")
            drawn_units[lot.id] = drawn_units.get(lot.id, 0) + units
            total += volume
        drawn_ml.append(total)

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
        depth = _decimal(row.depth_mm, name, "Enter the depth in mm.")
        if not DEPTH_MM[0] <= depth <= DEPTH_MM[1]:
            raise FieldError(name, "The depth is between 0.5 and 13 mm.")
        volume = _decimal(row.volume_ml, name, "Enter the volume injected in ml.")
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
                             f"{_ml(used)} ml injected from preparation {p_index + 1}, but only {_ml(drawn)} ml was drawn.")

    # Stock: a draft being edited gives back the units it already holds.
    held: dict[int, int] = {}
    if session is not None:
        for preparation in session.preparations:
            for component in preparation.components:
                held[component.lot_id] = held.get(component.lot_id, 0) + component.units
    for lot_id, units in drawn_units.items():
        lot = lots[lot_id]
        usable = check_lot_usable(lot, on)
        reasons = [r for r in usable.reasons if not r.startswith("No units")]
        recalled_after = _recalled_after(lot, entry.performed_at)
        if recalled_after is not None:
            # The lot was usable when the session took place: record the truth, and put the patient on the list.
            reasons.remove(f"Lot {lot.lot_number} has been recalled.")
            recall, affected = recalled_after
            if affected:
                check.recalls.append(recall)
                check.warnings.append(GateWarning(
                    f"recalled_after:{lot.id}",
                    f"Lot {lot.lot_number} was recalled after this session (recall "
                    f"{recall.reference or '#' + str(recall.id)}); the patient is kept on (or added to) its "
                    "worklist."))
        check.reasons.extend(reasons)
        on_hand = lot_stock(lot).on_hand + held.get(lot_id, 0)
        if units > on_hand:
            check.reasons.append(f"Only {on_hand} unit{'s' if on_hand != 1 else ''} of lot {lot.lot_number} "
                                 f"({lot.product.name}) are in stock; {units} cannot be used.")
    if entry.anaesthetic_lot_id:
        cream = lots.get(entry.anaesthetic_lot_id)
        if cream is None:
            raise FieldError("anaesthetic_lot_id", "Choose a received lot of anaesthetic cream.")
        check.reasons.extend(r for r in check_lot_usable(cream, on).reasons if not r.startswith("No units"))

    products = sorted({lots[lot_id].product_id for lot_id in drawn_units})
    gate = check_treatment_allowed(patient, course.indication_code, sorted(set(areas_done)) or course.area_codes,
                                   products, on, first_treatment=_first_treatment(patient, session.id if session else None))
    check.reasons.extend(gate.reasons)
    check.warnings.extend(gate.warnings)

    previous = [s for s in live_sessions(course) if session is None or s.id != session.id]
    earlier = [s for s in previous if s.performed_at < entry.performed_at]
    if earlier:
        last = max(s.performed_at for s in earlier).astimezone().date()
        if (on - last).days < course.interval_days:
            check.warnings.append(GateWarning(
                "interval", f"Only {(on - last).days} days since the last session; the course's interval is "
                            f"{course.interval_days} days."))
    if patient.fitzpatrick and patient.fitzpatrick >= 4 and not any(
            w.code == "rule:skin_type_dark" for w in check.warnings):
        check.warnings.append(GateWarning(
            "hyperpigmentation", f"Skin type {patient.fitzpatrick_label}: higher risk of hyperpigmentation."))
    return check


def _build_children(session: TreatmentSession, entry: SessionInput) -> None:
    preparations = []
    for preparation in entry.preparations:
        row = Preparation(label=(preparation.label or "").strip()[:80] or f"Preparation {len(preparations) + 1}")
        for component in preparation.components:
            row.components.append(PreparationComponent(
                lot_id=component.lot_id, units=component.units or 1, volume_ml=Decimal(str(component.volume_ml))))
        session.preparations.append(row)
        preparations.append(row)
    for injection in entry.injections:
        if injection.administered:
            session.injections.append(InjectionLog(
                area_code=injection.area_code, preparation=preparations[injection.preparation_index],
                technique=injection.technique or entry.technique, depth_mm=Decimal(str(injection.depth_mm)),
                volume_ml=Decimal(str(injection.volume_ml)), points=injection.points,
                needle_gauge=injection.needle_gauge,
            ))
        else:
            session.injections.append(InjectionLog(
                area_code=injection.area_code, technique=injection.technique or entry.technique,
                administered=False, not_administered_reason=injection.not_administered_reason.strip(),
            ))


def save_session(course: Course, entry: SessionInput, doctor: User, *, session: TreatmentSession | None = None,
                 today: date | None = None) -> TreatmentSession:
    """Create a draft session, or replace a draft's content. Refused with every reason, or saved whole."""
    if doctor.role != "doctor":
        raise ClinicError("Only a doctor records sessions.")
    if session is not None and (session.is_signed or session.is_locked):
        raise RecordLockedError("This session is signed; corrections are amendments.")
    if session is not None and session.is_voided:
        raise ClinicError("This session is voided.")
    check = check_session(course, entry, session=session, today=today)
    if check.reasons:
        raise SessionRefused(check.reasons)
    missing = [w for w in check.warnings if w.code not in set(entry.acknowledged)]
    if missing:
        raise NeedsAcknowledgement(check.warnings)
    values = dict(
        performed_at=entry.performed_at, nurse_id=entry.nurse_id, skin_preparation=entry.skin_preparation,
        anaesthetic_lot_id=entry.anaesthetic_lot_id or None, anaesthetic_minutes=entry.anaesthetic_minutes,
        technique=entry.technique, needle_gauge=entry.needle_gauge,
        needle_length_mm=Decimal(str(entry.needle_length_mm)), notes=(entry.notes or "").strip(),
        acknowledged_warnings=" ".join(sorted(w.code for w in check.warnings)),
    )
    editing = session is not None
    if session is None:
        number = (db.session.scalar(sa.select(sa.func.max(TreatmentSession.number))
                                    .where(TreatmentSession.course_id == course.id)) or 0) + 1
        session = TreatmentSession(course=course, number=number, doctor_id=doctor.id, **values)
        db.session.add(session)
    else:
        for key, value in values.items():
            if getattr(session, key) != value:
                setattr(session, key, value)
        for injection in list(session.injections):
            db.session.delete(injection)
        for preparation in list(session.preparations):
            for component in list(preparation.components):
                db.session.delete(component)
            db.session.delete(preparation)
        session.injections.clear()
        session.preparations.clear()
        db.session.flush()
    _build_children(session, entry)
    for recall in check.recalls:
        add_to_worklist(recall, course.patient_id)
    if editing:
        db.session.flush()
        release_unaffected(course.patient_id, doctor, f"session {session.number}'s lots were corrected")
    if course.status == "planned":
        course.status = "active"
    db.session.flush()
    return session


# --- signature, lock and amendments ---------------------------------------------------------------


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(utcnow().tzinfo).isoformat()
    return str(value)


def canonical_content(session: TreatmentSession) -> bytes:
    """The signed content as canonical JSON: what the digest covers."""
    body = {
        "session": {key: _text(getattr(session, key)) for key in (
            "id", "course_id", "number", "performed_at", "doctor_id", "nurse_id", "skin_preparation",
            "anaesthetic_lot_id", "anaesthetic_minutes", "technique", "needle_gauge", "needle_length_mm",
            "notes", "acknowledged_warnings")},
        "preparations": [
            {"id": p.id, "label": p.label,
             "components": [{"lot_id": c.lot_id, "units": c.units, "volume_ml": _text(c.volume_ml)}
                            for c in sorted(p.components, key=lambda c: c.id)]}
            for p in sorted(session.preparations, key=lambda p: p.id)
        ],
        "injections": [
            {key: _text(getattr(i, key)) for key in (
                "id", "area_code", "preparation_id", "technique", "depth_mm", "volume_ml", "points",
                "needle_gauge", "administered", "not_administered_reason")}
            for i in sorted(session.injections, key=lambda i: i.id)
        ],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def content_digest(session: TreatmentSession) -> str:
    return hashlib.sha256(canonical_content(session)).hexdigest()


def sign_session(session: TreatmentSession, doctor: User, password: str, code: str | None = None) -> SessionSignature:
    """Password re-entry, digest, lock, and the follow-up calls (SECURITY.md A5, T5, T6)."""
    if session.is_voided:
        raise ClinicError("A voided session cannot be signed.")
    if session.is_signed:
        raise ClinicError("This session is already signed.")
    if doctor.id != session.doctor_id:
        raise ClinicError("Only the doctor who performed the session signs it.")
    reauthenticate(doctor, password, code, purpose="sign session")
    return apply_signature(session, doctor)


def apply_signature(session: TreatmentSession, doctor: User) -> SessionSignature:
    """Sign after the caller re-authenticated the doctor (``sign_session``) or for seeded demo data."""
    signature = SessionSignature(session=session, signer_id=doctor.id, printed_name=doctor.full_name,
                                 meaning=SIGNATURE_MEANING, content_sha256=content_digest(session))
    db.session.add(signature)
    session.locked_at = utcnow()
    course = session.course
    performed_on = session.performed_at.astimezone().date()
    for days in FOLLOW_UP_DAYS.get(course.indication_code, FOLLOW_UP_DAYS["default"]):
        db.session.add(FollowUpTask(session=session, patient_id=course.patient_id, kind="phone_check",
                                    due_on=performed_on + timedelta(days=days)))
    db.session.flush()
    return signature


def signature_intact(session: TreatmentSession) -> bool:
    """Recompute the digest from what the database holds now."""
    return session.signature is not None and session.signature.content_sha256 == content_digest(session)


AMENDABLE_SESSION_FIELDS = {"notes": "Notes", "skin_preparation": "Skin preparation", "technique": "Technique",
                            "needle_gauge": "Needle gauge", "needle_length_mm": "Needle length (mm)",
                            "anaesthetic_minutes": "Anaesthetic cream (minutes)"}
AMENDABLE_INJECTION_FIELDS = {"depth_mm": "Depth (mm)", "volume_ml": "Volume (ml)", "points": "Points",
                              "technique": "Technique"}


def current_value(session: TreatmentSession, target: str, name: str) -> str:
    """The value as amended (latest amendment wins), else as signed."""
    for amendment in reversed(session.amendments):
        if amendment.target == target and amendment.field == name:
            return amendment.new_value
    if target == "session":
        return _text(getattr(session, name)) or ""
    injection = next(i for i in session.injections if f"injection:{i.id}" == target)
    return _text(getattr(injection, name)) or ""


def amend_session(session: TreatmentSession, doctor: User, target: str, name: str, new_value: str, reason: str,
                  password: str, code: str | None = None) -> Amendment:
    """A correction beside the signed original: field, old and new value, reason, re-authentication."""
    if not session.is_signed:
        raise ClinicError("A draft is edited, not amended.")
    if doctor.role != "doctor":
        raise ClinicError("Only a doctor amends a session.")
    reason = (reason or "").strip()
    if not reason:
        raise FieldError("reason", "Say why the record is corrected.")
    new_value = (new_value or "").strip()
    if target == "session":
        if name not in AMENDABLE_SESSION_FIELDS:
            raise FieldError("field", "Choose a field to correct.")
    else:
        if not any(f"injection:{i.id}" == target for i in session.injections) or name not in AMENDABLE_INJECTION_FIELDS:
            raise FieldError("field", "Choose a field to correct.")
    new_value = _code_for_label(name, new_value)
    _check_amended_value(name, new_value)
    old = current_value(session, target, name)
    if name == "volume_ml" and target != "session":
        _check_amended_volume(session, target, Decimal(new_value))
    if old == new_value:
        raise FieldError("new_value", "The new value is the same as the current one.")
    reauthenticate(doctor, password, code, purpose="amend session")
    amendment = Amendment(session=session, target=target, field=name, old_value=old, new_value=new_value,
                          reason=reason, amended_by_id=doctor.id)
    db.session.add(amendment)
    db.session.flush()
    return amendment


def _code_for_label(name: str, value: str) -> str:
    """Doctors type what they see ("Papule"); the record keeps the code ("papule")."""
    labels = {"technique": TECHNIQUES, "skin_preparation": SKIN_PREPARATIONS}.get(name)
    if labels:
        for code, label in labels.items():
            if value.casefold() in (code.casefold(), label.casefold()):
                return code
    return value


def _check_amended_volume(session: TreatmentSession, target: str, new_volume: Decimal) -> None:
    """An amended volume still cannot exceed what its preparation drew."""
    injection = next(i for i in session.injections if f"injection:{i.id}" == target)
    preparation = injection.preparation
    total = Decimal("0")
    for other in session.injections:
        if other.preparation_id != preparation.id or not other.administered:
            continue
        key = f"injection:{other.id}"
        total += new_volume if key == target else Decimal(current_value(session, key, "volume_ml"))
    if total > preparation.drawn_ml:
        raise FieldError("new_value", f"{_ml(total)} ml would then be injected from {preparation.label}, "
                                      f"but only {_ml(preparation.drawn_ml)} ml was drawn.")


def _check_amended_value(name: str, value: str) -> None:
    if name == "notes":
        return
    if name == "skin_preparation" and value not in SKIN_PREPARATIONS:
        raise FieldError("new_value", "Choose one of: " + ", ".join(SKIN_PREPARATIONS) + ".")
    if name == "technique" and value not in TECHNIQUES:
        raise FieldError("new_value", "Choose one of: " + ", ".join(TECHNIQUES) + ".")
    if name == "needle_gauge" and value not in {str(g) for g in NEEDLE_GAUGES}:
        raise FieldError("new_value", "The needle gauge is 27, 30, 31 or 32.")
    if name in ("needle_length_mm", "depth_mm", "volume_ml"):
        number = _decimal(value, "new_value", "Enter a number.")
        limits = {"needle_length_mm": (Decimal("0.1"), Decimal("13")), "depth_mm": DEPTH_MM,
                  "volume_ml": (Decimal("0.01"), Decimal("100"))}[name]
        if not limits[0] <= number <= limits[1]:
            raise FieldError("new_value", f"Enter a value between {limits[0]} and {limits[1]}.")
    if name in ("points", "anaesthetic_minutes"):
        if not value.isdigit() or not 1 <= int(value) <= 1000:
            raise FieldError("new_value", "Enter a whole number above 0.")


def void_session(session: TreatmentSession, by: User, reason: str) -> None:
    """A draft by any doctor; a signed session only by its own doctor. It stays in traces."""
    from clinic.core.services import void_record

    if session.is_signed and by.id != session.doctor_id:
        raise ClinicError("Only the doctor who signed this session can void it.")
    if by.role != "doctor":
        raise ClinicError("Only a doctor voids a session.")
    void_record(session, by, reason)
    db.session.flush()
    release_unaffected(session.course.patient_id, by, f"session {session.number} was voided ({reason})")


# --- the lock guard for a signed session's rows ----------------------------------------------------


def _session_of(obj: object) -> TreatmentSession | None:
    if isinstance(obj, (InjectionLog, Preparation)):
        return obj.session
    if isinstance(obj, PreparationComponent):
        return obj.preparation.session if obj.preparation is not None else None
    return None


def _guard_signed_children(session: Session, flush_context: object, instances: object) -> None:
    """Preparations and injection logs of a signed session are as locked as the session."""
    for obj in [*session.new, *session.dirty, *session.deleted]:
        owner = _session_of(obj)
        if owner is None:
            continue
        if locked_in_database(session, owner) is not None and (
                obj in session.deleted or obj in session.new or session.is_modified(obj)):
            raise RecordLockedError("This session is signed and locked; corrections are amendments.")


def register_guards() -> None:
    if not event.contains(Session, "before_flush", _guard_signed_children):
        event.listen(Session, "before_flush", _guard_signed_children)


# --- aftercare ------------------------------------------------------------------------------------


@dataclass
class AftercareItem:
    text: str
    from_time: datetime | None = None


def aftercare(performed_at: datetime) -> list[AftercareItem]:
    """DESIGN.md's aftercare rules as real dates, counted from the end of the session (local time).

    Where the source gives a range (3–5 days), the longer end is used: the sheet errs on the safe side.
    """
    local = performed_at.astimezone()
    return [
        AftercareItem("No makeup on the treated area until", local + timedelta(hours=24)),
        AftercareItem("Do not wet the treated area until", local + timedelta(hours=24)),
        AftercareItem("No strenuous exercise until", local + timedelta(hours=24)),
        AftercareItem("No swimming pool until", local + timedelta(hours=48)),
        AftercareItem("No sauna, Turkish bath or steam bath until", local + timedelta(days=5)),
        AftercareItem("Massage or lymphatic drainage of the area only from", local + timedelta(days=5)),
        AftercareItem("Retinol, AHA/BHA acids and vitamin C serums only from", local + timedelta(days=7)),
        AftercareItem("Use sunscreen SPF 50 and avoid direct sun throughout the course"),
    ]
