"""Admin pages: the organisation's settings, users, channels and the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from respondr.domain import accounts, audit
from respondr.domain import channels as channel_ops
from respondr.domain.errors import DomainError
from respondr.domain.organisation import get_organisation, update_settings
from respondr.extensions import db
from respondr.models import Channel, User
from respondr.timeutil import utcnow
from respondr.web.forms import (
    AuditFilterForm,
    ChannelForm,
    EditUserForm,
    EmptyForm,
    OrganisationForm,
    UserForm,
)
from respondr.web.permissions import requires

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE_SIZE = 100


def field_error(form: FlaskForm, error: DomainError) -> None:
    """Show a domain error beside the field it names, or above the form."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


@contextmanager
def errors_on(form: FlaskForm) -> Iterator[None]:
    """Wrap a form's change (the domain call, commit, flash and redirect): a
    :class:`DomainError` from it rolls the transaction back and shows on the form instead
    of escaping, and the view goes on to render the form again."""
    try:
        yield
    except DomainError as error:
        db.session.rollback()
        field_error(form, error)


def _get_or_404(model: type, ident: int):
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj


@bp.route("/organisation", methods=["GET", "POST"])
@requires("admin")
def organisation():
    org = get_organisation(db.session)
    form = OrganisationForm(obj=org)
    if form.validate_on_submit():
        with errors_on(form):
            changed = update_settings(
                db.session,
                actor=current_user,
                now=utcnow(),
                name=form.name.data,
                timezone=(form.timezone.data or "").strip(),
                claim_lapse_minutes=form.claim_lapse_minutes.data,
                sla_warning_minutes=form.sla_warning_minutes.data,
            )
            db.session.commit()
            flash(
                "Saved the organisation's settings." if changed else "Nothing changed.", "success"
            )
            return redirect(url_for("admin.organisation"))
    return render_template("admin/organisation.html", form=form), 400 if form.errors else 200


@bp.get("/users")
@requires("admin")
def users():
    people = db.session.scalars(db.select(User).order_by(User.name)).all()
    return render_template("admin/users.html", users=people)


@bp.route("/users/new", methods=["GET", "POST"])
@requires("admin")
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        with errors_on(form):
            user = accounts.create_user(
                db.session,
                email=form.email.data or "",
                name=form.name.data or "",
                password=form.password.data or "",
                roles=form.roles.data or [],
                trusted=form.trusted.data,
                actor=current_user,
                now=utcnow(),
            )
            if not form.active.data:
                accounts.deactivate(db.session, user, now=utcnow())
            db.session.commit()
            flash(f"{user.name} can now sign in.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, user=None
    ), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires("admin")
def edit_user(user_id: int):
    user = _get_or_404(User, user_id)
    form = EditUserForm(
        obj=user,
        data=None
        if request.method == "POST"
        else {"roles": sorted(user.roles), "active": user.is_active_account},
    )
    if form.validate_on_submit():
        with errors_on(form):
            accounts.update_user(
                db.session,
                user,
                name=form.name.data or "",
                roles=form.roles.data or [],
                trusted=form.trusted.data,
                active=form.active.data,
                actor=current_user,
                now=utcnow(),
            )
            db.session.commit()
            flash(f"Saved {user.name}.", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, user=user, reset_form=EmptyForm(prefix="reset")
    ), 400 if form.errors else 200


@bp.post("/users/<int:user_id>/reset-link")
@requires("admin")
def reset_link(user_id: int):
    user = _get_or_404(User, user_id)
    form = EmptyForm(prefix="reset")
    if not form.validate_on_submit():
        abort(400)
    token = accounts.issue_reset_link_token(db.session, user, actor=current_user, now=utcnow())
    db.session.commit()
    link = url_for("auth.reset_password", token=token, _external=True)
    return render_template("admin/reset_link.html", user=user, link=link)


