"""Hypothesis properties of the ledger: shares conserved, basis + lost IRA losses conserved, gain identity."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_DOWN
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.model import AccountType
from engine.tax import LotLedger, LotMethod, holding_term

ACCOUNTS = {"b1": AccountType.TAXABLE, "b2": AccountType.TAXABLE, "ira": AccountType.TRADITIONAL,
            "roth": AccountType.ROTH}
SYMBOLS = ["AAA", "AAB", "CCC"]  # AAA and AAB are substantially identical

op = st.one_of(
    st.tuples(st.just("buy"), st.sampled_from(list(ACCOUNTS)), st.sampled_from(SYMBOLS),
              st.integers(1, 400), st.integers(500, 2000), st.integers(0, 3)),
    st.tuples(st.just("sell"), st.sampled_from(list(ACCOUNTS)), st.sampled_from(SYMBOLS),
              st.integers(1, 400), st.integers(300, 2500), st.sampled_from(list(LotMethod))),
    st.tuples(st.just("reinvest"), st.sampled_from(list(ACCOUNTS)), st.sampled_from(SYMBOLS),
              st.integers(1, 5000), st.integers(500, 2000), st.just(0)),
    st.tuples(st.just("transfer"), st.sampled_from(list(ACCOUNTS)), st.sampled_from(SYMBOLS),
              st.integers(1, 100), st.integers(0, 200000), st.integers(0, 900)),
    st.tuples(st.just("split"), st.just("-"), st.sampled_from(SYMBOLS), st.sampled_from(["2", "3", "0.5"]),
              st.just(0), st.just(0)),
)
program = st.lists(st.tuples(st.integers(0, 20), op), min_size=1, max_size=60)


def run(steps):
    led = LotLedger(ACCOUNTS, identical=[{"AAA", "AAB"}])
    day = date(2024, 1, 2)
    held: dict[tuple[str, str], D] = defaultdict(D)
    cost_in = D(0)
    for gap, (kind, account, symbol, a, b, c) in steps:
        day += timedelta(days=gap)
        if kind == "buy":
            price = D(b) / 100
            led.buy(account, symbol, D(a) / 4, price, day, fees=D(c))
            held[(account, symbol)] += D(a) / 4
            cost_in += (D(a) / 4 * price + c).quantize(D("0.01"))
        elif kind == "sell":
            have = held[(account, symbol)]
            if have == 0:
                continue
            qty = min(have, D(a) / 4)
            lots = None
            if c is LotMethod.SPECIFIC:
                lots = [lot.id for lot in reversed(led.open_lots(account, symbol))]
            led.sell(account, symbol, qty, D(b) / 100, day, method=c, lots=lots)
            held[(account, symbol)] -= qty
        elif kind == "reinvest":
            led.reinvest(account, symbol, D(a) / 100, D(b) / 100, day)
            # the purchase, not the returned lot: a partly washed purchase returns only its unmatched part
            held[(account, symbol)] += (D(a) / D(b)).quantize(D("0.000001"), rounding=ROUND_DOWN)
            cost_in += D(a) / 100
        elif kind == "transfer":
            led.transfer_in(account, symbol, a, D(b) / 100, day - timedelta(days=c), day)
            held[(account, symbol)] += a
            cost_in += (D(b) / 100).quantize(D("0.01"))
        else:
            led.split(symbol, a, day)
            for key in held:
                if key[1] == symbol:
                    held[key] *= D(a)
    return led, held, cost_in


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_ledger_invariants(steps):
    led, held, cost_in = run(steps)
    # shares conserved per account and symbol
    for (account, symbol), shares in held.items():
        assert led.shares(account, symbol) == shares
    reals = led.realized(include_sheltered=True)
    washes = led.wash_sales()
    disallowed = sum((r.disallowed for r in reals), D(0))
    lost = sum((r.lost for r in reals), D(0))
    # every dollar of basis that came in is in an open lot or was relieved by a sale; disallowed losses
    # move into basis except those lost in IRAs (Rev. Rul. 2008-5)
    open_basis = sum((lot.basis for lot in led.open_lots()), D(0))
    sold_basis = sum((r.basis for r in reals), D(0))
    assert open_basis + sold_basis == cost_in + disallowed - lost
    assert sum((w.basis_added for w in washes), D(0)) == disallowed - lost
    assert sum((w.disallowed for w in washes), D(0)) == disallowed
    assert lost == led.permanently_disallowed
    for r in reals:
        assert r.gain == r.proceeds - r.basis + r.disallowed
        assert r.disallowed >= 0 and r.lost <= r.disallowed
        assert r.disallowed <= max(D(0), r.basis - r.proceeds)  # never more than the loss
        assert r.term is holding_term(r.acquired, r.sold)
        if not r.reportable:
            assert r.disallowed == 0
    for w in washes:
        assert abs((w.replacement_purchased - w.sold).days) <= 30
        assert {w.symbol, w.replacement_symbol} <= {"AAA", "AAB"} or w.symbol == w.replacement_symbol
    # a replacement share absorbs at most one loss: replacement lots are unique
    assert len({w.replacement_lot for w in washes}) == len(washes)
    for lot in led.open_lots():
        assert lot.shares > 0 and lot.basis >= 0 and lot.acquired <= lot.purchased


@settings(max_examples=40, deadline=None)
@given(program)
def test_copy_is_independent(steps):
    led, _, _ = run(steps)
    before = (led.open_lots(), led.realized(include_sheltered=True), led.wash_sales())
    twin = led.copy()
    day = (led.last_event or date(2024, 1, 2)) + timedelta(days=1)
    while twin.open_lots():  # re-read each time: a loss sale can split a replacement lot
        lot = twin.open_lots()[0]
        twin.sell(lot.account, lot.symbol, lot.shares, "0.01", day, lots=[lot.id])
    for symbol in SYMBOLS:
        twin.buy("b1", symbol, 1000, 1, day)
    assert (led.open_lots(), led.realized(include_sheltered=True), led.wash_sales()) == before


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program, st.integers(-5, 40))
def test_blocked_buys_and_loss_sales_agree_with_each_window(steps, offset):
    led, _, _ = run(steps)
    on = (led.last_event or date(2024, 1, 2)) + timedelta(days=offset)
    symbols = [*SYMBOLS, "aab", "ZZZ"]
    windows = {s: led.wash_sale_window(s, on) for s in symbols}
    assert led.blocked_buys(symbols, on) == {s.upper() for s, w in windows.items() if w.buy_blocked}
    assert led.blocked_loss_sales(symbols, on) == {s.upper() for s, w in windows.items() if w.loss_sale_blocked}


@settings(max_examples=40, deadline=None)
@given(program, st.booleans())
def test_copies_never_see_each_others_changes(steps, change_the_original):
    led, _, _ = run(steps)
    start = (led.last_event or date(2024, 1, 2)) + timedelta(days=31)  # no loss of the program can wash into it
    lot = led.buy("b1", "AAA", 10, 20, start)
    led.sell("b1", "AAA", 10, 5, start + timedelta(days=45), lots=[lot.id])  # an unmatched loss
    led.buy("b2", "CCC", 1, 10, start + timedelta(days=80))  # its window has closed before the copy
    twin = led.copy()
    changed, kept = (led, twin) if change_the_original else (twin, led)
    before = (kept.open_lots(), kept.realized(include_sheltered=True), kept.wash_sales(), kept.permanently_disallowed)
    day = start + timedelta(days=81)
    for symbol in SYMBOLS:  # a purchase dated back 40 days still washes that loss
        changed.transfer_in("b1", symbol, 5, 1, day - timedelta(days=400), day, purchased=day - timedelta(days=40))
    changed.split("AAA", "2", day)
    while changed.open_lots():
        lot = changed.open_lots()[0]
        changed.sell(lot.account, lot.symbol, lot.shares, "0.01", day, lots=[lot.id])
    for symbol in SYMBOLS:
        changed.buy("ira", symbol, 1000, 1, day)
    assert changed.wash_sales() != kept.wash_sales()
    assert (kept.open_lots(), kept.realized(include_sheltered=True), kept.wash_sales(),
            kept.permanently_disallowed) == before
