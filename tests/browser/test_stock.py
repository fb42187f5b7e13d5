"""Receiving stock by scan, a refused scan, and a quarantine, in a real browser against gunicorn.

The live server is shared by the whole session, so every test works on a lot
number of its own and leaves the demo lots as they were.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from clinic.inventory.demo import DEMO_PRODUCTS
from tests.browser.test_sign_in import path_is, sign_in_as

pytestmark = pytest.mark.browser

LOCATION = "Fridge 1 — treatment room"  # a demo location (clinic/inventory/demo.py)
WRONG_CHECK_DIGIT = (
    "The product code (GTIN) in the scan has a wrong check digit: the label was misread "
    "or damaged. Scan it again."
)


def demo_product(name: str) -> tuple[str, str]:
    """A demo product's label in the Product list and its GTIN-14 as the app stores it.

    demo.py keeps a 13-character code; the GTIN-13 is its last 12 digits plus
    the GS1 check digit (weights 1, 3, 1, 3, ... from the left), stored as 14
    digits with a leading 0.
    """
    for product_name, maker, _kind, _unit, _volume, code, *_rest in DEMO_PRODUCTS:
        if product_name == name:
            first12 = code[1:]
            total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
            return f"{product_name} — {maker}", "0" + first12 + str((10 - total % 10) % 10)
    raise LookupError(name)


def unique_lot(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


def open_receive_page(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Stock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stock on hand")
    page.get_by_role("navigation", name="Stock").get_by_role("button", name="Receive stock").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Receive stock")


def facts_value(page: Page, term: str) -> Locator:
    """The <dd> that follows a <dt> in the page's facts list."""
    return page.locator("dl.facts dt", has_text=re.compile(f"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def test_nurse_receives_a_lot_by_pasting_a_scan(page: Page, screenshot_dir: Path) -> None:
    product = "Glutathione Bright"
    choice, gtin = demo_product(product)
    lot = unique_lot("BRW")
    expiry = date.today() + timedelta(days=365)
    scan = f"(01){gtin}(17){expiry:%y%m%d}(10){lot}"

    sign_in_as(page, "nurse")
    open_receive_page(page)

    scan_field = page.get_by_label("Scan the label")
    scan_field.fill(scan)
    scan_field.press("Enter")  # what a scanner sends; the first submit button is "Read scan"

    expect(page.get_by_text("(filled from the scan)")).to_be_visible()
    expect(page.get_by_label("Scan the label")).to_have_value(scan)
    expect(page.get_by_label("Product")).to_have_value(re.compile(r"^\d+$"))
    expect(page.get_by_label("Product").locator("option:checked")).to_have_text(choice)
    expect(page.get_by_label("Lot number", exact=True)).to_have_value(lot)
    expect(page.get_by_label("Expiry date")).to_have_value(expiry.isoformat())
    # From a scan the lot number is not typed, so it is not asked for twice.
    expect(page.get_by_label("Lot number again")).to_have_count(0)
    # The cursor waits in the first field the label cannot fill.
    expect(page.get_by_label("Units received")).to_be_focused()

    page.get_by_label("Units received").fill("6")
    page.get_by_label("Supplier").fill("MedAesthetic Supplies Ltd")
    page.get_by_label("Stored in").select_option(label=LOCATION)
    page.screenshot(path=str(screenshot_dir / "stock-receive-from-scan.png"), full_page=True)
    page.get_by_role("button", name="Receive", exact=True).click()

    expect(page).to_have_url(re.compile(r"/inventory/lots/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Lot {lot}")
    expect(page.get_by_role("status")).to_contain_text(
        f"Received 6 × {product}, lot {lot} (expires {expiry:%d %b %Y}), into {LOCATION}."
    )
    expect(facts_value(page, "Expiry")).to_have_text(expiry.strftime("%d %b %Y"))
    expect(facts_value(page, "GTIN")).to_have_text(gtin)
    expect(facts_value(page, "On hand")).to_have_text("6 vials")
    receipt = page.get_by_role("row").filter(has_text="MedAesthetic Supplies Ltd")
    expect(receipt.get_by_role("cell")).to_have_text(
        [f"{date.today():%d %b %Y}", "6", "MedAesthetic Supplies Ltd", LOCATION, "Sam Okafor"]
    )

    page.get_by_role("navigation", name="Stock").get_by_role("link", name="Stock on hand").click()
    expect(page).to_have_url(path_is("/inventory/stock"))
    row = page.get_by_role("row").filter(has_text=lot)
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell")).to_have_text(
        [product, lot, expiry.strftime("%d %b %Y"), "available", "6", "0", "0", "6 vials"]
    )


def test_a_scan_with_a_wrong_check_digit_is_refused_and_kept(page: Page) -> None:
    _choice, gtin = demo_product("HydraVeil HA 1.5%")
    wrong_gtin = gtin[:-1] + str((int(gtin[-1]) + 1) % 10)
    lot = unique_lot("BAD")
    expiry = date.today() + timedelta(days=300)
    scan = f"(01){wrong_gtin}(17){expiry:%y%m%d}(10){lot}"

    sign_in_as(page, "nurse")
    open_receive_page(page)
    page.get_by_label("Scan the label").fill(scan)
    page.get_by_label("Scan the label").press("Enter")

    expect(page.get_by_role("heading", level=1)).to_have_text("Receive stock")
    scan_field = page.get_by_label("Scan the label")
    expect(scan_field).to_have_value(scan)
    expect(scan_field).to_have_attribute("aria-invalid", "true")
    # The message sits right under the scan field and is tied to it.
    error = page.locator("#scan-error")
    expect(error).to_have_text(WRONG_CHECK_DIGIT)
    expect(scan_field).to_have_attribute("aria-describedby", re.compile(r"\bscan-error\b"))
    expect(page.get_by_label("Lot number", exact=True)).to_have_value("")
    expect(page.get_by_text("(filled from the scan)")).to_have_count(0)

    # Pressing Receive with the same bad scan is refused the same way, and writes nothing.
    page.get_by_label("Units received").fill("3")
    page.get_by_label("Supplier").fill("MedAesthetic Supplies Ltd")
    page.get_by_label("Stored in").select_option(label=LOCATION)
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.locator("#scan-error")).to_have_text(WRONG_CHECK_DIGIT)
    expect(page.get_by_label("Scan the label")).to_have_value(scan)
    expect(page.get_by_label("Units received")).to_have_value("3")

    page.goto(f"/inventory/stock?all=1&q={lot}")
    expect(page.get_by_role("cell", name="No lots match.")).to_be_visible()


def receive_by_hand(page: Page, choice: str, lot: str, expiry: date, units: int) -> None:
    """Receive a lot typed by hand: the lot number twice."""
    open_receive_page(page)
    page.get_by_label("Product").select_option(label=choice)
    page.get_by_label("Lot number", exact=True).fill(lot)
    page.get_by_label("Lot number again").fill(lot)
    page.get_by_label("Expiry date").fill(expiry.isoformat())
    page.get_by_label("Units received").fill(str(units))
    page.get_by_label("Supplier").fill("Dermavita Wholesale")
    page.get_by_label("Stored in").select_option(label=LOCATION)
    page.get_by_role("button", name="Receive", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Lot {lot}")


def test_auditor_quarantines_a_lot_and_releases_it(
    browser: Browser, live_server: str, page: Page, screenshot_dir: Path
) -> None:
    choice, _gtin = demo_product("PDRN Regen 2%")
    lot = unique_lot("QRN")
    expiry = date.today() + timedelta(days=240)

    # A nurse receives a lot of its own for this test, in a separate browser context.
    nurse_context = browser.new_context(base_url=live_server)
    nurse_context.set_default_timeout(10_000)
    try:
        nurse_page = nurse_context.new_page()
        sign_in_as(nurse_page, "nurse")
        receive_by_hand(nurse_page, choice, lot, expiry, 4)
        # Nurses may not quarantine: the lot page offers them no such form.
        expect(nurse_page.get_by_role("button", name="Quarantine this lot")).to_have_count(0)
        lot_path = re.sub(r"^https?://[^/]+", "", nurse_page.url)
    finally:
        nurse_context.close()

    sign_in_as(page, "auditor")
    page.goto(f"/inventory/stock?q={lot}")
    page.get_by_role("link", name=lot).click()
    expect(page).to_have_url(path_is(lot_path))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Lot {lot} available")

    reason = "Cold chain log shows 14 °C for three hours on delivery."
    # No reason, no quarantine.
    page.get_by_role("button", name="Quarantine this lot").click()
    expect(page.locator("#reason-error")).to_have_text("Give the reason.")
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Quarantine this lot").click()

    expect(page.get_by_role("status")).to_have_text(f"Lot {lot} quarantined.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Lot {lot} quarantined")
    expect(page.locator("#usability")).to_have_text(f"no: Lot {lot} is quarantined: {reason}")
    page.screenshot(path=str(screenshot_dir / "stock-lot-quarantined.png"), full_page=True)

    page.get_by_role("navigation", name="Stock").get_by_role("link", name="Quarantined").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Quarantined lots")
    row = page.get_by_role("row").filter(has_text=lot)
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(3)).to_have_text(f"quarantined {reason}")
    row.get_by_role("link", name=lot).click()

    page.get_by_label("Reason").fill("Manufacturer confirmed stability up to 25 °C for 48 hours.")
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_have_text(f"Lot {lot} released from quarantine.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Lot {lot} available")
    expect(page.locator("#usability")).to_have_text("yes")
    history = page.get_by_role("row").filter(has_text=reason)
    expect(history).to_contain_text("by Ines Varga: Manufacturer confirmed stability")

    page.get_by_role("navigation", name="Stock").get_by_role("link", name="Quarantined").click()
    expect(page.get_by_role("row").filter(has_text=lot)).to_have_count(0)
