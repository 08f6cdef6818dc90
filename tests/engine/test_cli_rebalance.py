"""The rebalancing commands end to end: import, rebalance (needs approval), approve, execute, orders, reject."""

from __future__ import annotations

import pytest

from robo.cli import main


@pytest.fixture()
def store_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'robo.db'}"
    monkeypatch.setenv("ROBO_DATABASE_URL", url)
    return url


def _proposals(url):
    from engine.store import Store

    return Store(url).proposals.list(household="rivera")


def test_rebalance_approve_execute_orders(store_url, capsys):
    assert main(["household", "import", "sample"]) == 0
    assert main(["rebalance", "rivera", "--execute"]) == 4  # ExitCode.NEEDS_APPROVAL
    out = capsys.readouterr().out
    assert "Needs approval" in out and "Not executed: approval needed" in out
    (proposal,) = _proposals(store_url)
    assert proposal.status.value == "proposed"
    assert main(["approve", proposal.id]) == 0
    assert main(["execute", proposal.id, "--broker", "sim"]) == 0
    out = capsys.readouterr().out
    assert "ledger and broker positions agree" in out
    assert _proposals(store_url)[0].status.value == "executed"
    # The household in the store now holds what the ledger holds after the trades.
    from engine.store import Store

    store = Store(store_url)
    after = store.households.get("rivera")
    from engine.config import load_household

    before = load_household()
    away = {a.id for a in before.accounts if a.broker_account == "away"}
    assert away == {"alex_401k", "jordan_ira", "alex_roth"}  # Alpaca holds no retirement accounts: advice
    # held-away accounts are unchanged until a person confirms the advised trades; the brokerage account traded
    assert sorted((x.id, x.shares) for x in after.lots if x.account in away) == sorted(
        (x.id, x.shares) for x in before.lots if x.account in away)
    assert {x.symbol for x in after.lots if x.account == "brokerage"} != {
        x.symbol for x in before.lots if x.account == "brokerage"}
    statuses = {(r.order.account in away, r.status.value) for r in store.orders.for_proposal(proposal.id)}
    assert statuses == {(True, "advised"), (False, "filled")}
    assert main(["orders", "rivera"]) == 0
    out = capsys.readouterr().out
    assert "filled" in out and "advised" in out
    # Executing it again is refused: the proposal is final.
    assert main(["execute", proposal.id, "--broker", "sim"]) == 2
    assert "Conflict" in capsys.readouterr().out


def test_reject_and_liquidation_dry_run(store_url, capsys):
    assert main(["household", "import", "sample"]) == 0
    assert main(["rebalance", "rivera", "--kind", "partial_liquidation", "--amount", "20000"]) == 0
    out = capsys.readouterr().out
    assert "least tax" in out and "sell" in out
    (proposal,) = _proposals(store_url)
    assert main(["reject", proposal.id, "--reason", "client changed their mind"]) == 0
    assert _proposals(store_url)[0].status.value == "rejected"
    assert main(["execute", proposal.id]) == 2


def test_alpaca_needs_keys_and_live_needs_confirmation(store_url, capsys, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    assert main(["household", "import", "sample"]) == 0
    assert main(["sync", "rivera", "--broker", "alpaca", "--account", "brokerage"]) == 2
    assert "APCA_API_KEY_ID" in capsys.readouterr().out
    assert main(["sync", "rivera", "--broker", "alpaca", "--live"]) == 2
    assert "i-understand-live-trading" in capsys.readouterr().out
