"""The lot register: GS1 scans, receiving, derived stock, usability, discards, quarantine (issue 4)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.extensions import db
from clinic.inventory import services
from clinic.inventory.gs1 import LabelError, normalise_gtin, parse_label
from clinic.inventory.models import Ingredient, Lot, LotReceipt, Product, StorageLocation
from tests.conftest import audit_rows

GTIN = "09506000134352"  # GS1's own example GTIN (valid check digit)
TODAY = date(2026, 11, 22)


# --- GS1 labels as scanners type them ------------------------------------------------

LABELS = [
    # (what the scanner typed, gtin, lot, expiry, serial)
    ("0109506000134352172612311012345", GTIN, "12345", date(2026, 12, 31), None),
    ("]d20109506000134352172612311012345", GTIN, "12345", date(2026, 12, 31), None),
    ("]C10109506000134352172612311012345", GTIN, "12345", date(2026, 12, 31), None),
    ("010950600013435210AB-77\x1d17270630", GTIN, "AB-77", date(2027, 6, 30), None),
    ("]d2010950600013435210AB-77\x1d2199887\x1d17270630", GTIN, "AB-77", date(2027, 6, 30), "99887"),
    ("01095060001343521727063010AB-77<GS>21SN-001", GTIN, "AB-77", date(2027, 6, 30), "SN-001"),
    ("(01)09506000134352(17)270630(10)AB-77(21)SN-001", GTIN, "AB-77", date(2027, 6, 30), "SN-001"),
    ("(01) 09506000134352 (17) 270630 (10) AB-77", GTIN, "AB-77", date(2027, 6, 30), None),
    ("  0109506000134352172701001012345\n", GTIN, "12345", date(2027, 1, 31), None),  # day 00: month end
    ("09506000134352", GTIN, None, None, None),  # a plain product barcode
    ("9506000134352", GTIN, None, None, None),  # the same as GTIN-13
]


@pytest.mark.parametrize(("typed", "gtin", "lot", "expiry", "serial"), LABELS)
def test_a_scanned_label_gives_product_lot_expiry_and_serial(typed, gtin, lot, expiry, serial) -> None:
    label = parse_label(typed)
    assert (label.gtin, label.lot_number, label.expiry_date, label.serial) == (gtin, lot, expiry, serial)


@pytest.mark.parametrize(("typed", "message"), [
    ("0109506000134353172612311012345", "check digit"),
    ("(01)09506000134353(17)261231(10)X", "check digit"),
    ("01095060001343521726133110ABC", "date that does not exist"),
    ("0109506000134352172602301012345", "date that does not exist"),  # 30 February
    ("10ABC123\x1d17261231", "no product code"),
    ("(17)261231(10)X", "no product code"),
    ("hello world", "could not be read"),
    ("   ", "empty"),
])
def test_a_bad_scan_is_refused_with_a_clear_reason(typed, message) -> None:
    with pytest.raises(LabelError, match=message):
        parse_label(typed)


def test_gtins_are_stored_as_14_digits_with_a_checked_check_digit() -> None:
    assert normalise_gtin("9506000134352") == GTIN
    with pytest.raises(LabelError, match="check digit"):
        normalise_gtin("9506000134353")
    with pytest.raises(LabelError):
        normalise_gtin("12345")


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def product(app) -> Product:
    ha = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Non-cross-linked hyaluronic acid"))
    made = services.create_product(services.ProductDetails(
        name="HydraVeil HA 1.5%", manufacturer="Lumea Dermaceutics", kind="hyaluronic_acid",
        unit="vial", volume_ml=Decimal("3"), gtin=GTIN, ingredient_ids=[ha.id],
    ))
    db.session.commit()
    return made


@pytest.fixture
def fridge(app) -> StorageLocation:
    location = services.create_location("Fridge 1", "fridge")
    db.session.commit()
    return location


def _receive(product, fridge, user, *, lot="L-100", expiry=date(2027, 5, 31), quantity=10,
             received_on=TODAY) -> Lot:
    lot_row, _ = services.receive_lot(services.Receipt(
        product=product, lot_number=lot, expiry_date=expiry, quantity=quantity,
        supplier="MedAesthetic Supplies", received_on=received_on, location=fridge,
    ), user, today=TODAY)
    db.session.commit()
    return lot_row


# --- receiving and derived stock ---------------------------------------------------------------


def test_receiving_the_same_lot_again_adds_to_it(product, fridge, staff) -> None:
    first = _receive(product, fridge, staff["nurse"], quantity=10)
    second = _receive(product, fridge, staff["nurse"], quantity=5)
    assert first.id == second.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 1
    assert services.lot_stock(first).received == 15


def test_stock_is_received_minus_discarded(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], quantity=10)
    services.record_discard(lot, 3, "broken", "", TODAY, staff["nurse"], today=TODAY)
    db.session.commit()
    stock = services.lot_stock(lot)
    assert (stock.received, stock.discarded, stock.on_hand) == (10, 3, 7)


def test_a_voided_receipt_no_longer_counts(product, fridge, staff) -> None:
    from clinic.core.services import void_record

    lot = _receive(product, fridge, staff["nurse"], quantity=10)
    _receive(product, fridge, staff["nurse"], quantity=4)
    receipt = db.session.scalars(sa.select(LotReceipt).order_by(LotReceipt.id.desc())).first()
    void_record(receipt, staff["nurse"], "typed 4 instead of 0")
    db.session.commit()
    assert services.lot_stock(lot).on_hand == 10


def test_the_same_lot_with_another_expiry_is_refused(product, fridge, staff) -> None:
    _receive(product, fridge, staff["nurse"])
    with pytest.raises(services.FieldError, match="on record with expiry") as error:
        _receive(product, fridge, staff["nurse"], expiry=date(2027, 6, 30))
    assert error.value.field == "expiry_date"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"quantity": 0}, "quantity", "above 0"),
    ({"quantity": -5}, "quantity", "above 0"),
    ({"expiry": date(2026, 11, 1)}, "expiry_date", "before it was received"),
    ({"lot": "L-1\x07"}, "lot_number", "control characters"),
    ({"lot": "L" * 21}, "lot_number", "at most 20"),
    ({"lot": "  "}, "lot_number", "Enter the lot number"),
    ({"received_on": TODAY + timedelta(days=1)}, "received_on", "future"),
])
def test_bad_receipts_are_refused_and_write_nothing(product, fridge, staff, changes, field, message) -> None:
    with pytest.raises(services.FieldError, match=message) as error:
        _receive(product, fridge, staff["nurse"], **changes)
    assert error.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LotReceipt)) == 0


def test_a_lot_expiring_on_the_day_it_arrives_can_be_received(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], expiry=TODAY)
    assert lot.expiry_date == TODAY


def test_a_retired_product_cannot_be_received(product, fridge, staff) -> None:
    services.set_product_retired(product, True)
    with pytest.raises(services.FieldError, match="retired"):
        _receive(product, fridge, staff["nurse"])


def test_a_discard_cannot_exceed_what_is_on_hand(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], quantity=2)
    with pytest.raises(services.FieldError, match="Only 2 units"):
        services.record_discard(lot, 3, "expired", "", TODAY, staff["nurse"], today=TODAY)
    with pytest.raises(services.FieldError, match="other"):
        services.record_discard(lot, 1, "other", "", TODAY, staff["nurse"], today=TODAY)


# --- usability on the day before, of and after expiry -------------------------------------------


def test_a_lot_is_usable_through_its_expiry_date_and_not_after(product, fridge, staff) -> None:
    expiry = date(2027, 5, 31)
    lot = _receive(product, fridge, staff["nurse"], expiry=expiry)
    assert services.check_lot_usable(lot, expiry - timedelta(days=1)).usable
    assert services.check_lot_usable(lot, expiry).usable
    after = services.check_lot_usable(lot, expiry + timedelta(days=1))
    assert not after.usable
    assert [r.message for r in after.reasons] == ["Lot L-100 expired on 31 May 2027."]


def test_a_quarantined_lot_is_not_usable_until_released(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"])
    services.quarantine_lot(lot, staff["auditor"], "cloudy solution")
    db.session.commit()
    result = services.check_lot_usable(lot, TODAY)
    assert not result.usable and "quarantined: cloudy solution" in result.reasons[0].message
    with pytest.raises(services.ClinicError, match="already quarantined"):
        services.quarantine_lot(lot, staff["auditor"], "again")
    services.release_lot(lot, staff["admin"], "manufacturer confirmed it is within specification")
    db.session.commit()
    assert services.check_lot_usable(lot, TODAY).usable
    with pytest.raises(services.ClinicError, match="not quarantined"):
        services.release_lot(lot, staff["admin"], "again")


def test_every_reason_is_listed_when_several_apply(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], quantity=1, expiry=date(2026, 12, 1))
    services.record_discard(lot, 1, "broken", "", TODAY, staff["nurse"], today=TODAY)
    services.quarantine_lot(lot, staff["auditor"], "fridge alarm")
    lot.recalled_at = services.utcnow()
    db.session.commit()
    result = services.check_lot_usable(lot, date(2026, 12, 2))
    assert len(result.reasons) == 4
    assert services.lot_statuses(lot, date(2026, 12, 2), 0) == ["recalled", "quarantined", "expired", "depleted"]


def test_a_recalled_lot_cannot_be_quarantined_or_received_again(product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"])
    lot.recalled_at = services.utcnow()
    db.session.commit()
    with pytest.raises(services.ClinicError, match="recall"):
        services.quarantine_lot(lot, staff["auditor"], "x")
    with pytest.raises(services.FieldError, match="recalled"):
        _receive(product, fridge, staff["nurse"])


# --- catalogue --------------------------------------------------------------------------------


def test_a_product_gtin_with_a_wrong_check_digit_is_refused(app) -> None:
    with pytest.raises(services.FieldError, match="check digit") as error:
        services.create_product(services.ProductDetails(
            name="X", manufacturer="Y", kind="other", unit="vial", volume_ml=Decimal("1"),
            gtin="9506000134353",
        ))
    assert error.value.field == "gtin"


def test_two_products_cannot_share_a_gtin(product) -> None:
    with pytest.raises(services.FieldError, match="already belongs"):
        services.create_product(services.ProductDetails(
            name="Copy", manufacturer="Y", kind="other", unit="vial", volume_ml=Decimal("1"), gtin=GTIN,
        ))


def test_the_default_ingredient_catalogue_holds_design_families(app) -> None:
    names = set(db.session.scalars(sa.select(Ingredient.name)))
    for expected in ("Non-cross-linked hyaluronic acid", "Vitamin C", "Biotin", "Glutathione",
                     "Polynucleotides (PDRN)", "Minoxidil", "Phosphatidylcholine", "Deoxycholate"):
        assert expected in names


def test_changing_a_products_ingredients_is_audited(product) -> None:
    vitamin_c = db.session.scalar(sa.select(Ingredient).where(Ingredient.name == "Vitamin C"))
    details = services.ProductDetails(
        name=product.name, manufacturer=product.manufacturer, kind=product.kind, unit=product.unit,
        volume_ml=product.volume_ml, gtin=product.gtin, ingredient_ids=[vitamin_c.id],
    )
    services.update_product(product, details)
    db.session.commit()
    actions = [(r.action, r.record_type) for r in audit_rows()][-3:]
    assert ("create", "product_ingredient") in actions
    assert ("delete", "product_ingredient") in actions


# --- pages --------------------------------------------------------------------------------------


def _form(product, fridge, **overrides):
    data = {
        "action": "receive", "scan": "", "product_id": str(product.id), "lot_number": "L-7",
        "lot_number_again": "L-7", "expiry_date": "2027-05-31", "quantity": "6",
        "supplier": "MedAesthetic Supplies", "received_on": date.today().isoformat(),
        "storage_location_id": str(fridge.id),
    }
    data.update(overrides)
    return data


def test_a_nurse_receives_a_lot_by_typing_it_twice(nurse_client, product, fridge) -> None:
    response = nurse_client.submit("/inventory/receive", _form(product, fridge))
    assert response.status_code == 302
    db.session.expire_all()
    lot = db.session.scalar(sa.select(Lot))
    assert lot.lot_number == "L-7" and services.lot_stock(lot).on_hand == 6
    page = nurse_client.get(response.location).get_data(as_text=True)
    assert "L-7" in page and "31 May 2027" in page


def test_lot_numbers_typed_differently_are_refused_and_the_input_kept(nurse_client, product, fridge) -> None:
    response = nurse_client.submit("/inventory/receive", _form(product, fridge, lot_number_again="L-1"))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The two lot numbers differ" in page
    assert 'value="MedAesthetic Supplies"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 0


def test_reading_a_scan_fills_the_form_without_saving(nurse_client, product, fridge) -> None:
    scan = f"(01){GTIN}(17)270531(10)SCAN-1(21)S-9"
    response = nurse_client.submit("/inventory/receive", {"action": "read_scan", "scan": scan})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'value="SCAN-1"' in page and 'value="2027-05-31"' in page
    assert f'<option selected value="{product.id}">' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 0


def test_receiving_from_a_scan_needs_no_second_typing(nurse_client, product, fridge) -> None:
    scan = f"]d201{GTIN}17270531\x1d10SCAN-2"
    form = _form(product, fridge, scan=scan, lot_number="", lot_number_again="", expiry_date="")
    response = nurse_client.submit("/inventory/receive", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    lot = db.session.scalar(sa.select(Lot))
    assert (lot.lot_number, lot.expiry_date) == ("SCAN-2", date(2027, 5, 31))
    assert lot.receipts[0].scanned_text == scan


@pytest.mark.parametrize(("scan", "message"), [
    ("0109506000134353172612311012345", "wrong check digit"),
    ("10ABC\x1d17261231", "no product code"),
    ("0104001234567891172612311012345", "No product in the catalogue has GTIN"),
])
def test_a_bad_scan_is_refused_next_to_the_field_with_the_text_kept(nurse_client, product, fridge,
                                                                     scan, message) -> None:
    response = nurse_client.submit("/inventory/receive", _form(product, fridge, scan=scan))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page
    assert 'id="scan-error"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 0


def test_an_unknown_gtin_offers_an_admin_to_create_the_product(admin_client, product, fridge) -> None:
    response = admin_client.submit("/inventory/receive",
                                   {"action": "read_scan", "scan": "0104001234567891"})
    page = response.get_data(as_text=True)
    assert "/inventory/products/new?gtin=04001234567891" in page


@pytest.mark.parametrize(("overrides", "message"), [
    ({"quantity": "0"}, "above 0"),
    ({"quantity": "-3"}, "above 0"),
    ({"quantity": "many"}, "Not a valid integer"),
    ({"expiry_date": "2020-01-01"}, "before it was received"),
    ({"expiry_date": "2027-02-30"}, "Not a valid date"),
    ({"lot_number": "L\x01X", "lot_number_again": "L\x01X"}, "control characters"),
    ({"storage_location_id": ""}, "Choose where the units are kept"),
    ({"product_id": ""}, "Choose the product"),
])
def test_bad_receiving_input_gets_a_message_and_writes_nothing(nurse_client, product, fridge,
                                                               overrides, message) -> None:
    response = nurse_client.submit("/inventory/receive", _form(product, fridge, **overrides))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 0


def test_stock_exports_neutralise_formula_cells_and_are_audited(auditor_client, product, fridge, staff) -> None:
    _receive(product, fridge, staff["nurse"], lot="=HYPERLINK(1)")
    response = auditor_client.get("/inventory/stock?format=csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:4] == ["product", "manufacturer", "gtin", "lot"]
    assert rows[1][3] == "'=HYPERLINK(1)"
    assert audit_rows("export")[-1].record_type == "stock"


def test_expiring_and_quarantined_pages_list_the_right_lots(auditor_client, product, fridge, staff) -> None:
    soon = _receive(product, fridge, staff["nurse"], lot="SOON", expiry=date.today() + timedelta(days=20),
                    received_on=min(TODAY, date.today()))
    _receive(product, fridge, staff["nurse"], lot="LATER", expiry=date.today() + timedelta(days=80),
             received_on=min(TODAY, date.today()))
    page30 = auditor_client.get("/inventory/expiring?days=30").get_data(as_text=True)
    assert "SOON" in page30 and "LATER" not in page30
    assert "LATER" in auditor_client.get("/inventory/expiring?days=90").get_data(as_text=True)
    assert auditor_client.get("/inventory/expiring?days=45").status_code == 400
    services.quarantine_lot(soon, staff["auditor"], "fridge alarm")
    db.session.commit()
    held = auditor_client.get("/inventory/quarantined").get_data(as_text=True)
    assert "SOON" in held and "LATER" not in held


def test_an_auditor_quarantines_and_releases_from_the_lot_page(auditor_client, product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"])
    refused = auditor_client.submit(f"/inventory/lots/{lot.id}/quarantine", {"reason": ""})
    assert refused.status_code == 400
    done = auditor_client.submit(f"/inventory/lots/{lot.id}/quarantine", {"reason": "fridge alarm at 03:00"})
    assert done.status_code == 302
    db.session.expire_all()
    assert lot.open_hold.reason == "fridge alarm at 03:00"
    auditor_client.submit(f"/inventory/lots/{lot.id}/release", {"reason": "logger shows 2-8 °C throughout"})
    db.session.expire_all()
    assert lot.open_hold is None


def test_a_nurse_records_a_discard_and_a_wrong_quantity_is_refused(nurse_client, product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], quantity=3)
    too_many = nurse_client.submit(f"/inventory/lots/{lot.id}/discard",
                                   {"quantity": "4", "reason": "broken", "discarded_on": date.today().isoformat()})
    assert too_many.status_code == 400 and "Only 3 units" in too_many.get_data(as_text=True)
    ok = nurse_client.submit(f"/inventory/lots/{lot.id}/discard",
                             {"quantity": "1", "reason": "broken", "discarded_on": date.today().isoformat()})
    assert ok.status_code == 302
    assert services.lot_stock(lot).on_hand == 2


def test_an_admin_adds_a_product_and_a_bad_gtin_keeps_the_form(admin_client) -> None:
    data = {"name": "Lipocell PC/DC", "manufacturer": "Adipra Pharma", "kind": "lipolytic", "unit": "ampoule",
            "volume_ml": "5", "gtin": "9506000134353", "storage_conditions": "Room temperature"}
    bad = admin_client.submit("/inventory/products/new", data)
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert "check digit" in page and 'value="Lipocell PC/DC"' in page
    good = admin_client.submit("/inventory/products/new", {**data, "gtin": "9506000134352"})
    assert good.status_code == 302
    assert db.session.scalar(sa.select(Product.gtin)) == GTIN


def test_the_product_page_lists_its_lots_with_their_status(auditor_client, product, fridge, staff) -> None:
    _receive(product, fridge, staff["nurse"], lot="L-PAGE")
    response = auditor_client.get(f"/inventory/products/{product.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "L-PAGE" in page and "available" in page.lower()


def test_a_typed_lot_that_contradicts_the_scan_is_refused(nurse_client, product, fridge) -> None:
    scan = f"(01){GTIN}(17)270531(10)SCAN-3"
    form = _form(product, fridge, scan=scan, lot_number="OTHER-1", lot_number_again="OTHER-1", expiry_date="")
    response = nurse_client.submit("/inventory/receive", form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "differs from the scanned label" in page and 'value="OTHER-1"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Lot)) == 0


def test_a_label_without_a_lot_needs_the_lot_typed_twice(nurse_client, product, fridge) -> None:
    scan = f"(01){GTIN}(17)270531"
    once = nurse_client.submit("/inventory/receive", _form(product, fridge, scan=scan, lot_number_again="",
                                                          expiry_date=""))
    assert once.status_code == 400 and "The two lot numbers differ" in once.get_data(as_text=True)
    twice = nurse_client.submit("/inventory/receive", _form(product, fridge, scan=scan, expiry_date=""))
    assert twice.status_code == 302


def test_enter_in_the_form_without_a_scan_receives_as_typed(nurse_client, product, fridge) -> None:
    # A browser submits with the first button (Read scan) when Enter is pressed in any field.
    response = nurse_client.submit("/inventory/receive", _form(product, fridge, action="read_scan"))
    assert response.status_code == 302



def test_read_scan_with_nothing_scanned_or_typed_asks_for_the_scan_alone(nurse_client, product, fridge) -> None:
    response = nurse_client.submit("/inventory/receive", {"action": "read_scan", "scan": "", "quantity": "1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was scanned" in page
    assert "One thing to fix" in page  # not one message per empty field (found clicking through)


def test_a_discard_needs_a_reason_chosen_and_a_date_after_the_lot_arrived(nurse_client, product, fridge,
                                                                         staff) -> None:
    lot = _receive(product, fridge, staff["nurse"], quantity=3, received_on=TODAY - timedelta(days=2))
    no_reason = nurse_client.submit(f"/inventory/lots/{lot.id}/discard",
                                    {"quantity": "1", "reason": "", "discarded_on": TODAY.isoformat()})
    assert no_reason.status_code == 400 and "Choose why" in no_reason.get_data(as_text=True)
    too_early = nurse_client.submit(f"/inventory/lots/{lot.id}/discard", {
        "quantity": "1", "reason": "broken", "discarded_on": (TODAY - timedelta(days=3)).isoformat()})
    assert too_early.status_code == 400 and "first received on" in too_early.get_data(as_text=True)
    assert services.lot_stock(lot).on_hand == 3


def test_quarantining_a_recalled_lot_explains_why_on_the_lot_page(auditor_client, product, fridge, staff) -> None:
    lot = _receive(product, fridge, staff["nurse"])
    lot.recalled_at = services.utcnow()
    db.session.commit()
    response = auditor_client.submit(f"/inventory/lots/{lot.id}/quarantine", {"reason": "check"})
    assert response.status_code == 302
    page = auditor_client.get(response.location).get_data(as_text=True)
    assert "recall is final" in page
