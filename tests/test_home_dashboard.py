"""Each role's home page opens on its day at a glance: count cards with the right numbers, each a link to
the list it counts and coloured by status (ok when the list that should be empty is, warn or bad when not).

Every story makes the numbers differ from card to card, so a card that counted the wrong list would fail."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import StorageLocation
from clinic.records.followups import services as followups
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments import services as treatments
from clinic.tracing import recalls
from tests.conftest import PASSWORDS
from tests.factories import AREAS, INDICATION, NOW, TODAY, register, save

CARD = re.compile(r'<a href="(?P<href>[^"]*)" class="count-card count-(?P<tone>\w+)" id="count-(?P<key>[\w-]+)">\s*'
                  r'<strong class="count-number">(?P<count>\d+\+?)</strong>')


def cards(client) -> dict[str, tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """The home page's count cards: key -> (count, tone, link)."""
    page = client.get("/").get_data(as_text=True)
    return {m["key"]: (m["count"], m["tone"], m["href"]) for m in CARD.finditer(page)}


def _signed(course, stock, doctor, when):  # type: ignore[no-untyped-def]
    session = save(course, stock, doctor, when=when, acknowledged=["interval"])
    treatments.sign_session(session, doctor, PASSWORDS["doctor"])
    db.session.commit()
    return session


def _severe(session, nurse, *, grade: int = 3, serious: bool = False):  # type: ignore[no-untyped-def]
    followups.record_side_effect(session, nurse, followups.SideEffectInput(
        "bruising", grade, onset_hours=0, injection_ids=[session.injections[0].id], causality="possible",
        serious=serious), source="chart", now=NOW)
    db.session.commit()


def test_a_doctors_home_counts_todays_sessions_drafts_overdue_courses_and_flags(course, stock, staff,
                                                                                doctor_client) -> None:
    doctor, nurse = staff["doctor"], staff["nurse"]
    assert cards(doctor_client) == {  # a quiet day: only the ready course, planned ten days ago, is overdue
        "sessions-today": ("0", "info", "#doctor-today"), "drafts": ("0", "ok", "#doctor-drafts"),
        "overdue-courses": ("1", "warn", "#doctor-overdue"), "flags": ("0", "ok", "/flags")}

    drafts, signed = (treatments.plan_course(course.patient, treatments.CourseInput(
        INDICATION, AREAS, planned_sessions=20, interval_days=1, starts_on=TODAY), doctor) for _ in range(2))
    for minute in range(2):
        save(drafts, stock, doctor, when=NOW - timedelta(minutes=minute), acknowledged=["interval"])
    sessions = [_signed(signed, stock, doctor, NOW - timedelta(minutes=10 + minute)) for minute in range(3)]
    _severe(sessions[0], nurse)  # one flag for a doctor
    for number in range(2):  # two more courses with nothing done for a month
        late = register(nurse, first=f"Late{number}", last="Overdue")
        treatments.plan_course(late, treatments.CourseInput(INDICATION, AREAS, starts_on=TODAY - timedelta(days=30)),
                               doctor)
    db.session.commit()

    assert cards(doctor_client) == {
        "sessions-today": ("5", "info", "#doctor-today"), "drafts": ("2", "warn", "#doctor-drafts"),
        "overdue-courses": ("3", "warn", "#doctor-overdue"), "flags": ("1", "bad", "/flags")}
    home = doctor_client.get("/").get_data(as_text=True)
    for anchor in ("doctor-today", "doctor-drafts", "doctor-overdue"):  # each card leads to its list
        assert f'id="{anchor}"' in home


def test_a_nurses_home_counts_urgent_overdue_todays_and_upcoming_follow_ups(course, stock, staff, nurse_client) -> None:
    session = _signed(course, stock, staff["doctor"], NOW)
    db.session.execute(sa.update(FollowUpTask).values(status="done"))  # the session's own calls: made

    def task(due_on, *, urgent=False, status="due"):  # type: ignore[no-untyped-def]
        db.session.add(FollowUpTask(session_id=session.id, patient_id=session.course.patient_id, kind="phone_check",
                                    due_on=due_on, urgent=urgent, status=status,
                                    reason="patient_report" if urgent else "scheduled"))

    for days in (1, 2, 9):
        task(TODAY - timedelta(days=days))  # overdue: 3
    for _ in range(2):
        task(TODAY)  # due today: 2
    for days in (1, 3, 5, 7):
        task(TODAY + timedelta(days=days))  # upcoming: 4
    task(TODAY + timedelta(days=8))  # past the week: not counted
    task(TODAY - timedelta(days=1), status="not_reached")  # closed: not counted
    task(TODAY - timedelta(days=1), urgent=True)  # a patient's own report, a day old: urgent, not overdue: 1
    db.session.commit()

    worklist = "/follow-ups#follow-ups-"
    assert cards(nurse_client) == {
        "urgent": ("1", "bad", worklist + "urgent"), "overdue-follow-ups": ("3", "warn", worklist + "overdue"),
        "due-today": ("2", "info", worklist + "today"), "upcoming": ("4", "info", worklist + "upcoming")}


def test_an_auditors_home_counts_flagged_lots_unreported_side_effects_and_recalls_waiting(course, stock, staff,
                                                                                          auditor_client) -> None:
    assert cards(auditor_client) == {
        "lots-flagged": ("0", "ok", "#home-lot-signal"), "unreported": ("0", "ok", "#home-unreported"),
        "recalls-pending": ("0", "ok", "/recalls")}
    sessions = [_signed(course, stock, staff["doctor"], NOW - timedelta(minutes=minute)) for minute in range(4)]
    _severe(sessions[0], staff["nurse"])
    _severe(sessions[1], staff["nurse"], serious=True)
    _severe(sessions[2], staff["nurse"], grade=4)
    _severe(sessions[3], staff["nurse"], grade=1)  # mild: no vigilance report is due
    fridge = db.session.scalar(sa.select(StorageLocation).where(StorageLocation.name == "Fridge 1"))
    unused, _ = inventory.receive_lot(inventory.Receipt(
        product=stock["ha"].product, lot_number="L-UNUSED", expiry_date=TODAY + timedelta(days=200), quantity=5,
        supplier="MedAesthetic Supplies", received_on=TODAY, location=fridge), staff["nurse"])
    for lot in (stock["ha"], stock["vitamins"], unused):  # the last one reached nobody: nobody to call
        recalls.open_recall(recalls.RecallInput(reason="Manufacturer notice", source="manufacturer",
                                                reference=f"FSN-{lot.lot_number}", lot_ids=[lot.id]), staff["auditor"])
    db.session.commit()

    assert cards(auditor_client) == {
        "lots-flagged": ("0", "ok", "#home-lot-signal"), "unreported": ("3", "bad", "#home-unreported"),
        "recalls-pending": ("2", "warn", "/recalls")}


def test_an_admins_home_counts_the_accounts(staff, admin_client) -> None:
    staff["doctor"].totp_enabled_at = NOW
    staff["nurse"].deactivated_at = NOW
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 4
    assert cards(admin_client) == {
        "active-accounts": ("3", "info", "/admin/users"), "no-two-step": ("2", "warn", "/admin/users"),
        "deactivated": ("1", "info", "/admin/users")}
