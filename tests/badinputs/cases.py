"""The bad-input corpus: each case is a command (with the files it reads) and the error it must give.

A case runs ``robo`` with ``argv`` in a fresh folder ``{dir}`` holding ``files`` and a SQLite store with the sample
household imported (``ROBO_DATABASE_URL``). The runner (test_corpus.py) checks: the exit code is ``code`` (never
0), the output has no traceback, names the error type ``error`` and contains every phrase of ``words``, and every
file and the store are byte-identical afterwards (nothing created, nothing changed).

Household files are a frozen copy of the shipped sample (templates/) with one textual change
(``household(old, new)``), so each case is one mistake a person could make in an otherwise good file;
test_corpus.py checks that every template itself loads.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "templates"  # frozen copies of the shipped files: one mistake each
SAMPLE = (TEMPLATES / "household.yaml").read_text(encoding="utf-8")
UNIVERSE = (TEMPLATES / "universe.yaml").read_text(encoding="utf-8")
SCENARIO = (TEMPLATES / "scenario.yaml").read_text(encoding="utf-8")
SCHEDULER = (TEMPLATES / "scheduler.yaml").read_text(encoding="utf-8")
ESG = (TEMPLATES / "esg.yaml").read_text(encoding="utf-8")

INPUT, ENGINE, USAGE, FAILED = 2, 3, 64, 1


@dataclass(frozen=True)
class Case:
    """One bad input: the command, its files, the expected exit code, error type and phrases."""

    id: str
    group: str
    argv: tuple[str, ...]
    error: str | None  # the error type's name printed after "error:" (None for usage errors / plain messages)
    words: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    code: int = INPUT
    subprocess: bool = False  # needs a fresh interpreter (settings read at import, cached config)


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is not in the template"
    return text.replace(old, new, 1)


def household(*changes: tuple[str, str]) -> str:
    """The sample household's YAML with each (old, new) text replaced once."""
    text = SAMPLE
    for old, new in changes:
        text = _replace(text, old, new)
    return text


def scenario(*changes: tuple[str, str]) -> str:
    text = SCENARIO
    for old, new in changes:
        text = _replace(text, old, new)
    return text


def universe(*changes: tuple[str, str]) -> str:
    text = UNIVERSE
    for old, new in changes:
        text = _replace(text, old, new)
    return text


IMPORT = ("household", "import", "{dir}/h.yaml")


def h(case_id: str, group: str, changes: list[tuple[str, str]], error: str, *words: str) -> Case:
    """A household-file case: `robo household import` of the sample with ``changes``."""
    return Case(case_id, group, IMPORT, error, tuple(words), files={"h.yaml": household(*changes)})


def raw(case_id: str, group: str, text: str | bytes, error: str, *words: str) -> Case:
    """A household import of the literal file content ``text``."""
    return Case(case_id, group, IMPORT, error, tuple(words), files={"h.yaml": text})


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)

ACCT = "  - {id: brokerage, name: Joint brokerage, type: taxable, cash: 12500, broker_account: alpaca}"
LOT_B1 = "  - {id: b1, account: brokerage, symbol: VTI, shares: 180, basis: 26100.00, acquired: 2019-03-15}"
ALEX = "  - {id: alex, name: Alex Rivera, birth_date: 1988-04-12, income: 145000, retirement_age: 65, "

# --------------------------------------------------------------------------------------------------
# YAML structure: duplicate keys, aliases, encodings, syntax
# --------------------------------------------------------------------------------------------------
YAML = [
    h("dup-key-cash", "yaml", [(ACCT, ACCT[:-1] + ", cash: 99999999}")], "ConfigError", "duplicate key 'cash'"),
    h("dup-key-top", "yaml", [("monthly_savings: 3500\n", "monthly_savings: 3500\nmonthly_savings: 9999\n")],
      "ConfigError", "duplicate key 'monthly_savings'", "line"),
    h("dup-key-nested", "yaml", [("  willingness: 7\n", "  willingness: 7\n  willingness: 2\n")],
      "ConfigError", "duplicate key 'willingness'"),
    h("dup-key-goal", "yaml", [("    target: 54000\n", "    target: 54000\n    target: 1\n")],
      "ConfigError", "duplicate key 'target'"),
    raw("billion-laughs", "yaml", "id: x\n" + LAUGHS, "ConfigError", "alias"),
    raw("alias-self-reference", "yaml", "id: x\nname: &n [1, *n]\n", "ConfigError", "alias"),
    raw("broken-bracket", "yaml", "id: x\nname: [unclosed\nmembers: []\n", "ConfigError", "broken YAML at line"),
    raw("tab-indent", "yaml", "id: x\nrisk:\n\twillingness: 7\n", "ConfigError", "broken YAML"),
    raw("empty-file", "yaml", "", "ConfigError", "the file is empty"),
    raw("comment-only", "yaml", "# nothing here\n", "ConfigError", "the file is empty"),
    raw("top-level-list", "yaml", "- id: x\n- id: y\n", "ConfigError", "expected a mapping", "list"),
    raw("top-level-scalar", "yaml", "just words\n", "ConfigError", "expected a mapping"),
    raw("not-utf8", "yaml", b"id: caf\xe9\nname: x\n", "ConfigError", "not UTF-8"),
    raw("python-tag", "yaml", "id: !!python/object/apply:os.system [echo hi]\n", "ConfigError",
        "broken YAML", "constructor"),
    raw("two-documents", "yaml", "id: a\n---\nid: b\n", "ConfigError", "broken YAML", "another document"),
    raw("deep-nesting", "yaml", "id: " + "[" * 5000 + "]" * 5000 + "\n", "ConfigError", "nest"),
    raw("oversized", "yaml", "id: x\n" + "# padding\n" * 600_000, "ConfigError", "larger than"),
    raw("unhashable-key", "yaml", "? [a, b]\n: 1\nid: x\n", "ConfigError", "broken YAML"),
]

