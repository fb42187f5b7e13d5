"""Correcting a signed session: an amendment beside the original, with a reason and the password."""

from __future__ import annotations

from decimal import Decimal

from clinic.auth.models import Role, User
from clinic.auth.services import reauthenticate
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import required_text, stored
from clinic.records.treatments.models import (
    DEPTH_MM,
    NEEDLE_GAUGES,
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Amendment,
    InjectionLog,
    TreatmentSession,
)
from clinic.records.treatments.services.checks import decimal_in, ml
from clinic.records.treatments.services.signing import as_text

AMENDABLE_SESSION_FIELDS = {"notes": "Notes", "skin_preparation": "Skin preparation", "technique": "Technique",
                            "needle_gauge": "Needle gauge", "needle_length_mm": "Needle length (mm)",
                            "anaesthetic_minutes": "Anaesthetic cream (minutes)"}
AMENDABLE_INJECTION_FIELDS = {"depth_mm": "Depth (mm)", "volume_ml": "Volume (ml)", "points": "Points",
                              "technique": "Technique"}


def current_value(session: TreatmentSession, injection: InjectionLog | None, name: str) -> str:
    """The value as amended (latest amendment wins), else as signed; ``injection`` None means the session."""
    injection_id = injection.id if injection is not None else None
    for amendment in reversed(session.amendments):
        if amendment.injection_id == injection_id and amendment.field == name:
            return amendment.new_value
    return as_text(getattr(injection if injection is not None else session, name)) or ""


def amend_session(session: TreatmentSession, doctor: User, injection: InjectionLog | None, name: str, new_value: str,
                  reason: str, password: str, code: str | None = None) -> Amendment:
    """A correction beside the signed original: field, old and new value, reason, re-authentication.

    ``injection`` is the injection log corrected, or None for a field of the session itself."""
    if not session.is_signed:
        raise ClinicError("A draft is edited, not amended.")
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor amends a session.")
    reason = required_text(reason, "reason", "Say why the record is corrected.")
    new_value = (new_value or "").strip()
    amendable = AMENDABLE_SESSION_FIELDS if injection is None else AMENDABLE_INJECTION_FIELDS
    if name not in amendable or (injection is not None and injection not in session.injections):
        raise FieldError("target_field", "Choose a field to correct.")
    new_value = _code_for_label(name, new_value)
    _check_amended_value(name, new_value)
    old = current_value(session, injection, name)
    if name == "volume_ml" and injection is not None:
        _check_amended_volume(session, injection, Decimal(new_value))
    if old == new_value:
        raise FieldError("new_value", "The new value is the same as the current one.")
    reauthenticate(doctor, password, code, purpose="amend session")
    amendment = Amendment(session=session, injection=injection, field=name, old_value=old, new_value=new_value,
                          reason=reason, amended_by_id=doctor.id)
    return stored(amendment)


def _code_for_label(name: str, value: str) -> str:
    """Doctors type what they see ("Papule"); the record keeps the code ("papule")."""
    labels = {"technique": TECHNIQUES, "skin_preparation": SKIN_PREPARATIONS}.get(name)
    if labels:
        for code, label in labels.items():
            if value.casefold() in (code.casefold(), label.casefold()):
                return code
    return value


def _check_amended_volume(session: TreatmentSession, injection: InjectionLog, new_volume: Decimal) -> None:
    """An amended volume still cannot exceed what its preparation drew."""
    preparation = injection.preparation
    if preparation is None:  # not given, so no volume to correct (the page offers only given injections)
        raise FieldError("target_field", "Choose a field to correct.")
    total = Decimal("0")
    for other in session.injections:
        if other.preparation_id != preparation.id or not other.administered:
            continue
        total += new_volume if other is injection else Decimal(current_value(session, other, "volume_ml"))
    if total > preparation.drawn_ml:
        raise FieldError("new_value", f"{ml(total)} ml would then be injected from {preparation.label}, "
                                      f"but only {ml(preparation.drawn_ml)} ml was drawn.")


def _check_amended_value(name: str, value: str) -> None:
    if name == "notes":
        return
    if name == "skin_preparation" and value not in SKIN_PREPARATIONS:
        raise FieldError("new_value", "Choose one of: " + ", ".join(SKIN_PREPARATIONS) + ".")
    if name == "technique" and value not in TECHNIQUES:
        raise FieldError("new_value", "Choose one of: " + ", ".join(TECHNIQUES) + ".")
    if name == "needle_gauge" and value not in {str(g) for g in NEEDLE_GAUGES}:
        raise FieldError("new_value", "The needle gauge is 27, 30, 31 or 32.")
    if name in ("needle_length_mm", "depth_mm", "volume_ml"):
        number = decimal_in(value, "new_value", "Enter a number.")
        limits = {"needle_length_mm": (Decimal("0.1"), Decimal("13")), "depth_mm": DEPTH_MM,
                  "volume_ml": (Decimal("0.01"), Decimal("100"))}[name]
        if not limits[0] <= number <= limits[1]:
            raise FieldError("new_value", f"Enter a value between {limits[0]} and {limits[1]}.")
    if name in ("points", "anaesthetic_minutes"):
        if not value.isdigit() or not 1 <= int(value) <= 1000:
            raise FieldError("new_value", "Enter a whole number above 0.")

