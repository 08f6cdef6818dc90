"""Shared terminal output for the CLI: one rich console, tables from rows, logging setup."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)


_ID_COLUMNS = ("proposal", "order", "client order id", "id", "ref", "run")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], **kw: Any) -> Table:
    """A rich table; numeric-looking columns are right aligned. Nothing is ever cut off with "…": ids (proposal,
    order, run) keep their full width so they can be copied into the next command, other cells wrap."""
    t = Table(title=title, title_justify="left", **kw)
    rows = [list(r) for r in rows]
    for i, col in enumerate(columns):
        numeric = bool(rows) and all(isinstance(r[i], int | float) or _looks_numeric(r[i]) for r in rows)
        is_id = col.lower() in _ID_COLUMNS
        widest = max((len(str(r[i])) for r in rows), default=0)
        t.add_column(col, justify="right" if numeric else "left", overflow="fold", no_wrap=is_id,
                     min_width=widest if is_id else None)
    for r in rows:
        t.add_row(*(str(x) for x in r))
    return t


def _looks_numeric(x: Any) -> bool:
    s = str(x).replace(",", "").replace("%", "").replace("$", "").replace("+", "").strip()
    try:
        float(s)
    except ValueError:
        return False
    return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("household", "job", "run_id", "proposal", "client_order_id"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def setup_logging(verbosity: int = 0, *, json_lines: bool = False) -> None:
    """Log to stderr at WARNING (−v INFO, −vv DEBUG); JSON lines when asked."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
