"""Recalls follow the records: a session saved or voided moves its patient on or off a worklist."""

from __future__ import annotations

from datetime import datetime

from clinic.auth.models import User
from clinic.core.findings import Finding
from clinic.inventory.models import Lot
from clinic.records.chart import Badge
from clinic.records.codes import WarningCode
from clinic.records.signals import (
    lot_recalled_after,
    patient_alerts,
    session_corrected,
    session_saved,
    session_voided,
)
from clinic.records.treatments.models import TreatmentSession
from clinic.tracing.models import Recall
from clinic.tracing.recalls import (
    add_to_worklist,
    open_recall_of_lot,
    open_recalls_by_patient,
    release_unaffected,
)


def _affects(lot: Lot, performed_at: datetime) -> tuple[Recall, bool] | None:
    """A lot's open recall, and whether it affects a session at that time (a storage window spares earlier ones)."""
    found = open_recall_of_lot(lot)
    if found is None:
        return None
    recall, link = found
    return recall, link.affected_from is None or performed_at >= link.affected_from


def warn_recalled_after(lot: Lot, *, performed_at: datetime) -> list[Finding] | None:
    """A lot recalled after the session: None without an open recall; a warning when the session is affected."""
    found = _affects(lot, performed_at)
    if found is None:
        return None
    recall, affected = found
    if not affected:
        return []
    return [Finding(WarningCode.RECALLED_AFTER.of(lot.id),
                    f"Lot {lot.lot_number} was recalled after this session (recall "
                    f"{recall.reference or '#' + str(recall.id)}); the patient is kept on (or added to) its worklist.")]


def follow_saved_session(session: TreatmentSession, *, by: User, corrected: bool) -> None:
    """A session that used a lot recalled after it took place puts its patient on that recall's worklist;
    a corrected draft may take a patient off one."""
    patient_id = session.course.patient_id
    lots = {component.lot.id: component.lot for preparation in session.preparations
            for component in preparation.components}
    for lot in lots.values():
        if lot.recalled_at is None or lot.recalled_at <= session.performed_at:
            continue
        found = _affects(lot, session.performed_at)
        if found is not None and found[1]:
            add_to_worklist(found[0], patient_id)
    if corrected:
        release_unaffected(patient_id, by, f"session {session.number}'s lots were corrected")


def follow_voided_session(session: TreatmentSession, *, by: User, reason: str) -> None:
    release_unaffected(session.course.patient_id, by, f"session {session.number} was voided ({reason})")


def recall_badges(patient_ids: list[int]) -> dict[int, list[Badge]]:
    """Patients on an open recall's worklist who still need telling: a badge that leads to their row."""
    return {
        patient_id: [Badge(row.badge_label, "bad", "tracing.contact", {"recall_id": row.recall_id, "row_id": row.id})
                     for row in rows]
        for patient_id, rows in open_recalls_by_patient(patient_ids).items()
    }


def follow_corrected_session(session: TreatmentSession, *, by: User) -> None:
    """A signed session's lot corrected: on the new lot's recall worklist if it affects the session, off the
    old one's if nothing else keeps the patient there."""
    follow_saved_session(session, by=by, corrected=True)


def connect_listeners() -> None:
    session_saved.connect(follow_saved_session)
    session_corrected.connect(follow_corrected_session)
    session_voided.connect(follow_voided_session)
    lot_recalled_after.connect(warn_recalled_after)
    patient_alerts.connect(recall_badges)
