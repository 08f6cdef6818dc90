"""The brokers that hold a household's accounts, built from each account's ``broker_account``.

    brokers = household_brokers(household, market, default=BrokerKind.ALPACA, key_file="~/.alpaca")
    cycle.execute(proposal_id, brokers=brokers)                     # one AlpacaBroker per Alpaca account

``broker_account`` values: ``away`` (no broker: the cycle advises), ``sim`` (the simulated broker),
``alpaca`` (keys from ``--key-file`` or ``APCA_API_KEY_ID``/``APCA_API_SECRET_KEY``), ``alpaca:<label>`` (keys from
``APCA_<LABEL>_API_KEY_ID``/``APCA_<LABEL>_API_SECRET_KEY``), unset (the caller's default kind). Alpaca's Trading API
holds no retirement accounts, so an IRA or 401(k) is ``away`` (advice) or ``sim`` — never an Alpaca account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from engine.errors import ConfigError
from engine.model import Household
from engine.model.broker import Broker

__all__ = ["BrokerKind", "household_brokers", "rails_for", "simulated_for"]


class BrokerKind(StrEnum):
    """Where the engine trades an account whose ``broker_account`` does not say."""

    SIM = "sim"
    ALPACA = "alpaca"


def simulated_for(household: Household, market: Any, start: date, universe: Any = None,
                  accounts: list[str] | None = None) -> Any:
    """A ``SimulatedBroker`` holding ``accounts`` (default: all) as the household's lots and cash have them."""
    from brokers.simulated import SimulatedBroker

    wanted = set(accounts if accounts is not None else [a.id for a in household.accounts])
    positions: dict[str, dict[str, Decimal]] = {}
    for lot in household.lots:
        if lot.account in wanted:
            book = positions.setdefault(lot.account, {})
            book[lot.symbol] = book.get(lot.symbol, Decimal(0)) + lot.shares
    return SimulatedBroker(market.prices, accounts={a.id: a.cash for a in household.accounts if a.id in wanted},
                           start=start, positions=positions, assets=universe)


def household_brokers(
    household: Household,
    market: Any,
    *,
    default: BrokerKind | str = BrokerKind.SIM,
    start: date | None = None,
    universe: Any = None,
    key_file: str | None = None,
    live: bool = False,
    confirm_live: bool = False,
    only: str | None = None,
) -> dict[str, Broker]:
    """Account id → broker for every account the engine trades (held-away accounts are left out: advice).

    ``default=sim`` simulates every traded account (a dry run, no keys); ``default=alpaca`` trades each account at
    the broker its ``broker_account`` names (unset: Alpaca). One simulated broker holds every simulated account;
    one ``AlpacaBroker`` per Alpaca account (an Alpaca account is one household account). ``only`` restricts
    trading to that account.

    Raises:
        ConfigError: keys missing, live without confirmation, two household accounts on one Alpaca key.
    """
    kinds: dict[str, str] = {}
    for a in household.accounts:
        where = (a.broker_account or str(BrokerKind(default))).strip().lower()
        if where == "away" or (only is not None and a.id != only):
            continue
        if BrokerKind(default) is BrokerKind.SIM:
            where = BrokerKind.SIM  # --broker sim: a dry run of every account the engine trades, no keys
        kinds[a.id] = where
    out: dict[str, Broker] = {}
    sims = [acct for acct, where in kinds.items() if where == BrokerKind.SIM]
    if sims:
        sim = simulated_for(household, market, start or market.last_day, universe, sims)
        out.update({acct: sim for acct in sims})
    seen: dict[str, str] = {}
    for acct, where in kinds.items():
        if where == BrokerKind.SIM:
            continue
        kind, _, label = where.partition(":")
        if kind != BrokerKind.ALPACA:
            raise ConfigError(f"account {acct} names an unknown broker {where!r}",
                              field=f"accounts.{acct}.broker_account", value=where,
                              fix="use away, sim, alpaca or alpaca:<label>")
        if where in seen:
            raise ConfigError(
                f"accounts {seen[where]} and {acct} both name {where!r}; an Alpaca account holds one household account",
                field=f"accounts.{acct}.broker_account", value=where,
                fix="give each its own label (alpaca:<label>, keys APCA_<LABEL>_API_KEY_ID/_SECRET_KEY) "
                "or hold one away",
            )
        seen[where] = acct
        out[acct] = _alpaca(acct, label, key_file=key_file, live=live, confirm_live=confirm_live)
    return out


def _alpaca(account: str, label: str, *, key_file: str | None, live: bool, confirm_live: bool) -> Broker:
    """One AlpacaBroker for one household account: keys from the key file or the environment (per-label prefix);
    ``APCA_API_BASE_URL`` overrides the endpoint on every path (``Settings.alpaca_base_url``)."""
    from brokers.alpaca import AlpacaBroker

    if live and not confirm_live:
        raise ConfigError("live trading needs --live together with --i-understand-live-trading",
                          field="--live", fix="drop --live to trade the paper account")
    prefix = f"APCA_{label.upper()}" if label else None
    return AlpacaBroker.from_env_or_file(key_file, account=account, prefix=prefix,
                                         paper=not live, confirm_live=confirm_live)


def rails_for(brokers: Mapping[str, Broker] | None = None) -> Any:
    """The rails from the settings (kill switch, market hours, size cap, data age); a simulated broker sits after a
    bar's close, so its orders queue for its next bar and its data age is its own clock's."""
    return _KindRails()


class _KindRails:
    """``engine.model.Rails`` choosing the policy by broker: the settings' rails, queued for a simulated broker."""

    def guard(self, broker: Broker, *, prices: Mapping[str, Any], data_time: Any) -> Broker:
        from brokers.safety import GuardedBroker, MarketRule, SafetyRails

        inner = broker.inner if isinstance(broker, GuardedBroker) else broker
        if callable(getattr(inner, "process", None)):  # a simulated broker (its clock moves when asked)
            # a simulation: orders queue for the next bar, its own clock dates the data, any size may trade
            rails = SafetyRails.from_settings(market=MarketRule.QUEUE_FOR_OPEN, max_data_age=None,
                                              max_order_fraction=1.0)
        else:
            rails = SafetyRails.from_settings()
        return rails.guard(inner, prices=prices, data_time=data_time)
