"""All models, imported here so ``Base.metadata`` knows every table."""

from respondr.models.base import Base, UTCDateTime
from respondr.models.channels import CHANNEL_KINDS, CONNECTORS, Channel, RoutingRule
from respondr.models.drafts import (
    ApprovalDecision,
    Draft,
    DraftVersion,
    PublishedReply,
    PublishJob,
    StockResponse,
    Submission,
)
from respondr.models.events import AuditEntry, WorkflowEvent
from respondr.models.form_submissions import FormSubmission
from respondr.models.messages import (
    CATEGORIES,
    CLOSE_REASONS,
    INTENTS,
    Fan,
    Message,
    MessageViewer,
    Note,
)
from respondr.models.organisation import Organisation
from respondr.models.policies import ApprovalPolicy, PolicyVersion
from respondr.models.stage_totals import MessageStageTotals
from respondr.models.users import ROLES, ApiToken, Notification, Team, User, UserRole

__all__ = [
    "CATEGORIES",
    "CHANNEL_KINDS",
    "CLOSE_REASONS",
    "CONNECTORS",
    "INTENTS",
    "ROLES",
    "ApiToken",
    "ApprovalDecision",
    "ApprovalPolicy",
    "AuditEntry",
    "Base",
    "Channel",
    "Draft",
    "DraftVersion",
    "Fan",
    "FormSubmission",
    "Message",
    "MessageStageTotals",
    "MessageViewer",
    "Note",
    "Notification",
    "Organisation",
    "PolicyVersion",
    "PublishJob",
    "PublishedReply",
    "RoutingRule",
    "StockResponse",
    "Submission",
    "Team",
    "UTCDateTime",
    "User",
    "UserRole",
    "WorkflowEvent",
]
