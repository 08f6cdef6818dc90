"""The stricter local Alpaca and the adapter's answers to it, through the real alpaca-py client.

Each test names the Alpaca documentation it follows (see tests/brokers/_alpaca_server.py for the pages).
"""

from __future__ import annotations

import logging
import traceback
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import TimeInForce as AlpacaTIF
from alpaca.trading.requests import MarketOrderRequest

from brokers import BrokerOrderStatus, OrderQuery, wait_for_final
from brokers.alpaca import AlpacaBroker, RateLimiter
from engine.errors import BrokerError, ConfigError, InsufficientFunds, OrderRejected
from engine.model import Order
from tests.brokers._alpaca_server import KEY_ID, SECRET

NY_SATURDAY_NOON = datetime(2026, 8, 8, 16, 0, tzinfo=UTC)
HEADERS = {"APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET}


def buy(cid, symbol="VTI", **kw):
    kw = kw or {"qty": D(2)}
    return Order(cid, "brokerage", symbol, "buy", **kw)


def sell(cid, symbol="VTI", qty="1", **kw):
    return Order(cid, "brokerage", symbol, "sell", qty=D(qty), **kw)


def raw_client(server):
    client = TradingClient(KEY_ID, SECRET, url_override=server.url)
    client._retry = 0
    return client


def paths(server, method=None):
    return [r.path for r in server.requests if method is None or r.method == method]


# -- the order lifecycle over time -------------------------------------------------------------------


def test_orders_move_accepted_new_partial_filled_over_ticks(alpaca, server):
    """Alpaca, Order Lifecycle: accepted → new (routed) → partially_filled → filled."""
    server.partial_rate = 1.0
    alpaca.submit(buy("p-000", qty=D(4)))
    seen = [alpaca.order("p-000").status]
    for _ in range(3):
        server.tick()
        seen.append(alpaca.order("p-000").status)
    assert [s.value for s in seen] == ["accepted", "new", "partially_filled", "filled"]
    assert alpaca.positions()[-1].qty == 4 and alpaca.order("p-000").filled_qty == 4


def test_fill_every_moves_orders_as_the_clock_moves(alpaca, server):
    server.fill_every = 5.0
    alpaca.submit(buy("p-000"))
    server.clock.advance(4.9)
    assert alpaca.order("p-000").status is BrokerOrderStatus.ACCEPTED
    server.clock.advance(0.2)
    assert alpaca.order("p-000").status is BrokerOrderStatus.NEW
    server.clock.advance(5)
    assert alpaca.order("p-000").final


def test_orders_queue_while_closed_and_day_orders_expire_at_the_close(alpaca, server):
    """Alpaca, Orders at Alpaca: orders outside 9:30–16:00 ET queue for the next open; a DAY order lives
    for that session only, then expires."""
    server.reset(cash="10000", prices={"VTI": "250", "BND": "72.5"}, is_open=None)
    server.clock.set(NY_SATURDAY_NOON)
    clock = alpaca.clock()
    assert not clock.is_open and clock.next_open == datetime(2026, 8, 10, 13, 30, tzinfo=UTC)
    alpaca.submit(buy("p-000"))
    server.tick()
    server.tick()
    assert alpaca.order("p-000").status is BrokerOrderStatus.ACCEPTED  # queued, not filled on a Saturday
    server.clock.set(datetime(2026, 8, 10, 13, 31, tzinfo=UTC))  # Monday 9:31 New York
    assert alpaca.clock().is_open
    server.tick()
    server.tick()
    assert alpaca.order("p-000").status is BrokerOrderStatus.FILLED
    alpaca.submit(buy("p-001", symbol="BND", qty=D(1)))  # placed in the session, never filled in it
    server.clock.set(datetime(2026, 8, 10, 20, 0, 1, tzinfo=UTC))  # 16:00:01 New York: the session ended
    late = alpaca.order("p-001")
    assert late.status is BrokerOrderStatus.EXPIRED and late.filled_qty == 0 and late.final


def test_close_market_expires_working_day_orders(alpaca, server):
    alpaca.submit(buy("p-000"))
    alpaca.submit(buy("p-001", qty=D(2), time_in_force="gtc"))
    server.close_market()
    assert alpaca.order("p-000").status is BrokerOrderStatus.EXPIRED
    assert alpaca.order("p-001").status is BrokerOrderStatus.ACCEPTED  # a GTC order waits for the next session
    server.open_market()
    server.tick()
    server.tick()
    assert alpaca.order("p-001").status is BrokerOrderStatus.FILLED


# -- shorts ------------------------------------------------------------------------------------------


def test_a_sell_beyond_the_position_opens_a_short_when_shorting_is_on(alpaca, server):
    """Alpaca, Account plans: accounts with 2,000 USD or more equity may sell short (paper accounts too)."""
    server.fresh_paper_account(cash="10000")
    assert alpaca.account().shorting_enabled and alpaca.positions() == []
    alpaca.submit(sell("p-000", qty="3"))
    server.tick()
    server.tick()
    (pos,) = alpaca.positions()
    assert (pos.symbol, pos.qty) == ("VTI", D(-3))
    assert alpaca.account().cash == D("10000") + 3 * D("250.12")


@pytest.mark.parametrize("how", ["small", "no_shorting", "not_shortable"])
def test_a_sell_beyond_the_position_is_refused_403_when_it_cannot_short(alpaca, server, how):
    if how == "small":
        server.fresh_paper_account(cash="1500")  # under 2,000 USD: no short selling
    elif how == "no_shorting":
        server.set_account(no_shorting=True)  # account configuration: long-only
    else:
        server.set_asset("VTI", shortable=False)
    with pytest.raises(InsufficientFunds, match="insufficient qty available") as exc:
        alpaca.submit(sell("p-000", qty="1"))
    assert exc.value.status == 403 and server.by_cid("p-000") == []
    assert not alpaca.account().shorting_enabled or how == "not_shortable"


def test_fractional_shares_are_never_sold_short(alpaca, server):
    """Alpaca, Fractional Trading: fractional short selling is not supported."""
    with pytest.raises(BrokerError, match="cannot be sold short") as exc:
        alpaca.submit(sell("p-000", symbol="BND", qty="10.5"))
    assert exc.value.status == 403


# -- fractional and notional ---------------------------------------------------------------------------


def test_server_refuses_fractional_gtc_and_non_fractionable_with_422(server):
    """Alpaca, Fractional Trading: market DAY orders only; only on fractionable assets."""
    client = raw_client(server)
    cases = [
        (dict(symbol="VTI", qty=1.5, time_in_force=AlpacaTIF.GTC), "market orders with time_in_force day"),
        (dict(symbol="VTI", notional=100, time_in_force=AlpacaTIF.GTC), "market orders with time_in_force day"),
        (dict(symbol="BRK", qty=0.5, time_in_force=AlpacaTIF.DAY), "not fractionable"),
        (dict(symbol="BRK", notional=100, time_in_force=AlpacaTIF.DAY), "not fractionable"),
    ]
    for fields, message in cases:
        with pytest.raises(APIError) as exc:
            client.submit_order(MarketOrderRequest(side=AlpacaSide.BUY, **fields))
        assert exc.value.status_code == 422 and message in str(exc.value)
    with pytest.raises(APIError, match="minimal amount of order 1") as exc:  # Alpaca: no order under $1
        client.submit_order(MarketOrderRequest(symbol="VTI", qty=0.001, side=AlpacaSide.BUY,
                                               time_in_force=AlpacaTIF.DAY))
    assert exc.value.status_code == 403
    placed = client.submit_order(MarketOrderRequest(symbol="BRK", qty=2, side=AlpacaSide.BUY,
                                                    time_in_force=AlpacaTIF.GTC))  # whole shares: any TIF
    assert placed.status.value == "accepted"


def test_adapter_refuses_what_alpaca_would_refuse_before_sending(alpaca, server):
    refusals = [
        (buy("p-000", symbol="BRK", qty=D("1.5")), "BRK is not fractionable"),
        (buy("p-001", symbol="BRK", notional=D(500)), "BRK is not fractionable"),
        (buy("p-002", qty=D("1.5"), time_in_force="gtc"), "market DAY order"),
        (buy("p-003", notional=D(100), type="limit", limit_price=D(250)), "market DAY order"),
        (buy("p-005", notional=D("0.99")), "under 1 USD"),
    ]
    for order, message in refusals:
        with pytest.raises(OrderRejected, match=message) as exc:
            alpaca.submit(order)
        assert exc.value.status in (403, 422) and exc.value.client_order_id == order.client_order_id
    assert paths(server, "POST") == [] and paths(server).count("/v2/assets/BRK") == 1  # asset read once, cached
    server.set_account(fractional_trading=False)
    fresh = AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage", sleep=server.clock.sleep,
                         wall=server.clock.time)
    with pytest.raises(OrderRejected, match="fractional_trading is off"):
        fresh.submit(buy("p-004", qty=D("0.5")))
    assert fresh.account().fractional_trading is False and paths(server, "POST") == []


