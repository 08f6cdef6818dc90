"""Fuzzing the edges with hypothesis: whatever the bytes, the loaders raise only the engine's typed errors.

Three kinds of input: arbitrary text (mostly not YAML at all), YAML-shaped documents built from keys and values
a person might write, and the sample household with one value replaced by an arbitrary scalar. The CSV reader
gets arbitrary text and CSV-shaped grids. Any exception other than ``EngineError`` is a bug (a traceback for
the user). Accepted money must be the exact Decimal of its text.
"""

from __future__ import annotations

import string
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.config import household_from_dict, load_universe
from engine.config.exact import exact_decimal
from engine.config.loader import universe_from_dict
from engine.config.strict_yaml import strict_load
from engine.errors import EngineError
from tests.badinputs.cases import SAMPLE

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

_scalar_text = st.one_of(
    st.text(alphabet=string.printable, max_size=30),
    st.sampled_from([".nan", ".inf", "-.inf", "1e400", "0x1F", "0o17", "1:30", "~", "null", "yes", "no", "on",
                     "2021-02-30", "2021-13-01", "2026-03-07 25:00:00", "&a", "*a", "!!binary aGk=", "[", "{",
                     "'", '"', "|", ">", "- -", "? x", "25.0000000000000000000001", "1_000.5", "-0", "+.5"]),
)


@st.composite
def yaml_documents(draw: st.DrawFn) -> str:
    """Indented key: value lines, lists and flow collections with hostile scalars."""
    keys = ["id", "name", "members", "accounts", "lots", "cash", "shares", "basis", "on", "kind", "<<", "a", "a"]
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        indent = "  " * draw(st.integers(0, 3))
        key = draw(st.sampled_from(keys))
        value = draw(_scalar_text)
        form = draw(st.sampled_from(["{k}: {v}", "- {k}: {v}", "{k}: [{v}, {v}]", "{k}: {{x: {v}}}", "- {v}"]))
        lines.append(indent + form.format(k=key, v=value))
    return "\n".join(lines) + "\n"


_universe = None


def _u():
    global _universe
    if _universe is None:
        _universe = load_universe()
    return _universe


def _household_loaders(text: str) -> None:
    data = strict_load(text, file="fuzz.yaml")
    household_from_dict(data, file="fuzz.yaml", universe=_u())


@FUZZ
@given(st.text(max_size=400))
def test_arbitrary_text_gives_only_typed_errors(text: str) -> None:
    try:
        _household_loaders(text)
    except EngineError:
        pass


@FUZZ
@given(yaml_documents())
def test_yaml_shaped_documents_give_only_typed_errors(text: str) -> None:
    for loader in (_household_loaders, lambda t: universe_from_dict(strict_load(t, file="u.yaml"), file="u.yaml")):
        try:
            loader(text)
        except EngineError:
            pass


_FIELDS = [
    "id: rivera", "income: 145000", "retirement_age: 65", "cash: 12500", "shares: 180", "basis: 26100.00",
    "acquired: 2019-03-15", "target: 54000", "target_date: 2040-06-01", "willingness: 7", "state_rate: 0.093",
    "monthly_savings: 3500", "emergency_months: 6", "tilt: 0.3", "type: taxable", "kind: home", "owner: alex",
    "birth_date: 1988-04-12", "priority: 2", "min_esg_score: 5.5",
]


@FUZZ
@given(st.sampled_from(_FIELDS), _scalar_text)
def test_sample_with_one_hostile_value(field: str, value: str) -> None:
    key = field.split(":")[0]
    assert field in SAMPLE
    text = SAMPLE.replace(field, f"{key}: {value}", 1)
    try:
        _household_loaders(text)
    except EngineError:
        return


@FUZZ
@given(st.one_of(st.integers(-10**25, 10**25), st.decimals(allow_nan=True, allow_infinity=True, places=None),
                 st.text(alphabet="0123456789.-+eE_ ", max_size=40)))
def test_money_is_exact_or_refused(value: object) -> None:
    text = str(value)
    try:
        parsed = exact_decimal(text)
    except ValueError:
        return
    assert parsed == Decimal(text.strip().replace("_", ""))
    assert parsed.is_finite()
    assert -parsed.as_tuple().exponent <= 18 or parsed == parsed.quantize(Decimal("1e-18"))