@bp.get("/channels")
@requires("admin")
def channels():
    rows = db.session.scalars(db.select(Channel).order_by(Channel.name)).all()
    return render_template("admin/channels.html", channels=rows)


def _channel_form(form: ChannelForm, channel: Channel | None, save, done: str, back: str):  # type: ignore[no-untyped-def]
    """Create or edit a channel in one transaction, then its connector settings."""
    if form.validate_on_submit():
        with errors_on(form):
            channel = save()
            generated = _apply_connector(form, channel)
            db.session.commit()
            if generated:  # shown once, on this page only: never in a flash cookie
                return render_template(
                    "admin/channel_form.html",
                    form=ChannelForm(obj=channel),
                    channel=channel,
                    generated_secret=generated,
                )
            flash(done.format(name=channel.name), "success")
            return redirect(back or url_for("admin.edit_channel", channel_id=channel.id))
    return render_template(
        "admin/channel_form.html", form=form, channel=channel
    ), 400 if form.errors else 200


@bp.route("/channels/new", methods=["GET", "POST"])
@requires("admin")
def new_channel():
    form = ChannelForm()
    return _channel_form(
        form,
        None,
        lambda: channel_ops.create_channel(
            db.session,
            name=form.name.data or "",
            kind=form.kind.data or "",
            sla_minutes=form.sla_minutes.data or 0,
            feed_url=form.feed_url.data,
            actor=current_user,
            now=utcnow(),
        ),
        "Channel {name} created.",
        "",
    )


@bp.route("/channels/<int:channel_id>", methods=["GET", "POST"])
@requires("admin")
def edit_channel(channel_id: int):
    channel = _get_or_404(Channel, channel_id)
    form = ChannelForm(obj=channel)

    def save() -> Channel:
        channel_ops.update_channel(
            db.session,
            channel,
            name=form.name.data or "",
            kind=form.kind.data or "",
            sla_minutes=form.sla_minutes.data or 0,
            feed_url=form.feed_url.data,
            active=form.active.data,
            actor=current_user,
            now=utcnow(),
        )
        return channel

    return _channel_form(form, channel, save, "Saved {name}.", url_for("admin.channels"))


def _apply_connector(form: ChannelForm, channel: Channel) -> str | None:
    """Change the publish connector when asked to; returns a generated webhook secret."""
    connector = form.connector.data or "manual"
    details = (form.connector_url.data, form.connector_token.data, form.page_id.data)
    if connector == channel.connector and not any(details):
        return None
    return channel_ops.set_connector(
        db.session,
        channel,
        connector=connector,
        url=form.connector_url.data or (channel.connector_config or {}).get("url"),
        token=form.connector_token.data or None,
        page_id=form.page_id.data or None,
        secret_key=current_app.config["SECRET_KEY"],
        actor=current_user,
        now=utcnow(),
    )


def _org_midnight(day: date | None) -> datetime | None:
    """Midnight at the start of ``day`` in the organisation's timezone."""
    if day is None:
        return None
    zone = ZoneInfo(get_organisation(db.session).timezone)
    return datetime.combine(day, time.min, tzinfo=zone)


@bp.get("/audit", endpoint="audit")
@requires("admin")
def audit_log():
    form = AuditFilterForm(request.args)
    people = db.session.scalars(db.select(User).order_by(User.name)).all()
    form.actor.choices = [SelectChoice("", "Anyone")] + [
        SelectChoice(str(u.id), u.name) for u in people
    ]
    form.validate()
    since = _org_midnight(form.since.data)
    until = _org_midnight(form.until.data + timedelta(days=1) if form.until.data else None)
    actor_id = int(form.actor.data) if (form.actor.data or "").isdigit() else None
    entries = db.session.scalars(
        audit.audit_query(
            actor_id=actor_id, action=form.action.data, since=since, until=until
        ).limit(AUDIT_PAGE_SIZE)
    ).all()
    status = 400 if form.errors else 200
    return render_template("admin/audit.html", form=form, entries=entries), status
