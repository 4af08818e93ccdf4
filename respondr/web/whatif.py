"""The what-if page: a period and another policy, replayed, side by side with what
happened (:mod:`respondr.domain.whatif` does the replay; this module reads the form)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select
from wtforms import DateField, SelectChoice, SelectField
from wtforms.validators import DataRequired, Optional

from respondr.domain import report_tables, whatif
from respondr.domain.errors import ValidationError
from respondr.domain.organisation import get_organisation
from respondr.domain.presets import PRESETS
from respondr.extensions import db
from respondr.models import ApprovalPolicy
from respondr.timeutil import utcnow
from respondr.web.forms import Form
from respondr.web.layout import duration, org_zone
from respondr.web.permissions import requires
from respondr.web.reports import READERS

bp = Blueprint("whatif", __name__, url_prefix="/reports/whatif")
# Where a domain error's field shows on the form.
FORM_FIELDS = {"from": "start", "to": "end", "policy": "policy"}


class WhatIfForm(Form):
    start = DateField("From", validators=[Optional()])
    end = DateField("To (not included)", validators=[Optional()])
    policy = SelectField("Policy to replay", validators=[DataRequired()])


def policy_choices() -> list[SelectChoice]:
    """Every saved policy, and any shipped preset not saved (yet), by slug."""
    saved = db.session.execute(
        select(ApprovalPolicy.slug, ApprovalPolicy.name).order_by(ApprovalPolicy.name)
    ).all()
    slugs = {slug for slug, _ in saved}
    unsaved = [(p["slug"], f"{p['name']} (preset)") for p in PRESETS if p["slug"] not in slugs]
    return [SelectChoice(slug, name) for slug, name in [*saved, *unsaved]]


def run(policy_ref: Any, start: Any, end: Any) -> whatif.WhatIfResult:
    """The what-if for a policy and ``YYYY-MM-DD`` dates (or dates), as the API and the
    page take them: the last four weeks by default, like the latency report."""
    if not isinstance(policy_ref, str) or not policy_ref.strip():
        raise ValidationError("Name the policy to replay: a saved policy or a preset.", "policy")
    tz = get_organisation(db.session).timezone
    now = utcnow()
    text = [d.isoformat() if isinstance(d, date) else d for d in (start, end)]
    for value, name in zip(text, ("from", "to"), strict=True):
        if value is not None and not isinstance(value, str):
            raise ValidationError(f"{name} must be a date as YYYY-MM-DD.", name)
    period = report_tables.parse_period(
        text[0], text[1], tz=tz, today=now.astimezone(org_zone()).date()
    )
    return whatif.run_whatif(
        db.session, policy_ref=policy_ref, start=period.start, end=period.end, tz=tz, now=now
    )


def shown(unit: str, value: float | None) -> str:
    """A figure of :func:`respondr.domain.whatif.comparison` for people."""
    if value is None:
        return "—"
    if unit == "duration":
        return duration(value)
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:,}"


@bp.route("", methods=["GET", "POST"])
@requires(*READERS)
def page():
    form = WhatIfForm()
    form.policy.choices = policy_choices()
    if form.policy.data is None and form.policy.choices:
        form.policy.data = "trusted-staff-free"
    today = utcnow().astimezone(org_zone()).date()
    if not form.is_submitted():
        form.end.data = today + timedelta(days=1)
        form.start.data = form.end.data - timedelta(days=report_tables.DEFAULT_DAYS)
    result = None
    status = 200
    if form.validate_on_submit():
        try:
            result = run(form.policy.data, form.start.data, form.end.data)
        except ValidationError as error:
            getattr(form, FORM_FIELDS.get(error.field or "", "policy")).errors.append(error.message)
    if form.is_submitted() and result is None:
        status = 400
    return render_template(
        "whatif/index.html",
        form=form,
        result=result,
        rows=whatif.comparison(result) if result is not None else [],
        shown=shown,
        zone=org_zone(),
        one_day=timedelta(days=1),
    ), status