# --------------------------------------------------------------------------------------------------
# Money and shares: exact from text, refused when the store could not keep them
# --------------------------------------------------------------------------------------------------
MONEY = [
    h("shares-22-decimals", "money", [("shares: 180,", "shares: 25.0000000000000000000001,")], "ConfigError",
      "lots.0.shares", "25.0000000000000000000001", "18 decimals"),
    h("basis-30-digits", "money", [("basis: 26100.00,", "basis: 123456789012345678901234567890,")], "ConfigError",
      "lots.0.basis", "integer digits"),
    h("cash-1e400", "money", [(ACCT, ACCT.replace("12500", "1e400"))], "ConfigError", "accounts.0.cash", "1e400"),
    h("cash-nan", "money", [(ACCT, ACCT.replace("12500", ".nan"))], "ConfigError", "accounts.0.cash", "finite"),
    h("cash-inf", "money", [(ACCT, ACCT.replace("12500", ".inf"))], "ConfigError", "accounts.0.cash", "finite"),
    h("cash-nan-text", "money", [(ACCT, ACCT.replace("12500", "'NaN'"))], "ConfigError", "accounts.0.cash"),
    h("cash-comma-text", "money", [(ACCT, ACCT.replace("12500", "'12,500'"))], "ConfigError", "accounts.0.cash",
      "12,500"),
    h("cash-boolean", "money", [(ACCT, ACCT.replace("12500", "yes"))], "ConfigError", "accounts.0.cash", "boolean"),
    h("cash-negative", "money", [(ACCT, ACCT.replace("12500", "-100"))], "ConfigError", "accounts.0.cash"),
    h("cash-list", "money", [(ACCT, ACCT.replace("12500", "[1, 2]"))], "ConfigError", "accounts.0.cash"),
    h("cash-sexagesimal", "money", [(ACCT, ACCT.replace("12500", "1:30.5"))], "ConfigError", "accounts.0.cash",
      "decimal notation"),
    h("income-words", "money", [("income: 145000", "income: lots")], "ConfigError", "members.0.income", "lots"),
    h("shares-zero", "money", [("shares: 180,", "shares: 0,")], "ConfigError", "lots.0.shares", "greater than 0"),
    h("shares-negative", "money", [("shares: 180,", "shares: -5,")], "ConfigError", "lots.0.shares"),
    h("savings-19-decimals", "money", [("monthly_savings: 3500", "monthly_savings: 0.0000000000000000001")],
      "ConfigError", "monthly_savings", "18 decimals"),
    h("expenses-huge-text", "money", [("monthly_expenses: 9000", "monthly_expenses: '" + "9" * 100 + "'")],
      "ConfigError", "monthly_expenses", "80 characters"),
    h("goal-target-inf", "money", [("    target: 54000", "    target: -.inf")], "ConfigError", "goals.0.target"),
    h("contribution-text", "money", [("monthly_contribution: 1500", "monthly_contribution: 1500 USD")],
      "ConfigError", "goals.1.monthly_contribution"),
]

# --------------------------------------------------------------------------------------------------
# Dates: impossible, in the future, in the past
# --------------------------------------------------------------------------------------------------
DATES = [
    h("birth-in-future", "dates", [("birth_date: 1988-04-12", "birth_date: 2091-04-12")], "ConfigError",
      "members.0.birth_date", "born in the future", "2091-04-12"),
    h("birth-before-1900", "dates", [("birth_date: 1988-04-12", "birth_date: 1088-04-12")], "ConfigError",
      "members.0.birth_date", "1088-04-12"),
    h("lot-acquired-2099", "dates", [("acquired: 2019-03-15", "acquired: 2099-03-15")], "ConfigError",
      "lots[b1].acquired", "after the planning day", "2099-03-15"),
    h("goal-due-2001", "dates", [("target_date: 2040-06-01", "target_date: 2001-06-01")], "ConfigError",
      "goals.1.target_date", "2001-06-01", "falls due"),
    h("feb-30", "dates", [("acquired: 2019-03-15", "acquired: 2021-02-30")], "ConfigError", "lots.0.acquired",
      "YYYY-MM-DD"),
    h("month-13", "dates", [("acquired: 2019-03-15", "acquired: 2021-13-01")], "ConfigError", "lots.0.acquired"),
    h("date-words", "dates", [("birth_date: 1990-09-03", "birth_date: yesterday")], "ConfigError",
      "members.1.birth_date", "yesterday"),
    h("date-us-format", "dates", [("target_date: 2045-09-01", "target_date: 09/01/2045")], "ConfigError",
      "goals.2.target_date", "09/01/2045"),
    h("date-with-time", "dates", [("acquired: 2019-03-15", "acquired: 2019-03-15 10:30:00")], "ConfigError",
      "lots.0.acquired"),
    h("event-before-1900", "dates", [("events: []", "events: [{kind: child, on: 1800-01-01}]")], "ConfigError",
      "events.0.on", "1800-01-01"),
    h("loss-sale-in-future", "dates", [("events: []", "events: []\nloss_sales: [{id: s1, account: brokerage, "
                                        "symbol: VEA, sold: 2099-01-02, acquired: 2021-06-01, shares: 10, "
                                        "loss: 50}]")], "ConfigError", "loss_sales[s1].sold", "2099-01-02"),
    h("loss-sale-acquired-after-sold", "dates", [("events: []", "events: []\nloss_sales: [{id: s1, account: "
                                                  "brokerage, symbol: VEA, sold: 2024-01-02, acquired: 2024-02-01, "
                                                  "shares: 10, loss: 50}]")], "ConfigError", "LossSale.acquired"),
    h("event-date-feb-29", "dates", [("events: []", "events: [{kind: child, on: 2027-02-29}]")], "ConfigError",
      "events.0.on"),
]

# --------------------------------------------------------------------------------------------------
# References: every id a household names must exist
# --------------------------------------------------------------------------------------------------
REFS = [
    h("lot-unknown-account", "refs", [("account: brokerage, symbol: VTI, shares: 180",
                                       "account: brokerge, symbol: VTI, shares: 180")],
      "ConfigError", "lots[b1].account", "brokerge"),
    h("lot-unknown-ticker", "refs", [("symbol: VTI, shares: 180", "symbol: VTIX, shares: 180")], "ConfigError",
      "lots[b1].symbol", "VTIX", "universe"),
    h("owner-unknown", "refs", [("owner: alex, cash: 1800,", "owner: sam, cash: 1800,")], "ConfigError",
      "owner", "sam"),
    h("event-unknown-member", "refs", [("events: []", "events: [{kind: new_job, on: 2027-03-01, member: sam, "
                                        "amount: 100000}]")], "ConfigError", "events.0.member", "sam", "alex"),
    h("goal-unknown-account", "refs", [("    accounts: [brokerage]\n    current_savings: 12500",
                                        "    accounts: [savings]\n    current_savings: 12500")],
      "ConfigError", "goals", "savings"),
    h("esg-tag-misspelt", "refs", [("exclude_tags: [controversial_weapons, tobacco]",
                                    "exclude_tags: [controversial_weapons, tobaco]")],
      "ConfigError", "values.exclude_tags", "tobaco", "tobacco"),
    h("excluded-ticker-unknown", "refs", [("exclude_tags: [controversial_weapons, tobacco]",
                                           "exclude_tags: [tobacco]\n  exclude_tickers: [XOMM]")],
      "ConfigError", "values.exclude_tickers", "XOMM"),
    h("loss-sale-unknown-ticker", "refs", [("events: []", "events: []\nloss_sales: [{id: s1, account: brokerage, "
                                            "symbol: ZZZZ, sold: 2026-11-20, acquired: 2021-06-01, shares: 10, "
                                            "loss: 50}]")], "ConfigError", "loss_sales[s1].symbol", "ZZZZ"),
    h("loss-sale-in-ira", "refs", [("events: []", "events: []\nloss_sales: [{id: s1, account: jordan_ira, "
                                    "symbol: VEA, sold: 2026-11-20, acquired: 2021-06-01, shares: 10, loss: 50}]")],
      "ConfigError", "loss_sales[s1].account", "taxable"),
    h("loss-sale-id-of-lot", "refs", [("events: []", "events: []\nloss_sales: [{id: b2, account: brokerage, "
                                       "symbol: VEA, sold: 2026-11-20, acquired: 2021-06-01, shares: 10, loss: 50}]")],
      "ConfigError", "loss_sales[b2].id"),
    h("duplicate-account-id", "refs", [("{id: alex_roth, name: Alex Roth IRA", "{id: alex_401k, name: Alex Roth IRA")],
      "ConfigError", "alex_401k"),
    h("duplicate-lot-id", "refs", [("{id: b2, account: brokerage", "{id: b1, account: brokerage")],
      "ConfigError", "b1"),
    h("duplicate-member-id", "refs", [("{id: jordan, name: Jordan Rivera", "{id: alex, name: Jordan Rivera")],
      "ConfigError", "alex"),
    h("lot-account-case", "refs", [("account: brokerage, symbol: VTI, shares: 180",
                                    "account: Brokerage, symbol: VTI, shares: 180")], "ConfigError", "Brokerage"),
]

