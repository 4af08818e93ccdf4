"""The stock response library: everyone reads it; managers and admins edit it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from respondr.domain import stock
from respondr.extensions import db
from respondr.models import StockResponse
from respondr.timeutil import utcnow
from respondr.web.admin import errors_on
from respondr.web.forms import StockResponseForm
from respondr.web.permissions import requires

bp = Blueprint("stock", __name__, url_prefix="/stock")
EDITORS = ("manager", "admin")


@bp.get("/")
@requires()
def index():
    words = request.args.get("q", "")[:200]
    responses = db.session.scalars(stock.search(words, include_archived=True)).all()
    return render_template(
        "stock/index.html", responses=responses, q=words, known=stock.KNOWN_PLACEHOLDERS
    )


def _form_values(form: StockResponseForm) -> dict[str, object]:
    return {
        "title": form.title.data or "",
        "text": form.text.data or "",
        "category": form.category.data or None,
        "pre_approved": form.pre_approved.data,
    }


@bp.route("/new", methods=["GET", "POST"])
@requires(*EDITORS)
def new():
    form = StockResponseForm()
    if form.validate_on_submit():
        with errors_on(form):
            response = stock.create(
                db.session, **_form_values(form), actor=current_user, now=utcnow()
            )
            db.session.commit()
            flash(f"Added “{response.title}”.", "success")
            return redirect(url_for("stock.index"))
    return render_template(
        "stock/form.html", form=form, response=None, known=stock.KNOWN_PLACEHOLDERS
    ), 400 if form.errors else 200


@bp.route("/<int:response_id>", methods=["GET", "POST"])
@requires(*EDITORS)
def edit(response_id: int):
    response = db.session.get(StockResponse, response_id)
    if response is None:
        abort(404)
    form = StockResponseForm(obj=response)
    if form.validate_on_submit():
        with errors_on(form):
            stock.update(
                db.session,
                response,
                **_form_values(form),
                active=form.active.data,
                actor=current_user,
                now=utcnow(),
            )
            db.session.commit()
            flash(f"Saved “{response.title}”.", "success")
            return redirect(url_for("stock.index"))
    return render_template(
        "stock/form.html", form=form, response=response, known=stock.KNOWN_PLACEHOLDERS
    ), 400 if form.errors else 200
