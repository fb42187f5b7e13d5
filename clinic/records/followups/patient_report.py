"""The patient's own report of a side effect, from the link on their aftercare sheet (no account).

Whoever holds the link may report, so the token is the only key: long and random, compared in
constant time, never written to the audit trail, good for 30 days and five reports. A report lands
on the nurses' worklist as an urgent phone call due today. Every use of the link is audited, and the
audit rows are what limits how often one client address may use these pages, so every worker and
host counts the same. Services flush and audit, never commit (the request does).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app

from clinic.audit.models import AuditEvent
from clinic.audit.services import record_event
from clinic.core.clock import clinic_day, in_clinic_zone
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import stored
from clinic.extensions import db
from clinic.records.followups.models import (
    PATIENT_SEVERITIES,
    FollowUpTask,
    PatientReportLink,
    SideEffect,
    SideEffectType,
)
from clinic.records.followups.services import SideEffectInput, record_side_effect
from clinic.records.patients.services import clean_phone
from clinic.records.treatments.models import TreatmentSession

LINK_LIFETIME = timedelta(days=30)
MAX_REPORTS = 5
NOTE_MAX = 2000
TOKEN_BYTES = 32
# What secrets.token_urlsafe(32) gives: anything else is refused before the database is asked.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")

OPENED, REPORTED, REFUSED, THROTTLED = (
    "patient_report_opened", "patient_report", "patient_report_refused", "patient_report_throttled")
# The uses counted against a client address. Throttled requests are not: a client that keeps
# knocking waits for the window to pass, as the Retry-After header says, not longer.
COUNTED_USES = (OPENED, REPORTED, REFUSED)


class Refusal(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    EXHAUSTED = "exhausted"
    VOIDED = "voided"
    THROTTLED = "throttled"


class ReportRefused(ClinicError):
    """The link cannot be used (or not now). The patient is told the same whatever the ``code``:
    what to do, never why, so the page gives away nothing about a record."""

    keeps_record = True  # the refusal's audit row stays; it is raised before anything else is written

    def __init__(self, code: Refusal, *, retry_after: int | None = None) -> None:
        self.code = code
        self.retry_after = retry_after
        super().__init__("This link cannot be used.")


class ReportRejected(FieldError):
    """Something the patient typed is not right. Raised before anything is written, so the use of the
    link (its audit row) stays on record and nothing else was made."""

    keeps_record = True


@dataclass
class PatientReportInput:
    type_code: str
    onset_at: datetime | None  # UTC
    severity: str
    note: str = ""
    callback_phone: str = ""


# --- the link ------------------------------------------------------------------------------------


def _voided(session: TreatmentSession) -> bool:
    return session.is_voided or session.course.patient.is_voided


def report_link_for(session: TreatmentSession, now: datetime) -> PatientReportLink | None:
    """The session's report link, made when the session is signed (or found if it exists). None for a
    voided session or patient: such a link would only be refused."""
    if _voided(session):
        return None
    link = db.session.scalar(sa.select(PatientReportLink).where(PatientReportLink.session_id == session.id))
    if link is None:
        link = stored(PatientReportLink(session_id=session.id, token=secrets.token_urlsafe(TOKEN_BYTES),
                                        created_at=now, expires_at=now + LINK_LIFETIME, reports=0))
    return link


def existing_report_link(session: TreatmentSession) -> PatientReportLink | None:
    """The link made at signing, for the aftercare sheet: showing a sheet never writes (SECURITY.md I1).
    None for a voided session, a draft, or a session signed before report links existed."""
    if _voided(session):
        return None
    return db.session.scalar(sa.select(PatientReportLink).where(PatientReportLink.session_id == session.id))


def _find(token: str) -> PatientReportLink | None:
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None
    link = db.session.scalar(sa.select(PatientReportLink).where(PatientReportLink.token == token))
    # The index finds the row; the whole token is then confirmed in constant time and byte for byte,
    # whatever the database's collation would call equal.
    if link is None or not hmac.compare_digest(link.token.encode(), token.encode()):
        return None
    return link


def _refusal(link: PatientReportLink | None, now: datetime) -> Refusal | None:
    if link is None:
        return Refusal.UNKNOWN
    if _voided(link.session):
        return Refusal.VOIDED
    if now >= link.expires_at:
        return Refusal.EXPIRED
    if link.reports >= MAX_REPORTS:
        return Refusal.EXHAUSTED
    return None


def _refuse(link: PatientReportLink | None, code: Refusal, retry_after: int | None = None) -> ReportRefused:
    record_event(THROTTLED if code is Refusal.THROTTLED else REFUSED, record_type="patient_report_link",
                 record_id=link.id if link else None, reason=str(code))
    return ReportRefused(code, retry_after=retry_after)


def open_link(token: str, now: datetime) -> PatientReportLink:
    """The link ``token`` names, if it may still be used; each use and each refusal is audited
    (by the link's id, never its token)."""
    link = _find(token)
    code = _refusal(link, now)
    if code is not None:
        raise _refuse(link, code)
    assert link is not None  # _refusal said so
    record_event(OPENED, record_type="patient_report_link", record_id=link.id)
    return link


def check_rate(client_addr: str | None, now: datetime) -> None:
    """Refuse a client address that used these pages too often within the window (429)."""
    if not client_addr:
        return
    window = current_app.config["PATIENT_REPORT_WINDOW"]
    uses, first = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(AuditEvent.at)).where(
            AuditEvent.at > now - window, AuditEvent.action.in_(COUNTED_USES),
            AuditEvent.client_addr == client_addr)
    ).one()
    if uses >= current_app.config["PATIENT_REPORT_MAX_PER_ADDRESS"]:
        raise _refuse(None, Refusal.THROTTLED, retry_after=int((first + window - now).total_seconds()) + 1)