# --------------------------------------------------------------------------------------------------
# Schema: fields, vocabularies and ranges
# --------------------------------------------------------------------------------------------------
SCHEMA = [
    h("unknown-field", "schema", [("monthly_savings:", "monthly_savingz:")], "ConfigError", "monthly_savingz",
      "spelling"),
    h("account-type", "schema", [("type: taxable, cash: 12500", "type: brokerage, cash: 12500")], "ConfigError",
      "accounts.0.type", "taxable"),
    h("goal-kind", "schema", [("kind: home", "kind: yacht")], "ConfigError", "goals.1.kind", "yacht"),
    h("missing-name", "schema", [("name: Alex & Jordan Rivera\n", "")], "ConfigError", "name", "add this field"),
    h("members-empty", "schema", [(ALEX, "  []\n  #"), ("  - {id: jordan", "  # - {id: jordan")],
      "ConfigError", "members"),
    h("state-rate-percent", "schema", [("state_rate: 0.093", "state_rate: 9.3")], "ConfigError", "tax.state_rate"),
    h("willingness-11", "schema", [("willingness: 7", "willingness: 11")], "ConfigError", "risk.willingness"),
    h("filing-status", "schema", [("filing_status: married_joint", "filing_status: married")], "ConfigError",
      "tax.filing_status", "married"),
    h("household-id-spaces", "schema", [("id: rivera", "id: rivera family!")], "ConfigError", "id"),
    h("retirement-no-income", "schema", [("    annual_income: 95000\n", "")], "ConfigError", "annual_income"),
    h("priority-zero", "schema", [("    priority: 2\n", "    priority: 0\n")], "ConfigError", "goals.1.priority"),
    h("emergency-months-100", "schema", [("emergency_months: 6", "emergency_months: 100")], "ConfigError",
      "emergency_months"),
    h("esg-score-11", "schema", [("min_esg_score: 5.5", "min_esg_score: 11")], "ConfigError",
      "values.min_esg_score"),
    h("tilt-2", "schema", [("tilt: 0.3", "tilt: 2")], "ConfigError", "values.tilt"),
    h("event-kind", "schema", [("events: []", "events: [{kind: wedding, on: 2027-03-01}]")], "ConfigError",
      "events.0.kind", "wedding"),
    h("income-stability", "schema", [("income_stability: variable", "income_stability: shaky")], "ConfigError",
      "members.1.income_stability", "shaky"),
    h("answers-not-int", "schema", [("horizon: 4", "horizon: four")], "ConfigError", "risk.answers.horizon"),
    h("retirement-age-30", "schema", [("retirement_age: 65", "retirement_age: 30")], "ConfigError",
      "members.0.retirement_age"),
    h("members-mapping", "schema", [("members:\n", "members: {a: 1}\nx_members:\n")], "ConfigError", "members"),
    h("accounts-empty", "schema", [("accounts:\n", "accounts: []\nx_accounts:\n")], "ConfigError", "accounts"),
    h("years-zero", "schema", [("    years: 30", "    years: 0")], "ConfigError", "goals.3.years"),
    h("flexibility-percent", "schema", [("flexibility: 0.8", "flexibility: 80")], "ConfigError",
      "goals.1.flexibility"),
]

# --------------------------------------------------------------------------------------------------
# Universe files (robo household import sample --universe FILE)
# --------------------------------------------------------------------------------------------------
UNI = ("household", "import", "sample", "--universe", "{dir}/u.yaml")


def u(case_id: str, changes: list[tuple[str, str]], error: str, *words: str) -> Case:
    return Case(case_id, "universe", UNI, error, tuple(words), files={"u.yaml": universe(*changes)})


UNIVERSES = [
    u("substitute-group-typo", [("substitute_group: intl_developed}", "substitute_group: intl_develop}")],
      "ConfigError", "substitute_group", "intl_develop", "single fund"),
    u("asset-class", [("asset_class: us_equity, sub_class: total_market", "asset_class: stocks, sub_class: total")],
      "ConfigError", "assets.VTI.asset_class", "stocks"),
    u("expense-ratio-percent", [("expense_ratio: 0.0003, dividend_yield: 0.012, qualified_share: 0.95, "
                                 "substitute_group: us_total}", "expense_ratio: 3.0, dividend_yield: 0.012, "
                                 "qualified_share: 0.95, substitute_group: us_total}")],
      "ConfigError", "expense_ratio"),
    u("duplicate-ticker", [("  IVV:  {", "  VTI:  {")], "ConfigError", "duplicate key 'VTI'"),
    u("ticker-twice-case", [("  IVV:  {", "  vti:  {")], "ConfigError", "vti", "twice"),
    u("unknown-asset-field", [("fractionable", "fractionable") if "fractionable" in UNIVERSE else
                              ("sub_class: total_market,", "sub_clas: total_market,")], "ConfigError", "spelling"),
    Case("universe-missing", "universe", ("household", "import", "sample", "--universe", "{dir}/nope.yaml"),
         "ConfigError", ("--universe", "no such file")),
    Case("universe-empty-assets", "universe", UNI, "ConfigError", ("assets",), files={"u.yaml": "assets: {}\n"}),
]

# --------------------------------------------------------------------------------------------------
# Backtest scenarios (robo backtest FILE)
# --------------------------------------------------------------------------------------------------
BT = ("backtest", "{dir}/s.yaml")


def s(case_id: str, changes: list[tuple[str, str]], error: str, *words: str) -> Case:
    return Case(case_id, "scenario", BT, error, tuple(words), files={"s.yaml": scenario(*changes)})


