"""Who may do what: DESIGN.md's permission matrix as data, enforced on every request.

Every endpoint × method names the roles allowed. Anything not listed is
refused (deny by default); ``tests/test_permissions.py`` fails if a route has
no row here and checks every role against every row.
"""

from __future__ import annotations

from typing import Final

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.models import Role
from clinic.auth.services import totp_required

DOCTOR, NURSE, AUDITOR, ADMIN = Role.DOCTOR, Role.NURSE, Role.AUDITOR, Role.ADMIN
ALL_ROLES: Final = frozenset(Role)
CLINICAL_READERS: Final = frozenset({DOCTOR, NURSE, AUDITOR})
AUDIT_READERS: Final = frozenset({AUDITOR, ADMIN})
ACCOUNT_ADMINS: Final = frozenset({ADMIN})
CATALOGUE_ADMINS: Final = frozenset({ADMIN})
STOCK_RECEIVERS: Final = frozenset({DOCTOR, NURSE, ADMIN})
LOT_HOLDERS: Final = frozenset({AUDITOR, ADMIN})
CLINICAL_WRITERS: Final = frozenset({DOCTOR, NURSE})
DOCTORS: Final = frozenset({DOCTOR})
AUDITORS: Final = frozenset({AUDITOR})


class _Public:
    """No sign-in needed (the explicit allow-list of SECURITY.md Z1)."""

    def __repr__(self) -> str:
        return "PUBLIC"


PUBLIC: Final = _Public()

Allowed = frozenset[str] | _Public

