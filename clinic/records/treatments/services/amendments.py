"""Correcting a signed session: an amendment beside the original, with a reason and the password."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import Role, User
from clinic.auth.services import reauthenticate
from clinic.core.errors import ClinicError, FieldError
from clinic.core.services import apply_correction, required_text, stored
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.inventory.services import lots_stock
from clinic.records.catalogue.models import Area
from clinic.records.signals import session_amended, session_corrected
from clinic.records.treatments.models import (
    DEPTH_MM,
    NEEDLE_GAUGES,
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Amendment,
    InjectionLog,
    PreparationComponent,
    TreatmentSession,
)
from clinic.records.treatments.services.checks import decimal_in, ml
from clinic.records.treatments.services.signing import as_text

AMENDABLE_SESSION_FIELDS = {"notes": "Notes", "skin_preparation": "Skin preparation", "technique": "Technique",
                            "needle_gauge": "Needle gauge", "needle_length_mm": "Needle length (mm)",
                            "anaesthetic_minutes": "Anaesthetic cream (minutes)"}
AMENDABLE_INJECTION_FIELDS = {"area_code": "Area", "depth_mm": "Depth (mm)", "volume_ml": "Volume (ml)",
                              "points": "Points", "technique": "Technique"}
# A lot use: which lot, how many units were opened, how much was drawn from them.
AMENDABLE_COMPONENT_FIELDS = {"lot_id": "Lot", "units": "Units opened", "volume_ml": "Volume drawn (ml)"}
# A corrected key and the relationship that loads what it points at.
_RELATED = {"lot_id": "lot", "area_code": "area"}
_DECIMALS = frozenset({"needle_length_mm", "depth_mm", "volume_ml"})
_WHOLE = frozenset({"needle_gauge", "points", "anaesthetic_minutes", "units", "lot_id"})

Target = InjectionLog | PreparationComponent | None


def current_value(session: TreatmentSession, target: Target, name: str) -> str:
    """The value as it stands (amendments write the record); ``target`` None means the session."""
    return as_text(getattr(target if target is not None else session, name)) or ""


def _fields_of(target: Target) -> dict[str, str]:
    if target is None:
        return AMENDABLE_SESSION_FIELDS
    return AMENDABLE_INJECTION_FIELDS if isinstance(target, InjectionLog) else AMENDABLE_COMPONENT_FIELDS


def _belongs(session: TreatmentSession, target: Target) -> bool:
    if isinstance(target, InjectionLog):
        return target in session.injections and target.administered
    if isinstance(target, PreparationComponent):
        return any(target in p.components for p in session.preparations)
    return True


def amend_session(session: TreatmentSession, doctor: User, target: Target, name: str, new_value: str,
                  reason: str, password: str, code: str | None = None) -> Amendment:
    """A correction of a signed session, with a reason and the password again: the record takes the new
    value, so every figure built on it follows (traces, stock, recalls, reports); the amendment keeps the
    old value beside it, and the signature is still checked against the content as signed.

    ``target`` is the injection log or the lot use (preparation component) corrected, or None for a
    field of the session itself."""
    if not session.is_signed:
        raise ClinicError("A draft is edited, not amended.")
    if session.is_voided:
        raise ClinicError("A voided session is not amended.")
    if doctor.role != Role.DOCTOR:
        raise ClinicError("Only a doctor amends a session.")
    reason = required_text(reason, "reason", "Say why the record is corrected.")
    if name not in _fields_of(target) or not _belongs(session, target):
        raise FieldError("target_field", "Choose a field to correct.")
    new_value = _resolved(name, (new_value or "").strip(), target)
    _check_amended_value(name, new_value)
    old = current_value(session, target, name)
    if name == "volume_ml":
        _check_amended_volume(session, target, Decimal(new_value))
    if name == "units":
        _check_amended_units(target, int(new_value))
    if name == "lot_id" and isinstance(target, PreparationComponent):
        [stock] = lots_stock([int(new_value)])
        if stock.on_hand < target.units:
            raise FieldError("new_value", f"Lot {stock.lot.lot_number} has only {stock.on_hand} left: "
                                          f"{target.units} cannot have been opened from it.")
    if old == new_value:
        raise FieldError("new_value", "The new value is the same as the current one.")
    reauthenticate(doctor, password, code, purpose="amend session")
    amendment = Amendment(session=session, field=name, old_value=old, new_value=new_value, reason=reason,
                          amended_by_id=doctor.id, injection=target if isinstance(target, InjectionLog) else None,
                          component=target if isinstance(target, PreparationComponent) else None)
    apply_correction(target if target is not None else session, name, _typed(name, new_value))
    stored(amendment)
    if name in _RELATED and target is not None:
        db.session.expire(target, [_RELATED[name]])  # the lot or area object follows its corrected key
    if name == "lot_id":
        session_corrected.send(session, by=doctor)
    session_amended.send(session, by=doctor, field=name)
    return amendment


def _typed(name: str, value: str) -> object:
    if value == "" and name != "notes":
        return None
    if name in _DECIMALS:
        return Decimal(value)
    if name in _WHOLE:
        return int(value)
    return value


def _resolved(name: str, value: str, target: Target) -> str:
    """What the doctor typed as the record keeps it: a technique's code, an area's code, a lot's id."""
    if name == "lot_id":
        return str(_lot_named(value, target).id)
    if name == "area_code":
        area = db.session.scalar(sa.select(Area).where(sa.or_(
            sa.func.lower(Area.code) == value.lower(), sa.func.lower(Area.name) == value.lower())))
        if area is None:
            raise FieldError("new_value", "Give an area of the catalogue, by its name (e.g. Cheeks).")
        return area.code
    return _code_for_label(name, value)


