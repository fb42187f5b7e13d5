"""The reports page: every figure against an independent count, intervals, filters, refusals, exports,
who may see it, and a page that costs the same queries whatever the rows."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.auth.services import create_user
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.records.followups import services as followups
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments import services as treatments
from clinic.reports import queries
from clinic.reports.queries import ReportFilter
from clinic.reports.stats import Rate
from tests.conftest import PASSWORDS, QUERY_BUDGET, audit_rows, signed_in_client
from tests.factories import NOW, TODAY, ready_course, save
from tests.test_reports_figures import FIRST_TIME, _course_since, _independent_counts, _side_effect

EVERYTHING = ReportFilter(start=TODAY - timedelta(days=30), end=TODAY)


def _signed(course, stock, doctor, **overrides):
    session = save(course, stock, doctor, **overrides)
    treatments.sign_session(session, doctor, PASSWORDS["doctor"])
    db.session.commit()
    return session


@pytest.fixture
def clinic_week(course, stock, staff):
    """Three patients' sessions: one with two side effects (grade 1 and 3), one whose side effect was voided,
    one voided session with a side effect, one quiet session, and a draft."""
    doctor, nurse = staff["doctor"], staff["nurse"]
    first = _signed(course, stock, doctor)
    _side_effect(first, nurse, 1)
    _side_effect(first, nurse, 3, areas=2)
    second_course = ready_course(staff, "Bea", "Second")
    second = _signed(second_course, stock, doctor, acknowledged=FIRST_TIME)
    followups.void_side_effect(_side_effect(second, nurse, 2), nurse, "Recorded on the wrong patient")
    third_course = ready_course(staff, "Cleo", "Third")
    voided = _signed(third_course, stock, doctor, acknowledged=FIRST_TIME)
    _side_effect(voided, nurse, 4, serious=True)
    treatments.void_session(voided, doctor, "Logged on the wrong patient")
    fourth_course = ready_course(staff, "Dina", "Fourth")
    _signed(fourth_course, stock, doctor, acknowledged=FIRST_TIME + ["protocol:depth_mm:cheeks"], injections=[
        treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("3"), volume_ml=Decimal("2"), points=40)])
    save(ready_course(staff, "Eve", "Draft"), stock, doctor, acknowledged=FIRST_TIME)
    db.session.commit()
    return first


def test_every_rate_equals_an_independent_count_of_the_records(clinic_week, stock) -> None:
    overall, tables = queries.side_effect_rates(EVERYTHING)
    counted = _independent_counts()
    # Three sessions count (the voided one and the draft do not); one had side effects, counted once.
    assert (overall.total, overall.count) == (3, 1) == counted[("all", "")][:2]
    for dimension, rows in tables.items():
        for row in rows:
            assert (row.sessions, row.with_side_effect) == counted[(dimension, row.item)][:2], (dimension, row)
        assert {row.item for row in rows} == {item for d, item in counted if d == dimension}
    [vitamins] = [row for row in tables["lot"] if row.item == str(stock["vitamins"].id)]
    assert vitamins.grades == (0, 0, 1, 0) and vitamins.serious == 0  # the worst grade of the session
    [depth_3] = [row for row in tables["depth"] if row.item == "2_4"]
    assert (depth_3.sessions, depth_3.with_side_effect) == (1, 0)


def test_sessions_by_month_count_signed_sessions_only(clinic_week) -> None:
    totals, tables = queries.sessions_by_month(EVERYTHING)
    assert totals == [(NOW.astimezone().strftime("%Y-%m"), 3)]
    assert [counts for _, _, counts in tables["indication"].rows] == [[3]]


@pytest.mark.parametrize(("count", "total", "low", "high"), [
    (5, 10, 23.66, 76.34), (0, 10, 0.0, 27.75), (1, 20, 0.89, 23.61), (10, 10, 72.25, 100.0)])
def test_wilson_intervals_match_known_values(count, total, low, high) -> None:
    interval = Rate(count, total).interval
    assert interval == (pytest.approx(low, abs=0.01), pytest.approx(high, abs=0.01))


def test_the_page_shows_the_rates_and_an_svg_chart_without_scripts(clinic_week, auditor_client) -> None:
    response = auditor_client.get("/reports?period=30")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 of 3 sessions had at least one side effect" in page
    assert "33.3 per 100" in page and "6.1–79.2" in page
    assert "<svg" in page and "<script" not in page


def test_filters_narrow_to_a_product_a_doctor_or_an_indication(clinic_week, stock, staff, app) -> None:
    other = create_user("second.doctor@example.test", "Second Doctor", "doctor", PASSWORDS["doctor"])
    db.session.commit()
    ha_only = ReportFilter(EVERYTHING.start, EVERYTHING.end, product_id=stock["ha"].product_id)
    assert queries.side_effect_rates(ha_only)[0] == Rate(1, 3)
    start, end = EVERYTHING.start, EVERYTHING.end
    assert queries.side_effect_rates(ReportFilter(start, end, doctor_id=other.id))[0] == Rate(0, 0)
    assert queries.side_effect_rates(ReportFilter(start, end, indication="hair_loss"))[0] == Rate(0, 0)
    fridge = stock["ha"].receipts[0].storage_location_id
    assert queries.side_effect_rates(ReportFilter(start, end, location_id=fridge))[0] == Rate(1, 3)
    before = ReportFilter(TODAY - timedelta(days=400), TODAY - timedelta(days=300))
    assert queries.side_effect_rates(before)[0] == Rate(0, 0)


def test_a_product_filter_counts_only_the_areas_injected_with_it(course, stock, staff) -> None:
    session = _signed(course, stock, staff["doctor"], preparations=[
        treatments.PreparationInput("Vitamins", [treatments.ComponentInput(stock["vitamins"].id, Decimal("3"))]),
        treatments.PreparationInput("HA", [treatments.ComponentInput(stock["ha"].id, Decimal("2"))])],
        injections=[
            treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("2.5"), points=50),
            treatments.InjectionInput("forehead", 1, depth_mm=Decimal("1"), volume_ml=Decimal("1.5"), points=30)])
    _side_effect(session, staff["nurse"], 2)  # on the cheeks: the vitamins
    vitamins = ReportFilter(EVERYTHING.start, EVERYTHING.end, product_id=stock["vitamins"].product_id)
    ha = ReportFilter(EVERYTHING.start, EVERYTHING.end, product_id=stock["ha"].product_id)
    assert queries.side_effect_rates(vitamins)[0] == Rate(1, 1)
    assert queries.side_effect_rates(ha)[0] == Rate(0, 1)
    assert [row.item for row in queries.side_effect_rates(ha)[1]["area"]] == ["forehead"]


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=custom&start=2026-03-01&end=2026-02-01", "end", "The end is before the start."),
    ("period=custom&start=2010-01-01&end=2026-01-01", "end", "A range covers at most"),
    ("period=custom&start=2026-01-01", "end", "Give the last day of the range."),
    ("product=99999", "product", "There is no such product"),
    ("doctor=abc", "doctor", "There is no such doctor"),
    ("indication=botox", "indication", "There is no such indication"),
    ("period=decade", "period", "Choose a period from the list."),
    ("period=custom&start=9999-12-31&end=9999-12-31", "start", "Give a day between 1 January 1990"),
    ("period=custom&start=0001-01-01&end=2026-01-01", "start", "Give a day between 1 January 1990"),
    ("period=custom&start=2026-13-01&end=2026-01-01", "start", "Not a valid date value."),
])
def test_bad_input_is_refused_beside_its_field_and_nothing_is_computed(
        clinic_week, auditor_client, count_queries, query, field, message) -> None:
    with count_queries() as statements:
        response = auditor_client.get(f"/reports?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in page and message in page
    assert "Nothing was computed" in page
    assert not any("report_daily" in s for s in statements)
    csv_response = auditor_client.get(f"/reports/rates-lot.csv?{query}")
    assert csv_response.status_code == 400 and csv_response.mimetype == "text/html"


def test_a_product_and_a_location_together_are_refused(clinic_week, stock, auditor_client) -> None:
    fridge = stock["ha"].receipts[0].storage_location_id
    response = auditor_client.get(f"/reports?product={stock['ha'].product_id}&location={fridge}")
    assert response.status_code == 400
    assert "Choose a product or a storage location, not both." in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["doctor", "nurse", "auditor"])
def test_doctors_nurses_and_auditors_read_the_reports(clinic_week, clients, role) -> None:
    assert clients[role].get("/reports").status_code == 200
    assert clients[role].get("/reports/rates-product.csv").status_code == 200


def test_an_admin_gets_neither_the_page_nor_a_csv(clinic_week, admin_client) -> None:
    assert admin_client.get("/reports").status_code == 403
    assert admin_client.get("/reports/rates-lot.csv?period=all").status_code == 403
    assert admin_client.get("/reports/lot-signal.csv").status_code == 403
    assert audit_rows("forbidden")[-1].record_id == "reports.export"


def test_a_csv_is_formula_safe_and_audited(clinic_week, stock, doctor_client) -> None:
    product = stock["ha"].product
    product.name = "=HYPERLINK(\"http://evil.example\")"
    db.session.commit()
    response = doctor_client.get("/reports/rates-product.csv?period=year")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert response.mimetype == "text/csv"
    assert rows[0][:4] == ["Product", "sessions", "sessions_with_side_effect", "per_100"]
    assert ["'=HYPERLINK(\"http://evil.example\")", "3", "1", "33.3", "6.1", "79.2", "0", "0", "1", "0", "0"] in rows
    exported = audit_rows("export")[-1]
    assert exported.record_type == "report" and exported.record_id == "rates-product"


@pytest.mark.parametrize("table", ["monthly-doctor", "courses", "follow-ups", "lots", "lot-signal", "rates-depth"])
def test_every_table_has_its_csv(clinic_week, nurse_client, table) -> None:
    response = nurse_client.get(f"/reports/{table}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert nurse_client.get("/reports/patients.csv").status_code == 404


def test_courses_and_follow_ups_are_counted(clinic_week, staff) -> None:
    course = clinic_week.course
    treatments.stop_course(course, "Moved abroad")
    task = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.session_id == clinic_week.id)
                              .order_by(FollowUpTask.due_on)).first()
    for n in range(3):
        followups.record_attempt(task, staff["nurse"], followups.AttemptInput(
            NOW + timedelta(hours=5 * n), "phone", reached=False), now=NOW + timedelta(hours=5 * n))
    db.session.commit()
    ready_course(staff, "Fay", "Planned")  # planned to start ten days ago: its first session is overdue
    window = ReportFilter(TODAY - timedelta(days=30), TODAY + timedelta(days=10))
    courses = queries.course_summary(window, TODAY)
    # Overdue as on the doctor's home page: Fay's first session, and Cleo's (her only one was voided).
    assert courses.overdue == 2 and courses.by_status["planned"] == 1
    assert courses.by_status["stopped"] == 1 and courses.stop_reasons == [("Moved abroad", 1)]
    # A course is active from its first session on, a voided one or a draft too.
    assert courses.by_status["active"] == 4
    follow = queries.follow_up_summary(window, TODAY)
    assert follow.not_reached == 1


def test_lots_expiring_are_counted_by_window(clinic_week, stock, staff) -> None:
    inventory.receive_lot(inventory.Receipt(
        product=stock["ha"].product, lot_number="L-SOON", expiry_date=TODAY + timedelta(days=45), quantity=3,
        supplier="MedAesthetic Supplies", received_on=TODAY, location=stock["ha"].receipts[0].storage_location),
        staff["nurse"])
    db.session.commit()
    assert queries.lots_expiring(EVERYTHING, TODAY) == [(30, 0), (60, 1), (90, 1)]


def test_the_page_costs_the_same_queries_for_one_session_and_for_many(course, stock, staff, app,
                                                                         count_queries) -> None:
    client = signed_in_client(app, staff["auditor"])

    def cost() -> int:
        client.get("/reports?period=30")  # warm: the sign-in's own queries are not the page's
        with count_queries() as statements:
            assert client.get("/reports?period=30").status_code == 200
        return len(statements)

    _signed(course, stock, staff["doctor"])
    one = cost()
    for name in ("Ana", "Bo", "Cy"):
        session = _signed(ready_course(staff, name, "Many"), stock, staff["doctor"], acknowledged=FIRST_TIME)
        _side_effect(session, staff["nurse"], 2)
    assert cost() == one <= QUERY_BUDGET  # sign-in check included (tests/test_query_budgets_records.py: 50 rows)


@pytest.mark.parametrize(("start", "end", "whole"), [
    ("2026-01-01", "2026-03-31", ("2026-01-01", "2026-03-01")),
    ("2026-01-15", "2026-03-31", ("2026-02-01", "2026-03-01")),
    ("2026-01-15", "2026-03-30", ("2026-02-01", "2026-02-01")),
    ("2026-01-15", "2026-02-20", None),
    ("2024-02-01", "2024-02-29", ("2024-02-01", "2024-02-01")),
])
def test_a_range_reads_whole_months_from_the_monthly_sums(start, end, whole) -> None:
    from datetime import date

    from clinic.reports.queries import _whole_months

    expected = tuple(date.fromisoformat(d) for d in whole) if whole else None
    assert _whole_months(date.fromisoformat(start), date.fromisoformat(end)) == expected


def test_ranges_across_months_add_the_monthly_sums_and_the_days_around_them(course, stock, staff) -> None:
    """Sessions on the 1st and the 28th of last month and today: every range counts exactly those inside."""
    from datetime import datetime, time

    import time_machine

    last_month = (TODAY.replace(day=1) - timedelta(days=1)).replace(day=1)
    days = [last_month, last_month.replace(day=28)]
    for n, day in enumerate(days):
        at = datetime.combine(day, time(11)).astimezone()
        course = _course_since(staff, f"Month{n}", day - timedelta(days=12))
        with time_machine.travel(at + timedelta(minutes=5)):
            session = save(course, stock, staff["doctor"], when=at, acknowledged=FIRST_TIME)
            treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
            db.session.commit()
    for first, last, expected in ((last_month, TODAY, 2), (last_month + timedelta(days=1), TODAY, 1),
                                  (last_month, last_month.replace(day=27), 1), (TODAY, TODAY, 0)):
        assert queries.side_effect_rates(ReportFilter(first, last))[0].total == expected, (first, last)


def test_two_dates_without_a_period_are_the_range_and_all_records_ignores_dates(clinic_week, auditor_client) -> None:
    page = auditor_client.get("/reports?start=2026-01-01&end=2026-01-31").get_data(as_text=True)
    assert "From <strong>01 Jan 2026</strong> to <strong>31 Jan 2026</strong>" in page
    response = auditor_client.get("/reports?period=all&start=2026-01-01")
    assert response.status_code == 200
    assert "1 of 3 sessions had at least one side effect" in response.get_data(as_text=True)
