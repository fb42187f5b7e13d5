"""Times are stored in UTC and shown, typed and dated in the clinic's own zone (issue 14, item 5).

The clinic here is on Kiritimati (UTC+14 all year, no daylight saving): a session at 11:30 UTC is at
01:30 the next morning on the clinic's clocks, so every page, export and date built on it must say so.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from clinic.core.clock import clinic_day, from_clinic_time
from clinic.extensions import db
from clinic.records.followups.models import FollowUpTask
from clinic.records.treatments import services
from config import ConfigurationError, DevelopmentConfig
from tests.conftest import PASSWORDS
from tests.factories import TODAY, save

ZONE = "Pacific/Kiritimati"
WHEN = datetime.combine(TODAY - timedelta(days=1), time(11, 30), UTC)  # 01:30 today on the clinic's clocks
LOCAL = datetime.combine(TODAY, time(1, 30))


@pytest.fixture
def clinic_far_east(app):
    app.config["CLINIC_TIMEZONE"] = ZONE
    return app


def test_a_session_after_midnight_local_is_on_the_clinics_day_everywhere(
        clinic_far_east, doctor_client, auditor_client, course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"], when=WHEN)
    assert clinic_day(session.performed_at) == TODAY  # the UTC day is yesterday
    services.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    # Follow-up calls are counted from the clinic's day, not the server's.
    due = db.session.scalars(sa.select(FollowUpTask.due_on).where(FollowUpTask.session_id == session.id)).all()
    assert min(due) == TODAY + timedelta(days=1)

    page = doctor_client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert f"{LOCAL:%A %d %B %Y, %H:%M}" in page
    assert f"{WHEN:%d %B %Y, %H:%M}" not in page

    exported = auditor_client.submit(f"/trace?lot={stock['ha'].lot_number}&format=csv",
                                     {"password": PASSWORDS["auditor"]})
    assert exported.status_code == 200
    assert f"{LOCAL:%Y-%m-%d %H:%M}+14:00" in exported.get_data(as_text=True)


def test_a_time_typed_in_a_form_is_the_clinics_wall_clock(clinic_far_east) -> None:
    assert from_clinic_time(LOCAL) == WHEN


def test_the_session_form_offers_the_clinics_time_now(clinic_far_east, doctor_client, course) -> None:
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    local_now = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo(ZONE))
    assert f'value="{local_now:%Y-%m-%dT%H}' in page


def test_an_unknown_zone_stops_the_app_at_start(monkeypatch) -> None:
    monkeypatch.setenv("CLINIC_TIMEZONE", "Mars/Olympus_Mons")
    monkeypatch.setenv("SECRET_KEY", "s" * 32)
    monkeypatch.setenv("AUDIT_HMAC_KEY", "a" * 32)
    with pytest.raises(ConfigurationError, match="IANA time zone"):
        DevelopmentConfig()
