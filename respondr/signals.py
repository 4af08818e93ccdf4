"""The workflow signal catalogue.

Every step of a message's life is announced here, once. Each signal is sent with the
affected object as sender and these keyword arguments:

- ``session``: the SQLAlchemy session of the transaction doing the change;
- ``actor``: the :class:`~respondr.models.User` acting, or ``None`` for the system;
- ``at``: the aware UTC time the step happened;
- ``data``: a JSON-able dict of step details (optional).

Receivers that write rows (the workflow event table) run inside the transaction;
anything with an outside effect (mail, queue, live updates) must wait for the commit.
The receivers are connected in :mod:`respondr.receivers`.
"""

from blinker import Namespace

_signals = Namespace()

message_received = _signals.signal("message-received")
"""A fan message was stored. Sender: the Message."""

message_routed = _signals.signal("message-routed")
"""Routing assigned a message to a person or team. Sender: the Message.
``data``: ``assignee_id`` and/or ``team_id``, ``rule_id``."""

message_claimed = _signals.signal("message-claimed")
"""An agent took exclusive hold of a message. Sender: the Message."""

message_released = _signals.signal("message-released")
"""The holder gave a claim back to the pool. Sender: the Message."""

claim_lapsed = _signals.signal("claim-lapsed")
"""A claim ended because its holder did nothing for the lapse time. Sender: the Message.
``data``: ``holder_id``."""

message_reassigned = _signals.signal("message-reassigned")
"""A manager moved a message or took over a claim. Sender: the Message.
``data``: ``from_id``, ``to_id``."""

message_recategorised = _signals.signal("message-recategorised")
"""A person corrected category or intent. Sender: the Message. ``data``: old and new."""

note_added = _signals.signal("note-added")
"""A staff note was written on a message. Sender: the Message. ``data``: ``note_id``."""

draft_started = _signals.signal("draft-started")
"""The first draft of a reply was saved. Sender: the Draft."""

draft_submitted = _signals.signal("draft-submitted")
"""A draft was submitted and the policy evaluated it. Sender: the Submission.
``data``: ``outcome``, ``policy_version_id``, ``rule_number``, ``author_trusted``."""

approval_required = _signals.signal("approval-required")
"""The policy held a submission for approval. Sender: the Submission. ``data``: ``steps``."""

draft_approved = _signals.signal("draft-approved")
"""An approver cleared a step (``data``: ``step``, ``final``, ``edited``). Sender: the
Submission."""

draft_rejected = _signals.signal("draft-rejected")
"""An approver sent a draft back with a note. Sender: the Submission."""

approval_escalated = _signals.signal("approval-escalated")
"""A pending approval passed the policy's limit. Sender: the Submission."""

publish_attempted = _signals.signal("publish-attempted")
"""A connector tried to post a reply. Sender: the Draft. ``data``: ``attempt``, ``outcome``."""

reply_published = _signals.signal("reply-published")
"""A reply reached the channel. Sender: the PublishedReply."""

publish_failed = _signals.signal("publish-failed")
"""Publishing gave up after the last attempt. Sender: the Draft. ``data``: ``error``."""

message_closed = _signals.signal("message-closed")
"""A message was closed without a reply. Sender: the Message. ``data``: ``reason``."""

message_reopened = _signals.signal("message-reopened")
"""A closed message went back to the queue. Sender: the Message."""

sla_breached = _signals.signal("sla-breached")
"""A message passed its channel's SLA target unanswered. Sender: the Message."""

sla_warning = _signals.signal("sla-warning")
"""A message about to breach its SLA was flagged to the people who should act. Sender: the
Message. ``data``: ``due_at``, ``notified`` (user ids)."""

# The event-table kind each signal writes.
WORKFLOW_EVENT_KINDS = {
    message_received: "received",
    message_routed: "routed",
    message_claimed: "claimed",
    message_released: "released",
    claim_lapsed: "lapsed",
    message_reassigned: "reassigned",
    message_recategorised: "recategorised",
    note_added: "note_added",
    draft_started: "draft_started",
    draft_submitted: "submitted",
    approval_required: "approval_required",
    draft_approved: "approved",
    draft_rejected: "rejected",
    approval_escalated: "escalated",
    publish_attempted: "publish_attempted",
    reply_published: "published",
    publish_failed: "publish_failed",
    message_closed: "closed",
    message_reopened: "reopened",
    sla_breached: "sla_breached",
    sla_warning: "sla_warned",
}