def test_notional_goes_as_a_notional_market_day_order(alpaca, server):
    placed = alpaca.submit(buy("p-000", notional=D("1000.25")))
    (o,) = server.by_cid("p-000")
    assert (o.notional, o.qty, o.type, o.tif) == (D("1000.25"), None, "market", "day")
    assert placed.notional == D("1000.25") and placed.qty is None


# -- account and asset flags ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["trading_blocked", "account_blocked", "trade_suspended_by_user", "suspend_trade"])
def test_blocked_accounts_are_reported_and_refused_403(alpaca, server, flag):
    """Alpaca, Account: trading_blocked / account_blocked / trade_suspended_by_user; configuration suspend_trade."""
    server.set_account(**{flag: True})
    info = alpaca.account()
    assert "trade_suspended_by_user" in info.blocked_reason() if flag == "suspend_trade" else flag in (
        info.blocked_reason())
    with pytest.raises(BrokerError, match="not authorized to trade") as exc:
        alpaca.submit(buy("p-000"))
    assert exc.value.status == 403


def test_account_status_and_flags_are_read(alpaca, server):
    server.set_account(status="ACCOUNT_UPDATED", pattern_day_trader=True)
    info = alpaca.account()
    assert (info.status, info.pattern_day_trader, info.shorting_enabled, info.fractional_trading) == (
        "ACCOUNT_UPDATED", True, True, True)
    assert "ACCOUNT_UPDATED" in info.blocked_reason()
    server.set_account(status="ACTIVE", shorting_enabled=False)
    assert alpaca.account().blocked_reason() is None and not alpaca.account().shorting_enabled


