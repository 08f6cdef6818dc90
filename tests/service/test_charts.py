"""The server-drawn SVG charts: the goal fan chart on the household page and current-vs-target holdings on the
proposal page. Accessibility follows WAI-ARIA's ``img`` role: ``role="img"`` with ``aria-labelledby`` pointing at
the SVG's ``<title>`` and ``<desc>`` (W3C, "SVG Accessibility API Mappings" §5)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from service.charts import HoldingRow, fan_chart, holdings_chart, money_short
from tests.service.test_pages import sign_in

SVG = "{http://www.w3.org/2000/svg}"
BANDS = [[100.0 * (1 + i) * f for f in (0.6, 0.8, 1.0, 1.2, 1.5)] for i in range(11)]


def _parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))  # well-formed XML, or this raises


def _accessible(svg: ET.Element) -> tuple[str, str]:
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None and title.text and desc.text
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert svg.get("width") == "100%" and svg.get("viewBox")  # scales with the screen
    return title.text, desc.text


def test_fan_chart_draws_bands_median_and_target_and_says_it_in_words() -> None:
    svg = _parse(fan_chart("home", "Home <deposit>", BANDS, target=950.0, years=7.5, start_year=2026))
    title, desc = _accessible(svg)
    assert title == "Home <deposit>: projected savings until 2034"  # escaped in the markup, text again when parsed
    # 7.5 years → drawn to year 8, whose median is 100·9·1.0 = $900
    assert "half of the simulated markets end between $720 and $1.1k (median $900, below the target of $950)" in desc
    outer, inner = svg.findall(f"{SVG}polygon")
    # the band polygons run along the upper percentile forward and the lower one back: 9 years → 18 points
    assert len(outer.get("points").split()) == len(inner.get("points").split()) == 2 * 9
    median = svg.find(f"{SVG}polyline").get("points").split()
    ys = [float(p.split(",")[1]) for p in median]
    assert ys == sorted(ys, reverse=True)  # growing wealth climbs (SVG y grows downward)
    target = svg.find(f"{SVG}line[@class='target']")
    assert target is not None and target.find(f"{SVG}title").text == "target $950"


def test_fan_chart_median_above_target_is_said_so() -> None:
    _, desc = _accessible(_parse(fan_chart("g", "Goal", BANDS, target=500.0, years=10, start_year=2026)))
    assert "median $1.1k, above the target of $500" in desc


def test_fan_chart_refuses_bands_it_cannot_draw() -> None:
    with pytest.raises(ValueError):
        fan_chart("g", "Goal", BANDS[:1], target=1.0, years=1, start_year=2026)
    with pytest.raises(ValueError):
        fan_chart("g", "Goal", BANDS, target=1.0, years=1, start_year=2026, percentiles=(10, 50, 90))


def test_holdings_chart_bars_are_proportional_on_the_shared_scale() -> None:
    rows = [HoldingRow("VTI", 0.20, 0.10), HoldingRow("BND", 0.0, 0.05)]
    svg = _parse(holdings_chart("acct<1>", "Alex's 401(k)", rows, scale=0.20))
    title, desc = _accessible(svg)
    assert title.startswith("Alex's 401(k)")
    assert desc == "VTI 20.0% now, target 10.0%; BND 0.0% now, target 5.0%."
    groups = svg.findall(f"{SVG}g")
    widths = {g.get("data-symbol"): [float(r.get("width")) for r in g.findall(f"{SVG}rect")] for g in groups}
    assert widths["VTI"][0] == pytest.approx(2 * widths["VTI"][1])  # 20% now is twice the 10% target
    assert widths["BND"][0] == 0 and widths["BND"][1] == pytest.approx(widths["VTI"][0] / 4)
    assert svg.get("id") == "hold-acct-1-"  # ids stay valid whatever the account id


def test_money_short() -> None:
    assert [money_short(v) for v in (950, 1_250, 12_400, 999_499, 1_250_000, -3_000)] == [
        "$950", "$1.2k", "$12k", "$999k", "$1.2M", "−$3.0k"]


def test_household_page_has_a_fan_chart_per_goal(client, auth) -> None:
    sign_in(client, "rosa")
    html = client.get("/households/rivera").text
    plan = client.get("/api/v1/households/rivera/plan", headers=auth("rosa")).json()
    charts = re.findall(r'<svg class="chart fan".*?</svg>', html, flags=re.S)
    assert len(charts) == len(plan["goals"]) >= 2
    for goal, chart in zip(plan["goals"], charts, strict=True):
        title, desc = _accessible(_parse(chart))
        assert title.startswith(goal["name"]) and f"target of {money_short(goal['target'])}" in desc
        years = int(max(1, min(-(-goal["years"] // 1), len(goal["bands"]) - 1)))
        assert title.endswith(f"until {int(plan['as_of'][:4]) + years}")
        assert f"median {money_short(goal['bands'][years][2])}" in desc
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_plan_api_returns_the_bands_the_chart_draws(client, auth) -> None:
    plan = client.get("/api/v1/households/rivera/plan", headers=auth("alex")).json()
    assert plan["percentiles"] == [5.0, 25.0, 50.0, 75.0, 95.0]
    for g in plan["goals"]:
        assert all(row == sorted(row) for row in g["bands"])  # percentiles rise within a year
        assert g["bands"][0][0] == pytest.approx(g["wealth"], rel=1e-4)  # year 0 is today's wealth, on every path


def test_proposal_holdings_now_and_target_match_the_proposal(client, auth, store) -> None:
    d = client.get("/api/v1/proposals/p-rivera", headers=auth("alex")).json()
    p = store.proposals.get("p-rivera")
    h = store.households.get("rivera")
    rows = {(x["account"], x["symbol"]): x for x in d["holdings"]}
    for (account, symbol), weight in p.targets.items():
        if weight >= 0.0005:
            assert rows[(account, symbol)]["target"] == pytest.approx(weight)
    held = {(lot.account, lot.symbol) for lot in h.lots}
    assert held <= set(rows)  # every fund held now is charted
    from decimal import Decimal

    cash = sum((a.cash for a in h.accounts), Decimal(0))
    value = sum(Decimal(x["value"]) for x in d["holdings"])
    assert sum(x["weight"] for x in d["holdings"]) == pytest.approx(float(value / (value + cash)), abs=1e-6)


def test_proposal_page_has_a_holdings_chart_per_account(client, auth) -> None:
    sign_in(client, "alex")
    html = client.get("/proposals/p-rivera").text
    d = client.get("/api/v1/proposals/p-rivera", headers=auth("alex")).json()
    charts = re.findall(r'<svg class="chart holdings".*?</svg>', html, flags=re.S)
    accounts = list(dict.fromkeys(x["account"] for x in d["holdings"]))
    assert len(charts) == len(accounts) >= 2
    for account, chart in zip(accounts, charts, strict=True):
        svg = _parse(chart)
        _accessible(svg)
        symbols = [g.get("data-symbol") for g in svg.findall(f"{SVG}g")]
        assert symbols == [x["symbol"] for x in d["holdings"] if x["account"] == account]
