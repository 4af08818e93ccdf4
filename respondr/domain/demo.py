"""The "Bernie's Bookstore" demo: the story respondr exists for, with eight weeks of history.

A bookstore chain's Facebook page is run by a character, Bernie the Bookworm; its
Twitter account and the manager's blog are answered mostly by two trusted staff. Every
reply, however small, is cleared by Carol at corporate ("Corporate clears all"), who
works office hours, so the wait for her approval is by far the largest part of the time
to first response. A book signing was cancelled about two and a half weeks ago, and two
store closings were announced about three and a half weeks ago: both show up as waves of
questions and complaints.

The history is simulated step by step with a seeded random generator (the same ``now``
gives the same data) and every step is announced through :mod:`respondr.signals`, so
the workflow events (which the latency reports read) are written by the same receivers
as in real use. Nothing here commits: the caller does.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from respondr import signals
from respondr.domain import accounts
from respondr.domain import channels as channel_ops
from respondr.domain.errors import ValidationError
from respondr.domain.organisation import get_organisation
from respondr.domain.presets import ensure_presets
from respondr.models import (
    ApprovalDecision,
    Channel,
    Draft,
    DraftVersion,
    Fan,
    Message,
    PolicyVersion,
    PublishedReply,
    StockResponse,
    Submission,
    User,
)

DEMO_PASSWORD = "bookworm-demo"  # noqa: S105 - printed for people trying the demo  # nosec B105
TIMEZONE = "America/New_York"
HISTORY_DAYS = 56
SEED = 2026
TZ = ZoneInfo(TIMEZONE)

# --------------------------------------------------------------------------- people


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    email: str
    roles: tuple[str, ...]
    trusted: bool = False


USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Alex Admin", "admin@example.com", ("admin", "manager")),
    DemoUser("jerry", "Jerry Lindqvist", "jerry@example.com", ("manager",)),
    DemoUser("carol", "Carol Whitfield", "carol@example.com", ("approver",)),
    DemoUser("bernie", "Bernie Adler", "bernie@example.com", ("agent",)),
    DemoUser("maya", "Maya Okafor", "maya@example.com", ("agent",), trusted=True),
    DemoUser("theo", "Theo Brandt", "theo@example.com", ("agent",), trusted=True),
)
ADMIN_EMAIL = "admin@example.com"

# --------------------------------------------------------------------------- channels


@dataclass(frozen=True)
class DemoChannel:
    key: str
    name: str
    kind: str
    sla_minutes: int
    weight: float  # share of the fan traffic
    # Which agent picks a message up on this channel, weighted.
    agents: tuple[tuple[str, float], ...]


CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel(
        "facebook",
        "Bernie the Bookworm",
        "facebook_page",
        60,
        0.60,
        (("bernie", 0.7), ("maya", 0.15), ("theo", 0.15)),
    ),
    DemoChannel(
        "twitter",
        "@BerniesBooks",
        "twitter",
        60,
        0.28,
        (("maya", 0.5), ("theo", 0.35), ("bernie", 0.15)),
    ),
    DemoChannel("blog", "Jerry's blog", "blog", 240, 0.12, (("theo", 0.6), ("maya", 0.4))),
)
FACEBOOK_PAGE_ID = "104857362"

# --------------------------------------------------------------------------- organisation

KEYWORD_LISTS: dict[str, list[str]] = {
    "industry": [
        "ebook",
        "e-book",
        "e-reader",
        "kindle",
        "audiobook",
        "publisher",
        "bestseller",
        "book club",
        "indie bookstore",
        "independent bookstores",
        "library",
    ],
    "product_features": [
        "gift card",
        "reading rewards",
        "rewards card",
        "loyalty",
        "online order",
        "order online",
        "pick up",
        "checkout",
        "café",
        "cafe",
        "membership",
        "pre-order",
        "app",
        "website",
    ],
    "praise": [
        "love",
        "loved",
        "thank you",
        "thanks",
        "amazing",
        "wonderful",
        "best",
        "favourite",
        "favorite",
        "great",
        "helpful",
    ],
    "complaint": [
        "closing",
        "cancelled",
        "canceled",
        "refund",
        "disappointed",
        "waited",
        "still not",
        "torn",
        "failing",
        "mistake",
        "not good enough",
        "nobody",
    ],
    "question": [
        "what time",
        "are you open",
        "is it true",
        "can i",
        "do you",
        "does",
        "why",
        "which",
        "is there",
        "how do i",
    ],
}
HANDLES = ["@BerniesBooks", "Bernie", "Bernie the Bookworm", "Bernie's Bookstore"]
WATCH_LIST = ["refund", "lawsuit", "lawyer", "closing", "cancelled", "boycott", "allergic"]

# --------------------------------------------------------------------------- stock responses


@dataclass(frozen=True)
class DemoStock:
    key: str
    title: str
    text: str
    category: str
    pre_approved: bool


STOCK: tuple[DemoStock, ...] = (
    DemoStock(
        "thanks",
        "Thanks for the kind words",
        "Thank you so much, {fan_name}! Kind words like yours make Bernie's day. 📚",
        "praise",
        True,
    ),
    DemoStock(
        "birthday",
        "Happy birthday",
        "Happy birthday, {fan_name}! 🎂 Bernie hopes your day is full of cake and good books.",
        "praise",
        True,
    ),
    DemoStock(
        "hours",
        "Store hours",
        "Hi {fan_name}! Our stores are open Monday to Saturday 9am–9pm and Sunday 11am–6pm. "
        "Holiday hours are posted on each store's page.",
        "question",
        True,
    ),
    DemoStock(
        "look_into_it",
        "We'll look into it",
        "Sorry to hear that, {fan_name}. We'll look into it and get back to you: could you "
        "send us a private message with the details?",
        "complaint",
        False,
    ),
)
STOCK_BY_KEY = {s.key: s for s in STOCK}

# --------------------------------------------------------------------------- fan messages

BOOKS = (
    "The Midnight Library",
    "Lessons in Chemistry",
    "Tomorrow, and Tomorrow, and Tomorrow",
    "Demon Copperhead",
    "Remarkably Bright Creatures",
    "Project Hail Mary",
    "Circe",
    "The Thursday Murder Club",
    "A Gentleman in Moscow",
    "Where the Crawdads Sing",
    "The House in the Cerulean Sea",
    "Klara and the Sun",
)
STORES = ("Riverside", "Maple Avenue", "Downtown", "Northgate", "Union Square")
CLOSING_STORES = ("Elm Street", "Harbor Point")
SIGNING_AUTHOR = "Marian Holt"
SIGNING_STORE = "Riverside"
KIDS = (
    ("son", "Leo", "him"),
    ("daughter", "Mia", "her"),
    ("son", "Noah", "him"),
    ("daughter", "Ava", "her"),
    ("son", "Eli", "him"),
    ("daughter", "Zoe", "her"),
    ("daughter", "Lily", "her"),
    ("son", "Sam", "him"),
)

# Days before ``now`` when the news broke that drives two waves of messages.
SIGNING_CANCELLED_DAYS_AGO = 17
CLOSINGS_ANNOUNCED_DAYS_AGO = 24


@dataclass(frozen=True)
class Template:
    text: str
    category: str | None
    intent: str | None
    score: float  # VADER-like compound, before a little jitter
    replies: tuple[str, ...] = ()
    stock: str | None = None  # a stock response that fits
    close: str | None = None  # a close reason, when the message may need no reply
    close_chance: float = 1.0
    topic: str | None = None  # "signing" or "closing": only after that news broke
    weight: float = 1.0


TEMPLATES: dict[str, tuple[Template, ...]] = {
    "facebook": (
        Template(
            "Bernie, you recommended {book} a couple of weeks ago and I finished it in two "
            "nights. Thank you!",
            "to_brand",
            "praise",
            0.87,
            (
                "So glad you loved it, {fan_name}! If {book} was your thing, ask at the info "
                "desk about our staff picks shelf: Bernie has more where that came from.",
            ),
            stock="thanks",
            weight=3,
        ),
        Template(
            "Love this page! Bernie the Bookworm is the best thing in my feed 📚",
            "to_brand",
            "praise",
            0.85,
            ("Aww, thank you {fan_name}! Bernie is blushing behind his bookmarks. 📚",),
            stock="thanks",
            weight=2,
        ),
        Template(
            "The staff at the {store} store helped me find the perfect gift for my dad. "
            "Thank you Bernie's!",
            "to_brand",
            "praise",
            0.9,
            ("Thank you, {fan_name}! We'll pass your kind words on to the team at {store}.",),
            stock="thanks",
            weight=2.5,
        ),
        Template(
            "Story time at {store} on Saturday was wonderful, my kids haven't stopped talking "
            "about the dragon book.",
            "to_brand",
            "praise",
            0.78,
            (
                "That makes our week, {fan_name}! Story time is every Saturday at 10am at "
                "{store}: see you and the little dragons there.",
            ),
            stock="thanks",
            weight=1.5,
        ),
        Template(
            "It's my birthday today! 🎂 Bernie, what should I treat myself to?",
            "to_brand",
            "question",
            0.62,
            (
                "Happy birthday, {fan_name}! 🎂 Bernie's pick for a birthday treat: {book}. "
                "Enjoy every page!",
            ),
            stock="birthday",
            weight=2.5,
        ),
        Template(
            "My {kid_is} {kid} turns {age} today and Bernie is {kid_them} hero! Could you "
            "wish {kid_them} a happy birthday? 🎈",
            "to_brand",
            "praise",
            0.8,
            (
                "Happy {age_th} birthday, {kid}! 🎈 Bernie says the best birthdays end with "
                "a bedtime story. Thanks for sharing, {fan_name}!",
            ),
            weight=1.5,
        ),
        Template(
            "What time does the {store} store open on Sundays?",
            "to_brand",
            "question",
            0.0,
            ("Hi {fan_name}! {store} opens at 11am on Sundays and closes at 6pm.",),
            stock="hours",
            weight=3,
        ),
        Template(
            "Are you open on {holiday}? Hoping to bring the kids in 📚",
            "to_brand",
            "question",
            0.42,
            (
                "Hi {fan_name}, yes: all our stores are open on {holiday} from 10am to 5pm. "
                "See you and the kids there!",
            ),
            stock="hours",
            weight=1.5,
        ),
        Template(
            "Was the {author} signing at {signing_store} cancelled? The event page just "
            "disappeared.",
            "to_brand",
            "question",
            -0.25,
            (
                "Hi {fan_name}, we're sorry: the {author} signing has been postponed by the "
                "publisher. We'll post the new date here as soon as we have it.",
                "Yes, unfortunately it was cancelled, {fan_name}. We're working with "
                "{author}'s publisher on a new date and will share it here first.",
            ),
            topic="signing",
            weight=4,
        ),
        Template(
            "I drove an hour to {signing_store} for the {author} signing and found a note on "
            "the door. Why was it cancelled?? Nobody told us.",
            "to_brand",
            "complaint",
            -0.72,
            (
                "We're so sorry, {fan_name}. The signing was cancelled at short notice and we "
                "should have told everyone sooner. Please send us a message: we'd like to "
                "make it up to you with a signed copy.",
            ),
            stock="look_into_it",
            topic="signing",
            weight=2.5,
        ),
        Template(
            "I asked here days ago why the signing was cancelled and still no answer. Does "
            "anyone actually read this page?",
            "to_brand",
            "complaint",
            -0.64,
            (
                "We do, {fan_name}, and we're sorry for the wait. The {author} signing was "
                "postponed by the publisher; the new date will be posted here this week.",
            ),
            topic="signing",
            weight=1.5,
        ),
        Template(
            "Is it true the {closing_store} store is closing?? That's my kids' favourite place.",
            "to_brand",
            "question",
            -0.48,
            (
                "Hi {fan_name}, sadly yes: {closing_store} closes at the end of next month. "
                "All our other stores stay open, and your rewards card works at every one.",
            ),
            topic="closing",
            weight=3,
        ),
        Template(
            "Closing {closing_store} is a huge mistake. Twenty years I've shopped there. "
            "Cancelled my membership today.",
            "to_brand",
            "complaint",
            -0.78,
            (
                "We understand, {fan_name}, and we're sorry. It was a hard decision. If you'd "
                "like to talk it over, our manager Jerry reads every message sent to the page.",
            ),
            topic="closing",
            weight=2,
        ),
        Template(
            "Waited 20 minutes at the register at {store} today with one till open. Not good "
            "enough.",
            "to_brand",
            "complaint",
            -0.62,
            (
                "Sorry about the wait, {fan_name}. We've passed this on to the {store} manager "
                "so more tills are open at busy times.",
            ),
            stock="look_into_it",
            weight=1.5,
        ),
        Template(
            "Ordered {book} for pick up at {store} three weeks ago, still not in. Nobody calls "
            "back.",
            "product_features",
            "complaint",
            -0.55,
            (
                "Sorry, {fan_name}! Please send us your order number in a private message and "
                "we'll chase it today.",
            ),
            stock="look_into_it",
            weight=2,
        ),
        Template(
            "Can I order {book} online and pick it up at {store}?",
            "product_features",
            "question",
            0.0,
            (
                "You can, {fan_name}! Choose 'pick up in store' at checkout and select "
                "{store}; we'll text you when it's ready.",
            ),
            weight=2,
        ),
        Template(
            "Do gift cards work at every store or only the one they were bought at?",
            "product_features",
            "question",
            0.0,
            ("Every store, {fan_name}, and online too. Our gift cards never expire.",),
            weight=1.5,
        ),
        Template(
            "Is the café at {store} still open? The sign said closed on Tuesday.",
            "product_features",
            "question",
            0.0,
            (
                "Hi {fan_name}, the café at {store} was closed for a repair on Tuesday but it's "
                "open again, 9am to 5pm.",
            ),
            weight=1,
        ),
        Template(
            "Does the reading rewards card still give you a free book after 10 stamps? Lost "
            "mine 😩",
            "product_features",
            "question",
            -0.1,
            (
                "It does, {fan_name}! Ask at any till for a new card: we can look up your "
                "stamps with your email address.",
            ),
            weight=1.5,
        ),
        Template(
            "My online order arrived with a torn cover. I'd like a refund please.",
            "product_features",
            "complaint",
            -0.45,
            (
                "Sorry about that, {fan_name}! Send us a private message with your order "
                "number and we'll refund or replace it, your choice.",
            ),
            stock="look_into_it",
            weight=1,
        ),
        Template(
            "Bernie, do you have any signed copies of {book} left?",
            "to_brand",
            "question",
            0.0,
            ("We have a few at {store}, {fan_name}! Call ahead and they'll hold one for you.",),
            weight=1.5,
        ),
        Template(
            "Just joined the book club at {store}, such a lovely group. Thanks for hosting!",
            "to_brand",
            "praise",
            0.86,
            ("Welcome to the club, {fan_name}! Bernie hears the snacks are excellent too.",),
            stock="thanks",
            weight=1.5,
        ),
        Template(
            "Any chance of a Bernie plush toy? My daughter would lose her mind 😂",
            "product_features",
            "question",
            0.32,
            (
                "Bernie is flattered, {fan_name}! Not yet, but we've passed the idea on to "
                "the merchandise team. 🐛",
            ),
            weight=1,
        ),
        Template(
            "Parking at {store} is impossible on Saturdays. Any tips?",
            "to_brand",
            "question",
            -0.32,
            (
                "Sorry about that, {fan_name}! The garage behind {store} gives two hours free "
                "with any purchase: ask at the till for a stamp.",
            ),
            weight=1,
        ),
        Template(
            "Get 10K REAL followers for your page in 24 hours!!! DM us now 💰💰",
            None,
            None,
            0.0,
            close="spam",
            weight=0.7,
        ),
        Template(
            "Earn $500 a day from home, click my profile to learn how",
            None,
            None,
            0.0,
            close="spam",
            weight=0.5,
        ),
        Template(
            "Tagging my sister, we have to go to this 👇",
            "about_brand",
            None,
            0.0,
            ("See you both there, {fan_name}! 📚",),
            close="no_reply_needed",
            close_chance=0.8,
            weight=0.6,
        ),
        Template(
            "😍📚📚",
            "to_brand",
            "praise",
            0.7,
            ("📚❤️ Thanks, {fan_name}!",),
            close="no_reply_needed",
            close_chance=0.6,
            weight=0.5,
        ),
    ),
    "twitter": (
        Template(
            "@BerniesBooks picked up {book} at {store} today, the staff picks shelf never "
            "misses 🙌",
            "to_brand",
            "praise",
            0.74,
            ("Glad you found a good one, {fan_name}! Tell us what you think when you finish. 📚",),
            stock="thanks",
            weight=3,
        ),
        Template(
            "@BerniesBooks Bernie recommended {book} and now I'm hooked, thank you!!",
            "to_brand",
            "praise",
            0.82,
            ("Bernie is thrilled, {fan_name}! Happy reading. 📚",),
            stock="thanks",
            weight=2,
        ),
        Template(
            "Sad to hear Bernie's Bookstore is closing the {closing_store} location. End of an "
            "era.",
            "about_brand",
            "complaint",
            -0.61,
            (
                "It's a sad one for us too, {fan_name}. Thank you for all the years at "
                "{closing_store}: we hope to see you at {store}.",
            ),
            topic="closing",
            weight=3,
        ),
        Template(
            "Bernie's Bookstore has the best kids' section in town, don't @ me",
            "about_brand",
            "praise",
            0.64,
            ("We won't argue, {fan_name} 😄 Thanks for the love!",),
            stock="thanks",
            weight=2,
        ),
        Template(
            "@BerniesBooks why was the {author} signing cancelled? No email, nothing. Really "
            "disappointed.",
            "to_brand",
            "complaint",
            -0.69,
            (
                "We're sorry, {fan_name}. The publisher postponed the signing and we should "
                "have emailed everyone. The new date is coming soon: we'll tweet it first.",
            ),
            topic="signing",
            weight=3,
        ),
        Template(
            "@BerniesBooks what are your hours on {holiday}?",
            "to_brand",
            "question",
            0.0,
            ("Hi {fan_name}! 10am to 5pm at every store on {holiday}.",),
            stock="hours",
            weight=2,
        ),
        Template(
            "Independent bookstores are having a moment and honestly I'm here for it",
            "industry",
            "praise",
            0.45,
            ("So are we, {fan_name}! 📚",),
            close="no_reply_needed",
            close_chance=0.5,
            weight=1.2,
        ),
        Template(
            "E-readers will never replace the smell of a real bookshop",
            "industry",
            None,
            0.1,
            (
                "We couldn't agree more, {fan_name}. Come and breathe in the new arrivals at "
                "{store}.",
            ),
            close="no_reply_needed",
            close_chance=0.4,
            weight=1,
        ),
        Template(
            "Is anyone else's book club reading {book} this month? No spoilers past chapter 10 pls",
            "industry",
            "question",
            0.0,
            (
                "Our Thursday book club at {store} is, {fan_name}! Drop in: chapter 10 is where "
                "it gets good.",
            ),
            weight=1.5,
        ),
        Template(
            "@BerniesBooks your website checkout keeps failing when I try to use a gift card",
            "product_features",
            "complaint",
            -0.51,
            (
                "Sorry, {fan_name}! Our web team is on it. Meanwhile any store can take the "
                "gift card for an online order at the till.",
            ),
            stock="look_into_it",
            weight=2,
        ),
        Template(
            "@BerniesBooks does the reading rewards app work for online orders too?",
            "product_features",
            "question",
            0.0,
            ("It does, {fan_name}! Sign in before checkout and the stamps are added for you.",),
            weight=1.5,
        ),
        Template(
            "If @BerniesBooks cancelled my prepaid signing ticket without a refund, my lawyer "
            "is going to hear about it",
            "to_brand",
            "complaint",
            -0.74,
            (
                "We're sorry, {fan_name}. Every ticket for the {author} signing is being "
                "refunded in full within 5 working days: please DM us if yours hasn't arrived.",
            ),
            topic="signing",
            weight=0.8,
        ),
        Template(
            "@BerniesBooks any news on a new date for the {author} signing?",
            "to_brand",
            "question",
            0.0,
            (
                "Not yet, {fan_name}, but soon! We're working with the publisher and will "
                "tweet the new date first.",
            ),
            topic="signing",
            weight=1.5,
        ),
        Template(
            "Spent my whole lunch break at Bernie's Bookstore again. No regrets.",
            "about_brand",
            "praise",
            0.36,
            ("The best kind of lunch break, {fan_name}! 📚",),
            stock="thanks",
            close="no_reply_needed",
            close_chance=0.3,
            weight=1.2,
        ),
        Template(
            "Promote your brand to 2M followers! Cheap rates, DM for details 🚀",
            None,
            None,
            0.0,
            close="spam",
            weight=0.6,
        ),
    ),
    "blog": (
        Template(
            "Jerry, I've shopped at {closing_store} for twenty years. Please reconsider "
            "closing it.",
            "to_brand",
            "complaint",
            -0.35,
            (
                "Thank you for writing, {fan_name}. I know how much {closing_store} means to "
                "people; the decision was hard. Our {store} store is ten minutes away and the "
                "team there would love to see you. Jerry",
            ),
            topic="closing",
            weight=3,
        ),
        Template(
            "Great post. Which stores are staying open after the reorganisation?",
            "to_brand",
            "question",
            0.62,
            (
                "Thanks, {fan_name}! Every store except Elm Street and Harbor Point stays "
                "open, and {store} is getting a bigger children's section.",
            ),
            topic="closing",
            weight=2,
        ),
        Template(
            "Thanks for being honest about the closings. Will the staff be moved to other stores?",
            "to_brand",
            "question",
            0.57,
            (
                "Yes, {fan_name}: everyone at {closing_store} has been offered a place at "
                "another store.",
            ),
            topic="closing",
            weight=2,
        ),
        Template(
            "The {closing_store} closing is a mistake and you know it. Cancelled my membership "
            "today.",
            "to_brand",
            "complaint",
            -0.66,
            (
                "I'm sorry to hear that, {fan_name}. If you'd like to tell me more, my door "
                "(and inbox) is open. Jerry",
            ),
            topic="closing",
            weight=2,
        ),
        Template(
            "Loved this list of summer reads. Adding {book} to my pile!",
            "to_brand",
            "praise",
            0.8,
            ("Enjoy it, {fan_name}! Let me know what you think. Jerry",),
            stock="thanks",
            weight=2,
        ),
        Template(
            "Interesting take on e-books vs paper. Our library sees the same trend.",
            "industry",
            None,
            0.4,
            ("Thanks for sharing that, {fan_name}: good to hear libraries see it too.",),
            close="no_reply_needed",
            close_chance=0.5,
            weight=1,
        ),
        Template(
            "Does the new online ordering mean the phone line is going away? My mother "
            "doesn't use computers.",
            "product_features",
            "question",
            -0.1,
            ("Not at all, {fan_name}: every store still takes orders by phone.",),
            weight=1.5,
        ),
        Template(
            "Will you keep stocking local authors after the changes? That's why I shop with you.",
            "to_brand",
            "question",
            0.0,
            (
                "Absolutely, {fan_name}. Local authors keep their shelf in every store, and "
                "{store} will host their readings from now on. Jerry",
            ),
            topic="closing",
            weight=1.5,
        ),
        Template(
            "Great article!!! Visit my site for cheap essay writing services",
            None,
            None,
            0.66,
            close="spam",
            weight=0.8,
        ),
    ),
}

BLOG_POSTS = (
    "ten-books-for-a-rainy-weekend",
    "what-our-booksellers-are-reading",
    "behind-the-scenes-at-story-time",
    "summer-reads-staff-picks",
    "meet-the-riverside-team",
    "how-we-choose-our-staff-picks",
)
BLOG_CLOSING_POST = "why-we-are-closing-elm-street-and-harbor-point"

# What a stock response gets when an agent adds a line of their own.
STOCK_EXTRAS: dict[str, tuple[str, ...]] = {
    "thanks": ("Happy reading!", "See you at the store soon.", "Tell us what you read next!"),
    "birthday": ("Treat yourself to a good book today!", "Enjoy your special day!"),
    "hours": ("Hope to see you soon!", "Call ahead if you'd like us to hold a book for you."),
    "look_into_it": ("We're sorry for the trouble.", "Thanks for letting us know."),
}
TEAM_SIGN_OFF = "The Bernie's Bookstore team"

FIRST_NAMES = (
    "Linda", "Marcus", "Priya", "Tom", "Grace", "Diego", "Hannah", "Samir", "Olivia",
    "Ben", "Chloe", "Andre", "Mei", "Patrick", "Rosa", "Kevin", "Aisha", "Jonah", "Elena",
    "Victor", "Nora", "Isaac", "Fatima", "Ryan", "Sofia", "Derek", "Yuki", "Carla", "Owen",
    "Beth", "Luis", "Tamara", "Greg", "Naomi", "Ahmed", "Julia", "Frank", "Ivy", "Wes",
    "Dana",
)  # fmt: skip
LAST_NAMES = (
    "Park", "Bennett", "Shah", "Russo", "Kim", "Morales", "Fischer", "Haddad", "Nguyen",
    "Walsh", "Cohen", "Brooks", "Lin", "O'Brien", "Diaz", "Murphy", "Khan", "Stein",
    "Petrova", "Reyes", "Adams", "Hughes", "Tanaka", "Ortiz", "Greene", "Novak", "Price",
    "Sullivan", "Moreau", "Lopez",
)  # fmt: skip
TWITTER_SUFFIXES = ("reads", "_books", "bookworm", "writes", "_nyc", "lit", "pages", "")

# Hour-of-day weights (America/New_York) for when fans write: mostly business hours.
HOUR_WEIGHTS = (
    0.3, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 3, 5, 6, 7,
    8, 7, 6, 6, 5.5, 5, 4, 3, 2.5, 1.8, 1, 0.6,
)  # fmt: skip
AGENT_SHIFT = (time(7, 0), time(23, 0))  # store staff check the channels all day
APPROVER_HOURS = (time(9, 0), time(17, 30))  # corporate: weekdays only
REJECT_CHANCE = 0.14  # of the rounds that are not unedited stock: ~10% overall


# --------------------------------------------------------------------------- public API


def load(session: Session, *, now: datetime, only_if_empty: bool) -> bool:
    """Load the demo; False (and nothing changed) when it is already there.

    With ``only_if_empty`` the demo also stays out of a database that has any user.
    Flushes only: the caller commits.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("load needs an aware datetime")
    now = now.astimezone(UTC)
    if accounts.find_user(session, ADMIN_EMAIL) is not None:
        return False
    if only_if_empty and session.scalar(select(User.id).limit(1)) is not None:
        return False
    _refuse_clashes(session)
    _Loader(session, now).run()
    return True


