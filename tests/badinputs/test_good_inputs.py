"""The strict edges still accept every good input: merge keys, a few aliases, floats, valid settings, trading days."""

from __future__ import annotations

import pickle
from datetime import date
from decimal import Decimal

import pytest
import yaml

from engine.config.exact import exact_decimal
from engine.config.strict_yaml import MAX_ALIASES, YamlFloat, strict_load
from engine.errors import ConfigError, NotFound
from engine.settings import Settings


def test_merge_keys_and_a_few_aliases_still_work() -> None:
    data = strict_load("base: &b {a: 1, b: 2}\nx:\n  <<: *b\n  c: 3\n" + "".join(f"y{i}: *b\n" for i in range(20)))
    assert data["x"] == {"a": 1, "b": 2, "c": 3} and data["y19"] == {"a": 1, "b": 2}


def test_the_alias_limit_is_a_limit_not_a_ban() -> None:
    ok = "a: &a 1\n" + "".join(f"k{i}: *a\n" for i in range(MAX_ALIASES))
    assert strict_load(ok)["k99"] == 1
    with pytest.raises(ConfigError, match="alias uses"):
        strict_load(ok + "one_more: *a\n")


def test_a_yaml_float_is_a_float_that_remembers_its_text() -> None:
    value = strict_load("x: 25.0000000000000000000001\n")["x"]
    assert isinstance(value, YamlFloat) and value == 25.0 and value.text == "25.0000000000000000000001"
    assert value * 2 == 50.0  # arithmetic is a float's
    assert pickle.loads(pickle.dumps(value)).text == value.text
    assert yaml.safe_load(yaml.safe_dump({"x": value})) == {"x": 25.0}  # dumps like any float


@pytest.mark.parametrize(("text", "exact"), [("0.1", "0.1"), ("1e3", "1000"), ("1_000.50", "1000.50"),
                                             ("12500", "12500"), ("-0.0", "0")])
def test_money_is_the_decimal_of_its_text(text: str, exact: str) -> None:
    assert exact_decimal(strict_load(f"x: {text}\n")["x"]) == Decimal(exact)


def test_same_key_in_different_mappings_is_not_a_duplicate() -> None:
    assert strict_load("a: {id: 1}\nb: {id: 2}\n") == {"a": {"id": 1}, "b": {"id": 2}}


@pytest.mark.parametrize("value", ["true", "false", "1", "0", "yes", "no", "on", "off"])
def test_boolean_settings_accept_the_usual_spellings(monkeypatch, value: str) -> None:
    monkeypatch.setenv("ROBO_TRADING_DISABLED", value)
    assert Settings().trading_disabled is (value in ("true", "1", "yes", "on"))


def test_other_robo_variables_are_left_alone(monkeypatch) -> None:
    monkeypatch.setenv("ROBO_TEST_DATABASE_URL", "postgresql://x")  # the test suite's own variable
    monkeypatch.setenv("ROBO_SOMETHING_ELSE_ENTIRELY", "1")  # not close to any setting: not ours to judge
    Settings()


def test_config_dir_override_must_exist_but_may_be_partial(monkeypatch, tmp_path) -> None:
    from engine.config import load_universe

    monkeypatch.setenv("ROBO_CONFIG_DIR", str(tmp_path))
    assert len(load_universe()) > 0  # a file the folder lacks comes from the shipped defaults
    monkeypatch.setenv("ROBO_CONFIG_DIR", str(tmp_path / "typo"))
    with pytest.raises(ConfigError, match="ROBO_CONFIG_DIR"):
        load_universe()


def test_read_only_store_opens_an_existing_database_and_creates_nothing(tmp_path) -> None:
    from engine.store import Store

    url = f"sqlite:///{tmp_path / 'sub' / 'robo.db'}"
    with pytest.raises(NotFound, match="no database"):
        Store(url, create=False)
    assert not (tmp_path / "sub").exists()
    with Store(url) as store:
        store.upgrade()
    with Store(url, create=False) as store:
        assert store.households.list() == []


def test_trading_day_and_amount_validators_accept_good_values() -> None:
    from robo.cli import _args

    assert _args.trading_day("--as-of")("2026-03-02") == date(2026, 3, 2)
    assert _args.usd("--amount")("$20,000.50") == Decimal("20000.50")
    assert _args.household_ref("HOUSEHOLD")("rivera") == "rivera"


def test_exit_codes_are_distinct_and_map_errors() -> None:
    from engine.errors import BrokerUnavailable, Infeasible, UnknownTicker
    from robo.cli._exit import ExitCode, exit_code_for

    assert len({int(c) for c in ExitCode}) == len(ExitCode)
    assert exit_code_for(UnknownTicker("x")) is ExitCode.INPUT_ERROR
    assert exit_code_for(ConfigError("x")) is ExitCode.INPUT_ERROR
    assert exit_code_for(Infeasible("x")) is ExitCode.ENGINE_ERROR
    assert exit_code_for(BrokerUnavailable("x")) is ExitCode.ENGINE_ERROR


def test_a_retiree_imports_with_a_retirement_date_in_the_past() -> None:
    """A retirement goal stays planned through its income years (engine.goals.planning.is_active)."""
    from engine.config import household_from_dict, household_to_dict, load_household

    data = household_to_dict(load_household())
    data["goals"] = [g for g in data["goals"] if g["kind"] == "retirement"]
    data["goals"][0]["target_date"] = "2020-01-01"
    household_from_dict(data, as_of=date(2026, 3, 2))  # retired six years ago, 24 income years to go
    data["goals"][0]["years"] = 5
    with pytest.raises(ConfigError, match="income years end 2025-01-01"):
        household_from_dict(data, as_of=date(2026, 3, 2))
