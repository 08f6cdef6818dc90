"""Where each account is held: at a broker the engine trades (``broker``), or away (``advice`` for a person).

    routes = Routes(household, {"brokerage": alpaca})     # a Broker, a mapping by account id, or a callable
    routes.route("alex_401k")                             # Route.ADVICE: the account's broker_account is "away"

An account's ``broker_account`` names where it is held: ``"away"`` (an employer 401(k), another custodian: the
engine advises, a person places the trades), ``"sim"``, ``"alpaca"`` or ``"alpaca:<label>"`` (keys of their own);
``None`` means the broker the caller hands the cycle. The router only answers *which* broker object holds an
account; building brokers from keys is the caller's (``robo`` builds one ``AlpacaBroker`` per Alpaca account).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeAlias

from engine.errors import ConfigError
from engine.model import Account, Household
from engine.model.broker import Broker

__all__ = ["AWAY", "BrokerSource", "Route", "Routes", "route_of"]

AWAY = "away"
"""The ``broker_account`` of an account the engine cannot trade."""

BrokerSource: TypeAlias = Broker | Mapping[str, Broker] | Callable[[Account], Broker | None]
"""One broker for every traded account, a mapping account id → broker, or a callable account → broker."""


class Route(StrEnum):
    """How an order reaches the market: through a broker, or as advice a person carries out by hand."""

    BROKER = "broker"
    ADVICE = "advice"


def route_of(account: Account) -> Route:
    """``advice`` for an account held away (``broker_account: away``), else ``broker``."""
    return Route.ADVICE if (account.broker_account or "").strip().lower() == AWAY else Route.BROKER


class Routes:
    """The brokers of one household's accounts, resolved once; held-away accounts have none."""

    def __init__(self, household: Household, source: BrokerSource | None) -> None:
        self.household = household
        self._by_account: dict[str, Broker | None] = {}
        for account in household.accounts:
            if route_of(account) is Route.ADVICE:
                self._by_account[account.id] = None
            elif source is None:
                continue  # resolved on use: an error names the account
            elif isinstance(source, Mapping):
                if account.id in source:
                    self._by_account[account.id] = source[account.id]
            elif callable(source):  # a broker is never callable: a callable maps the account to its broker
                self._by_account[account.id] = source(account)
            else:
                self._by_account[account.id] = source

    def route(self, account: str) -> Route:
        """The route of ``account`` (advice for held-away accounts)."""
        return route_of(self.household.account(account))

    def broker(self, account: str) -> Broker:
        """The broker holding ``account``.

        Raises:
            ConfigError: the account is held away, or no broker was given for it.
        """
        if self.route(account) is Route.ADVICE:
            raise ConfigError(f"account {account} is held away: the engine advises, a person trades",
                              field=f"accounts.{account}.broker_account", value=AWAY)
        found = self._by_account.get(account)
        if found is None:
            raise ConfigError(
                f"no broker holds account {account} of household {self.household.id}",
                field=f"accounts.{account}.broker_account",
                value=self.household.account(account).broker_account,
                fix="set broker_account (alpaca, alpaca:<label>, sim or away) or pass a broker for it",
            )
        return found

    def traded(self) -> list[str]:
        """Ids of the accounts held at a broker the cycle was given, in household order."""
        return [a.id for a in self.household.accounts
                if route_of(a) is Route.BROKER and self._by_account.get(a.id) is not None]

    def groups(self, accounts: list[str]) -> list[tuple[Broker, list[str]]]:
        """``accounts`` grouped by the broker object that holds them (one group per broker, household order)."""
        out: list[tuple[Broker, list[str]]] = []
        for acct in accounts:
            broker = self.broker(acct)
            for b, members in out:
                if b is broker:
                    members.append(acct)
                    break
            else:
                out.append((broker, [acct]))
        return out
