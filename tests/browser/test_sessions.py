"""The doctor's session at the chair, in a real browser at tablet width.

A doctor opens a skin-rejuvenation course from the home page, logs the next
session on the zone diagram with a cocktail drawn from two lots, acknowledges
the gate's warnings, signs with her password (a wrong one first), prints the
aftercare sheet and its PDF, and amends a signed value. A second test draws up
less than it injects: the message sits beside the preparation, everything typed
is kept and nothing is saved.

The live server is shared by the whole session and its demo patients are made
by Faker, so the tests find their course through the doctor's home page, not by
a patient's name. The demo data (clinic/records/demo.py, clinic/records/treatments/demo.py)
gives skin rejuvenation to patients screened for cheeks, chin and forehead, and
some of their courses a session signed today; others are planned and due.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_sign_in import ACCOUNTS, path_is, sign_in_as

pytestmark = pytest.mark.browser

TABLET = {"width": 820, "height": 1180}  # an iPad Air in portrait, on the trolley beside the chair
INDICATION = "Skin rejuvenation (mesoglow, skin booster)"  # clinic/records/catalogue/defaults.py
# Two demo lots of different products, both in date and not on hold (clinic/inventory/demo.py).
HYALURONIC = ("HydraVeil HA 1.5%", "HV24A117")
VITAMINS = ("Vitalis Revive 55", "VR55-2502")
COCKTAIL = "Glow cocktail"
_EMAIL, DOCTOR_NAME, DOCTOR_PASSWORD = ACCOUNTS["doctor"]


# --- helpers -------------------------------------------------------------------------------------


def worklist_items(page: Page, heading: str) -> Locator:
    """The entries listed under one heading of the doctor's home page."""
    heading_element = page.locator("#doctor-worklist h2", has_text=heading)
    return heading_element.locator("xpath=following-sibling::*[1]").locator("li")


def facts_value(scope: Page | Locator, term: str, facts: str = "dl.facts") -> Locator:
    """The <dd> that follows a <dt> in a facts list (``facts``) inside ``scope``."""
    return scope.locator(f"{facts} > dt", has_text=re.compile(f"^{re.escape(term)}$")).locator(
        "xpath=following-sibling::dd[1]"
    )


def session_fields(page: Page) -> Locator:
    """The "Session" fieldset: its Technique is not the injection rows' Technique."""
    return page.get_by_role("group", name="Session", exact=True)


def zone(page: Page, area: str) -> Locator:
    """A zone of the clickable diagram (templates/treatments/_area_map.html)."""
    return page.locator(f"#area-map [data-area={area}]")


def area_values(page: Page) -> list[str]:
    selects = page.locator("#injection-rows select.area-select")
    return selects.evaluate_all("all => all.map(select => select.value)")


def choose_lot(page: Page, preparation: int, component: int, product: str, lot: str) -> None:
    """Pick a lot by its product and lot number; the rest of the label (stock left) changes."""
    select = page.locator(f"#preparations-{preparation}-components-{component}-lot_id")
    prefix = f"{product} — lot {lot},"
    value = select.locator("option", has_text=prefix).get_attribute("value")
    assert value, f"no lot {lot} of {product} offered"
    select.select_option(value)
    expect(select.locator("option:checked")).to_contain_text(prefix)


def draw_up(page: Page, first_ml: str, second_ml: str) -> None:
    """Preparation 1: a cocktail of one vial of each of two lots."""
    page.locator("#preparations-0-label").fill(COCKTAIL)
    # Named in each row's list as it is typed, not only once the form comes back.
    expect(page.locator("#injections-0-preparation option[value='0']")).to_have_text(f"1. {COCKTAIL}")
    choose_lot(page, 0, 0, *HYALURONIC)
    page.locator("#preparations-0-components-0-units").fill("1")
    page.locator("#preparations-0-components-0-volume_ml").fill(first_ml)
    choose_lot(page, 0, 1, *VITAMINS)
    page.locator("#preparations-0-components-1-units").fill("1")
    page.locator("#preparations-0-components-1-volume_ml").fill(second_ml)


def fill_injection(page: Page, row: int, depth: str, volume: str, points: str) -> None:
    page.locator(f"#injections-{row}-preparation").select_option("0")  # "1. <first preparation>"
    page.locator(f"#injections-{row}-depth_mm").fill(depth)
    page.locator(f"#injections-{row}-volume_ml").fill(volume)
    page.locator(f"#injections-{row}-points").fill(points)


