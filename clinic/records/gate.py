"""The treatment gate: may this patient have this treatment, with these products, on this day?

``check_treatment_allowed`` gathers every reason at once (consent, screening,
contraindications, allergies to a product's ingredients, a first treatment
without a patch test) and loads what it needs in a fixed number of queries,
whatever the size of the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from clinic.core.findings import Finding
from clinic.extensions import db
from clinic.inventory.models import Product, ProductIngredient
from clinic.records.catalogue.models import Indication
from clinic.records.codes import WarningCode
from clinic.records.consent.models import Consent, ConsentTextVersion
from clinic.records.consent.services import consent_in_force
from clinic.records.patients.models import HistoryVersion, PatchTest, Patient
from clinic.records.screening.models import Screening, ScreeningAnswer
from clinic.records.screening.services import evaluate_screening, screening_validity


@dataclass
class GateResult:
    allowed: bool
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    screening: Screening | None = None
    consent: Consent | None = None


def _history(patient: Patient) -> HistoryVersion | None:
    return db.session.scalar(
        sa.select(HistoryVersion).where(HistoryVersion.patient_id == patient.id)
        .order_by(HistoryVersion.number.desc()).limit(1)
        .options(selectinload(HistoryVersion.conditions), selectinload(HistoryVersion.medications),
                 selectinload(HistoryVersion.allergies), selectinload(HistoryVersion.treatments))
    )


def _consents(patient: Patient) -> list[Consent]:
    return list(db.session.scalars(
        sa.select(Consent).where(Consent.patient_id == patient.id, Consent.voided_at.is_(None))
        .options(selectinload(Consent.text_version).selectinload(ConsentTextVersion.form))
    ))


def _screenings(patient: Patient, indication: str) -> list[Screening]:
    return list(db.session.scalars(
        sa.select(Screening).where(Screening.patient_id == patient.id, Screening.indication_code == indication,
                                   Screening.voided_at.is_(None))
        .order_by(Screening.screened_on.desc(), Screening.id.desc())
        .options(selectinload(Screening.answers).selectinload(ScreeningAnswer.rule),
                 selectinload(Screening.overrides))
    ))


def _product_id(product: Product | int) -> int:
    # The identity key, not product.id: reading an expired attribute would cost a query per product.
    if isinstance(product, int):
        return product
    identity = sa.inspect(product).identity
    assert identity is not None  # a product loaded from the database
    product_id: int = identity[0]
    return product_id


def _products(product_ids: Iterable[int]) -> list[Product]:
    ids = sorted(set(product_ids))
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Product).where(Product.id.in_(ids))
        .options(selectinload(Product.ingredients).selectinload(ProductIngredient.ingredient))
    ))


def check_treatment_allowed(patient: Patient, indication: str, areas: Sequence[str],
                            products: Iterable[Product | int], on_date: date,
                            *, first_treatment: bool = True) -> GateResult:
    """Allowed or blocked with every reason; warnings to acknowledge either way.

    ``first_treatment`` tells whether the patient has had no session before;
    the sessions package passes what its records say.
    """
    result = GateResult(allowed=True)
    if patient.is_voided:
        return GateResult(False, [Finding("patient_voided", "This patient was registered in error (voided).")])
    indication_row = db.session.get(Indication, indication)
    label = indication_row.name if indication_row else indication
    history = _history(patient)

    consent = consent_in_force(_consents(patient), indication, on_date)
    if consent is None:
        result.reasons.append(Finding("no_consent",
                                      f"No consent in force for {label}: record the patient's signed consent first."))
    result.consent = consent

    wanted_areas = set(areas)
    screening = next((s for s in _screenings(patient, indication) if wanted_areas <= s.area_codes), None)
    result.screening = screening
    if screening is None:
        result.reasons.append(Finding("no_screening", f"No screening for {label} covering the planned areas."))
    else:
        validity = screening_validity(screening, patient, history, on_date)
        result.reasons.extend(validity.reasons)
        evaluation = evaluate_screening(screening, patient, on_date)
        result.reasons.extend(Finding(f"absolute:{f.rule.code}", f"Absolute contraindication: {f.message}")
                              for f in evaluation.absolute)
        result.reasons.extend(Finding(f"relative:{f.rule.code}",
                                      f"Relative contraindication not overridden by a doctor: {f.message}")
                              for f in evaluation.relative)
        result.warnings.extend(Finding(WarningCode.RULE.of(f.rule.code), f.message) for f in evaluation.warnings)

    product_ids = [_product_id(p) for p in products]
    allergies = history.allergy_ingredient_ids if history else set()
    for product in _products(product_ids):
        clashes = [link.ingredient.name for link in product.ingredients if link.ingredient_id in allergies]
        if clashes:
            result.reasons.append(Finding(
                "allergy", f"{product.name} contains {', '.join(clashes)}, to which the patient is allergic."))

    if first_treatment:
        negative = db.session.scalar(
            sa.select(sa.func.count()).select_from(PatchTest).where(
                PatchTest.patient_id == patient.id, PatchTest.result == "negative",
                PatchTest.voided_at.is_(None))
        )
        if not negative:
            result.warnings.append(Finding(
                WarningCode.FIRST_TIME_NO_PATCH_TEST,
                "First treatment and no negative patch test on record: a patch test is recommended.",
            ))
    result.allowed = not result.reasons
    return result
