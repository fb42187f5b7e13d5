"""The |date, |datetime and |time template filters, in a time zone other than UTC."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from jinja2 import Environment

from clinic.core.templating import FILTERS


@pytest.fixture
def auckland(app) -> Iterator[None]:
    """The clinic in Pacific/Auckland (UTC+13 in January) on a server whose own clock is in London: the
    clinic's zone is what the pages show, never the server's."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/London"
    time.tzset()
    app.config["CLINIC_TIMEZONE"] = "Pacific/Auckland"
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def render(source: str, **context: object) -> str:
    env = Environment()
    env.filters.update(FILTERS)
    return env.from_string(source).render(context)


LATE_EVENING_UTC = datetime(2026, 1, 14, 22, 30, 5, tzinfo=UTC)  # 11:30 on the 15th in Auckland


def test_aware_datetimes_in_local_time(auckland: None) -> None:
    v = LATE_EVENING_UTC
    assert render("{{ v|date }}", v=v) == "15 Jan 2026"
    assert render("{{ v|date('long') }}", v=v) == "15 January 2026"
    assert render("{{ v|datetime }}", v=v) == "15 Jan 2026 11:30"
    assert render("{{ v|datetime('weekday') }}", v=v) == "Thursday 15 January 2026, 11:30"
    assert render("{{ v|time }}", v=v) == "11:30"


def test_utc_is_labelled(auckland: None) -> None:
    v = LATE_EVENING_UTC
    # The clinic's clock first, the UTC moment beside it: a signature never reads as before the session.
    assert render("{{ v|datetime(utc=True) }}", v=v) == "15 Jan 2026 11:30 (14 Jan 2026 22:30 UTC)"
    assert render("{{ v|datetime('seconds', utc=True) }}", v=v) == "15 Jan 2026 11:30:05 (14 Jan 2026 22:30:05 UTC)"
    assert render("{{ v|datetime('long', utc=True) }}", v=v) == "15 January 2026 at 11:30 (14 January 2026 at 22:30 UTC)"
    same_day = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)  # 22:00 on the 15th in Auckland
    assert render("{{ v|datetime(utc=True) }}", v=same_day) == "15 Jan 2026 22:00 (09:00 UTC)"
    assert render("{{ v|datetime('iso', utc=True, label=False) }}", v=v) == "2026-01-14 22:30:05"
    assert render("{{ v|date(utc=True) }}", v=v) == "14 Jan 2026"


def test_dates_naive_datetimes_and_none_unchanged(auckland: None) -> None:
    on = date(2026, 3, 2)
    assert render("{{ v|date }} {{ v|date('weekday') }} {{ v|date('no_year') }}", v=on) == (
        "02 Mar 2026 Monday 02 March 2026 02 Mar")
    assert render("{{ v|datetime }}", v=datetime(2026, 3, 2, 9, 5)) == "02 Mar 2026 09:05"
    assert render("[{{ v|date }}{{ v|datetime }}{{ v|time }}]", v=None) == "[]"


def test_unknown_format_or_value_fails() -> None:
    with pytest.raises(KeyError):
        render("{{ v|date('shortest') }}", v=date(2026, 3, 2))
    with pytest.raises(TypeError):
        render("{{ v|datetime }}", v=date(2026, 3, 2))
    with pytest.raises(TypeError):
        render("{{ v|date }}", v="2026-03-02")


def test_a_refused_form_lists_each_problem_at_the_top_as_a_link_to_its_field(nurse_client) -> None:
    refused = nurse_client.submit("/patients/new", {"first_name": "", "last_name": "Moreau",
                                                    "date_of_birth": "not a date", "sex": "female"})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    summary = page[page.index('id="error-summary"'):page.index("</div>", page.index('id="error-summary"'))]
    assert "autofocus" in page[page.index("<div class=\"error-summary\""):page.index('id="error-summary"') + 200]
    assert '<a href="#first_name">First name: ' in summary and '<a href="#date_of_birth">Date of birth: ' in summary
    assert "2 things to fix" in summary
    assert 'id="first_name-error" class="field-error"' in page  # the message beside the field stays


def test_the_summary_names_the_row_of_a_repeated_field(doctor_client, course, stock) -> None:
    from tests.test_treatments import _session_post

    refused = doctor_client.submit(f"/courses/{course.id}/sessions/new", _session_post(
        stock, **{"injections-1-depth_mm": "deep"}))
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert '<a href="#injections-1-depth_mm">' in page
