"""What a session form carries into the services, and the two refusals a save can meet."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from clinic.core.errors import ClinicError
from clinic.core.findings import Finding


class SessionRefused(ClinicError):
    """The gate blocks this session; ``reasons`` says every why."""

    def __init__(self, reasons: list[Finding], refused: str = "This session cannot be saved") -> None:
        super().__init__(f"{refused}: " + " ".join(r.message for r in reasons))
        self.reasons = reasons


class NeedsAcknowledgement(ClinicError):
    """Warnings the doctor has not yet acknowledged."""

    def __init__(self, warnings: list[Finding]) -> None:
        super().__init__("Acknowledge the warnings before saving.")
        self.warnings = warnings


@dataclass
class ComponentInput:
    lot_id: int | None
    volume_ml: Decimal | None
    units: int | None = 1
    product_id: int | None = None  # what the row says the lot is, when the form asks


@dataclass
class PreparationInput:
    label: str
    components: Sequence[ComponentInput]


@dataclass
class InjectionInput:
    area_code: str
    preparation_index: int | None
    technique: str = ""
    depth_mm: Decimal | None = None
    volume_ml: Decimal | None = None
    points: int | None = None
    needle_gauge: int | None = None
    administered: bool = True
    not_administered_reason: str = ""


@dataclass
class SessionInput:
    performed_at: datetime
    skin_preparation: str
    technique: str
    needle_gauge: int
    needle_length_mm: Decimal
    preparations: Sequence[PreparationInput]
    injections: Sequence[InjectionInput]
    nurse_id: int | None = None
    anaesthetic_lot_id: int | None = None
    anaesthetic_minutes: int | None = None
    notes: str = ""
    acknowledged: Sequence[str] = ()

