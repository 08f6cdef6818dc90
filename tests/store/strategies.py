"""Hypothesis strategies for households the store must round-trip exactly."""

from __future__ import annotations

import dataclasses
import types
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from hypothesis import strategies as st

from engine.model import (
    Account,
    AccountType,
    BasisSource,
    DirectIndex,
    FilingStatus,
    Fill,
    Goal,
    GoalKind,
    Household,
    IncomeStability,
    IncomeStream,
    LifeEvent,
    LifeEventKind,
    LossSale,
    Lot,
    Member,
    Order,
    OrderSide,
    OrderType,
    Proposal,
    ProposalStatus,
    RiskProfile,
    RunKind,
    SocialSecurity,
    TaxProfile,
    TimeInForce,
    Values,
)
from engine.tax import Realization, Term

T = TypeVar("T")
_EST = timezone(timedelta(hours=-5))  # an aware non-UTC zone: the store must keep the instant
ids = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True)
# PostgreSQL text cannot hold NUL; surrogates cannot be encoded.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
fractions = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def money(draw: st.DrawFn, *, positive: bool = False, max_digits: int = 18) -> Decimal:
    """A Decimal with 0..18 decimals and up to ``max_digits`` integer digits (fits NUMERIC(38, 18))."""
    places = draw(st.integers(0, 18))
    units = draw(st.integers(1 if positive else 0, 10 ** (max_digits + places) - 1))
    return Decimal(units).scaleb(-places)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), text, money())
details = st.dictionaries(text, st.one_of(json_scalars, st.lists(json_scalars, max_size=3)), max_size=3)


@st.composite
def social_securities(draw: st.DrawFn) -> SocialSecurity:
    """Exactly one source of the benefit: a PIA (USD/month), an earnings file or ``auto``."""
    which = draw(st.sampled_from(["pia", "earnings_file", "auto"]))
    if which == "pia":
        return SocialSecurity(pia=draw(money()))
    if which == "earnings_file":
        return SocialSecurity(earnings_file=draw(text))
    return SocialSecurity(auto=True)


@st.composite
def income_streams(draw: st.DrawFn) -> IncomeStream:
    return IncomeStream(
        name=draw(ids),
        annual=draw(money()),
        start_age=draw(st.floats(0.0, 100.0)),
        cola=draw(st.booleans()),
        survivor=draw(fractions),
    )


