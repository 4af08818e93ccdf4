"""What respondr reads from a fan message as it arrives: sentiment, category, intent, priority.

Everything here is a pure function of plain values (text, lists of words, numbers), so it
is unit-tested without a database; :mod:`respondr.domain.ingest` feeds it the
organisation's keyword lists and handles and stores the results on the message.

Words and phrases from the organisation's lists match case-insensitively as whole words
or phrases: "app" matches "the app crashed" but not "happy"; "gift card" matches
"Gift  Card" across any run of spaces; a straight apostrophe also matches a curly one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's compound score: at or above +0.05 reads as positive, at or below -0.05 negative.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05
# VADER's cost grows faster than the text: a fan says what they mean early, so only the
# first characters are scored (0.02 s at most, where 100,000 characters can take a minute).
SENTIMENT_SCAN_CHARS = 2000
# Where no keyword names the intent, sentiment this clear makes it praise or a complaint.
INTENT_SENTIMENT_AT = 0.3

# Channel kinds where the fan writes in a space the brand owns: a post or comment on our
# Facebook page, a comment on our blog, an email to us. There a fan addresses the brand.
OWNED_CHANNEL_KINDS = frozenset({"facebook_page", "blog", "email"})

GREETINGS = ("hi", "hey", "hello", "dear", "thanks", "thank you", "cheers", "yo")
URL = re.compile(r"https?://\S+", re.IGNORECASE)


@cache
def _analyser() -> SentimentIntensityAnalyzer:
    """VADER reads its lexicon files when built: once per process is enough."""
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER's compound score of ``text``, from -1 (most negative) to +1 (most positive)."""
    if not text.strip():
        return 0.0
    score = float(_analyser().polarity_scores(text[:SENTIMENT_SCAN_CHARS])["compound"])
    return round(score, 4)


def sentiment_label(score: float) -> str:
    """``positive`` at or above +0.05, ``negative`` at or below -0.05, else ``neutral``."""
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def _term_regex(term: str) -> str:
    words = [re.escape(w).replace("'", "['’]") for w in term.replace("’", "'").split()]
    return r"\s+".join(words)


