"""A draft's history: every version with what it changed, among the workflow events."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respondr.domain import drafting, history, triage
from respondr.timeutil import utcnow
from tests import factories
from tests.conftest import sign_in


@pytest.fixture
def world(db, make_user, make_message):
    """Lena's birthday message on a channel where corporate clears every reply."""
    channel = factories.create_held_channel(db, name="Bernie the Bookworm")
    return {
        "message": make_message(channel, text="It's my birthday!", handle="lena"),
        "bernie": make_user(name="Bernie Adler", email="bernie@example.com"),
        "carol": make_user(name="Carol Whitfield", email="carol@example.com", roles="approver"),
    }


def clock():
    """A clock that moves a minute each time it is read, so the order is unambiguous."""
    start = utcnow() - timedelta(hours=1)
    return (start + timedelta(minutes=n) for n in range(1000))


def rejected_then_approved_with_an_edit(db, world):
    """save, save (edited), submit (held), reject with a note, note, save, submit, approve
    with an edit."""
    bernie, carol, message = world["bernie"], world["carol"], world["message"]
    tick = clock()

    def save(text, version):
        return drafting.save_draft(
            db, message, author=bernie, text=text, version=version, now=next(tick)
        )

    draft = save("Happy birthday!", None)
    save("Happy birthday, Lena!", 1)
    drafting.submit(db, draft, actor=bernie, now=next(tick))
    drafting.reject(
        db, draft, approver=carol, note="Mention the bookmark offer, please.", now=next(tick)
    )
    triage.add_note(
        db, message, text="Lena comes to Elm Street weekly.", actor=bernie, now=next(tick)
    )
    save("Happy birthday, Lena! Enjoy a free bookmark today.", 2)
    drafting.submit(db, draft, actor=bernie, now=next(tick))
    drafting.approve(
        db,
        draft,
        approver=carol,
        text="Happy birthday, Lena! Enjoy a free bookmark at any store.",
        now=next(tick),
    )
    db.commit()
    return draft


def entries_of(page: str) -> list[str]:
    """The history's entries as text, tags left in (the diff's <ins> and <del> matter)."""
    items = re.findall(r'<li class="history-[^"]*">(.*?)</li>', page, re.DOTALL)
    return [
        re.sub(r"\s+", " ", re.sub(r"</?(?!ins|del)[a-z][^>]*>", "", item)).strip()
        for item in items
    ]


def test_the_history_shows_every_version_with_its_changes_among_the_decisions(client, db, world):
    draft = rejected_then_approved_with_an_edit(db, world)
    sign_in(client, "bernie@example.com")
    response = client.get(f"/drafts/{draft.id}/history")
    assert response.status_code == 200
    entries = entries_of(response.get_data(as_text=True))
    whats = [re.sub(r"^\S+ \S+ \S+ ", "", entry) for entry in entries]  # the time cut off
    assert whats == [
        "Bernie Adler claimed the message",
        "Bernie Adler started the draft",
        "Bernie Adler wrote version 1 Happy birthday!",
        "Bernie Adler saved version 2 Happy <del>birthday!</del><ins>birthday, Lena!</ins>",
        "Bernie Adler submitted it: held for approval by rule 1 of Corporate clears all v1 "
        "Needs approval: every reply is cleared by corporate — rule 1 of Corporate clears all v1",
        "Waiting for approval from 1 approver",
        "Carol Whitfield sent it back Mention the bookmark offer, please.",
        "Bernie Adler added an internal note Lena comes to Elm Street weekly.",
        "Bernie Adler saved version 3 "
        "Happy birthday, Lena!<ins> Enjoy a free bookmark today.</ins>",
        "Bernie Adler submitted it: held for approval by rule 1 of Corporate clears all v1 "
        "Needs approval: every reply is cleared by corporate — rule 1 of Corporate clears all v1",
        "Waiting for approval from 1 approver",
        "Carol Whitfield edited it while approving: version 4 by the approver "
        "Happy birthday, Lena! Enjoy a free bookmark <del>today.</del><ins>at any store.</ins>",
        "Carol Whitfield approved after editing it: the reply goes out",
    ]


