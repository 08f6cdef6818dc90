"""``config/scheduler.yaml``: the shipped defaults and every validation error."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
import yaml

from engine.errors import ConfigError
from engine.scheduler import JobKind, SchedulerConfig, load_scheduler_config


def test_shipped_defaults_are_the_paper_trading_schedule() -> None:
    cfg = load_scheduler_config()
    assert cfg.timezone == "America/New_York"
    assert cfg.jobs[JobKind.ACCOUNT_SYNC].wall_time == time(9, 0)
    assert cfg.jobs[JobKind.MARKET_DATA].after_close_minutes == 30  # 16:30
    assert cfg.jobs[JobKind.HARVEST_SCAN].before_close_minutes == 60  # 15:00
    assert cfg.jobs[JobKind.DRIFT_CHECK].before_close_minutes == 60
    assert JobKind.REACT not in cfg.jobs  # reactions run at each poll, not by time
    assert cfg.backoff(1) == timedelta(minutes=5) and cfg.backoff(3) == timedelta(minutes=20)


def _write(tmp_path, data) -> str:
    path = tmp_path / "scheduler.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"jobs": {"market_data": {"at": "16:30", "after_close_minutes": 30}}}, "jobs.market_data", "exactly one"),
        ({"jobs": {"market_data": {"misfire_grace_minutes": 5}}}, "jobs.market_data", "exactly one"),
        ({"jobs": {"account_sync": {"at": "9am"}}}, "jobs.account_sync.at", "HH:MM"),
        ({"jobs": {"account_sync": {"at": "09:00", "when": 1}}}, "jobs.account_sync.when", "Extra"),
        ({"jobs": {"teatime": {"at": "16:00"}}}, "jobs.teatime.[key]", "Input should be"),
        ({"jobs": {"react": {"at": "10:00"}}}, "jobs", "not scheduled by time"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"heartbeat_seconds": 300, "stale_after_minutes": 10}, "<root>", "three heartbeats"),
        ({"max_attempts": 0}, "max_attempts", "greater than or equal"),
    ],
)
def test_bad_files_name_the_field(tmp_path, data, field, words) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_scheduler_config(path)
    assert err.value.file == path
    assert err.value.field == field
    assert words in str(err.value)


def test_config_dir_override_is_used(tmp_path, monkeypatch) -> None:
    _write(tmp_path, {"poll_minutes": 7})
    monkeypatch.setenv("ROBO_CONFIG_DIR", str(tmp_path))
    assert load_scheduler_config().poll_minutes == 7
    assert SchedulerConfig().jobs == {}
