"""A vigilance report for a serious side effect: prefilled from the record without the patient's name or
record number, completed by an auditor, recorded as sent once; read by doctors and nurses; audited."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from clinic.extensions import db
from clinic.records.treatments import services as treatments  # noqa: I001
from clinic.reports.models import VigilanceReport
from clinic.reports.services import age_band
from tests.conftest import PASSWORDS, audit_rows
from tests.factories import TODAY, save
from tests.test_reports_figures import _side_effect


@pytest.fixture
def serious(course, stock, staff):
    """Nodules on the cheeks after a vitamin and HA cocktail: grade 3, serious (a doctor had to treat them)."""
    stock["ha"].product.gtin = "05012345678900"
    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    return _side_effect(session, staff["nurse"], 3, serious=True, after=timedelta(seconds=30))


def _form(client, url):
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="submission" type="hidden" value="([^"]+)"', page)
    return page, key.group(1) if key else None


def test_the_report_holds_the_lots_gtin_and_event_and_no_name_or_record_number(serious, stock, auditor_client):
    patient = serious.patient
    response = auditor_client.get(f"/side-effects/{serious.id}/vigilance")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Vigilance report: a serious side effect" in page
    for expected in ("L-VITAMINS", "L-HA", "05012345678900", "Lumea Dermaceutics", "Bruising", "3 – severe",
                     "Skin rejuvenation", "Cheeks", "Female", age_band(patient.date_of_birth, TODAY)):
        assert expected in page, expected
    main = page.split('id="vigilance-report"')[1].split("</article>")[0]
    for secret in (patient.first_name, patient.last_name, patient.record_number):
        assert secret not in main
    pdf = auditor_client.get(f"/side-effects/{serious.id}/vigilance.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in ("L-VITAMINS", "L-HA", "05012345678900", "Bruising", "severe", "Female"):
        assert expected in text, expected
    for secret in (patient.first_name, patient.last_name, patient.record_number):
        assert secret not in text
    reads = [row for row in audit_rows("export") if row.record_type == "side_effect"]
    assert [row.reason for row in reads] == ["vigilance report page", "vigilance report PDF"]


def test_age_bands_are_ten_years_wide() -> None:
    assert age_band(TODAY.replace(year=TODAY.year - 34), TODAY) == "30–39"
    assert age_band(TODAY.replace(year=TODAY.year - 40) + timedelta(days=1), TODAY) == "30–39"


def test_an_auditor_completes_it_and_records_it_sent_once(serious, auditor_client, staff) -> None:
    url = f"/side-effects/{serious.id}/vigilance"
    home = auditor_client.get("/").get_data(as_text=True)
    assert f'href="{url}"' in home
    response = auditor_client.submit(url, {"recipient": "manufacturer", "recipient_name": "Lumea vigilance desk",
                                           "reporter_contact": "Clinic auditor, +44 20 7946 0001",
                                           "narrative": "Painful nodules on both cheeks from day 2."})
    assert response.status_code == 302
    page, key = _form(auditor_client, url)
    assert "Painful nodules on both cheeks" in page and key
    sent = {"submission": key, "sent_on": TODAY.isoformat(), "sent_to": "vigilance@lumea.example",
            "reference": "LUM-2026-0042"}
    assert auditor_client.submit(f"{url}/sent", sent).status_code == 302
    again = auditor_client.submit(f"{url}/sent", sent)  # a double click: the first answer, nothing twice
    assert again.status_code == 302
    report = db.session.scalar(sa.select(VigilanceReport))
    assert (report.sent_to, report.sent_reference, report.sent_by_id) == (
        "vigilance@lumea.example", "LUM-2026-0042", staff["auditor"].id)
    page = auditor_client.get(url).get_data(as_text=True)
    assert "reference <code>LUM-2026-0042</code>" in page and 'id="vigilance-record-sent"' not in page
    assert f'href="{url}"' not in auditor_client.get("/").get_data(as_text=True)
    created = [row for row in audit_rows() if row.record_type == "vigilance_report"]
    assert len(created) == 2  # written, then sent: each change audited


def test_a_sending_day_in_the_future_is_refused_beside_its_field(serious, auditor_client) -> None:
    url = f"/side-effects/{serious.id}/vigilance"
    auditor_client.submit(url, {"recipient": "authority", "recipient_name": "MHRA"})
    _, key = _form(auditor_client, url)
    response = auditor_client.submit(f"{url}/sent", {"submission": key, "sent_on": (
        TODAY + timedelta(days=3)).isoformat(), "sent_to": "MHRA Yellow Card"})
    assert response.status_code == 400
    assert 'id="sent_on-error"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(VigilanceReport)).sent_at is None


def test_doctors_and_nurses_read_and_print_it_but_only_an_auditor_completes_it(serious, clients) -> None:
    url = f"/side-effects/{serious.id}/vigilance"
    for role in ("doctor", "nurse"):
        page = clients[role].get(url)
        assert page.status_code == 200 and 'id="vigilance-complete"' not in page.get_data(as_text=True)
        assert clients[role].get(f"{url}.pdf").status_code == 200
        assert clients[role].submit(url, {"recipient": "manufacturer"}).status_code == 403
        assert clients[role].submit(f"{url}/sent", {"sent_to": "x"}).status_code == 403
    assert clients["admin"].get(url).status_code == 403
    assert clients["admin"].get(f"{url}.pdf").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VigilanceReport)) == 0


def test_a_mild_side_effect_has_no_vigilance_report(course, stock, staff, auditor_client) -> None:
    session = save(course, stock, staff["doctor"])
    treatments.sign_session(session, staff["doctor"], PASSWORDS["doctor"])
    db.session.commit()
    mild = _side_effect(session, staff["nurse"], 1)
    assert auditor_client.get(f"/side-effects/{mild.id}/vigilance").status_code == 404
    assert 'id="vigilance-link"' not in auditor_client.get(f"/side-effects/{mild.id}").get_data(as_text=True)

    # Grade 3 without being serious has its report, titled for what it is (found clicking through).
    severe = _side_effect(session, staff["nurse"], 3, after=timedelta(seconds=40))
    page = auditor_client.get(f"/side-effects/{severe.id}/vigilance").get_data(as_text=True)
    assert "a side effect of grade 3 after mesotherapy" in page and "a serious side effect" not in page


def test_a_chance_reads_as_a_plain_percentage() -> None:
    from clinic.reports.stats import as_percent

    assert [as_percent(q) for q in (1.0, 0.5, 0.042, 0.00031, 0.0)] == ["100", "50", "4.2", "0.031", "under 0.001"]