def sign_in_help() -> list[str]:
    """Lines that tell someone how to sign in as each demo user."""
    width = max(len(u.email) for u in USERS)
    lines = ["Demo sign-in (Bernie's Bookstore):"]
    for user in USERS:
        trusted = ", trusted" if user.trusted else ""
        lines.append(
            f"  {user.email:<{width}}  password {DEMO_PASSWORD}  "
            f"roles {','.join(user.roles)}{trusted}  ({user.name})"
        )
    return lines


# --------------------------------------------------------------------------- loading


def _refuse_clashes(session: Session) -> None:
    """The demo needs its emails and channel names free; say which is taken."""
    emails = [u.email for u in USERS]
    taken = session.scalar(select(User.email).where(User.email.in_(emails)).limit(1))
    if taken is not None:
        raise ValidationError(
            f"A user {taken} already exists; load the demo into an empty database.", "email"
        )
    names = [c.name for c in CHANNELS]
    clash = session.scalar(select(Channel.name).where(Channel.name.in_(names)).limit(1))
    if clash is not None:
        raise ValidationError(
            f"A channel named {clash!r} already exists; load the demo into an empty database.",
            "channel",
        )


@dataclass
class _Plan:
    """One fan message to be: where, who, what and when it arrived."""

    channel: DemoChannel
    template: Template
    slots: dict[str, str]
    fan: tuple[str, str, int | None]  # handle, display name, followers
    received_at: datetime
    posted_at: datetime