def test_asset_status_tradable_fractionable_shortable(alpaca, server):
    """Alpaca, Assets: status active|inactive, tradable, fractionable, shortable."""
    vti = alpaca.asset("VTI")
    assert (vti.status, vti.tradable, vti.fractionable, vti.shortable) == ("active", True, True, True)
    server.set_asset("VEA", status="inactive", tradable=False, shortable=False)
    vea = alpaca.asset("VEA")
    assert (vea.status, vea.tradable, vea.shortable) == ("inactive", False, False) and vea.blocked_reason()
    with pytest.raises(OrderRejected, match="not active"):
        alpaca.submit(buy("p-000", symbol="VEA"))


# -- statuses the installed alpaca-py may not know ----------------------------------------------------


def test_unknown_and_rare_statuses_never_crash_after_the_order_was_placed(alpaca, server, caplog):
    """Alpaca adds statuses over time (pending_review is recent); a read must not fail once an order exists."""
    alpaca.submit(buy("p-000"))
    alpaca.submit(buy("p-001", symbol="BND", qty=D(1)))
    alpaca.submit(buy("p-002", symbol="VEA", qty=D(1)))
    server.set_status("p-000", "pending_review")
    server.set_status("p-001", "some_future_status")
    server.set_status("p-002", "held")
    assert alpaca.order("p-000").status is BrokerOrderStatus.PENDING_REVIEW
    odd = alpaca.order("p-001")
    assert odd.status is BrokerOrderStatus.OTHER and not odd.final and "some_future_status" in odd.reason
    assert "some_future_status" in caplog.text
    listed = {o.client_order_id: o.status for o in alpaca.orders(OrderQuery.ALL)}
    assert listed == {"p-000": BrokerOrderStatus.PENDING_REVIEW, "p-001": BrokerOrderStatus.OTHER,
                      "p-002": BrokerOrderStatus.HELD}
    with pytest.raises(Exception, match="some_future_status"):
        raw = raw_client(server)
        raw._use_raw_data = False
        raw.get_order_by_client_id("p-001")  # what alpaca-py's models would have done to us
    ticks = []
    states = wait_for_final(alpaca, ["p-000", "p-001", "p-002"], timeout=3, clock=lambda: len(ticks),
                            sleep=ticks.append)
    assert [s.status.value for s in states.values()] == ["pending_review", "other", "held"]


