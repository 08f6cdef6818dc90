"""Runs the bad-input corpus (cases.py): every case fails cleanly, names the problem and changes nothing.

For each case: a fresh folder with the case's files and a copy of a SQLite store holding the sample household;
``robo`` runs in-process (``robo.cli.main``) or, for the few cases that need a fresh interpreter, as a
subprocess. Checked: the exit code, no traceback, the error type and phrases in the output, and that every
file under the folder — the store included — is byte-identical afterwards, with nothing created or removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tests.badinputs.cases import CASES, ROOT, Case


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """A SQLite store with the sample household imported, made once and copied into every case."""
    from engine.config import load_household
    from engine.store import Store

    path = tmp_path_factory.mktemp("corpus-store") / "robo.db"
    with Store(f"sqlite:///{path}") as store:
        store.upgrade()
        store.households.add(load_household(), actor="corpus")
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder``: folders as 'dir', files by their SHA-256."""
    out: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _fill(text: str, folder: Path) -> str:
    return text.replace("{dir}", str(folder))


def _run_in_process(argv: list[str], env: dict[str, str], monkeypatch) -> tuple[int, str]:
    from robo.cli import _out, main

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    buffer = io.StringIO()
    # rich's Console.file falls back to sys.stdout when unset; patch the private slot so the fallback comes back
    monkeypatch.setattr(_out.console, "_file", buffer)
    err = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 1
    return code, buffer.getvalue() + err.getvalue()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, store_template: Path, monkeypatch) -> None:
    work = tmp_path / "case"
    work.mkdir()
    for name, content in case.files.items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    shutil.copy(store_template, work / "robo.db")
    home = tmp_path / "home"  # ROBO_HOME: must not be created by a failing command
    cwd = tmp_path / "cwd"  # the working directory: nothing may be written into it either
    cwd.mkdir()
    env = {"ROBO_HOME": str(home), "ROBO_DATABASE_URL": f"sqlite:///{work / 'robo.db'}"}
    env.update({k: _fill(v, work) for k, v in case.env.items()})
    argv = [_fill(a, work) for a in case.argv]
    before = _snapshot(work)

    monkeypatch.chdir(cwd)
    if case.subprocess:
        code, out = _run_subprocess(argv, env, cwd)
    else:
        code, out = _run_in_process(argv, env, monkeypatch)

    assert code == case.code, f"exit {code}, expected {case.code}:\n{out}"
    assert code != 0
    assert "Traceback" not in out, out
    if case.error is not None:
        assert f"error: {case.error}:" in out, f"expected {case.error}:\n{out}"
    flat = " ".join(out.split())
    for word in case.words:
        want = " ".join(_fill(word, work).split())
        assert want in flat, f"{want!r} not in the output:\n{out}"
    assert _snapshot(work) == before, "a file or the store changed"
    assert not home.exists() or _snapshot(home) == {}, f"ROBO_HOME was written: {_snapshot(home)}"
    assert _snapshot(cwd) == {}, f"files appeared in the working directory: {_snapshot(cwd)}"


def _run_subprocess(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROBO_")}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT)
    full["COLUMNS"] = "200"
    proc = subprocess.run([sys.executable, "-m", "robo", *argv], capture_output=True, text=True, env=full,
                          cwd=cwd, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_corpus_size_and_groups() -> None:
    """The issue asks for at least 150 cases; every group is represented and every id is unique."""
    groups = Counter(c.group for c in CASES)
    assert len(CASES) >= 150, groups
    assert len({c.id for c in CASES}) == len(CASES)
    assert set(groups) >= {"yaml", "money", "dates", "refs", "schema", "universe", "scenario", "csv", "cli",
                           "settings", "esg"}
    assert sum(c.subprocess for c in CASES) <= 5  # in-process keeps the corpus fast


def test_templates_are_valid(tmp_path: Path) -> None:
    """Each case is one mistake in a good file: the templates themselves load without an error."""
    from backtests import load_scenario
    from engine.config import load_household, load_universe
    from engine.esg import load_esg
    from engine.scheduler import load_scheduler_config

    templates = Path(__file__).resolve().parent / "templates"
    universe = load_universe(templates / "universe.yaml")
    load_household(templates / "household.yaml", universe=universe, as_of=date.today())
    load_scenario(templates / "scenario.yaml")
    load_scheduler_config(templates / "scheduler.yaml")
    load_esg(templates / "esg.yaml")