def _secs(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def _local_at(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ).astimezone(UTC)


def _agent_time(t: datetime) -> datetime:
    """``t`` if an agent is on shift then, else the start of the next shift."""
    local = t.astimezone(TZ)
    start, end = AGENT_SHIFT
    if local.time() < start:
        return _local_at(local.date(), start)
    if local.time() >= end:
        return _local_at(local.date() + timedelta(days=1), start)
    return t


def _approver_working(t: datetime) -> bool:
    local = t.astimezone(TZ)
    return local.weekday() < 5 and APPROVER_HOURS[0] <= local.time() < APPROVER_HOURS[1]


def _next_approver_start(t: datetime) -> datetime:
    local = t.astimezone(TZ)
    day = local.date()
    if local.time() >= APPROVER_HOURS[0]:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return _local_at(day, APPROVER_HOURS[0])


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday of a month (n = -1: the last one)."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _next_holiday(day: date) -> str:
    """The name of the next US holiday a store might change its hours for."""
    found: list[tuple[date, str]] = []
    for year in (day.year, day.year + 1):
        found += [
            (date(year, 1, 1), "New Year's Day"),
            (_nth_weekday(year, 1, 0, 3), "Martin Luther King Day"),
            (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
            (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
            (date(year, 7, 4), "the Fourth of July"),
            (_nth_weekday(year, 9, 0, 1), "Labor Day"),
            (_nth_weekday(year, 11, 3, 4), "Thanksgiving"),
            (date(year, 12, 24), "Christmas Eve"),
            (date(year, 12, 31), "New Year's Eve"),
        ]
    return min((d, name) for d, name in found if d > day)[1]


def _sentiment_label(score: float) -> str:
    if score >= 0.05:
        return "positive"
    if score <= -0.05:
        return "negative"
    return "neutral"


def _without_emoji(text: str) -> str:
    kept = "".join(ch for ch in text if ord(ch) < 0x2190 or 0x2000 <= ord(ch) <= 0x206F)
    return " ".join(kept.split())


class _Loader:
    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.now = now
        self.rng = random.Random(SEED)  # noqa: S311 - repeatable demo data, not secrets  # nosec B311
        self.today = now.astimezone(TZ).date()
        self.first_day = self.today - timedelta(days=HISTORY_DAYS - 1)
        # Settings and staff existed a day before the first message.
        self.setup_at = _local_at(self.first_day - timedelta(days=1), time(10, 0))
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.stock: dict[str, StockResponse] = {}
        self.fans: dict[tuple[str, str], Fan] = {}
        self.fan_pools: dict[str, list[tuple[str, str, int | None]]] = {}
        self.fan_weights: dict[str, list[float]] = {}
        self.version: PolicyVersion
        self.reason = ""
        self.steps: list[dict[str, Any]] = []
        self.counters: dict[str, int] = {c.key: 0 for c in CHANNELS}
        self.outbox: list[tuple[Any, Any, User | None, datetime, dict[str, Any]]] = []

    # ----------------------------------------------------------------- settings

    def run(self) -> None:
        self._organisation()
        self._policies_and_channels()
        self._users()
        self._stock_responses()
        self._fan_pools()
        for plan in self._plan_messages():
            self._simulate(plan)
        self.session.flush()

    def _organisation(self) -> None:
        org = get_organisation(self.session)
        org.name = "Bernie's Bookstore"
        org.timezone = TIMEZONE
        org.keyword_lists = {k: list(v) for k, v in KEYWORD_LISTS.items()}
        org.handles = list(HANDLES)
        org.watch_list = list(WATCH_LIST)

    def _policies_and_channels(self) -> None:
        policies = ensure_presets(self.session, now=self.setup_at)
        corporate = policies["corporate-clears-all"]
        version = corporate.current_version
        if version is None:  # a preset always ships with version 1
            raise RuntimeError("the corporate-clears-all preset has no version")
        self.version = version
        rule = version.rules[0]
        self.reason = f"needs approval: {rule['reason']} — rule 1 of {version.label}"
        self.steps = [dict(step) for step in rule.get("steps") or []]
        for spec in CHANNELS:
            channel = channel_ops.create_channel(
                self.session,
                name=spec.name,
                kind=spec.kind,
                sla_minutes=spec.sla_minutes,
                actor=None,
                now=self.setup_at,
            )
            channel.policy = corporate
            self.channels[spec.key] = channel

    def _users(self) -> None:
        for spec in USERS:
            self.users[spec.key] = accounts.create_user(
                self.session,
                email=spec.email,
                name=spec.name,
                password=DEMO_PASSWORD,
                roles=spec.roles,
                trusted=spec.trusted,
                actor=None,
                now=self.setup_at,
            )
        self.session.flush()

    def _stock_responses(self) -> None:
        for spec in STOCK:
            stock = StockResponse(
                title=spec.title,
                text=spec.text,
                category=spec.category,
                pre_approved=spec.pre_approved,
                created_at=self.setup_at,
                updated_at=self.setup_at,
            )
            self.session.add(stock)
            self.stock[spec.key] = stock
        self.session.flush()

    def _fan_pools(self) -> None:
        rng = self.rng
        sizes = {"facebook": 260, "twitter": 140, "blog": 45}
        for key, size in sizes.items():
            pool: list[tuple[str, str, int | None]] = []
            handles: set[str] = set()
            while len(pool) < size:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                plain = (first + last).lower().replace("'", "")
                followers: int | None
                if key == "facebook":
                    handle = f"{first}.{last}".lower().replace("'", "")
                    display = f"{first} {last}"
                    followers = int(rng.lognormvariate(5.8, 0.8))
                elif key == "twitter":
                    handle = "@" + (first.lower() + rng.choice(TWITTER_SUFFIXES))
                    display = f"{first} {last}" if rng.random() < 0.6 else f"{first} 📚"
                    followers = int(rng.lognormvariate(5.5, 1.4))
                else:
                    handle = plain
                    display = f"{first} {last[0]}."
                    followers = None
                if handle in handles:
                    handle = f"{handle}{rng.randint(2, 99)}"
                if handle in handles:
                    continue
                handles.add(handle)
                pool.append((handle, display, followers))
            self.fan_pools[key] = pool
            # A few regulars write often; most fans write once or twice.
            self.fan_weights[key] = [1 / (i + 1) ** 0.7 for i in range(size)]

    # ----------------------------------------------------------------- planning

    def _topic_weight(self, template: Template, day: date) -> float:
        days_ago = (self.today - day).days
        if template.topic == "signing":
            if days_ago > SIGNING_CANCELLED_DAYS_AGO:
                return 0.0
            return 3.0 if days_ago > SIGNING_CANCELLED_DAYS_AGO - 5 else 0.8
        if template.topic == "closing":
            if days_ago > CLOSINGS_ANNOUNCED_DAYS_AGO:
                return 0.0
            return 2.5 if days_ago > CLOSINGS_ANNOUNCED_DAYS_AGO - 7 else 1.2
        return 1.0

    def _plan_messages(self) -> list[_Plan]:
        rng = self.rng
        plans: list[_Plan] = []
        channel_weights = [c.weight for c in CHANNELS]
        for offset in range(HISTORY_DAYS):
            day = self.first_day + timedelta(days=offset)
            count = rng.randint(12, 22) if day.weekday() >= 5 else rng.randint(17, 30)
            for _ in range(count):
                hour = rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
                local = datetime.combine(
                    day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=TZ
                )
                received = local.astimezone(UTC)
                spec = rng.choices(CHANNELS, weights=channel_weights)[0]
                templates = TEMPLATES[spec.key]
                weights = [t.weight * self._topic_weight(t, day) for t in templates]
                template = rng.choices(templates, weights=weights)[0]
                kid = rng.choice(KIDS)
                age = rng.randint(4, 11)
                slots = {
                    "book": rng.choice(BOOKS),
                    "store": rng.choice(STORES),
                    "closing_store": rng.choice(CLOSING_STORES),
                    "author": SIGNING_AUTHOR,
                    "signing_store": SIGNING_STORE,
                    "holiday": _next_holiday(day),
                    "age": str(age),
                    "age_th": _ordinal(age),
                    "kid_is": kid[0],
                    "kid": kid[1],
                    "kid_them": kid[2],
                }
                fan = rng.choices(self.fan_pools[spec.key], weights=self.fan_weights[spec.key])[0]
                # Platforms hand messages over seconds to minutes late; the blog's feed
                # is polled, so it lags more.
                lag = rng.uniform(5, 900) if spec.key == "blog" else rng.uniform(3, 150)
                if received >= self.now - timedelta(minutes=1):
                    continue
                plans.append(_Plan(spec, template, slots, fan, received, received - _secs(lag)))
        plans.sort(key=lambda p: p.received_at)
        return plans

    # ----------------------------------------------------------------- rows

    def _fan(self, spec: DemoChannel, fan: tuple[str, str, int | None]) -> Fan:
        handle, display, followers = fan
        row = self.fans.get((spec.key, handle))
        if row is None:
            row = Fan(
                channel_id=self.channels[spec.key].id,
                handle=handle,
                display_name=display,
                followers=followers,
            )
            self.session.add(row)
            self.fans[(spec.key, handle)] = row
        return row

    def _identity(self, plan: _Plan) -> tuple[str, str, str]:
        """External id, thread key and link, unique per channel and in arrival order."""
        key = plan.channel.key
        self.counters[key] += 1
        n = self.counters[key]
        day = plan.received_at.astimezone(TZ).date()
        if key == "facebook":
            external_id = f"{FACEBOOK_PAGE_ID}_{100000 + n}"
            if self.rng.random() < 0.6:  # a comment under the page's post of the day
                thread = f"{FACEBOOK_PAGE_ID}_post_{day:%Y%m%d}"
            else:  # a visitor post on the page
                thread = external_id
            url = f"https://www.facebook.com/{FACEBOOK_PAGE_ID}/posts/{external_id}"
        elif key == "twitter":
            external_id = str(1_860_000_000_000_000_000 + n * 100_000 + self.rng.randrange(100_000))
            thread = external_id
            url = f"https://twitter.com/{plan.fan[0].lstrip('@')}/status/{external_id}"
        else:
            days_ago = (self.today - day).days
            if plan.template.topic == "closing" or (
                days_ago <= CLOSINGS_ANNOUNCED_DAYS_AGO
                and days_ago > CLOSINGS_ANNOUNCED_DAYS_AGO - 7
            ):
                slug = BLOG_CLOSING_POST
            else:
                slug = BLOG_POSTS[((self.today - day).days // 7) % len(BLOG_POSTS)]
            external_id = f"comment-{n}"
            thread = f"jerrys-blog/{slug}"
            url = f"https://blog.berniesbooks.example/{slug}#{external_id}"
        return external_id, thread, url

    def _pick_agent(self, spec: DemoChannel) -> User:
        keys = [k for k, _ in spec.agents]
        weights = [w for _, w in spec.agents]
        return self.users[self.rng.choices(keys, weights=weights)[0]]

    def _send(
        self, signal: Any, sender: Any, actor: User | None, at: datetime, **data: Any
    ) -> None:
        """Queue a workflow signal; :meth:`_simulate` sends them once the rows are in."""
        self.outbox.append((signal, sender, actor, at, data))

    # ----------------------------------------------------------------- simulation

    def _simulate(self, plan: _Plan) -> None:
        """Play one message's life, then announce each step in order.

        The rows are written with their final state and the signals sent afterwards, so
        each signal's flush writes only its event (one flush per step would otherwise
        also update the message and draft again and again).
        """
        self.outbox = []
        self._play(plan)
        for signal, sender, actor, at, data in self.outbox:
            signal.send(sender, session=self.session, actor=actor, at=at, data=data)
        self.outbox = []

    def _play(self, plan: _Plan) -> None:
        rng = self.rng
        now = self.now
        template = plan.template
        external_id, thread, url = self._identity(plan)
        score = max(-1.0, min(1.0, template.score + rng.uniform(-0.06, 0.06)))
        if template.score == 0.0:
            score = 0.0  # a plain question reads as neutral
        score = round(score, 4)
        message = Message(
            channel_id=self.channels[plan.channel.key].id,
            external_id=external_id,
            fan=self._fan(plan.channel, plan.fan),
            text=template.text.format(**plan.slots),
            url=url,
            posted_at=plan.posted_at,
            received_at=plan.received_at,
            thread_key=thread,
            category=template.category,
            intent=template.intent,
            sentiment_score=score,
            sentiment_label=_sentiment_label(score),
            status="new",
            sla_due_at=plan.received_at + timedelta(minutes=plan.channel.sla_minutes),
        )
        self.session.add(message)
        self.session.flush()
        self._send(signals.message_received, message, None, plan.received_at)

        # Some recent messages are simply never picked up (the blog most of all).
        age = now - plan.received_at
        if age < timedelta(days=7):
            neglect = 0.7 if plan.channel.key == "blog" else 0.2
            if template.close is None and rng.random() < neglect:
                if age < timedelta(hours=12) and rng.random() < 0.5:
                    self._claim(message, plan, plan.received_at + _secs(rng.uniform(60, 1200)))
                return

        # Queue wait: minutes to about an hour on shift; overnight, until the shift starts.
        wait = rng.lognormvariate(2.6, 0.7) * 60  # median ~13 minutes
        if plan.channel.key == "blog":
            wait *= 2.2
        wait = min(wait, 80 * 60)
        seen = _agent_time(plan.received_at + _secs(wait))
        if seen != plan.received_at + _secs(wait):
            seen += _secs(rng.uniform(5, 50) * 60)
        if seen >= now:
            return

        if template.close is not None and rng.random() < template.close_chance:
            self._close(message, plan, seen, template.close)
            return

        agent = self._claim(message, plan, seen)
        if agent is None:
            return
        self._answer(message, plan, agent, seen)

    def _claim(self, message: Message, plan: _Plan, at: datetime) -> User | None:
        if at >= self.now:
            return None
        agent = self._pick_agent(plan.channel)
        message.status = "claimed"
        message.claimed_by_id = agent.id
        message.claimed_at = at
        message.last_activity_at = at
        self._send(signals.message_claimed, message, agent, at)
        return agent

    def _close(self, message: Message, plan: _Plan, seen: datetime, reason: str) -> None:
        rng = self.rng
        at = seen
        agent: User | None = None
        if reason != "spam" or rng.random() < 0.5:  # spam is often closed at a glance
            agent = self._claim(message, plan, seen)
            at = seen + _secs(rng.uniform(20, 180))
            if at >= self.now:
                return
        if agent is None:
            agent = self._pick_agent(plan.channel)
        message.status = "closed"
        message.closed_reason = reason
        message.closed_at = at
        self._send(signals.message_closed, message, agent, at, reason=reason)

    def _first_text(self, plan: _Plan, agent: User, fan_name: str) -> tuple[str, str | None, bool]:
        """The first draft's text, the stock response used and whether it is unedited."""
        rng = self.rng
        slots = dict(plan.slots, fan_name=fan_name)
        template = plan.template
        if template.stock is not None:
            # Bernie leans on the slate of stock responses; staff write their own more.
            use = 0.8 if agent.email == "bernie@example.com" else 0.45
            if rng.random() < use or not template.replies:
                stock = STOCK_BY_KEY[template.stock].text.format(fan_name=fan_name)
                if rng.random() < 0.8:
                    return stock, template.stock, True
                extra = rng.choice(STOCK_EXTRAS[template.stock])
                return f"{stock} {extra}", template.stock, False
        return rng.choice(template.replies).format(**slots), None, False

    def _answer(self, message: Message, plan: _Plan, agent: User, claimed_at: datetime) -> None:
        rng = self.rng
        now = self.now
        fan_name = message.fan.display_name.split(" ")[0]
        text, stock_key, unedited = self._first_text(plan, agent, fan_name)
        stock_text = (
            STOCK_BY_KEY[plan.template.stock].text.format(fan_name=fan_name)
            if plan.template.stock is not None
            else None
        )

        started = claimed_at + _secs(rng.uniform(30, 240))
        drafting = rng.uniform(40, 200) if unedited else rng.uniform(90, 720)
        submitted = started + _secs(drafting)
        if submitted >= now:
            return  # still thinking: claimed, nothing saved yet

        # Plan the rounds first, so the message's final state is known.
        # Each round: submitted at, decided at, decision, the approver's note, the text.
        rounds: list[tuple[datetime, datetime | None, str | None, str, str]] = []
        at = submitted
        draft_text = text
        notes_used: set[str] = set()
        published_at: datetime | None = None
        for number in range(1, 4):
            decided = at + _secs(rng.uniform(60, 480) * 60)
            if not _approver_working(decided):
                decided = _next_approver_start(decided) + _secs(rng.uniform(10, 180) * 60)
            rework = _secs(rng.uniform(5, 60) * 60)
            if decided >= now:
                rounds.append((at, None, None, "", draft_text))
                break
            # Corporate sends back about one round in ten, never its own stock wording.
            rejected = (
                number < 3
                and rng.random() < REJECT_CHANCE
                and decided + rework < now
                and draft_text != stock_text
            )
            if rejected:
                note, reworked = self._rejection(draft_text, plan.template, fan_name, notes_used)
                rounds.append((at, decided, "rejected", note, draft_text))
                draft_text = reworked
                at = decided + rework
                continue
            published = decided + _secs(rng.uniform(20, 120))
            if published >= now:
                rounds.append((at, None, None, "", draft_text))
            else:
                rounds.append((at, decided, "approved", "", draft_text))
                published_at = published
            break

        stock = self.stock[stock_key] if stock_key is not None else None
        if stock is not None:
            stock.usage_count += 1
        draft = Draft(
            message=message,
            author_id=agent.id,
            text=text,
            version=1,
            stock_response_id=stock.id if stock is not None else None,
            unedited_stock=unedited,
            status="drafting",
            created_at=started,
            updated_at=started,
        )
        draft.versions.append(
            DraftVersion(number=1, text=text, editor_id=agent.id, created_at=started)
        )
        message.status = "drafting"
        message.last_activity_at = started
        self.session.add(draft)
        self._send(signals.draft_started, draft, agent, started)

        carol = self.users["carol"]
        roles = sorted(agent.roles)
        for number, (sub_at, decided_at, decision, note, round_text) in enumerate(rounds, start=1):
            if round_text != text:  # rework after a rejection: a new version, then resubmit
                text = round_text
                draft.version += 1
                draft.text = text
                # Rewritten into the approved stock response, it counts as unedited stock.
                draft.unedited_stock = text == stock_text
                if draft.unedited_stock and draft.stock_response_id is None:
                    draft.stock_response_id = self.stock[plan.template.stock or ""].id
                    self.stock[plan.template.stock or ""].usage_count += 1
                edit_at = sub_at - _secs(rng.uniform(10, 60))
                draft.updated_at = edit_at
                draft.versions.append(
                    DraftVersion(
                        number=draft.version, text=text, editor_id=agent.id, created_at=edit_at
                    )
                )
                message.last_activity_at = edit_at
            submission = Submission(
                draft=draft,
                number=number,
                text=text,
                submitted_at=sub_at,
                author_id=agent.id,
                author_trusted=agent.trusted,
                author_roles=roles,
                policy_version_id=self.version.id,
                rule_number=1,
                outcome="needs_approval",
                reason=self.reason,
                steps=[dict(s) for s in self.steps],
                decision=decision,
                decided_at=decided_at,
            )
            self.session.add(submission)
            draft.status = "awaiting_approval"
            message.status = "awaiting_approval"
            self._send(
                signals.draft_submitted,
                submission,
                agent,
                sub_at,
                outcome="needs_approval",
                policy_version_id=self.version.id,
                rule_number=1,
                author_trusted=agent.trusted,
            )
            self._send(signals.approval_required, submission, None, sub_at, steps=self.steps)
            if decided_at is None or decision is None:
                return  # still waiting for corporate
            self.session.add(
                ApprovalDecision(
                    submission=submission,
                    step=1,
                    approver_id=carol.id,
                    outcome=decision,
                    note=note,
                    decided_at=decided_at,
                )
            )
            if decision == "rejected":
                draft.status = "rejected"
                message.status = "rejected"
                self._send(signals.draft_rejected, submission, carol, decided_at, step=1, note=note)
            else:
                draft.status = "approved"
                message.status = "approved"
                self._send(
                    signals.draft_approved,
                    submission,
                    carol,
                    decided_at,
                    step=1,
                    final=True,
                    edited=False,
                )

        if published_at is None:  # pragma: no cover - the rounds always end decided
            return
        reply = PublishedReply(
            draft=draft,
            message_id=message.id,
            text=text,
            published_at=published_at,
            connector="manual",
            published_by_id=agent.id,
        )
        self.session.add(reply)
        draft.status = "published"
        message.status = "published"
        self._send(signals.reply_published, reply, agent, published_at, connector="manual")

    def _rejection(
        self, text: str, template: Template, fan_name: str, used: set[str]
    ) -> tuple[str, str]:
        """Why the approver sent ``text`` back, and the agent's rewrite that answers it."""
        first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
        options: list[tuple[str, str]] = []
        if template.stock is not None:
            stock = STOCK_BY_KEY[template.stock]
            options.append(
                (
                    f"Please use the approved stock response ({stock.title}).",
                    stock.text.format(fan_name=fan_name),
                )
            )
        if "manager Jerry" in text:
            options.append(
                (
                    "Let's not name anyone on staff publicly.",
                    text.replace("manager Jerry", "manager"),
                )
            )
        if _without_emoji(text) != text:
            options.append(("No emoji in replies, please.", _without_emoji(text)))
        if "refund" in text.lower():
            options.append(
                (
                    "Don't mention refunds in public; ask them to message us privately.",
                    f"{first} Please send us a private message so we can put it right.",
                )
            )
        if template.topic == "signing":
            options.append(
                (
                    "Please don't promise anything about dates until PR confirms.",
                    f"{first} We'll share news about the signing here as soon as we have it.",
                )
            )
        if (
            template.intent == "complaint"
            and "sorry" not in text.lower()
            and "apologise" not in text
        ):
            options.append(
                (
                    "Too casual for a complaint: please open with the approved apology.",
                    f"We apologise for the trouble. {text}",
                )
            )
        if TEAM_SIGN_OFF not in text and not text.endswith("Jerry"):
            options.append(("Please sign replies as the team.", f"{text}\n— {TEAM_SIGN_OFF}"))
        options = [(note, new) for note, new in options if note not in used and new != text]
        if not options:
            options = [("Please check this with the store before we post it.", text)]
        weights = [1 if new.endswith(TEAM_SIGN_OFF) else 3 for _, new in options]
        note, reworked = self.rng.choices(options, weights=weights)[0]
        used.add(note)
        return note, reworked
