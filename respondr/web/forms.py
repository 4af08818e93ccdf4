"""WTForms forms; Flask-WTF adds the session CSRF token to each, and :class:`Form` a
one-time submission key beside it (:mod:`respondr.web.submission_keys`)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from respondr.domain.accounts import MIN_PASSWORD_LENGTH
from respondr.models import CATEGORIES, CHANNEL_KINDS, CONNECTORS, INTENTS, ROLES
from respondr.web import submission_keys


class Form(FlaskForm):
    """The base of every respondr form: wherever the CSRF token is rendered, a fresh
    submission key is rendered with it, so a form sent twice has one effect."""

    class Meta:
        def render_field(self, field: Field, render_kw: dict[str, Any]) -> str:
            html = super().render_field(field, render_kw)
            if field.type == "CSRFTokenField":
                return html + submission_keys.hidden_field()
            return html


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignInForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class ChangePasswordForm(Form):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )


class ResetPasswordForm(Form):
    new_password = PasswordField(
        "New password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )


class EmptyForm(Form):
    """For buttons that change state: carries only the CSRF token."""


class UserForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    roles = MultiCheckboxField(
        "Roles",
        choices=[SelectChoice(r, r.capitalize()) for r in ROLES],
        validators=[DataRequired()],
    )
    trusted = BooleanField("Trusted (policies may let their replies out without approval)")
    active = BooleanField("Active", default=True)
    password = PasswordField(
        "Initial password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)]
    )


class EditUserForm(UserForm):
    email = None  # type: ignore[assignment]  # an account's email is its identity
    password = None  # type: ignore[assignment]  # reset links replace passwords set by others


class OrganisationForm(Form):
    name = StringField("Brand name", validators=[DataRequired(), Length(max=120)])
    timezone = StringField("Timezone", validators=[DataRequired(), Length(max=64)], default="UTC")
    claim_lapse_minutes = IntegerField(
        "A claim lapses after (idle minutes)", validators=[DataRequired(), NumberRange(min=1)]
    )
    sla_warning_minutes = IntegerField(
        "Warn before an SLA runs out (minutes)", validators=[DataRequired(), NumberRange(min=1)]
    )


class ChannelForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        "Kind", choices=[SelectChoice(k, k.replace("_", " ").title()) for k in CHANNEL_KINDS]
    )
    sla_minutes = IntegerField(
        "SLA target (minutes)",
        default=60,
        validators=[DataRequired(), NumberRange(1, 60 * 24 * 14)],
    )
    connector = SelectField(
        "Publish connector", choices=[SelectChoice(c, c.title()) for c in CONNECTORS]
    )
    connector_url = StringField(
        "Connector URL (webhook address, or a Graph API base URL for Facebook)",
        validators=[Optional(), URL(require_tld=False), Length(max=2000)],
    )
    connector_token = PasswordField(
        "Connector secret or page token (stored encrypted; leave blank to keep the current one)",
        validators=[Optional(), Length(max=4000)],
    )
    page_id = StringField("Facebook page id", validators=[Optional(), Length(max=64)])
    feed_url = StringField(
        "Comments feed URL (blogs)",
        validators=[Optional(), URL(require_tld=False), Length(max=2000)],
    )
    active = BooleanField("Active", default=True)


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = SelectField("Who", choices=[], validate_choice=False)
    action = StringField("What (action starts with)", validators=[Optional(), Length(max=64)])
    since = DateField("From", validators=[Optional()])
    until = DateField("To (included)", validators=[Optional()])


class StockResponseForm(Form):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    text = TextAreaField("Text", validators=[DataRequired(), Length(max=5000)])
    category = SelectField(
        "Category",
        choices=[SelectChoice("", "Any")]
        + [SelectChoice(c, c.replace("_", " ")) for c in (*CATEGORIES, *INTENTS)],
    )
    pre_approved = BooleanField("Pre-approved (policies may let it out unedited)")
    active = BooleanField("In the library", default=True)


class ChannelPolicyForm(Form):
    """One channel's policy; the choices are the policies, filled in by the view."""

    policy = SelectField("Policy", choices=[])


class PolicyVersionForm(Form):
    rules = TextAreaField(
        "Rules (JSON)",
        validators=[DataRequired(), Length(max=200_000)],
        render_kw={"rows": 24, "class": "rules-json", "spellcheck": "false"},
    )
    escalate_after_minutes = IntegerField(
        "Escalate pending approvals after (minutes)",
        validators=[Optional(), NumberRange(1, 60 * 24 * 14)],
    )
    note = StringField("What changed, and why", validators=[DataRequired(), Length(max=500)])


class NewPolicyForm(PolicyVersionForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=2000)], render_kw={"rows": 2})
    note = None  # type: ignore[assignment]  # the first version's note is "created"


class TryPolicyForm(Form):
    """A reply to try on a policy version: read-only, but posted, with the CSRF token."""

    message = SelectField("Message", choices=[], coerce=int)
    message_id = IntegerField(
        "Or a message number", validators=[Optional(), NumberRange(1, 2**31 - 1)]
    )
    author = SelectField("Written by", choices=[], coerce=int)
    stock_response = SelectField("Starting from a stock response", choices=[])
    text = TextAreaField(
        "The reply", validators=[DataRequired(), Length(max=50_000)], render_kw={"rows": 5}
    )
