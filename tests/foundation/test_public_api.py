"""The curated public surface: every name in engine.__all__ and brokers.__all__ resolves; import stays light."""

from __future__ import annotations

import subprocess
import sys

import brokers
import engine


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