@FUZZ
@given(st.integers(0, 10**19), st.integers(0, 30), st.integers(0, 10**30))
def test_yaml_float_text_reaches_the_model_exactly(whole: int, places: int, frac: int) -> None:
    text = f"{whole}.{str(frac).zfill(places)[:places] or '0'}"
    assert "cash: 12500," in SAMPLE
    data = strict_load(SAMPLE.replace("cash: 12500,", f"cash: {text},", 1), file="h.yaml")
    try:
        h = household_from_dict(data, file="h.yaml")
    except EngineError as exc:
        assert "decimals" in str(exc) or "integer digits" in str(exc)
        with localcontext(prec=100):
            assert Decimal(text) != Decimal(text).quantize(Decimal("1e-18")) or Decimal(text) >= Decimal(10) ** 20
        return
    assert h.account("brokerage").cash == Decimal(text)  # the text itself, never its float


_csv_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "2024-01-02", "1e400", "-1", "0", "NaN", '"', ",", "\t", "Date", "VTI"]),
    st.text(alphabet=string.printable, max_size=8),
)


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    header = draw(st.lists(st.sampled_from(["Date", "VTI", "BND", "vti", "", "ticker", "close", "date", "X"]),
                           min_size=0, max_size=4))
    rows = []
    day = draw(st.sampled_from(["2024-01-02", "2024-01-06", "2099-01-02", "1985-01-02", "nope", ""]))
    for _ in range(draw(st.integers(0, 5))):
        rows.append(",".join([day, *(draw(_csv_cell) for _ in range(max(len(header) - 1, 0)))]))
    return "\n".join([",".join(header), *rows]) + ("\n" if draw(st.booleans()) else "")


@pytest.fixture
def csv_path(tmp_path: Path) -> Path:
    return tmp_path / "p.csv"


@FUZZ
@given(st.one_of(csv_texts(), st.text(max_size=200)))
def test_csv_reader_gives_only_typed_errors(csv_path: Path, text: str) -> None:
    from engine.data import CsvSource

    csv_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        CsvSource(csv_path).prices()
    except EngineError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_csv_reader_on_arbitrary_bytes(csv_path: Path, data: bytes) -> None:
    from engine.data import CsvSource

    csv_path.write_bytes(data)
    try:
        CsvSource(csv_path).prices()
    except EngineError:
        pass


@FUZZ
@given(st.one_of(
    st.text(max_size=300),
    st.lists(st.lists(st.one_of(_csv_cell, st.sampled_from(["VTI", "fossil_fuels;tobacco", "yes", "11", "-3"])),
                      min_size=1, max_size=6), min_size=1, max_size=5).map(
        lambda rows: "ticker,esg_score,carbon_intensity,controversy,tags\n" + "\n".join(",".join(r) for r in rows)),
))
def test_esg_csv_gives_only_typed_errors(csv_path: Path, text: str) -> None:
    from engine.esg import load_esg

    csv_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_esg(csv_path)
    except EngineError:
        pass


def test_a_non_number_in_a_file_whose_rows_outgrow_the_header_is_a_typed_error(tmp_path: Path) -> None:
    """Found by the fuzzer: rows with more fields than the header made pandas index by the first column, and the
    bad-cell report looked the day up by label (KeyError) instead of by position."""
    from engine.data import CsvSource

    path = tmp_path / "p.csv"
    path.write_text('VTI,BND,close,Date\n2024-01-02,0.0,0.0,"\n2024-01-02,0.0,0.0,0.0\n2024-01-02,0.0,",-1.0',
                    encoding="utf-8")
    with pytest.raises(EngineError):
        CsvSource(path).prices()


@pytest.mark.parametrize("text", ["1E1000000", "-1E+999999999", "1E-1000000", "7E-999999999"])
def test_an_exponent_beyond_decimals_context_is_refused_not_overflowed(text: str) -> None:
    """Found by the fuzzer: ``abs(1E1000000)`` raised ``decimal.Overflow`` (not ``ValueError``) under the default
    context; the checks read the digits and the exponent only."""
    with pytest.raises(ValueError, match=r"integer digits|decimals"):
        exact_decimal(text)


def test_a_zero_with_a_large_exponent_is_zero() -> None:
    assert exact_decimal("0E1000000") == 0 and exact_decimal("0E1000000").as_tuple().exponent == 0
