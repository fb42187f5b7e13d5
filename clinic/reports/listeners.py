"""The reports follow the records: each signed, amended or voided session and each side effect recorded,
changed or voided replaces its slice of the daily figures in the same transaction."""

from __future__ import annotations

from clinic.records.followups.models import SideEffect
from clinic.records.signals import (
    session_amended,
    session_signed,
    session_voided,
    side_effect_changed,
)
from clinic.records.treatments.models import TreatmentSession
from clinic.reports.figures import refresh_session


def follow_session(session: TreatmentSession, **_: object) -> None:
    if session.is_signed:
        refresh_session(session)


def follow_side_effect(side_effect: SideEffect, **_: object) -> None:
    if side_effect.session.is_signed:
        refresh_session(side_effect.session)


def connect_listeners() -> None:
    session_signed.connect(follow_session)
    session_amended.connect(follow_session)
    session_voided.connect(follow_session)
    side_effect_changed.connect(follow_side_effect)
