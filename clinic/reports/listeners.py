"""The reports follow the records: each signed, amended or voided session and each side effect recorded,
changed or voided replaces its slice of the daily figures in the same transaction."""

from __future__ import annotations

from flask import current_app

from clinic.core.clock import clinic_today
from clinic.inventory.models import Lot
from clinic.inventory.signals import lot_notes
from clinic.records.followups.models import SideEffect
from clinic.records.signals import (
    session_amended,
    session_signed,
    session_voided,
    side_effect_changed,
)
from clinic.records.treatments.models import TreatmentSession
from clinic.reports.figures import add_session_share, refresh_session
from clinic.reports.queries import recent_lot_signal
from clinic.reports.stats import as_percent


def follow_session(session: TreatmentSession, **_: object) -> None:
    if session.is_signed:
        refresh_session(session)


def count_signed_session(session: TreatmentSession, **_: object) -> None:
    add_session_share(session)


def follow_side_effect(side_effect: SideEffect, change: str = "", **_: object) -> None:
    if not side_effect.session.is_signed:
        return
    if change == "recorded":
        add_session_share(side_effect.session, new_side_effect=side_effect.id)
    else:
        refresh_session(side_effect.session)


def connect_listeners() -> None:
    session_signed.connect(count_signed_session)
    session_amended.connect(follow_session)
    session_voided.connect(follow_session)
    side_effect_changed.connect(follow_side_effect)
    lot_notes.connect(lot_signal_notes)


def lot_signal_notes(lot: Lot) -> list[str]:
    """The lot's page says so when the lot safety signal flags it, with the figures."""
    today = clinic_today()
    days = current_app.config["LOT_SIGNAL_DAYS"]
    return [
        f"Safety signal: over the last {days} days, {s.figures.signal} of this lot's {s.figures.sessions} "
        f"sessions ({s.rate.per_100:.1f} per 100) had a side effect of grade 2 or more or a serious one, "
        f"against {s.figures.sibling_signal} of {s.figures.sibling_sessions} ({s.sibling_rate.per_100:.1f} per "
        f"100) for the other lots of {lot.product.name}. The chance of a difference this large if the lot were "
        f"no different is {as_percent(s.q_value)} % after correcting for the many lots tested (Benjamini–Hochberg)."
        for found in recent_lot_signal(today) if found.lot.id == lot.id for s in [found.signal]]
