"""Every page a doctor, nurse or auditor opens all day costs the same statements whether it shows 2 rows or 50
of each kind (issue 17), counted with the shared ``page_queries`` fixture, and at most ``QUERY_BUDGET``.

Each story builds a quiet record and a busy one (50 history entries, consents, screenings, patch tests,
sessions, injection rows, side effects, amendments...) and opens the same page on both. The home pages
carry their own, lower, ceilings.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import StorageLocation
from clinic.records.followups import services as followups
from clinic.records.followups.models import MAX_FAILED_ATTEMPTS, FollowUpTask
from clinic.records.patients import services as patients
from clinic.records.treatments import services as treatments
from tests.conftest import PASSWORDS, QUERY_BUDGET
from tests.factories import (
    AREAS,
    INDICATION,
    NOW,
    TODAY,
    negative_patch_test,
    record_history,
    register,
    save,
    screen,
    sign_consent,
)

# The home pages, by role: the worklists and flags (doctor), the follow-ups and their counts (nurse), the lot
# signal, reports owed and recalls (auditor), the accounts' counts (admin); each with the sign-in history.
HOME_CEILINGS = {"doctor": 10, "nurse": 6, "auditor": 7, "admin": 4}

SMALL, LARGE = 2, 50


def _busy_patient(staff, stock, *, first: str, rows: int):
    """A patient with ``rows`` of each kind of record the chart lists, and a course ready for a session."""
    nurse = staff["nurse"]
    patient = register(nurse, first=first, last="Budget")
    record_history(patient, nurse,
                   medications=[patients.MedicationInput(f"drug {i}") for i in range(rows)],
                   treatments=[patients.TreatmentInput("chemical_peel", TODAY - timedelta(days=900 + i))
                               for i in range(rows)])
    for _ in range(rows):
        sign_consent(patient, nurse)
        negative_patch_test(patient, nurse, stock["vitamins"].product)
    for day in range(rows):
        screen(patient, nurse, on=TODAY - timedelta(days=day % 20))
    course = treatments.plan_course(patient, treatments.CourseInput(
        INDICATION, AREAS, planned_sessions=50, interval_days=1, starts_on=TODAY - timedelta(days=rows + 5),
        product_ids=[stock["vitamins"].product_id]), staff["doctor"])
    db.session.commit()
    return patient, course


def _sessions(course, stock, staff, count: int, *, signed: int = 1):
    """``count`` sessions a minute apart today, after the consent (the last ``signed`` of them signed)."""
    made = []
    for minute in range(count, 0, -1):
        made.append(save(course, stock, staff["doctor"], when=NOW - timedelta(seconds=minute),
                         acknowledged=["interval", "first_time_no_patch_test"]))
    for session in made[-signed:]:
        treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    return made


def _side_effects(session, nurse, count: int) -> None:
    for hours in range(count):
        followups.record_side_effect(session, nurse, followups.SideEffectInput(
            "redness", 1, onset_hours=0, note=f"report {hours}", injection_ids=[session.injections[0].id],
            causality="possible"),
            source="chart", now=NOW)
    db.session.commit()


def _receive(stock, staff, name: str, lot_number: str, units: int) -> None:
    """More vials on the shelf (the same lot number adds to that lot)."""
    fridge = db.session.scalar(sa.select(StorageLocation).where(StorageLocation.name == "Fridge 1"))
    inventory.receive_lot(inventory.Receipt(
        product=stock[name].product, lot_number=lot_number, expiry_date=TODAY + timedelta(days=200),
        quantity=units, supplier="MedAesthetic Supplies", received_on=TODAY, location=fridge), staff["nurse"])
    db.session.commit()


@pytest.fixture
def shelf(stock, staff):
    """The test stock with enough vials of both lots for a hundred sessions."""
    _receive(stock, staff, "vitamins", "L-VITAMINS", 200)
    _receive(stock, staff, "ha", "L-HA", 200)
    return stock


def test_a_busy_record_costs_the_chart_the_course_and_the_session_form_what_a_quiet_one_does(
        shelf, staff, clients, page_queries) -> None:
    pages = {}
    for first, rows in (("Quiet", SMALL), ("Busy", LARGE)):
        patient, course = _busy_patient(staff, shelf, first=first, rows=rows)
        sessions = _sessions(course, shelf, staff, rows)
        _side_effects(sessions[-1], staff["nurse"], rows)
        if rows == LARGE:
            for number in range(LARGE):  # more lots on the shelf: the session form offers each
                _receive(shelf, staff, "vitamins", f"L-MORE-{number}", 5)
        pages[first] = {
            "chart": page_queries(clients["doctor"], f"/patients/{patient.id}"),
            "course": page_queries(clients["nurse"], f"/courses/{course.id}"),
            "session form": page_queries(clients["doctor"], f"/courses/{course.id}/sessions/new"),
        }
    assert pages["Quiet"] == pages["Busy"]
    assert max(pages["Busy"].values()) <= QUERY_BUDGET, pages["Busy"]


def test_a_draft_opened_again_costs_the_same_for_2_injection_rows_and_50(course, shelf, staff, doctor_client,
                                                                          page_queries) -> None:
    stock = shelf
    save(course, stock, staff["doctor"], when=NOW - timedelta(seconds=30))  # both drafts follow a session
    small = save(course, stock, staff["doctor"], acknowledged=["interval"])
    rows = [treatments.InjectionInput(AREAS[i % 2], 0, depth_mm=Decimal("1"), volume_ml=Decimal("0.05"), points=2)
            for i in range(LARGE)]
    large = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), injections=rows,
                 acknowledged=["interval"])
    assert page_queries(doctor_client, f"/sessions/{small.id}/edit") == page_queries(
        doctor_client, f"/sessions/{large.id}/edit") <= QUERY_BUDGET


def test_a_signed_session_page_costs_the_same_with_50_rows_amendments_and_side_effects(
        course, shelf, staff, doctor_client, page_queries) -> None:
    stock = shelf

    def signed_with(rows: int, when):
        injections = [treatments.InjectionInput(AREAS[i % 2], 0, depth_mm=Decimal("1"), volume_ml=Decimal("0.05"),
                                                points=2) for i in range(rows)]
        session = save(course, stock, staff["doctor"], when=when, injections=injections, acknowledged=["interval"])
        treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
        for number in range(rows):
            treatments.amend_session(session, staff["doctor"], session.injections[number], "points", str(3 + number),
                                     "miscounted", PASSWORDS["doctor"])
        db.session.commit()
        _side_effects(session, staff["nurse"], rows)
        return session

    small = signed_with(SMALL, NOW - timedelta(hours=2))
    large = signed_with(LARGE, NOW)
    assert page_queries(doctor_client, f"/sessions/{small.id}") == page_queries(
        doctor_client, f"/sessions/{large.id}") <= QUERY_BUDGET


def test_the_home_pages_cost_the_same_on_a_quiet_day_and_a_busy_one(course, shelf, staff, clients,
                                                                    page_queries) -> None:
    doctor, nurse = staff["doctor"], staff["nurse"]
    # Today's work in two courses of the ready patient: drafts, and signed sessions (their follow-ups due).
    drafts, signed = (treatments.plan_course(course.patient, treatments.CourseInput(
        INDICATION, AREAS, planned_sessions=50, interval_days=1, starts_on=TODAY), doctor) for _ in range(2))

    def every_home() -> dict[str, int]:
        return {role: page_queries(clients[role], "/") for role in HOME_CEILINGS}

    def a_day_of(count: int, first: str) -> None:
        for number in range(count):
            late = register(nurse, first=f"{first}{number}", last="Overdue")  # a course with nothing done for a month
            treatments.plan_course(late, treatments.CourseInput(INDICATION, AREAS,
                                                                starts_on=TODAY - timedelta(days=30)), doctor)
            when = NOW - timedelta(seconds=len(drafts.sessions) + 1)
            save(drafts, shelf, doctor, when=when, acknowledged=["interval"])
            session = save(signed, shelf, doctor, when=when, acknowledged=["interval"])
            treatments.sign_session(session, doctor, PASSWORDS["doctor"])
            followups.record_side_effect(session, nurse, followups.SideEffectInput(  # severe: the doctor reviews it
                "bruising", 3, onset_hours=0, injection_ids=[session.injections[0].id], causality="possible",
                serious=True), source="chart", now=NOW)
            task = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == session.id)).first()
            for _ in range(MAX_FAILED_ATTEMPTS):  # and a follow-up that never reached the patient
                followups.record_attempt(task, nurse, followups.AttemptInput(NOW, "phone", reached=False), now=NOW)
            db.session.commit()

    a_day_of(SMALL, "Quiet")
    small = every_home()
    a_day_of(LARGE - SMALL, "Busy")
    large = every_home()
    assert small == large
    assert max(large.values()) <= QUERY_BUDGET, large
    assert all(large[role] <= ceiling for role, ceiling in HOME_CEILINGS.items()), large


def test_the_patient_list_and_search_cost_the_same_for_2_patients_and_50(staff, nurse_client, page_queries) -> None:
    for number in range(SMALL):
        register(staff["nurse"], first=f"Quiet{number}", last="Listed")
    small = (page_queries(nurse_client, "/patients"), page_queries(nurse_client, "/patients?q=Listed"))
    for number in range(LARGE - SMALL):
        register(staff["nurse"], first=f"Busy{number}", last="Listed")
    large = (page_queries(nurse_client, "/patients"), page_queries(nurse_client, "/patients?q=Listed"))
    assert small == large and max(large) <= QUERY_BUDGET
