"""Validators for command-line values, used as argparse ``type=`` in every command: checked before any work.

    p.add_argument("--amount", type=_args.usd("--amount"))
    p.add_argument("--as-of", type=_args.trading_day("--as-of"))

Each factory takes the option's name and returns a converter that raises ``ConfigError`` naming the option, the
value and the fix. argparse lets that error through (it only catches ``ValueError``/``TypeError``), so ``robo``
reports it like any input error (exit 2, no traceback) before a file is read or a database is opened.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from engine.errors import CalendarError, ConfigError

__all__ = [
    "MAX_USD",
    "choice",
    "decimal",
    "host",
    "household_ref",
    "identifier",
    "input_file",
    "instant",
    "int_range",
    "iso_date",
    "key_value",
    "output_dir",
    "output_file",
    "probability",
    "real_range",
    "runner_spec",
    "stored_household",
    "strategy_list",
    "ticker",
    "trading_day",
    "usd",
]

T = TypeVar("T")

#: The largest USD amount a command accepts ($1 billion): larger ones are a typo, not a household's request.
MAX_USD = Decimal(1_000_000_000)
#: Dates before this are typos (1088 for 1988); the embedded prices start in 2003.
EARLIEST = date(1900, 1, 1)
LATEST = date(2100, 12, 31)

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_TICKER = re.compile(r"^[A-Za-z][A-Za-z0-9.\-]{0,9}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def _named(func: Callable[[str], T], name: str) -> Callable[[str], T]:
    func.__name__ = name  # argparse shows a converter's name in its own messages
    return func


def usd(option: str, *, allow_zero: bool = False) -> Callable[[str], Decimal]:
    """A USD amount: exact ``Decimal`` from the text, finite, positive (or zero), at most cents, at most $1 billion."""

    def convert(text: str) -> Decimal:
        raw = text.strip().replace(",", "").removeprefix("$")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ConfigError("not an amount of USD", field=option, value=text,
                              fix="write a number such as 2500 or 2500.50") from None
        if not value.is_finite():
            raise ConfigError("not a finite amount", field=option, value=text, fix="write a number such as 2500")
        if value < 0 or (value == 0 and not allow_zero):
            raise ConfigError("the amount must be positive", field=option, value=text, fix="write a positive number")
        if value > MAX_USD:
            raise ConfigError(
                f"the amount is above {MAX_USD:,} USD — a typo (an extra digit, cents instead of dollars)?",
                field=option, value=text, fix="write the amount in dollars, e.g. 2500",
            )
        if value != value.quantize(Decimal("0.01")):
            raise ConfigError("an amount has at most 2 decimals (cents)", field=option, value=text,
                              fix="round it to cents, e.g. 2500.25")
        return value

    return _named(convert, "usd")


def decimal(
    option: str, *, hi: Decimal, places: int, allow_zero: bool = False, unit: str = ""
) -> Callable[[str], Decimal]:
    """An exact decimal (shares, a price per share): finite, positive (or zero), at most ``places`` decimals and
    at most ``hi`` — NaN, infinities and absurd sizes are refused before any work."""

    def convert(text: str) -> Decimal:
        raw = text.strip().replace(",", "").removeprefix("$")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ConfigError(f"not a number{unit}", field=option, value=text, fix="write a number such as 12.5") \
                from None
        if not value.is_finite():
            raise ConfigError("not a finite number", field=option, value=text, fix="write a number such as 12.5")
        if value < 0 or (value == 0 and not allow_zero):
            raise ConfigError("must be positive" if not allow_zero else "must not be negative", field=option,
                              value=text, fix="write a positive number")
        if value > hi:
            raise ConfigError(f"above {hi:,}{unit} — a typo?", field=option, value=text, fix=f"use at most {hi:,}")
        if value != value.quantize(Decimal(1).scaleb(-places)):
            raise ConfigError(f"more than {places} decimals", field=option, value=text,
                              fix=f"round it to {places} decimals")
        return value

    return _named(convert, "number")


def iso_date(option: str) -> Callable[[str], date]:
    """A calendar date ``YYYY-MM-DD`` between 1900 and 2100."""

    def convert(text: str) -> date:
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError("not a date", field=option, value=text,
                              fix="write the date as YYYY-MM-DD, e.g. 2026-03-02") from None
        if not EARLIEST <= day <= LATEST:
            raise ConfigError(f"the date is outside {EARLIEST.year}–{LATEST.year}", field=option, value=text,
                              fix="check the year")
        return day

    return _named(convert, "date")


def trading_day(option: str) -> Callable[[str], date]:
    """A NYSE trading day; a weekend or holiday is refused with the nearest trading days before and after."""
    as_date = iso_date(option)

    def convert(text: str) -> date:
        from engine.data.calendar import is_trading_day, next_trading_day, previous_trading_day

        day = as_date(text)
        try:
            if is_trading_day(day):
                return day
            before, after = previous_trading_day(day), next_trading_day(day)
        except CalendarError as exc:
            raise ConfigError(str(exc), field=option, value=text, fix="use a date inside the calendar") from None
        raise ConfigError(
            f"{day} ({day:%A}) is not an NYSE trading day (a weekend or an exchange holiday)",
            field=option, value=text, fix=f"use the trading day before ({before}) or after ({after})",
        )

    return _named(convert, "trading day")


def instant(option: str) -> Callable[[str], datetime]:
    """An aware instant in ISO 8601 with a zone (``2026-08-04T16:05-04:00``); a naive time is ambiguous."""

    def convert(text: str) -> datetime:
        try:
            at = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ConfigError("not an ISO 8601 instant", field=option, value=text,
                              fix="e.g. 2026-08-04T16:05-04:00") from None
        if at.tzinfo is None or at.utcoffset() is None:
            raise ConfigError("the instant has no time zone", field=option, value=text,
                              fix="add one, e.g. -04:00 or Z")
        if not EARLIEST.year <= at.year <= LATEST.year:
            raise ConfigError(f"outside {EARLIEST.year}–{LATEST.year}", field=option, value=text, fix="check the year")
        return at

    return _named(convert, "instant")


def host(option: str) -> Callable[[str], str]:
    """A host name or IP address to listen on (no scheme, port or spaces)."""
    pattern = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,253}$")

    def convert(text: str) -> str:
        if not pattern.match(text) or "://" in text:
            raise ConfigError("not a host name or IP address", field=option, value=text[:80],
                              fix="e.g. 127.0.0.1, 0.0.0.0 or localhost (the port goes in --port)")
        return text

    return _named(convert, "host")


def int_range(option: str, lo: int, hi: int) -> Callable[[str], int]:
    """An integer with lo ≤ n ≤ hi (absurd sizes — a million workers, 10**9 paths — are refused before any work)."""

    def convert(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise ConfigError("not a whole number", field=option, value=text, fix=f"write a number from {lo} to {hi}") \
                from None
        if not lo <= value <= hi:
            raise ConfigError(f"out of range {lo}..{hi}", field=option, value=text, fix=f"use {lo} to {hi:,}")
        return value

    return _named(convert, "int")


def real_range(option: str, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False,
               unit: str = "") -> Callable[[str], float]:
    """A finite real number within [lo, hi] (``lo_open``/``hi_open`` exclude the ends); NaN and ±inf refused."""

    def convert(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise ConfigError("not a number", field=option, value=text, fix=f"write a number from {lo:g} to {hi:g}") \
                from None
        if not math.isfinite(value):
            raise ConfigError("not a finite number", field=option, value=text, fix=f"write a number from {lo:g} "
                              f"to {hi:g}")
        low_bad = value <= lo if lo_open else value < lo
        high_bad = value >= hi if hi_open else value > hi
        if low_bad or high_bad:
            span = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
            raise ConfigError(f"out of range {span}{unit}", field=option, value=text, fix=f"use a value in {span}")
        return value

    return _named(convert, "number")


def probability(option: str) -> Callable[[str], float]:
    """A probability strictly between 0 and 1 (0.8, not 80)."""
    return real_range(option, 0.0, 1.0, lo_open=True, hi_open=True, unit=" (a fraction: 0.8 means 80 %)")


def identifier(option: str, what: str = "id") -> Callable[[str], str]:
    """An id of a stored record: letters, digits and ``_ . : -``, at most 128 characters."""

    def convert(text: str) -> str:
        if not _ID.match(text):
            raise ConfigError(f"not a valid {what}", field=option, value=text[:80],
                              fix="ids use letters, digits and _ . : - (copy it from the listing)")
        return text

    return _named(convert, what)


def stored_household(option: str) -> Callable[[str], str]:
    """The id of a household in the store (opened read-only): an unknown id is ``NotFound``, not an empty table."""
    as_id = identifier(option, "household id")

    def convert(text: str) -> str:
        from engine.store import Store

        with Store.from_settings(create=False) as store:
            store.households.get(as_id(text))  # NotFound names the id and how to import one
        return text

    return _named(convert, "household id")


def household_ref(option: str) -> Callable[[str], str]:
    """``sample``, a YAML file that exists, or a household id (resolved later against the store)."""

    def convert(text: str) -> str:
        if text == "sample":
            return text
        path = Path(text).expanduser()
        if path.suffix.lower() in (".yaml", ".yml") or "/" in text or "\\" in text:
            if path.is_dir():
                raise ConfigError("is a folder, not a household YAML file", field=option, value=text,
                                  fix="name the YAML file itself")
            if not path.is_file():
                raise ConfigError("no such household file", field=option, value=text,
                                  fix="check the path, or pass 'sample' or the id of a stored household")
            return text
        if path.is_file():
            return text
        if not _NAME.match(text):
            raise ConfigError("neither a household file nor a household id", field=option, value=text[:80],
                              fix="pass a YAML path, 'sample', or a stored id (letters, digits, _ . -)")
        return text

    return _named(convert, "household")


def input_file(option: str, *, suffixes: tuple[str, ...] = ()) -> Callable[[str], Path]:
    """A file that exists and is readable (and, with ``suffixes``, has one of those endings)."""

    def convert(text: str) -> Path:
        path = Path(text).expanduser()
        if "\x00" in text or not text.strip():
            raise ConfigError("not a file path", field=option, value=text, fix="give the path of a file")
        if path.is_dir():
            raise ConfigError("is a folder, not a file", field=option, value=text, fix="name the file itself")
        if not path.is_file():
            raise ConfigError("no such file", field=option, value=text, fix="check the path")
        if suffixes and path.suffix.lower() not in suffixes:
            raise ConfigError(f"expected a {' or '.join(suffixes)} file", field=option, value=text,
                              fix=f"give a file ending in {' or '.join(suffixes)}")
        return path

    return _named(convert, "file")


def output_file(option: str, *, suffixes: tuple[str, ...] = ()) -> Callable[[str], Path]:
    """A path a command may write: not a folder, no part of its folder a file (checked before any work)."""

    def convert(text: str) -> Path:
        path = Path(text).expanduser()
        if "\x00" in text or not text.strip():
            raise ConfigError("not a file path", field=option, value=text, fix="give the path of a file to write")
        if path.is_dir():
            raise ConfigError("is a folder; a file is written here", field=option, value=text,
                              fix="name the file, e.g. folder/report.html")
        for parent in path.parents:
            if parent.exists() and not parent.is_dir():
                raise ConfigError(f"{parent} is a file, so nothing can be written below it", field=option,
                                  value=text, fix="choose another folder")
        if suffixes and path.suffix.lower() not in suffixes:
            raise ConfigError(f"expected a {' or '.join(suffixes)} file name", field=option, value=text,
                              fix=f"end the name in {suffixes[0]}")
        return path

    return _named(convert, "output file")


def output_dir(option: str) -> Callable[[str], Path]:
    """A folder a command may create or fill: not an existing file, no part of it a file."""

    def convert(text: str) -> Path:
        path = Path(text).expanduser()
        if "\x00" in text or not text.strip():
            raise ConfigError("not a folder path", field=option, value=text, fix="give the path of a folder")
        for p in (path, *path.parents):
            if p.exists() and not p.is_dir():
                raise ConfigError(f"{p} is a file, but a folder is needed", field=option, value=text,
                                  fix="choose another folder")
        return path

    return _named(convert, "folder")


def ticker(option: str) -> Callable[[str], str]:
    """A ticker symbol (letters first, then letters, digits, ``.`` or ``-``; at most 10), upper-cased."""

    def convert(text: str) -> str:
        if not _TICKER.match(text.strip()):
            raise ConfigError("not a ticker symbol", field=option, value=text[:80],
                              fix="write a symbol such as VTI or BRK.B")
        return text.strip().upper()

    return _named(convert, "ticker")


def key_value(option: str) -> Callable[[str], str]:
    """``KEY=VALUE`` with a non-empty key."""

    def convert(text: str) -> str:
        key, sep, _ = text.partition("=")
        if not sep or not key.strip():
            raise ConfigError("expected KEY=VALUE", field=option, value=text, fix="e.g. state=TX")
        return text

    return _named(convert, "KEY=VALUE")


def choice(option: str, values: list[str]) -> Callable[[str], str]:
    """One of ``values`` (case and ``-``/``_`` forgiven); the error lists them."""

    def convert(text: str) -> str:
        norm = text.strip().lower().replace("-", "_")
        if norm not in values:
            raise ConfigError("not a known value", field=option, value=text, fix=f"use one of: {', '.join(values)}")
        return norm

    return _named(convert, "choice")


def strategy_list(option: str) -> Callable[[str], str]:
    """Comma-separated strategy names (each non-empty; letters, digits, ``_ . -``)."""

    def convert(text: str) -> str:
        names = [n.strip() for n in text.split(",")]
        bad = [n for n in names if not _NAME.match(n)]
        if bad:
            raise ConfigError("not a list of strategy names", field=option, value=text,
                              fix="write names separated by commas, e.g. adaptive,static_60_40")
        return ",".join(names)

    return _named(convert, "strategies")


def runner_spec(option: str) -> Callable[[str], str]:
    """``module:callable`` (dotted module path, a name after the colon)."""
    pattern = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

    def convert(text: str) -> str:
        if not pattern.match(text):
            raise ConfigError("not a module:callable", field=option, value=text, fix="e.g. mypkg.jobs:make_runner")
        return text

    return _named(convert, "module:callable")


def households_arg(option: str) -> Callable[[str], str]:
    """``all``, ``synthetic:N`` (1 ≤ N ≤ 1,000,000), or a YAML file or folder that exists."""

    def convert(text: str) -> str:
        if text == "all":
            return text
        if text.startswith("synthetic:"):
            count = text.split(":", 1)[1]
            if not count.isdigit() or not 1 <= int(count) <= 1_000_000:
                raise ConfigError("synthetic needs a count from 1 to 1,000,000", field=option, value=text,
                                  fix="e.g. synthetic:500")
            return text
        if not Path(text).expanduser().exists():
            raise ConfigError("no such household file or folder", field=option, value=text,
                              fix="pass 'all', a YAML path, a folder of YAML files, or synthetic:N")
        return text

    return _named(convert, "households")
