"""Approval policies: which channel follows which, the rules in plain words, editing them
(each save a new version), and trying a version on a reply that is never sent."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from respondr.domain import policies as policy_ops
from respondr.domain import policy_text, presets
from respondr.domain.errors import DomainError, ValidationError
from respondr.extensions import db
from respondr.models import (
    ApprovalPolicy,
    Channel,
    Message,
    PolicyVersion,
    StockResponse,
    Team,
    User,
)
from respondr.timeutil import utcnow
from respondr.web.admin import field_error
from respondr.web.forms import ChannelPolicyForm, NewPolicyForm, PolicyVersionForm, TryPolicyForm
from respondr.web.permissions import requires

bp = Blueprint("policies", __name__, url_prefix="/policies")
EDITORS = ("manager", "admin")
RECENT_MESSAGES = 50
NEW_POLICY_STARTS_FROM = "risk-based"
RULE_PATH = re.compile(r"rules\[(\d+)\]")
T = TypeVar("T")


def _all_policies() -> list[ApprovalPolicy]:
    return list(db.session.scalars(select(ApprovalPolicy).order_by(ApprovalPolicy.name)))


def _channel_form(
    channel: Channel, policies: list[ApprovalPolicy], *, submitted: bool = False
) -> ChannelPolicyForm:
    """The policy picker of one channel's row; ``submitted`` reads the posted form."""
    form = ChannelPolicyForm(
        prefix=f"channel-{channel.id}",
        formdata=request.form if submitted else None,
        data={"policy": str(channel.policy_id or "")},
    )
    form.policy.choices = [SelectChoice("", "None: one approval for every reply")] + [
        SelectChoice(str(p.id), p.name) for p in policies
    ]
    return form


def _index_page(failed: ChannelPolicyForm | None = None, failed_channel_id: int | None = None):
    policies = _all_policies()
    channels = db.session.scalars(select(Channel).order_by(Channel.name)).all()
    used_by: dict[int, list[Channel]] = defaultdict(list)
    for channel in channels:
        if channel.policy_id is not None:
            used_by[channel.policy_id].append(channel)
    forms = {
        channel.id: failed
        if failed is not None and channel.id == failed_channel_id
        else _channel_form(channel, policies)
        for channel in channels
    }
    return render_template(
        "policies/index.html", policies=policies, channels=channels, used_by=used_by, forms=forms
    ), 400 if failed is not None else 200


@bp.get("")
@requires(*EDITORS)
def index():
    return _index_page()


@bp.post("/channels/<int:channel_id>")
@requires(*EDITORS)
def set_channel(channel_id: int):
    channel = db.get_or_404(Channel, channel_id)
    form = _channel_form(channel, _all_policies(), submitted=True)
    if not form.validate_on_submit():
        return _index_page(form, channel.id)
    chosen = db.session.get(ApprovalPolicy, int(form.policy.data)) if form.policy.data else None
    if chosen == channel.policy:
        flash(f"{channel.name} already follows {_policy_name(chosen)}.", "info")
    else:
        policy_ops.set_channel_policy(db.session, channel, chosen, actor=current_user, now=utcnow())
        db.session.commit()
        flash(f"{channel.name} now follows {_policy_name(chosen)}.", "success")
    return redirect(url_for("policies.index"))


def _policy_name(chosen: ApprovalPolicy | None) -> str:
    return chosen.name if chosen is not None else "no policy (one approval for every reply)"


def _names(model: type[Channel] | type[Team]) -> dict[int, str]:
    return {ident: name for ident, name in db.session.execute(select(model.id, model.name))}


def _version_page(item: ApprovalPolicy, version: PolicyVersion):
    channels, teams = _names(Channel), _names(Team)
    rules = [
        (
            policy_text.describe_rule(rule, channels=channels, teams=teams),
            rule.get("reason", "") if isinstance(rule, dict) else "",
        )
        for rule in version.rules
    ]
    used_by = db.session.scalars(
        select(Channel).where(Channel.policy_id == item.id).order_by(Channel.name)
    ).all()
    return render_template(
        "policies/policy.html", policy=item, version=version, rules=rules, used_by=used_by
    )


@bp.get("/<int:policy_id>")
@requires(*EDITORS)
def show(policy_id: int):
    item = db.get_or_404(ApprovalPolicy, policy_id)
    if item.current_version is None:
        abort(404)
    return _version_page(item, item.current_version)


@bp.get("/<int:policy_id>/versions/<int:number>")
@requires(*EDITORS)
def version(policy_id: int, number: int):
    item = db.get_or_404(ApprovalPolicy, policy_id)
    found = next((v for v in item.versions if v.number == number), None)
    if found is None:
        abort(404)
    return _version_page(item, found)


def _pretty(rules: Any) -> str:
    return json.dumps(rules, indent=2, ensure_ascii=False)


def _rules_from(form: PolicyVersionForm) -> Any:
    try:
        return json.loads(form.rules.data or "")
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"This is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}).",
            "rules",
        ) from None


def _rules_error(form: PolicyVersionForm, error: DomainError) -> None:
    """Show the error beside its field; a fault inside the rules goes under the rules
    textarea, naming the place ("rules[1].conditions.sentiment_below (rule 2): …")."""
    at = RULE_PATH.match(error.field or "")
    if at is not None:
        place = f"{error.field} (rule {int(at.group(1)) + 1})"
        error = ValidationError(f"{place}: {error.message}", "rules")
    field_error(form, error)


