"""Facts of the NYSE calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.data import (
    is_early_close,
    is_trading_day,
    next_trading_day,
    previous_trading_day,
    session_close,
    session_open,
    trading_day_on_or_before,
    trading_days,
)
from engine.errors import CalendarError


def test_independence_day_2024_is_a_holiday():
    assert not is_trading_day(date(2024, 7, 4))
    assert trading_days(date(2024, 7, 1), date(2024, 7, 8)) == [
        date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 5), date(2024, 7, 8)
    ]
    assert previous_trading_day(date(2024, 7, 5)) == date(2024, 7, 3)
    assert next_trading_day(date(2024, 7, 3)) == date(2024, 7, 5)


def test_day_after_thanksgiving_closes_at_one_in_new_york():
    assert is_early_close(date(2024, 11, 29)) and not is_early_close(date(2024, 11, 27))
    assert session_close(date(2024, 11, 29)) == datetime(2024, 11, 29, 18, 0, tzinfo=UTC)   # 13:00 EST
    assert session_close(date(2024, 11, 27)) == datetime(2024, 11, 27, 21, 0, tzinfo=UTC)   # 16:00 EST
    assert session_open(date(2024, 7, 5)) == datetime(2024, 7, 5, 13, 30, tzinfo=UTC)       # 09:30 EDT
    assert session_close(date(2024, 7, 5)).tzinfo is not None


def test_weekends():
    assert not is_trading_day(date(2024, 7, 6)) and not is_trading_day(date(2024, 7, 7))
    assert next_trading_day(date(2024, 7, 5)) == date(2024, 7, 8)
    assert previous_trading_day(date(2024, 7, 8)) == date(2024, 7, 5)
    assert trading_day_on_or_before(date(2024, 7, 7)) == date(2024, 7, 5)
    assert trading_day_on_or_before(date(2024, 7, 8)) == date(2024, 7, 8)
    assert trading_days(date(2024, 7, 6), date(2024, 7, 7)) == []
    assert len(trading_days(date(2024, 1, 1), date(2024, 12, 31))) == 252


def test_errors_name_the_day_and_the_fix():
    with pytest.raises(CalendarError, match=r"2024-07-04 is not an NYSE trading day.*previous_trading_day"):
        session_close(date(2024, 7, 4))
    with pytest.raises(CalendarError, match="outside the XNYS calendar"):
        is_trading_day(date(1980, 1, 2))
    with pytest.raises(CalendarError, match=r"datetime\.date"):
        is_trading_day(datetime(2024, 7, 5, tzinfo=UTC))
