"""Units on hand follow every flush that changes a lot's stock: its receipts and discards here, its uses in
sessions as the packages above answer ``lots_touched``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from clinic.inventory.models import Lot, LotDiscard, LotReceipt
from clinic.inventory.services import refresh_on_hand
from clinic.inventory.signals import lots_touched


def _lots_moved(session: Session) -> set[int]:
    """The lots whose receipts or discards this flush wrote (this package's part of ``lots_touched``)."""
    return {obj.lot_id for obj in (*session.new, *session.dirty, *session.deleted)
            if isinstance(obj, (LotReceipt, LotDiscard)) and obj.lot_id is not None}


def _count_touched_lots(session: Session, flush_context: Any) -> None:
    lot_ids = _lots_moved(session)
    for _, answer in lots_touched.send(session):
        lot_ids |= answer
    if not lot_ids:
        return
    refresh_on_hand(session.connection(), sorted(lot_ids))
    # The loaded lots hold the count as it was: read it again when next asked.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Lot) and obj.id in lot_ids:
            session.expire(obj, ["units_on_hand"])


def register_listeners() -> None:
    if not event.contains(Session, "after_flush", _count_touched_lots):
        event.listen(Session, "after_flush", _count_touched_lots)
