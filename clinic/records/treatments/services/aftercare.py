"""The aftercare sheet's rules as real dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from clinic.core.clock import in_clinic_zone


@dataclass
class AftercareItem:
    text: str
    from_time: datetime | None = None


def aftercare(performed_at: datetime) -> list[AftercareItem]:
    """DESIGN.md's aftercare rules as real dates, counted from the end of the session (local time).

    Where the source gives a range (3–5 days), the longer end is used: the sheet errs on the safe side.
    """
    local = in_clinic_zone(performed_at)
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
