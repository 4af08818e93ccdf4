"""The approval policies that ship with respondr.

A rule is ``{"conditions": {...}, "outcome": ..., "steps": [...], "reason": ...}``; all
conditions must hold for the rule to decide. Conditions (all optional):
``author_trusted`` (bool), ``author_roles`` (any of), ``channel_ids``, ``categories``,
``intents``, ``sentiment_below`` (VADER compound), ``watch_list_in`` ("message", "draft"
or "either"), ``unedited_stock`` (bool), ``followers_at_least``,
``outside_business_hours`` (bool), ``author_approved_fewer_than``.
Outcomes: ``publish``, ``needs_approval`` (with ordered ``steps``, each
``{"role": R}`` or ``{"team_id": T}`` with ``"count"`` 1, N or ``"all"``), ``blocked``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr.models import ApprovalPolicy, PolicyVersion

ONE_APPROVER = [{"role": "approver", "count": 1}]

PRESETS: list[dict[str, Any]] = [
    {
        "slug": "corporate-clears-all",
        "name": "Corporate clears all",
        "description": "Every reply, however small, waits for an approver.",
        "rules": [
            {
                "conditions": {},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "every reply is cleared by corporate",
            }
        ],
    },
    {
        "slug": "stock-responses-free",
        "name": "Stock responses free",
        "description": "Unedited pre-approved stock responses go out; everything else waits.",
        "rules": [
            {
                "conditions": {"unedited_stock": True},
                "outcome": "publish",
                "reason": "the reply is an unedited pre-approved stock response",
            },
            {
                "conditions": {},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "the reply is not an unedited pre-approved stock response",
            },
        ],
    },
    {
        "slug": "risk-based",
        "name": "Risk-based",
        "description": "Negative sentiment, complaints and watch-listed words need clearing.",
        "rules": [
            {
                "conditions": {"sentiment_below": -0.05},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "the message reads as negative",
            },
            {
                "conditions": {"intents": ["complaint"]},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "the message is a complaint",
            },
            {
                "conditions": {"watch_list_in": "either"},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "the message or the reply contains a watch-listed word",
            },
            {"conditions": {}, "outcome": "publish", "reason": "nothing in it is risky"},
        ],
    },
    {
        "slug": "trusted-staff-free",
        "name": "Trusted staff free",
        "description": "Trusted staff post freely; everyone else's replies are cleared.",
        "rules": [
            {
                "conditions": {"author_trusted": True},
                "outcome": "publish",
                "reason": "the author is trusted",
            },
            {
                "conditions": {},
                "outcome": "needs_approval",
                "steps": ONE_APPROVER,
                "reason": "the author is not trusted yet",
            },
        ],
    },
    {
        "slug": "open",
        "name": "Open",
        "description": "Every reply goes straight out.",
        "rules": [{"conditions": {}, "outcome": "publish", "reason": "the policy is open"}],
    },
]


def ensure_presets(session: Session, *, now: datetime) -> dict[str, ApprovalPolicy]:
    """Create any missing preset (version 1); existing ones, maybe edited, are left alone."""
    policies: dict[str, ApprovalPolicy] = {}
    for preset in PRESETS:
        policy = session.scalar(select(ApprovalPolicy).where(ApprovalPolicy.slug == preset["slug"]))
        if policy is None:
            policy = ApprovalPolicy(
                slug=preset["slug"],
                name=preset["name"],
                description=preset["description"],
                preset=True,
                created_at=now,
            )
            policy.versions.append(
                PolicyVersion(number=1, rules=preset["rules"], note="as shipped", created_at=now)
            )
            session.add(policy)
        policies[preset["slug"]] = policy
    session.flush()
    return policies
