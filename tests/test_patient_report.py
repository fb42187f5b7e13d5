"""The patient's own report of a side effect, from the link on their aftercare sheet (DESIGN.md "The
patient's own report"; SECURITY.md A4, I1, I2, T1, Z1).

Everything goes through the public page with CSRF tokens, as the patient's phone would, and the
record is then read as the nurses see it.
"""

from __future__ import annotations

import html
import re
import zlib
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from clinic.audit.models import AuditEvent
from clinic.core.models import utcnow
from clinic.core.qr import qr_drawing
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
from clinic.records.followups.queries import nurse_worklist, urgent_follow_ups
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


def pdf_objects(document: bytes) -> bytes:
    """The PDF's objects as text: WeasyPrint packs them into compressed streams."""
    # The end-of-line before "endstream" is left on: a stream's last byte may itself be a \r or \n, and
    # a decompressor object ignores what follows the data.
    streams = re.findall(rb"stream\r?\n(.*?)endstream", document, re.S)
    return document + b"".join(zlib.decompressobj().decompress(stream) for stream in streams)


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
    """A signed session: signing makes its report link."""
    signed = save(course, stock, staff["doctor"])
    treatments.apply_signature(signed, staff["doctor"])
    db.session.commit()
    return signed


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
    assert link.expires_at == link.created_at + timedelta(days=30) and link.reports == 0
    assert link.created_at <= now, "made when the session was signed"


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


# --- reporting ------------------------------------------------------------------------------------


def test_a_patient_reports_swelling_and_the_nurses_get_an_urgent_call_for_today(client, link, session,
                                                                              nurse_client) -> None:
    page = client.get(url(link))
    assert page.status_code == 200
    assert "Hello Amélie" in text(page) and "A small lump under the skin" in text(page)  # the patient's words

    onset = utcnow()
    sent = client.submit(url(link), answers(onset_at=local_minute(onset), severity="moderate",
                                            note="Puffy around the cheeks", callback_phone="020 7946 0958"))
    assert sent.status_code == 302 and sent.location.endswith(url(link))
    thanks = client.get(url(link))
    assert thanks.status_code == 200 and "will call you" in text(thanks)
    assert SEVERE_ADVICE not in text(thanks)

    [reported] = side_effects()
    assert (reported.source, reported.type_code, reported.grade, reported.outcome) == (
        "patient", "swelling", 2, "ongoing")
    assert reported.source_label == "Reported by the patient"
    assert reported.causality is None and reported.recorded_by_id is None and reported.areas == []
    assert reported.onset_at == onset.replace(second=0, microsecond=0)
    assert reported.note == "Puffy around the cheeks" and reported.callback_phone == "+44 20 7946 0958"
    [call] = patient_calls()
    today = utcnow().astimezone().date()
    assert (call.urgent, call.kind, call.due_on, call.status, call.session_id) == (
        True, "phone_check", today, "due", session.id)
    assert reported.follow_up_id == call.id
    db.session.refresh(link)
    assert link.reports == 1
    # Pinned above the nurses' worklist, for today, urgent, with what was reported and the number given.
    [row] = [r for r in urgent_follow_ups(today) if r.task_id == call.id]
    assert row.urgent and row.reason == "patient_report" and row.bucket(today) == "today"
    assert row.reported.startswith(reported.type.plain_name)
    assert call.id not in {r.task_id for r in nurse_worklist(today).rows}, "not repeated below"
    # The call's page shows what the patient sent, in their words, and the number to call back.
    call_page = nurse_client.get(f"/follow-ups/{call.id}").get_data(as_text=True)
    banner = call_page.split('id="patient-reported"')[1].split("</section>")[0]
    assert "“Puffy around the cheeks”" in banner and "+44 20 7946 0958" in call_page