@st.composite
def households(draw: st.DrawFn) -> Household:
    member_ids = draw(st.lists(ids, min_size=1, max_size=3, unique=True))
    members = tuple(
        Member(
            id=m,
            name=draw(text),
            birth_date=draw(days),
            income=draw(money()),
            retirement_age=draw(st.integers(40, 80)),
            income_stability=draw(st.sampled_from(IncomeStability)),
            sex=draw(st.sampled_from([None, "male", "female"])),
            social_security=draw(st.none() | social_securities()),
            claim_age=draw(st.none() | st.floats(62.0, 70.0)),
            pensions=tuple(draw(st.lists(income_streams(), max_size=2))),
        )
        for m in member_ids
    )
    account_ids = draw(st.lists(ids, min_size=1, max_size=4, unique=True))
    accounts = tuple(
        Account(
            id=a,
            type=draw(st.sampled_from(AccountType)),
            name=draw(text),
            owner=draw(st.none() | st.sampled_from(member_ids)),
            cash=draw(money()),
            broker_account=draw(st.none() | ids),
        )
        for a in account_ids
    )
    lots = tuple(
        Lot(
            id=lot_id,
            account=draw(st.sampled_from(account_ids)),
            symbol=draw(st.from_regex(r"[A-Z]{1,5}", fullmatch=True)),
            shares=draw(money(positive=True)),
            basis=draw(money()),
            acquired=draw(days),
            purchased=draw(st.none() | days),
            replaceable=draw(st.booleans()),
            basis_source=draw(st.sampled_from(BasisSource)),
        )
        for lot_id in draw(st.lists(ids, max_size=5, unique=True))
    )
    lot_ids = {lot.id for lot in lots}
    loss_sales = []
    for sale_id in draw(st.lists(ids.filter(lambda i: i not in lot_ids), max_size=3, unique=True)):
        sold = draw(days)
        loss_sales.append(
            LossSale(
                id=sale_id,
                account=draw(st.sampled_from(account_ids)),
                symbol=draw(st.from_regex(r"[A-Z]{1,5}", fullmatch=True)),
                sold=sold,
                acquired=draw(st.dates(min_value=date(1900, 1, 1), max_value=sold)),
                shares=draw(money(positive=True)),
                loss=draw(money(positive=True)),
                lot_id=draw(st.none() | ids),
            )
        )
    goals = []
    for goal_id in draw(st.lists(ids, max_size=3, unique=True)):
        kind = draw(st.sampled_from(GoalKind))
        target = draw(money())
        annual = draw(st.none() | money())
        if kind is GoalKind.RETIREMENT and target == 0 and annual is None:
            annual = Decimal("50000")
        goals.append(
            Goal(
                id=goal_id,
                kind=kind,
                target=target,
                target_date=draw(days),
                name=draw(text),
                priority=draw(st.integers(1, 10)),
                accounts=tuple(draw(st.lists(st.sampled_from(account_ids), max_size=3))),
                current_savings=draw(money()),
                monthly_contribution=draw(money()),
                flexibility=draw(fractions),
                annual_income=annual,
                years=draw(st.none() | st.integers(1, 60)),
                withdrawal_order=draw(st.sampled_from(["taxable_first", "fill_bracket"])),
                guardrails=draw(st.booleans()),
                plan_to_age=draw(st.none() | st.integers(70, 120)),
            )
        )
    events = tuple(
        LifeEvent(
            kind=draw(st.sampled_from(LifeEventKind)),
            on=draw(days),
            member=draw(st.none() | st.sampled_from(member_ids)),
            amount=draw(st.none() | money()),
            details=draw(details),
            id=draw(st.just("") | ids),
            applied=draw(st.booleans()),
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    return Household(
        id=draw(ids),
        name=draw(text),
        members=members,
        accounts=accounts,
        goals=tuple(goals),
        lots=lots,
        risk=RiskProfile(
            willingness=draw(st.integers(1, 10)), answers=draw(st.dictionaries(text, st.integers(1, 5), max_size=4))
        ),
        values=Values(
            exclude_tags=frozenset(draw(st.lists(text, max_size=3))),
            exclude_tickers=frozenset(draw(st.lists(st.from_regex(r"[A-Z]{1,5}", fullmatch=True), max_size=3))),
            min_esg_score=draw(st.none() | st.floats(0.0, 10.0)),
            max_carbon=draw(st.none() | st.floats(0.0, 1e5)),
            carbon_relative=draw(st.booleans()),
            tilt=draw(fractions),
        ),
        tax=TaxProfile(
            filing_status=draw(st.sampled_from(FilingStatus)),
            state=draw(st.sampled_from(["", "CA", "NY", "TX"])),
            state_rate=draw(st.floats(0.0, 0.2)),
            ordinary_income=draw(money()),
            st_loss_carryforward=draw(money()),
            lt_loss_carryforward=draw(money()),
        ),
        events=events,
        monthly_savings=draw(money()),
        monthly_expenses=draw(money()),
        emergency_months=draw(st.floats(0.0, 36.0)),
        loss_sales=tuple(loss_sales),
        direct_index=draw(direct_indexes(tuple(a.id for a in accounts if a.type is AccountType.TAXABLE))),
    )


@st.composite
def direct_indexes(draw: st.DrawFn, taxable: tuple[str, ...]) -> DirectIndex | None:
    """A direct-index sleeve over some of the ``taxable`` accounts (None when there are none, or drawn so)."""
    if not taxable or draw(st.integers(0, 3)) == 0:  # mostly drawn: its optional fields need many draws to be set
        return None
    tickers = st.from_regex(r"[A-Z]{1,5}", fullmatch=True)
    return DirectIndex(
        accounts=tuple(draw(st.lists(st.sampled_from(taxable), min_size=1, max_size=2, unique=True))),
        fund=draw(tickers),
        universe=draw(st.sampled_from(["embedded", "/data/sp500", "universe.csv"])),
        benchmark=draw(st.sampled_from(["cap", "equal"])),
        benchmark_weights=draw(st.dictionaries(tickers, st.floats(0.01, 1.0), max_size=3)),
        te_limit=draw(st.floats(0.001, 1.0)),
        tax_budget=None if draw(st.integers(0, 2)) == 0 else draw(money()),
        exclude=tuple(draw(st.lists(st.sampled_from(["tobacco", "defense", "fossil_fuels"]), min_size=1, max_size=3,
                                    unique=True))),
        exclude_tickers=tuple(draw(st.lists(tickers, max_size=3))),
        exclude_sectors=tuple(draw(st.lists(st.sampled_from(["Energy", "Financials"]), max_size=2))),
        exclude_sub_industries=tuple(draw(st.lists(st.sampled_from(["Tobacco", "Coal & Consumable Fuels"]),
                                                   min_size=1, max_size=2))),
        esg_floor=None if draw(st.integers(0, 2)) == 0 else draw(st.floats(0.0, 100.0)),
        tilts=draw(st.dictionaries(tickers, st.floats(-0.1, 0.1), min_size=1, max_size=3)),
        max_weight=draw(st.floats(0.01, 1.0)),
    )


instants = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 12, 31), timezones=st.sampled_from([UTC, _EST])
)
symbols = st.from_regex(r"[A-Z]{1,5}", fullmatch=True)


