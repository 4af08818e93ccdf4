"""Connects the signal receivers, in one place."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from respondr.domain import stage_totals
from respondr.models import Draft, Message, PublishedReply, Submission, WorkflowEvent
from respondr.signals import WORKFLOW_EVENT_KINDS


def _ids(sender: Any) -> dict[str, int | None]:
    """The message, draft and submission a signal's sender belongs to."""
    if isinstance(sender, Message):
        return {"message_id": sender.id, "draft_id": None, "submission_id": None}
    if isinstance(sender, Draft):
        return {"message_id": sender.message_id, "draft_id": sender.id, "submission_id": None}
    if isinstance(sender, Submission):
        return {
            "message_id": sender.draft.message_id,
            "draft_id": sender.draft_id,
            "submission_id": sender.id,
        }
    if isinstance(sender, PublishedReply):
        return {"message_id": sender.message_id, "draft_id": sender.draft_id, "submission_id": None}
    raise TypeError(f"workflow signal sent by {type(sender).__name__}")


def _event_writer(kind: str):
    def write_workflow_event(sender: Any, *, session, actor, at, data=None, **_: Any) -> None:
        state = inspect(sender)
        if not state.persistent or state.modified:
            # The sender needs its id (and its links). A stored, unchanged sender has
            # them already: no flush, so a batch's events are written together.
            session.flush()
        ids = _ids(sender)
        session.add(
            WorkflowEvent(
                kind=kind,
                actor_id=actor.id if actor is not None else None,
                at=at,
                data=data or {},
                **ids,
            )
        )
        stage_totals.note_event(session, kind, ids["message_id"])

    return write_workflow_event


_connected: list[Any] = []


def connect_receivers() -> None:
    """Connect every receiver once per process (signals are process-global)."""
    if _connected:
        return
    # The stored stage rows of the messages whose events were written commit with them.
    event.listen(Session, "before_commit", stage_totals.refresh_pending)
    for signal, kind in WORKFLOW_EVENT_KINDS.items():
        receiver = _event_writer(kind)
        _connected.append(receiver)  # blinker holds receivers weakly
        signal.connect(receiver)
