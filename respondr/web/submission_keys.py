"""Every form that changes state carries a one-time submission key; a second use is refused.

The key rides beside the CSRF token: :class:`respondr.web.forms.Form` renders it with its
``csrf_token`` field, and hand-written forms call the ``submission_key_field()`` template
global. A ``before_request`` hook (after the CSRF check) spends a posted key in the
request's transaction (:mod:`respondr.domain.form_submissions`); a key already spent gets
a 409 saying the form was already submitted, and nothing happens a second time. The JSON
API has its own idempotency (external ids, draft versions) and is left alone.
"""

from __future__ import annotations

import re
import secrets

from flask import Flask, Response, g, request
from markupsafe import Markup

from respondr.domain import form_submissions
from respondr.extensions import db
from respondr.timeutil import utcnow

FIELD = "submission_key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
ALREADY_SUBMITTED = (
    "This form was already submitted, and it took effect once; sending it again changes "
    "nothing. Reload the page to see where things stand."
)


def hidden_field() -> Markup:
    """A hidden input with a fresh key: one per rendered form."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, secrets.token_urlsafe(24)
    )


def spend_posted_key():
    """Before a posted form's view runs: spend its key, or answer that it was spent."""
    from respondr.web.errors import error_response

    if request.method != "POST" or request.blueprint == "api":
        return None
    key = request.form.get(FIELD)
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        return error_response(400, "The form is damaged. Reload the page and try again.")
    if form_submissions.spend(db.session, key, now=utcnow()):
        g.submission_key_spent = True
        return None
    db.session.rollback()
    return error_response(409, ALREADY_SUBMITTED)


def release_key_of_refused_form(response: Response) -> Response:
    """A form answered with an error had no effect: its key is not spent, so the same form,
    corrected, can be sent again (whatever the view left uncommitted goes with it)."""
    if g.get("submission_key_spent") and response.status_code >= 400:
        db.session.rollback()
    return response


def init_app(app: Flask) -> None:
    """Call after ``csrf.init_app``: a form without a valid CSRF token spends nothing."""
    app.add_template_global(hidden_field, "submission_key_field")
    app.before_request(spend_posted_key)
    app.after_request(release_key_of_refused_form)
