"""The records package answers what lower packages ask (units of stock used in sessions), and its
follow-ups listen to its sessions (a voided session's open follow-ups are cancelled)."""

from __future__ import annotations

from clinic.inventory.signals import units_used
from clinic.records.followups.services import cancel_open_follow_ups
from clinic.records.signals import session_voided
from clinic.records.treatments.queries import units_used_rows


def connect_listeners() -> None:
    units_used.connect(units_used_rows)
    session_voided.connect(cancel_open_follow_ups)