SCENARIOS = [
    s("strategy-kind", [("{name: adaptive, kind: adaptive, harvest: true}", "{name: adaptive, kind: magic}")],
      "ConfigError", "strategies.0.kind", "magic"),
    s("weights-not-one", [("weights: {ESGV: 0.55, ESGD: 0.25, BND: 0.20}", "weights: {ESGV: 0.55, ESGD: 0.25}")],
      "ConfigError", "sum to 1"),
    s("universe-unknown-ticker", [("universe: [VTI,", "universe: [VTIX, VTI,")], "ConfigError", "universe", "VTIX"),
    s("cash-flow-account", [("{kind: contribution, account: taxable,", "{kind: contribution, account: savings,")],
      "ConfigError", "cash_flows.0.account", "savings"),
    s("end-before-start", [("end: latest", "end: 2018-01-02")], "ConfigError", "end", "after start"),
    s("scenario-event-unknown-member", [("taxes: {pay_from", "events: [{kind: new_job, on: 2020-03-02, member: bob, "
                                "amount: 90000}]\ntaxes: {pay_from")], "ConfigError", "events.0.member", "bob"),
    s("event-before-start", [("taxes: {pay_from", "events: [{kind: child, on: 2010-03-02}]\ntaxes: {pay_from")],
      "ConfigError", "events.0.on", "2010-03-02"),
    Case("household-file-missing", "scenario", BT, "ConfigError", ("nowhere.yaml", "file not found"),
         files={"s.yaml": "version: 1\nname: x\nstart: 2019-01-02\nhousehold: nowhere.yaml\n"
                          "strategies: [{name: a, kind: adaptive}]\n"}),
    s("household-lot-after-start", [("  goals:\n", "  lots: [{id: l1, account: taxable, symbol: VTI, shares: 1, "
                                     "basis: 100, acquired: 2020-01-02}]\n  goals:\n")],
      "ConfigError", "lots[l1].acquired", "2020-01-02"),
    s("static-without-weights", [("    kind: static\n    rebalance: quarterly\n    weights: {VTI: 0.55, VEA: 0.25, "
                                  "BND: 0.20}", "    kind: static\n    rebalance: quarterly")],
      "ConfigError", "needs weights"),
    s("duplicate-strategy", [("name: adaptive_no_tlh,", "name: adaptive,")], "ConfigError", "share a name"),
    s("weights-outside-universe", [("weights: {VTI: 0.55, VEA: 0.25, BND: 0.20}",
                                    "weights: {QQQ: 0.55, VEA: 0.25, BND: 0.20}")],
      "ConfigError", "strategies.4.weights", "QQQ"),
    s("baseline-unknown", [("tax_alpha_baseline: esg_static_80_20", "tax_alpha_baseline: esg_static")],
      "ConfigError", "tax_alpha_baseline", "esg_static"),
    Case("billion-laughs-scenario", "scenario", BT, "ConfigError", ("alias",),
         files={"s.yaml": "version: 1\nname: laughs\nstart: 2019-01-02\n" + LAUGHS.replace("a:", "x_a:", 1)}),
    s("cash-flow-amount-nan", [("amount: 1500", "amount: .nan")], "ConfigError", "cash_flows.0.amount"),
    s("cash-flow-amount-22-decimals", [("amount: 1500", "amount: 1500.0000000000000000000001")], "ConfigError",
      "cash_flows.0.amount", "18 decimals"),
    s("contribution-no-account", [("{kind: contribution, account: taxable, amount: 1500",
                                   "{kind: contribution, amount: 1500")], "ConfigError", "needs an account"),
    s("household-goal-before-start", [("target_date: 2024-07-01", "target_date: 2018-07-01")], "ConfigError",
      "target_date", "2018-07-01"),
    s("dup-key-scenario", [("seed: 3\n", "seed: 3\nseed: 4\n")], "ConfigError", "duplicate key 'seed'"),
    Case("scenario-unknown-name", "scenario", ("backtest", "nosuch"), "ConfigError", ("nosuch", "demo")),
    Case("scenario-unknown-strategy", "scenario", ("backtest", "esg", "--strategies", "nope"), "ConfigError",
         ("nope",)),
]

# --------------------------------------------------------------------------------------------------
# Price CSVs (robo data show --csv FILE)
# --------------------------------------------------------------------------------------------------
CSVCMD = ("data", "show", "--csv", "{dir}/p.csv")


def c(case_id: str, text: str | bytes, error: str, *words: str, argv: tuple[str, ...] = CSVCMD) -> Case:
    return Case(case_id, "csv", argv, error, tuple(words), files={"p.csv": text})


GOOD_ROWS = "2024-01-02,230.1,72.1\n2024-01-03,229.0,72.3\n2024-01-04,228.5,72.2\n"
CSVS = [
    c("csv-empty", "", "DataError", "p.csv", "empty"),
    c("csv-header-only", "Date,VTI,BND\n", "EmptyRange", "p.csv", "no rows"),
    c("csv-duplicate-column", "Date,VTI,VTI\n" + GOOD_ROWS, "DataError", "p.csv", "VTI", "twice"),
    c("csv-unnamed-column", "Date,VTI,\n" + GOOD_ROWS, "DataError", "p.csv", "no name"),
    c("csv-not-a-number", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-03,n/a?,72.3\n", "BadPrice", "p.csv",
      "VTI", "2024-01-03", "not a number"),
    c("csv-weekend-row", "Date,VTI,BND\n2024-01-05,230.1,72.1\n2024-01-06,229.0,72.3\n", "CalendarError", "p.csv",
      "2024-01-06", "trading day"),
    c("csv-holiday-row", "Date,VTI,BND\n2024-12-24,230.1,72.1\n2024-12-25,229.0,72.3\n", "CalendarError",
      "2024-12-25"),
    c("csv-beyond-calendar", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2099-01-02,229.0,72.3\n", "CalendarError",
      "p.csv", "2099-01-02", "calendar"),
    c("csv-before-calendar", "Date,VTI,BND\n1985-01-02,230.1,72.1\n1985-01-03,229.0,72.3\n", "CalendarError",
      "1985-01-02"),
    c("csv-duplicate-date", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-02,229.0,72.3\n", "CalendarError",
      "p.csv", "2024-01-02", "duplicate"),
    c("csv-unsorted", "Date,VTI,BND\n2024-01-03,230.1,72.1\n2024-01-02,229.0,72.3\n", "CalendarError", "p.csv",
      "increasing order"),
    c("csv-negative-price", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-03,-229.0,72.3\n", "BadPrice", "VTI",
      "2024-01-03", "non-positive"),
    c("csv-zero-price", "Date,VTI,BND\n2024-01-02,0,72.1\n2024-01-03,229.0,72.3\n", "BadPrice", "VTI",
      "2024-01-02"),
    c("csv-absurd-price", "Date,VTI,BND\n2024-01-02,2300000,72.1\n2024-01-03,2300001,72.3\n", "BadPrice", "VTI",
      "absurd"),
    c("csv-outsized-move", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-03,23.0,72.3\n", "BadPrice", "VTI",
      "2024-01-03", "move"),
    c("csv-gap-in-life", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-03,,72.3\n2024-01-04,231,72.2\n",
      "BadPrice", "VTI", "2024-01-03", "missing"),
    c("csv-infinite", "Date,VTI,BND\n2024-01-02,230.1,72.1\n2024-01-03,inf,72.3\n", "BadPrice", "VTI",
      "2024-01-03"),
    c("csv-not-utf8", b"Date,VTI\n2024-01-02,\xff\xfe230\n", "DataError", "p.csv", "UTF-8"),
    c("csv-bad-dates", "Date,VTI,BND\n2024-01-02,230.1,72.1\nJan 3rd,229.0,72.3\n", "DataError", "p.csv",
      "not dates"),
    c("csv-long-missing-close", "date,ticker,volume\n2024-01-02,VTI,100\n", "DataError", "p.csv", "close"),
    c("csv-long-duplicate", "date,ticker,close\n2024-01-02,VTI,230\n2024-01-02,vti,231\n", "CalendarError",
      "p.csv", "VTI", "2024-01-02"),
    c("csv-date-only", "Date\n2024-01-02\n", "DataError", "p.csv", "ticker column"),
    c("csv-ragged", "Date,VTI\n2024-01-02,230.1,72.1,9\n2024-01-03,229\n", "DataError", "p.csv"),
    c("csv-unknown-ticker", "Date,VTI,BND\n" + GOOD_ROWS, "UnknownTicker", "QQQ",
      argv=(*CSVCMD, "QQQ")),
    c("csv-start-after-end", "Date,VTI,BND\n" + GOOD_ROWS, "ConfigError", "--start", "after --end",
      argv=(*CSVCMD, "--start", "2024-02-01", "--end", "2024-01-01")),
    Case("csv-missing-file", "csv", ("data", "show", "--csv", "{dir}/nope.csv"), "ConfigError",
         ("--csv", "no such file")),
    Case("csv-a-folder", "csv", ("data", "show", "--csv", "{dir}/folder"), "ConfigError", ("--csv", "folder"),
         files={"folder/keep.txt": "x"}),
]