def test_fields_and_values_alpaca_py_does_not_know_are_read_without_failing(alpaca, server):
    server.extra_order_fields = {"order_class": "future_class", "position_intent": "some_new_intent",
                                 "brand_new_field": {"nested": [1, 2]}, "order_type": "trailing_stop_v2",
                                 "type": "trailing_stop_v2", "time_in_force": "gtd"}
    placed = alpaca.submit(buy("p-000"))  # the answer to the POST already carries them
    got = alpaca.order("p-000")
    assert placed.id == got.id and got.type.value == "market" and "trailing_stop_v2" in got.reason
    assert [o.client_order_id for o in alpaca.orders(OrderQuery.ALL)] == ["p-000"]
    with pytest.raises(Exception):  # noqa: B017 - what alpaca-py's own models make of the same answer
        raw = raw_client(server)
        raw._use_raw_data = False
        raw.get_order_by_client_id("p-000")


# -- the list of orders --------------------------------------------------------------------------------


def test_list_orders_status_after_until_limit_direction_symbols(alpaca, server):
    """Alpaca, Get all orders: status open|closed|all, after/until exclusive, limit ≤ 500, direction, symbols."""
    t0 = server.clock.now()
    for i, sym in enumerate(["VTI", "BND", "VTI", "VEA"]):
        server.clock.advance(10)
        alpaca.submit(buy(f"p-{i:03d}", symbol=sym, qty=D(1)))
    server.set_status("p-001", "filled")
    cids = lambda rows: [o.client_order_id for o in rows]  # noqa: E731
    assert cids(alpaca.orders(OrderQuery.OPEN)) == ["p-000", "p-002", "p-003"]
    assert cids(alpaca.orders(OrderQuery.CLOSED)) == ["p-001"]
    assert cids(alpaca.orders(OrderQuery.ALL, after=t0 + timedelta(seconds=20))) == ["p-002", "p-003"]
    assert cids(alpaca.orders(OrderQuery.ALL, symbols=["vti"])) == ["p-000", "p-002"]
    assert cids(alpaca.orders(OrderQuery.ALL, limit=2)) == ["p-002", "p-003"]  # the newest two
    assert cids(alpaca.orders(OrderQuery.ALL, after=t0, limit=2)) == ["p-000", "p-001"]
    r = requests.get(f"{server.url}/v2/orders", headers=HEADERS, timeout=5,
                     params={"status": "all", "until": (t0 + timedelta(seconds=25)).isoformat(), "direction": "asc"})
    assert [o["client_order_id"] for o in r.json()] == ["p-000", "p-001"]
    assert requests.get(f"{server.url}/v2/orders", headers=HEADERS, params={"limit": 501}, timeout=5).status_code == 422


