"""Opening a recall, working its worklist, and closing it. Services flush; callers commit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import contains_eager, selectinload

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.core.errors import ClinicError, FieldError
from clinic.core.forms import local_to_utc
from clinic.core.models import utcnow
from clinic.extensions import db
from clinic.inventory.models import Lot, LotReceipt, Product, StorageLocation
from clinic.records.catalogue.models import Area
from clinic.records.treatments.models import (
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)
from clinic.records.treatments.queries import up_to_courses
from clinic.tracing.models import (
    CLOSED_ROW_STATUSES,
    CONTACT_METHODS,
    NEEDS_PATIENT_STATUSES,
    RECALL_SOURCES,
    Recall,
    RecallContact,
    RecallLot,
    RecallPatient,
)


class RecallOpenedTwice(ClinicError):
    """Two clicks at the same moment: the other one opened the recall (see ``just_opened``)."""


@dataclass
class RecallInput:
    reason: str
    source: str
    reference: str = ""
    notice_date: date | None = None
    lot_ids: Sequence[int] = ()
    location_id: int | None = None
    window_start: date | None = None
    window_end: date | None = None


def lots_in_location(location_id: int, start: date, end: date) -> list[Lot]:
    """Lots with units received into a location on or before the window's end that had not expired before it."""
    return list(db.session.scalars(
        sa.select(Lot).where(Lot.id.in_(
            sa.select(LotReceipt.lot_id).where(LotReceipt.storage_location_id == location_id,
                                               LotReceipt.received_on <= end, LotReceipt.voided_at.is_(None))
        ), Lot.expiry_date >= start).order_by(Lot.id)
    ))


def _affected(lot_from: dict[int, datetime | None]) -> sa.ColumnElement[bool]:
    """Sessions that used one of the lots, from its affected_from on where it has one."""
    return sa.or_(*(
        sa.and_(PreparationComponent.lot_id == lot_id, TreatmentSession.performed_at >= since)
        if since is not None else PreparationComponent.lot_id == lot_id
        for lot_id, since in lot_from.items()
    ))


def affected_patient_ids(lot_from: dict[int, datetime | None]) -> list[int]:
    """Patients with a session (not voided) that used any of these lots while affected."""
    if not lot_from:
        return []
    return list(db.session.scalars(
        sa.select(Course.patient_id).distinct()
        .join(TreatmentSession, TreatmentSession.course_id == Course.id)
        .join(Preparation, Preparation.session_id == TreatmentSession.id)
        .join(PreparationComponent, PreparationComponent.preparation_id == Preparation.id)
        .where(_affected(lot_from), TreatmentSession.voided_at.is_(None))
        .order_by(Course.patient_id)
    ))


@dataclass
class RecallPlan:
    """What opening a recall will do, shown for confirmation before anything is written."""

    lots: list[Lot]
    affected_from: dict[int, datetime | None]
    patient_ids: list[int]


def plan_recall(entry: RecallInput, *, today: date | None = None) -> RecallPlan:
    """Check a recall and find its lots and patients; writes nothing."""
    today = today or clinic_today()
    reason = (entry.reason or "").strip()
    if not reason:
        raise FieldError("reason", "Give the reason for the recall.")
    if entry.source not in RECALL_SOURCES:
        raise FieldError("source", "Choose where the recall comes from.")
    notice = entry.notice_date or today
    if notice > today:
        raise FieldError("notice_date", "The notice date cannot be in the future.")
    lots = list(db.session.scalars(sa.select(Lot).where(Lot.id.in_(list(entry.lot_ids))))) if entry.lot_ids else []
    if len(lots) != len(set(entry.lot_ids)):
        raise FieldError("lot_ids", "Choose lots from the register.")
    affected_from: dict[int, datetime | None] = {lot.id: None for lot in lots}
    by_location = entry.location_id is not None or entry.window_start is not None or entry.window_end is not None
    if by_location:
        if entry.location_id is None or entry.window_start is None or entry.window_end is None:
            raise FieldError("location_id", "A recall by location needs the location and both window dates.")
        if db.session.get(StorageLocation, entry.location_id) is None:
            raise FieldError("location_id", "Choose a storage location.")
        if entry.window_end < entry.window_start:
            raise FieldError("window_end", "The window ends before it starts.")
        if entry.window_end > today:
            raise FieldError("window_end", "The window cannot end in the future: recall what has happened.")
        window_opens = local_to_utc(datetime.combine(entry.window_start, time.min))
        for lot in lots_in_location(entry.location_id, entry.window_start, entry.window_end):
            if lot.id not in affected_from and lot.recalled_at is None:
                lots.append(lot)
                affected_from[lot.id] = window_opens
    if not lots:
        raise FieldError("lot_ids", "Choose the lots to recall, or a storage location and time window "
                                    "that held lots.")
    already = [lot.lot_number for lot in lots if lot.recalled_at is not None]
    if already:
        raise FieldError("lot_ids", f"Already recalled: {', '.join(already)}. A recall is final; "
                                    "it cannot be opened twice.")
    return RecallPlan(lots, affected_from, affected_patient_ids(affected_from))


