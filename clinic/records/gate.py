"""The treatment gate: may this patient have this treatment, with these products, on this day?

``check_treatment_allowed`` gathers every reason at once (consent, screening,
contraindications, allergies to a product's ingredients, a first treatment
without a patch test) and loads what it needs in a fixed number of queries,
whatever the size of the record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import ORMOption

from clinic.core.findings import Finding
from clinic.core.lists import Listing, ListsQuery
from clinic.extensions import db
from clinic.inventory.models import Product, ProductIngredient
from clinic.records.catalogue.models import Indication
from clinic.records.codes import WarningCode
from clinic.records.consent.models import Consent, ConsentTextVersion
from clinic.records.consent.services import consent_in_force
from clinic.records.patients.models import (
    HistoryAllergy,
    HistoryCondition,
    HistoryMedication,
    HistoryTreatment,
    HistoryVersion,
    PatchTest,
    Patient,
)
from clinic.records.screening.models import ContraindicationRule, Screening, ScreeningAnswer
from clinic.records.screening.services import evaluate_screening, screening_validity


@dataclass
class GateResult:
    allowed: bool
    reasons: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    screening: Screening | None = None
    consent: Consent | None = None


@dataclass
class PatientFacts:
    """What the gate reads about a patient, loaded once: a page that runs the gate for several
    treatments (the chart's badges) or shows the same records itself passes it in rather than have
    each run load it again."""

    history: HistoryVersion | None
    consents: list[Consent]  # live ones, with their text's form
    screenings: list[Screening]  # live ones, newest first, with answers, rules and overrides
    has_negative_patch_test: bool
    treated_before: bool | None = None  # a live session on record (besides the one being checked); None: not read
    products: dict[int, Product] | None = None  # the products to check, with their ingredients; None: not read

    @classmethod
    def from_records(cls, history: HistoryVersion | None, consents: Iterable[Consent],
                     screenings: Iterable[Screening], patch_tests: Iterable[PatchTest]) -> PatientFacts:
        """From records a page already loaded (voided ones included: they are left out here)."""
        return cls(history, [c for c in consents if not c.is_voided],
                   sorted((s for s in screenings if not s.is_voided),
                          key=lambda s: (s.screened_on, s.id), reverse=True),
                   any(t.result == "negative" and not t.is_voided for t in patch_tests))


def screening_answers(screening: Any = Screening) -> ORMOption:
    """The loader option for screenings' answers: their rules joined, without the indications and areas a
    rule is limited to (the gate reads the answers, not the rule's scope; loaded, they cost two queries).
    ``screening``: the entity or its alias in a ``load_lists`` statement."""
    return selectinload(screening.answers).joinedload(ScreeningAnswer.rule).options(
        lazyload(ContraindicationRule.indication_links), lazyload(ContraindicationRule.area_links))


def screening_lists(screening: Any = Screening) -> tuple[ORMOption, ...]:
    """A screening's areas and overrides joined to it: a few rows each, one statement saved apiece."""
    return joinedload(screening.area_links), joinedload(screening.overrides)


def history_listings() -> list[Listing]:
    """The latest history version of the patient named by the bind parameter ``patient_id``, and its four
    lists, as ``load_lists`` listings (a page adds its own lists to the same statement); ``history_from``
    puts the result together."""
    latest = (sa.select(HistoryVersion.id).where(HistoryVersion.patient_id == sa.bindparam("patient_id"))
              .order_by(HistoryVersion.number.desc()).limit(1).scalar_subquery())
    by_id: Callable[[Any], list[Any]] = lambda alias: [alias.id]  # noqa: E731  (the relationships' order)
    return [
        Listing(HistoryVersion, [HistoryVersion.id == latest]),
        Listing(HistoryCondition, [HistoryCondition.version_id == latest], order_by=by_id,
                options=lambda alias: [joinedload(alias.condition)]),
        Listing(HistoryMedication, [HistoryMedication.version_id == latest], order_by=by_id),
        Listing(HistoryAllergy, [HistoryAllergy.version_id == latest], order_by=by_id,
                options=lambda alias: [joinedload(alias.ingredient)]),
        Listing(HistoryTreatment, [HistoryTreatment.version_id == latest], order_by=by_id),
    ]


HISTORY_LISTS = ("conditions", "medications", "allergies", "treatments")


def history_from(lists: Sequence[list[Any]]) -> HistoryVersion | None:
    """The history version loaded by ``history_listings``, its lists set as loaded (no query on reading)."""
    versions, *children = lists
    if not versions:
        return None
    version: HistoryVersion = versions[0]
    for name, records in zip(HISTORY_LISTS, children, strict=True):
        set_committed_value(version, name, records)
    return version


_HISTORY = ListsQuery(history_listings)


def latest_history(patient_id: int) -> HistoryVersion | None:
    return history_from(_HISTORY.load(patient_id=patient_id))


def _facts_listings() -> list[Listing]:
    patient_id: sa.BindParameter[int] = sa.bindparam("patient_id")
    return [
        *history_listings(),
        Listing(Consent, [Consent.patient_id == patient_id, Consent.voided_at.is_(None)],
                order_by=lambda alias: [alias.id],
                options=lambda alias: [joinedload(alias.text_version).joinedload(ConsentTextVersion.form)]),
        Listing(Screening, [Screening.patient_id == patient_id, Screening.voided_at.is_(None)],
                order_by=lambda alias: [alias.screened_on.desc(), alias.id.desc()],
                options=lambda alias: [screening_answers(alias), *screening_lists(alias)]),
        Listing(Product, [Product.id.in_(sa.bindparam("product_ids", expanding=True))],
                options=lambda alias: [joinedload(alias.ingredients).joinedload(ProductIngredient.ingredient)]),
    ]


_FACTS = ListsQuery(_facts_listings)


def load_patient_facts(patient: Patient, *, sessions: sa.Exists | None = None,
                       product_ids: Iterable[int] = ()) -> PatientFacts:
    """The gate's facts in a fixed number of queries, whatever the size of the record: the history,
    consents, screenings and the products to check in one statement, the screenings' answers, and the
    flags. ``sessions``: an EXISTS over the patient's other live sessions (the sessions package knows
    them), read in the same statement as the patch tests, for ``first_treatment``."""
    *history, consents, screenings, products = _FACTS.load(patient_id=patient.id,
                                                            product_ids=sorted(set(product_ids)))
    negative = sa.exists().where(PatchTest.patient_id == patient.id, PatchTest.result == "negative",
                                 PatchTest.voided_at.is_(None))
    flags = db.session.execute(sa.select(negative, sessions if sessions is not None else sa.null())).one()
    return PatientFacts(history_from(history), consents, screenings, bool(flags[0]),
                        None if flags[1] is None else bool(flags[1]), {product.id: product for product in products})


def _product_id(product: Product | int) -> int:
    # The identity key, not product.id: reading an expired attribute would cost a query per product.
    if isinstance(product, int):
        return product
    identity = sa.inspect(product).identity
    assert identity is not None  # a product loaded from the database
    product_id: int = identity[0]
    return product_id


def _products(product_ids: Iterable[int], loaded: dict[int, Product] | None) -> list[Product]:
    ids = sorted(set(product_ids))
    if loaded is not None and loaded.keys() >= set(ids):
        return [loaded[product_id] for product_id in ids]
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Product).where(Product.id.in_(ids))
        .options(joinedload(Product.ingredients).joinedload(ProductIngredient.ingredient))
    ).unique())


