"""``robo demo``: the product in one command, on the embedded data (no network, no keys)."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path

from robo.cli import _args

# The replay `robo demo` runs (about a minute on 2 cores); `robo backtest demo` runs every strategy of the scenario.
DEMO_STRATEGIES = "adaptive,static_60_40,static_60_40_tlh,threshold_model,glide_path"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="show the whole product on the embedded data (offline)")
    p.add_argument("--household", type=_args.household_ref("--household"), default="sample",
                   help="household YAML (default: the shipped sample)")
    p.add_argument("--out", type=_args.output_dir("--out"), default=Path("robo-demo"),
                   help="folder for the report and charts")
    p.add_argument("--skip-backtest", action="store_true", help="stop after the live cycle (no historical replay)")
    p.set_defaults(func=run)


def _money(x: Decimal | float) -> str:
    return f"${float(x):,.0f}"


def run(args: argparse.Namespace) -> int:
    from engine.config import load_universe
    from engine.data import EmbeddedSource, MarketData, annualized_stats
    from robo.cli._households import resolve_household
    from robo.cli._out import console, table

    universe = load_universe()
    source = EmbeddedSource()
    market = MarketData(source.prices(), source=source.name)
    household = resolve_household(args.household, universe)
    last = market.last_day

    console.rule("[bold]adaptive-robo demo")
    console.print(f"[bold]Data:[/] {source.description()}", highlight=False)
    console.print(
        f"{len(market.tickers)} funds, {market.first_day} → {last} (adjusted closes, dividends included)\n",
        highlight=False,
    )

    stats = annualized_stats(market.prices, years=10, end=last)
    rows = []
    for ticker, asset in universe.assets.items():
        s = stats.loc[ticker] if ticker in stats.index else None
        rows.append(
            [
                ticker,
                asset.name,
                asset.asset_class.value,
                f"{asset.expense_ratio:.2%}",
                "—" if s is None else f"{s['annual_return']:+.1%}",
                "—" if s is None else f"{s['annual_volatility']:.1%}",
                "—" if s is None else str(s["first_day"]),
                asset.substitute_group or "",
            ]
        )
    console.print(
        table(
            f"Universe: annualised return / volatility over the last 10 years to {last}",
            ["ticker", "fund", "class", "fee", "return", "vol", "from", "harvest group"],
            rows,
        )
    )

    prices = market.latest()
    console.print(f"\n[bold]Household:[/] {household.name} ({household.id}) — "
                  f"{', '.join(m.name for m in household.members)}", highlight=False)
    acct_rows = []
    for acct in household.accounts:
        invested = sum(
            (lot.shares * Decimal(str(prices[lot.symbol])) for lot in household.lots if lot.account == acct.id),
            Decimal(0),
        )
        n = sum(1 for lot in household.lots if lot.account == acct.id)
        acct_rows.append([acct.id, acct.name, acct.type.value, n, _money(invested), _money(acct.cash)])
    console.print(table(f"Accounts, valued on {last}", ["id", "name", "type", "lots", "invested", "cash"], acct_rows))
    goal_rows = [
        [
            g.id,
            g.kind.value,
            _money(g.annual_income) + "/yr" if g.annual_income is not None else _money(g.target),
            str(g.target_date),
            g.priority,
            ", ".join(g.accounts),
        ]
        for g in household.goals
    ]
    console.print(table("Goals (today's dollars)", ["id", "kind", "target", "date", "priority", "funded from"],
                        goal_rows))
    _cycle(args, market, universe, household)
    if args.skip_backtest:
        return 0
    from robo.cli._out import console
    from robo.cli.backtest import run_demo

    console.rule("[bold]History: the demo scenario replayed through the same engine (backtests/scenarios/demo.yaml)")
    console.print("The adaptive engine against four benchmark strategies; `robo backtest demo --report out.html` also "
                  "runs the engine without loss harvesting and without asset location.", highlight=False)
    return run_demo(argparse.Namespace(report=args.out / "backtest-report.html", processes=None,
                                       strategies=DEMO_STRATEGIES))


def _cycle(args: argparse.Namespace, market, universe, household) -> None:
    """Plan → proposal (needs approval on the first run) → approve → execute → reconciled ledger, stored."""
    import shutil

    from brokers import rails_for, simulated_for
    from engine.cycle import Cycle
    from engine.data import previous_trading_day
    from engine.planner import Planner
    from engine.store import Store
    from robo.cli._cycle import proposal_doc
    from robo.cli._out import console, table
    from robo.cli.rebalance import _print_report, print_proposal

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    db = out / "demo.db"
    if db.exists():
        db.unlink()
    store = Store(f"sqlite:///{db}")
    store.upgrade()
    store.households.add(household, actor="demo")
    planner = Planner(market, universe)
    cycle = Cycle(planner, store=store, rails=rails_for(), actor="demo")
    as_of = previous_trading_day(previous_trading_day(market.last_day))  # two bars left for sells, then buys
    mandate = planner.mandate(household, as_of)

    console.rule(f"[bold]Plan on {as_of}")
    mix = [[str(c), f"{w:.1%}", f"{lo:.0%}–{hi:.0%}"] for c, w in mandate.strategic_mix.items()
           for lo, hi in [mandate.class_bands.get(c, (0.0, 1.0))]]
    console.print(table(f"Strategic mix (risk level {mandate.risk_level}/10, equity {mandate.equity_share:.0%}, "
                        f"liquidity reserve ${mandate.liquidity_reserve:,.0f})", ["class", "target", "band"], mix))
    goals = [[s.goal_id, f"{s.probability:.0%}", f"{s.partial_probability:.0%}", f"{s.funded_ratio:.0%}",
              f"{s.equity_share:.0%}"] for s in mandate.goal_sleeves]
    console.print(table("Goals: probability of meeting them in full / in part (Monte Carlo), funded ratio, equity",
                        ["goal", "full", "partly", "funded", "equity"], goals))

    proposal = cycle.plan(household.id, as_of)
    prices = planner.day(as_of).prices
    weights: dict[str, dict[str, float]] = {}
    for (acct, sym), w in proposal.targets.items():
        if w > 0.0005:
            weights.setdefault(sym, {})[acct] = w
    accounts = [a.id for a in household.accounts]
    rows = [[sym, *(f"{weights[sym].get(a, 0):.1%}" if weights[sym].get(a, 0) else "" for a in accounts),
             f"{sum(weights[sym].values()):.1%}"] for sym in sorted(weights, key=lambda t: -sum(weights[t].values()))]
    console.print(table("Target holdings by account (fraction of household value)", ["fund", *accounts, "total"],
                        rows))
    print_proposal(proposal_doc(proposal, household, prices), proposal.tax_preview)

    console.rule("[bold]Execute through the simulated broker")
    if proposal.needs_approval:
        console.print(f"Proposal {proposal.id} needs a human: {'; '.join(proposal.approval_reasons)}.",
                      highlight=False)
        cycle.approve(proposal.id, actor="demo-advisor", reason="reviewed in robo demo")
        console.print("Approved by demo-advisor (recorded in the audit log).")
    report = cycle.execute(proposal.id, brokers=simulated_for(household, market, as_of, universe))
    _print_report(report)
    audit = store.audit.list(household=household.id, limit=10_000)
    console.print(f"Proposal {proposal.id}: {report.status.value}; {len(report.fills)} fills booked in the lot "
                  f"ledger; {len(audit)} audit entries in {db}", highlight=False)
    shutil.rmtree(out / "tmp", ignore_errors=True)