@lru_cache(maxsize=256)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = sorted({_term_regex(t) for t in terms if t.strip()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _terms(values: Iterable[Any] | str | None) -> tuple[str, ...]:
    """The usable terms of a list from the settings (a lone string counts as one term)."""
    if isinstance(values, str):
        values = [values]
    return tuple(v for v in (values or ()) if isinstance(v, str) and v.strip())


def find_term(text: str, terms: Iterable[Any] | str | None) -> str | None:
    """The first of ``terms`` that ``text`` contains as a whole word or phrase, as written
    in the text; None when there is none. Non-string entries are ignored."""
    pattern = _pattern(_terms(terms))
    if pattern is None:
        return None
    found = pattern.search(text)
    return found.group(0) if found else None


def contains_term(text: str, terms: Iterable[Any] | str | None) -> bool:
    """Whether ``text`` contains any of ``terms`` as a whole word or phrase."""
    return find_term(text, terms) is not None


@lru_cache(maxsize=64)
def _addressing(handles: tuple[str, ...]) -> re.Pattern[str] | None:
    """Text that speaks *to* one of the brand's handles or names.

    An ``@handle`` anywhere addresses the brand. A bare name addresses it when used as a
    vocative: opening the message ("Bernie, …", "Hi Bernie!") or closing it after a comma
    or a greeting ("…, Bernie!", "thanks Bernie 📚").
    """
    bare = {h.strip().lstrip("@") for h in handles}
    bare.discard("")
    if not bare:
        return None
    names = "|".join(sorted((_term_regex(b) for b in bare), key=len, reverse=True))
    greeting = "|".join(_term_regex(g) for g in GREETINGS)
    return re.compile(
        rf"(?<![\w@])@(?:{names})(?!\w)"
        rf"|^\W*(?:(?:{greeting})\W+)?(?:{names})(?!\w)\s*(?:[,:;!?.…—-]|$)"
        rf"|(?:,|(?<!\w)(?:{greeting}))\s*(?:{names})\W*$",
        re.IGNORECASE,
    )


def addresses_brand(text: str, handles: Iterable[Any] | str | None) -> bool:
    """Whether the fan speaks to the brand: ``@handle``, or a name used to address it."""
    pattern = _addressing(_terms(handles))
    return pattern is not None and pattern.search(text) is not None


def classify_category(
    text: str,
    *,
    handles: Sequence[Any],
    keyword_lists: Mapping[str, Any],
    owned_space: bool,
) -> str | None:
    """One of the four monitoring categories, or None when nothing says which.

    In order, the first that holds decides:

    1. the fan addresses the brand (``@handle``, or a handle or name used as a vocative:
       "Bernie, …", "thanks Bernie!") → ``to_brand``;
    2. the text names the brand (one of its handles or names) without addressing it →
       ``about_brand``, except in a space the brand owns, where naming it is talking to
       it → ``to_brand``;
    3. a ``product_features`` keyword → ``product_features``;
    4. an ``industry`` keyword → ``industry``;
    5. the message was written in a space the brand owns (``owned_space``: a post or
       comment on our page or blog, an email to us) → ``to_brand``: the fan writes to us
       even without naming us. Product and industry talk on our page keeps its topic
       (3 and 4) so that it can be routed to the people who know the topic.
    """
    if addresses_brand(text, handles):
        return "to_brand"
    if contains_term(text, handles):
        return "to_brand" if owned_space else "about_brand"
    if contains_term(text, keyword_lists.get("product_features")):
        return "product_features"
    if contains_term(text, keyword_lists.get("industry")):
        return "industry"
    return "to_brand" if owned_space else None


def classify_intent(text: str, *, score: float, keyword_lists: Mapping[str, Any]) -> str | None:
    """``complaint``, ``question`` or ``praise``, or None when nothing says which.

    Keywords decide first, the most urgent first: a ``complaint`` keyword; then a
    ``question`` keyword or a question mark (outside links); then a ``praise`` keyword.
    Where the keyword lists are silent, clear sentiment decides: a compound score at or
    below -0.3 is a complaint, at or above +0.3 praise.
    """
    if contains_term(text, keyword_lists.get("complaint")):
        return "complaint"
    if "?" in URL.sub("", text) or contains_term(text, keyword_lists.get("question")):
        return "question"
    if contains_term(text, keyword_lists.get("praise")):
        return "praise"
    if score <= -INTENT_SENTIMENT_AT:
        return "complaint"
    if score >= INTENT_SENTIMENT_AT:
        return "praise"
    return None


INTENT_POINTS: dict[str | None, int] = {"complaint": 40, "question": 30, None: 10, "praise": 0}
NEGATIVITY_POINTS = 20
REACH_POINTS_PER_DECADE = 10
MAX_REACH_POINTS = 40


def priority(*, intent: str | None, score: float, followers: int | None) -> int:
    """How urgent a message is, from 0 to 100; higher first.

    ``priority = intent points + negativity points + reach points``, where

    - intent points: complaint 40, question 30, no intent 10, praise 0;
    - negativity points: ``round(20 × max(0, −compound))``, 0 to 20: the angrier, the
      sooner;
    - reach points: ``min(40, round(10 × log10(1 + followers)))``: 10 per tenfold
      audience, so 9 followers give 10, 999 give 30, 9,999 or more the full 40;
      unknown followers give 0.
    """
    points = INTENT_POINTS.get(intent, INTENT_POINTS[None])
    points += round(NEGATIVITY_POINTS * max(0.0, -score))
    if followers is not None and followers > 0:
        reach = round(REACH_POINTS_PER_DECADE * math.log10(1 + followers))
        points += min(MAX_REACH_POINTS, reach)
    return points


@dataclass(frozen=True)
class Enrichment:
    sentiment_score: float
    sentiment_label: str
    category: str | None
    intent: str | None
    priority: int


def enrich(
    text: str,
    *,
    followers: int | None,
    handles: Sequence[Any],
    keyword_lists: Mapping[str, Any],
    owned_space: bool,
) -> Enrichment:
    """Sentiment, category, intent and priority of one message."""
    score = sentiment(text)
    intent = classify_intent(text, score=score, keyword_lists=keyword_lists)
    return Enrichment(
        sentiment_score=score,
        sentiment_label=sentiment_label(score),
        category=classify_category(
            text, handles=handles, keyword_lists=keyword_lists, owned_space=owned_space
        ),
        intent=intent,
        priority=priority(intent=intent, score=score, followers=followers),
    )
