"""AlpacaBroker through the real alpaca-py TradingClient against the local server: shapes, errors, faults, secrets."""

from __future__ import annotations

import logging
import traceback
from decimal import Decimal as D

import pytest
from pydantic import SecretStr

from brokers import BrokerOrderStatus, OrderQuery
from brokers.alpaca import AlpacaBroker, TradingMode
from engine.errors import (
    BrokerError,
    BrokerUnavailable,
    ConfigError,
    InsufficientFunds,
    OrderRejected,
    RateLimited,
    ValidationError,
)
from engine.model import Order
from tests.brokers._alpaca_server import KEY_ID, SECRET


def buy(cid="p-000", symbol="VTI", **kw):
    kw = kw or {"qty": D(2)}
    return Order(cid, "brokerage", symbol, "buy", **kw)


def posts(server):
    return [r for r in server.requests if r[0] == "POST"]


def test_reads_use_alpacas_shapes_exactly(alpaca, server):
    acct = alpaca.account()
    assert acct.cash == D("10000") and acct.equity == D("10725.00") and isinstance(acct.buying_power, D)
    (pos,) = alpaca.positions()
    assert (pos.account, pos.symbol, pos.qty, pos.market_value) == ("brokerage", "BND", D(10), D("725.00"))
    assert alpaca.asset("brk").fractionable is False and alpaca.asset("VTI").tradable
    clock = alpaca.clock()
    assert clock.is_open and clock.timestamp.utcoffset().total_seconds() == 0 and clock.next_open > clock.timestamp
    with pytest.raises(BrokerError) as exc:
        alpaca.asset("NOPE")
    assert exc.value.status == 404
    assert alpaca.order("never-sent") is None


def test_submit_qty_notional_limit_and_fills_with_partials(alpaca, server):
    server.partial_rate = 1.0
    since = server.clock.now()
    a = alpaca.submit(buy("p-000", qty=D("1.5")))
    b = alpaca.submit(buy("p-001", notional=D("1000.25")))
    c = alpaca.submit(Order("p-002", "brokerage", "BND", "sell", qty=D(4), type="limit", limit_price=D("72.10")))
    assert (a.qty, b.notional, c.limit_price) == (D("1.5"), D("1000.25"), D("72.10"))
    assert a.status is BrokerOrderStatus.ACCEPTED and len(alpaca.orders(OrderQuery.OPEN)) == 3
    server.tick()  # Alpaca's lifecycle: accepted → new (routed) → partially_filled → filled
    assert alpaca.order("p-000").status is BrokerOrderStatus.NEW
    server.tick()
    assert alpaca.order("p-000").status is BrokerOrderStatus.PARTIALLY_FILLED
    server.tick()
    fills = alpaca.fills(since)
    assert len(fills) == 6 and len({f.id for f in fills}) == 6
    by = {}
    for f in fills:
        by[f.client_order_id] = by.get(f.client_order_id, D(0)) + f.qty
        assert f.at.tzinfo is not None and f.account == "brokerage" and f.fees == 0
    assert by == {"p-000": D("1.5"), "p-001": alpaca.order("p-001").filled_qty, "p-002": D(4)}
    assert all(o.status is BrokerOrderStatus.FILLED for o in alpaca.orders(OrderQuery.CLOSED))
    with pytest.raises(OrderRejected, match="not cancelable"):
        alpaca.cancel(a.id)


def test_fills_page_through_activities(alpaca, server):
    since = server.clock.now()
    server.reset(cash="1000000", prices={"VTI": "10"})
    for i in range(120):
        alpaca.submit(buy(f"p-{i:03d}", qty=D(1)))
    server.tick()
    server.tick()
    fills = alpaca.fills(since)
    assert len(fills) == 120 and [f.client_order_id for f in fills][-1] == "p-119"
    assert sum(1 for r in server.requests if r[1] == "/v2/account/activities/FILL") == 2


def test_403_insufficient_buying_power_and_qty(alpaca, server):
    server.set_account(shorting_enabled=False)  # a long-only account: selling more than held is refused
    with pytest.raises(InsufficientFunds, match="insufficient buying power") as exc:
        alpaca.submit(buy(qty=D(100)))
    assert exc.value.status == 403 and exc.value.client_order_id == "p-000"
    with pytest.raises(InsufficientFunds, match="insufficient qty available"):
        alpaca.submit(Order("p-001", "brokerage", "BND", "sell", qty=D(11)))
    server.inject("POST", "/v2/orders", "403")
    with pytest.raises(InsufficientFunds):
        alpaca.submit(buy("p-002"))
    assert server.by_cid("p-000") == [] and server.by_cid("p-002") == []


def test_422_is_rejected_with_alpacas_message(alpaca, server):
    server.set_asset("VEA", status="inactive")
    with pytest.raises(OrderRejected, match="asset VEA is not active") as exc:
        alpaca.submit(buy(symbol="VEA", qty=D(1)))
    assert exc.value.status == 422
    with pytest.raises(OrderRejected, match="not found"):
        alpaca.submit(buy(symbol="ZZZ"))


def test_429_waits_until_the_reset_header_then_retries(alpaca, server):
    server.inject("POST", "/v2/orders", "429", times=2)
    server.inject("GET", "/v2/account", "429")
    placed = alpaca.submit(buy())
    assert placed.client_order_id == "p-000" and len(server.by_cid("p-000")) == 1
    assert server.clock.slept == [2.0, 2.0]  # X-RateLimit-Reset is 2 s ahead each time
    alpaca.account()
    assert server.clock.slept[-1] == 2.0