def plan_key(plan: RecallPlan) -> str:
    """What the confirmation shows, condensed: the lot ids (readable), then a digest of windows and patients.
    A form changed after the preview gives another key, and is shown again rather than opened unseen."""
    lot_ids = ",".join(str(lot.id) for lot in sorted(plan.lots, key=lambda lot: lot.id))
    seen = repr((sorted((k, v.isoformat() if v else "") for k, v in plan.affected_from.items()), plan.patient_ids))
    return f"{lot_ids}:{hashlib.sha256(seen.encode()).hexdigest()[:16]}"


def open_recall(entry: RecallInput, by: User, *, today: date | None = None) -> Recall:
    """Mark the lots recalled (the sessions gate then refuses them) and build the worklist."""
    plan = plan_recall(entry, today=today)
    recall = Recall(reason=entry.reason.strip(), source=entry.source,
                    reference=(entry.reference or "").strip()[:80], notice_date=entry.notice_date or clinic_today(),
                    location_id=entry.location_id, window_start=entry.window_start,
                    window_end=entry.window_end, opened_by_id=by.id)
    now = utcnow()
    for lot in plan.lots:
        lot.recalled_at = now
        recall.lots.append(RecallLot(lot_id=lot.id, affected_from=plan.affected_from[lot.id]))
    for patient_id in plan.patient_ids:
        recall.rows.append(RecallPatient(patient_id=patient_id))
    db.session.add(recall)
    try:
        db.session.flush()
    except sa.exc.IntegrityError as error:  # a lot is recalled once: another request just recalled one
        raise RecallOpenedTwice("Another request recalled these lots at the same moment.") from error
    return recall


def just_opened(plan_key: str, by: User) -> Recall | None:
    """The recall ``by`` opened in the last two minutes for exactly the lots of ``plan_key``, if any:
    a second click on "Recall now" finds the recall the first one opened."""
    lot_ids = {int(part) for part in plan_key.split(":")[0].split(",") if part.isdigit()}
    if not lot_ids:
        return None
    recent = db.session.scalars(sa.select(Recall).where(
        Recall.opened_by_id == by.id, Recall.opened_at > utcnow() - timedelta(minutes=2))
        .options(selectinload(Recall.lots))).all()
    return next((r for r in recent if {link.lot_id for link in r.lots} == lot_ids), None)


def open_recall_summaries() -> list[tuple[Recall, int]]:
    """Open recalls, oldest first, with how many patients still need a contact or an outcome (home pages)."""
    pending = sa.func.count(RecallPatient.id).filter(RecallPatient.status.in_(("to_contact", "contacted")))
    return [(recall, count) for recall, count in db.session.execute(
        sa.select(Recall, pending).outerjoin(RecallPatient, RecallPatient.recall_id == Recall.id)
        .where(Recall.closed_at.is_(None)).group_by(Recall.id).order_by(Recall.opened_at))]


def release_unaffected(patient_id: int, by: User, why: str) -> None:
    """After a session is voided or its lots corrected: a worklist row nobody has worked yet, whose patient
    no longer has an affected session, is closed as no action needed (kept, with the reason)."""
    rows = db.session.scalars(
        sa.select(RecallPatient).join(RecallPatient.recall)
        .where(RecallPatient.patient_id == patient_id, RecallPatient.status == "to_contact",
               Recall.closed_at.is_(None))).all()
    for row in rows:
        if row.contacts or affected_sessions(row.recall, [patient_id]).get(patient_id):
            continue
        row.status, row.outcome_note = "no_action_needed", f"No longer affected: {why}"
        row.closed_at, row.closed_by_id = utcnow(), by.id
    db.session.flush()


