"""Lot trace: every patient who received a lot, alone or in a cocktail; the reverse trace; exports and the CLI."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.core.errors import FieldError
from clinic.extensions import db
from clinic.inventory import services as inventory
from clinic.records.treatments import services as treatments
from clinic.records.treatments.models import TreatmentSession
from clinic.records.treatments.queries import lots_received_by
from clinic.tracing import services
from tests.conftest import ON_POSTGRES, PASSWORDS, audit_rows, own_transaction
from tests.factories import NOW, TODAY, ready_course, save


def test_a_cocktail_lot_is_traced_with_its_share_of_each_injection(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    page = services.trace_lot([stock["ha"]])
    assert [r.area for r in page.rows] == ["Cheeks", "Forehead"]
    assert all(r.in_cocktail and r.patient_id == course.patient_id for r in page.rows)
    # 2 ml of HA in 5 ml drawn: 2/5 of the 2.5 ml and 1.5 ml injected.
    assert [r.lot_ml for r in page.rows] == [Decimal("1.00"), Decimal("0.60")]
    totals = page.totals
    assert (totals.patients, totals.sessions, totals.lot_ml, totals.units_used, totals.units_received) == (
        1, 1, Decimal("1.60"), 1, 10)
    assert page.rows[0].session_id == session.id


def test_a_voided_session_stays_in_the_trace_marked_and_out_of_the_totals(course, stock, staff) -> None:
    session = save(course, stock, staff["doctor"])
    treatments.void_session(session, staff["doctor"], "wrong chart")
    db.session.commit()
    page = services.trace_lot([stock["vitamins"]])
    assert page.rows and all(r.session_voided for r in page.rows)
    assert (page.totals.patients, page.totals.sessions) == (0, 0)


def _independent_trace(lot) -> tuple[set[tuple[int, int | None]], tuple[int, int, Decimal, int]]:
    """Walk every session through the ORM, not the trace SQL: the rows that used ``lot`` and the totals."""
    rows, patients, sessions, lot_ml, units = set(), set(), set(), Decimal(0), 0
    for session in db.session.scalars(sa.select(TreatmentSession)):
        for preparation in session.preparations:
            mine = [c for c in preparation.components if c.lot_id == lot.id]
            if not mine:
                continue
            drawn = sum(c.volume_ml for c in preparation.components)
            injections = [i for i in session.injections if i.preparation_id == preparation.id]
            rows |= {(session.id, i.id) for i in injections} or {(session.id, None)}
            if session.voided_at is None:
                patients.add(session.course.patient_id)
                sessions.add(session.id)
                units += sum(c.units for c in mine)
                lot_ml += sum(i.volume_ml * c.volume_ml / drawn for i in injections for c in mine)
    return rows, (len(patients), len(sessions), lot_ml.quantize(Decimal("0.01")), units)


def test_trace_completeness_alone_in_two_and_three_lot_cocktails_voided_and_across_patients(
    course, stock, staff, vitamin_product
) -> None:
    peptide, _ = inventory.receive_lot(inventory.Receipt(
        product=vitamin_product, lot_number="L-PEPTIDE", expiry_date=TODAY + timedelta(days=100), quantity=4,
        supplier="MedAesthetic Supplies", received_on=TODAY, location=stock["ha"].receipts[0].storage_location,
    ), staff["nurse"])
    db.session.commit()
    three = [treatments.PreparationInput("Triple", [
        treatments.ComponentInput(stock["vitamins"].id, Decimal("2")), treatments.ComponentInput(stock["ha"].id,
                                                                                                Decimal("1")),
        treatments.ComponentInput(peptide.id, Decimal("1"))])]
    alone = [treatments.PreparationInput("HA", [treatments.ComponentInput(stock["ha"].id, Decimal("2"))])]
    vitamins_only = [treatments.PreparationInput("Vit", [treatments.ComponentInput(stock["vitamins"].id,
                                                                                   Decimal("3"))])]
    one_area = [treatments.InjectionInput("cheeks", 0, depth_mm=Decimal("1"), volume_ml=Decimal("1.7"), points=40)]
    save(course, stock, staff["doctor"], preparations=three, injections=one_area)  # three-lot cocktail
    plans = [("Alone", alone, one_area, False), ("Pair", None, None, False), ("Voided", None, None, True),
             ("Vitamins", vitamins_only, one_area, False), ("Pair2", None, None, False)]
    for first, preparations, injections, voided in plans:
        other_course = ready_course(staff, first, "Traced", starts_on=course.starts_on)
        made = save(other_course, stock, staff["doctor"], preparations=preparations, injections=injections,
                    acknowledged=["first_time_no_patch_test"])
        if voided:
            treatments.void_session(made, staff["doctor"], "entered on the wrong chart")
            db.session.commit()

    expected_rows, expected_totals = _independent_trace(stock["ha"])
    page = services.trace_lot([stock["ha"]])
    assert {(r.session_id, r.injection_id) for r in page.rows} == expected_rows
    assert len(page.rows) == len(expected_rows) == 1 + 1 + 2 + 2 + 2
    totals = page.totals
    assert (totals.patients, totals.sessions, totals.lot_ml, totals.units_used) == expected_totals
    assert expected_totals[:2] == (4, 4) and totals.units_received == 10
    assert sum(r.session_voided for r in page.rows) == 2
    assert "Vitamins Traced" not in {r.patient_name for r in page.rows}
    # The same totals on every page, and from the plain aggregate used past the last row.
    for size in (1, 3):
        assert services.trace_lot([stock["ha"]], page_size=size).totals == totals
    assert services._totals([stock["ha"]]) == totals
    peptide_page = services.trace_lot([peptide])
    assert {r.patient_id for r in peptide_page.rows} == {course.patient_id}
    assert peptide_page.totals.units_used == 1


def test_an_unknown_lot_answers_no_such_lot_with_close_matches(stock) -> None:
    with pytest.raises(services.NoSuchLot) as missing:
        services.find_lots("L-VITAMIN")
    assert missing.value.close == ["L-VITAMINS"]


def test_a_lot_is_found_by_number_in_any_case_or_from_a_scan(auditor_client, stock) -> None:
    assert services.find_lots("l-ha") == [stock["ha"]]
    stock["ha"].product.gtin = "09506000134352"  # GS1's example GTIN
    db.session.commit()
    assert services.read_scan("(01)09506000134352(17)271231(10)L-HA") == ("L-HA", "09506000134352")
    page = auditor_client.get("/trace?lot=L-VITAMINS&scan=(01)09506000134352(17)271231(10)L-HA")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="L-HA"' in text and 'value="L-VITAMINS"' not in text


def test_a_lot_number_under_another_gtin_says_which_product_holds_it(auditor_client, stock) -> None:
    stock["ha"].product.gtin = "09506000134352"
    db.session.commit()
    with pytest.raises(FieldError, match=r"Lot L-HA is on record for HydraVeil HA 1.5% \(GTIN 09506000134352\), "
                                         r"not for GTIN 04006381333931"):
        services.find_lots("L-HA", "04006381333931")
    page = auditor_client.get("/trace?scan=(01)04006381333931(10)L-HA")
    assert page.status_code == 400 and "is on record for HydraVeil" in page.get_data(as_text=True)


def _more_patients_received_the_lot(course, stock, staff, count: int = 3) -> None:
    for number in range(count):
        other_course = ready_course(staff, f"Trace{number}", f"Patient{'ZYX'[number % 3]}", starts_on=course.starts_on)
        save(other_course, stock, staff["doctor"], when=NOW - timedelta(seconds=number + 1),
             acknowledged=["first_time_no_patch_test"])


def _all_pages(lots, page_size: int, order: str = "date") -> tuple[list[services.TraceRow], int]:
    rows, cursor, pages = [], None, 0
    while True:
        page = services.trace_lot(lots, cursor=cursor, page_size=page_size, order=order)
        rows.extend(page.rows)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return rows, pages


def test_pages_are_keyset_and_the_query_count_stays_fixed(app, staff, stock, course, count_queries) -> None:
    def queries(page_size: int) -> tuple[int, int]:
        with count_queries() as counted:
            rows, pages = _all_pages([stock["ha"]], page_size)
        return len(rows), len(counted) // pages

    save(course, stock, staff["doctor"])
    few_rows, per_page_few = queries(500)
    _more_patients_received_the_lot(course, stock, staff)
    many_rows, per_page_many = queries(500)
    assert (few_rows, many_rows) == (2, 8)
    assert per_page_few == per_page_many
    paged_rows, _ = queries(3)
    assert paged_rows == 8


@pytest.mark.parametrize("order", list(services.ORDERS))
def test_every_sort_order_pages_through_every_row_once_in_order(staff, stock, course, order) -> None:
    save(course, stock, staff["doctor"])
    _more_patients_received_the_lot(course, stock, staff)
    everything = services.trace_lot([stock["ha"]], everything=True, order=order).rows
    paged, pages = _all_pages([stock["ha"]], 3, order)
    assert pages == 3
    assert [(r.session_id, r.injection_id) for r in paged] == [(r.session_id, r.injection_id) for r in everything]
    assert len({(r.session_id, r.injection_id) for r in paged}) == 8
    keys = {
        "date": lambda r: r.performed_at, "-date": lambda r: r.performed_at,
        "patient": lambda r: r.patient_name.split()[-1], "doctor": lambda r: r.doctor,
    }
    values = [keys[order](r) for r in paged]
    assert values == sorted(values, reverse=order == "-date")


def test_the_page_sorts_by_a_column_heading(auditor_client, staff, stock, course) -> None:
    save(course, stock, staff["doctor"])
    _more_patients_received_the_lot(course, stock, staff)
    page = auditor_client.get("/trace?lot=L-HA&sort=patient").get_data(as_text=True)
    assert "Sorted by patient." in page
    names = [line.split(">")[1].split("<")[0] for line in page.split('<td><a href="/patients/')[1:]]
    assert [n.split()[-1] for n in names] == sorted(n.split()[-1] for n in names)
    assert 'aria-sort="ascending"' in page and "sort=date" in page
    csv_link = next(h for h in re.findall(r'href="(/trace[^"]*)"', page) if "format=csv" in h)
    assert "sort=patient" in csv_link
    newest_first = auditor_client.get("/trace?lot=L-HA").get_data(as_text=True)
    assert "sort=-date" in newest_first
    assert auditor_client.get("/trace?lot=L-HA&sort=nonsense&after=garbage").status_code == 200


def test_the_trace_page_csv_and_json_are_audited_and_neutralised(auditor_client, course, stock, staff, patient) -> None:
    patient.first_name = "=HYPERLINK(1)"
    db.session.commit()
    save(course, stock, staff["doctor"])
    page = auditor_client.get("/trace?lot=L-HA")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Cheeks" in text and "in a cocktail" in text
    assert audit_rows("trace")[-1].reason == "trace of lot L-HA"
    asked = auditor_client.get("/trace?lot=L-HA&format=csv")
    assert asked.status_code == 200 and "Confirm the export" in asked.get_data(as_text=True)
    assert "Durand" not in asked.get_data(as_text=True)
    wrong = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": "not my password"})
    assert wrong.status_code == 400 and "did not match" in wrong.get_data(as_text=True)
    assert audit_rows("reauth_failed")[-1].reason == "export: the trace of lot L-HA as CSV"
    exported = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": PASSWORDS["auditor"]})
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[1][6] == "'=HYPERLINK(1) Durand"
    assert audit_rows("export")[-1].reason == "trace of lot L-HA as csv"
    body = json.loads(auditor_client.submit("/trace?lot=L-HA&format=json", {"password": PASSWORDS["auditor"]})
                      .get_data(as_text=True))
    assert body["totals"]["patients"] == 1 and len(body["rows"]) == 2
    assert isinstance(body["totals"]["lot_ml"], float), "totals are numbers, not strings"


def test_an_unknown_lot_on_the_page_is_a_404_with_suggestions(nurse_client, stock) -> None:
    response = nurse_client.get("/trace?lot=L-H")
    assert response.status_code == 404
    assert "No such lot" in response.get_data(as_text=True)


def test_admins_cannot_trace(admin_client, stock) -> None:
    assert admin_client.get("/trace?lot=L-HA").status_code == 403


def test_the_reverse_trace_lists_every_lot_a_patient_received(nurse_client, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    received = lots_received_by(course.patient)
    assert sorted(r.lot_number for r in received) == ["L-HA", "L-VITAMINS"]
    page = nurse_client.get(f"/patients/{course.patient_id}/lots").get_data(as_text=True)
    assert "L-HA" in page and "L-VITAMINS" in page
    assert "Confirm the export" in nurse_client.get(f"/patients/{course.patient_id}/lots?format=csv").get_data(
        as_text=True)
    exported = nurse_client.submit(f"/patients/{course.patient_id}/lots?format=csv", {"password": PASSWORDS["nurse"]})
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert sorted(row[5] for row in rows[1:]) == ["L-HA", "L-VITAMINS"]
    assert audit_rows("export")[-1].reason == "lots received as csv"


def test_the_cli_traces_as_table_csv_and_json(app, runner, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    table = runner.invoke(args=["lots", "trace", "l-ha"])
    assert table.exit_code == 0 and "1 patients, 1 sessions, 1.60 ml" in table.output
    as_json = runner.invoke(args=["lots", "trace", "L-HA", "--format", "json"])
    assert json.loads(as_json.output)["totals"]["sessions"] == 1
    missing = runner.invoke(args=["lots", "trace", "NOPE"])
    assert missing.exit_code != 0 and "No such lot" in missing.output


def test_the_trace_query_uses_the_lot_index_on_postgresql(app, stock) -> None:
    if not ON_POSTGRES:
        pytest.skip("EXPLAIN plans are checked on PostgreSQL")
    statement = services.page_statement([stock["ha"].id], services.ORDERS["date"])
    compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
    with own_transaction() as conn:
        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_preparation_component_lot_id" in plan


def test_five_wrong_passwords_at_an_export_sign_the_user_out(auditor_client, stock, staff) -> None:
    for attempt in range(5):
        answer = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": f"guess {attempt}"})
        assert answer.status_code == 400
    assert "you have been signed out" in answer.get_data(as_text=True)
    assert auditor_client.get("/trace?lot=L-HA").status_code == 302  # back to sign-in
    assert audit_rows("logout")[-1].reason == "too many wrong passwords"
    assert "Durand" not in " ".join(e.reason or "" for e in audit_rows("reauth_failed"))
    auditor_client.sign_in(staff["auditor"].email, PASSWORDS["auditor"])
    once_more = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": "one slip"})
    assert "did not match" in once_more.get_data(as_text=True)  # a fresh sign-in starts the count again


def test_rows_that_share_a_session_and_injection_page_without_loss(course, stock, staff, vitamin_product) -> None:
    # The same lot number under two products, both in one cocktail: each injection gives two rows.
    twin, _ = inventory.receive_lot(inventory.Receipt(
        product=vitamin_product, lot_number="L-HA", expiry_date=TODAY + timedelta(days=100), quantity=4,
        supplier="MedAesthetic Supplies", received_on=TODAY, location=stock["ha"].receipts[0].storage_location,
    ), staff["nurse"])
    db.session.commit()
    cocktail = [treatments.PreparationInput("Twins", [treatments.ComponentInput(stock["ha"].id, Decimal("2")),
                                                      treatments.ComponentInput(twin.id, Decimal("2"))])]
    save(course, stock, staff["doctor"], preparations=cocktail)
    lots = services.find_lots("L-HA")
    assert len(lots) == 2
    for order in services.ORDERS:
        everything = services.trace_lot(lots, everything=True, order=order).rows
        paged, _ = _all_pages(lots, 1, order)
        assert len(everything) == 4
        assert sorted((r.session_id, r.injection_id, r.product) for r in paged) == sorted(
            (r.session_id, r.injection_id, r.product) for r in everything)


def test_a_tampered_cursor_shows_the_first_page(auditor_client, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    for values in (["not a date", 1, 1, 1], ["2026-01-01T00:00:00+00:00", "x", 1, 1], [1, 2], "nonsense"):
        after = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
        assert auditor_client.get(f"/trace?lot=L-HA&after={after}").status_code == 200
        assert auditor_client.get(f"/trace?lot=L-HA&sort=patient&after={after}").status_code == 200


def test_a_patient_sorted_cursor_carries_no_name(auditor_client, course, stock, staff) -> None:
    save(course, stock, staff["doctor"])
    page = services.trace_lot([stock["ha"]], page_size=1, order="patient")
    raw = base64.urlsafe_b64decode(page.next_cursor + "=" * (-len(page.next_cursor) % 4)).decode()
    assert "Durand" not in raw and "Amélie" not in raw
    second = services.trace_lot([stock["ha"]], page_size=1, order="patient", cursor=page.next_cursor)
    assert second.rows and second.rows[0].injection_id != page.rows[0].injection_id


def test_phone_numbers_in_a_csv_show_as_typed_without_a_quote(app, auditor_client, course, stock, staff) -> None:
    from clinic.core.exports import phone_cell

    assert phone_cell("+44 20 7946 0321") == "020 7946 0321"  # the clinic's own country (PHONE_REGION GB)
    assert phone_cell("+33 1 42 68 53 00") == "0033 1 42 68 53 00"
    assert phone_cell("") == "" and phone_cell(None) == ""
    course.patient.phone = "+44 20 7946 0321"
    save(course, stock, staff["doctor"])
    exported = auditor_client.submit("/trace?lot=L-HA&format=csv", {"password": PASSWORDS["auditor"]})
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[1][rows[0].index("phone")] == "020 7946 0321"
