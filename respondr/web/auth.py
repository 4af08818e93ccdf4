"""Sign-in, sign-out, own password and availability, password reset links."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from respondr.domain import accounts
from respondr.domain.errors import DomainError
from respondr.extensions import db, login_manager
from respondr.models import User
from respondr.models.users import new_session_token
from respondr.timeutil import utcnow
from respondr.web import throttle
from respondr.web.forms import ChangePasswordForm, EmptyForm, ResetPasswordForm, SignInForm
from respondr.web.permissions import public, requires

bp = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.login_message = "Sign in to continue."
login_manager.login_message_category = "info"


@login_manager.user_loader
def load_user(session_token: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.session_token == session_token))


@login_manager.unauthorized_handler
def unauthorized():
    from respondr.web.errors import error_response, wants_json

    if wants_json():
        return error_response(401, "Sign-in or an API token is needed.")
    flash(login_manager.login_message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target: str | None) -> str:
    """Only a local path: never an open redirect to another site."""
    if not target:
        return url_for("inbox.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("inbox.index")
    if "\\" in target:
        return url_for("inbox.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = SignInForm()
    if form.validate_on_submit():
        if refused := throttle.refusal():
            form.form_errors.append(refused.message)
            page = render_template("auth/login.html", form=form)
            return page, 429, {"Retry-After": str(refused.retry_after)}
        user = accounts.authenticate(db.session, form.email.data or "", form.password.data or "")
        if user is None:
            throttle.record_failure()
            form.form_errors.append("That email and password do not match an active account.")
            return render_template("auth/login.html", form=form), 401
        throttle.forget_account_failures()
        session.clear()  # a new session at sign-in: no fixation
        login_user(user)
        return redirect(safe_next(request.args.get("next")))
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@requires()
def logout():
    # Session cookies are signed, not stored: a copy of this one would stay valid after
    # sign-out. A new session token ends it, and with it the account's other sessions.
    current_user.session_token = new_session_token()
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@requires()
def account():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(
                db.session,
                current_user,
                current=form.current_password.data or "",
                new=form.new_password.data or "",
                now=utcnow(),
            )
        except DomainError as error:
            db.session.rollback()
            getattr(form, error.field or "new_password").errors.append(error.message)
        else:
            db.session.commit()
            login_user(current_user)  # the session token rotated: stay signed in here only
            flash("Your password is changed. Other sessions were signed out.", "success")
            return redirect(url_for("auth.account"))
    status = 400 if form.errors else 200
    return render_template(
        "auth/account.html", form=form, availability_form=EmptyForm(prefix="availability")
    ), status


@bp.post("/account/availability")
@requires()
def toggle_availability():
    accounts.set_availability(db.session, current_user, available=not current_user.available)
    db.session.commit()
    flash("You are now " + ("available" if current_user.available else "away") + ".", "info")
    return redirect(safe_next(request.form.get("next")))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    try:
        user = accounts.user_for_reset_token(db.session, token, now=utcnow())
    except DomainError as error:
        return render_template(
            "error.html", status=404, title="Link expired", message=error.message
        ), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        accounts.reset_password(db.session, token, new=form.new_password.data or "", now=utcnow())
        db.session.commit()
        flash("Your password is set. Sign in with it now.", "success")
        return redirect(url_for("auth.login"))
    status = 400 if form.errors else 200
    return render_template("auth/reset.html", form=form, user=user), status
