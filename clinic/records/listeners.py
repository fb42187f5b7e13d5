"""The records package answers what lower packages ask (units of stock used in sessions, the lots a flush's
uses touched), and its follow-ups listen to its sessions (a voided session's open follow-ups are cancelled)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

from clinic.inventory.signals import lots_touched, units_used
from clinic.records.followups.services import cancel_open_follow_ups
from clinic.records.signals import session_voided
from clinic.records.treatments.models import Preparation, PreparationComponent, TreatmentSession
from clinic.records.treatments.queries import units_used_rows

_DELETED_USES = "records.lots_of_deleted_uses"


def _note_a_deleted_use(mapper: Any, connection: Any, target: PreparationComponent) -> None:
    # A draft's replaced preparations go as orphans inside the flush, after session.deleted was read.
    session = object_session(target)
    if session is not None:
        session.info.setdefault(_DELETED_USES, set()).add(target.lot_id)


def lots_used_in_flush(session: Session) -> set[int]:
    """The lots whose uses this flush wrote: uses added, changed (the lot before and after) or removed,
    and every use of a session voided or restored."""
    lot_ids: set[int] = set(session.info.pop(_DELETED_USES, set()))
    voided: list[int] = []
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, PreparationComponent):
            lot_ids.add(obj.lot_id)
            lot_ids.update(lot for lot in sa.inspect(obj).attrs.lot_id.history.deleted if lot is not None)
        elif isinstance(obj, TreatmentSession) and sa.inspect(obj).attrs.voided_at.history.has_changes():
            voided.append(obj.id)
    if voided:
        lot_ids.update(session.connection().scalars(
            sa.select(PreparationComponent.lot_id).join(Preparation)
            .where(Preparation.session_id.in_(voided))))
    return lot_ids


def connect_listeners() -> None:
    units_used.connect(units_used_rows)
    session_voided.connect(cancel_open_follow_ups)
    lots_touched.connect(lots_used_in_flush)
    if not event.contains(PreparationComponent, "after_delete", _note_a_deleted_use):
        event.listen(PreparationComponent, "after_delete", _note_a_deleted_use)