def check_treatment_allowed(patient: Patient, indication: str, areas: Sequence[str],
                            products: Iterable[Product | int], on_date: date,
                            *, first_treatment: bool = True, facts: PatientFacts | None = None) -> GateResult:
    """Allowed or blocked with every reason; warnings to acknowledge either way.

    ``first_treatment`` tells whether the patient has had no session before;
    the sessions package passes what its records say. ``facts``: the patient's records
    already loaded (``load_patient_facts`` or ``PatientFacts.from_records``), else loaded here.
    """
    result = GateResult(allowed=True)
    if patient.is_voided:
        return GateResult(False, [Finding("patient_voided", "This patient was registered in error (voided).")])
    indication_row = db.session.get(Indication, indication)
    label = indication_row.name if indication_row else indication
    if facts is None:
        facts = load_patient_facts(patient)
    history = facts.history

    consent = consent_in_force(facts.consents, indication, on_date)
    if consent is None:
        result.reasons.append(Finding("no_consent",
                                      f"No consent in force for {label}: record the patient's signed consent first."))
    result.consent = consent

    wanted_areas = set(areas)
    screening = next((s for s in facts.screenings
                      if s.indication_code == indication and wanted_areas <= s.area_codes), None)
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
    for product in _products(product_ids, facts.products):
        clashes = [link.ingredient.name for link in product.ingredients if link.ingredient_id in allergies]
        if clashes:
            result.reasons.append(Finding(
                "allergy", f"{product.name} contains {', '.join(clashes)}, to which the patient is allergic."))

    if first_treatment and not facts.has_negative_patch_test:
        result.warnings.append(Finding(
            WarningCode.FIRST_TIME_NO_PATCH_TEST,
            "First treatment and no negative patch test on record: a patch test is recommended.",
        ))
    result.allowed = not result.reasons
    return result
