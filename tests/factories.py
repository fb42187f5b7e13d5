"""Shared builders for clinical-record tests: patients, histories, screenings, consents, products."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Ingredient
from clinic.records.consent import services as consent_services
from clinic.records.consent.models import Consent, ConsentForm
from clinic.records.patients import services as patients
from clinic.records.patients.models import Patient
from clinic.records.screening import services as screening_services
from clinic.records.screening.models import ContraindicationRule, Screening
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import TreatmentSession

TODAY = date.today()
INDICATION = "skin_rejuvenation"
AREAS = ("cheeks", "forehead")


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def register(by, first="Amélie", last="Durand", dob=date(1990, 4, 12), **details) -> Patient:
    patient = patients.register_patient(
        patients.PatientDetails(first_name=first, last_name=last, date_of_birth=dob,
                                sex=details.pop("sex", "female"), **details),
        by,
    )
    db.session.commit()
    return patient


def record_history(patient, by, **changes):
    entry = patients.history_input_from(patients.current_history(patient))
    entry.pregnancy, entry.breastfeeding = "no", "no"
    for key, value in changes.items():
        setattr(entry, key, value)
    current = patients.current_history(patient)
    version = patients.record_history(patient, entry, by, based_on=current.number if current else 0)
    db.session.commit()
    return version


def rule(code: str) -> ContraindicationRule:
    return db.session.scalar(sa.select(ContraindicationRule).where(ContraindicationRule.code == code))


def screen(patient, by, *, yes: dict[str, date | None] | None = None, on: date = TODAY,
           indication: str = INDICATION, areas=AREAS) -> Screening:
    """Answer every question no, except the rule codes in ``yes`` (with their event dates)."""
    yes = yes or {}
    rules = screening_services.applicable_rules(indication, areas)
    answers = [screening_services.AnswerInput(r.id, r.code in yes, yes.get(r.code)) for r in rules
               if r.trigger != "age_under"]
    made = screening_services.record_screening(patient, indication, areas, answers, by, on_date=on)
    db.session.commit()
    return made


def treatment_form(indication: str = INDICATION) -> ConsentForm:
    return db.session.scalar(sa.select(ConsentForm).where(ConsentForm.indication_code == indication))


def sign_consent(patient, witness, indication: str = INDICATION) -> Consent:
    consent = consent_services.record_consent(patient, treatment_form(indication).current_version,
                                              patient.full_name, None, witness)
    db.session.commit()
    return consent


@pytest.fixture
def patient(staff) -> Patient:
    registered = register(staff["nurse"])
    record_history(registered, staff["nurse"])
    return registered


@pytest.fixture
def vitamin_product(app):
    vitamin_c = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Vitamin C"))
    product = inventory.create_product(inventory.ProductDetails(
        name="Revita C Glow", manufacturer="Lumea Dermaceutics", kind="vitamin_cocktail", unit="vial",
        volume_ml=Decimal("5"), gtin="", ingredient_ids=[vitamin_c.id],
    ))
    db.session.commit()
    return product


def negative_patch_test(patient, by, product) -> None:
    test = patients.record_patch_test(patient, by, product=product)
    patients.read_patch_test(test, "negative", "", by)
    db.session.commit()


# --- stock, courses and sessions ---------------------------------------------------------------

# Today, a minute ago: consent and screening are recorded today, and a session cannot be in the future.
NOW = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=1)


@pytest.fixture
def stock(app, staff, vitamin_product):
    """Two products with a lot each: 10 vials of 5 ml vitamins, 10 vials of 2 ml hyaluronic acid."""
    ha = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Non-cross-linked hyaluronic acid"))
    ha_product = inventory.create_product(inventory.ProductDetails(
        name="HydraVeil HA 1.5%", manufacturer="Lumea Dermaceutics", kind="hyaluronic_acid", unit="vial",
        volume_ml=Decimal("2"), gtin="", ingredient_ids=[ha.id]))
    fridge = inventory.create_location("Fridge 1", "fridge")
    lots = {}
    for name, product in (("vitamins", vitamin_product), ("ha", ha_product)):
        lot, _ = inventory.receive_lot(inventory.Receipt(
            product=product, lot_number=f"L-{name.upper()}", expiry_date=TODAY + timedelta(days=200), quantity=10,
            supplier="MedAesthetic Supplies", received_on=TODAY - timedelta(days=20), location=fridge,
        ), staff["nurse"])
        lots[name] = lot
    db.session.commit()
    return lots


@pytest.fixture
def course(patient, staff, stock):
    """A consented, screened, patch-tested patient with a skin-rejuvenation course."""
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"])
    negative_patch_test(patient, staff["nurse"], stock["vitamins"].product)
    made = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=TODAY - timedelta(days=10)),
                                staff["doctor"])
    db.session.commit()
    return made


def entry(stock, *, when=NOW, preparations=None, injections=None, **overrides) -> treatments.SessionInput:
    """A cocktail of 1 vial of vitamins (3 ml) and 1 vial of HA (2 ml), injected into cheeks and forehead."""
    values = dict(
        performed_at=when, skin_preparation="chlorhexidine", technique="nappage", needle_gauge=32,
        needle_length_mm=Decimal("4"),
        preparations=preparations or [treatments.PreparationInput("Glow cocktail", [
            treatments.ComponentInput(stock["vitamins"].id, Decimal("3")),
            treatments.ComponentInput(stock["ha"].id, Decimal("2")),
        ])],
        injections=injections or [
            treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2.5"), points=50),
            treatments.InjectionInput("forehead", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1.5"), points=30),
        ],
    )
    values.update(overrides)
    return treatments.SessionInput(**values)


def ready_course(staff, first: str, last: str, *, starts_on: date = TODAY - timedelta(days=10)):
    """A new patient with history, consent and screening, and a skin-rejuvenation course: ready for a session."""
    patient = register(staff["nurse"], first=first, last=last)
    record_history(patient, staff["nurse"])
    sign_consent(patient, staff["nurse"])
    screen(patient, staff["nurse"])
    made = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=starts_on),
                                  staff["doctor"])
    db.session.commit()
    return made


def save(course, stock, doctor, **overrides) -> TreatmentSession:
    session = treatments.save_session(course, entry(stock, **overrides), doctor)
    db.session.commit()
    return session