def test_a_severe_report_tells_the_patient_to_call_now(app, client, link) -> None:
    client.submit(url(link), answers(severity="severe", type_code="allergic_reaction"))
    page = text(client.get(url(link)))
    assert SEVERE_ADVICE in page and "emergency services now" in page
    assert app.config["CLINIC_SIDE_EFFECTS_CONTACT"] in page
    assert side_effects()[0].grade == 3
    # The thank-you is shown once; afterwards the link opens the form again.
    assert "What do you notice?" in text(client.get(url(link)))


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"onset_at": local_minute(utcnow() + timedelta(hours=3))}, "onset_at", "This time is in the future."),
    ({"onset_at": local_minute(utcnow() - timedelta(days=2))}, "onset_at", "Your treatment was on"),
    ({"onset_at": "yesterday"}, "onset_at", "Not a valid datetime value."),
    ({"callback_phone": "12"}, "callback_phone", "phone number"),
    ({"type_code": "spontaneous_combustion"}, "type_code", "Choose what you notice from the list."),
    ({"type_code": ""}, "type_code", "Choose what you notice."),
    ({"severity": ""}, "severity", "Choose how bad it is."),
    ({"note": "x" * 2001}, "note", "2000"),
])
def test_bad_input_is_refused_beside_its_field_and_kept(client, link, changes, field, message) -> None:
    typed = answers(note="Ça gratte <script>alert(1)</script>", callback_phone="07700 900123",
                    severity="moderate")
    typed.update(changes)
    response = client.submit(url(link), typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', page)
    assert error and message in html.unescape(error.group(1))
    # What was typed is still there (escaped: never raw markup).
    assert "<script>alert(1)</script>" not in page
    if "note" not in changes:
        assert "Ça gratte &lt;script&gt;alert(1)&lt;/script&gt;" in page
    if "callback_phone" not in changes:
        assert 'value="07700 900123"' in page
    if "severity" not in changes:
        assert re.search(r'<input[^>]*checked[^>]*value="moderate"|<input[^>]*value="moderate"[^>]*checked', page)
    # Nothing was written: no side effect, no call, the link not counted, no report in the trail.
    assert side_effects() == [] and patient_calls() == []
    db.session.refresh(link)
    assert link.reports == 0
    assert audit_rows(patient_report.REPORTED) == []


def test_a_report_without_its_csrf_token_is_refused(client, link) -> None:
    assert client.post(url(link), data=answers()).status_code == 400
    assert side_effects() == []


# --- links that no longer work ----------------------------------------------------------------------


def test_an_expired_link_is_gone(client, link) -> None:
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        page = client.get(url(link))
        assert page.status_code == 410 and CLOSED in text(page)
        assert client.submit(url(link), answers(onset_at=local_minute(utcnow()))).status_code == 410
    assert side_effects() == []
    assert [r.reason for r in audit_rows(patient_report.REFUSED)] == ["expired", "expired"]


def test_the_sixth_report_is_refused(app, client, link) -> None:
    for _ in range(MAX_REPORTS):
        assert client.submit(url(link), answers()).status_code == 302
    refused = client.submit(url(link), answers())
    assert refused.status_code == 410 and CLOSED in text(refused)
    assert len(side_effects()) == MAX_REPORTS and len(patient_calls()) == MAX_REPORTS
    db.session.refresh(link)
    assert link.reports == MAX_REPORTS
    fresh = app.test_client()
    assert fresh.get(url(link)).status_code == 410


def test_a_wrong_token_is_not_found(client, link) -> None:
    for token in ("not-a-token", link.token[:-2] + "zz", "A" * 43, link.token + "A" * 5):
        page = client.get(f"/r/{token}")
        assert page.status_code == 404 and CLOSED in text(page)
    assert client.submit("/r/" + "A" * 43, answers()).status_code == 404
    assert side_effects() == []


def test_a_voided_session_s_link_is_gone_and_its_sheet_has_none(client, nurse_client, link, session, staff) -> None:
    treatments.void_session(session, staff["doctor"], "entered on the wrong patient")
    db.session.commit()
    assert client.get(url(link)).status_code == 410
    assert client.submit(url(link), answers()).status_code == 410
    assert side_effects() == []
    sheet = text(nurse_client.get(f"/sessions/{session.id}/aftercare"))
    assert "/r/" not in sheet and 'class="qr"' not in sheet


def test_every_closed_link_says_the_same_and_nothing_about_the_patient(app, client, link, session, staff) -> None:
    unknown = client.get("/r/" + "A" * 43)
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        expired = client.get(url(link))
    treatments.void_session(session, staff["doctor"], "entered on the wrong patient")
    db.session.commit()
    voided = client.get(url(link))
    pages = {r.get_data(as_text=True) for r in (unknown, expired, voided)}
    assert len(pages) == 1, "the pages differ: they would tell which case it is"
    [page] = pages
    assert app.config["CLINIC_SIDE_EFFECTS_CONTACT"] in html.unescape(page)
    patient = session.course.patient
    assert patient.first_name not in page and patient.last_name not in page and patient.record_number not in page


# --- what the page shows ------------------------------------------------------------------------------


def test_the_page_shows_only_the_first_name_and_the_session_date(app, client, link, session) -> None:
    patient = session.course.patient
    patient.phone, patient.email, patient.address = "+44 7700 900123", "amelie@example.test", "12 Rue des Lilas"
    patient.emergency_contact = "Jules Durand +44 7700 900456"
    db.session.commit()
    page = text(client.get(url(link)))
    assert "Amélie" in page and session.performed_at.astimezone().strftime("%d %B %Y") in page
    assert app.config["CLINIC_NAME"] in page
    for private in (patient.last_name, patient.record_number, "7700 900123", "7700900123", patient.email,
                    patient.address, "Jules", patient.date_of_birth.strftime("%d %b %Y"),
                    patient.date_of_birth.isoformat(), "Test Doctor", "Revita", "L-VITAMINS", "Cheeks", "Forehead",
                    "Skin rejuvenation"):
        assert private not in page, private
    # No way into the staff's side from here.
    assert "Sign out" not in page and 'href="/"' not in page and 'href="/login' not in page


def test_the_page_works_without_scripts_on_a_phone(client, link) -> None:
    page = client.get(url(link)).get_data(as_text=True)
    assert "<script" not in page and " style=" not in page
    assert 'name="viewport" content="width=device-width' in page
    assert 'type="datetime-local"' in page and 'type="tel"' in page and 'name="csrf_token"' in page
    assert page.count('type="radio"') >= 3 + 12  # three severities and the catalogue's kinds


# --- the aftercare sheet ----------------------------------------------------------------------------


def test_the_aftercare_sheet_and_its_pdf_carry_the_link_and_its_qr_code(nurse_client, session) -> None:
    page = nurse_client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    [link] = db.session.scalars(sa.select(PatientReportLink).where(PatientReportLink.session_id == session.id))
    address = f"http://localhost/r/{link.token}"
    assert address in page
    # The QR code is drawn in the page (no image to fetch) and encodes that very address.
    assert f'd="{qr_drawing(address).path}"' in page and "<img" not in page
    assert link.expires_at.astimezone().strftime("%d %B %Y") in page

    pdf = nurse_client.get(f"/sessions/{session.id}/aftercare.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert address.encode() in pdf_objects(pdf.data)  # the printed address is a live link in the PDF too
    # Showing the sheet again keeps the same link.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatientReportLink)) == 1


def test_showing_a_sheet_never_writes_a_draft_has_no_link_until_it_is_signed(nurse_client, course, stock,
                                                                               staff) -> None:
    draft = save(course, stock, staff["doctor"])
    db.session.commit()
    page = nurse_client.get(f"/sessions/{draft.id}/aftercare").get_data(as_text=True)
    assert 'class="qr"' not in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatientReportLink).where(
        PatientReportLink.session_id == draft.id)) == 0
    treatments.apply_signature(draft, staff["doctor"])
    db.session.commit()
    assert patient_report.existing_report_link(draft) is not None


