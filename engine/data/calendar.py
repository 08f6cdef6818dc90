"""The NYSE trading calendar (XNYS, from exchange_calendars): sessions, holidays, early closes.

    from engine.data.calendar import trading_days, session_close
    days = trading_days(date(2024, 7, 1), date(2024, 7, 8))   # 2024-07-04 is a holiday
    close = session_close(date(2024, 11, 29))                  # 18:00 UTC: the day after Thanksgiving closes early

Trading days are ``datetime.date``; instants are timezone-aware UTC ``datetime``. The calendar object
is built once per process (about a second) and covers 1990-01-01 to two years past today; a date
outside that span raises ``CalendarError``.
"""

from __future__ import annotations

import bisect
import functools
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime

from engine.errors import CalendarError

__all__ = [
    "CALENDAR_NAME",
    "is_early_close",
    "is_trading_day",
    "next_trading_day",
    "previous_trading_day",
    "session_close",
    "session_open",
    "trading_day_on_or_before",
    "trading_days",
]

CALENDAR_NAME = "XNYS"
_FIRST = date(1990, 1, 1)


@dataclass(frozen=True, slots=True)
class _Sessions:
    """The calendar's sessions as sorted ordinals plus open/close instants and early closes."""

    ordinals: tuple[int, ...]
    opens: tuple[datetime, ...]
    closes: tuple[datetime, ...]
    early: frozenset[int]
    first: date
    last: date


@functools.lru_cache(maxsize=1)
def _sessions() -> _Sessions:
    import exchange_calendars as xcals

    last = date(datetime.now(UTC).year + 2, 12, 31)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # exchange_calendars' own pandas deprecations
        cal = xcals.get_calendar(CALENDAR_NAME, start=_FIRST.isoformat(), end=last.isoformat())
        sessions = cal.sessions
        opens = tuple(ts.to_pydatetime() for ts in cal.opens.loc[sessions])
        closes = tuple(ts.to_pydatetime() for ts in cal.closes.loc[sessions])
        ordinals = tuple(ts.date().toordinal() for ts in sessions)
        early = frozenset(ts.date().toordinal() for ts in cal.early_closes)
    return _Sessions(ordinals, opens, closes, early, sessions[0].date(), sessions[-1].date())


def _day(d: date | datetime, name: str = "day") -> date:
    if isinstance(d, datetime):
        raise CalendarError(
            f"{name} must be a datetime.date (a trading day), got the instant {d.isoformat()}; "
            "pass d.date() after converting it to New York time",
            day=d,
        )
    if not isinstance(d, date):
        raise CalendarError(f"{name} must be a datetime.date, got {type(d).__name__} {d!r}", day=d)
    s = _sessions()
    if not s.first <= d <= s.last:
        raise CalendarError(
            f"{d} is outside the XNYS calendar span {s.first}..{s.last}; use a date inside it",
            day=d,
        )
    return d


def _index(d: date) -> int:
    """Position of ``d`` among the sessions, or -1 when it is not a trading day."""
    ords = _sessions().ordinals
    o = d.toordinal()
    i = bisect.bisect_left(ords, o)
    return i if i < len(ords) and ords[i] == o else -1


def trading_days(start: date, end: date) -> list[date]:
    """NYSE trading days with start ≤ day ≤ end (both inclusive; empty when start > end)."""
    _day(start, "start")
    _day(end, "end")
    ords = _sessions().ordinals
    lo = bisect.bisect_left(ords, start.toordinal())
    hi = bisect.bisect_right(ords, end.toordinal())
    return [date.fromordinal(o) for o in ords[lo:hi]]


def is_trading_day(d: date) -> bool:
    """True when the NYSE holds a session on ``d`` (False on weekends and exchange holidays)."""
    return _index(_day(d)) >= 0


def previous_trading_day(d: date) -> date:
    """The last trading day strictly before ``d``."""
    ords = _sessions().ordinals
    i = bisect.bisect_left(ords, _day(d).toordinal()) - 1
    if i < 0:
        raise CalendarError(f"no trading day before {d} in the calendar", day=d)
    return date.fromordinal(ords[i])


def next_trading_day(d: date) -> date:
    """The first trading day strictly after ``d``."""
    ords = _sessions().ordinals
    i = bisect.bisect_right(ords, _day(d).toordinal())
    if i >= len(ords):
        raise CalendarError(f"no trading day after {d} in the calendar", day=d)
    return date.fromordinal(ords[i])


def trading_day_on_or_before(d: date) -> date:
    """``d`` itself when it is a trading day, else the last trading day before it."""
    return d if is_trading_day(d) else previous_trading_day(d)


def _session_index(d: date) -> int:
    i = _index(_day(d))
    if i < 0:
        raise CalendarError(
            f"{d} is not an NYSE trading day (weekend or holiday); "
            f"use previous_trading_day({d}) or next_trading_day({d})",
            day=d,
        )
    return i


def session_open(d: date) -> datetime:
    """The opening instant of the session on ``d`` (UTC aware); raises ``CalendarError`` if no session."""
    return _sessions().opens[_session_index(d)]


def session_close(d: date) -> datetime:
    """The closing instant of the session on ``d`` (UTC aware; 13:00 New York on early closes)."""
    return _sessions().closes[_session_index(d)]


def is_early_close(d: date) -> bool:
    """True when the session on ``d`` closes early (e.g. the day after Thanksgiving); False if no session."""
    return _day(d).toordinal() in _sessions().early