MATRIX: Final[dict[str, dict[str, Allowed]]] = {
    "static": {"GET": PUBLIC},
    "shell.health": {"GET": PUBLIC},
    "shell.home": {"GET": ALL_ROLES},
    # Signing in and out, one's own account.
    "auth.login": {"GET": PUBLIC, "POST": PUBLIC},
    "auth.second_factor": {"GET": PUBLIC, "POST": PUBLIC},
    "auth.reset_password": {"GET": PUBLIC, "POST": PUBLIC},
    "auth.logout": {"POST": ALL_ROLES},
    "auth.account": {"GET": ALL_ROLES},
    "auth.change_password": {"GET": ALL_ROLES, "POST": ALL_ROLES},
    "auth.setup_totp": {"GET": ALL_ROLES, "POST": ALL_ROLES},
    "auth.disable_totp": {"POST": ALL_ROLES},
    "auth.renew_recovery_codes": {"POST": ALL_ROLES},
    # Accounts: admins only (DESIGN.md "accounts and catalogues").
    "admin.list_users": {"GET": ACCOUNT_ADMINS},
    "admin.new_user": {"GET": ACCOUNT_ADMINS, "POST": ACCOUNT_ADMINS},
    "admin.show_user": {"GET": ACCOUNT_ADMINS},
    "admin.change_role": {"POST": ACCOUNT_ADMINS},
    "admin.deactivate_user": {"POST": ACCOUNT_ADMINS},
    "admin.reactivate_user": {"POST": ACCOUNT_ADMINS},
    "admin.issue_password_reset": {"POST": ACCOUNT_ADMINS},
    # The audit trail: auditors and admins read it and run its verification.
    "audit.list_events": {"GET": AUDIT_READERS},
    "audit.verify_chain": {"POST": AUDIT_READERS},
    # Products, lots and stock hold no patient data: every role reads them.
    "inventory.list_products": {"GET": ALL_ROLES},
    "inventory.show_product": {"GET": ALL_ROLES},
    "inventory.new_product": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "inventory.edit_product": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "inventory.retire_product": {"POST": CATALOGUE_ADMINS},
    "inventory.reinstate_product": {"POST": CATALOGUE_ADMINS},
    "inventory.list_ingredients": {"GET": ALL_ROLES, "POST": CATALOGUE_ADMINS},
    "inventory.list_locations": {"GET": ALL_ROLES, "POST": CATALOGUE_ADMINS},
    "inventory.receive": {"GET": STOCK_RECEIVERS, "POST": STOCK_RECEIVERS},
    "inventory.show_lot": {"GET": ALL_ROLES},
    "inventory.discard": {"GET": STOCK_RECEIVERS, "POST": STOCK_RECEIVERS},
    "inventory.quarantine": {"POST": LOT_HOLDERS},
    "inventory.release": {"POST": LOT_HOLDERS},
    "inventory.stock": {"GET": ALL_ROLES},
    "inventory.expiring": {"GET": ALL_ROLES},
    "inventory.quarantined": {"GET": ALL_ROLES},
    # The patient chart: doctors and nurses write, auditors read (every read audited),
    # admins never open it.
    "patients.search": {"GET": CLINICAL_READERS},
    "patients.register": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "patients.show_chart": {"GET": CLINICAL_READERS},
    "patients.export_patient": {"GET": CLINICAL_READERS, "POST": CLINICAL_READERS},  # POST: password again
    "patients.edit": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "patients.void": {"POST": CLINICAL_WRITERS},
    "patients.edit_history": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "patients.show_history": {"GET": CLINICAL_READERS},
    "patients.new_patch_test": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "patients.read_patch_test": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "screening.new_screening": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "screening.show_screening": {"GET": CLINICAL_READERS},
    "screening.override": {"POST": DOCTORS},
    "screening.void_screening": {"POST": CLINICAL_WRITERS},
    "consent.new_consent": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "consent.show_consent": {"GET": CLINICAL_READERS},
    "consent.consent_pdf": {"GET": CLINICAL_READERS},
    "consent.withdraw": {"POST": CLINICAL_WRITERS},
    # Courses and sessions: only doctors plan, log, sign and amend; nurses and auditors read.
    "treatments.new_course": {"GET": DOCTORS, "POST": DOCTORS},
    "treatments.show_course": {"GET": CLINICAL_READERS},
    "treatments.stop_course": {"POST": DOCTORS},
    "treatments.complete_course": {"POST": DOCTORS},
    "treatments.reopen_course": {"POST": DOCTORS},
    # The usual ranges at the chair: every role reads them, admins keep them.
    "treatments.list_protocol_ranges": {"GET": ALL_ROLES},
    "treatments.new_protocol_range": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "treatments.edit_protocol_range": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "treatments.new_session": {"GET": DOCTORS, "POST": DOCTORS},
    "treatments.edit_session": {"GET": DOCTORS, "POST": DOCTORS},
    "treatments.show_session": {"GET": CLINICAL_READERS},
    "treatments.sign": {"POST": DOCTORS},
    "treatments.amend": {"GET": DOCTORS, "POST": DOCTORS},
    "treatments.void": {"POST": DOCTORS},
    "treatments.aftercare": {"GET": CLINICAL_READERS},
    "treatments.aftercare_pdf": {"GET": CLINICAL_READERS},
    "patient_report.report": {"GET": PUBLIC, "POST": PUBLIC},
    # Follow-ups and side effects: nurses and doctors work them, auditors read them (every read
    # audited), only doctors review what is flagged.
    "followups.worklist": {"GET": CLINICAL_WRITERS},
    "followups.show_follow_up": {"GET": CLINICAL_READERS, "POST": CLINICAL_WRITERS},
    "followups.new_side_effect": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "followups.show_side_effect": {"GET": CLINICAL_READERS},
    "followups.update_side_effect": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "followups.void_side_effect": {"POST": CLINICAL_WRITERS},
    "followups.flags": {"GET": DOCTORS},
    "followups.review": {"GET": DOCTORS, "POST": DOCTORS},
    # Results of a course: doctors and nurses record measures and photos, auditors read the report and
    # the photos (every view audited), admins never.
    "outcomes.record_measures": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "outcomes.correct_measure": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "outcomes.void_measure": {"POST": CLINICAL_WRITERS},
    "outcomes.course_report": {"GET": CLINICAL_READERS},
    "outcomes.course_report_pdf": {"GET": CLINICAL_READERS},
    "photos.upload": {"GET": CLINICAL_WRITERS, "POST": CLINICAL_WRITERS},
    "photos.course_photos": {"GET": CLINICAL_READERS},
    "photos.image": {"GET": CLINICAL_READERS},
    "photos.thumbnail": {"GET": CLINICAL_READERS},
    "photos.void_photo": {"POST": CLINICAL_WRITERS},
    # Lot trace: patient data, so never an admin's.
    "tracing.trace": {"GET": CLINICAL_READERS, "POST": CLINICAL_READERS},  # POST: an export, password again
    "tracing.patient_lots": {"GET": CLINICAL_READERS, "POST": CLINICAL_READERS},
    # Recalls: auditors and admins open and close them; the worklist holds patient data, so
    # admins see the recall's progress but never its patients.
    "tracing.list_recalls": {"GET": ALL_ROLES},
    "tracing.new_recall": {"GET": LOT_HOLDERS, "POST": LOT_HOLDERS},
    "tracing.show_recall": {"GET": ALL_ROLES},
    "tracing.contact": {"GET": CLINICAL_READERS, "POST": CLINICAL_READERS},
    "tracing.letter": {"GET": CLINICAL_READERS},
    "tracing.close_recall": {"POST": LOT_HOLDERS},
    "tracing.recall_report": {"GET": CLINICAL_READERS},
    "tracing.recall_report_pdf": {"GET": CLINICAL_READERS, "POST": CLINICAL_READERS},
    # Reports: counts across patients, for doctors, nurses and auditors, never admins (DESIGN.md).
    "reports.index": {"GET": CLINICAL_READERS},
    "reports.export": {"GET": CLINICAL_READERS},
    # Vigilance reports: doctors and nurses read and print them; auditors complete them and record sending.
    "reports.vigilance": {"GET": CLINICAL_READERS, "POST": AUDITORS},
    "reports.vigilance_sent": {"POST": AUDITORS},
    "reports.vigilance_pdf": {"GET": CLINICAL_READERS},
    # Catalogues that hold no patient data: admins keep them.
    "screening.list_rules": {"GET": CATALOGUE_ADMINS},
    "screening.new_rule": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "screening.edit_rule": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "consent.list_forms": {"GET": CATALOGUE_ADMINS},
    "consent.edit_text": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "consent.withdraw_text": {"POST": CATALOGUE_ADMINS},
    "followups.list_types": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "followups.edit_type": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "outcomes.list_definitions": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
    "outcomes.edit_definition": {"GET": CATALOGUE_ADMINS, "POST": CATALOGUE_ADMINS},
}