def test_429_forever_raises_rate_limited(alpaca, server):
    server.inject("GET", "/v2/positions", "429", times=5)
    with pytest.raises(RateLimited) as exc:
        alpaca.positions()
    assert exc.value.status == 429 and len(server.clock.slept) == 4


@pytest.mark.parametrize("kind", ["500", "503", "504", "drop_before"])
def test_server_errors_before_the_order_was_taken_resubmit_once(alpaca, server, kind):
    server.inject("POST", "/v2/orders", kind)
    placed = alpaca.submit(buy())
    assert len(server.by_cid("p-000")) == 1 and placed.id == server.by_cid("p-000")[0].id
    assert [r[1] for r in server.requests] == ["/v2/orders", "/v2/orders:by_client_order_id", "/v2/orders"]
    assert server.clock.slept == [0.5]


@pytest.mark.parametrize("kind", ["drop_after", "slow_after"])
def test_order_taken_but_answer_lost_is_found_not_resubmitted(alpaca, server, kind):
    server.inject("POST", "/v2/orders", kind)
    placed = alpaca.submit(buy())
    assert len(posts(server)) == 1 and len(server.by_cid("p-000")) == 1
    assert placed.id == server.by_cid("p-000")[0].id


def test_duplicate_client_order_id_resolves_to_the_existing_order(alpaca, server):
    first = alpaca.submit(buy())
    again = alpaca.submit(buy())  # a caller that did not look first: Alpaca says 422, the adapter looks it up
    assert again.id == first.id and len(server.by_cid("p-000")) == 1


def test_unavailable_after_retries_says_the_outcome_is_unknown(alpaca, server):
    server.inject("POST", "/v2/orders", "500", times=5)
    with pytest.raises(BrokerUnavailable, match="outcome is unknown") as exc:
        alpaca.submit(buy())
    assert exc.value.client_order_id == "p-000" and exc.value.status == 500 and server.by_cid("p-000") == []
    server.inject("GET", "/v2/clock", "slow_after", times=5)
    server.stall, stall = 0.3, server.stall
    try:
        with pytest.raises(BrokerUnavailable, match="ReadTimeout"):
            alpaca.clock()
    finally:
        server.stall = stall


def test_wrong_account_and_long_ids_never_reach_alpaca(alpaca, server):
    with pytest.raises(OrderRejected, match="one AlpacaBroker per account"):
        alpaca.submit(Order("p-000", "ira", "VTI", "buy", qty=D(1)))
    with pytest.raises(OrderRejected, match="128"):
        alpaca.submit(buy("x" * 129))
    with pytest.raises(ValidationError):
        alpaca.positions("ira")
    assert posts(server) == []


def test_live_needs_explicit_confirmation(server):
    with pytest.raises(ConfigError, match="confirm_live"):
        AlpacaBroker(KEY_ID, SECRET, paper=False, url_override=server.url)
    live = AlpacaBroker(KEY_ID, SECRET, paper=False, confirm_live=True, url_override=server.url)
    assert live.mode is TradingMode.LIVE
    assert AlpacaBroker(KEY_ID, SECRET, url_override=server.url).mode is TradingMode.PAPER


def test_keys_from_environment_and_file(server, monkeypatch, tmp_path):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="APCA_API_KEY_ID"):
        AlpacaBroker(url_override=server.url)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    assert AlpacaBroker(url_override=server.url).account().cash == 10_000
    assert AlpacaBroker.from_settings(url_override=server.url).positions()[0].symbol == "BND"
    keys = tmp_path / "alpaca.env"
    keys.write_text(f"# paper keys\nexport APCA_API_KEY_ID={KEY_ID}\nAPCA_API_SECRET_KEY='{SECRET}'\n")
    assert AlpacaBroker.from_key_file(keys, url_override=server.url).account().cash == 10_000
    bad = tmp_path / "bad.env"
    bad.write_text(f"APCA_API_KEY_ID={KEY_ID}\n")
    with pytest.raises(ConfigError, match="lacks APCA_API_SECRET_KEY") as exc:
        AlpacaBroker.from_key_file(bad)
    assert KEY_ID not in str(exc.value)


def test_secrets_never_leak(server, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    broker = AlpacaBroker(SecretStr(KEY_ID), SecretStr(SECRET), url_override=server.url, account="brokerage",
                          sleep=server.clock.sleep, wall=server.clock.time, timeout=0.25)
    texts = [repr(broker), str(broker)]
    server.inject("POST", "/v2/orders", "500")
    server.inject("POST", "/v2/orders", "drop_after")
    broker.submit(buy())
    for exc_type, call in [
        (InsufficientFunds, lambda: broker.submit(buy("p-001", qty=D(1000)))),
        (OrderRejected, lambda: broker.submit(buy("p-002", symbol="BRK", qty=D("0.5")))),
        (BrokerUnavailable, lambda: (server.inject("GET", "/v2/account", "503", times=5), broker.account())),
    ]:
        with pytest.raises(exc_type) as exc:
            call()
        texts += [str(exc.value), repr(exc.value), "".join(traceback.format_exception(exc.value))]
    bad = AlpacaBroker("wrong-key", "wrong-secret", url_override=server.url)
    with pytest.raises(BrokerError, match="401") as exc:
        bad.account()
    texts += [str(exc.value), "".join(traceback.format_exception(exc.value))]
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(broker)
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text, *(r.getMessage() for r in caplog.records)]
    assert caplog.records, "DEBUG logging was on and something should have logged"
    for text in texts:
        assert KEY_ID not in text and SECRET not in text
