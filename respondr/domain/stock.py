"""The stock response library: reusable replies with ``{placeholders}``.

Placeholders respondr knows (:data:`KNOWN_PLACEHOLDERS`) are filled when a response is
inserted into a draft; any other ``{name}`` is a custom placeholder the agent fills by
hand — a draft still holding one cannot be submitted, so it never reaches a fan.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from respondr.domain import audit, policy
from respondr.domain.errors import NotFound, ValidationError
from respondr.models import CATEGORIES, INTENTS, Message, StockResponse, User

KNOWN_PLACEHOLDERS = ("fan_name", "channel_name", "agent_name")
STOCK_CATEGORIES = (*CATEGORIES, *INTENTS)


def placeholder_values(message: Message, agent: User) -> dict[str, str]:
    return {
        "fan_name": message.fan.display_name or message.fan.handle,
        "channel_name": message.channel.name,
        "agent_name": agent.name.split()[0],
    }


def _validate(title: str, text: str, category: str | None) -> tuple[str, str]:
    title, text = title.strip(), text.strip()
    if not title:
        raise ValidationError("Give the response a title.", "title")
    if not text:
        raise ValidationError("Write the response text.", "text")
    if len(title) > 200:
        raise ValidationError("Keep the title under 200 characters.", "title")
    if category is not None and category not in STOCK_CATEGORIES:
        raise ValidationError(f"Category must be one of {', '.join(STOCK_CATEGORIES)}.", "category")
    try:
        policy.unknown_placeholders(text, KNOWN_PLACEHOLDERS)  # checks every brace
    except policy.TemplateError as error:
        raise ValidationError(str(error), "text") from None
    return title, text


def create(
    session: Session,
    *,
    title: str,
    text: str,
    category: str | None,
    pre_approved: bool,
    actor: User | None,
    now: datetime,
) -> StockResponse:
    title, text = _validate(title, text, category)
    response = StockResponse(
        title=title,
        text=text,
        category=category,
        pre_approved=pre_approved,
        created_at=now,
        updated_at=now,
    )
    session.add(response)
    audit.record(
        session,
        actor=actor,
        action="stock_response.create",
        target=response,
        details={"title": title, "pre_approved": pre_approved},
        now=now,
    )
    return response


def update(
    session: Session,
    response: StockResponse,
    *,
    title: str,
    text: str,
    category: str | None,
    pre_approved: bool,
    active: bool,
    actor: User,
    now: datetime,
) -> None:
    title, text = _validate(title, text, category)
    wanted = {
        "title": title,
        "text": text,
        "category": category,
        "pre_approved": pre_approved,
        "active": active,
    }
    changes = {k: [getattr(response, k), v] for k, v in wanted.items() if getattr(response, k) != v}
    if not changes:
        return
    for key, (_, new) in changes.items():
        setattr(response, key, new)
    response.updated_at = now
    audit.record(
        session,
        actor=actor,
        action="stock_response.update",
        target=response,
        details=changes,
        now=now,
    )


def search(words: str = "", *, include_archived: bool = False) -> Select[StockResponse]:
    """Responses whose title, text or category contain every word, most used first."""
    query = select(StockResponse).order_by(StockResponse.usage_count.desc(), StockResponse.title)
    if not include_archived:
        query = query.where(StockResponse.active.is_(True))
    for word in words.split()[:10]:
        query = query.where(
            or_(
                StockResponse.title.icontains(word, autoescape=True),
                StockResponse.text.icontains(word, autoescape=True),
                StockResponse.category.icontains(word, autoescape=True),
            )
        )
    return query


def get(session: Session, response_id: int) -> StockResponse:
    response = session.get(StockResponse, response_id)
    if response is None or not response.active:
        raise NotFound(f"There is no stock response {response_id}.", "stock_response_id")
    return response
