"""The patient's own report of a side effect, from the link on their aftercare sheet (DESIGN.md "The
patient's own report"; SECURITY.md A4, I1, I2, T1, Z1).

Everything goes through the public page with CSRF tokens, as the patient's phone would, and the
record is then read as the nurses see it.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from clinic.core.models import utcnow
from clinic.extensions import db
from clinic.records.followups import patient_report
from clinic.records.followups.models import FollowUpTask, PatientReportLink, SideEffect
from clinic.records.followups.patient_report import (
    MAX_REPORTS,
    PatientReportInput,
    Refusal,
    ReportRefused,
    ReportRejected,
)
from clinic.records.followups.queries import nurse_worklist
from clinic.records.treatments import services as treatments
from tests.conftest import audit_rows
from tests.factories import save

SEVERE_ADVICE = "do not wait for our call"
CLOSED = "This link does not work"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def local_minute(when: datetime) -> str:
    """A time as the phone's date-and-time picker sends it (local time, to the minute)."""
    return when.astimezone().strftime("%Y-%m-%dT%H:%M")


def answers(**changes: str) -> dict[str, str]:
    """A report of mild swelling since now, unless told otherwise."""
    values = {"type_code": "swelling", "onset_at": local_minute(utcnow()), "severity": "mild", "note": "",
              "callback_phone": ""}
    values.update(changes)
    return values


def url(link: PatientReportLink) -> str:
    return f"/r/{link.token}"


def side_effects() -> list[SideEffect]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(SideEffect).order_by(SideEffect.id)))


def patient_calls() -> list[FollowUpTask]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.reason == "patient_report")))


@pytest.fixture
def session(course, stock, staff):
    return save(course, stock, staff["doctor"])


@pytest.fixture
def link(session) -> PatientReportLink:
    made = patient_report.report_link_for(session, utcnow())
    db.session.commit()
    return made


# --- the link ------------------------------------------------------------------------------------


def test_a_session_has_one_link_good_for_thirty_days(session) -> None:
    now = utcnow()
    link = patient_report.report_link_for(session, now)
    assert patient_report.report_link_for(session, now + timedelta(days=3)) is link
    assert len(link.token) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", link.token)
    assert link.expires_at == now + timedelta(days=30) and link.reports == 0


def test_a_voided_session_gets_no_link(session, staff) -> None:
    treatments.void_session(session, staff["doctor"], "entered on the wrong patient")
    assert patient_report.report_link_for(session, utcnow()) is None


def test_a_token_one_character_off_is_unknown(link) -> None:
    near = link.token[:-1] + ("A" if link.token[-1] != "A" else "B")
    for token in (near, link.token.swapcase(), link.token + "x", ""):
        with pytest.raises(ReportRefused) as refused:
            patient_report.open_link(token, utcnow())
        assert refused.value.code is Refusal.UNKNOWN


def test_two_reports_at_once_cannot_both_be_the_fifth(link) -> None:
    db.session.execute(sa.update(PatientReportLink).where(PatientReportLink.id == link.id).values(reports=4))
    opened = patient_report.open_link(link.token, utcnow())  # reads 4 reports
    # Meanwhile another request sends the fifth; this one still holds the link as it read it.
    db.session.execute(sa.update(PatientReportLink).where(PatientReportLink.id == link.id).values(reports=5)
                       .execution_options(synchronize_session=False))
    assert opened.reports == 4
    entry = PatientReportInput("redness", utcnow(), "mild")
    with pytest.raises(ReportRefused) as refused:
        patient_report.record_patient_report(opened, entry, utcnow())
    assert refused.value.code is Refusal.EXHAUSTED
    assert side_effects() == []


def test_each_severity_stands_for_its_grade(link) -> None:
    for severity, grade in (("mild", 1), ("moderate", 2), ("severe", 3)):
        entry = PatientReportInput("redness", utcnow(), severity)
        assert patient_report.record_patient_report(link, entry, utcnow()).grade == grade
    with pytest.raises(ReportRejected) as rejected:
        patient_report.record_patient_report(link, PatientReportInput("redness", utcnow(), "unbearable"), utcnow())
    assert rejected.value.field == "severity"


def test_something_else_needs_a_word_of_what(link) -> None:
    with pytest.raises(ReportRejected) as rejected:
        patient_report.record_patient_report(link, PatientReportInput("other", utcnow(), "mild"), utcnow())
    assert rejected.value.field == "note"
    noted = patient_report.record_patient_report(
        link, PatientReportInput("other", utcnow(), "mild", note="  A headache since the evening  "), utcnow())
    assert noted.other_text == noted.note == "A headache since the evening"
