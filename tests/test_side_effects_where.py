"""Side effects shown where they matter: the patient's chart, the session page and the next session's form."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import sqlalchemy as sa

from clinic.core.services import void_record
from clinic.core.templating import format_date, format_datetime
from clinic.extensions import db
from clinic.records.followups.models import SideEffect
from clinic.records.followups.services import SideEffectInput, record_side_effect
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import TreatmentSession
from tests.factories import NOW, save

# Side effects are recorded a week after the sessions, so that onsets and resolutions are in the past.
LATER = NOW + timedelta(days=7)


def side_effect(session: TreatmentSession, by, type_code: str = "bruising", grade: int = 1, *,
                areas: tuple[str, ...] = ("cheeks",), onset_hours: int = 2, source: str = "follow_up",
                resolved_after_days: int | None = None, **details) -> SideEffect:
    """A side effect after ``session`` on the injection logs of ``areas``; resolved some days after its onset."""
    onset = session.performed_at + timedelta(hours=onset_hours)
    if resolved_after_days is not None:
        details.update(outcome="resolved", resolved_on=onset.astimezone().date() + timedelta(days=resolved_after_days))
    entry = SideEffectInput(
        type_code=type_code, grade=grade, onset_hours=onset_hours,
        injection_ids=[i.id for i in session.injections if i.area_code in areas],
        causality=None if source == "patient" else "possible", **details)
    made = record_side_effect(session, by, entry, source=source, now=LATER)
    db.session.commit()
    return made


def text_of(page: str) -> str:
    """What a reader sees: no tags, entities decoded, runs of spaces as one."""
    spaced = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return spaced.replace(" ,", ",").replace(" ;", ";").strip()


def section(page: str, element_id: str) -> str:
    """The text of the element with this id (a <section>, <ol>, <aside> or <p>)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no #{element_id} on the page"
    return match.group(2)


# --- the chart and the session page --------------------------------------------------------------


def test_the_chart_shows_side_effects_as_a_timeline_newest_first(nurse_client, course, stock, staff) -> None:
    first = save(course, stock, staff["doctor"])
    second = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), acknowledged=["interval"])
    bruise = side_effect(first, staff["nurse"], "bruising", 1, areas=("cheeks", "forehead"), resolved_after_days=3)
    other = side_effect(second, staff["nurse"], "other", 2, other_text="Headache that evening", onset_hours=6)
    reported = side_effect(second, None, "swelling", 3, areas=(), source="patient", onset_hours=20)
    voided = side_effect(first, staff["nurse"], "redness", 2, onset_hours=1)
    void_record(voided, staff["nurse"], "entered on the wrong patient")
    db.session.commit()

    page = nurse_client.get(f"/patients/{course.patient_id}").get_data(as_text=True)
    timeline = section(page, "chart-side-effects")
    items = re.findall(r'<li id="side-effect-(\d+)"([^>]*)>(.*?)</li>', timeline, re.S)
    assert [int(i) for i, _, _ in items] == [reported.id, other.id, bruise.id, voided.id]  # newest onset first
    by_id = {int(i): (attributes, text_of(body)) for i, attributes, body in items}

    _, bruise_text = by_id[bruise.id]
    assert format_datetime(bruise.onset_at) in bruise_text
    assert "Bruising grade 1 – mild" in bruise_text
    assert f"Resolved in 3 days ({format_date(bruise.resolved_on)})" in bruise_text
    assert f"after session 1 ({format_date(first.performed_at)})" in bruise_text
    assert "Cheeks, Forehead" in bruise_text
    assert "reported by the patient" not in bruise_text and "voided" not in bruise_text

    assert "Headache that evening grade 2 – moderate" in by_id[other.id][1]
    assert "Ongoing" in by_id[other.id][1] and "after session 2" in by_id[other.id][1]
    assert "Swelling grade 3 – severe reported by the patient" in by_id[reported.id][1]

    attributes, voided_text = by_id[voided.id]
    assert 'class="muted"' in attributes and 'class="muted"' not in by_id[bruise.id][0]
    assert "voided" in voided_text and "entered on the wrong patient" in voided_text


def test_a_chart_without_side_effects_says_so(nurse_client, course) -> None:
    page = nurse_client.get(f"/patients/{course.patient_id}").get_data(as_text=True)
    assert "No side effect recorded." in text_of(section(page, "chart-side-effects"))


