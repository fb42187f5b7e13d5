"""The permission matrix is data, covers every route, and holds for every role (SECURITY.md Z1, Z2)."""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from clinic import create_app
from clinic.auth.models import User
from clinic.extensions import db
from clinic.auth.permissions import MATRIX, PUBLIC
from tests.conftest import (
    ROLES,
    audit_rows,
    create_staff,
    make_config,
    shared_rows,
    signed_in_client,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _rules() -> list[Rule]:
    app = create_app(make_config("sqlite://"))
    return list(app.url_map.iter_rules())


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for rule in _rules():
        for method in sorted(rule.methods - IGNORED_METHODS):
            cases.append((rule.endpoint, method, rule.rule))
    return cases


def _url(rule: str, user_id: int) -> str:
    """Fill the rule's variables with real ids (the demo stock's first product and lot)."""
    url = rule.replace("<int:user_id>", str(user_id)).replace("<token>", "not-a-token")
    for name in ("product_id", "lot_id", "patient_id", "screening_id", "consent_id", "rule_id", "test_id",
                 "number", "form_id", "version_id", "course_id", "session_id", "recall_id", "row_id", "task_id",
                 "side_effect_id", "subject_id", "range_id", "measure_id", "photo_id"):
        url = url.replace(f"<int:{name}>", "1")
    url = url.replace("<kind>", "side-effect").replace("<code>", "redness").replace("<table>", "rates-lot")
    return url.replace("<path:filename>", "css/clinic.css")


def _staff_and_demo_stock() -> dict[str, int]:
    """The staff, and the demo's stock, patients and courses: the ids in ``_url`` exist."""
    from clinic.inventory.demo import seed_demo_stock
    from clinic.records.demo import seed_demo_patients

    staff = create_staff()
    seed_demo_stock(receiver=staff["nurse"], holder=staff["auditor"])
    from clinic.records.treatments.demo import seed_demo_courses

    seed_demo_patients(doctor=staff["doctor"], nurse=staff["nurse"], count=2)
    seed_demo_courses(doctor=staff["doctor"], nurse=staff["nurse"])
    db.session.commit()
    return {role: user.id for role, user in staff.items()}


def test_every_route_has_a_row_in_the_matrix() -> None:
    routes = {(endpoint, method) for endpoint, method, _ in _cases()}
    rows = {(endpoint, method) for endpoint, methods in MATRIX.items() for method in methods}
    assert routes - rows == set(), "routes with no permission row"
    assert rows - routes == set(), "matrix rows for routes that do not exist"


@pytest.mark.parametrize(("endpoint", "method", "rule"), _cases())
def test_anonymous_visitors_reach_only_the_public_pages(client, staff, endpoint, method, rule) -> None:
    url = _url(rule, staff["nurse"].id)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.submit(url, {})
    response.close()
    if MATRIX[endpoint][method] is PUBLIC:
        assert not (response.status_code == 302 and "/login" in response.location
                    and endpoint != "auth.second_factor")
        assert response.status_code != 403
    else:
        assert response.status_code == 302
        assert "/login" in response.location


# The admin goes last: its allowed actions on another account (deactivating it) must not
# change what the roles before it are checked against.
ROLE_ORDER = ("doctor", "nurse", "auditor", "admin")


@pytest.fixture(scope="class")
def seeded(shared_app):
    """Staff and demo stock seeded once for the class below (seeding them per test cost most of
    this module's time): each of its tests runs in a SAVEPOINT rolled back after it, so every
    test still starts from the same freshly seeded rows."""
    with shared_rows(shared_app, "seeded", _staff_and_demo_stock) as staff_ids:
        yield staff_ids


class TestEachRoleOnEveryRoute:
    @pytest.fixture
    def staff(self, app, seeded) -> dict[str, User]:
        return {role: db.session.get(User, user_id) for role, user_id in seeded.items()}

    @pytest.mark.parametrize(("endpoint", "method", "rule"), _cases())
    def test_each_role_gets_exactly_what_the_matrix_gives(
        self, app, staff, endpoint, method, rule
    ) -> None:
        allowed = MATRIX[endpoint][method]
        assert set(ROLE_ORDER) == set(ROLES)
        for role in ROLE_ORDER:
            client = signed_in_client(app, staff[role])
            # Act on another person's account, so that allowed actions do not sign the tester out.
            target = staff["nurse"] if role != "nurse" else staff["doctor"]
            url = _url(rule, target.id)
            forbidden_before = len(audit_rows("forbidden"))
            response = client.get(url) if method == "GET" else client.submit(url, {})
            # PDFs and CSVs are allowed answers too; only the refusal page is read as text.
            body = response.get_data(as_text=True) if response.status_code == 403 else ""
            response.close()
            if allowed is PUBLIC or role in allowed:
                assert response.status_code != 403, f"{role} refused {method} {url}"
            else:
                assert response.status_code == 403, f"{role} allowed {method} {url}"
                rows = audit_rows("forbidden")
                assert len(rows) == forbidden_before + 1
                assert rows[-1].role == role
                assert rows[-1].record_id == endpoint
                assert "Not allowed" in body


def test_an_admin_cannot_open_clinical_pages_or_the_audit_page_is_closed_to_clinicians(clients) -> None:
    assert clients["doctor"].get("/audit").status_code == 403
    assert clients["nurse"].get("/audit").status_code == 403
    assert clients["auditor"].get("/audit").status_code == 200
    assert clients["admin"].get("/audit").status_code == 200
    assert clients["auditor"].get("/admin/users").status_code == 403


def test_an_unknown_address_answers_404_with_the_clinic_page(doctor_client) -> None:
    response = doctor_client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
