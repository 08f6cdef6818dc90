"""``robo plan`` and ``robo event``: goals, probabilities and what to change; life events and their effect.

robo plan sample --as-of 2026-03-02 --chart plan.png
robo plan sample --what-if retire-at=60 --what-if part-time=30000
robo event sample child --on 2026-03-01 --as-of 2026-03-02
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="goals, probabilities, what to change (and what-ifs), with a chart")
    p.add_argument("household", help="household YAML, 'sample', or an id in the store")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="planning day YYYY-MM-DD (default: today)")
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="K=V",
        help="retire-at=60, part-time=30000, earlier=home:2, save-more=500[:goal], crash=0.35",
    )
    p.add_argument("--target", type=float, default=None, help="target probability for the savings answer (0-1)")
    p.add_argument("--paths", type=int, default=None, help="Monte Carlo paths (default: config)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--chart", type=Path, default=Path("plan.png"), help="PNG chart of wealth bands per goal")
    p.set_defaults(func=run_plan)
    e = sub.add_parser("event", help="apply a life event: the new mandate, what changed, whether approval is needed")
    e.add_argument("household", help="household YAML, 'sample', or an id in the store")
    e.add_argument(
        "kind",
        help="marriage, divorce, child, new_job, job_loss, inheritance, home_purchase, "
        "retirement, relocation, death_of_spouse, disability",
    )
    e.add_argument("--on", type=date.fromisoformat, required=True, help="effective date YYYY-MM-DD")
    e.add_argument("--as-of", type=date.fromisoformat, default=None, help="planning day (default: --on)")
    e.add_argument("--member", default=None)
    e.add_argument("--amount", default=None, help="USD (salary, inheritance, insurance)")
    e.add_argument("--detail", action="append", default=[], metavar="K=V", help="kind-specific detail, e.g. state=TX")
    e.add_argument("--paths", type=int, default=None)
    e.add_argument("--save", type=Path, default=None, help="write the changed household YAML here")
    e.set_defaults(func=run_event)


def _pct(x: float) -> str:
    return f"{x:.0%}"


def run_plan(args: argparse.Namespace) -> int:
    from engine.goals import build_mandate, parse_what_if, plan_household, savings_needed, what_if
    from engine.goals.config import load_event_rules
    from robo.cli._households import resolve_household
    from robo.cli._out import console, table

    household = resolve_household(args.household)
    as_of = args.as_of or date.today()
    mandate = build_mandate(household, as_of, paths=args.paths, seed=args.seed)
    rules = load_event_rules()
    rows = []
    for s in mandate.goal_sleeves:
        need = ""
        if s.probability < rules.planning.off_track_probability and s.years > 0:
            amt = savings_needed(
                household,
                as_of,
                s.goal_id,
                args.target or rules.planning.target_probability,
                paths=min(args.paths or 4000, 4000),
                seed=args.seed,
                equity_now={s.goal_id: s.equity_share},
            )
            need = "out of reach" if amt is None else f"+${amt:,.0f}/mo"
        rows.append(
            (
                s.goal_id,
                s.kind.value,
                f"{s.years:.1f}",
                f"${s.wealth:,.0f}",
                f"${s.target:,.0f}",
                _pct(s.funded_ratio),
                _pct(s.equity_share),
                _pct(s.probability),
                need,
            )
        )
    console.print(
        table(
            f"Plan for {household.name} on {as_of}",
            ["goal", "kind", "years", "now", "target (today $)", "funded", "equity", "P(met)", "to reach target"],
            rows,
        )
    )
    for line in mandate.explanation:
        console.print(line, highlight=False)
    if mandate.needs_approval:
        console.print("[bold yellow]needs approval:[/] " + "; ".join(mandate.approval_reasons), highlight=False)
    if args.what_if:
        result = what_if(
            household,
            as_of,
            [parse_what_if(w) for w in args.what_if],
            target_probability=args.target,
            paths=args.paths,
            seed=args.seed,
        )
        for line in result.lines():
            console.print(line, highlight=False)
    plan = plan_household(
        household,
        as_of,
        paths=min(args.paths or 5000, 20000),
        seed=args.seed,
        equity_now={s.goal_id: s.equity_share for s in mandate.goal_sleeves},
    )
    _chart(plan, args.chart, household.name)
    console.print(f"chart: {args.chart}")
    return 0


def _chart(plan, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(plan.forecasts), 1)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), squeeze=False)
    for ax, f in zip(axes[0], plan.forecasts, strict=False):
        if f.bands is not None:
            years = [plan.as_of.year + k for k in range(len(f.bands))]
            ax.fill_between(years, f.bands[:, 0] / 1e3, f.bands[:, 4] / 1e3, alpha=0.2, label="5-95 %")
            ax.fill_between(years, f.bands[:, 1] / 1e3, f.bands[:, 3] / 1e3, alpha=0.4, label="25-75 %")
            ax.plot(years, f.bands[:, 2] / 1e3, label="median")
        if f.kind.value != "retirement":
            ax.axhline(f.target / 1e3, color="k", ls="--", lw=0.8, label="target")
        ax.set_title(f"{f.name}: {f.probability:.0%}", fontsize=9)
        ax.set_ylabel("k$ (today's)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{title} on {plan.as_of}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_event(args: argparse.Namespace) -> int:
    from engine.config.loader import dump_household
    from engine.errors import PlanningError
    from engine.goals import apply_event
    from engine.model import LifeEvent
    from robo.cli._households import resolve_household
    from robo.cli._out import console

    household = resolve_household(args.household)
    details: dict[str, str] = {}
    for kv in args.detail:
        k, sep, v = kv.partition("=")
        if not sep:
            raise PlanningError("--detail needs KEY=VALUE", value=kv)
        details[k.strip()] = v.strip()
    event = LifeEvent(kind=args.kind, on=args.on, member=args.member, amount=args.amount, details=details)
    out = apply_event(household, event, args.as_of or args.on, paths=args.paths)
    for line in out.explanation:
        console.print(line, highlight=False)
    if out.needs_approval:
        console.print("[bold yellow]needs approval:[/] " + "; ".join(out.approval_reasons), highlight=False)
    else:
        console.print("no approval needed")
    if args.save:
        args.save.write_text(dump_household(out.household), encoding="utf-8")
        console.print(f"saved: {args.save}")
    return 0
