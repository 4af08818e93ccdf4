"""Every inbox view is read from an index in (sla_due_at, id) order and stops after a page:
no sort of all matching messages, no deep page read from the first row. The query plans
of a generated history (with the planner's statistics) are checked, not timings."""

from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from bench import generate as gen
from respondr.domain import inbox
from respondr.models import Channel, Message


@pytest.fixture(scope="module")
def history(databases):
    url = databases.new()
    gen.generate(url, messages=3000, quiet=True)
    engine = gen.engine_for(url)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))  # PostgreSQL's: the generator's VACUUM ANALYZE
    yield engine
    engine.dispose()


def plan(engine: Any, filters: inbox.InboxFilter, deep: bool) -> str:
    """The plan of the statement ``inbox_page`` sends (the middle page when ``deep``)."""
    seen: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY messages.sla_due_at" in statement:
            seen.append((statement, parameters))

    with Session(engine) as session:
        cursor = None
        if deep:
            query = inbox.inbox_query(session, filters).order_by(Message.sla_due_at, Message.id)
            ids = session.scalars(query.with_only_columns(Message.id)).all()
            middle = session.get(Message, ids[len(ids) // 2])
            assert middle is not None
            cursor = inbox.encode_cursor(middle)
        event.listen(engine, "before_cursor_execute", catch)
        try:
            page = inbox.inbox_page(session, filters, cursor=cursor)
        finally:
            event.remove(engine, "before_cursor_execute", catch)
        assert page.messages
    statement, parameters = seen[-1]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            cur.execute("EXPLAIN " + statement, parameters)
            return "\n".join(row[0] for row in cur.fetchall())
        cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(row[3] for row in cur.fetchall())
    finally:
        raw.close()


def channel_id(engine: Any) -> int:
    with Session(engine) as session:
        return session.scalars(select(Channel.id).order_by(Channel.id)).all()[1]


@pytest.mark.parametrize(
    ("case", "status", "with_channel", "sentiment", "deep"),
    [
        ("open, first page", "open", False, None, False),
        ("all statuses, one channel", "all", True, None, False),
        ("all statuses, one channel, deep page", "all", True, None, True),
        ("published, negative, deep page", "published", False, "negative", True),
    ],
)
def test_an_inbox_page_is_read_in_order_from_an_index(
    history, case, status, with_channel, sentiment, deep
):
    filters = inbox.InboxFilter(
        status=status,
        channel_id=channel_id(history) if with_channel else None,
        sentiment=sentiment,
    )
    shown = plan(history, filters, deep)
    if history.dialect.name == "postgresql":
        assert "Sort" not in shown and "Seq Scan on messages" not in shown, shown
        if deep:  # the page starts at the cursor, not at the index's first row
            assert "Index Cond: (sla_due_at >=" in shown or "AND (sla_due_at >=" in shown, shown
    else:
        lines = shown.splitlines()
        assert "USE TEMP B-TREE FOR ORDER BY" not in lines and "SCAN messages" not in lines, shown
        if deep:
            assert "sla_due_at>?" in shown, shown
