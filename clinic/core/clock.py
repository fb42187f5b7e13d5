"""The clinic's clock: times are stored in UTC and read in the clinic's own time zone.

``CLINIC_TIMEZONE`` (an IANA name such as ``Europe/London``) is where the clinic is, whatever the
server's own zone: a session at 23:30 local time belongs to that local day (its follow-up calls, its
interval to the next session, the aftercare sheet's dates), and every page, PDF and CSV shows that
local time. Outside an app (a script) the zone is UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context


def zone_named(name: str) -> ZoneInfo:
    """The zone for an IANA name, or a ValueError naming it (config checks it at start)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{name!r} is not a time zone name (use an IANA name such as Europe/London)") from error


def clinic_zone() -> tzinfo:
    if not has_app_context():
        return UTC
    return zone_named(current_app.config.get("CLINIC_TIMEZONE") or "UTC")


def clinic_now() -> datetime:
    """Now, in the clinic's zone (aware)."""
    return datetime.now(clinic_zone())


def clinic_today() -> date:
    """The clinic's calendar day now (not the server's, not UTC's)."""
    return clinic_now().date()


def in_clinic_zone(moment: datetime) -> datetime:
    """An aware time as the clinic's clocks show it; a naive one is taken as UTC (how the database gives
    back a UTC timestamp that lost its zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(clinic_zone())


def clinic_day(moment: datetime) -> date:
    """The clinic's calendar day of a stored time."""
    return in_clinic_zone(moment).date()


def from_clinic_time(local: datetime) -> datetime:
    """A time typed in a form (naive, the clinic's wall clock) as the aware UTC time stored. A wall-clock time
    that happens twice when clocks go back is taken as the first (``fold=0``)."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return local.replace(tzinfo=clinic_zone()).astimezone(UTC)


def form_now() -> datetime:
    """Now, to the minute, as a form's date-time field shows it (naive, the clinic's wall clock)."""
    return clinic_now().replace(tzinfo=None, second=0, microsecond=0)


def csv_time(moment: datetime) -> str:
    """A time in an export: the clinic's wall clock with its offset, so it is exact whoever opens it."""
    return in_clinic_zone(moment).isoformat(sep=" ", timespec="minutes")
