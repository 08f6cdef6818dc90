"""When jobs are due on the XNYS calendar: weekends and holidays skipped, half days respected, DST followed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from engine.scheduler import JobKind, SchedulerService, next_due, trading_day_of
from tests.scheduler._sim import SimRunner

NY = "America/New_York"


def _ny(d: date, t: time):
    from zoneinfo import ZoneInfo

    return datetime.combine(d, t, tzinfo=ZoneInfo(NY)).astimezone(UTC)


def test_half_day_moves_close_relative_jobs(config) -> None:
    normal, half = date(2024, 11, 27), date(2024, 11, 29)  # Black Friday closes at 13:00
    md = config.jobs[JobKind.MARKET_DATA]
    dc = config.jobs[JobKind.DRIFT_CHECK]
    sync = config.jobs[JobKind.ACCOUNT_SYNC]
    from engine.scheduler import due_at

    assert due_at(md, normal, config.zone) == _ny(normal, time(16, 30))
    assert due_at(md, half, config.zone) == _ny(half, time(13, 30))
    assert due_at(dc, half, config.zone) == _ny(half, time(12, 0))
    assert due_at(sync, half, config.zone) == _ny(half, time(9, 0))


def test_no_trading_day_on_weekends_and_holidays(config) -> None:
    assert trading_day_of(_ny(date(2024, 11, 28), time(16, 45)), config.zone) is None  # Thanksgiving
    assert trading_day_of(_ny(date(2024, 11, 30), time(16, 45)), config.zone) is None  # Saturday
    # 23:30 New York on Friday is already Saturday in UTC: the New York date counts
    assert trading_day_of(_ny(date(2024, 11, 29), time(23, 30)), config.zone) == date(2024, 11, 29)


def test_next_due_skips_the_holiday_and_follows_dst(config) -> None:
    md = config.jobs[JobKind.MARKET_DATA]
    after = _ny(date(2024, 11, 27), time(17, 0))
    nxt = next_due(JobKind.MARKET_DATA, md, after, config.zone)
    assert nxt.trading_day == date(2024, 11, 29) and nxt.due == _ny(date(2024, 11, 29), time(13, 30))
    # across the spring DST change the wall time stays 16:30 New York (20:30 UTC, not 21:30)
    spring = next_due(JobKind.MARKET_DATA, md, _ny(date(2024, 3, 8), time(17, 0)), config.zone)
    assert spring.trading_day == date(2024, 3, 11) and spring.due.hour == 20 and spring.due.minute == 30


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        (date(2024, 11, 27), time(8, 59), set()),
        (date(2024, 11, 27), time(9, 10), {JobKind.ACCOUNT_SYNC}),
        (date(2024, 11, 27), time(9, 26), set()),  # past the sync's 25-minute grace: skipped, not late
        (date(2024, 11, 27), time(15, 5), {JobKind.HARVEST_SCAN, JobKind.DRIFT_CHECK}),
        (date(2024, 11, 27), time(16, 50), {JobKind.MARKET_DATA, JobKind.ESTIMATES}),
        (date(2024, 11, 29), time(12, 30), {JobKind.HARVEST_SCAN, JobKind.DRIFT_CHECK}),
        (date(2024, 11, 29), time(15, 5), {JobKind.MARKET_DATA, JobKind.ESTIMATES}),  # half day: trading is over
        (date(2024, 11, 28), time(16, 50), set()),  # Thanksgiving
        (date(2024, 11, 30), time(16, 50), set()),  # Saturday
    ],
)
def test_what_is_due(store, broker, config, day, at, expected) -> None:
    service = SchedulerService(store, SimRunner(store, broker), config)
    assert {w.job for w in service.due(_ny(day, at))} == expected


def test_cron_triggers_cover_normal_and_half_days(store, broker, config) -> None:
    service = SchedulerService(store, SimRunner(store, broker), config)
    fires = {
        (t.fields[5].expressions[0].first, t.fields[6].expressions[0].first)  # hour, minute
        for t in service.triggers(JobKind.DRIFT_CHECK, config.jobs[JobKind.DRIFT_CHECK])
    }
    assert fires == {(15, 0), (12, 0)}
    (sync,) = service.triggers(JobKind.ACCOUNT_SYNC, config.jobs[JobKind.ACCOUNT_SYNC])
    assert str(sync.timezone) == NY and str(sync.fields[4]) == "mon-fri"
