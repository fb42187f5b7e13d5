"""Synthetic demo patients (Faker, fixed seed) in every state the chart can show, made through the services."""

from __future__ import annotations

import random
from datetime import date, timedelta

import sqlalchemy as sa
from faker import Faker

from clinic.auth.models import User
from clinic.core.clock import clinic_today
from clinic.core.models import utcnow
from clinic.extensions import db
from clinic.inventory.models import Ingredient, Product
from clinic.records.consent.models import ConsentForm
from clinic.records.consent.services import record_consent
from clinic.records.patients import services as patients
from clinic.records.patients.models import Patient
from clinic.records.screening.services import (
    AnswerInput,
    applicable_rules,
    record_screening,
    suggest,
)

PLANS = (
    ("skin_rejuvenation", ["cheeks", "forehead", "chin"]),
    ("mesolift", ["cheeks", "perioral", "neck"]),
    ("hair_loss", ["scalp"]),
    ("dark_circles", ["under_eye"]),
    ("localized_fat", ["abdomen", "flanks"]),
)


def _screen(patient: Patient, indication: str, areas: list[str], by: User, on: date) -> None:
    history = patients.current_history(patient)
    answers = []
    for rule in applicable_rules(indication, areas):
        hint = suggest(rule, patient, history, on)
        answers.append(AnswerInput(rule.id, bool(hint.answer), hint.event_date))
    record_screening(patient, indication, areas, answers, by, on_date=on)


def _consent(patient: Patient, indication: str, witness: User) -> None:
    form = db.session.scalars(sa.select(ConsentForm).where(ConsentForm.indication_code == indication)).one()
    version = form.current_version
    assert version is not None  # the catalogue gives every indication a published text
    record_consent(patient, version, patient.full_name, None, witness)


def seed_demo_patients(doctor: User, nurse: User, count: int = 24, seed: int = 20261122) -> list[Patient]:
    """Registered patients with histories; most screened, consented and patch-tested."""
    fake = Faker("en_GB")
    Faker.seed(seed)
    rng = random.Random(seed)
    today = clinic_today()
    ingredients = {i.name: i for i in db.session.scalars(sa.select(Ingredient))}
    first_product = db.session.scalar(sa.select(Product).order_by(Product.id))
    made = []
    for index in range(count):
        female = rng.random() < 0.8
        first = fake.first_name_female() if female else fake.first_name_male()
        patient = patients.register_patient(patients.PatientDetails(
            first_name=first, last_name=fake.last_name(),
            date_of_birth=fake.date_of_birth(minimum_age=19, maximum_age=68),
            # Ofcom's range kept for fiction.
            sex="female" if female else "male", phone=f"+44 20 7946 0{rng.randint(0, 999):03d}",
            email=f"{first.lower()}.{index}@example.com", address=fake.address().replace("\n", ", "),
            fitzpatrick=rng.choice([1, 2, 2, 3, 3, 3, 4, 5, 6]),
            emergency_contact=f"{fake.name()} (partner), +44 113 496 0{rng.randint(0, 999):03d}",
        ), nurse, today=today)
        made.append(patient)
        entry = patients.HistoryInput(
            pregnancy="no" if female else "not_applicable", breastfeeding="no" if female else "not_applicable",
        )
        if index == 1:
            entry.medications = [patients.MedicationInput("Apixaban 5 mg", anticoagulant=True)]
        if index == 2 and female:
            entry.pregnancy = "yes"
        if index == 3:
            entry.allergy_ingredient_ids = [ingredients["Vitamin C"].id]
        if index == 4:
            entry.treatments = [patients.TreatmentInput("isotretinoin", today - timedelta(days=60),
                                                        "20 mg daily, stopped")]
        if index == 5:
            entry.condition_codes = ["herpes_labialis"]
        if index % 7 == 6:
            continue  # some patients have no history recorded yet
        patients.record_history(patient, entry, nurse, based_on=None, today=today)
        if index % 5 == 4 and index != 4:
            continue  # registered and history taken, not screened yet
        indication, areas = PLANS[index % len(PLANS)]
        _screen(patient, indication, areas, nurse, today - timedelta(days=rng.randint(0, 20)))
        if index % 6 != 5:
            _consent(patient, indication, nurse)
        if first_product is not None and index % 3 != 2:
            test = patients.record_patch_test(patient, nurse, product=first_product,
                                              applied_at=utcnow() - timedelta(days=3))
            patients.read_patch_test(test, "negative", "", doctor, read_at=utcnow() - timedelta(days=2))
    return made
