"""The records package answers what lower packages ask (units of stock used in sessions)."""

from __future__ import annotations

from clinic.inventory.signals import units_used
from clinic.records.treatments.queries import units_used_rows


def connect_listeners() -> None:
    units_used.connect(units_used_rows)
