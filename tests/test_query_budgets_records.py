"""Query budgets (issue 17): the follow-up, side-effect, flags, trace, recall, course-report, reports and stock
pages each send the same number of statements for 2 and for 50 rows of every kind they show, and at most
``QUERY_BUDGET``.

Each story starts from records made through the services (a signed session, its follow-up, a side effect, a
recall); the many rows are copies of those, added the way a factory would, so that 50 of each cost a
fraction of a second. The copies name other patients, sessions, lots and staff, so a page that loaded
one of them per row would show it in its count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa

from clinic.auth.models import User
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.inventory.models import Lot, LotDiscard, LotHold, LotReceipt, Product
from clinic.records.followups import services as followups
from clinic.records.followups.models import FlagReview, FollowUpTask, SideEffect, SideEffectVersion
from clinic.records.outcomes.models import OutcomeMeasure
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import SessionSignature, TreatmentSession
from clinic.reports.figures import ANY_DOCTOR, ANY_INDICATION
from clinic.reports.models import DailyFigure
from clinic.tracing import recalls
from clinic.tracing.models import Recall, RecallPatient
from tests.conftest import PASSWORDS, QUERY_BUDGET
from tests.factories import save
from tests.results_helpers import measure

FEW, MANY = 2, 50
_numbers = count(1)


# --- copies in bulk --------------------------------------------------------------------------------


def _copy(original: Any, /, **changes: Any) -> Any:
    """A new row with ``original``'s columns (not its id) and ``changes``; relationships given in ``changes``
    set their foreign keys when flushed."""
    mapper = sa.inspect(type(original))
    keys = {column.key for column in mapper.primary_key} if len(mapper.primary_key) == 1 else set()
    values = {attr.key: getattr(original, attr.key) for attr in mapper.column_attrs if attr.key not in keys}
    values.update(changes)
    made = type(original)(**values)
    db.session.add(made)
    return made


def _colleagues(like: User, n: int) -> list[User]:
    """``n`` more staff accounts of ``like``'s role: rows that name someone name a different person each."""
    made = []
    for _ in range(n):
        number = next(_numbers)
        made.append(_copy(like, email=f"colleague{number}@example.test", full_name=f"Colleague {number}",
                          session_token=f"token-{number}"))
    db.session.flush()
    return made


def _copy_session(session: TreatmentSession, **changes: Any) -> TreatmentSession:
    """``session`` again (``changes`` aside): its preparations, their lots and its injections. Call inside
    ``no_autoflush``: a signed session and its injections are stored together, or refused."""
    copied = _copy(session, **changes)
    preparations = {p.id: _copy(p, session=copied) for p in session.preparations}
    for preparation in session.preparations:
        for component in preparation.components:
            _copy(component, preparation=preparations[preparation.id])
    for injection in session.injections:
        _copy(injection, session=copied, preparation=preparations.get(injection.preparation_id))
    return copied


def _patients_treated_like(session: TreatmentSession, n: int) -> list[TreatmentSession]:
    """``n`` other patients, each with a course and a session drawn up and injected as ``session`` was
    (same lots, areas and volumes)."""
    made = []
    with db.session.no_autoflush:
        for _ in range(n):
            number = next(_numbers)
            course = session.course
            patient = _copy(course.patient, record_number=f"QB{number:06d}", first_name=f"Budget{number}")
            made.append(_copy_session(session, course=_copy(course, patient=patient)))
    db.session.flush()
    return made


def _commit() -> None:
    db.session.commit()


def _same_for_few_and_many(measure_page, add) -> int:  # type: ignore[no-untyped-def]
    """The page's statements with FEW rows of each kind, then with MANY: the same, and within budget."""
    few = measure_page()
    add(MANY - FEW)
    _commit()
    many = measure_page()
    assert few == many, f"{few} statements for {FEW} rows, {many} for {MANY}"
    assert many <= QUERY_BUDGET, f"{many} statements (budget {QUERY_BUDGET})"
    return many


@pytest.fixture
def signed(course, stock, staff) -> TreatmentSession:
    """A signed skin-rejuvenation session (cheeks and forehead, a cocktail of two lots) and its follow-up."""
    session = save(course, stock, staff["doctor"], acknowledged=["first_time_no_patch_test"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    _commit()
    return session


def _task(session: TreatmentSession) -> FollowUpTask:
    return db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == session.id)).first()


