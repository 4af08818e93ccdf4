"""Business hours: when a channel is staffed, and how much staffed time lies in a span."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respondr.domain.business_hours import (
    DAYS,
    business_seconds_between,
    is_open,
    validate_spec,
)
from respondr.domain.errors import ValidationError

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = 3600

# Bernie's bookstore page: weekdays 09:00–17:30, Saturdays with a lunch break.
BOOKSTORE = {
    "timezone": "Europe/London",
    "hours": {
        "mon": [["09:00", "17:30"]],
        "tue": [["09:00", "17:30"]],
        "wed": [["09:00", "17:30"]],
        "thu": [["09:00", "17:30"]],
        "fri": [["09:00", "17:30"]],
        "sat": [["10:00", "13:00"], ["14:00", "16:00"]],
    },
    "holidays": ["2026-12-25"],
}


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def round_the_clock(timezone: str) -> dict:
    return {"timezone": timezone, "hours": {day: [["00:00", "24:00"]] for day in DAYS}}


# --- is_open -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (london(2026, 3, 2, 9, 0), True),  # Monday, opening time is included
        (london(2026, 3, 2, 8, 59, 59), False),
        (london(2026, 3, 2, 17, 29, 59), True),
        (london(2026, 3, 2, 17, 30), False),  # closing time is not
        (london(2026, 3, 1, 12, 0), False),  # Sunday: no hours given, closed
        (london(2026, 3, 7, 12, 59), True),  # Saturday morning
        (london(2026, 3, 7, 13, 30), False),  # Saturday lunch break
        (london(2026, 3, 7, 14, 0), True),  # Saturday afternoon
        (london(2026, 12, 25, 11, 0), False),  # a Friday, but a holiday
        (london(2026, 12, 24, 11, 0), True),
    ],
)
def test_is_open_reads_the_days_intervals_and_holidays(at, expected):
    assert is_open(BOOKSTORE, at) is expected


def test_is_open_reads_wall_clock_time_in_the_specs_timezone():
    # Summer: 08:30 UTC is 09:30 in London (BST), 16:45 UTC is 17:45.
    assert is_open(BOOKSTORE, datetime(2026, 7, 6, 8, 30, tzinfo=UTC))
    assert not is_open(BOOKSTORE, datetime(2026, 7, 6, 16, 45, tzinfo=UTC))
    # 04:30 in New York is 09:30 in London in winter.
    assert is_open(BOOKSTORE, datetime(2026, 3, 2, 4, 30, tzinfo=NEW_YORK))


def test_a_holiday_is_a_date_in_the_specs_timezone():
    every_day = {day: [["00:00", "24:00"]] for day in DAYS}
    spec = {"timezone": "America/New_York", "hours": every_day, "holidays": ["2026-12-25"]}
    # 02:00 UTC on the 26th is still the 25th, a holiday, in New York.
    assert not is_open(spec, datetime(2026, 12, 26, 2, 0, tzinfo=UTC))
    assert is_open(spec, datetime(2026, 12, 25, 2, 0, tzinfo=UTC))  # the 24th there


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        is_open(BOOKSTORE, datetime(2026, 3, 2, 10, 0))
    with pytest.raises(ValueError, match="aware"):
        business_seconds_between(BOOKSTORE, datetime(2026, 3, 2), london(2026, 3, 3))


# --- business_seconds_between ----------------------------------------------------------


def test_business_time_within_one_day_is_the_open_part():
    assert business_seconds_between(BOOKSTORE, london(2026, 3, 2, 8), london(2026, 3, 2, 18)) == (
        8.5 * HOUR
    )
    assert (
        business_seconds_between(BOOKSTORE, london(2026, 3, 2, 10), london(2026, 3, 2, 10, 0, 30))
        == 30
    )


def test_business_time_across_midnight_counts_both_evenings_and_mornings():
    # Monday 17:00 → Tuesday 10:00: half an hour, then an hour.
    start, end = london(2026, 3, 2, 17), london(2026, 3, 3, 10)
    assert business_seconds_between(BOOKSTORE, start, end) == 1.5 * HOUR


def test_business_time_over_a_weekend_counts_only_saturdays_hours():
    # Friday 17:00 → Monday 10:00: 0.5 h Friday, 5 h Saturday, nothing Sunday, 1 h Monday.
    start, end = london(2026, 3, 6, 17), london(2026, 3, 9, 10)
    assert business_seconds_between(BOOKSTORE, start, end) == 6.5 * HOUR


def test_business_time_skips_a_holiday():
    # Thursday 24 Dec 17:00 → Monday 28 Dec 10:00, Christmas Day (Friday) closed.
    start, end = london(2026, 12, 24, 17), london(2026, 12, 28, 10)
    assert business_seconds_between(BOOKSTORE, start, end) == 6.5 * HOUR


def test_a_whole_week_and_a_long_span():
    week = 5 * 8.5 * HOUR + 5 * HOUR
    start = london(2026, 3, 2)
    assert business_seconds_between(BOOKSTORE, start, start + timedelta(weeks=1)) == week
    # 52 weeks from Monday 5 Jan 2026, one of whose Fridays is Christmas.
    start = london(2026, 1, 5)
    year = business_seconds_between(BOOKSTORE, start, start + timedelta(weeks=52))
    assert year == 52 * week - 8.5 * HOUR


def test_an_empty_or_backwards_span_holds_no_business_time():
    at = london(2026, 3, 2, 10)
    assert business_seconds_between(BOOKSTORE, at, at) == 0
    assert business_seconds_between(BOOKSTORE, at, at - timedelta(hours=1)) == 0


def test_start_and_end_may_be_in_any_timezone():
    start = datetime(2026, 3, 2, 4, 0, tzinfo=NEW_YORK)  # 09:00 London
    end = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert business_seconds_between(BOOKSTORE, start, end) == 3 * HOUR


@pytest.mark.parametrize(
    ("timezone", "day", "hours"),
    [
        ("Europe/London", (2026, 3, 29), 23),  # clocks go forward at 01:00
        ("Europe/London", (2026, 10, 25), 25),  # clocks go back at 02:00
        ("America/New_York", (2026, 3, 8), 23),
        ("America/New_York", (2026, 11, 1), 25),
    ],
)
def test_a_round_the_clock_day_holds_23_or_25_hours_when_clocks_change(timezone, day, hours):
    zone = ZoneInfo(timezone)
    start = datetime(*day, tzinfo=zone)
    end = datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=zone)
    spec = round_the_clock(timezone)
    assert business_seconds_between(spec, start, end) == hours * HOUR
    # The same as calendar time across the whole change, whichever zone the ends are in.
    start_utc, end_utc = start.astimezone(UTC) - timedelta(hours=5), end.astimezone(UTC)
    elapsed = (end_utc - start_utc).total_seconds()
    assert business_seconds_between(spec, start_utc, end_utc) == elapsed


@pytest.mark.parametrize(
    ("timezone", "day", "interval", "hours"),
    [
        # London: 01:00–02:00 never happens on 29 March; 01:00–02:00 happens twice on 25 Oct.
        ("Europe/London", (2026, 3, 29), ["00:30", "03:00"], 1.5),
        ("Europe/London", (2026, 10, 25), ["00:30", "03:00"], 3.5),
        # New York: 02:00–03:00 is skipped on 8 March, 01:00–02:00 repeated on 1 November.
        ("America/New_York", (2026, 3, 8), ["01:00", "04:00"], 2),
        ("America/New_York", (2026, 11, 1), ["01:00", "04:00"], 4),
        # Ordinary office hours on the changeover days are unaffected.
        ("Europe/London", (2026, 3, 29), ["09:00", "17:00"], 8),
        ("America/New_York", (2026, 11, 1), ["09:00", "17:00"], 8),
    ],
)
def test_intervals_are_wall_clock_time_across_dst_changes(timezone, day, interval, hours):
    spec = {"timezone": timezone, "hours": {"sun": [interval]}}
    zone = ZoneInfo(timezone)
    start = datetime(*day, tzinfo=zone) - timedelta(days=1)
    end = start + timedelta(days=3)
    assert business_seconds_between(spec, start, end) == hours * HOUR


def test_an_interval_starting_in_the_skipped_hour_opens_when_the_clocks_jump():
    spec = {"timezone": "America/New_York", "hours": {"sun": [["02:30", "03:30"]]}}
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 02:00 EST becomes 03:00 EDT
    assert not is_open(spec, jump - timedelta(seconds=1))
    assert is_open(spec, jump)
    assert is_open(spec, jump + timedelta(minutes=29, seconds=59))
    assert not is_open(spec, jump + timedelta(minutes=30))
    day = datetime(2026, 3, 8, tzinfo=UTC)
    assert business_seconds_between(spec, day, day + timedelta(days=1)) == 0.5 * HOUR


def test_business_hours_in_a_fixed_offset_zone():
    spec = {"timezone": "Asia/Kolkata", "hours": {"mon": [["09:00", "18:00"]]}}
    start = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 09:00 in Kolkata
    assert is_open(spec, start) and not is_open(spec, start - timedelta(seconds=1))
    assert business_seconds_between(spec, start, start + timedelta(days=7)) == 9 * HOUR


# --- validate_spec -----------------------------------------------------------------------


def test_validate_spec_normalises():
    spec = validate_spec(
        {
            "timezone": " Europe/London ",
            "hours": {
                "tue": [["13:00", "17:00"], ["9:00", "12:00"], ["11:30", "13:00"]],
                "mon": [["09:00", "17:30"]],
                "sun": [],
            },
            "holidays": ["2026-12-26", "2026-12-25", "2026-12-25"],
        }
    )
    assert spec == {
        "timezone": "Europe/London",
        "hours": {"mon": [["09:00", "17:30"]], "tue": [["09:00", "17:00"]]},
        "holidays": ["2026-12-25", "2026-12-26"],
    }
    assert validate_spec(spec) == spec
    assert validate_spec(BOOKSTORE) == BOOKSTORE


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (None, "business_hours"),
        (["09:00", "17:00"], "business_hours"),
        ({"hours": {"mon": [["09:00", "17:00"]]}}, "business_hours.timezone"),
        (
            {"timezone": "Mars/Olympus", "hours": {"mon": [["09:00", "17:00"]]}},
            "business_hours.timezone",
        ),
        (
            {"timezone": "../etc/passwd", "hours": {"mon": [["09:00", "17:00"]]}},
            "business_hours.timezone",
        ),
        ({"timezone": "UTC"}, "business_hours.hours"),
        ({"timezone": "UTC", "hours": {}}, "business_hours.hours"),
        ({"timezone": "UTC", "hours": {"mon": []}}, "business_hours.hours"),
        (
            {"timezone": "UTC", "hours": {"monday": [["09:00", "17:00"]]}},
            "business_hours.hours.monday",
        ),
        ({"timezone": "UTC", "hours": {"mon": "09:00-17:00"}}, "business_hours.hours.mon"),
        ({"timezone": "UTC", "hours": {"mon": [["09:00"]]}}, "business_hours.hours.mon[0]"),
        (
            {"timezone": "UTC", "hours": {"mon": [["9am", "17:00"]]}},
            "business_hours.hours.mon[0][0]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "25:00"]]}},
            "business_hours.hours.mon[0][1]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "24:30"]]}},
            "business_hours.hours.mon[0][1]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"], ["18:00", "08:00"]]}},
            "business_hours.hours.mon[1]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "09:00"]]}},
            "business_hours.hours.mon[0]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"]]}, "holidays": "2026-12-25"},
            "business_hours.holidays",
        ),
        (
            {
                "timezone": "UTC",
                "hours": {"mon": [["09:00", "17:00"]]},
                "holidays": ["2026-12-25", "25/12/2026"],
            },
            "business_hours.holidays[1]",
        ),
        (
            {"timezone": "UTC", "hours": {"mon": [["09:00", "17:00"]]}, "colour": "blue"},
            "business_hours.colour",
        ),
    ],
)
def test_validate_spec_names_the_field_at_fault(spec, field):
    with pytest.raises(ValidationError) as caught:
        validate_spec(spec)
    assert caught.value.field == field
    assert caught.value.message.endswith(".")


def test_is_open_refuses_a_bad_spec():
    with pytest.raises(ValidationError):
        is_open({"timezone": "Nowhere/Special", "hours": {"mon": []}}, london(2026, 3, 2))


# --- properties --------------------------------------------------------------------------


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ZONES = [
    "Europe/London",
    "America/New_York",
    "UTC",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # clocks move by half an hour
    "America/Santiago",  # clocks change at midnight
]
intervals = st.integers(0, 1439).flatmap(
    lambda start: st.tuples(st.just(start), st.integers(start + 1, 1440))
)
specs = st.builds(
    lambda zone, week, holidays: {
        "timezone": zone,
        "hours": {
            day: [[_clock(a), _clock(b)] for a, b in pairs]
            for day, pairs in zip(DAYS, week, strict=True)
        },
        "holidays": [day.isoformat() for day in holidays],
    },
    st.sampled_from(ZONES),
    st.lists(st.lists(intervals, max_size=3), min_size=7, max_size=7).filter(any),
    st.lists(st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), max_size=5),
)


def _offset_changes(year: int) -> list[datetime]:
    """The days (00:00 UTC) of ``year`` in which one of ZONES changes its UTC offset."""
    changes = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        later = day + timedelta(days=1)
        for zone in map(ZoneInfo, ZONES):
            if day.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
                changes.append(day)
        day = later
    return changes


# Instants on whole seconds over three years, or within a few days of a DST change.
instants = st.one_of(
    st.integers(
        int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
        int(datetime(2027, 12, 31, tzinfo=UTC).timestamp()),
    ).map(lambda seconds: datetime.fromtimestamp(seconds, tz=UTC)),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(_offset_changes(2026)),
        st.integers(-2 * 86400, 3 * 86400),
    ),
)


@given(specs, st.lists(instants, min_size=3, max_size=3).map(sorted))
def test_business_time_adds_up_and_never_exceeds_calendar_time(spec, moments):
    a, b, c = moments
    whole = business_seconds_between(spec, a, c)
    parts = business_seconds_between(spec, a, b) + business_seconds_between(spec, b, c)
    assert math.isclose(whole, parts, abs_tol=1e-6)
    assert 0 <= whole <= (c - a).total_seconds()


@given(specs, instants)
def test_is_open_agrees_with_business_time(spec, at):
    one_second = business_seconds_between(spec, at, at + timedelta(seconds=1))
    assert one_second == (1 if is_open(spec, at) else 0)