def test_list_pages_past_500_orders(alpaca, server):
    server.reset(cash="100000000", prices={"VTI": "1"})
    t0 = server.clock.now()
    for i in range(520):
        alpaca.submit(buy(f"p-{i:03d}", qty=D(1)))
    server.requests.clear()
    rows = alpaca.orders(OrderQuery.ALL, after=t0 - timedelta(seconds=1))
    assert len(rows) == 520 and len({o.id for o in rows}) == 520 and paths(server) == ["/v2/orders"] * 2


# -- the rate limit ------------------------------------------------------------------------------------


def test_server_counts_200_per_rolling_minute_per_key_with_rate_headers(server):
    """Alpaca: 200 requests per minute per API key; X-RateLimit-Limit/Remaining/Reset on every answer."""
    answers = [requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5) for _ in range(200)]
    assert all(a.status_code == 200 for a in answers)
    assert answers[0].headers["X-RateLimit-Limit"] == "200" and answers[0].headers["X-RateLimit-Remaining"] == "199"
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    over = requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5)
    assert over.status_code == 429 and int(over.headers["X-RateLimit-Reset"]) >= server.clock.time() + 59
    other = server.add_account("PKOTHERKEY0000000002", "other-secret", cash="5000")
    assert other.cash == 5000
    assert requests.get(f"{server.url}/v2/clock", timeout=5, headers={
        "APCA-API-KEY-ID": "PKOTHERKEY0000000002", "APCA-API-SECRET-KEY": "other-secret"}).status_code == 200
    server.clock.advance(60)
    assert requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5).status_code == 200
    assert server.peak_per_minute(KEY_ID, served=True) == 200 and server.peak_per_minute(KEY_ID) == 201
    assert server.peak_per_minute() == 202


def test_brokers_with_one_key_share_one_limit(server):
    """Alpaca's limit is per key: two AlpacaBroker objects of one key share one window (retries count)."""
    kw = dict(url_override=server.url, account="brokerage", sleep=server.clock.sleep, wall=server.clock.time,
              rate_limit=5)
    a, b = AlpacaBroker(KEY_ID, SECRET, **kw), AlpacaBroker(KEY_ID, SECRET, **kw)
    assert a.limiter is b.limiter
    server.inject("GET", "/v2/clock", "500")
    for broker in (a, b, a, b, a, b):
        broker.clock()  # 6 calls, 7 requests (one retried)
    assert len(server.requests) == 7 and server.peak_per_minute(KEY_ID) <= 5
    assert a.limiter.waits and sum(server.clock.slept) >= 60
    server.add_account("PKOTHERKEY0000000002", "other-secret", cash="5000")
    c = AlpacaBroker("PKOTHERKEY0000000002", "other-secret", **kw)
    assert c.limiter is not a.limiter and c.account().cash == 5000
    d = AlpacaBroker(KEY_ID, SECRET, **{**kw, "rate_limit": 3})
    assert d.limiter is a.limiter and a.limiter.limit == 3  # the stricter budget holds for every user of the key


def test_another_user_of_the_key_exhausts_it_and_the_adapter_waits_for_the_reset(alpaca, server):
    for _ in range(200):  # another program with the same key used the minute up
        requests.get(f"{server.url}/v2/clock", headers=HEADERS, timeout=5)
    start = server.clock.time()
    assert alpaca.account().cash == 10_000  # 429 → waits until X-RateLimit-Reset → succeeds
    statuses = [r.status for r in server.requests[200:]]
    assert statuses[0] == 429 and statuses[-1] == 200 and server.clock.time() - start >= 59
    assert server.peak_per_minute(KEY_ID, served=True) <= 200


def test_rate_limiter_alone():
    t = [0.0]
    limiter = RateLimiter(limit=3, window=10)
    for _ in range(4):
        limiter.acquire(lambda: t[0], lambda s: t.__setitem__(0, t[0] + s))
    assert t[0] == 10 and list(limiter.waits) == [10]
    limiter.observe(429, {"X-RateLimit-Reset": "25", "X-RateLimit-Remaining": "0"}, now=t[0])
    limiter.acquire(lambda: t[0], lambda s: t.__setitem__(0, t[0] + s))
    assert t[0] == 25
    limiter.observe(200, {"X-RateLimit-Reset": "not a number"}, now=t[0])  # ignored