def _side_effect(session: TreatmentSession, by: User, **values: Any) -> SideEffect:
    entry = followups.SideEffectInput(**{"type_code": "bruising", "grade": 1, "onset_hours": 0,
                                         "injection_ids": [i.id for i in session.injections],
                                         "causality": "probable", **values})
    made = followups.record_side_effect(session, by, entry, source="chart", now=datetime.now(UTC))
    _commit()
    return made


def _copy_side_effect(side_effect: SideEffect, session: TreatmentSession, patient: Any = None,
                      **changes: Any) -> SideEffect:
    """The same side effect after another session (its areas are that session's injections)."""
    with db.session.no_autoflush:
        copied = _copy(side_effect, session=session, patient=patient or session.course.patient, **changes)
        for area, injection in zip(side_effect.areas, session.injections, strict=False):
            copied.areas.append(_copy(area, injection=injection))
        for version in side_effect.versions:
            _copy(version, side_effect=copied)
    return copied


# --- follow-ups, side effects, flags --------------------------------------------------------------


def test_the_nurses_worklist_costs_the_same_for_2_and_for_50_follow_ups_and_urgent_calls(
        signed, staff, nurse_client, page_queries) -> None:
    task = _task(signed)
    reported = _side_effect(signed, staff["nurse"], grade=2)
    reported.source, reported.callback_phone = "patient", "+33 6 12 34 56 78"
    _commit()

    def add(n: int) -> None:
        for session in _patients_treated_like(signed, n):
            _copy(task, session=session, patient=session.course.patient)
            urgent = _copy(task, session=session, patient=session.course.patient, urgent=True, reason="patient_report")
            db.session.flush()
            _copy_side_effect(reported, session, follow_up_id=urgent.id)

    add(FEW)
    _commit()
    _same_for_few_and_many(lambda: page_queries(nurse_client, "/follow-ups"), add)
    assert db.session.scalar(sa.select(sa.func.count(FollowUpTask.id)).where(FollowUpTask.urgent)) == MANY


def test_a_follow_up_with_50_attempts_and_50_side_effects_costs_what_one_with_2_does(
        signed, staff, nurse_client, page_queries) -> None:
    task = _task(signed)
    first = _side_effect(signed, staff["nurse"])
    followups.record_attempt(task, staff["nurse"], followups.AttemptInput(datetime.now(UTC), "phone", reached=False),
                             now=datetime.now(UTC))
    followups.review_flag(staff["doctor"], assessment="Seen", plan="Call again", next_contact_on=None,
                          today=date.today(), side_effect=first)
    _commit()
    attempt = task.attempts[0]
    review = db.session.scalars(sa.select(FlagReview)).one()

    def add(n: int) -> None:
        for colleague in _colleagues(staff["doctor"], n):
            _copy(attempt, task=task, by=colleague)
            _copy_side_effect(first, signed, recorded_by=colleague)
            _copy(review, reviewed_by=colleague, follow_up_id=task.id, side_effect_id=None)

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(nurse_client, f"/follow-ups/{task.id}"), add)
    page = nurse_client.get(f"/follow-ups/{task.id}").get_data(as_text=True)
    assert page.count('<li id="side-effect-') == MANY


def test_a_side_effect_with_50_versions_and_reviews_costs_what_one_with_2_does(
        signed, staff, nurse_client, page_queries) -> None:
    side_effect = _side_effect(signed, staff["nurse"], grade=3)
    followups.update_side_effect(side_effect, staff["nurse"], followups.SideEffectInput(
        "bruising", 3, onset_hours=0, injection_ids=[i.id for i in signed.injections], causality="probable",
        outcome="ongoing"), now=datetime.now(UTC))
    followups.review_flag(staff["doctor"], assessment="Seen", plan="Watch", next_contact_on=None,
                          today=date.today(), side_effect=side_effect)
    _commit()
    version = side_effect.versions[-1]
    review = db.session.scalars(sa.select(FlagReview)).one()
    numbers = count(len(side_effect.versions) + 1)

    def add(n: int) -> None:
        for nurse, doctor in zip(_colleagues(staff["nurse"], n), _colleagues(staff["doctor"], n), strict=True):
            _copy(version, side_effect=side_effect, number=next(numbers), recorded_by=nurse)
            _copy(review, reviewed_by=doctor)

    add(FEW - len(side_effect.versions))
    _commit()
    url = f"/side-effects/{side_effect.id}"
    _same_for_few_and_many(lambda: page_queries(nurse_client, url), add)
    assert db.session.scalar(sa.select(sa.func.count(SideEffectVersion.id))) >= MANY


