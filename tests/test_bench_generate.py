"""The benchmark history generator writes histories the app reads like live data, and the
hand-written SQL the latency benchmark compares against agrees with the report."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench import generate as gen
from bench.probe import hand_sql_stats, report_stats
from respondr.models import Message, MessageStageTotals, PublishedReply, WorkflowEvent
from tests.test_stage_totals import assert_rows_are_fresh


def _history(url: str) -> list[tuple[str, str, str]]:
    engine = gen.engine_for(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Message.external_id, Message.text, Message.status).order_by(Message.id)
            )
            return [tuple(row) for row in rows]
    finally:
        engine.dispose()


def test_generated_history_reads_like_live_data(databases):
    url = databases.new()
    gen.generate(url, messages=400, per_day=100, quiet=True)
    engine = gen.engine_for(url)
    try:
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(Message)) == 400
            published = session.scalar(select(func.count()).select_from(PublishedReply))
            received = session.scalar(
                select(func.count())
                .select_from(WorkflowEvent)
                .where(WorkflowEvent.kind == "received")
            )
            report = report_stats(session)
            hand = hand_sql_stats(session)
            stored = session.scalar(select(func.count()).select_from(MessageStageTotals))
            assert_rows_are_fresh(session)
    finally:
        engine.dispose()
    assert received == 400
    assert 200 < published < 400  # most answered; some closed or still open at the end
    assert report["ttfr"]["count"] == published
    assert stored == 400  # every message's stage row, equal to the events' figures
    for stage, figures in hand.items():
        for name, value in figures.items():
            expected = report[stage][name]
            assert (value is None) == (expected is None), (stage, name)
            if value is not None:
                assert abs(value - expected) < 0.002, (stage, name, value, expected)


def test_the_same_seed_gives_the_same_history(databases):
    first, second = databases.new(), databases.new()
    for url in (first, second):
        gen.generate(url, messages=150, per_day=100, seed=3, quiet=True)
    assert _history(first) == _history(second)
    assert len({status for _id, _text, status in _history(first)}) > 2
