"""``robo batch plan``: plans, saves one run with a line per household, prints failures."""

from __future__ import annotations

import pytest

from robo.cli import main


def test_batch_plan_saves_a_run_per_batch(capsys):
    from engine.store import Store

    code = main(["batch", "plan", "--households", "synthetic:3", "--executor", "inline"])
    out = capsys.readouterr().out
    assert code == 0 and "households/s" in out and "planned" in out
    with Store.from_settings() as store:
        (run,) = store.runs.list(kind="batch")
        assert run.config["households"] == 3 and len(run.summary["results"]) == 3
        planned = [hid for hid, line in run.summary["results"].items() if line["status"] == "planned"]
        assert planned and all(
            store.proposals.get(f"batch-{run.config['as_of'].replace('-', '')}-{h}") for h in planned
        )


def test_batch_plan_rejects_a_missing_file(capsys):
    assert main(["batch", "plan", "--households", "nope.yaml", "--no-save"]) == 2
    assert "no such household file" in capsys.readouterr().out


def test_batch_plan_needs_a_count_for_synthetic(capsys):
    assert main(["batch", "plan", "--households", "synthetic:x", "--no-save"]) == 2
    assert "synthetic needs a count" in capsys.readouterr().out


@pytest.mark.parametrize("action", ["plan", "run"])
def test_batch_help_lists_the_actions(action, capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    assert action in capsys.readouterr().out


def test_batch_run_plans_saves_and_executes_what_needs_no_approval(capsys):
    from engine.store import Store

    code = main(["batch", "run", "--households", "synthetic:3", "--executor", "inline"])
    out = capsys.readouterr().out
    assert code == 0 and "executed in" in out
    with Store.from_settings() as store:
        (run,) = store.runs.list(kind="batch")
        lines = run.summary["results"]
        executed = {h: line["execution"] for h, line in lines.items() if "execution" in line}
        assert executed
        assert all(e["status"] in ("executed", "awaiting_approval", "no_orders") for e in executed.values())
        for hid, e in executed.items():
            proposal = store.proposals.get(lines[hid]["proposal"])
            assert proposal.status.value == ("executed" if e["status"] == "executed" else "proposed")
            if e["status"] == "awaiting_approval":
                assert proposal.needs_approval and "wait for approval" in out


def test_batch_run_refuses_one_alpaca_account_for_many_households(capsys):
    assert main(["batch", "run", "--households", "synthetic:2", "--broker", "alpaca"]) == 2
    assert "Alpaca account trades one household account" in capsys.readouterr().out