# -- wait_for_final within the limit -------------------------------------------------------------------


def test_wait_for_final_makes_one_list_request_per_poll(alpaca, server):
    orders = [buy(f"p-{i:03d}", symbol=s, qty=D(1)) for i, s in enumerate(["VTI", "BND", "VEA"] * 3)]
    placed = [alpaca.submit(o) for o in orders]
    server.requests.clear()
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 4:
            server.tick()
            server.tick()

    states = wait_for_final(alpaca, [p.client_order_id for p in placed], timeout=120,
                            since=placed[0].submitted_at, clock=lambda: sum(sleeps), sleep=sleep)
    assert all(s.status is BrokerOrderStatus.FILLED for s in states.values())
    assert paths(server) == ["/v2/orders"] * 5 and sleeps == [1.0, 1.5, 2.25, 3.375]


def test_wait_for_final_without_since_and_an_old_order_looked_up_once(alpaca, server):
    old = alpaca.submit(buy("p-old"))
    server.clock.advance(3600)
    new = alpaca.submit(buy("p-new", symbol="BND", qty=D(1)))
    server.tick()
    server.tick()
    server.requests.clear()
    states = wait_for_final(alpaca, ["p-old", "p-new"], timeout=10, since=new.submitted_at)
    assert states["p-old"].id == old.id and all(s.final for s in states.values())
    assert paths(server) == ["/v2/orders", "/v2/orders:by_client_order_id"]  # the old one: one lookup
    server.requests.clear()
    assert wait_for_final(alpaca, ["p-new"], timeout=10)["p-new"].final  # no since: the newest 500
    assert paths(server) == ["/v2/orders"] and server.requests[0].query["direction"] == "desc"
    with pytest.raises(BrokerError, match="unknown to the broker") as exc:
        wait_for_final(alpaca, ["p-new", "never-sent"], timeout=10)
    assert exc.value.status == 404


def test_wait_for_final_backs_off_to_max_poll_until_the_timeout(alpaca, server):
    placed = alpaca.submit(buy("p-000"))
    server.close_market()
    server.set_status("p-000", "accepted")  # queued until the next open
    t = [0.0]
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        t[0] += seconds

    states = wait_for_final(alpaca, ["p-000"], timeout=60, since=placed.submitted_at, clock=lambda: t[0], sleep=sleep)
    assert not states["p-000"].final and t[0] == 60 and max(sleeps) == 10 and len(sleeps) <= 11
    assert len(paths(server, "GET")) == len(sleeps) + 1


# -- the endpoint and the keys ------------------------------------------------------------------------


def test_apca_api_base_url_overrides_the_endpoint_on_every_path(server, monkeypatch, tmp_path):
    monkeypatch.setenv("APCA_API_BASE_URL", server.url + "/v2/")
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    keys = tmp_path / "alpaca.env"
    keys.write_text(f"APCA_API_KEY_ID={KEY_ID}\nAPCA_API_SECRET_KEY={SECRET}\n")
    for broker in (AlpacaBroker(KEY_ID, SECRET), AlpacaBroker(), AlpacaBroker.from_settings(),
                   AlpacaBroker.from_key_file(keys), AlpacaBroker.from_env_or_file(None, account="brokerage"),
                   AlpacaBroker.from_env_or_file(keys, account="brokerage")):
        assert broker.url == server.url and broker.account().cash == 10_000
    monkeypatch.setenv("APCA_API_BASE_URL", "https://api.alpaca.markets")
    with pytest.raises(ConfigError, match="live API but the broker is in paper mode"):
        AlpacaBroker(KEY_ID, SECRET)
    assert AlpacaBroker(KEY_ID, SECRET, url_override=server.url).url == server.url  # an explicit URL wins


