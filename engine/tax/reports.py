"""Reports: Form 8949-style rows of a year's realizations (code W for wash sales) and unrealized gains by lot.

    print(form_8949_csv(ledger, 2026))
    frame = unrealized_frame(ledger, prices, date(2026, 12, 31))

Amounts stay ``Decimal`` USD (cents) in rows, frames (object columns) and CSV text — never floats.
Form 8949 part I holds short-term, part II long-term sales; column (g) holds the disallowed loss as a
positive adjustment with code W, so (h) = (d) − (e) + (g).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from engine.model import to_decimal
from engine.tax.ledger import CENT, Amount, LotLedger, Realization, Term, fmt_shares, holding_term, long_term_from

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Form8949Row",
    "UnrealizedLot",
    "form_8949",
    "form_8949_csv",
    "form_8949_rows",
    "unrealized",
    "unrealized_frame",
]


@dataclass(frozen=True, slots=True)
class Form8949Row:
    """One line of Form 8949 (USD): (a) description, (b) acquired, (c) sold, (d) proceeds, (e) basis,
    (f) code, (g) adjustment, (h) gain or loss; plus the part, account and lot for the audit trail."""

    part: str
    description: str
    acquired: date
    sold: date
    proceeds: Decimal
    basis: Decimal
    code: str
    adjustment: Decimal
    gain: Decimal
    account: str
    lot_id: str


def form_8949_rows(source: LotLedger | Iterable[Realization], year: int | None = None) -> list[Form8949Row]:
    """Form 8949 rows of reportable realizations (of ``year`` if given): part I then part II, by sale date."""
    reals = source.realized(year) if isinstance(source, LotLedger) else [
        r for r in source if r.reportable and (year is None or r.sold.year == year)
    ]
    rows = [
        Form8949Row(
            part="I" if r.term is Term.SHORT else "II",
            description=f"{fmt_shares(r.shares)} sh {r.symbol}",
            acquired=r.acquired,
            sold=r.sold,
            proceeds=r.proceeds,
            basis=r.basis,
            code="W" if r.disallowed > 0 else "",
            adjustment=r.disallowed,
            gain=r.gain,
            account=r.account,
            lot_id=r.lot_id,
        )
        for r in reals
    ]
    return sorted(rows, key=lambda x: (x.part, x.sold, x.account, x.lot_id))


_COLUMNS = [
    "part", "description", "acquired", "sold", "proceeds", "basis", "code", "adjustment", "gain", "account", "lot_id",
]


def form_8949(source: LotLedger | Iterable[Realization], year: int | None = None) -> pd.DataFrame:
    """Form 8949 rows as a pandas DataFrame (money columns hold exact ``Decimal``s)."""
    import pandas as pd

    return pd.DataFrame([asdict(r) for r in form_8949_rows(source, year)], columns=_COLUMNS)


def form_8949_csv(
    source: LotLedger | Iterable[Realization], year: int | None = None, path: str | Path | None = None
) -> str:
    """Form 8949 rows as CSV text (amounts to the cent) with per-part totals; written to ``path`` if given."""
    rows = form_8949_rows(source, year)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_COLUMNS)
    for part in ("I", "II"):
        part_rows = [r for r in rows if r.part == part]
        for r in part_rows:
            w.writerow([
                r.part, r.description, r.acquired.isoformat(), r.sold.isoformat(), f"{r.proceeds:.2f}",
                f"{r.basis:.2f}", r.code, f"{r.adjustment:.2f}" if r.adjustment else "", f"{r.gain:.2f}",
                r.account, r.lot_id,
            ])
        if part_rows:
            keys = ("proceeds", "basis", "adjustment", "gain")
            tot = [sum((getattr(r, k) for r in part_rows), Decimal(0)) for k in keys]
            w.writerow([part, "TOTAL", "", "", f"{tot[0]:.2f}", f"{tot[1]:.2f}", "", f"{tot[2]:.2f}",
                        f"{tot[3]:.2f}", "", ""])
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


@dataclass(frozen=True, slots=True)
class UnrealizedLot:
    """An open lot marked at ``price`` USD/share on ``on``: value, basis and gain in USD.

    ``long_term_on`` is the first day a sale would be long-term (``None`` if it already is).
    """

    account: str
    lot_id: str
    symbol: str
    shares: Decimal
    acquired: date
    purchased: date
    price: Decimal
    value: Decimal
    basis: Decimal
    gain: Decimal
    term: Term
    long_term_on: date | None


def unrealized(
    ledger: LotLedger, prices: Mapping[str, Amount], on: date, account: str | None = None
) -> list[UnrealizedLot]:
    """Every open lot (with a price, bought by ``on``) marked to ``prices`` on ``on``; gains in USD, cents."""
    out: list[UnrealizedLot] = []
    for lot in ledger.open_lots(account):
        if lot.symbol not in prices or (lot.purchased or lot.acquired) > on:
            continue
        px = to_decimal(prices[lot.symbol], f"prices[{lot.symbol}]")
        value = (lot.shares * px).quantize(CENT)
        term = holding_term(lot.acquired, on)
        out.append(
            UnrealizedLot(
                account=lot.account, lot_id=lot.id, symbol=lot.symbol, shares=lot.shares, acquired=lot.acquired,
                purchased=lot.purchased or lot.acquired, price=px, value=value, basis=lot.basis,
                gain=value - lot.basis, term=term,
                long_term_on=None if term is Term.LONG else long_term_from(lot.acquired),
            )
        )
    return out


def unrealized_frame(
    ledger: LotLedger, prices: Mapping[str, Amount], on: date, account: str | None = None
) -> pd.DataFrame:
    """``unrealized`` as a pandas DataFrame (one row per lot; Decimal money columns)."""
    import pandas as pd

    rows = [asdict(x) for x in unrealized(ledger, prices, on, account)]
    return pd.DataFrame(rows, columns=[f for f in UnrealizedLot.__dataclass_fields__])
