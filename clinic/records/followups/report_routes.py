"""The patient's own report of a side effect, from the link on their aftercare sheet (no account).

Public: no sign-in, so every request is limited per client address and audited as the patient's.
The pages show the clinic's name, the session's date and the patient's first name, nothing more.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import Actor
from clinic.core.clock import in_clinic_zone
from clinic.core.errors import ClinicError
from clinic.core.forms import local_to_utc
from clinic.core.models import utcnow
from clinic.core.transaction import run_service, show_refusal
from clinic.records.followups import patient_report
from clinic.records.followups.forms import PatientReportForm
from clinic.records.followups.models import PatientReportLink
from clinic.records.followups.patient_report import PatientReportInput, Refusal, ReportRefused

bp = Blueprint("patient_report", __name__)

# In the browser's session after a report: the next page of that link is the thank-you
# (post/redirect/get). The cookie is signed, not secret: it names the link by a digest of its token.
SENT = "patient_report_sent"
# An unknown link was never there (404); one that expired, was used up or withdrawn is gone (410).
STATUS = {Refusal.UNKNOWN: 404, Refusal.THROTTLED: 429}

# The patient has no account: their requests are on record as the link's.
PATIENT = Actor(None, "patient (report link)", None)

Page = tuple[str, int] | tuple[str, int, dict[str, str]]


@bp.before_request
def as_the_patient_within_the_rate() -> Page | None:
    """Every request here counts against its client address, and is on record as the patient's; a member
    of staff signed in on the same browser (helping a patient on the phone) stays on record as themselves."""
    if not current_user.is_authenticated:
        g.audit_actor = PATIENT
    checked = run_service(patient_report.check_rate, request.remote_addr, utcnow())
    return None if checked.error is None else _refused(checked.error)


def _refused(error: ClinicError) -> Page:
    contact = current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"]
    if isinstance(error, ReportRefused) and error.code is Refusal.THROTTLED:
        return (render_template("patient_report/busy.html", contact=contact), 429,
                {"Retry-After": str(error.retry_after)})
    status = STATUS.get(error.code, 410) if isinstance(error, ReportRefused) else 410
    return render_template("patient_report/closed.html", contact=contact), status


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _entry(form: PatientReportForm) -> PatientReportInput:
    return PatientReportInput(type_code=form.type_code.data or "", onset_at=local_to_utc(form.onset_at.data),
                              severity=form.severity.data or "", note=form.note.data or "",
                              callback_phone=form.callback_phone.data or "")


def _form_page(form: PatientReportForm, link: PatientReportLink, now: datetime, status: int) -> Page:
    performed_at = in_clinic_zone(link.session.performed_at)
    return render_template(
        "patient_report/report.html", form=form, first_name=link.session.course.patient.first_name,
        session_day=performed_at.date(), earliest=performed_at.strftime("%Y-%m-%dT%H:%M"),
        latest=in_clinic_zone(now).strftime("%Y-%m-%dT%H:%M"),
        contact=current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"]), status


@bp.route("/r/<token>", methods=["GET", "POST"])
def report(token: str) -> Response | Page:
    """The patient's report: the form, its sending, then a thank-you page."""
    if request.method == "GET" and session.get(SENT, {}).get("link") == _digest(token):
        severe = bool(session.pop(SENT).get("severe"))
        return render_template("patient_report/thanks.html", severe=severe,
                               contact=current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"]), 200
    now = utcnow()
    opened = run_service(patient_report.open_link, token, now)
    if opened.error is not None:
        return _refused(opened.error)
    link = opened.value
    form = PatientReportForm()
    form.type_code.choices = [SelectChoice(code, words) for code, words in patient_report.patient_symptoms()]
    if not form.validate_on_submit():
        return _form_page(form, link, now, 400 if request.method == "POST" else 200)
    sent = run_service(patient_report.record_patient_report, link, _entry(form), now)
    if isinstance(sent.error, ReportRefused):
        return _refused(sent.error)
    if sent.error is not None:
        show_refusal(form, sent.error)
        return _form_page(form, link, now, 400)
    session[SENT] = {"link": _digest(token), "severe": form.severity.data == "severe"}
    return redirect(url_for("patient_report.report", token=token))