def test_from_env_or_file_takes_per_account_keys(server, monkeypatch, tmp_path):
    other_key, other_secret = "PKIRAKEY000000000003", "ira-secret-do-not-leak"
    server.add_account(other_key, other_secret, cash="7000")
    monkeypatch.setenv("APCA_API_BASE_URL", server.url)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_IRA_API_KEY_ID", other_key)
    monkeypatch.setenv("APCA_IRA_API_SECRET_KEY", other_secret)
    main = AlpacaBroker.from_env_or_file(None, account="brokerage")
    ira = AlpacaBroker.from_env_or_file(None, account="roth", prefix="APCA_IRA")
    assert (main.account().cash, ira.account().cash, ira.account_id) == (10_000, 7_000, "roth")
    ira.submit(Order("r-000", "roth", "VTI", "buy", qty=D(1)))
    assert server.account_state(other_key).orders[0].client_order_id == "r-000" and server.state.orders == []
    keys = tmp_path / "ira.env"
    keys.write_text(f"export APCA_IRA_API_KEY_ID={other_key}\nAPCA_IRA_API_SECRET_KEY='{other_secret}'\n")
    assert AlpacaBroker.from_env_or_file(keys, account="roth", prefix="APCA_IRA").account().cash == 7_000
    with pytest.raises(ConfigError, match="lacks APCA_API_KEY_ID, APCA_API_SECRET_KEY"):
        AlpacaBroker.from_key_file(keys)  # no prefix: wants the plain names
    monkeypatch.delenv("APCA_IRA_API_SECRET_KEY")
    with pytest.raises(ConfigError, match="APCA_IRA_API_SECRET_KEY not set") as exc:
        AlpacaBroker.from_env_or_file(None, account="roth", prefix="APCA_IRA")
    assert other_key not in str(exc.value)
    with pytest.raises(ConfigError, match="prefix"):
        AlpacaBroker.from_env_or_file(None, account="roth", prefix="apca ira!")


def test_keys_never_leak_through_the_new_paths(server, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secret_key, secret = "PKIRAKEY000000000003", "ira-secret-do-not-leak"
    server.add_account(secret_key, secret, cash="7000")
    monkeypatch.setenv("APCA_IRA_API_KEY_ID", secret_key)
    monkeypatch.setenv("APCA_IRA_API_SECRET_KEY", secret)
    broker = AlpacaBroker.from_env_or_file(None, account="roth", prefix="APCA_IRA", url_override=server.url,
                                           sleep=server.clock.sleep, wall=server.clock.time, rate_limit=2)
    texts = [repr(broker), str(broker), repr(broker.limiter), repr(vars(broker.limiter))]
    for _ in range(3):
        broker.clock()  # the limiter waits and logs
    for call in (lambda: broker.submit(Order("r-0", "roth", "BRK", "buy", qty=D("0.5"))),
                 lambda: broker.submit(Order("r-1", "roth", "VTI", "buy", qty=D(10_000))),
                 lambda: broker.asset("NOPE")):
        with pytest.raises(BrokerError) as exc:
            call()
        texts += [str(exc.value), repr(exc.value), "".join(traceback.format_exception(exc.value))]
    out = capsys.readouterr()
    texts += [out.out, out.err, caplog.text]
    assert "rate limit" in caplog.text
    for text in texts:
        assert secret_key not in text and secret not in text and KEY_ID not in text


def test_a_real_time_server_for_runs_that_sleep_for_real():
    """For a CLI journey: the server on the wall clock moves orders every ``fill_every`` real seconds."""
    from tests.brokers._alpaca_server import LocalAlpaca, WallClock

    server = LocalAlpaca(clock=WallClock())
    try:
        server.fresh_paper_account(cash="5000", prices={"VTI": "250"})
        server.fill_every = 0.1
        broker = AlpacaBroker(KEY_ID, SECRET, url_override=server.url, account="brokerage")
        placed = broker.submit(buy("p-000", qty=D(3)))
        states = wait_for_final(broker, ["p-000"], timeout=20, since=placed.submitted_at)
        assert states["p-000"].status is BrokerOrderStatus.FILLED and broker.positions()[0].qty == 3
        assert server.peak_per_minute(KEY_ID) < 10
    finally:
        server.close()