def test_the_flags_cost_the_same_for_2_and_for_50_side_effects_and_unreached_follow_ups(
        signed, staff, doctor_client, page_queries) -> None:
    severe = _side_effect(signed, staff["nurse"], grade=3)
    task = _task(signed)
    for _ in range(3):
        followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
            datetime.now(UTC), "phone", reached=False), now=datetime.now(UTC))
    _commit()
    assert task.status == "not_reached"
    attempt = task.attempts[0]

    def add(n: int) -> None:
        for session, nurse in zip(_patients_treated_like(signed, n), _colleagues(staff["nurse"], n), strict=True):
            _copy_side_effect(severe, session, type_code="infection")
            missed = _copy(task, session=session, patient=session.course.patient)
            _copy(attempt, task=missed, by=nurse)

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(doctor_client, "/flags"), add)
    assert doctor_client.get("/flags").get_data(as_text=True).count("<li>") >= 2 * MANY


# --- trace and recalls ---------------------------------------------------------------------------


def test_tracing_a_lot_costs_the_same_for_2_and_for_50_patients_and_their_side_effects(
        signed, stock, staff, auditor_client, page_queries) -> None:
    bruising = _side_effect(signed, staff["nurse"], grade=2)

    def add(n: int) -> None:  # each patient with a side effect on the areas injected from the lot
        for session in _patients_treated_like(signed, n):
            _copy_side_effect(bruising, session)

    add(FEW - 1)
    _commit()
    url = f"/trace?lot={stock['ha'].lot_number}"
    _same_for_few_and_many(lambda: page_queries(auditor_client, url), add)
    assert auditor_client.get(url).get_data(as_text=True).count("QB0") >= MANY - 1


def _recall(stock, staff) -> Recall:
    made = recalls.open_recall(recalls.RecallInput(
        reason="Manufacturer notice: possible particulate matter", source="manufacturer", reference="FSN-2026-114",
        lot_ids=[stock["ha"].id]), staff["auditor"])
    _commit()
    return made


def test_a_recall_costs_the_same_for_2_and_for_50_patients_and_their_contacts(
        signed, stock, staff, nurse_client, page_queries) -> None:
    _patients_treated_like(signed, FEW - 1)
    _commit()
    recall = _recall(stock, staff)
    row = recall.rows[0]
    recalls.record_contact(row, "phone", False, "No answer", staff["nurse"])
    _commit()
    contact = row.contacts[0]

    def add(n: int) -> None:
        for session, nurse in zip(_patients_treated_like(signed, n), _colleagues(staff["nurse"], n), strict=True):
            added = _copy(row, recall=recall, patient=session.course.patient)
            _copy(contact, row=added, contacted_by=nurse)

    for other in recall.rows[1:]:
        _copy(contact, row=other)
    _commit()
    _same_for_few_and_many(lambda: page_queries(nurse_client, f"/recalls/{recall.id}"), add)
    assert db.session.scalar(sa.select(sa.func.count(RecallPatient.id))) == MANY


def test_the_recall_worklist_costs_the_same_for_2_and_for_50_recalls_of_50_patients(
        signed, stock, staff, auditor_client, page_queries) -> None:
    recall = _recall(stock, staff)
    row = recall.rows[0]
    recalls.record_contact(row, "phone", False, "No answer", staff["nurse"])
    _commit()
    contact, link = row.contacts[0], recall.lots[0]
    patients = [s.course.patient for s in _patients_treated_like(signed, MANY)]

    def add(n: int) -> None:
        for patient in [patients.pop() for _ in range(n)]:  # the first recall's patients: 2, then 50
            _copy(contact, row=_copy(row, recall=recall, patient=patient))
        for _ in range(n):  # more recalls, of a few patients each
            more = _copy(recall, reference=f"FSN-{next(_numbers)}")
            _copy(link, recall=more, lot=_copy(link.lot, lot_number=f"QB-{next(_numbers)}"))
            for patient in patients[-3:]:
                _copy(contact, row=_copy(row, recall=more, patient=patient))

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(auditor_client, "/recalls"), add)
    assert db.session.scalar(sa.select(sa.func.count(Recall.id))) == MANY