def open_recall_of_lot(lot: Lot) -> tuple[Recall, RecallLot] | None:
    found = db.session.execute(sa.select(Recall, RecallLot).join(RecallLot).where(
        RecallLot.lot_id == lot.id, Recall.closed_at.is_(None))).first()
    return (found[0], found[1]) if found else None


def add_to_worklist(recall: Recall, patient_id: int) -> None:
    """A session that used a recalled lot was recorded after the recall opened: its patient joins the list."""
    if recall.closed_at is not None:
        raise ClinicError("This recall is closed; nobody can be added to it.")
    row = next((r for r in recall.rows if r.patient_id == patient_id), None)
    if row is None:
        recall.rows.append(RecallPatient(patient_id=patient_id))
    elif row.is_closed and row.status != "unreachable":
        # Closed before this session was on record (or released when it was corrected): call again.
        row.status, row.closed_at, row.closed_by_id = "to_contact", None, None
        row.outcome_note = "Reopened: another affected session was recorded."
    db.session.flush()


@dataclass
class AffectedSession:
    """A session of a worklist patient that used a recalled lot, and where it was injected."""

    session_id: int
    performed_at: datetime
    number: int
    signed: bool
    lots: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)  # "HydraVeil HA 1.5%, lot HV24A117", for letters
    areas: list[str] = field(default_factory=list)


def affected_sessions(recall: Recall, patient_ids: Sequence[int] | None = None) -> dict[int, list[AffectedSession]]:
    """Per patient, the sessions (not voided) that used the recall's lots, with the areas injected: one query."""
    query = (
        up_to_courses(
            sa.select(Course.patient_id, TreatmentSession.id, TreatmentSession.performed_at, TreatmentSession.number,
                      TreatmentSession.locked_at, Lot.lot_number, Product.name, Area.name)
            .select_from(RecallLot)
            .join(Lot, Lot.id == RecallLot.lot_id)
            .join(Product, Product.id == Lot.product_id)
            .join(PreparationComponent, PreparationComponent.lot_id == RecallLot.lot_id))
        .outerjoin(InjectionLog, sa.and_(InjectionLog.preparation_id == Preparation.id,
                                         InjectionLog.administered.is_(True)))
        .outerjoin(Area, Area.code == InjectionLog.area_code)
        .where(RecallLot.recall_id == recall.id, TreatmentSession.voided_at.is_(None),
               sa.or_(RecallLot.affected_from.is_(None), TreatmentSession.performed_at >= RecallLot.affected_from))
        .order_by(Course.patient_id, TreatmentSession.performed_at, TreatmentSession.id, InjectionLog.id)
    )
    if patient_ids is not None:
        query = query.where(Course.patient_id.in_(list(patient_ids)))
    found: dict[int, list[AffectedSession]] = {}
    for patient_id, session_id, performed_at, number, locked_at, lot_number, product, area in db.session.execute(
            query):
        sessions = found.setdefault(patient_id, [])
        if not sessions or sessions[-1].session_id != session_id:
            sessions.append(AffectedSession(session_id, performed_at, number, locked_at is not None))
        if lot_number not in sessions[-1].lots:
            sessions[-1].lots.append(lot_number)
            sessions[-1].products.append(f"{product}, lot {lot_number}")
        if area and area not in sessions[-1].areas:
            sessions[-1].areas.append(area)
    return found


@dataclass
class Progress:
    """Each patient counts once: still to reach, reached (then closed with an outcome, or not yet), unreachable.
    Rows released because the patient's session was voided or corrected are counted apart, not as reached."""

    affected: int
    to_reach: int
    reached: int
    closed: int  # reached and closed with an outcome
    unreachable: int
    released: int = 0  # no longer affected: closed without any contact

    @property
    def done(self) -> int:
        return self.closed + self.unreachable

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.affected) if self.affected else 100


def is_released(row: RecallPatient) -> bool:
    return row.status == "no_action_needed" and not row.contacts