def test_the_approvers_edit_is_marked_as_theirs(client, db, world):
    draft = rejected_then_approved_with_an_edit(db, world)
    sign_in(client, "carol@example.com")
    page = client.get(f"/drafts/{draft.id}/history").get_data(as_text=True)
    assert page.count('class="history-version by-approver"') == 1
    assert page.count('class="history-version"') == 3


def test_html_in_a_draft_or_a_note_is_shown_as_text(client, db, world):
    bernie, carol, message = world["bernie"], world["carol"], world["message"]
    draft = drafting.save_draft(
        db, message, author=bernie, text="Happy birthday!", version=None, now=utcnow()
    )
    drafting.save_draft(
        db,
        message,
        author=bernie,
        text='Happy birthday! <script>alert("hi")</script>',
        version=1,
        now=utcnow(),
    )
    drafting.submit(db, draft, actor=bernie, now=utcnow())
    drafting.reject(db, draft, approver=carol, note="No <b>markup</b>, please.", now=utcnow())
    db.commit()
    sign_in(client, "bernie@example.com")
    page = client.get(f"/drafts/{draft.id}/history").get_data(as_text=True)
    assert "<script>alert" not in page and "<b>markup" not in page
    assert "<ins> &lt;script&gt;alert(&#34;hi&#34;)&lt;/script&gt;</ins>" in page
    assert "No &lt;b&gt;markup&lt;/b&gt;, please." in page


def test_the_reply_box_and_the_approval_queue_link_to_the_history(app, client, db, world):
    bernie, message = world["bernie"], world["message"]
    draft = drafting.save_draft(
        db, message, author=bernie, text="Happy birthday!", version=None, now=utcnow()
    )
    drafting.submit(db, draft, actor=bernie, now=utcnow())
    db.commit()
    link = f'href="/drafts/{draft.id}/history"'
    sign_in(client, "bernie@example.com")
    assert link in client.get(f"/messages/{message.id}").get_data(as_text=True)
    approver = app.test_client()
    sign_in(approver, "carol@example.com")
    assert link in approver.get("/approvals").get_data(as_text=True)


def test_an_unknown_draft_has_no_history(client, db, world):
    sign_in(client, "bernie@example.com")
    assert client.get("/drafts/999999/history").status_code == 404


@pytest.mark.parametrize(
    ("old", "new", "pieces"),
    [
        ("", "Hello", [("insert", "Hello")]),
        ("Hello", "", [("delete", "Hello")]),
        ("Same text", "Same text", [("equal", "Same text")]),
        (
            "one two three",
            "one three",
            [("equal", "one"), ("delete", " two"), ("equal", " three")],
        ),
        ("a b", "c d", [("delete", "a b"), ("insert", "c d")]),
        (
            "Thanks!\nBernie",
            "Thanks so much!\nBernie",
            [("delete", "Thanks!"), ("insert", "Thanks so much!"), ("equal", "\nBernie")],
        ),
    ],
)
def test_word_differences(old, new, pieces):
    assert history.diff_words(old, new) == pieces


TEXTS = st.text(alphabet=st.sampled_from("ab \n<&é"), max_size=40)


@given(old=TEXTS, new=TEXTS)
def test_the_pieces_spell_both_texts(old, new):
    pieces = history.diff_words(old, new)
    assert all(text for _, text in pieces)
    assert "".join(text for op, text in pieces if op != "insert") == old
    assert "".join(text for op, text in pieces if op != "delete") == new


def test_a_long_text_with_scattered_changes_is_compared_quickly():
    words = [f"word{n % 150}" for n in range(9000)]  # about 60,000 characters
    changed = list(words)
    for n in range(0, len(changed), 300):
        changed[n] = "CHANGED"
    started = time.monotonic()
    pieces = history.diff_words(" ".join(words), " ".join(changed))
    assert time.monotonic() - started < 5
    assert "".join(text for op, text in pieces if op != "delete") == " ".join(changed)
