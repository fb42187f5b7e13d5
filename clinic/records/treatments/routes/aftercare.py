"""The patient's aftercare sheet, on screen and as a PDF."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template, url_for
from werkzeug.wrappers import Response

from clinic.audit.services import record_chart_read, record_event
from clinic.core.models import utcnow
from clinic.core.pdf import pdf_response
from clinic.core.qr import qr_drawing
from clinic.extensions import db
from clinic.records.followups.models import SideEffectType
from clinic.records.followups.patient_report import existing_report_link
from clinic.records.treatments import services
from clinic.records.treatments.models import Preparation, PreparationComponent, TreatmentSession
from clinic.records.treatments.routes.blueprint import bp


def _report_link(session: TreatmentSession) -> dict[str, Any] | None:
    """The link and QR code for the patient's own report; none once the link has expired (a sheet printed
    again later must not send the patient to a dead page), nor for a voided session."""
    now = utcnow()
    link = existing_report_link(session)
    if link is None or link.expires_at <= now:
        return None
    url = url_for("patient_report.report", token=link.token, _external=True)
    return {"url": url, "qr": qr_drawing(url), "until": link.expires_at}


def _aftercare_context(session: TreatmentSession) -> dict[str, Any]:
    components = db.session.scalars(
        sa.select(PreparationComponent).join(Preparation).where(Preparation.session_id == session.id)
    ).all()
    products = sorted({(c.lot.product.name, c.lot.lot_number) for c in components})
    areas = sorted({i.area.name for i in session.injections if i.administered})
    return {"session": session, "patient": session.course.patient, "products": products,
            "areas": areas, "items": services.aftercare(session.performed_at),
            "contact": current_app.config["CLINIC_SIDE_EFFECTS_CONTACT"], "report": _report_link(session),
            "expected": _expected_side_effects()}


def _expected_side_effects() -> list[str]:
    """The common side effects and how long they last, from the catalogue an admin keeps (not the rare ones)."""
    kinds = db.session.scalars(sa.select(SideEffectType).where(
        SideEffectType.active.is_(True), SideEffectType.expected_max_hours.is_not(None))
        .order_by(SideEffectType.sort_order)).all()
    return [f"{kind.plain_name} ({kind.patient_duration})" for kind in kinds]


@bp.get("/sessions/<int:session_id>/aftercare")
def aftercare(session_id: int) -> str:
    """The patient's aftercare sheet with real dates, printable."""
    session = db.get_or_404(TreatmentSession, session_id)
    record_chart_read(session.course.patient)
    return render_template("treatments/aftercare.html", **_aftercare_context(session))


@bp.get("/sessions/<int:session_id>/aftercare.pdf")
def aftercare_pdf(session_id: int) -> Response:
    """The aftercare sheet as a PDF to hand or send to the patient."""
    session = db.get_or_404(TreatmentSession, session_id)
    record_event("export", record_type="treatment_session", record_id=session.id, reason="aftercare PDF")
    context = _aftercare_context(session)
    html = render_template("treatments/aftercare_pdf.html", **context)
    return pdf_response(html, f"aftercare-{context['patient'].record_number}-{session.number}.pdf")