# --- the course report ---------------------------------------------------------------------------


def test_a_course_report_costs_the_same_for_2_and_for_50_sessions_measures_and_side_effects(
        signed, staff, doctor_client, page_queries) -> None:
    course = signed.course
    side_effect = _side_effect(signed, staff["nurse"])
    measure(course, staff["doctor"], "wrinkle_grade", "4")
    reading = measure(course, staff["doctor"], "wrinkle_grade", "3", timepoint="session",
                      on=signed.performed_at.date(), session=signed)
    signature = signed.signature
    numbers = count(signed.number + 1)

    def add(n: int) -> None:
        for doctor in _colleagues(staff["doctor"], n):
            number = next(numbers)
            when = signed.performed_at - timedelta(days=21 * number)
            with db.session.no_autoflush:
                session = _copy_session(signed, number=number, performed_at=when, doctor=doctor)
                _copy(signature, session=session, signer=doctor)
                _copy(reading, session=session, measured_on=when.date(), value_number=Decimal(number % 5),
                      recorded_by_id=doctor.id)
                _copy_side_effect(side_effect, session, course.patient)
        db.session.flush()

    add(FEW - 1)
    _commit()
    url = f"/courses/{course.id}/report"
    _same_for_few_and_many(lambda: page_queries(doctor_client, url), add)
    assert db.session.scalar(sa.select(sa.func.count(OutcomeMeasure.id))) == MANY + 1
    assert db.session.scalar(sa.select(sa.func.count(SessionSignature.id))) == MANY


# --- the reports ---------------------------------------------------------------------------------


def test_the_reports_cost_the_same_for_2_and_for_50_products_lots_doctors_and_open_recalls(
        signed, stock, staff, auditor_client, page_queries) -> None:
    recall = _recall(stock, staff)
    product, lot = stock["ha"].product, stock["ha"]
    own = {"product": str(product.id), "lot": str(lot.id), "doctor": str(staff["doctor"].id)}
    # The figures the page reads with no filter chosen: every session, any doctor and indication.
    figures = [f for f in db.session.scalars(sa.select(DailyFigure).where(
        DailyFigure.scope == "all", DailyFigure.doctor_id == ANY_DOCTOR, DailyFigure.indication_code == ANY_INDICATION))
        if own.get(f.dimension) == f.item]
    assert figures, "signing filled the daily figures"

    def add(n: int) -> None:
        doctors = _colleagues(staff["doctor"], n)
        lots = []
        for _ in range(n):
            number = next(_numbers)
            lots.append(_copy(lot, product=_copy(product, name=f"Budget product {number}", gtin=None),
                              lot_number=f"QB-{number}"))
            _copy(recall.rows[0], recall=_copy(recall, reference=f"FSN-{number}"))
        db.session.flush()
        for doctor, other_lot in zip(doctors, lots, strict=True):
            for figure in figures:
                item = {"product": str(other_lot.product_id), "lot": str(other_lot.id),
                        "doctor": str(doctor.id)}.get(figure.dimension)
                if item is not None:
                    _copy(figure, item=item)

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(auditor_client, "/reports"), add)
    page = auditor_client.get("/reports").get_data(as_text=True)
    assert page.count("Budget product") >= MANY - 1


# --- stock ---------------------------------------------------------------------------------------


def _lots_like(lot: Lot, n: int, **changes: Any) -> list[Lot]:
    """``n`` lots of as many products (each with an ingredient of its own), each received like ``lot``."""
    made = []
    for _ in range(n):
        number = next(_numbers)
        product = _copy(lot.product, name=f"Budget product {number}", gtin=None)
        for link in lot.product.ingredients:  # an ingredient of its own, as each product has in the catalogue
            _copy(link, product=product, ingredient=_copy(link.ingredient, name=f"Budget ingredient {number}"))
        copied = _copy(lot, product=product, lot_number=f"QB-{number}", **changes)
        for receipt in lot.receipts:
            _copy(receipt, lot=copied)
        made.append(copied)
    db.session.flush()
    return made


