"""Sign-in, sign-out and each role's first steps, in a real browser against gunicorn."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from clinic.shell.cli import DEMO_ACCOUNTS

pytestmark = pytest.mark.browser

ACCOUNTS = {role: (email, name, password) for email, name, role, password in DEMO_ACCOUNTS}
ROLE_LABELS = {"doctor": "Doctor", "nurse": "Nurse", "auditor": "Auditor", "admin": "Administrator"}
# Which roles see which nav links (clinic/auth/permissions.py: admins read the audit trail too).
NAV_LINKS = {"Accounts": {"admin"}, "Audit trail": {"auditor", "admin"}}


def path_is(path: str) -> re.Pattern[str]:
    """A URL whose path is exactly ``path`` (any query string)."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?$")


def sign_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in_as(page: Page, role: str) -> None:
    email, name, password = ACCOUNTS[role]
    sign_in(page, email, password)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_each_role_signs_in_and_sees_its_home_page(page: Page, role: str,
                                                   screenshot_dir: Path) -> None:
    email, name, password = ACCOUNTS[role]
    sign_in(page, email, password)

    expect(page).to_have_url(path_is("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {name}")
    expect(page.get_by_text(f"Signed in as {ROLE_LABELS[role].lower()}.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.locator(".role-tag")).to_have_text(ROLE_LABELS[role])
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    for link, roles in NAV_LINKS.items():
        expect(nav.get_by_role("link", name=link, exact=True)).to_have_count(
            1 if role in roles else 0
        )
    page.screenshot(path=str(screenshot_dir / f"home-{role}.png"), full_page=True)


def test_wrong_password_shows_an_error_and_stays_on_sign_in(page: Page) -> None:
    email, _name, _password = ACCOUNTS["nurse"]
    sign_in(page, email, "not the nurse passphrase")

    expect(page.get_by_role("alert")).to_have_text("The email or password is not correct.")
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_sign_out_returns_to_sign_in_and_ends_the_session(page: Page) -> None:
    sign_in_as(page, "doctor")

    page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

    page.goto("/")
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_admin_opens_an_account_for_a_new_nurse(page: Page) -> None:
    sign_in_as(page, "admin")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    # A link styled as a button (role="button").
    page.get_by_role("button", name="Open an account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Open an account")

    page.get_by_label("Full name").fill("Noor Lindqvist")
    page.get_by_label("Email").fill("noor.lindqvist@demo.clinic")
    page.get_by_label("Role").select_option(label="Nurse")
    page.get_by_label("Your password, to confirm").fill(ACCOUNTS["admin"][2])  # an admin power
    page.get_by_role("button", name="Open account").click()

    expect(page.get_by_text("Account opened for Noor Lindqvist (Nurse).")).to_be_visible()
    expect(page.locator("#reset-link")).to_be_visible()  # she chooses her own password with it

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    row = page.get_by_role("row").filter(has_text="noor.lindqvist@demo.clinic")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell")).to_have_text(
        ["Noor Lindqvist", "noor.lindqvist@demo.clinic", "Nurse", "off", "active"]
    )


def test_auditor_verifies_the_audit_chain(page: Page) -> None:
    sign_in_as(page, "auditor")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    page.get_by_role("button", name="Verify the whole chain now").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Audit verification")
    expect(page.locator("#verify-result")).to_contain_text("The chain is intact")
