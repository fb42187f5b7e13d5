"""The session page: everything recorded, signing, amendments beside the original, voiding."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload, selectinload
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from clinic.audit.services import record_chart_read
from clinic.auth.forms import ConfirmPasswordForm
from clinic.auth.services import ReauthenticationFailed
from clinic.core.errors import ClinicError
from clinic.core.forms import VoidForm, show_error
from clinic.core.transaction import attempt, run_service
from clinic.extensions import db
from clinic.inventory.models import Lot
from clinic.records.catalogue.models import Area, area_catalogue
from clinic.records.followups.queries import side_effects_of
from clinic.records.treatments import services
from clinic.records.treatments.forms import AmendForm
from clinic.records.treatments.models import (
    SKIN_PREPARATIONS,
    TECHNIQUES,
    Amendment,
    Course,
    InjectionLog,
    Preparation,
    PreparationComponent,
    TreatmentSession,
)
from clinic.records.treatments.routes.blueprint import bp


def _amendable_targets(session: TreatmentSession) -> list[SelectChoice]:
    choices = [SelectChoice(f"session:{name}", f"Session — {label}")
               for name, label in services.AMENDABLE_SESSION_FIELDS.items()]
    for preparation in session.preparations:
        for component in preparation.components:
            where = f"{_component_name(preparation, component)} lot {component.lot.lot_number}"
            choices += [SelectChoice(f"component:{component.id}:{name}", f"{where} — {label}")
                        for name, label in services.AMENDABLE_COMPONENT_FIELDS.items()]
    for injection in session.injections:
        if not injection.administered:
            continue
        for name, label in services.AMENDABLE_INJECTION_FIELDS.items():
            choices.append(SelectChoice(f"injection:{injection.id}:{name}", f"{injection.area.name} — {label}"))
    return choices


def _beside(form: AmendForm) -> Callable[[ClinicError], None]:
    """A wrong password shows beside the password field; any other refusal beside the field it names."""
    def show(error: ClinicError) -> None:
        if isinstance(error, ReauthenticationFailed):
            form.password.errors = [str(error)]
        else:
            show_error(form, error)
    return show


def _amendment_target(session: TreatmentSession, choice: str) -> tuple[InjectionLog | PreparationComponent | None,
                                                                         str]:
    """The form's "session:<field>", "injection:<id>:<field>" or "component:<id>:<field>" as the row
    corrected (None for the session) and the field."""
    kind, _, rest = choice.partition(":")
    if kind == "session":
        return None, rest
    row_id, _, name = rest.partition(":")
    rows: list[InjectionLog | PreparationComponent] = (
        list(session.injections) if kind == "injection"
        else [c for p in session.preparations for c in p.components])
    return next((row for row in rows if str(row.id) == row_id), None), name


def _component_name(preparation: Preparation, component: PreparationComponent) -> str:
    """"Glow cocktail, HydraVeil HA 1.5%", or the product alone when the preparation is named after it."""
    product = component.lot.product.name
    return product if preparation.label == product else f"{preparation.label}, {product}"


def _value_words(session: TreatmentSession) -> dict[tuple[str, str], str]:
    """How an amendment's stored values read: lot numbers for lot ids, area names for area codes."""
    lot_ids = {int(v) for a in session.amendments if a.field == "lot_id" for v in (a.old_value, a.new_value)}
    words = {("lot_id", str(lot.id)): lot.lot_number
             for lot in db.session.scalars(sa.select(Lot).where(Lot.id.in_(lot_ids)))} if lot_ids else {}
    codes = {v for a in session.amendments if a.field == "area_code" for v in (a.old_value, a.new_value)}
    words.update({("area_code", code): name for code, name in db.session.execute(
        sa.select(Area.code, Area.name).where(Area.code.in_(codes)))} if codes else {})
    words.update({(name, code): label for name in ("technique", "skin_preparation")
                  for code, label in {**TECHNIQUES, **SKIN_PREPARATIONS}.items()})
    return words


def zone_volumes(session: TreatmentSession) -> dict[str, Decimal]:
    """The ml injected per area, as the rows stand now (amendments change the rows): the zone chart's figures."""
    totals: dict[str, Decimal] = {}
    for injection in session.injections:
        if injection.administered and injection.volume_ml:
            totals[injection.area_code] = totals.get(injection.area_code, Decimal(0)) + injection.volume_ml
    return totals