# The Yahoo cache (ROBO_DATA_DIR/yahoo): a damaged cache file is a DataError with the fix, never a traceback
YAHOO = ("data", "show", "--source", "yahoo", "VTI")
SPAN = '{"start": "2024-01-02", "end": "2024-01-04"}'


def y(case_id: str, data: bytes, meta: str, error: str, *words: str) -> Case:
    return Case(case_id, "csv", YAHOO, error, tuple(words),
                files={"data/yahoo/VTI.csv.gz": data, "data/yahoo/VTI.json": meta},
                env={"ROBO_DATA_DIR": "{dir}/data"})


CACHES = [
    y("yahoo-cache-span-damaged", gzip.compress(b"Date,close\n2024-01-02,230\n"), "{not json", "DataError",
      "VTI.json", "robo data update VTI"),
    y("yahoo-cache-span-missing-key", gzip.compress(b"Date,close\n2024-01-02,230\n"), '{"start": "2024-01-02"}',
      "DataError", "VTI.json", "damaged"),
    y("yahoo-cache-not-gzip", b"this is not gzip", SPAN, "DataError", "VTI.csv.gz"),
    y("yahoo-cache-truncated-gzip", gzip.compress(b"Date,close\n2024-01-02,230\n" * 50)[:40], SPAN, "DataError",
      "VTI.csv.gz"),
    y("yahoo-cache-no-close", gzip.compress(b"Date,open\n2024-01-02,230\n"), SPAN, "DataError", "close",
      "robo data update VTI"),
    y("yahoo-cache-word-price", gzip.compress(b"Date,close\n2024-01-02,230\n2024-01-03,oops\n"), SPAN,
      "BadPrice", "VTI", "2024-01-03", "oops"),
]

# --------------------------------------------------------------------------------------------------
# Command-line arguments: checked before any work
# --------------------------------------------------------------------------------------------------


def a(case_id: str, argv: tuple[str, ...], error: str | None, *words: str, code: int = INPUT,
      files: dict[str, str | bytes] | None = None) -> Case:
    return Case(case_id, "cli", argv, error, tuple(words), files=files or {}, code=code)


