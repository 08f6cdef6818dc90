"""Each life-event kind changes household and mandate as its rule says; bad events change nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from engine.errors import PlanningError, ValidationError
from engine.goals import build_mandate
from engine.goals.events import apply_event
from engine.model import FilingStatus, GoalKind, IncomeStability, LifeEvent, LifeEventKind

AS_OF = date(2026, 3, 2)
ON = date(2026, 3, 1)
PATHS = 2000


@pytest.fixture(scope="module")
def before(household):
    return build_mandate(household, AS_OF, paths=PATHS)


def _apply(household, before, kind, **kw):
    out = apply_event(household, LifeEvent(kind=kind, on=ON, **kw), AS_OF, previous=before, paths=PATHS)
    assert out.household is not household and out.household.events[-1].kind is kind
    assert out.explanation[0].startswith(
        tuple(
            [
                "Birth",
                "Marriage",
                "Divorce",
                "New job",
                "Job loss",
                "Inheritance",
                "Home purchase",
                "Retirement",
                "Relocation",
                "Death",
                "Disability",
            ]
        )
    )
    assert f"on {ON}" in out.explanation[0] and "strategic equity share" in out.explanation[0]
    assert out.mandate.as_of == AS_OF and out.previous is before
    assert out.needs_approval == bool(out.approval_reasons)
    if kind.critical:
        assert out.needs_approval and any("critical" in r for r in out.approval_reasons)
    return out


def test_child_adds_an_education_goal(household, before):
    out = _apply(household, before, LifeEventKind.CHILD)
    old_ids = {g.id for g in household.goals}
    new = [g for g in out.household.goals if g.id not in old_ids]
    assert len(new) == 1 and new[0].kind is GoalKind.EDUCATION
    assert new[0].target == Decimal(120000) and new[0].target_date == date(2044, 9, 1)
    assert new[0].monthly_contribution == Decimal(400)
    assert "added Education goal $120,000 (today's dollars) for 2044" in out.explanation[0]
    assert out.household.monthly_expenses == household.monthly_expenses + 1200
    assert out.mandate.sleeve(new[0].id) is not None
    assert out.mandate.liquidity_reserve > before.liquidity_reserve
    # The new goal's $400/month comes out of the planned $3,500 (fully allocated), not on top of it.
    total = sum(g.monthly_contribution for g in out.household.goals)
    assert out.household.monthly_savings == household.monthly_savings == total
    # The emergency target is re-based on the new expenses: 6 months × ($9,000 + $1,200).
    emergency = next(g for g in out.household.goals if g.kind is GoalKind.EMERGENCY)
    assert emergency.target == Decimal(6 * 10200)


def test_marriage_sets_filing_status_and_adds_the_spouse(household, before):
    single = replace(
        household,
        members=household.members[:1],
        accounts=tuple(a for a in household.accounts if a.owner != "jordan"),
        lots=tuple(x for x in household.lots if x.account != "jordan_ira"),
        goals=tuple(replace(g, accounts=tuple(a for a in g.accounts if a != "jordan_ira")) for g in household.goals),
        tax=replace(household.tax, filing_status=FilingStatus.SINGLE),
        emergency_months=3.0,
    )
    prev = build_mandate(single, AS_OF, paths=PATHS)
    spouse = {"id": "sam", "name": "Sam", "birth_date": "1989-01-01", "income": 90000}
    out = _apply(single, prev, LifeEventKind.MARRIAGE, details={"spouse": spouse})
    assert out.household.tax.filing_status is FilingStatus.MARRIED_JOINT
    assert [m.id for m in out.household.members] == ["alex", "sam"]
    assert out.household.emergency_months == 6
    assert "filing status single → married_joint" in out.explanation[0]
    assert "emergency reserve raised from 3 to 6 months" in out.explanation[0]


def test_divorce_removes_the_member_and_needs_approval(household, before):
    out = _apply(household, before, LifeEventKind.DIVORCE, member="jordan")
    assert [m.id for m in out.household.members] == ["alex"]
    assert "jordan_ira" not in {a.id for a in out.household.accounts}
    assert out.household.tax.filing_status is FilingStatus.SINGLE
    home = next(g for g in out.household.goals if g.id == "home")
    assert home.current_savings == Decimal(20000)


def test_new_job_raises_income_and_savings(household, before):
    out = _apply(household, before, LifeEventKind.NEW_JOB, member="alex", amount=Decimal(180000))
    assert out.household.member("alex").income == Decimal(180000)
    ret = next(g for g in out.household.goals if g.kind is GoalKind.RETIREMENT)
    assert ret.monthly_contribution > household.goals[3].monthly_contribution
    assert out.mandate.sleeve("retirement").probability >= before.sleeve("retirement").probability


def test_job_loss_pauses_contributions_and_raises_reserve(household, before):
    out = _apply(household, before, LifeEventKind.JOB_LOSS, member="jordan")
    jordan = out.household.member("jordan")
    assert jordan.income == 0 and jordan.income_stability is IncomeStability.NONE
    assert out.household.emergency_months == 9
    assert out.mandate.liquidity_reserve == Decimal("81000.00")
    assert "emergency reserve raised from 6 to 9 months" in out.explanation[0]
    assert out.mandate.risk.capacity_factors["income"] < before.risk.capacity_factors["income"]


def test_sole_earner_job_loss_pauses_every_goal(household, before):
    solo = replace(household, members=(household.members[0], replace(household.members[1], income=Decimal(0))))
    out = _apply(solo, build_mandate(solo, AS_OF, paths=PATHS), LifeEventKind.JOB_LOSS, member="alex")
    assert all(g.monthly_contribution == 0 for g in out.household.goals)
    assert "paused" in out.explanation[0]


def test_inheritance_tops_up_goals_in_priority_order(household, before):
    out = _apply(household, before, LifeEventKind.INHERITANCE, amount=Decimal(150000))
    goals = {g.id: g for g in out.household.goals}
    assert goals["emergency"].current_savings == Decimal(54000)
    assert out.household.account("brokerage").cash == household.account("brokerage").cash + 150000
    assert "$150,000 deposited in brokerage" in out.explanation[0]
    assert out.mandate.sleeve("emergency").funded_ratio == pytest.approx(1.0)


def test_home_purchase_closes_the_goal(household, before):
    out = _apply(household, before, LifeEventKind.HOME_PURCHASE, details={"monthly_payment": 2500})
    assert "home" not in {g.id for g in out.household.goals}
    assert out.household.monthly_expenses == household.monthly_expenses + 2500
    assert out.mandate.sleeve("home") is None


def test_retirement_starts_withdrawals(household, before):
    out = _apply(household, before, LifeEventKind.RETIREMENT, member="alex")
    ret = next(g for g in out.household.goals if g.kind is GoalKind.RETIREMENT)
    assert ret.target_date == ON and ret.monthly_contribution == 0
    assert any(f.goal == "retirement" and f.amount < 0 for f in out.mandate.cash_flows)
    assert out.mandate.equity_share < before.equity_share
    assert out.household.emergency_months == 12


def test_relocation_changes_the_state_rate(household, before):
    out = _apply(household, before, LifeEventKind.RELOCATION, details={"state": "tx", "state_rate": 0})
    assert out.household.tax.state == "TX" and out.household.tax.state_rate == 0.0
    assert "state CA 9.30% → TX 0.00%" in out.explanation[0]


def test_death_of_spouse_moves_accounts_and_needs_approval(household, before):
    out = _apply(household, before, LifeEventKind.DEATH_OF_SPOUSE, member="jordan", amount=Decimal(250000))
    assert [m.id for m in out.household.members] == ["alex"]
    assert out.household.account("jordan_ira").owner == "alex"
    assert out.household.tax.filing_status is FilingStatus.SINGLE
    assert out.household.monthly_expenses == Decimal(6300)


def test_disability_cuts_income_and_needs_approval(household, before):
    out = _apply(household, before, LifeEventKind.DISABILITY, member="alex")
    assert out.household.member("alex").income == Decimal(87000)
    assert out.household.emergency_months == 12


def test_rules_are_overridable(household, before, tmp_path):
    from engine.goals import load_event_rules

    text = tmp_path / "r.yaml"
    text.write_text("version: 1\nrules:\n  child: {education_target: 200000, education_contribution: 900}\n")
    out = apply_event(household, LifeEvent(kind="child", on=ON), AS_OF, rules=load_event_rules(text), paths=PATHS)
    ids = {g.id for g in household.goals}
    new = next(g for g in out.household.goals if g.kind is GoalKind.EDUCATION and g.id not in ids)
    assert new.target == Decimal(200000) and new.monthly_contribution == Decimal(900)


@pytest.mark.parametrize(
    "event, match",
    [
        (LifeEvent(kind="child", on=date(1980, 1, 1)), "before the household existed"),
        (LifeEvent(kind="new_job", on=ON, member="casey", amount=Decimal(1)), "no member 'casey'"),
        (LifeEvent(kind="job_loss", on=ON), "needs the member"),
        (LifeEvent(kind="home_purchase", on=ON, details={"monthly_payment": -100}), "must be ≥ 0"),
        (LifeEvent(kind="relocation", on=ON, details={"state": "TX"}), "state_rate"),
        (LifeEvent(kind="child", on=date(2000, 1, 1)), "not after"),
        (LifeEvent(kind="inheritance", on=ON), "amount"),
    ],
)
def test_invalid_events_raise_and_change_nothing(household, event, match):
    snapshot = replace(household)
    with pytest.raises(PlanningError, match=match):
        apply_event(household, event, AS_OF, paths=PATHS)
    assert household == snapshot and household.events == ()


def test_negative_amount_is_a_typed_error_at_construction():
    with pytest.raises(ValidationError):
        LifeEvent(kind="inheritance", on=ON, amount=Decimal(-5))