# Signed-in users whose role requires a second factor may only reach these until enrolled.
ENROLMENT_ENDPOINTS: Final = frozenset({"auth.setup_totp", "auth.logout", "static"})


def allowed_roles(endpoint: str | None, method: str) -> Allowed | None:
    method = "GET" if method in ("HEAD", "OPTIONS") else method
    return MATRIX.get(endpoint or "", {}).get(method)


def can(user: object, endpoint: str, method: str = "GET") -> bool:
    """For templates: show a link or button only to those who may use it."""
    allowed = allowed_roles(endpoint, method)
    if allowed is PUBLIC:
        return True
    if allowed is None or not getattr(user, "is_authenticated", False):
        return False
    return getattr(user, "role", None) in allowed  # type: ignore[operator]


def enforce_permissions() -> Response | None:
    """Before every request: sign-in needed, then the role must be in the matrix row."""
    if request.endpoint is None:
        return None  # no such route: the 404/405 handler answers
    allowed = allowed_roles(request.endpoint, request.method)
    if allowed is PUBLIC:
        return None
    if not current_user.is_authenticated:
        if request.method == "GET":
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("auth.login"))
    if (
        totp_required(current_user)
        and not current_user.totp_enabled
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        flash("Your role requires two-step sign-in. Set it up to continue.", "warning")
        return redirect(url_for("auth.setup_totp"))
    if allowed is None or current_user.role not in allowed:  # type: ignore[operator]
        current_app.logger.info("forbidden %s %s for role %s", request.method, request.endpoint,
                                current_user.role)
        abort(403)
    return None