@pytest.mark.parametrize("url", ["/inventory/stock", "/inventory/stock?all=1", "/inventory/expiring?days=90",
                                 "/inventory/products"])
def test_the_stock_pages_cost_the_same_for_2_and_for_50_lots(stock, nurse_client, page_queries, url) -> None:
    lot = stock["ha"]
    soon = date.today() + timedelta(days=20)
    _lots_like(lot, FEW - 1, expiry_date=soon)
    _commit()
    _same_for_few_and_many(lambda: page_queries(nurse_client, url),
                           lambda n: _lots_like(lot, n, expiry_date=soon))
    assert db.session.scalar(sa.select(sa.func.count(Product.id))) >= MANY


def test_the_quarantined_lots_cost_the_same_for_2_and_for_50(stock, staff, auditor_client, page_queries) -> None:
    lot = stock["ha"]
    inventory.quarantine_lot(lot, staff["auditor"], "Cold chain broken in transit")
    _commit()
    hold = lot.holds[0]

    def add(n: int) -> None:
        for copied in _lots_like(lot, n):
            _copy(hold, lot=copied)

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(auditor_client, "/inventory/quarantined"), add)
    assert db.session.scalar(sa.select(sa.func.count(LotHold.id))) == MANY


def test_a_lot_with_50_receipts_discards_and_holds_costs_what_one_with_2_does(
        stock, staff, auditor_client, page_queries) -> None:
    lot = stock["ha"]
    inventory.record_discard(lot, 1, "broken", "", date.today(), staff["nurse"])
    inventory.quarantine_lot(lot, staff["auditor"], "Cold chain broken in transit")
    inventory.release_lot(lot, staff["auditor"], "Temperature log fine")
    _commit()
    receipt, discard, hold = lot.receipts[0], lot.discards[0], lot.holds[0]

    def add(n: int) -> None:
        for nurse, auditor in zip(_colleagues(staff["nurse"], n), _colleagues(staff["auditor"], n), strict=True):
            _copy(receipt, lot=lot, received_by=nurse, storage_location=_copy(
                receipt.storage_location, name=f"Fridge {next(_numbers)}"))
            _copy(discard, lot=lot, recorded_by=nurse)
            _copy(hold, lot=lot, placed_by=auditor, released_by=auditor)

    add(FEW - 1)
    _commit()
    _same_for_few_and_many(lambda: page_queries(auditor_client, f"/inventory/lots/{lot.id}"), add)
    assert db.session.scalar(sa.select(sa.func.count(LotReceipt.id)).where(LotReceipt.lot_id == lot.id)) == MANY
    assert db.session.scalar(sa.select(sa.func.count(LotDiscard.id))) == MANY



# --- the audit trail -------------------------------------------------------------------------------


def test_the_audit_trail_names_people_and_records_for_the_same_cost_for_2_and_for_50_rows(
        signed, stock, staff, auditor_client, page_queries) -> None:
    """Each row names a different closer, patient, session, product and lot: still one statement per kind."""
    task = _task(signed)
    lot = stock["ha"]

    def add(n: int) -> None:
        for nurse in _colleagues(staff["nurse"], n):
            number = next(_numbers)
            product = _copy(lot.product, name=f"QB product {number}", gtin=None)
            _copy(lot, product=product, lot_number=f"QB{number}")
            _copy(task, status="done", closed_by=nurse, closed_at=datetime.now(UTC))
        db.session.flush()

    pages = ("/audit?record_type=follow_up_task", "/audit?record_type=lot", "/audit")
    add(FEW)
    _commit()
    few = [page_queries(auditor_client, url) for url in pages]
    add(MANY - FEW)
    _commit()
    many = [page_queries(auditor_client, url) for url in pages]
    assert few == many and max(many) <= QUERY_BUDGET, (few, many)
    page = auditor_client.get("/audit?record_type=follow_up_task").get_data(as_text=True)
    assert page.count("Closed by</strong>: <span title=\"Stored value: id ") >= MANY
    assert auditor_client.get("/audit?record_type=lot").get_data(as_text=True).count("QB product ") >= MANY
