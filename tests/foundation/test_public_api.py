"""The curated public surface: every name in engine.__all__ and brokers.__all__ resolves; import stays light."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import brokers
import engine

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_resolves():
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    for name in brokers.__all__:
        assert getattr(brokers, name) is not None, name


def test_import_engine_does_not_load_heavy_libraries():
    heavy = "('cvxpy', 'sqlalchemy', 'pypfopt', 'alpaca')"
    code = f"import sys, engine; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import engine loaded {out}"


def _type_checking_imports(path: Path) -> dict[str, str]:
    """Name → module of every import inside ``if TYPE_CHECKING:`` in a package's __init__.py."""
    tree = ast.parse(path.read_text())
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module:
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = stmt.module
    return found


def test_every_lazy_name_is_visible_to_type_checkers():
    """A name loaded lazily by __getattr__ must also be imported under TYPE_CHECKING, or mypy sees it as Any."""
    typed = _type_checking_imports(Path(engine.__file__))
    assert set(typed) == set(engine._LAZY), (
        f"missing from TYPE_CHECKING: {sorted(set(engine._LAZY) - set(typed))}; "
        f"not lazy: {sorted(set(typed) - set(engine._LAZY))}"
    )
    for name, module in typed.items():  # and it is the very object the lazy import returns
        assert getattr(importlib.import_module(module), name) is getattr(engine, name), name
    lazy_in_brokers = _type_checking_imports(Path(brokers.__file__))
    assert {"AlpacaBroker", "TradingMode"} <= set(lazy_in_brokers)


def test_packages_declare_they_are_typed():
    """PEP 561: the marker ships in every package, so type checkers use our annotations."""
    for package in ("engine", "brokers", "backtests", "robo", "service"):
        assert (ROOT / package / "py.typed").is_file(), package


def test_alpaca_trading_client_lives_in_brokers_alpaca_only():
    """docs/DESIGN.md: alpaca-py's trading client has one home (import-linter sees only the top-level package)."""
    homes = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        if path.parts[len(ROOT.parts)] not in ("engine", "brokers", "backtests", "robo", "service"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n == "alpaca.trading" or n.startswith("alpaca.trading.") for n in names):
                homes.append(path.relative_to(ROOT).as_posix())
    assert homes and all(h == "brokers/alpaca.py" or h.startswith("brokers/alpaca/") for h in homes), homes
