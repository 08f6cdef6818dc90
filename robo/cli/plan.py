"""``robo plan`` and ``robo event``: goals, probabilities and what to change; life events and their effect.

robo plan sample --as-of 2026-03-02 --chart plan.png
robo plan sample --what-if retire-at=62 --what-if claim-ss=70 --what-if part-time=30000:5y --what-if spending=-10%
robo plan sample --json
robo event sample child --on 2026-03-01 --as-of 2026-03-02
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from engine.model import LifeEventKind
from robo.cli import _args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="goals, probabilities, what to change (and what-ifs), with a chart")
    p.add_argument("household", type=_args.household_ref("HOUSEHOLD"),
                   help="household YAML, 'sample', or an id in the store")
    p.add_argument("--as-of", type=_args.iso_date("--as-of"), default=None,
                   help="planning day YYYY-MM-DD (default: today)")
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        type=_args.key_value("--what-if"),
        metavar="K=V",
        help="retire-at=62, claim-ss=70[:member], part-time=30000[:5y], spending=-10%%, save-more=500[:goal], "
        "earlier=home:2, roth-convert=40000:8y, guardrails=on, crash=0.35 (repeat to combine)",
    )
    p.add_argument("--target", type=_args.probability("--target"), default=None,
                   help="target probability for the savings answer (0-1)")
    p.add_argument("--paths", type=_args.int_range("--paths", 100, 200_000), default=None,
                   help="Monte Carlo paths (default: config)")
    p.add_argument("--seed", type=_args.int_range("--seed", 0, 2**32 - 1), default=None)
    p.add_argument("--chart", type=_args.output_file("--chart", suffixes=(".png",)), default=None,
                    help="PNG chart of wealth bands per goal (default: plan.png)")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON document (goals, what_if, income)")
    p.add_argument(
        "--book-value", action="store_true", help="value holdings at cost basis instead of market prices"
    )
    p.set_defaults(func=run_plan)
    e = sub.add_parser("event", help="apply a life event: the new mandate, what changed, whether approval is needed")
    e.add_argument("household", type=_args.household_ref("HOUSEHOLD"),
                   help="household YAML, 'sample', or an id in the store")
    e.add_argument(
        "kind",
        type=_args.choice("KIND", [k.value for k in LifeEventKind]),
        help="marriage, divorce, child, new_job, job_loss, inheritance, home_purchase, "
        "retirement, relocation, death_of_spouse, disability",
    )
    e.add_argument("--on", type=_args.iso_date("--on"), required=True, help="effective date YYYY-MM-DD")
    e.add_argument("--as-of", type=_args.iso_date("--as-of"), default=None, help="planning day (default: --on)")
    e.add_argument("--member", type=_args.identifier("--member", "member id"), default=None)
    e.add_argument("--amount", type=_args.usd("--amount", allow_zero=True), default=None,
                    help="USD (salary, inheritance, insurance)")
    e.add_argument("--detail", type=_args.key_value("--detail"), action="append", default=[], metavar="K=V",
                    help="kind-specific detail, e.g. state=TX")
    e.add_argument("--paths", type=_args.int_range("--paths", 100, 200_000), default=None)
    e.add_argument("--save", type=_args.output_file("--save", suffixes=(".yaml", ".yml")), default=None,
                    help="write the changed household YAML here")
    e.set_defaults(func=run_event)


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _what_ifs(texts: list[str], parse: Callable[[str], Any]) -> list[Any]:
    """Each ``--what-if`` parsed up front; a bad one is a ``ConfigError`` naming it (nothing is planned)."""
    from engine.errors import ConfigError, PlanningError

    out = []
    for text in texts:
        try:
            change = parse(text)
        except PlanningError as exc:
            raise ConfigError(exc.message, field="--what-if", value=text,
                              fix=exc.context.get("fix") or "e.g. retire-at=60, part-time=30000, crash=0.35") from None
        if change.kind.value == "crash" and not 0 < change.value < 1:
            raise ConfigError("a crash is a loss between 0 and 100 %", field="--what-if", value=text,
                              fix="e.g. crash=0.35 or crash=35")
        out.append(change)
    return out


def run_plan(args: argparse.Namespace) -> int:
    import json

    from engine.goals import parse_what_if
    from engine.goals.report import plan_document
    from robo.cli._households import resolve_household
    from robo.cli._out import console, table

    _what_ifs(args.what_if, parse_what_if)  # checked before any work
    as_of = args.as_of or date.today()
    household = resolve_household(args.household, as_of=as_of)
    out = plan_document(household, as_of, what_ifs=args.what_if, target=args.target, paths=args.paths,
                        seed=args.seed, book_value=args.book_value)
    if args.json:
        print(json.dumps(out["doc"], indent=2))
        if args.chart:
            _chart(out["plan"], args.chart, household.name)
        return 0
    mandate, plan, gaps = out["mandate"], out["plan"], out["gaps"]
    rows = []
    for f in plan.forecasts:
        s = mandate.sleeve(f.goal_id)
        gap = gaps[f.goal_id]
        need = "" if gap == 0 else ("out of reach" if gap is None else f"+${gap:,.0f}/mo")
        rows.append(
            (
                f.goal_id,
                f.kind.value,
                f"{f.years:.1f}",
                f"${f.wealth:,.0f}",
                f"${f.target:,.0f}",
                _pct(f.funded_ratio),
                _pct(s.equity_share if s else f.equity_now),
                _pct(f.probability),
                need,
            )
        )
    console.print(
        table(
            f"Plan for {household.name} on {as_of} (holdings at {'cost' if args.book_value else 'market'} value)",
            ["goal", "kind", "years", "now", "target (today $)", "funded", "equity", "P(met)", "to reach target"],
            rows,
        )
    )
    income = out["doc"]["income"]
    for member, ss in (income.get("social_security") or {}).items():
        console.print(
            f"Social Security {member}: PIA ${ss['pia_monthly']:,.0f}/month, claimed at "
            f"{ss['claim_age'] or 'full retirement age'}: ${ss['annual']:,.0f}/year (today's dollars)",
            highlight=False,
        )
    for line in mandate.explanation:
        console.print(line, highlight=False)
    if mandate.needs_approval:
        console.print("[bold yellow]needs approval:[/] " + "; ".join(mandate.approval_reasons), highlight=False)
    if out["what_if"] is not None:
        for line in out["what_if"].lines():
            console.print(line, highlight=False)
    chart = args.chart or Path("plan.png")
    _chart(plan, chart, household.name)
    console.print(f"chart: {chart}")
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
    from engine.goals.planning import account_values_at_market

    as_of = args.as_of or args.on
    values = account_values_at_market(household, as_of)
    out = apply_event(household, event, as_of, paths=args.paths, account_values=values)
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