def _session_view(session: TreatmentSession, **forms) -> str:  # noqa: ANN003
    patient = session.course.patient
    amended: dict[tuple[str, str], list[Amendment]] = {}
    for amendment in session.amendments:
        amended.setdefault((amendment.target, amendment.field), []).append(amendment)
    return render_template(
        "treatments/session.html", session=session, course=session.course, patient=patient,
        intact=services.signature_intact(session) if session.is_signed else None, amended=amended,
        sign_form=forms.get("sign_form") or ConfirmPasswordForm(formdata=None),
        void_form=forms.get("void_form") or VoidForm(formdata=None),
        skin_preparations=SKIN_PREPARATIONS, techniques=TECHNIQUES,
        field_labels={"session": services.AMENDABLE_SESSION_FIELDS, "injection": services.AMENDABLE_INJECTION_FIELDS,
                      "component": services.AMENDABLE_COMPONENT_FIELDS},
        target_areas={**{f"injection:{i.id}": i.area.name for i in session.injections},
                      **{f"component:{c.id}": _component_name(p, c)
                         for p in session.preparations for c in p.components}},
        value_words=_value_words(session),
        zone_volumes=zone_volumes(session),
        area_names={code: area.name for code, area in area_catalogue().items()},
        side_effects=side_effects_of(session_ids=[session.id]),
        readiness=None if session.is_signed or session.is_voided else services.session_readiness(session),
    )


@bp.get("/sessions/<int:session_id>")
def show_session(session_id: int) -> str:
    """Everything recorded, the signature (and "altered" if the content changed), amendments beside the original."""
    session = db.session.scalar(
        sa.select(TreatmentSession).where(TreatmentSession.id == session_id).options(
            # One row each, joined; the lists selected once each. An injection's preparation is one of the
            # session's own, found among them without a query.
            joinedload(TreatmentSession.course).options(joinedload(Course.patient), joinedload(Course.indication),
                                                        lazyload(Course.area_links)),  # only a draft's gate reads them
            joinedload(TreatmentSession.signature), joinedload(TreatmentSession.doctor),
            joinedload(TreatmentSession.nurse), joinedload(TreatmentSession.anaesthetic_lot),
            selectinload(TreatmentSession.injections).joinedload(InjectionLog.area),
            selectinload(TreatmentSession.preparations).selectinload(Preparation.components)
            .joinedload(PreparationComponent.lot).joinedload(Lot.product),
            selectinload(TreatmentSession.amendments).joinedload(Amendment.amended_by),
        ))
    if session is None:
        abort(404)
    record_chart_read(session.course.patient)
    return _session_view(session)


@bp.post("/sessions/<int:session_id>/sign")
def sign(session_id: int) -> Response | tuple[str, int]:
    """The performing doctor signs with their password; the session is then locked."""
    session = db.get_or_404(TreatmentSession, session_id)
    form = ConfirmPasswordForm()
    if form.validate_on_submit():
        signed = run_service(services.sign_session, session, current_user, form.password.data, form.code.data or None)
        if signed.ok:
            flash(f"Session {session.number} signed and locked. Follow-up calls are scheduled.", "success")
            return redirect(url_for("treatments.show_session", session_id=session.id))
        if not isinstance(signed.error, ReauthenticationFailed):
            flash(str(signed.error), "error")
            return redirect(url_for("treatments.show_session", session_id=session.id))
        form.password.errors = [str(signed.error)]
    return _session_view(session, sign_form=form), 400


@bp.route("/sessions/<int:session_id>/amend", methods=["GET", "POST"])
def amend(session_id: int) -> Response | tuple[str, int]:
    """Correct a signed session: the original stays, the amendment sits beside it."""
    session = db.get_or_404(TreatmentSession, session_id)
    if not session.is_signed:
        flash("A draft is edited, not amended.", "error")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    form = AmendForm()
    form.target_field.choices = [SelectChoice("", "Choose…"), *_amendable_targets(session)]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            target, name = _amendment_target(session, form.target_field.data)
            if attempt(_beside(form), services.amend_session, session, current_user, target, name,
                       form.new_value.data, form.reason.data, form.password.data, form.code.data or None).ok:
                flash("Amendment recorded beside the original.", "success")
                return redirect(url_for("treatments.show_session", session_id=session.id))
    return render_template("treatments/amend.html", form=form, session=session,
                           patient=session.course.patient), status


@bp.post("/sessions/<int:session_id>/void")
def void(session_id: int) -> Response | tuple[str, int]:
    """Void a session entered in error; it stays on record and in traces."""
    session = db.get_or_404(TreatmentSession, session_id)
    form = VoidForm()
    if form.validate_on_submit():
        if attempt(None, services.void_session, session, current_user, form.reason.data).ok:
            flash(f"Session {session.number} voided. It stays on record, marked voided.", "warning")
        return redirect(url_for("treatments.show_session", session_id=session.id))
    return _session_view(session, void_form=form), 400
