"""Reading a fan message: sentiment, category, intent and priority, without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respondr.domain import enrich
from respondr.models import CATEGORIES, INTENTS

HANDLES = ["@BerniesBooks", "Bernie", "Bernie's Bookstore"]
KEYWORDS = {
    "industry": ["ebook", "e-reader", "book club"],
    "product_features": ["gift card", "app", "pick up", "café"],
    "praise": ["love", "thank you"],
    "complaint": ["refund", "cancelled", "still not"],
    "question": ["how do i", "are you open"],
}


def category(text, *, owned_space=False):
    return enrich.classify_category(
        text, handles=HANDLES, keyword_lists=KEYWORDS, owned_space=owned_space
    )


def intent(text, score=0.0):
    return enrich.classify_intent(text, score=score, keyword_lists=KEYWORDS)


def test_vader_scores_praise_positive_and_anger_negative():
    assert enrich.sentiment("I love this bookstore, the staff are wonderful! 😍") > 0.5
    assert enrich.sentiment("Terrible service, I am furious and disappointed.") < -0.5
    assert enrich.sentiment("") == 0.0


@pytest.mark.parametrize(
    ("score", "label"),
    [(0.05, "positive"), (0.9, "positive"), (0.0499, "neutral"), (-0.0499, "neutral"),
     (-0.05, "negative"), (-1.0, "negative")],
)  # fmt: skip
def test_sentiment_labels_cut_at_plus_and_minus_0_05(score, label):
    assert enrich.sentiment_label(score) == label


def test_the_analyser_is_built_once_per_process():
    assert enrich._analyser() is enrich._analyser()


def test_keywords_match_whole_words_and_phrases_in_any_case():
    assert enrich.contains_term("The APP crashed", ["app"])
    assert not enrich.contains_term("I'm so happy", ["app"])
    assert enrich.contains_term("Lost my Gift\n Card again", ["gift card"])
    assert enrich.contains_term("Love the Café!", ["café"])
    assert enrich.contains_term("Bernie’s Bookstore rocks", ["Bernie's Bookstore"])
    assert not enrich.contains_term("anything", ["", "  ", None, 3])


@pytest.mark.parametrize(
    "text",
    [
        "@BerniesBooks picked up Circe today",
        "Bernie, you recommended Circe and I loved it",
        "Hi Bernie! Any signed copies left?",
        "Finished it in two nights, thanks Bernie 📚",
    ],
)
def test_addressing_the_brand_is_talking_to_it(text):
    assert category(text) == "to_brand"


def test_naming_the_brand_without_addressing_it_is_talking_about_it():
    assert category("Went to Bernie's Bookstore downtown today") == "about_brand"
    assert category("Went to Bernie's Bookstore downtown today", owned_space=True) == "to_brand"


def test_product_and_industry_keywords_give_the_topic():
    assert category("Can I use a gift card in the app?") == "product_features"
    assert category("Is the ebook price fair?") == "industry"


def test_in_a_space_the_brand_owns_the_fan_talks_to_it_unless_a_topic_says_otherwise():
    assert category("Parking is impossible on Saturdays", owned_space=True) == "to_brand"
    assert category("Parking is impossible on Saturdays") is None
    assert category("Can I pick up my order at Riverside?", owned_space=True) == (
        "product_features"
    )


def test_intent_from_keywords_the_most_urgent_first():
    assert intent("Why was the signing cancelled?") == "complaint"
    assert intent("How do I reset my password") == "question"
    assert intent("Love it, thank you") == "praise"


def test_a_question_mark_makes_a_question_but_not_inside_a_link():
    assert intent("Open on Sunday?") == "question"
    assert intent("see https://example.com/page?id=3") is None


def test_sentiment_decides_the_intent_where_keywords_are_silent():
    assert intent("Worst afternoon ever", score=-0.6) == "complaint"
    assert intent("Brilliant afternoon", score=0.6) == "praise"
    assert intent("An afternoon", score=0.1) is None


def test_priority_grows_with_complaint_negativity_and_reach():
    calm_praise = enrich.priority(intent="praise", score=0.8, followers=None)
    question = enrich.priority(intent="question", score=0.0, followers=None)
    angry = enrich.priority(intent="complaint", score=-0.9, followers=None)
    famous_angry = enrich.priority(intent="complaint", score=-0.9, followers=250_000)
    assert calm_praise < question < angry < famous_angry
    assert (calm_praise, question, angry, famous_angry) == (0, 30, 58, 98)
    assert enrich.priority(intent=None, score=0.0, followers=9) == 20


def test_enrich_puts_it_together():
    result = enrich.enrich(
        "@BerniesBooks my order is still not here and nobody answers. Furious.",
        followers=999,
        handles=HANDLES,
        keyword_lists=KEYWORDS,
        owned_space=False,
    )
    assert result.category == "to_brand" and result.intent == "complaint"
    assert result.sentiment_label == "negative" and result.sentiment_score < -0.05
    assert result.priority == 40 + round(20 * -result.sentiment_score) + 30


def test_a_huge_text_is_scored_quickly_from_its_start():
    text = "not bad but terrible " * 10_000
    assert enrich.sentiment(text) == enrich.sentiment(text[: enrich.SENTIMENT_SCAN_CHARS])


@given(
    text=st.text(max_size=3000),
    followers=st.none() | st.integers(min_value=0, max_value=2**31 - 1),
    handles=st.lists(st.text(max_size=20), max_size=4),
    words=st.lists(st.text(max_size=15), max_size=4),
    owned_space=st.booleans(),
)
def test_enrichment_never_raises_on_any_text(text, followers, handles, words, owned_space):
    keyword_lists = {name: words for name in KEYWORDS}
    result = enrich.enrich(
        text,
        followers=followers,
        handles=handles,
        keyword_lists=keyword_lists,
        owned_space=owned_space,
    )
    assert -1.0 <= result.sentiment_score <= 1.0
    assert result.sentiment_label == enrich.sentiment_label(result.sentiment_score)
    assert result.category is None or result.category in CATEGORIES
    assert result.intent is None or result.intent in INTENTS
    assert 0 <= result.priority <= 100
