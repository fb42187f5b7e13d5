"""The course report: its figures against independent computations, voided sessions and values left out,
current values after an amendment, the same SVG charts in the page and the PDF, and a fixed query count."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from clinic.core.services import void_record
from clinic.extensions import db
from clinic.records.followups import services as followups
from clinic.records.outcomes.report import load_course_report
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import Preparation, PreparationComponent, TreatmentSession
from tests.conftest import PASSWORDS, audit_rows
from tests.results_helpers import big_lots, course_with_sessions, measure, session_entry

DAYS = [0, 14, 30, 70]  # intervals 14 (kept), 16 (kept), 40 (late: the protocol's longest is 21)


@pytest.fixture
def lots(stock, staff):
    return big_lots(stock, staff["nurse"])


@pytest.fixture
def treated(staff, lots):
    """Four sessions, a fifth voided, the first two signed; baseline and end measures, one voided."""
    course = course_with_sessions(staff, lots, DAYS)
    voided = treatments.save_session(course, session_entry(lots), staff["doctor"])
    treatments.void_session(voided, staff["doctor"], "Logged on the wrong course")
    for session in course.sessions[:2]:
        treatments.apply_signature(session, staff["doctor"])  # backdated drafts: the gate ran when they were saved
    db.session.commit()
    doctor = staff["doctor"]
    measure(course, doctor, "wrinkle_grade", "4")
    measure(course, doctor, "skin_quality", "2")
    measure(course, doctor, "wrinkle_grade", "3", timepoint="session", on=course.starts_on + timedelta(days=30),
            session=course.sessions[2])
    measure(course, doctor, "wrinkle_grade", "2", timepoint="end", on=course.starts_on + timedelta(days=71))
    measure(course, doctor, "skin_quality", "4", timepoint="end", on=course.starts_on + timedelta(days=71))
    wrong = measure(course, doctor, "satisfaction", "1", timepoint="end", on=course.starts_on + timedelta(days=71))
    void_record(wrong, doctor, "Typed for another patient")
    db.session.commit()
    return course


def _ml_by_product(course) -> dict[str, Decimal]:
    """Independently: the sum of every component's volume over the course's live sessions, by product."""
    from clinic.inventory.models import Lot, Product

    rows = db.session.execute(
        sa.select(Product.name, sa.func.sum(PreparationComponent.volume_ml))
        .select_from(PreparationComponent).join(Preparation).join(TreatmentSession)
        .join(Lot, PreparationComponent.lot_id == Lot.id).join(Product)
        .where(TreatmentSession.course_id == course.id, TreatmentSession.voided_at.is_(None))
        .group_by(Product.name)).all()
    return {name: Decimal(total) for name, total in rows}


def test_the_report_counts_live_sessions_and_judges_each_interval(treated) -> None:
    report = load_course_report(treated, date.today())
    assert report.done == 4 and [s.voided_at is not None for s in report.voided_sessions] == [True]
    assert [line.days_since_previous for line in report.sessions] == [None, 14, 16, 40]
    assert [line.interval for line in report.sessions] == ["first", "kept", "kept", "late"]
    assert report.late == 1 and report.early == 0
    last = treated.starts_on + timedelta(days=70)
    assert report.maintenance == (last + timedelta(days=60), last + timedelta(days=90))
    assert len(report.signatures) == 2


def test_ml_per_product_follow_an_amendment_and_leave_out_the_voided_session(treated, staff, lots) -> None:
    signed = treated.sessions[0]
    component = next(c for p in signed.preparations for c in p.components if c.lot_id == lots["vitamins"].id)
    treatments.amend_session(signed, staff["doctor"], component, "volume_ml", "4", "Drew 4 ml, not 3",
                             PASSWORDS["doctor"])
    db.session.commit()
    report = load_course_report(treated, date.today())
    computed = {p.name: p.total_ml for p in report.products}
    assert computed == _ml_by_product(treated)
    assert computed == {"Revita C Glow": Decimal("13.00"), "HydraVeil HA 1.5%": Decimal("8.00")}
    assert {p.name: p.lots for p in report.products}["Revita C Glow"][0].startswith("BIG-VITAMINS")


def test_change_from_baseline_in_the_unit_and_in_percent_without_the_voided_value(treated) -> None:
    series = {s.definition.code: s for s in load_course_report(treated, date.today()).series}
    assert "satisfaction" not in series  # its only value was voided
    wrinkles = series["wrinkle_grade"]
    assert [m.value_number for m in wrinkles.readings] == [4, 3, 2]
    assert (wrinkles.change, wrinkles.change_percent) == (-2, Decimal("-50.0"))
    assert wrinkles.verdict == "better"  # a lower wrinkle grade is better
    quality = series["skin_quality"]
    assert (quality.change, quality.change_percent, quality.verdict) == (2, Decimal("100.0"), "better")
    assert quality.change_text == "+2 grade (+100.0 %)"


def test_a_measure_at_a_session_voided_later_leaves_the_report(treated, staff) -> None:
    third = treated.sessions[2]
    treatments.void_session(third, staff["doctor"], "Wrong course")
    db.session.commit()
    series = {s.definition.code: s for s in load_course_report(treated, date.today()).series}
    assert [m.value_number for m in series["wrinkle_grade"].readings] == [4, 2]


def test_the_page_draws_each_measure_as_an_svg_chart_from_baseline(doctor_client, treated) -> None:
    response = doctor_client.get(f"/courses/{treated.id}/report")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("no-store")
    assert page.count('<svg class="measure-chart"') == 2
    chart = page.split('id="chart-wrinkle_grade"')[1].split("</svg>")[0]
    assert chart.count("<circle") == 3 and "<polyline" in chart and "<script" not in page
    assert "-2 grade (-50.0 %)" in page
    assert "None were recorded." in page  # no side effect yet


def test_every_side_effect_is_listed_with_its_grade_and_outcome(doctor_client, treated, staff) -> None:
    session = treated.sessions[1]
    onset = session.performed_at + timedelta(hours=2)
    followups.record_side_effect(session, staff["nurse"], followups.SideEffectInput(
        type_code="bruising", grade=2, onset_at=onset, injection_ids=[session.injections[0].id],
        causality="probable", outcome="resolved", resolved_on=onset.astimezone().date() + timedelta(days=3)),
        source="chart", now=datetime.now(UTC))
    db.session.commit()
    section = doctor_client.get(f"/courses/{treated.id}/report").get_data(as_text=True).split(
        'id="report-side-effects"')[1].split("</section>")[0]
    assert "Bruising" in section and "2 – moderate" in section and "resolved in 3 days" in section


def test_the_pdf_carries_the_patient_the_figures_and_the_charts(doctor_client, treated) -> None:
    response = doctor_client.get(f"/courses/{treated.id}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    assert "Lina Moreau" in text
    assert "13.00 ml" not in text and "12.00 ml" in text and "8.00 ml" in text
    assert "-2 grade (-50.0 %)" in text
    assert "Wrinkle severity (grade)" in text  # the chart's own title, drawn in the PDF's SVG
    assert [r.reason for r in audit_rows("export") if r.record_type == "course"] == ["course report PDF"]


# The report's query budget (the same for 2 and for 50 sessions, measures and side effects):
# tests/test_query_budgets_records.py.


def test_the_demo_course_report_shows_charts_and_a_photo_pair(runner, app) -> None:
    from clinic.auth.models import User
    from clinic.records.outcomes.models import OutcomeMeasure
    from tests.conftest import ClinicClient

    seeded = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert seeded.exit_code == 0, seeded.output
    course_id = db.session.scalar(sa.select(OutcomeMeasure.course_id).limit(1))
    doctor = db.session.scalar(sa.select(User).where(User.role == "doctor"))
    client: ClinicClient = app.test_client()
    assert client.sign_in(doctor.email, "demo doctor passphrase").status_code == 302
    page = client.get(f"/courses/{course_id}/report").get_data(as_text=True)
    assert page.count('<svg class="measure-chart"') >= 3 and 'class="photo-pair"' in page


def test_the_report_says_when_the_screening_went_out_of_date_after_a_history_change(course, staff, doctor_client,
                                                                                    page_queries) -> None:
    from tests.factories import record_history

    url = f"/courses/{course.id}/report"
    unchanged = page_queries(doctor_client, url)
    page = doctor_client.get(url).get_data(as_text=True)
    assert 'id="screening-out-of-date"' not in page and "out of date" not in page
    record_history(course.patient, staff["nurse"], notes="Prefers morning appointments")  # nothing that matters
    assert 'id="screening-out-of-date"' not in doctor_client.get(url).get_data(as_text=True)
    record_history(course.patient, staff["nurse"], condition_codes=["autoimmune_disease"])
    page = doctor_client.get(url).get_data(as_text=True).replace("&#39;", "'")
    status = page[page.index('id="report-status"'):page.index('<h3>Signatures</h3>')]
    assert '<strong class="badge badge-warn">out of date</strong>' in status
    warning = status[status.index('id="screening-out-of-date"'):]
    assert "Screening out of date:</strong> The history changed since the screening:" in warning
    assert "autoimmune" in warning.lower() and "Screen again before the next session." in warning
    # The changed history is read in one statement, whatever its length.
    assert page_queries(doctor_client, url) == unchanged + 1