# --- the report ----------------------------------------------------------------------------------


def patient_symptoms() -> list[tuple[str, str]]:
    """What a patient may report: the active side-effect catalogue, in their words."""
    kinds = db.session.scalars(sa.select(SideEffectType).where(SideEffectType.active)
                               .order_by(SideEffectType.sort_order, SideEffectType.code))
    return [(kind.code, kind.plain_name) for kind in kinds]


def _kind(code: str) -> SideEffectType:
    kind = db.session.get(SideEffectType, code or "")
    if kind is None or not kind.active:
        raise ReportRejected("type_code", "Choose what you notice from the list.")
    return kind


def _onset(session: TreatmentSession, onset: datetime | None, now: datetime) -> datetime:
    if onset is None:
        raise ReportRejected("onset_at", "Give the day and time it started.")
    # The form has minutes only: "14:30" for a session at 14:30:40 is not before it.
    if onset < session.performed_at.replace(second=0, microsecond=0):
        started = in_clinic_zone(session.performed_at).strftime("%d %B at %H:%M")
        raise ReportRejected("onset_at", f"Your treatment was on {started}: give a time after it.")
    if onset > now + timedelta(minutes=5):
        raise ReportRejected("onset_at", "This time is in the future.")
    return max(onset, session.performed_at)


def _checked(link: PatientReportLink, entry: PatientReportInput, now: datetime) -> SideEffectInput:
    """The report as a side effect to record, or the first thing the patient must put right."""
    kind = _kind(entry.type_code)
    onset = _onset(link.session, entry.onset_at, now)
    if entry.severity not in PATIENT_SEVERITIES:
        raise ReportRejected("severity", "Choose how bad it is.")
    note = (entry.note or "").strip()
    if len(note) > NOTE_MAX:
        raise ReportRejected("note", f"Keep this under {NOTE_MAX} characters.")
    if kind.code == "other" and not note:
        raise ReportRejected("note", "Tell us what you notice.")
    try:
        phone = clean_phone(entry.callback_phone, "callback_phone")
    except FieldError as error:
        raise ReportRejected(error.field, str(error)) from None
    return SideEffectInput(type_code=kind.code, grade=PATIENT_SEVERITIES[entry.severity][1], onset_at=onset,
                           other_text=note[:200] if kind.code == "other" else "", note=note,
                           callback_phone=phone)


def _count_report(link: PatientReportLink) -> int:
    """One more report on the link. The database checks the limit and counts in one statement, so two
    reports sent at the same moment cannot both be the fifth."""
    counted = db.session.execute(
        sa.update(PatientReportLink)
        .where(PatientReportLink.id == link.id, PatientReportLink.reports < MAX_REPORTS)
        .values(reports=PatientReportLink.reports + 1)
        .returning(PatientReportLink.reports)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if counted is None:
        raise _refuse(link, Refusal.EXHAUSTED)
    db.session.expire(link, ["reports"])
    return counted


def record_patient_report(link: PatientReportLink, entry: PatientReportInput, now: datetime) -> SideEffect:
    """The patient's report: a side effect marked as theirs (ongoing, not yet judged by a clinician)
    and an urgent phone call for the nurses, due today."""
    code = _refusal(link, now)
    if code is not None:
        raise _refuse(link, code)
    side_effect_entry = _checked(link, entry, now)
    reports = _count_report(link)
    session = link.session
    call = stored(FollowUpTask(session_id=session.id, patient_id=session.course.patient_id, kind="phone_check",
                               due_on=clinic_day(now), reason="patient_report", urgent=True))
    side_effect = record_side_effect(session, None, side_effect_entry, source="patient", now=now, follow_up=call)
    record_event(REPORTED, record_type="patient_report_link", record_id=link.id,
                 changes={"reports": (reports - 1, reports)},
                 reason=f"side effect {side_effect.id}, follow-up {call.id}")
    return side_effect
