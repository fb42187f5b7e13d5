"""Signing a session: password again, a digest of the canonical content, the lock, the follow-up calls."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal

from clinic.auth.models import User
from clinic.auth.services import reauthenticate
from clinic.core.clock import clinic_day
from clinic.core.errors import ClinicError
from clinic.core.models import utcnow
from clinic.extensions import db
from clinic.records.followups.models import FollowUpTask
from clinic.records.followups.patient_report import report_link_for
from clinic.records.signals import session_signed
from clinic.records.treatments.models import (
    SIGNATURE_MEANING,
    SessionSignature,
    TreatmentSession,
)
from clinic.records.treatments.services.checks import session_readiness
from clinic.records.treatments.services.inputs import SessionRefused

# Follow-up calls after a signed session, in days; mesolift and body treatments also on day 3.
FOLLOW_UP_DAYS = {"default": (1,), "mesolift": (1, 3), "cellulite": (1, 3), "localized_fat": (1, 3)}



def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.astimezone(utcnow().tzinfo).isoformat()
    return str(value)


# Signed values that are whole numbers in the canonical content (the rest are text, or null).
_WHOLE_NUMBERS = frozenset({"lot_id", "units"})

SignedValues = dict[tuple[str, int, str], str]


def as_signed(session: TreatmentSession) -> SignedValues:
    """What each amended field held when the session was signed: the old value of its first amendment.
    Keyed by ("session" | "injection" | "component", id, field)."""
    signed: SignedValues = {}
    for amendment in sorted(session.amendments, key=lambda a: a.id):
        if amendment.component_id is not None:
            key = ("component", amendment.component_id, amendment.field)
        elif amendment.injection_id is not None:
            key = ("injection", amendment.injection_id, amendment.field)
        else:
            key = ("session", session.id, amendment.field)
        signed.setdefault(key, amendment.old_value)
    return signed


def _signed_value(signed: SignedValues, kind: str, row_id: int, name: str, current: object) -> object:
    if (kind, row_id, name) not in signed:
        return current
    text = signed[(kind, row_id, name)]
    if name in _WHOLE_NUMBERS:
        return int(text)
    return text if text or name == "notes" else None


def canonical_content(session: TreatmentSession, signed: SignedValues | None = None) -> bytes:
    """The signed content as canonical JSON: what the digest covers. The columns hold the current values
    (amendments write them); ``signed`` puts back what each amended field held at signing."""
    signed = signed or {}

    def value(kind: str, row: object, name: str, current: object) -> object:
        return _signed_value(signed, kind, row.id, name, current)  # type: ignore[attr-defined]

    body = {
        "session": {key: value("session", session, key, as_text(getattr(session, key))) for key in (
            "id", "course_id", "number", "performed_at", "doctor_id", "nurse_id", "skin_preparation",
            "anaesthetic_lot_id", "anaesthetic_minutes", "technique", "needle_gauge", "needle_length_mm",
            "notes", "acknowledged_warnings")},
        "preparations": [
            {"id": p.id, "label": p.label,
             "components": [{"lot_id": value("component", c, "lot_id", c.lot_id),
                             "units": value("component", c, "units", c.units),
                             "volume_ml": value("component", c, "volume_ml", as_text(c.volume_ml))}
                            for c in sorted(p.components, key=lambda c: c.id)]}
            for p in sorted(session.preparations, key=lambda p: p.id)
        ],
        "injections": [
            {key: value("injection", i, key, as_text(getattr(i, key))) for key in (
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
    blocks = session_readiness(session).reasons
    if blocks:
        raise SessionRefused(blocks, "This session cannot be signed yet")
    reauthenticate(doctor, password, code, purpose="sign session")
    return apply_signature(session, doctor)


def apply_signature(session: TreatmentSession, doctor: User) -> SessionSignature:
    """Sign after the caller re-authenticated the doctor (``sign_session``) or for seeded demo data."""
    signature = SessionSignature(session=session, signer_id=doctor.id, printed_name=doctor.full_name,
                                 meaning=SIGNATURE_MEANING, content_sha256=content_digest(session))
    db.session.add(signature)
    session.locked_at = utcnow()
    course = session.course
    performed_on = clinic_day(session.performed_at)
    for days in FOLLOW_UP_DAYS.get(course.indication_code, FOLLOW_UP_DAYS["default"]):
        db.session.add(FollowUpTask(session=session, patient_id=course.patient_id, kind="phone_check",
                                    due_on=performed_on + timedelta(days=days)))
    db.session.flush()
    # The link printed on the aftercare sheet for the patient's own report: made now, so that showing
    # the sheet only reads.
    report_link_for(session, utcnow())
    session_signed.send(session, by=doctor)
    return signature


def signature_intact(session: TreatmentSession) -> bool:
    """Recompute the digest from what the database holds now, amended fields put back as they were signed."""
    return session.signature is not None and session.signature.content_sha256 == hashlib.sha256(
        canonical_content(session, as_signed(session))).hexdigest()