RB = ("rebalance", "rivera")
CLI = [
    a("amount-nan", (*RB, "--kind", "partial_liquidation", "--amount", "nan"), "ConfigError", "--amount", "finite"),
    a("amount-inf", (*RB, "--kind", "partial_liquidation", "--amount", "inf"), "ConfigError", "--amount"),
    a("amount-1e400", (*RB, "--kind", "partial_liquidation", "--amount", "1e400"), "ConfigError", "--amount",
      "1e400"),
    a("amount-1e12", (*RB, "--kind", "partial_liquidation", "--amount", "1e12"), "ConfigError", "--amount",
      "1,000,000,000"),
    a("amount-negative", (*RB, "--kind", "partial_liquidation", "--amount=-500"), "ConfigError", "--amount",
      "positive"),
    a("amount-zero", (*RB, "--kind", "partial_liquidation", "--amount", "0"), "ConfigError", "--amount"),
    a("amount-sub-cent", (*RB, "--kind", "partial_liquidation", "--amount", "100.005"), "ConfigError", "--amount",
      "cents"),
    a("amount-words", (*RB, "--kind", "partial_liquidation", "--amount", "lots"), "ConfigError", "--amount", "lots"),
    a("as-of-saturday", (*RB, "--as-of", "2026-03-07"), "ConfigError", "--as-of", "Saturday", "2026-03-06",
      "2026-03-09"),
    a("as-of-holiday", (*RB, "--as-of", "2025-12-25"), "ConfigError", "--as-of", "2025-12-24", "2025-12-26"),
    a("as-of-impossible", (*RB, "--as-of", "2026-02-30"), "ConfigError", "--as-of", "YYYY-MM-DD"),
    a("as-of-year-3026", (*RB, "--as-of", "3026-01-02"), "ConfigError", "--as-of", "1900"),
    a("as-of-beyond-calendar", (*RB, "--as-of", "2090-01-03"), "ConfigError", "--as-of", "calendar"),
    a("rebalance-unknown-household", ("rebalance", "nobody"), "NotFound", "nobody"),
    a("rebalance-missing-yaml", ("rebalance", "{dir}/nope.yaml"), "ConfigError", "no such household file"),
    a("rebalance-bad-id", ("rebalance", "no body!"), "ConfigError", "HOUSEHOLD", "no body!"),
    a("rebalance-kind", (*RB, "--kind", "everything"), None, "--kind", "invalid choice", code=USAGE),
    a("rebalance-no-household", ("rebalance",), None, "household", code=USAGE),
    a("unknown-command", ("frobnicate",), None, "frobnicate", code=USAGE),
    a("unknown-option", ("household", "list", "--colour"), None, "--colour", code=USAGE),
    a("approve-unknown", ("approve", "rivera-20260302-full_rebalance-00000000"), "NotFound",
      "rivera-20260302-full_rebalance-00000000"),
    a("approve-bad-id", ("approve", "a b c"), "ConfigError", "PROPOSAL", "a b c"),
    a("execute-unknown", ("execute", "nope-1"), "NotFound", "nope-1"),
    a("reject-unknown", ("reject", "nope-2", "--reason", "x"), "NotFound", "nope-2"),
    a("orders-unknown", ("orders", "nobody"), "NotFound", "nobody"),
    a("orders-bad-id", ("orders", "a/b"), "ConfigError", "HOUSEHOLD", "a/b"),
    a("sync-unknown", ("sync", "nobody", "--broker", "sim"), "NotFound", "nobody"),
    a("key-file-missing", (*RB, "--broker", "alpaca", "--key-file", "{dir}/keys.env"), "ConfigError",
      "--key-file", "no such file"),
    a("plan-target-percent", ("plan", "sample", "--target", "80"), "ConfigError", "--target", "0.8"),
    a("plan-target-nan", ("plan", "sample", "--target", "nan"), "ConfigError", "--target", "finite"),
    a("plan-paths-zero", ("plan", "sample", "--paths", "0"), "ConfigError", "--paths", "100"),
    a("plan-paths-huge", ("plan", "sample", "--paths", "1000000000"), "ConfigError", "--paths"),
    a("plan-seed-negative", ("plan", "sample", "--seed=-1"), "ConfigError", "--seed"),
    a("plan-chart-folder", ("plan", "sample", "--chart", "{dir}"), "ConfigError", "--chart", "folder"),
    a("plan-chart-not-png", ("plan", "sample", "--chart", "{dir}/chart.txt"), "ConfigError", "--chart", ".png"),
    a("plan-unknown-household", ("plan", "nobody"), "NotFound", "nobody"),
    a("plan-as-of-words", ("plan", "sample", "--as-of", "today"), "ConfigError", "--as-of", "today"),
    a("plan-what-if-no-equals", ("plan", "sample", "--what-if", "retire60"), "ConfigError", "--what-if",
      "KEY=VALUE"),
    a("plan-what-if-not-a-number", ("plan", "sample", "--what-if", "retire-at=abc"), "ConfigError", "--what-if",
      "retire-at=abc"),
    a("plan-what-if-unknown", ("plan", "sample", "--what-if", "lottery=1"), "ConfigError", "--what-if", "lottery"),
    a("plan-what-if-crash-150", ("plan", "sample", "--what-if", "crash=150"), "ConfigError", "--what-if",
      "crash=150"),
    a("data-update-start-after-end", ("data", "update", "VTI", "--start", "2027-01-04", "--end", "2026-01-02"),
      "ConfigError", "--start", "swap"),
    a("plan-before-birth", ("plan", "sample", "--as-of", "1950-01-02"), "ConfigError", "1950-01-02", "born"),
    a("plan-before-lots", ("plan", "sample", "--as-of", "2020-01-02"), "ConfigError", "2020-01-02", "lot",
      "plan on or after"),
    a("event-before-birth", ("event", "sample", "child", "--on", "1970-01-02"), "PlanningError", "1970-01-02",
      "before the household existed"),
    a("db-upgrade-bad-revision", ("db", "upgrade", "--revision", "nonsense"), "ConfigError", "nonsense", "head"),
    a("db-unreachable-server", ("household", "list", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/x"),
      "StoreError", "cannot use the database", "127.0.0.1", code=ENGINE),
    a("advice-list-unknown", ("advice", "list", "nobody"), "NotFound", "nobody"),
    a("advice-qty-nan", ("advice", "confirm", "p-1", "o-1", "--qty", "nan", "--price", "10"), "ConfigError",
      "--qty", "finite"),
    a("advice-qty-10-decimals", ("advice", "confirm", "p-1", "o-1", "--qty", "1.0000000001", "--price", "10"),
      "ConfigError", "--qty", "9 decimals"),
    a("advice-price-absurd", ("advice", "confirm", "p-1", "o-1", "--qty", "1", "--price", "1e9"), "ConfigError",
      "--price", "1e9"),
    a("advice-fees-negative", ("advice", "confirm", "p-1", "o-1", "--qty", "1", "--price", "10", "--fees=-1"),
      "ConfigError", "--fees"),
    a("advice-confirm-unknown", ("advice", "confirm", "nope-1", "o-1", "--qty", "1", "--price", "10"), "NotFound",
      "nope-1"),
    a("positions-file-missing", ("positions", "import", "rivera", "alex_401k", "{dir}/nope.csv"), "ConfigError",
      "FILE", "no such file"),
    a("schedule-at-naive", ("schedule", "run", "--once", "--broker", "sim", "--at", "2026-08-04T16:05"),
      "ConfigError", "--at", "time zone"),
    a("schedule-at-words", ("schedule", "run", "--once", "--broker", "sim", "--at", "tomorrow"), "ConfigError",
      "--at", "tomorrow"),
    a("serve-port-zero", ("serve", "--port", "0"), "ConfigError", "--port", "65535"),
    a("serve-host-url", ("serve", "--host", "http://0.0.0.0:80"), "ConfigError", "--host"),
    a("user-token-hours-nan", ("user", "token", "alice", "--hours", "nan"), "ConfigError", "--hours", "finite"),
    a("user-assign-bad-id", ("user", "assign", "rivera family", "firm1"), "ConfigError", "HOUSEHOLD"),
    a("cli-event-kind", ("event", "sample", "wedding", "--on", "2027-03-01"), "ConfigError", "KIND", "wedding",
      "marriage"),
    a("event-on-impossible", ("event", "sample", "child", "--on", "2027-02-29"), "ConfigError", "--on"),
    a("event-amount-nan", ("event", "sample", "inheritance", "--on", "2027-03-01", "--amount", "NaN"),
      "ConfigError", "--amount"),
    a("event-detail-no-equals", ("event", "sample", "relocation", "--on", "2027-03-01", "--detail", "TX"),
      "ConfigError", "--detail", "KEY=VALUE"),
    a("event-save-txt", ("event", "sample", "child", "--on", "2027-03-01", "--save", "{dir}/out.txt"),
      "ConfigError", "--save", ".yaml"),
    a("event-member-unknown", ("event", "sample", "new_job", "--on", "2027-03-01", "--member", "sam",
                               "--amount", "90000"), "PlanningError", "sam"),
    a("tax-as-of-sunday", ("tax", "lots", "sample", "--as-of", "2026-03-08"), "ConfigError", "--as-of",
      "Sunday"),
    a("tax-unknown-household", ("tax", "rates", "nobody"), "NotFound", "nobody"),
    a("data-unknown-ticker", ("data", "show", "QQQ"), "UnknownTicker", "QQQ"),
    a("data-bad-ticker", ("data", "show", "$$$"), "ConfigError", "TICKER", "$$$"),
    a("data-start-format", ("data", "show", "--start", "01/02/2024"), "ConfigError", "--start", "01/02/2024"),
    a("data-years-zero", ("data", "show", "--years", "0"), "ConfigError", "--years"),
    a("data-years-nan", ("data", "show", "--years", "nan"), "ConfigError", "--years", "finite"),
    a("batch-workers-zero", ("batch", "plan", "--workers", "0", "--no-save"), "ConfigError", "--workers"),
    a("batch-synthetic-zero", ("batch", "plan", "--households", "synthetic:0", "--no-save"), "ConfigError",
      "--households", "synthetic"),
    a("batch-as-of-holiday", ("batch", "plan", "--as-of", "2026-01-01", "--no-save"), "ConfigError", "--as-of",
      "2025-12-31", "2026-01-02"),
    a("batch-missing-file", ("batch", "plan", "--households", "{dir}/nope.yaml", "--no-save"), "ConfigError",
      "no such household file"),
    a("batch-threads-huge", ("batch", "run", "--threads", "100000"), "ConfigError", "--threads"),
    a("backtest-processes-zero", ("backtest", "esg", "--processes", "0"), "ConfigError", "--processes"),
    a("backtest-report-txt", ("backtest", "esg", "--report", "{dir}/r.txt"), "ConfigError", "--report", ".html"),
    a("backtest-save-is-file", ("backtest", "esg", "--save", "{dir}/taken"), "ConfigError", "--save", "file",
      files={"taken": "x"}),
    a("schedule-limit-zero", ("schedule", "status", "--limit", "0"), "ConfigError", "--limit"),
    a("schedule-pause-unknown", ("schedule", "pause", "nobody"), "NotFound", "nobody"),
    a("schedule-resume-unknown", ("schedule", "resume", "nobody"), "NotFound", "nobody"),
    a("schedule-wake-unknown", ("schedule", "wake", "nobody"), "NotFound", "nobody"),
    a("schedule-runner-spec", ("schedule", "run", "--once", "--runner", "not a spec"), "ConfigError", "--runner"),
    a("schedule-config-missing", ("schedule", "status", "--config", "{dir}/nope.yaml"), "ConfigError", "--config"),
    a("household-show-unknown", ("household", "show", "nobody"), "NotFound", "nobody"),
    a("household-show-bad-id", ("household", "show", "../../etc/passwd"), "ConfigError", "household id"),
    a("household-import-folder", ("household", "import", "{dir}/folder.yaml"), "ConfigError", "folder",
      files={"folder.yaml/x": "x"}),
    a("household-import-exists", ("household", "import", "sample"), "Conflict", "--replace"),
    a("demo-out-is-file", ("demo", "--out", "{dir}/taken"), "ConfigError", "--out", "file", files={"taken": "x"}),
]

# --------------------------------------------------------------------------------------------------
# Settings (ROBO_*) and configuration folders
# --------------------------------------------------------------------------------------------------


def e(case_id: str, env: dict[str, str], argv: tuple[str, ...], error: str | None, *words: str,
      files: dict[str, str | bytes] | None = None, code: int = INPUT, fresh: bool = False) -> Case:
    return Case(case_id, "settings", argv, error, tuple(words), files=files or {}, env=env, code=code,
                subprocess=fresh)


LIST = ("household", "list")
SETTINGS = [
    e("trading-disabled-maybe", {"ROBO_TRADING_DISABLED": "maybe"}, LIST, "ConfigError", "ROBO_TRADING_DISABLED",
      "maybe", fresh=True),
    e("alpaca-paper-perhaps", {"ROBO_ALPACA_PAPER": "perhaps"}, LIST, "ConfigError", "ROBO_ALPACA_PAPER"),
    e("alpaca-base-url-not-url", {"APCA_API_BASE_URL": "paper-api.alpaca.markets"}, LIST, "ConfigError",
      "APCA_API_BASE_URL", "http"),
    e("max-order-fraction-percent", {"ROBO_MAX_ORDER_FRACTION": "25"}, LIST, "ConfigError",
      "ROBO_MAX_ORDER_FRACTION", "fraction"),
    e("max-order-fraction-nan", {"ROBO_MAX_ORDER_FRACTION": "nan"}, LIST, "ConfigError", "ROBO_MAX_ORDER_FRACTION"),
    e("log-json-2", {"ROBO_LOG_JSON": "2"}, LIST, "ConfigError", "ROBO_LOG_JSON"),
    e("config-dir-missing", {"ROBO_CONFIG_DIR": "{dir}/no-such-config"}, ("plan", "sample"), "ConfigError",
      "ROBO_CONFIG_DIR", "no-such-config", fresh=True),
    e("config-dir-empty", {"ROBO_CONFIG_DIR": ""}, ("tax", "rates", "sample"), "ConfigError", "ROBO_CONFIG_DIR"),
    e("config-dir-is-file", {"ROBO_CONFIG_DIR": "{dir}/cfg"}, ("tax", "rates", "sample"), "ConfigError",
      "ROBO_CONFIG_DIR", files={"cfg": "x"}),
    e("database-url-typo-name", {"ROBO_DATABSE_URL": "sqlite:///x.db"}, LIST, "ConfigError", "ROBO_DATABSE_URL",
      "ROBO_DATABASE_URL"),
    e("database-url-missing-file", {"ROBO_DATABASE_URL": "sqlite:///{dir}/typo/robo.db"}, LIST, "NotFound",
      "no database", "typo", fresh=True),
    e("database-url-show-missing", {"ROBO_DATABASE_URL": "sqlite:///{dir}/typo/robo.db"},
      ("household", "show", "rivera"), "NotFound", "no database"),
    e("database-url-plan-missing", {"ROBO_DATABASE_URL": "sqlite:///{dir}/typo/robo.db"}, ("plan", "rivera"),
      "NotFound", "no database"),
    e("database-url-malformed", {"ROBO_DATABASE_URL": "not a url"}, LIST, "ConfigError", "ROBO_DATABASE_URL",
      "malformed"),
    e("database-url-no-driver", {"ROBO_DATABASE_URL": "nosuchdb://u@h/db"}, LIST, "ConfigError",
      "ROBO_DATABASE_URL"),
    e("db-current-missing", {"ROBO_DATABASE_URL": "sqlite:///{dir}/typo/robo.db"}, ("db", "current"), None,
      "no database", code=FAILED),
    e("home-is-file", {"ROBO_HOME": "{dir}/homefile"}, LIST, "ConfigError", "ROBO_HOME", "a file",
      files={"homefile": "x"}),
    e("home-empty", {"ROBO_HOME": "  "}, LIST, "ConfigError", "ROBO_HOME", "empty"),
    e("data-dir-is-file", {"ROBO_DATA_DIR": "{dir}/datafile"}, ("data", "show", "--source", "yahoo", "VTI"),
      "ConfigError", "ROBO_DATA_DIR", files={"datafile": "x"}),
    e("config-scheduler-bad", {"ROBO_CONFIG_DIR": "{dir}/cfg"}, ("schedule", "status"), "ConfigError",
      "scheduler.yaml", "misfire_grace_minutes",
      files={"cfg/scheduler.yaml": SCHEDULER.replace("misfire_grace_minutes: 360", "misfire_grace_minutes: soon", 1)}),
    e("config-scheduler-dup-key", {"ROBO_CONFIG_DIR": "{dir}/cfg"}, ("schedule", "status"), "ConfigError",
      "duplicate key 'at'",
      files={"cfg/scheduler.yaml": SCHEDULER.replace('at: "09:00"', 'at: "09:00"\n    at: "03:00"', 1)}),
    e("config-universe-bad", {"ROBO_CONFIG_DIR": "{dir}/cfg"}, ("tax", "rates", "sample"), "ConfigError",
      "universe.yaml", "asset_class",
      files={"cfg/universe.yaml": UNIVERSE.replace("asset_class: us_equity", "asset_class: equities", 1)}),
    e("config-life-events-bad", {"ROBO_CONFIG_DIR": "{dir}/cfg"},
      ("event", "sample", "child", "--on", "2027-03-01"), "ConfigError", "life_events.yaml",
      files={"cfg/life_events.yaml": "rules: [1, 2\n"}, fresh=True),
]

# --------------------------------------------------------------------------------------------------
# ESG data files (engine.esg.load_esg through ROBO_CONFIG_DIR) — read by planning and the report
# --------------------------------------------------------------------------------------------------
ESG_CMD = ("rebalance", "sample", "--dry-run")


def g(case_id: str, text: str, *words: str) -> Case:
    return Case(case_id, "esg", ESG_CMD, "ConfigError", ("esg.yaml", *words), files={"cfg/esg.yaml": text},
                env={"ROBO_CONFIG_DIR": "{dir}/cfg"})


ESGS = [
    g("esg-unknown-tag", ESG.replace("tags: [weapons, gambling]}", "tags: [weapons, gamblin]}", 1), "gamblin"),
    g("esg-file-score-11",
      ESG.replace("{esg_score: 6.0, carbon_intensity: 38,", "{esg_score: 11, carbon_intensity: 38,", 1), "esg_score"),
    g("esg-carbon-negative", ESG.replace("carbon_intensity: 38,", "carbon_intensity: -38,", 1), "carbon_intensity"),
    g("esg-dup-fund", ESG.replace("  IVV:  {", "  VTI:  {", 1), "duplicate key 'VTI'"),
    g("esg-controversy-words", ESG.replace("controversy: true,  tags: [weapons, gambling]",
                                           "controversy: sometimes,  tags: [weapons, gambling]", 1), "controversy"),
]


# --------------------------------------------------------------------------------------------------
# Direct index: the household's sleeve of single stocks (direct_index:)
# --------------------------------------------------------------------------------------------------
_SLEEVE = "events: []\ndirect_index:\n  accounts: [brokerage]\n  fund: IVV\n  universe: embedded\n"


def d(case_id: str, extra: str, *words: str, sleeve: str = _SLEEVE) -> Case:
    """A household whose ``direct_index:`` section has one mistake (``extra`` lines appended to a good one)."""
    return h(case_id, "direct", [("events: []", sleeve + extra)], "ConfigError", *words)


DIRECT = [
    d("direct-account-unknown", "", "direct_index.accounts", "brokrage",
      sleeve=_SLEEVE.replace("[brokerage]", "[brokrage]")),
    d("direct-account-not-taxable", "", "direct_index.accounts", "jordan_ira", "taxable",
      sleeve=_SLEEVE.replace("[brokerage]", "[jordan_ira]")),
    d("direct-fund-not-a-fund", "", "direct_index.fund", "IVVX", "universe",
      sleeve=_SLEEVE.replace("fund: IVV", "fund: IVVX")),
    d("direct-preset-unknown", "  exclude: [alcohol]\n", "direct_index.exclude", "alcohol", "fossil_fuels"),
    d("direct-te-limit-percent", "  te_limit: 1.5\n", "direct_index.te_limit", "1.5"),
    d("direct-tax-budget-negative", "  tax_budget: -100\n", "direct_index.tax_budget", "-100"),
    d("direct-ticker-not-in-universe", "  exclude_tickers: [TSLA]\n", "direct_index.exclude_tickers", "TSLA",
      "embedded"),
    d("direct-sector-misspelt", "  exclude_sectors: [Oil]\n", "direct_index.exclude_sectors", "Oil", "Energy"),
    d("direct-sub-industry-misspelt", "  exclude_sub_industries: [Tobaco]\n", "direct_index.exclude_sub_industries",
      "Tobaco"),
    d("direct-universe-missing", "", "direct_index.universe", "nowhere.csv",
      sleeve=_SLEEVE.replace("universe: embedded", "universe: nowhere.csv")),
    d("direct-field-misspelt", "  te_limt: 0.02\n", "direct_index.te_limt", "spelling"),
    d("direct-tilt-too-big", "  tilts: {MSFT: 0.5}\n", "direct_index.tilts.MSFT", "0.5"),
    h("direct-stock-lot-outside-sleeve", "direct", [("events: []", _SLEEVE), ("symbol: VTI, shares: 240",
                                                                              "symbol: MSFT, shares: 240")],
      "ConfigError", "lots[r1].account", "alex_401k", "direct_index.accounts"),
]


# --------------------------------------------------------------------------------------------------
# The direct-indexing backtest (robo backtest direct --prices FILE): the S&P 500 set is never shipped
# --------------------------------------------------------------------------------------------------
SP_PRICES = gzip.compress(b"Date,AAPL\n2020-01-02,75.0\n2020-01-03,74.3\n")
SP_SECTORS = "ticker,name,gics_sector,gics_sub_industry\nAAPL,Apple Inc.,Information Technology,Hardware\n"
SP_DIVS = gzip.compress(b"date,ticker,dividend_amount,split_coefficient,div_pct_prev_close,flag\n")
DIRECT_YAML = ("version: 1\nkind: direct\nname: d\nstart: 2020-01-02\nend: 2020-06-30\nlump_sum: 1000000\n"
               "tax: {ordinary_income: 1000000}\nsleeve: {te_limit: 0.015}\n")


def direct(case_id: str, argv: tuple[str, ...], error: str, words: tuple[str, ...],
           files: dict[str, str | bytes]) -> Case:
    return Case(case_id, "backtest_direct", ("backtest", *argv), error, words, files=files)


DIRECTS = [
    direct("direct-without-prices", ("direct",), "ConfigError", ("--prices", "sp500_adj_close.csv.gz"), {}),
    direct("direct-prices-not-the-set", ("direct", "--prices", "{dir}/mine.csv.gz"), "DataError",
           ("mine.csv.gz", "sp500_adj_close.csv.gz"), {"mine.csv.gz": SP_PRICES}),
    direct("direct-sectors-missing", ("direct", "--prices", "{dir}/sp/sp500_adj_close.csv.gz"), "DataError",
           ("sp500_sectors.csv", "sp500_dividends_splits.csv.gz"), {"sp/sp500_adj_close.csv.gz": SP_PRICES}),
    direct("direct-prices-not-gzip", ("direct", "--prices", "{dir}/sp/sp500_adj_close.csv.gz"), "DataError",
           ("cannot be read", "build.py"), {"sp/sp500_adj_close.csv.gz": b"Date,AAPL\n2020-01-02,75.0\n",
                                            "sp/sp500_sectors.csv": SP_SECTORS,
                                            "sp/sp500_dividends_splits.csv.gz": SP_DIVS}),
    direct("direct-dividends-no-columns", ("direct", "--prices", "{dir}/sp/sp500_adj_close.csv.gz"), "DataError",
           ("sp500_dividends_splits.csv.gz", "div_pct_prev_close"),
           {"sp/sp500_adj_close.csv.gz": SP_PRICES, "sp/sp500_sectors.csv": SP_SECTORS,
            "sp/sp500_dividends_splits.csv.gz": gzip.compress(b"date,ticker\n")}),
    direct("direct-te-limit-word", ("{dir}/d.yaml", "--prices", "{dir}/sp500_adj_close.csv.gz"), "ConfigError",
           ("d.yaml", "sleeve.te_limit", "lots"),
           {"d.yaml": DIRECT_YAML.replace("te_limit: 0.015", "te_limit: lots"), "sp500_adj_close.csv.gz": SP_PRICES}),
    direct("direct-unknown-strategy", ("{dir}/d.yaml", "--prices", "{dir}/sp500_adj_close.csv.gz"), "ConfigError",
           ("strategies", "robo_advisor", "fund_tlh"),
           {"d.yaml": DIRECT_YAML + "strategies: [direct, robo_advisor]\n", "sp500_adj_close.csv.gz": SP_PRICES}),
    direct("direct-exclusion-not-a-name", ("{dir}/d.yaml", "--prices", "{dir}/sp500_adj_close.csv.gz"),
           "ConfigError", ("sleeve.exclusions.0", "tobacco"),
           {"d.yaml": DIRECT_YAML.replace("{te_limit: 0.015}", "{exclusions: [{sector: Energy}]}"),
            "sp500_adj_close.csv.gz": SP_PRICES}),
    direct("direct-cadence-elsewhere", ("{dir}/s.yaml", "--cadence", "5"), "ConfigError", ("--cadence", "direct"),
           {"s.yaml": SCENARIO}),
]

CASES: list[Case] = [
    *YAML, *MONEY, *DATES, *REFS, *SCHEMA, *DIRECT, *UNIVERSES, *SCENARIOS, *CSVS, *CACHES, *CLI, *SETTINGS, *ESGS,
    *DIRECTS,
]