def save_draft(page: Page) -> None:
    page.get_by_role("button", name="Check and save the draft").click()


def injection_cells(page: Page, area: str) -> Locator:
    """An injection's cells. On a tablet the table reads as cards, a cell named with its column ("Area: Cheeks")."""
    return page.locator("#injections").get_by_role("row").filter(
        has=page.get_by_role("cell", name=re.compile(rf"^(Area: )?{re.escape(area)}$"))
    ).get_by_role("cell")


# --- the session, from the home page to the amendment ---------------------------------------------


def test_doctor_logs_a_cocktail_session_on_the_diagram_signs_and_prints_aftercare(
    page: Page, screenshot_dir: Path
) -> None:
    page.set_viewport_size(TABLET)
    today = date.today()

    # --- 1. Home page: today's sessions and the drafts still to sign. ----------------------------
    sign_in_as(page, "doctor")
    worklist = page.locator("#doctor-worklist")
    expect(worklist.get_by_role("heading", level=2)).to_have_text(
        ["Today's sessions", "Your drafts not yet signed", "Courses with a session overdue"]
    )
    # A skin-rejuvenation session signed earlier today: its course gets session 2 now.
    signed_today = worklist_items(page, "Today's sessions").filter(has_text=INDICATION).filter(
        has=page.locator(".badge", has_text=re.compile("^signed$"))
    ).first
    expect(signed_today).to_be_visible()
    signed_today.get_by_role("link").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(r"^Session 1 of \d+\s+signed\s*$")
    )
    page.get_by_role("link", name=re.compile(f"^← {re.escape(INDICATION)}, ")).click()
    expect(page).to_have_url(re.compile(r"/courses/\d+$"))
    course_path = re.sub(r"^https?://[^/]+", "", page.url)
    patient_name = page.locator("hgroup p").inner_text().split(", record ")[0]
    planned = int(re.search(r"of (\d+)", facts_value(page, "Sessions").inner_text()).group(1))
    expect(facts_value(page, "Sessions")).to_contain_text(
        f"1 of {planned} done, at least 14 days apart"
    )

    # The patient's chart: eligible for the indication, the course one session in.
    page.get_by_role("link", name=f"← {patient_name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(patient_name)
    plan = page.locator("article.plan").filter(has_text=INDICATION)
    expect(plan.get_by_role("heading", level=3)).to_have_text(f"{INDICATION} eligible")
    course_row = page.locator("#courses").get_by_role("row").filter(has_text=INDICATION)
    expect(course_row.get_by_role("cell").nth(2)).to_have_text(f"1 of {planned}")
    expect(course_row.get_by_role("cell").nth(4)).to_have_text("Active")
    course_row.get_by_role("link", name=INDICATION).click()
    expect(page).to_have_url(path_is(course_path))
    page.get_by_role("button", name="Log session 2").click()  # a link styled as a button

    # --- 2. The session form. ---------------------------------------------------------------------
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    expect(page.locator("#area-map")).to_be_visible()  # shown by session-form.js
    performed = datetime.fromisoformat(page.locator("#performed_at").input_value())
    assert performed.date() == today

    # A second session starts from the first one's preparation, technique and needle.
    fields = session_fields(page)
    skin = fields.get_by_role("combobox", name="Skin preparation")
    technique = fields.get_by_role("combobox", name="Technique")
    gauge = fields.get_by_role("combobox", name="Needle gauge")
    length = fields.get_by_role("spinbutton", name="Needle length (mm)")
    expect(skin.locator("option:checked")).to_have_text("Chlorhexidine 0.5% in alcohol")
    expect(technique.locator("option:checked")).to_have_text("Nappage")
    expect(gauge.locator("option:checked")).to_have_text("32G")
    expect(length).to_have_value(re.compile(r"^4(\.0)?$"))

    draw_up(page, "1.5", "1.0")

    # One row per planned area comes pre-filled; today only cheeks and forehead are treated,
    # so the rows are cleared and the doctor taps the two zones on the diagram.
    expect(page.locator("#injection-rows .injection-row")).to_have_count(4)
    assert area_values(page) == ["forehead", "cheeks", "chin", ""]  # top of the face down
    expect(zone(page, "chin")).to_have_attribute("aria-pressed", "true")
    for row in range(3):
        page.locator(f"#injections-{row}-area_code").select_option("")
    expect(zone(page, "chin")).to_have_attribute("aria-pressed", "false")

    zone(page, "cheeks").click()
    expect(page.locator("#injections-0-area_code")).to_have_value("cheeks")
    expect(page.locator("#injections-0-volume_ml")).to_be_focused()  # ready for the volume
    expect(zone(page, "cheeks")).to_have_attribute("aria-pressed", "true")
    zone(page, "forehead").click()
    expect(page.locator("#injections-1-area_code")).to_have_value("forehead")
    expect(page.locator("#injections-1-volume_ml")).to_be_focused()
    # Tapping a zone again finds its row instead of adding a second one.
    zone(page, "cheeks").click()
    expect(page.locator("#injections-0-area_code")).to_be_focused()
    assert area_values(page) == ["cheeks", "forehead", "", ""]
    expect(page.locator("#injection-rows .injection-row")).to_have_count(4)

    fill_injection(page, 0, depth="1.5", volume="1.2", points="20")
    fill_injection(page, 1, depth="1.0", volume="0.8", points="15")
    page.screenshot(path=str(screenshot_dir / "session-form-tablet.png"), full_page=True)
    save_draft(page)

    # The gate asks for the warnings to be acknowledged: the course's interval is 14 days.
    warnings = page.locator("#gate-warnings")
    interval = re.compile(
        r"^The same day as the last session; the course's interval is 14 days\.$"
    )
    expect(warnings.get_by_role("checkbox", name=interval)).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    # Nothing typed was lost on the way back.
    assert area_values(page)[:2] == ["cheeks", "forehead"]
    expect(page.locator("#injections-0-volume_ml")).to_have_value("1.2")
    expect(page.locator("#preparations-0-components-1-volume_ml")).to_have_value("1.0")
    expect(page.locator("#preparations-0-components-1-lot_id option:checked")).to_contain_text(
        VITAMINS[1]
    )
    for box in warnings.get_by_role("checkbox").all():
        box.check()
    save_draft(page)

    expect(page).to_have_url(re.compile(r"/sessions/\d+$"))
    session_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(page.get_by_role("status")).to_have_text(
        "Session 2 saved as a draft. Check it, then sign it."
    )
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"^Session 2 of {planned}\s+draft, not signed\s*$")
    )
    expect(page.locator("hgroup p")).to_contain_text(f"{performed:%A %d %B %Y, %H:%M}")
    expect(facts_value(page, "Doctor")).to_have_text(DOCTOR_NAME)
    expect(facts_value(page, "Warnings acknowledged")).to_contain_text("interval")
    for (product, lot), units, ml in ((HYALURONIC, "1", "1.50"), (VITAMINS, "1", "1.00")):
        row = page.locator("#preparations").get_by_role("row").filter(has_text=lot)
        expect(row.get_by_role("cell")).to_have_text(
            [product, lot, re.compile(r"^\d\d \w{3} \d{4}$"), units, ml]
        )
    expect(page.locator("#preparations").get_by_role("rowheader")).to_have_text(
        re.compile(rf"^{COCKTAIL}\s*2\.50 ml\s*$")
    )
    expect(injection_cells(page, "Cheeks")).to_have_text(
        ["Cheeks", COCKTAIL, "Nappage", "1.5", "1.20", "20", "0.060", "as session"]
    )
    expect(injection_cells(page, "Forehead")).to_have_text(
        ["Forehead", COCKTAIL, "Nappage", "1.0", "0.80", "15", "0.053", "as session"]
    )

    # The draft waits on the home page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Home").click()
    draft = worklist_items(page, "Your drafts not yet signed").filter(has_text=patient_name)
    expect(draft).to_have_count(1)
    expect(draft).to_contain_text(f"{INDICATION}, session 2")
    draft.get_by_role("link").click()
    expect(page).to_have_url(path_is(session_path))

    # --- 3. Signing: a wrong password first, then hers. -------------------------------------------
    password = page.get_by_label("Your password")
    password.fill("not the doctor passphrase")
    page.get_by_role("button", name="Sign and lock").click()
    password = page.get_by_label("Your password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_attribute("aria-describedby", re.compile(r"\bpassword-error\b"))
    expect(page.locator("#password-error")).to_have_text(
        "The password or code did not match. Nothing was changed."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("draft, not signed")
    expect(page.locator("#signature-status")).to_have_count(0)
    # Said where the page opens too, not only beside the field at its foot (found clicking through).
    summary = page.locator("#error-summary")
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("One thing to fix before this can be signed")
    summary.get_by_role("link", name=re.compile("did not match")).click()
    expect(password).to_be_in_viewport()

    password.fill(DOCTOR_PASSWORD)
    page.get_by_role("button", name="Sign and lock").click()
    expect(page).to_have_url(path_is(session_path))
    expect(page.get_by_role("status")).to_have_text(
        "Session 2 signed and locked. Follow-up calls are scheduled."
    )
    expect(page.locator("#signature-status")).to_have_text("signed")
    expect(facts_value(page, "Signed by", "#signature")).to_have_text(DOCTOR_NAME)
    expect(facts_value(page, "Meaning", "#signature")).to_have_text("performed by")
    expect(facts_value(page, "Signed at", "#signature")).to_have_text(
        re.compile(r"^\d\d \w{3} \d{4} \d\d:\d\d:\d\d UTC$")
    )
    digest = facts_value(page, "Content SHA-256", "#signature")
    expect(digest.locator("code.digest")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    expect(digest.locator(".badge")).to_have_text("matches")
    actions = page.get_by_role("navigation", name="Session actions")
    expect(actions.get_by_role("button", name="Edit the draft")).to_have_count(0)
    expect(page.get_by_label("Your password")).to_have_count(0)
    page.screenshot(path=str(screenshot_dir / "session-signed.png"), full_page=True)

    # --- 4. The aftercare sheet, with real dates, and its PDF. ------------------------------------
    actions.get_by_role("button", name="Aftercare sheet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("After your treatment")
    sheet = page.locator("article.aftercare-sheet")
    expect(sheet.locator(".meta")).to_have_text(
        f"{patient_name} · {performed:%A %d %B %Y, %H:%M} · treated: Cheeks, Forehead"
    )
    sauna = performed + timedelta(days=5)
    at = f" at {sauna:%H:%M}" if (sauna.hour, sauna.minute) != (0, 0) else ""
    expect(sheet.get_by_role("listitem").filter(has_text="sauna")).to_have_text(
        f"No sauna, Turkish bath or steam bath until {sauna:%A %d %B}{at}."
    )
    acids = performed + timedelta(days=7)
    expect(sheet.get_by_role("listitem").filter(has_text="Retinol")).to_contain_text(
        f"only from {acids:%A %d %B}"
    )
    products = sheet.get_by_role("heading", level=2, name="Products used").locator(
        "xpath=following-sibling::ul[1]/li"
    )
    expect(products).to_have_text([f"{HYALURONIC[0]}, lot {HYALURONIC[1]}",
                                   f"{VITAMINS[0]}, lot {VITAMINS[1]}"])
    page.screenshot(path=str(screenshot_dir / "session-aftercare.png"), full_page=True)

    pdf_link = page.get_by_role("navigation", name="Aftercare sheet").get_by_role(
        "button", name="Download PDF"
    )
    response = page.request.get(pdf_link.get_attribute("href") or "")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # --- 5. An amendment sits beside the signed original. -----------------------------------------
    page.get_by_role("link", name="← Session 2").click()
    expect(page).to_have_url(path_is(session_path))
    actions = page.get_by_role("navigation", name="Session actions")
    actions.get_by_role("button", name="Amend").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Amend session 2")
    page.get_by_label("What to correct").select_option(label="Cheeks — Points")
    page.get_by_label("Corrected value").fill("18")
    page.get_by_label("Reason").fill("Counted again on the photographs: 18 points, not 20.")
    page.get_by_label("Your password").fill(DOCTOR_PASSWORD)
    page.get_by_role("button", name="Record the amendment").click()

    expect(page).to_have_url(path_is(session_path))
    expect(page.get_by_role("status")).to_have_text("Amendment recorded beside the original.")
    points = injection_cells(page, "Cheeks").nth(5)
    expect(points.locator("del")).to_have_text("20")
    expect(points.locator("ins")).to_have_text("18")
    expect(points).to_contain_text("amended")
    expect(injection_cells(page, "Forehead").nth(5)).to_have_text("15")
    expect(page.locator("#amendments li")).to_have_count(1)
    expect(page.locator("#amendments li")).to_contain_text(
        f"{DOCTOR_NAME}: Points (Cheeks) from"
    )
    expect(page.locator("#amendments li")).to_contain_text(
        "from 20 to 18. Reason: Counted again on the photographs: 18 points, not 20."
    )
    # The signed content is untouched: the signature still matches.
    expect(page.locator("#signature-status")).to_have_text("signed")

    page.get_by_role("link", name=f"← {INDICATION}, {patient_name}").click()
    expect(facts_value(page, "Sessions")).to_contain_text(f"2 of {planned} done")
    session_row = page.get_by_role("row").filter(has=page.get_by_role("link", name="2", exact=True))
    expect(session_row.get_by_role("cell")).to_have_text([
        "2", re.compile(rf"^{today:%d %b %Y} \d\d:\d\d$"), DOCTOR_NAME, "Forehead, Cheeks",  # the catalogue's order
        "signed",
    ])


# --- more injected than drawn --------------------------------------------------------------------


def test_more_injected_than_drawn_is_refused_beside_the_preparation_and_kept(page: Page) -> None:
    page.set_viewport_size(TABLET)
    sign_in_as(page, "doctor")

    # A planned course, due since yesterday, with no session yet.
    due = worklist_items(page, "Courses with a session overdue").filter(has_text=INDICATION).first
    expect(due).to_be_visible()
    due.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/courses/\d+$"))
    course_path = re.sub(r"^https?://[^/]+", "", page.url)
    expect(facts_value(page, "Sessions")).to_contain_text("0 of ")
    page.get_by_role("button", name="Log session 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    form_path = re.sub(r"^https?://[^/]+", "", page.url)

    # A first session: nothing to start from, so the doctor sets the session fields.
    fields = session_fields(page)
    skin = fields.get_by_role("combobox", name="Skin preparation")
    expect(skin).to_have_value("")
    skin.select_option(label="Chlorhexidine 0.5% in alcohol")
    fields.get_by_role("combobox", name="Technique").select_option(label="Nappage")
    fields.get_by_role("combobox", name="Needle gauge").select_option(label="32G")
    fields.get_by_role("spinbutton", name="Needle length (mm)").fill("4")

    draw_up(page, "1.0", "0.5")  # 1.5 ml drawn

    # The three screened areas are pre-filled; tapping one on the diagram finds its row.
    assert area_values(page) == ["forehead", "cheeks", "chin", ""]
    zone(page, "chin").click()
    expect(page.locator("#injections-2-area_code")).to_be_focused()
    assert area_values(page) == ["forehead", "cheeks", "chin", ""]
    fill_injection(page, 0, depth="1.5", volume="0.8", points="20")
    fill_injection(page, 1, depth="1.0", volume="0.4", points="8")
    fill_injection(page, 2, depth="1.0", volume="0.6", points="12")  # 1.8 ml in all
    save_draft(page)

    expect(page).to_have_url(path_is(form_path))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a session")
    # The summary at the top has the focus and names the problem; its link goes to the preparation.
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    summary.get_by_role("link", name=re.compile("Preparation 1: 1.8 ml injected")).click()
    error = page.locator("#preparation-0").get_by_role("alert")
    expect(error).to_have_text("1.8 ml injected from preparation 1, but only 1.5 ml was drawn.")
    expect(error).to_be_in_viewport()
    expect(page.locator("#gate-warnings")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_count(0)

    # Everything typed is still there.
    expect(session_fields(page).get_by_role("combobox", name="Skin preparation")).to_have_value(
        "chlorhexidine"
    )
    length = session_fields(page).get_by_role("spinbutton", name="Needle length (mm)")
    expect(length).to_have_value("4")
    expect(page.locator("#preparations-0-label")).to_have_value(COCKTAIL)
    expect(page.locator("#preparations-0-components-0-lot_id option:checked")).to_contain_text(
        HYALURONIC[1]
    )
    expect(page.locator("#preparations-0-components-1-lot_id option:checked")).to_contain_text(
        VITAMINS[1]
    )
    expect(page.locator("#preparations-0-components-0-volume_ml")).to_have_value("1.0")
    expect(page.locator("#preparations-0-components-1-volume_ml")).to_have_value("0.5")
    assert area_values(page)[:3] == ["forehead", "cheeks", "chin"]
    for row, (depth, volume, points) in enumerate((("1.5", "0.8", "20"), ("1.0", "0.4", "8"),
                                                   ("1.0", "0.6", "12"))):
        expect(page.locator(f"#injections-{row}-depth_mm")).to_have_value(depth)
        expect(page.locator(f"#injections-{row}-volume_ml")).to_have_value(volume)
        expect(page.locator(f"#injections-{row}-points")).to_have_value(points)
        expect(page.locator(f"#injections-{row}-preparation")).to_have_value("0")

    # Nothing was saved.
    page.goto(course_path)
    expect(facts_value(page, "Sessions")).to_contain_text("0 of ")
    expect(page.get_by_role("cell", name="No session yet.")).to_be_visible()
    expect(page.get_by_role("button", name="Log session 1")).to_be_visible()
