"""A channel's business hours: when it is staffed, and how much staffed time a span holds.

The spec, as stored on ``Channel.business_hours``::

    {"timezone": "Europe/London",
     "hours": {"mon": [["09:00", "17:30"]], "sat": [["10:00", "13:00"], ["14:00", "16:00"]]},
     "holidays": ["2026-12-25"]}

- ``timezone`` is an IANA name; hours and holidays are read in it.
- ``hours`` maps days (``mon`` … ``sun``) to intervals of wall-clock time, ``"HH:MM"``
  to ``"HH:MM"`` (``"24:00"`` may end a day); start included, end excluded. A day may
  have several intervals; a missing day is closed. An interval never crosses midnight:
  a late shift is written as two intervals on two days.
- ``holidays`` are dates, in the spec's timezone, on which the channel is closed all day.

An instant is *open* when its wall-clock time in the spec's timezone falls inside one
of that day's intervals. Daylight-saving changes follow from that: on the day clocks go
forward, 00:00–24:00 holds 23 hours and an interval starting in the skipped hour opens
when the clocks jump; on the day they go back, 00:00–24:00 holds 25 hours and the
repeated hour counts twice if it is open. :func:`is_open` and
:func:`business_seconds_between` always agree (``is_open(t)`` exactly when the second
after ``t`` holds one business second).

Everything here is a pure function of plain values; every datetime must be aware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from respondr.domain.errors import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELD = "business_hours"
MAX_INTERVALS_A_DAY = 12
MAX_HOLIDAYS = 1000

_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_ONE_DAY = timedelta(days=1)
# Wider than any UTC offset: every instant whose wall-clock time falls on a given day
# lies within this much of that day's naive wall-clock times.
_OFFSET_BOUND = timedelta(hours=18)


def _minutes(value: object, field: str) -> int:
    """Minutes after midnight of an ``"HH:MM"`` time (``"24:00"`` is 1440)."""
    found = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise ValidationError('Write times as "HH:MM", for example "09:00".', field)
    hours, minutes = int(found.group(1)), int(found.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ValidationError(f"{value} is not a time of day.", field)
    return hours * 60 + minutes


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _zone(raw: object) -> ZoneInfo:
    field = f"{FIELD}.timezone"
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationError("Choose the timezone the hours are given in.", field)
    try:
        return ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            f"{raw!r} is not a timezone; use a name such as Europe/London.", field
        ) from None


def _day_intervals(raw: object, field: str) -> list[tuple[int, int]]:
    if not isinstance(raw, list | tuple):
        raise ValidationError('Give a day\'s hours as a list of ["HH:MM", "HH:MM"].', field)
    if len(raw) > MAX_INTERVALS_A_DAY:
        raise ValidationError(f"A day has at most {MAX_INTERVALS_A_DAY} intervals.", field)
    intervals = []
    for j, pair in enumerate(raw):
        where = f"{field}[{j}]"
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValidationError('Give each interval as ["HH:MM", "HH:MM"].', where)
        start, end = _minutes(pair[0], f"{where}[0]"), _minutes(pair[1], f"{where}[1]")
        if end <= start:
            raise ValidationError(
                "An interval must end after it starts (one ending after midnight is "
                "written as two intervals on two days).",
                where,
            )
        intervals.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):  # overlapping or touching intervals join
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _holidays(raw: object) -> list[date]:
    field = f"{FIELD}.holidays"
    if not isinstance(raw, list | tuple):
        raise ValidationError('Give holidays as a list of dates, "YYYY-MM-DD".', field)
    if len(raw) > MAX_HOLIDAYS:
        raise ValidationError(f"List at most {MAX_HOLIDAYS} holidays.", field)
    days = set()
    for i, value in enumerate(raw):
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            days.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValidationError(
                f'{value!r} is not a date; write it as "YYYY-MM-DD".', f"{field}[{i}]"
            ) from None
    return sorted(days)


@dataclass(frozen=True)
class _Schedule:
    zone: ZoneInfo
    # Per weekday (Monday first): open intervals in minutes after midnight, sorted.
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date]


def _schedule(raw: object) -> _Schedule:
    if not isinstance(raw, dict):
        raise ValidationError(
            "Business hours need a timezone, the hours of each open day and any holidays.",
            FIELD,
        )
    unknown = sorted(str(key) for key in raw if key not in ("timezone", "hours", "holidays"))
    if unknown:
        raise ValidationError(f"Unknown setting {unknown[0]!r}.", f"{FIELD}.{unknown[0]}")
    zone = _zone(raw.get("timezone"))
    hours = raw.get("hours")
    if not isinstance(hours, dict) or not hours:
        raise ValidationError("Give the hours of at least one open day.", f"{FIELD}.hours")
    for day in hours:
        if day not in DAYS:
            raise ValidationError(
                f"Days are {', '.join(DAYS)}; {day!r} is not one of them.",
                f"{FIELD}.hours.{day}",
            )
    week = tuple(
        tuple(_day_intervals(hours[day], f"{FIELD}.hours.{day}")) if day in hours else ()
        for day in DAYS
    )
    if not any(week):
        raise ValidationError("Give the hours of at least one open day.", f"{FIELD}.hours")
    return _Schedule(zone, week, frozenset(_holidays(raw.get("holidays", []))))


def validate_spec(raw: object) -> dict[str, Any]:
    """A normalised copy of a business-hours spec, or :class:`ValidationError` naming the
    field at fault (``business_hours.hours.mon[0][1]``).

    Normalising sorts each day's intervals and joins those that overlap or touch, drops
    closed days, writes times as ``"HH:MM"`` and sorts the holidays without repeats.
    """
    schedule = _schedule(raw)
    return {
        "timezone": schedule.zone.key,
        "hours": {
            day: [[_clock(start), _clock(end)] for start, end in intervals]
            for day, intervals in zip(DAYS, schedule.hours, strict=True)
            if intervals
        },
        "holidays": [day.isoformat() for day in sorted(schedule.holidays)],
    }


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("business hours need timezone-aware datetimes")


def is_open(spec: object, at: datetime) -> bool:
    """Whether the channel is staffed at ``at`` (aware): its wall-clock time in the spec's
    timezone lies in one of that day's intervals, and the day is not a holiday.

    Raises :class:`ValidationError` for a bad spec and ``ValueError`` for a naive ``at``.
    """
    _require_aware(at)
    schedule = _schedule(spec)
    local = at.astimezone(schedule.zone)
    if local.date() in schedule.holidays:
        return False
    since_midnight = local.replace(tzinfo=None) - datetime.combine(local.date(), time())
    return any(
        timedelta(minutes=start) <= since_midnight < timedelta(minutes=end)
        for start, end in schedule.hours[local.weekday()]
    )


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    return offset if offset is not None else timedelta(0)


def _open_instants(
    zone: ZoneInfo, day: date, start: int, end: int
) -> list[tuple[datetime, datetime]]:
    """The UTC instants whose wall-clock time on ``day`` lies in [start, end) minutes.

    Wall time is UTC plus the zone's offset, which is constant between offset changes.
    At most one change is assumed near a day (true of every real zone): the instants
    before it are read with the old offset, those after with the new one.
    """
    opens = datetime.combine(day, time()) + timedelta(minutes=start)
    closes = datetime.combine(day, time()) + timedelta(minutes=end)
    earliest = (opens - _OFFSET_BOUND).replace(tzinfo=UTC)
    latest = (closes + _OFFSET_BOUND).replace(tzinfo=UTC)
    before, after = _offset(zone, earliest), _offset(zone, latest)
    if before == after:
        return [((opens - before).replace(tzinfo=UTC), (closes - before).replace(tzinfo=UTC))]
    # Find the change to the second (offsets change on whole seconds).
    low, high = 0, int((latest - earliest).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, earliest + timedelta(seconds=middle)) == before:
            low = middle
        else:
            high = middle
    change = earliest + timedelta(seconds=high)
    pieces = [
        ((opens - before).replace(tzinfo=UTC), min((closes - before).replace(tzinfo=UTC), change)),
        (max((opens - after).replace(tzinfo=UTC), change), (closes - after).replace(tzinfo=UTC)),
    ]
    return [(low_end, high_end) for low_end, high_end in pieces if high_end > low_end]


def business_seconds_between(spec: object, start: datetime, end: datetime) -> float:
    """How many seconds of [start, end) the channel is open: 0 when ``end`` is not after
    ``start``. Walks the span a local day at a time, so a long span stays cheap.

    Raises :class:`ValidationError` for a bad spec and ``ValueError`` for naive datetimes.
    """
    _require_aware(start, end)
    schedule = _schedule(spec)
    # In UTC: Python compares and subtracts datetimes sharing a tzinfo by wall clock.
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        return 0.0
    # A day either side: where clocks go back at midnight, local dates can step back.
    day = start.astimezone(schedule.zone).date() - _ONE_DAY
    last = end.astimezone(schedule.zone).date() + _ONE_DAY
    total = timedelta(0)
    while day <= last:
        if day not in schedule.holidays:
            for opens, closes in schedule.hours[day.weekday()]:
                for low, high in _open_instants(schedule.zone, day, opens, closes):
                    low, high = max(low, start), min(high, end)
                    if high > low:
                        total += high - low
        day += _ONE_DAY
    return total.total_seconds()