def progress(recall: Recall) -> Progress:
    rows = recall.rows
    released = sum(1 for r in rows if is_released(r))
    statuses = [r.status for r in rows if not is_released(r)]
    closed = sum(1 for s in statuses if s in ("follow_up_booked", "no_action_needed"))
    return Progress(affected=len(statuses), to_reach=statuses.count("to_contact"),
                    reached=closed + statuses.count("contacted"), closed=closed,
                    unreachable=statuses.count("unreachable"), released=released)


def failed_attempts(row: RecallPatient) -> int:
    """Failed tries since the patient was last reached: a missed call back after a talk is a fresh start.
    Tries closer than ``RECALL_MIN_HOURS_BETWEEN_ATTEMPTS`` to the last one counted count once (three
    calls in a minute, or a double click, do not make anyone unreachable)."""
    gap = timedelta(hours=current_app.config["RECALL_MIN_HOURS_BETWEEN_ATTEMPTS"])
    failures, last = 0, None
    for attempt in row.contacts:
        at = attempt.contacted_at or utcnow()  # the try being recorded has no time until it is stored
        if attempt.reached:
            failures, last = 0, None
        elif last is None or at - last >= gap:
            failures, last = failures + 1, at
    return failures


def record_contact(row: RecallPatient, method: str, reached: bool, note: str, by: User,
                   *, outcome: str = "") -> RecallContact:
    """One attempt. Reached: contacted, or closed with the outcome. Not reached N times: unreachable."""
    if not row.recall.is_open:
        raise ClinicError("This recall is closed; no more contacts can be recorded.")
    if row.is_closed and row.status != "unreachable":
        raise ClinicError("This patient's row is already closed.")
    if method not in CONTACT_METHODS:
        raise FieldError("method", "Choose how the patient was contacted.")
    note = (note or "").strip()
    if outcome and outcome not in ("follow_up_booked", "no_action_needed"):
        raise FieldError("outcome", "Choose the outcome.")
    if outcome and not reached:
        raise FieldError("outcome", "A row is closed with an outcome only when the patient was reached.")
    if reached and not note:
        raise FieldError("note", "Write what the patient was told and said.")
    contact = RecallContact(row=row, method=method, reached=reached, note=note, contacted_by_id=by.id)
    db.session.add(contact)
    before = row.status
    if reached:  # also a patient marked unreachable who calls back or comes in
        row.status = outcome or "contacted"
        row.closed_at = row.closed_by_id = None
    elif row.status != "unreachable" and failed_attempts(row) >= current_app.config["RECALL_MAX_ATTEMPTS"]:
        row.status = "unreachable"
    if row.status in CLOSED_ROW_STATUSES and row.status != before:
        row.closed_at, row.closed_by_id = utcnow(), by.id
        row.outcome_note = note
    db.session.flush()
    return contact


def close_recall(recall: Recall, by: User) -> None:
    """Only when every patient's row is closed or unreachable."""
    if not recall.is_open:
        raise ClinicError("This recall is already closed.")
    open_rows = [r for r in recall.rows if not r.is_closed]
    if open_rows:
        raise ClinicError(f"{len(open_rows)} patient{'s are' if len(open_rows) != 1 else ' is'} still to be "
                          "dealt with; every row must be closed or unreachable first.")
    recall.closed_at, recall.closed_by_id = utcnow(), by.id
    db.session.flush()


def open_recalls_for(patient_id: int) -> list[RecallPatient]:
    """This patient's rows in open recalls that still need them: not yet closed, or unreachable so far
    (the chart's badge: whoever sees the patient next tells them)."""
    return open_recalls_by_patient([patient_id]).get(patient_id, [])


def open_recalls_by_patient(patient_ids: list[int]) -> dict[int, list[RecallPatient]]:
    """The same for many patients in one query (the doctor's schedule)."""
    if not patient_ids:
        return {}
    found: dict[int, list[RecallPatient]] = {}
    for row in db.session.scalars(
        sa.select(RecallPatient).join(RecallPatient.recall).options(contains_eager(RecallPatient.recall)).where(
            RecallPatient.patient_id.in_(set(patient_ids)), Recall.closed_at.is_(None),
            RecallPatient.status.in_(list(NEEDS_PATIENT_STATUSES)))
        .order_by(Recall.id)
    ):
        found.setdefault(row.patient_id, []).append(row)
    return found