def _form_page(template: str, form: PolicyVersionForm, **context: Any):
    return render_template(
        template,
        form=form,
        conditions=policy_text.CONDITION_HELP,
        outcomes=policy_text.OUTCOME_HELP,
        **context,
    ), 400 if form.errors else 200


def _saved(form: PolicyVersionForm, save: Callable[[Any], T]) -> T | None:
    """For a valid form, run ``save`` (a domain call, given the parsed rules) and commit
    what it made; on a domain error roll back and show it on the form (None)."""
    if not form.validate_on_submit():
        return None
    try:
        made = save(_rules_from(form))
    except DomainError as error:
        db.session.rollback()
        _rules_error(form, error)
        return None
    db.session.commit()
    return made


@bp.route("/<int:policy_id>/edit", methods=["GET", "POST"])
@requires(*EDITORS)
def edit(policy_id: int):
    item = db.get_or_404(ApprovalPolicy, policy_id)
    current = item.current_version
    form = PolicyVersionForm(
        data=None
        if request.method == "POST" or current is None
        else {
            "rules": _pretty(current.rules),
            "escalate_after_minutes": current.escalate_after_minutes,
        }
    )
    saved = _saved(
        form,
        lambda rules: policy_ops.new_version(
            db.session,
            item,
            rules=rules,
            escalate_after_minutes=form.escalate_after_minutes.data,
            note=form.note.data or "",
            actor=current_user,
            now=utcnow(),
        ),
    )
    if saved is not None:
        flash(f"Saved {saved.label}: new submissions follow it from now.", "success")
        return redirect(url_for("policies.show", policy_id=item.id))
    return _form_page("policies/edit.html", form, policy=item)


@bp.route("/new", methods=["GET", "POST"])
@requires(*EDITORS)
def new():
    starting = next(p for p in presets.PRESETS if p["slug"] == NEW_POLICY_STARTS_FROM)
    form = NewPolicyForm(
        data=None if request.method == "POST" else {"rules": _pretty(starting["rules"])}
    )
    created = _saved(
        form,
        lambda rules: policy_ops.create_policy(
            db.session,
            name=form.name.data or "",
            description=(form.description.data or "").strip(),
            rules=rules,
            escalate_after_minutes=form.escalate_after_minutes.data,
            actor=current_user,
            now=utcnow(),
        ),
    )
    if created is not None:
        flash(f"Created {created.name}. Pick the channels that follow it.", "success")
        return redirect(url_for("policies.show", policy_id=created.id))
    return _form_page("policies/edit.html", form, policy=None, starting=starting["name"])


def _message_label(message: Message) -> str:
    fan = message.fan.display_name or message.fan.handle
    text = " ".join(message.text.split())
    text = text if len(text) <= 70 else text[:69] + "…"
    return f"#{message.id} · {fan} on {message.channel.name}: {text}"


def _try_choices(form: TryPolicyForm) -> None:
    recent = db.session.scalars(
        select(Message)
        .options(joinedload(Message.fan), joinedload(Message.channel))
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(RECENT_MESSAGES)
    )
    form.message.choices = [SelectChoice(m.id, _message_label(m)) for m in recent]
    people = db.session.scalars(
        select(User).where(User.is_active_account.is_(True)).order_by(User.name)
    )
    form.author.choices = [SelectChoice(u.id, u.name) for u in people]
    responses = db.session.scalars(
        select(StockResponse)
        .where(StockResponse.pre_approved.is_(True), StockResponse.active.is_(True))
        .order_by(StockResponse.title)
    )
    form.stock_response.choices = [SelectChoice("", "None: a reply of its own")] + [
        SelectChoice(str(r.id), r.title) for r in responses
    ]


@bp.route("/<int:policy_id>/try", methods=["GET", "POST"])
@requires(*EDITORS)
def try_it(policy_id: int):
    """Nothing here is saved: the request is posted (with its CSRF token) only to carry a
    reply too long for a URL."""
    item = db.get_or_404(ApprovalPolicy, policy_id)
    current = item.current_version
    if current is None:
        abort(404)
    form = TryPolicyForm(data=None if request.method == "POST" else {"author": current_user.id})
    _try_choices(form)
    verdict = facts = message = None
    if form.validate_on_submit():
        message = db.session.get(Message, form.message_id.data or form.message.data)
        if message is None:
            form.message_id.errors = [f"There is no message #{form.message_id.data}."]
        else:
            stock_id = form.stock_response.data
            verdict, facts = policy_ops.try_version(
                db.session,
                current,
                message=message,
                author=db.session.get_one(User, form.author.data),
                text=form.text.data or "",
                stock_response=db.session.get(StockResponse, int(stock_id)) if stock_id else None,
                now=utcnow(),
            )
    teams = _names(Team)
    deciding = None
    if verdict is not None and verdict.rule_number is not None:
        deciding = policy_text.describe_rule(
            current.rules[verdict.rule_number - 1], channels=_names(Channel), teams=teams
        )
    return render_template(
        "policies/try.html",
        policy=item,
        version=current,
        form=form,
        message=message,
        verdict=verdict,
        facts=facts,
        deciding=deciding,
        steps=policy_text.describe_steps(verdict.steps, teams) if verdict else "",
    ), 400 if form.errors else 200