def test_the_qr_drawing_is_exactly_the_code_s_dark_modules() -> None:
    import segno

    address = "https://clinic.example/r/" + "Ab9_-" * 8 + "xyz"
    drawing = qr_drawing(address)
    drawn = {(x + dx, y) for x, y, width in
             ((int(x), int(y), int(w)) for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", drawing.path))
             for dx in range(width)}
    code = segno.make(address, error="m", micro=False)
    dark = {(x, y) for y, row in enumerate(code.matrix_iter(scale=1, border=4)) for x, on in enumerate(row) if on}
    assert drawn == dark and drawing.size == code.symbol_size(scale=1, border=4)[0]
    assert re.fullmatch(r"[Mhvz0-9 -]+", drawing.path)  # nothing a page would need to escape


def test_an_expired_link_is_not_printed_again(nurse_client, link, session) -> None:
    with time_machine.travel(utcnow() + timedelta(days=31), tick=False):
        page = nurse_client.get(f"/sessions/{session.id}/aftercare").get_data(as_text=True)
    assert link.token not in page and 'class="qr"' not in page


# --- audit and rate limit -----------------------------------------------------------------------------


def test_every_use_and_refusal_is_audited_and_the_token_never_is(client, nurse_client, session) -> None:
    nurse_client.get(f"/sessions/{session.id}/aftercare")
    [link] = db.session.scalars(sa.select(PatientReportLink))
    client.get(url(link))
    client.submit(url(link), answers())
    client.get("/r/" + "A" * 43)
    opened, reported, refused = (audit_rows(a) for a in (
        patient_report.OPENED, patient_report.REPORTED, patient_report.REFUSED))
    assert [r.record_id for r in opened] == [str(link.id)] * 2  # the form, then the sending
    assert [r.record_id for r in reported] == [str(link.id)] and reported[0].changes == '{"reports":["0","1"]}'
    assert [(r.record_id, r.reason) for r in refused] == [(None, "unknown")]
    for row in opened + reported + refused:
        assert row.user_email == "patient (report link)" and row.user_id is None and row.client_addr == "127.0.0.1"
    # The side effect and the call the report made are on record as the patient's too.
    created = {r.record_type: r for r in audit_rows("create")}
    assert created["side_effect"].user_email == "patient (report link)"
    assert created["follow_up_task"].user_email == "patient (report link)"
    # Made with the signature, by whoever signed (here the test itself, outside a request).
    assert created["patient_report_link"].user_email not in ("patient (report link)", "nurse@example.test")
    assert "[redacted]" in created["patient_report_link"].changes
    for row in db.session.scalars(sa.select(AuditEvent)):
        assert all(link.token not in (value or "") for value in (
            row.changes, row.reason, row.record_id, row.user_email, row.record_type)), row.seq


def test_a_nurse_helping_on_the_phone_is_on_record_as_herself(nurse_client, link) -> None:
    nurse_client.get(url(link))
    [opened] = audit_rows(patient_report.OPENED)
    assert opened.user_email == "nurse@example.test"


class TestTheRateLimit:
    @pytest.fixture
    def config_overrides(self) -> dict[str, object]:
        return {"PATIENT_REPORT_MAX_PER_ADDRESS": 4}

    def test_too_many_uses_from_one_address_get_429_until_the_window_passes(self, app, client, link) -> None:
        for _ in range(4):
            assert client.get("/r/" + "A" * 43).status_code == 404
        # Over the limit: even the right link waits, and nothing tells whether it was right.
        for target in ("/r/" + "A" * 43, url(link)):
            busy = client.get(target)
            assert busy.status_code == 429 and "Too many tries" in text(busy)
            assert 0 < int(busy.headers["Retry-After"]) <= 15 * 60
        assert client.submit(url(link), answers()).status_code == 429
        assert side_effects() == []
        assert len(audit_rows(patient_report.THROTTLED)) == 3
        # Another address is not held back.
        assert client.get(url(link), environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
        with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
            assert client.get(url(link)).status_code == 200

    def test_the_limit_is_counted_from_the_trail_not_the_process(self, app, link) -> None:
        # Another worker's requests: rows already in the trail count here as well.
        for _ in range(4):
            with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
                with pytest.raises(ReportRefused):
                    patient_report.open_link("A" * 43, utcnow())
                db.session.commit()  # as each of those requests did when it answered
        with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.7"}):
            with pytest.raises(ReportRefused) as refused:
                patient_report.check_rate("198.51.100.7", utcnow())
        assert refused.value.code is Refusal.THROTTLED
