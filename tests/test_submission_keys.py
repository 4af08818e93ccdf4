"""A form sent twice has one effect: one-time submission keys, over real HTTP on two servers."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from respondr.domain import form_submissions
from respondr.extensions import db as flask_db
from respondr.migrate import upgrade
from respondr.models import ROLES, FormSubmission, Note, StockResponse, User
from respondr.timeutil import utcnow
from respondr.web.submission_keys import FIELD
from tests import factories
from tests.conftest import csrf_token, make_app, serving, sign_in
from tests.url_map import forms_on, routes, seed, url_for_rule


def test_every_form_that_changes_state_carries_its_own_key(app, client, db):
    values = seed(db)
    factories.create_user(db, roles=ROLES, email="everyone@example.com")
    assert sign_in(client, "everyone@example.com").status_code == 302
    keys: list[str] = []
    pages_with_forms = set()
    for rule, method in routes(app):
        if method != "GET" or rule.rule.startswith("/api/"):
            continue
        paths = {url_for_rule(rule, values)}
        if "message_id" in rule.arguments:  # the drafted message shows the approval forms
            paths.add(url_for_rule(rule, {**values, "message_id": values["drafted_message_id"]}))
        for path in paths:
            page = client.get(path)
            if page.status_code != 200 or page.mimetype != "text/html":
                continue
            for form in forms_on(page.get_data(as_text=True)):
                if form["method"] != "post":
                    continue
                pages_with_forms.add(rule.endpoint)
                assert FIELD in form["inputs"], f"a form on {path} ({form['action']}) has no key"
                keys.append(form["inputs"][FIELD])
    assert {"inbox.message_page", "drafts.queue", "auth.account"} <= pages_with_forms
    assert len(keys) == len(set(keys)) > 20  # every rendered form has a key of its own


def note_count(db, message_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Note).where(Note.message_id == message_id))


def test_a_form_sent_again_changes_nothing_and_says_so(client, db, make_user, make_channel):
    make_user(email="agent@example.com")
    message = factories.create_message(db, make_channel())
    sign_in(client, "agent@example.com")
    page = client.get(f"/messages/{message.id}").get_data(as_text=True)
    form = next(f for f in forms_on(page) if f["action"].endswith("/notes"))
    data = {**form["inputs"], "text": "Checking with the warehouse"}
    assert client.post(form["action"], data=data).status_code == 303
    again = client.post(form["action"], data=data)
    assert again.status_code == 409
    assert "This form was already submitted" in again.get_data(as_text=True)
    assert note_count(db, message.id) == 1


def test_a_refused_first_sending_releases_the_key(client, db, make_user):
    make_user(email="admin@example.com", roles="admin")
    sign_in(client, "admin@example.com")
    form = next(
        f
        for f in forms_on(client.get("/stock/new").get_data(as_text=True))
        if f["method"] == "post"
    )
    data = {**form["inputs"], "title": "", "text": "Thank you for writing!", "category": ""}
    assert client.post("/stock/new", data=data).status_code == 400  # no title: nothing saved
    corrected = client.post("/stock/new", data={**data, "title": "Thanks"})
    assert corrected.status_code == 302
    titles = db.scalars(select(StockResponse.title)).all()
    assert titles.count("Thanks") == 1


def test_a_damaged_key_is_refused(client, make_user):
    make_user(email="agent@example.com")
    sign_in(client, "agent@example.com")
    token = csrf_token(client, "/account")
    response = client.post("/account/availability", data={"csrf_token": token, FIELD: "<script>"})
    assert response.status_code == 400
    assert "The form is damaged" in response.get_data(as_text=True)


def test_old_keys_are_pruned_after_a_week(db):
    now = utcnow()
    assert form_submissions.spend(db, "k" * 20, now=now - timedelta(days=8))
    assert form_submissions.spend(db, "n" * 20, now=now - timedelta(days=1))
    assert not form_submissions.spend(db, "n" * 20, now=now)
    assert form_submissions.prune(db, now=now) == 1
    assert db.scalars(select(FormSubmission.key)).all() == ["n" * 20]


@pytest.fixture(scope="module")
def two_servers(databases, tmp_path_factory):
    """Two app servers (separate apps, separate threads, separate ports) on one database."""
    url = databases.new()
    upgrade(url)
    apps = [
        make_app(url, tmp_path_factory.mktemp(f"server-{n}"), SERVER_NAME=None) for n in range(2)
    ]
    with ExitStack() as stack:
        yield [(app, stack.enter_context(serving(app))) for app in apps]


def signed_in_browser(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    login = forms_on(browser.get(base + "/login", timeout=10).text)[-1]["inputs"]
    answer = browser.post(
        base + "/login",
        data={**login, "email": email, "password": factories.PASSWORD},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return browser


def send_twice_at_once(browser, targets: list[str], data: dict[str, str]) -> list[int]:
    """The same POST (same cookies, token and key) to each target URL at the same moment."""
    barrier = threading.Barrier(len(targets))
    statuses: list[int] = []
    texts: list[str] = []

    def send(url: str) -> None:
        barrier.wait()
        answer = requests.post(
            url, data=data, cookies=browser.cookies, allow_redirects=False, timeout=30
        )
        statuses.append(answer.status_code)
        texts.append(answer.text)

    threads = [threading.Thread(target=send, args=(url,)) for url in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    refused = [t for s, t in zip(statuses, texts, strict=True) if s == 409]
    assert all("This form was already submitted" in t for t in refused)
    return sorted(statuses)


@pytest.mark.parametrize("same_server", [True, False], ids=["one-server", "two-servers"])
def test_a_double_submitted_note_is_added_once(two_servers, same_server):
    (app, first), (_, second) = two_servers
    with app.app_context():
        factories.create_user(flask_db.session, email=f"notes-{same_server}@example.com")
        message = factories.create_message(
            flask_db.session, factories.create_channel(flask_db.session)
        )
        message_id = message.id
    browser = signed_in_browser(first, f"notes-{same_server}@example.com")
    page = browser.get(f"{first}/messages/{message_id}", timeout=10).text
    form = next(f for f in forms_on(page) if f["action"].endswith("/notes"))
    targets = [first + form["action"], (first if same_server else second) + form["action"]]
    statuses = send_twice_at_once(browser, targets, {**form["inputs"], "text": "One note"})
    assert statuses == [303, 409]
    with app.app_context():
        assert note_count(flask_db.session, message_id) == 1


def test_a_double_submitted_availability_toggle_toggles_once(two_servers):
    (app, first), (_, second) = two_servers
    with app.app_context():
        user_id = factories.create_user(flask_db.session, email="toggle@example.com").id
    browser = signed_in_browser(first, "toggle@example.com")
    page = browser.get(first + "/account", timeout=10).text
    form = next(f for f in forms_on(page) if f["action"] == "/account/availability")
    statuses = send_twice_at_once(
        browser, [first + form["action"], second + form["action"]], form["inputs"]
    )
    assert statuses == [302, 409]
    with app.app_context():
        assert flask_db.session.get(User, user_id).available is False  # away, not back again
