"""Hypothesis strategies for households the store must round-trip exactly."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import strategies as st

from engine.model import (
    Account,
    AccountType,
    FilingStatus,
    Goal,
    GoalKind,
    Household,
    IncomeStability,
    LifeEvent,
    LifeEventKind,
    LossSale,
    Lot,
    Member,
    RiskProfile,
    TaxProfile,
    Values,
)

ids = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True)
# PostgreSQL text cannot hold NUL; surrogates cannot be encoded.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=20)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
fractions = st.floats(min_value=0.0, max_value=1.0)


@st.composite
def money(draw: st.DrawFn, *, positive: bool = False, max_digits: int = 18) -> Decimal:
    """A Decimal with 0..10 decimals and up to ``max_digits`` integer digits (fits NUMERIC(38, 18))."""
    places = draw(st.integers(0, 10))
    units = draw(st.integers(1 if positive else 0, 10 ** (max_digits + places) - 1))
    return Decimal(units).scaleb(-places)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), text, money())
details = st.dictionaries(text, st.one_of(json_scalars, st.lists(json_scalars, max_size=3)), max_size=3)


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
    )