def test_the_session_page_shows_what_followed_that_session_only(auditor_client, course, stock, staff) -> None:
    first = save(course, stock, staff["doctor"])
    second = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), acknowledged=["interval"])
    tender = side_effect(first, staff["nurse"], "tenderness", 2, areas=("forehead",), resolved_after_days=0)
    side_effect(second, staff["nurse"], "itching", 1)

    page = auditor_client.get(f"/sessions/{first.id}").get_data(as_text=True)
    shown = text_of(section(page, "session-side-effects"))
    assert "Tenderness or pain grade 2 – moderate" in shown and "Resolved the same day" in shown
    assert "Forehead" in shown and "Itching" not in shown
    assert f'id="side-effect-{tender.id}"' in page
    later = auditor_client.get(f"/sessions/{second.id}").get_data(as_text=True)
    assert "Itching or tingling" in text_of(section(later, "session-side-effects"))
    third = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=40), acknowledged=["interval"])
    none = auditor_client.get(f"/sessions/{third.id}").get_data(as_text=True)
    assert "No side effect recorded after this session." in text_of(section(none, "session-side-effects"))


def test_the_chart_and_the_session_page_cost_the_same_queries_for_one_or_six_side_effects(
    nurse_client, course, stock, staff, count_queries
) -> None:
    first = save(course, stock, staff["doctor"])
    second = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), acknowledged=["interval"])

    def queries(url: str) -> int:
        with count_queries() as counted:
            assert nurse_client.get(url).status_code == 200
        return len(counted)

    chart, session_page = f"/patients/{course.patient_id}", f"/sessions/{first.id}"
    side_effect(first, staff["nurse"], "bruising", 1)
    nurse_client.get(chart)  # anything loaded once per process is not the page's cost
    one = (queries(chart), queries(session_page))
    for number, (kind, areas) in enumerate((("redness", ("forehead",)), ("swelling", ("cheeks", "forehead")),
                                            ("lump", ("cheeks",)), ("itching", ("forehead",)))):
        side_effect(first, staff["nurse"], kind, 1 + number % 3, areas=areas, onset_hours=number + 1)
    side_effect(second, staff["nurse"], "tenderness", 2, resolved_after_days=1)
    assert db.session.scalar(sa.select(sa.func.count(SideEffect.id))) == 6
    assert (queries(chart), queries(session_page)) == one


# --- the next session's form ---------------------------------------------------------------------


def test_the_next_session_form_starts_with_what_followed_the_previous_session(
    doctor_client, course, stock, staff
) -> None:
    first = save(course, stock, staff["doctor"])
    side_effect(first, staff["nurse"], "bruising", 1, onset_hours=3, resolved_after_days=3)
    side_effect(first, staff["nurse"], "redness", 2, areas=("forehead",), onset_hours=1)
    mistake = side_effect(first, staff["nurse"], "nodule", 3, onset_hours=2)
    void_record(mistake, staff["nurse"], "another patient's nodule")
    db.session.commit()

    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    box = text_of(section(page, "after-previous-session"))
    assert box == (f"After session 1 ({format_date(first.performed_at)}): bruising, grade 1, resolved in 3 days; "
                   "redness, grade 2, ongoing")
    # Before the form itself: the doctor reads it before starting.
    assert page.index('id="after-previous-session"') < page.index('id="session-form"')


def test_the_next_session_form_says_when_nothing_followed_and_is_silent_before_the_first(
    doctor_client, course, stock, staff
) -> None:
    first_form = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert 'id="after-previous-session"' not in first_form
    first = save(course, stock, staff["doctor"])
    page = doctor_client.get(f"/courses/{course.id}/sessions/new").get_data(as_text=True)
    assert text_of(section(page, "after-previous-session")) == (
        f"No side effects recorded after session 1 ({format_date(first.performed_at)}).")


def test_a_draft_of_the_next_session_shows_the_session_before_it_not_itself(
    doctor_client, course, stock, staff
) -> None:
    first = save(course, stock, staff["doctor"])
    side_effect(first, staff["nurse"], "tenderness", 1, resolved_after_days=0)
    other = side_effect(first, staff["nurse"], "other", 2, other_text="Headache after MRI", onset_hours=1)
    draft = save(course, stock, staff["doctor"], when=NOW + timedelta(seconds=30), acknowledged=["interval"])
    page = doctor_client.get(f"/sessions/{draft.id}/edit").get_data(as_text=True)
    box = text_of(section(page, "after-previous-session"))
    assert box.startswith("After session 1 (")
    # A catalogue name reads in lower case; free text is kept as typed.
    assert "tenderness or pain, grade 1, resolved the same day" in box and "Headache after MRI, grade 2" in box
    assert other.name == "Headache after MRI"
    treatments.void_session(first, staff["doctor"], "entered on the wrong course")
    db.session.commit()
    after_void = doctor_client.get(f"/sessions/{draft.id}/edit").get_data(as_text=True)
    assert 'id="after-previous-session"' not in after_void  # no session left before the draft
