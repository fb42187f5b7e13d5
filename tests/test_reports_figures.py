"""The reports' daily figures: kept up to date with every signed, amended or voided session and every side
effect, and always equal to a fresh computation from the raw records."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.records.followups import services as followups
from clinic.records.followups.models import SideEffect
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import Amendment, TreatmentSession
from clinic.reports import figures
from clinic.reports.figures import SUMMED
from clinic.reports.models import DailyFigure, MonthlyFigure
from tests.conftest import PASSWORDS
from tests.factories import AREAS, INDICATION, NOW, TODAY, record_history, register, save, screen, sign_consent

FIRST_TIME = ["first_time_no_patch_test"]


def _table() -> list[tuple]:
    """The daily figures and the monthly sums, which must always be the daily figures summed by month."""
    daily, monthly = DailyFigure.__table__, MonthlyFigure.__table__
    keys = (daily.c.scope, daily.c.dimension, daily.c.item, daily.c.indication_code, daily.c.doctor_id)
    summed = sorted(tuple(row) for row in db.session.execute(
        sa.select(*keys, *[sa.func.sum(daily.c[name]) for name in SUMMED]).group_by(*keys)))
    months = sorted(tuple(row) for row in db.session.execute(
        sa.select(*[monthly.c[k.name] for k in keys], *[sa.func.sum(monthly.c[name]) for name in SUMMED])
        .group_by(*[monthly.c[k.name] for k in keys])))
    assert months == summed
    # Doctor 0, indication "": each day's slices summed.
    day_keys = (daily.c.day, daily.c.scope, daily.c.dimension, daily.c.item)
    slices = sorted(tuple(row) for row in db.session.execute(
        sa.select(*day_keys, *[sa.func.sum(daily.c[name]) for name in SUMMED])
        .where(daily.c.doctor_id != 0).group_by(*day_keys)))
    any_rows = sorted(tuple(row) for row in db.session.execute(
        sa.select(*day_keys, *[daily.c[name] for name in SUMMED]).where(daily.c.doctor_id == 0)))
    assert any_rows == slices
    return sorted(tuple(row) for row in db.session.execute(sa.select(daily)).all())


def _signed(course, stock, doctor, when, **overrides) -> TreatmentSession:
    session = save(course, stock, doctor, when=when, acknowledged=FIRST_TIME, **overrides)
    treatments.sign_session(session, doctor, PASSWORDS["doctor"])
    db.session.commit()
    return session


def _side_effect(session, nurse, grade, *, areas=1, serious=False, after=timedelta(hours=20)) -> SideEffect:
    onset = min(2, int(after.total_seconds() // 3600))
    entry = followups.SideEffectInput(type_code="bruising", grade=grade, onset_hours=onset, serious=serious,
                                      causality="possible",
                                      injection_ids=[i.id for i in session.injections[:areas]])
    # None named: the patient's own report, which concerns every area until a clinician links it.
    made = followups.record_side_effect(session, nurse if areas else None, entry,
                                        source="chart" if areas else "patient",
                                        now=session.performed_at + after)
    db.session.commit()
    return made


@pytest.fixture
def plenty(stock, staff):
    """Enough vials for a busy fortnight."""
    for lot in stock.values():
        inventory.receive_lot(inventory.Receipt(
            product=lot.product, lot_number=lot.lot_number, expiry_date=lot.expiry_date, quantity=90,
            supplier="MedAesthetic Supplies", received_on=TODAY - timedelta(days=15),
            location=lot.receipts[0].storage_location), staff["nurse"])
    db.session.commit()
    return stock


def _course_since(staff, first: str, then):
    """A patient consented, screened and planned on the day ``then``: sessions can fall on any day since."""
    with time_machine.travel(datetime.combine(then, time(9)).astimezone()):
        patient = register(staff["nurse"], first=first, last="Rollup")
        record_history(patient, staff["nurse"])
        sign_consent(patient, staff["nurse"])
        screen(patient, staff["nurse"], on=then)
        made = treatments.plan_course(patient, treatments.CourseInput(INDICATION, AREAS, starts_on=then),
                                      staff["doctor"], today=then)
        db.session.commit()
    return made


def _course_ten_days_ago(staff, first: str):
    return _course_since(staff, first, TODAY - timedelta(days=10))


def _independent_counts() -> dict[tuple[str, str], tuple[int, int, int]]:
    """Sessions, sessions with a side effect, and with one of grade 2+ or serious, per (dimension, item),
    counted in Python from the ORM objects: signed and not voided sessions, administered areas, side
    effects not voided, on the areas they name (all the session's when they name none)."""
    counted: dict[tuple[str, str], dict[int, tuple[int, bool]]] = defaultdict(dict)
    sessions = db.session.scalars(sa.select(TreatmentSession)).all()
    for session in sessions:
        if session.is_voided or not session.is_signed:
            continue
        effects = db.session.scalars(sa.select(SideEffect).where(
            SideEffect.session_id == session.id, SideEffect.voided_at.is_(None))).all()
        for injection in session.injections:
            if not injection.administered:
                continue
            concerning = [e for e in effects if not e.areas or injection.id in {a.injection_id for a in e.areas}]
            worst = max((e.grade for e in concerning), default=0)
            serious = any(e.serious for e in concerning)
            depth = injection.depth_mm
            band = "under_1" if depth < 1 else "1_2" if depth <= 2 else "2_4" if depth <= 4 else "over_4"
            for component in injection.preparation.components:
                for key in (("all", ""), ("product", str(component.lot.product_id)), ("lot", str(component.lot_id)),
                            ("indication", session.course.indication_code), ("area", injection.area_code),
                            ("technique", injection.technique),
                            ("gauge", str(injection.needle_gauge or session.needle_gauge)), ("depth", band),
                            ("doctor", str(session.doctor_id))):
                    old_worst, old_serious = counted[key].get(session.id, (0, False))
                    counted[key][session.id] = (max(old_worst, worst), old_serious or serious)
    return {key: (len(by_session), sum(1 for w, _ in by_session.values() if w),
                  sum(1 for w, s in by_session.values() if w >= 2 or s))
            for key, by_session in counted.items()}


def _rollup_counts() -> dict[tuple[str, str], tuple[int, int, int]]:
    rows = db.session.execute(
        sa.select(DailyFigure.dimension, DailyFigure.item, sa.func.sum(DailyFigure.sessions),
                  sa.func.sum(DailyFigure.with_side_effect), sa.func.sum(DailyFigure.signal))
        .where(DailyFigure.scope == "all", DailyFigure.doctor_id != 0)
        .group_by(DailyFigure.dimension, DailyFigure.item)).all()
    return {(dimension, item): (int(s), int(w), int(g)) for dimension, item, s, w, g in rows}


def test_a_signed_session_is_counted_once_per_row_a_draft_is_not(course, stock, staff) -> None:
    draft = save(course, stock, staff["doctor"])
    assert _table() == []
    treatments.sign_session(draft, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    counts = _rollup_counts()
    # One cocktail of two lots injected into two areas: one session everywhere, never two.
    assert counts[("all", "")] == (1, 0, 0)
    assert counts[("lot", str(stock["vitamins"].id))] == (1, 0, 0)
    assert counts[("area", "cheeks")] == (1, 0, 0)
    assert counts == _independent_counts()


def test_a_signature_and_a_new_side_effect_read_only_their_sessions_share_of_the_day(
        course, stock, staff, count_queries) -> None:
    earlier = _signed(course, stock, staff["doctor"], NOW - timedelta(hours=2), notes="earlier the same day")
    session = save(course, stock, staff["doctor"], when=NOW - timedelta(hours=1), acknowledged=[*FIRST_TIME, "interval"])
    with count_queries() as signing:
        treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    with count_queries() as recording:
        _side_effect(session, staff["nurse"], 2)

    def computed(statements: list[str]) -> list[str]:
        return [statement for statement in statements if statement.lstrip().startswith("WITH counted")]

    # Each reads one session's rows (its id in the statement), never the whole slice of the doctor's day,
    # which grows with every session the doctor signs that day: once at signing, with and without the
    # side effect at recording.
    assert len(computed(signing)) == 1 and len(computed(recording)) == 2
    assert all("treatment_session.id = " in statement for statement in computed(signing) + computed(recording))
    assert _rollup_counts()[("all", "")] == (2, 1, 1) and _rollup_counts() == _independent_counts()
    # A correction recomputes the slice, and what was added share by share is what it finds.
    treatments.void_session(earlier, staff["doctor"], "Logged on the wrong patient")
    db.session.commit()
    assert _rollup_counts()[("all", "")] == (1, 1, 1) and _rollup_counts() == _independent_counts()
    maintained = _table()
    figures.rebuild()
    assert _table() == maintained


def test_two_side_effects_count_the_session_once_and_a_voided_one_not_at_all(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    first = _side_effect(session, staff["nurse"], 1)
    _side_effect(session, staff["nurse"], 3, areas=2)
    counts = _rollup_counts()
    assert counts[("all", "")] == (1, 1, 1)
    grades = db.session.execute(sa.select(DailyFigure.grade_1, DailyFigure.grade_3).where(
        DailyFigure.scope == "all", DailyFigure.dimension == "area", DailyFigure.item == "forehead",
        DailyFigure.doctor_id == session.doctor_id)).one()
    assert tuple(grades) == (0, 1)  # the worst grade of the session there
    followups.void_side_effect(first, staff["nurse"], "Entered on the wrong patient")
    db.session.commit()
    assert _rollup_counts() == _independent_counts()


def test_the_rollup_equals_a_fresh_computation_after_random_signs_amendments_voids_and_side_effects(
        plenty, staff) -> None:
    rng = random.Random(16)  # noqa: S311  (a fixed seed: the story is the same on every run)
    doctor, nurse = staff["doctor"], staff["nurse"]
    courses = [_course_ten_days_ago(staff, f"Patient{n}") for n in range(4)]
    sessions = []
    for n, course in enumerate(courses):
        for day in rng.sample(range(1, 9), 2):
            sessions.append(save(course, plenty, doctor, when=NOW - timedelta(days=day, hours=n),
                                 acknowledged=FIRST_TIME + ["interval"]))
    effects: list[SideEffect] = []
    for step in range(60):
        session = rng.choice(sessions)
        action = rng.choice(("sign", "effect", "effect", "amend", "void_effect", "void", "update"))
        if action == "sign" and not session.is_signed and not session.is_voided:
            treatments.sign_session(session, doctor, PASSWORDS["doctor"])
        elif action == "effect" and session.is_signed and not session.is_voided:
            effects.append(_side_effect(session, nurse, rng.randint(1, 4), areas=rng.randint(0, 2),
                                        serious=rng.random() < 0.2))
        elif action == "amend" and session.is_signed and not session.is_voided:
            injection = rng.choice(session.injections)
            name, value = rng.choice((("area_code", rng.choice(("Chin", "Neck", "Forehead", "Cheeks"))),
                                      ("depth_mm", rng.choice(("0.8", "1.5", "3", "4.5"))),
                                      ("technique", rng.choice(("Papule", "Nappage")))))
            try:
                treatments.amend_session(session, doctor, injection, name, value, f"step {step}",
                                         PASSWORDS["doctor"])
            except Exception:  # noqa: BLE001,S110  (the same value again: refused, nothing changed)
                db.session.rollback()
        elif action == "void_effect" and effects:
            effect = rng.choice(effects)
            if not effect.is_voided and not effect.session.is_voided:
                followups.void_side_effect(effect, nurse, "Entered in error")
        elif action == "update" and effects:
            effect = rng.choice(effects)
            if not effect.is_voided and not effect.session.is_voided:
                followups.update_side_effect(effect, nurse, followups.SideEffectInput(
                    type_code="bruising", grade=rng.randint(1, 4), onset_at=effect.onset_at, causality="possible",
                    serious=rng.random() < 0.3), now=effect.onset_at + timedelta(days=1))
        elif action == "void" and rng.random() < 0.2 and not session.is_voided:
            treatments.void_session(session, doctor, "Logged on the wrong patient")
        db.session.commit()
    assert _rollup_counts() == _independent_counts()
    # The story did what it says: signed, side effects (some voided), amendments and a void.
    assert _rollup_counts()[("all", "")][1] > 0
    assert any(e.is_voided for e in effects) and any(s.is_voided for s in sessions)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Amendment)) > 0
    maintained = _table()
    figures.rebuild()
    db.session.commit()
    assert _table() == maintained


def test_flask_reports_rebuild_recomputes_every_day(course, stock, staff, runner) -> None:
    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    maintained = _table()
    db.session.execute(sa.delete(DailyFigure.__table__))
    db.session.execute(sa.delete(MonthlyFigure.__table__))
    db.session.commit()
    result = runner.invoke(args=["reports", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Rebuilt the report figures of 1 days" in result.output
    assert _table() == maintained


def test_scopes_count_only_what_came_from_the_product(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"], injections=[
        treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2.5"), points=50)])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    scopes = {scope for (scope,) in db.session.execute(sa.select(DailyFigure.scope).distinct())}
    location = stock["vitamins"].receipts[0].storage_location_id
    assert scopes == {"all", f"product:{stock['vitamins'].product_id}", f"product:{stock['ha'].product_id}",
                      f"location:{location}"}