@st.composite
def orders(draw: st.DrawFn, client_order_id: str) -> Order:
    """An order with exactly one of qty (≤ 9 decimals, as Order requires) or notional."""
    by_qty = draw(st.booleans())
    kind = draw(st.sampled_from(OrderType))
    return Order(
        client_order_id=client_order_id,
        account=draw(ids),
        symbol=draw(symbols),
        side=draw(st.sampled_from(OrderSide)),
        qty=draw(st.decimals(min_value=Decimal("1e-9"), max_value=Decimal("1e9"), places=9)) if by_qty else None,
        notional=None if by_qty else draw(money(positive=True)),
        type=kind,
        time_in_force=draw(st.sampled_from(TimeInForce)),
        limit_price=draw(money()) if kind is OrderType.LIMIT else draw(st.none() | money()),
        lots=tuple(draw(st.lists(ids, max_size=3))),
    )


@st.composite
def proposals(draw: st.DrawFn, proposal_id: str, household: str) -> Proposal:
    """A proposal of ``household`` with up to four orders (ids derived from the proposal id, as the engine does)."""
    n = draw(st.integers(0, 4))
    return Proposal(
        id=proposal_id,
        household=household,
        as_of=draw(days),
        created=draw(instants),
        trigger=draw(text),
        run_kind=draw(st.sampled_from(RunKind)),
        targets=draw(st.dictionaries(st.tuples(ids, symbols), fractions, max_size=4)),
        orders=tuple(draw(orders(f"{proposal_id}-{i}")) for i in range(n)),
        explanation=tuple(draw(st.lists(text, max_size=3))),
        tax_preview=draw(st.none() | details),
        needs_approval=draw(st.booleans()),
        approval_reasons=tuple(draw(st.lists(text, max_size=3))),
        status=draw(st.sampled_from(ProposalStatus)),
        details=draw(details),
    )


@st.composite
def fills(draw: st.DrawFn, fill_id: str) -> Fill:
    return Fill(
        client_order_id=draw(ids),
        account=draw(ids),
        symbol=draw(symbols),
        side=draw(st.sampled_from(OrderSide)),
        qty=draw(money(positive=True)),
        price=draw(money(positive=True)),
        at=draw(instants),
        fees=draw(money()),
        id=fill_id,
    )


@st.composite
def realizations(draw: st.DrawFn, year: int) -> Realization:
    """One lot's part of a sale in ``year`` (what ``store.realizations`` keeps)."""
    sold = draw(st.dates(min_value=date(year, 1, 1), max_value=date(year, 12, 31)))
    return Realization(
        id=draw(ids),
        account=draw(ids),
        symbol=draw(symbols),
        shares=draw(money(positive=True)),
        acquired=draw(st.dates(min_value=date(1900, 1, 1), max_value=sold)),
        sold=sold,
        proceeds=draw(money()),
        basis=draw(money()),
        disallowed=draw(money()),
        term=draw(st.sampled_from(Term)),
        lot_id=draw(ids),
        reportable=draw(st.booleans()),
        lost=draw(money()),
        replacements=tuple(draw(st.lists(ids, max_size=3))),
    )


# ---------------------------------------------------------------------------------------------
# Records the store keeps besides the domain aggregates: drawn from their type hints
# ---------------------------------------------------------------------------------------------

json_values = st.one_of(json_scalars, details, st.lists(json_scalars, max_size=3))


def _for_hint(hint: Any) -> st.SearchStrategy[Any]:
    """A strategy for a field of type ``hint`` (what the store's records use), values the columns hold exactly."""
    if get_origin(hint) in (Union, types.UnionType):
        inner = [a for a in get_args(hint) if a is not type(None)]
        assert len(inner) == 1, hint
        return st.none() | _for_hint(inner[0])
    if isinstance(hint, type) and issubclass(hint, Enum):
        return st.sampled_from(hint)
    if get_origin(hint) is tuple:
        return st.lists(ids, max_size=3).map(tuple)
    if get_origin(hint) is dict or hint is Any:
        return details if get_origin(hint) is dict else json_values
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: text, int: st.integers(0, 10**9), bool: st.booleans(), float: st.floats(-1e9, 1e9),
        datetime: instants, date: days, Decimal: money(),
    }
    return simple[hint]


def records(cls: type[T], **given: st.SearchStrategy[Any]) -> st.SearchStrategy[T]:
    """Instances of the record dataclass ``cls`` with every field drawn from its type (``given`` overrides)."""
    hints = get_type_hints(cls)
    return st.builds(cls, **{f.name: given[f.name] if f.name in given else _for_hint(hints[f.name])
                             for f in dataclasses.fields(cls)})