def _lot_named(number: str, target: Target) -> Lot:
    """The lot of the same product with this number: a correction fixes which vial was used, never what
    was injected (another product is a different session: void it and log the right one)."""
    lots = list(db.session.scalars(sa.select(Lot).where(sa.func.lower(Lot.lot_number) == number.lower())))
    if not lots:
        raise FieldError("new_value", f"No lot {number or '(empty)'} in the register.")
    product = target.lot.product if isinstance(target, PreparationComponent) else None
    same = next((lot for lot in lots if product is not None and lot.product_id == product.id), None)
    if same is None:
        raise FieldError("new_value", f"Lot {lots[0].lot_number} is of {lots[0].product.name}, not "
                                      f"{product.name if product else 'this product'}: a lot correction keeps the "
                                      "product. If another product was injected, void the session and log it again.")
    return same


def _check_amended_units(target: Target, units: int) -> None:
    """More units opened than the lot has left would make its stock negative: a typing slip."""
    if not isinstance(target, PreparationComponent):
        return
    [stock] = lots_stock([target.lot_id])
    left = stock.on_hand + target.units  # what the lot would have without this use
    if units > left:
        raise FieldError("new_value", f"Lot {target.lot.lot_number} has only {left} left to have been opened here.")


def _code_for_label(name: str, value: str) -> str:
    """Doctors type what they see ("Papule"); the record keeps the code ("papule")."""
    labels = {"technique": TECHNIQUES, "skin_preparation": SKIN_PREPARATIONS}.get(name)
    if labels:
        for code, label in labels.items():
            if value.casefold() in (code.casefold(), label.casefold()):
                return code
    return value


def _check_amended_volume(session: TreatmentSession, target: Target, new_volume: Decimal) -> None:
    """An amended volume keeps what is injected from a preparation within what was drawn for it."""
    if isinstance(target, InjectionLog):
        preparation = target.preparation
    elif isinstance(target, PreparationComponent):
        preparation = target.preparation
    else:
        preparation = None
    if preparation is None:  # not given, so no volume to correct (the page offers only given injections)
        raise FieldError("target_field", "Choose a field to correct.")
    drawn = sum((new_volume if c is target else c.volume_ml for c in preparation.components), Decimal("0"))
    injected = sum((new_volume if i is target else (i.volume_ml or Decimal("0"))
                    for i in session.injections if i.preparation_id == preparation.id and i.administered),
                   Decimal("0"))
    if injected > drawn:
        raise FieldError("new_value", f"{ml(injected)} ml would then be injected from {preparation.label}, "
                                      f"but only {ml(drawn)} ml was drawn.")


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
    if name in ("points", "anaesthetic_minutes", "units"):
        if not value.isdigit() or not 1 <= int(value) <= 1000:
            raise FieldError("new_value", "Enter a whole number above 0.")

