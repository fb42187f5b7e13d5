"""Side effects shown where they matter: the patient's chart, the session page, the next session's form,
the lot trace (page, CSV, JSON) and the recall worklist."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.core.services import void_record
from clinic.core.templating import format_date, format_datetime
from clinic.extensions import db
from clinic.records.followups.models import SideEffect
from clinic.records.followups.services import SideEffectInput, record_side_effect
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import TreatmentSession
from clinic.tracing import recalls
from tests.conftest import PASSWORDS, QUERY_BUDGET
from tests.factories import NOW, ready_course, save

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


# --- the lot trace and the recall worklist -------------------------------------------------------


def _injected(session: TreatmentSession, area: str):
    return next(i for i in session.injections if i.area_code == area)


@pytest.fixture
def traced(course, stock, staff) -> dict[str, TreatmentSession]:
    """Four patients who received the HA lot:

    - Durand: the cocktail (vitamins + HA) in both areas; a bruise (1), redness on both areas (3, counted
      once), a voided swelling (4, not counted);
    - Split: HA alone in the cheeks, vitamins alone in the forehead; a lump in the cheeks (1, counted for
      HA), redness in the forehead (2, another lot's preparation: not counted for HA);
    - Voided: the cocktail and a severe swelling, then the session is voided (not counted);
    - Quiet: the cocktail and nothing after it.
    """
    doctor, nurse = staff["doctor"], staff["nurse"]
    durand = save(course, stock, doctor)
    side_effect(durand, nurse, "bruising", 1, areas=("cheeks",))
    side_effect(durand, nurse, "redness", 3, areas=("cheeks", "forehead"), onset_hours=1)
    swelling = side_effect(durand, nurse, "swelling", 4, areas=("forehead",), onset_hours=3)
    void_record(swelling, nurse, "recorded twice")
    db.session.commit()

    split_preparations = [
        treatments.PreparationInput("HA", [treatments.ComponentInput(stock["ha"].id, Decimal("2"))]),
        treatments.PreparationInput("Vitamins", [treatments.ComponentInput(stock["vitamins"].id, Decimal("3"))]),
    ]
    split_injections = [
        treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1.5"), volume_ml=Decimal("1.5"), points=30),
        treatments.InjectionInput("forehead", 1, depth_mm=Decimal("1"), volume_ml=Decimal("2"), points=40),
    ]
    split = save(ready_course(staff, "Sam", "Split"), stock, doctor, preparations=split_preparations,
                 injections=split_injections, acknowledged=["first_time_no_patch_test"])
    side_effect(split, nurse, "lump", 1, areas=("cheeks",))
    side_effect(split, nurse, "redness", 2, areas=("forehead",), onset_hours=1)

    voided = save(ready_course(staff, "Val", "Voided"), stock, doctor, acknowledged=["first_time_no_patch_test"])
    side_effect(voided, nurse, "swelling", 3, areas=("cheeks",))
    treatments.void_session(voided, doctor, "entered on the wrong chart")
    db.session.commit()

    quiet = save(ready_course(staff, "Quinn", "Quiet"), stock, doctor, acknowledged=["first_time_no_patch_test"])
    return {"durand": durand, "split": split, "voided": voided, "quiet": quiet}


def _expected_by_record(lot) -> dict[str, tuple[int, int | None]]:
    """Walk every side effect through the ORM, not the trace's SQL: per patient's record number, how many
    (not voided, session not voided) concern an area injected from a preparation holding ``lot``, and the
    worst grade; every patient who received the lot is there, with (0, None) for none."""
    expected: dict[str, tuple[int, int | None]] = {}
    for session in db.session.scalars(sa.select(TreatmentSession)):
        if any(c.lot_id == lot.id for p in session.preparations for c in p.components):
            expected.setdefault(session.course.patient.record_number, (0, None))
    for side in db.session.scalars(sa.select(SideEffect)):
        if side.is_voided or side.session.is_voided:
            continue
        if not any(c.lot_id == lot.id for a in side.areas for c in a.injection.preparation.components):
            continue
        count, worst = expected[side.patient.record_number]
        expected[side.patient.record_number] = (count + 1, max(worst or 0, side.grade))
    return expected


def _cell_text(count: int, worst: int | None) -> str:
    if not count:
        return "none"
    return f"{count}, {'worst grade' if count > 1 else 'grade'} {worst}"


def _cells_by_record(page: str, table_id: str) -> dict[str, set[str]]:
    """Per record number on the page's table, the texts of its rows' side-effects cells."""
    table = section(page, table_id)
    cells: dict[str, set[str]] = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)[1:]:
        record = re.search(r"<code>([^<]+)</code>", row)
        cell = re.search(r'<td class="side-effects"[^>]*>(.*?)</td>', row, re.S)
        if record and cell:
            cells.setdefault(record.group(1), set()).add(text_of(cell.group(1)).strip())
    return cells


def test_the_trace_page_counts_side_effects_per_patient_through_the_lot(auditor_client, traced, stock) -> None:
    expected = _expected_by_record(stock["ha"])
    records = {key: s.course.patient.record_number for key, s in traced.items()}
    # The story the fixture tells, so that the independent walk is itself checked.
    assert expected == {records["durand"]: (2, 3), records["split"]: (1, 1), records["voided"]: (0, None),
                        records["quiet"]: (0, None)}
    page = auditor_client.get("/trace?lot=L-HA").get_data(as_text=True)
    assert _cells_by_record(page, "trace-rows") == {
        record: {_cell_text(*counted)} for record, counted in expected.items()}
    # The same people through the other lot: the forehead's redness counts there, the lump does not.
    vitamins = _expected_by_record(stock["vitamins"])
    assert vitamins[records["split"]] == (1, 2) and vitamins[records["durand"]] == (2, 3)
    other_page = auditor_client.get("/trace?lot=L-VITAMINS").get_data(as_text=True)
    assert _cells_by_record(other_page, "trace-rows") == {
        record: {_cell_text(*counted)} for record, counted in vitamins.items()}


def test_the_trace_csv_and_json_carry_the_side_effects_column(auditor_client, traced, stock) -> None:
    expected = _expected_by_record(stock["ha"])
    exported = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": PASSWORDS["auditor"]})
    header, *rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert header[-4:-2] == ["patient_side_effects", "patient_worst_grade"]
    record, count = header.index("record_number"), header.index("patient_side_effects")
    worst = header.index("patient_worst_grade")
    assert len(rows) == 2 + 1 + 2 + 2  # every injection from the lot, the voided session's too
    found = {(row[record], int(row[count]), int(row[worst]) if row[worst] else None) for row in rows}
    assert found == {(number, *counted) for number, counted in expected.items()}

    body = json.loads(auditor_client.submit("/trace?lot=L-HA&format=json", {"password": PASSWORDS["auditor"]})
                      .get_data(as_text=True))
    assert {(r["record_number"], r["side_effects"], r["worst_grade"]) for r in body["rows"]} == {
        (number, *counted) for number, counted in expected.items()}


def test_the_recall_worklist_shows_each_patients_side_effects_for_the_recalled_lots(
    nurse_client, traced, stock, staff
) -> None:
    recall = recalls.open_recall(recalls.RecallInput(
        reason="Manufacturer notice: possible particulate matter", source="manufacturer", lot_ids=[stock["ha"].id]),
        staff["auditor"])
    db.session.commit()
    expected = _expected_by_record(stock["ha"])
    page = nurse_client.get(f"/recalls/{recall.id}").get_data(as_text=True)
    cells = _cells_by_record(page, "worklist")
    # The voided session's patient is not on the worklist: nobody to call about a session entered in error.
    voided_record = traced["voided"].course.patient.record_number
    assert voided_record not in cells
    assert cells == {record: {_cell_text(*counted)} for record, counted in expected.items() if record != voided_record}


def test_the_trace_page_costs_the_same_queries_for_one_or_six_side_effects(
    auditor_client, course, stock, staff, count_queries
) -> None:
    def queries() -> int:
        with count_queries() as counted:
            assert auditor_client.get("/trace?lot=L-HA").status_code == 200
        return len(counted)

    sessions = [save(course, stock, staff["doctor"])]
    side_effect(sessions[0], staff["nurse"], "bruising", 1)
    auditor_client.get("/trace?lot=L-HA")  # anything loaded once per process is not the page's cost
    one = queries()
    # More patients (so more rows) and five more side effects, on every patient.
    sessions += [save(ready_course(staff, first, "Counted"), stock, staff["doctor"],
                      acknowledged=["first_time_no_patch_test"]) for first in ("Ada", "Bea")]
    for number, session in enumerate(sessions * 2):
        if number:
            side_effect(session, staff["nurse"], "redness", 1 + number % 4, areas=("forehead",), onset_hours=number)
    assert db.session.scalar(sa.select(sa.func.count(SideEffect.id))) == 6
    assert queries() == one <= QUERY_BUDGET
