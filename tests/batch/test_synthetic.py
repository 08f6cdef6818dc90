"""Synthetic households: reproducible, realistic spreads, real gains and losses."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from engine.batch.synthetic import synthetic
from engine.model import AccountType

AS_OF = date(2026, 7, 31)


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "engine/data/embedded/etfs_adj_close.csv.gz"
    return pd.read_csv(path, index_col=0, parse_dates=True)


def test_reproducible_and_seed_dependent(prices):
    a = synthetic(20, seed=3, as_of=AS_OF, prices=prices)
    assert a == synthetic(20, seed=3, as_of=AS_OF, prices=prices)
    assert a != synthetic(20, seed=4, as_of=AS_OF, prices=prices)
    assert len({h.id for h in a}) == 20


def test_realistic_spreads(prices):
    hs = synthetic(300, seed=1, as_of=AS_OF, prices=prices)
    kinds = Counter(a.type for h in hs for a in h.accounts)
    assert kinds[AccountType.TAXABLE] == 300 and 200 < kinds[AccountType.TRADITIONAL] < 300
    lots = [len(h.lots) for h in hs]
    assert 85 < sum(lots) / len(lots) < 115
    assert 0.2 < sum(1 for h in hs if h.values.exclude_tags) / 300 < 0.45
    last = prices.loc[: pd.Timestamp(AS_OF)].ffill().iloc[-1]
    gains = losses = long_term = 0
    for h in hs[:50]:
        for lot in h.lots:
            value = lot.shares * Decimal(str(last[lot.symbol]))
            gains += value > lot.basis
            losses += value < lot.basis
            long_term += (AS_OF - lot.acquired).days > 365
    assert gains > 0 and losses > 0 and long_term > 0
    assert all(lot.acquired <= AS_OF for h in hs for lot in h.lots)
