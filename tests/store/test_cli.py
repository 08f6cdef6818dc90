"""``robo db`` and ``robo household`` against a temporary SQLite store (ROBO_DATABASE_URL)."""

from __future__ import annotations

import pytest

from engine.config import dump_household
from engine.model import Household
from engine.store import head
from robo.cli import main
from robo.cli._households import resolve_household


@pytest.fixture
def db(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'sub' / 'cli.db'}"
    monkeypatch.setenv("ROBO_DATABASE_URL", url)
    return url


def test_db_upgrade_and_current(db: str, capsys) -> None:
    assert main(["db", "current"]) == 1
    assert "no tables yet" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert f"at revision {head()}" in capsys.readouterr().out
    assert main(["db", "current"]) == 0
    assert f"{head()} (up to date)" in capsys.readouterr().out


def test_household_import_list_show(db: str, tmp_path, household: Household, capsys) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(dump_household(household), encoding="utf-8")
    assert main(["db", "upgrade"]) == 0
    assert main(["household", "list"]) == 0
    assert "no households stored yet" in capsys.readouterr().out
    assert main(["household", "import", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "rivera"
    assert main(["household", "import", str(path)]) == 2
    assert "--replace" in capsys.readouterr().out
    assert main(["household", "import", str(path), "--replace"]) == 0
    capsys.readouterr()
    assert main(["household", "list"]) == 0
    assert "Alex & Jordan Rivera" in capsys.readouterr().out
    assert main(["household", "show", "rivera"]) == 0
    out = capsys.readouterr().out
    for expected in ("Accounts", "Lots", "Goals", "alex_401k", "VTI", "$26,100.00", "Down payment on a house"):
        assert expected in out
    assert resolve_household("rivera") == household  # the CLI's HOUSEHOLD argument finds stored ids


def test_household_errors_are_clean(db: str, tmp_path, capsys) -> None:
    assert main(["household", "show", "nobody"]) == 2
    assert "run `robo db upgrade`" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert main(["household", "show", "nobody"]) == 2
    assert "NotFound: no household 'nobody'" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nname: X\nmembers: []\naccounts: []\n", encoding="utf-8")
    assert main(["household", "import", str(bad)]) == 2
    assert "ConfigError" in capsys.readouterr().out


def test_default_store_lives_under_robo_home(_isolated_home, capsys) -> None:
    assert main(["household", "import", "sample"]) == 0
    assert (_isolated_home / "robo.db").is_file()
