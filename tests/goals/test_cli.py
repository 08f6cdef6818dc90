"""``robo plan`` and ``robo event`` end to end on the shipped sample."""

from __future__ import annotations

from robo.cli import main


def test_plan_with_what_if_writes_a_chart(tmp_path, capsys):
    chart = tmp_path / "plan.png"
    rc = main(
        [
            "plan",
            "sample",
            "--as-of",
            "2026-03-02",
            "--paths",
            "1000",
            "--what-if",
            "save-more=500",
            "--chart",
            str(chart),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0 and chart.stat().st_size > 1000
    assert "Retirement" in out and "What if you save $500/month more" in out


def test_event_saves_the_changed_household(tmp_path, capsys):
    from engine.config import load_household

    saved = tmp_path / "h.yaml"
    rc = main(
        [
            "event",
            "sample",
            "relocation",
            "--on",
            "2026-03-01",
            "--detail",
            "state=TX",
            "--detail",
            "state_rate=0",
            "--paths",
            "500",
            "--save",
            str(saved),
        ]
    )
    assert rc == 0 and "state CA 9.30% → TX 0.00%" in capsys.readouterr().out
    assert load_household(saved).tax.state == "TX"


def test_event_errors_exit_2(capsys):
    assert main(["event", "sample", "child", "--on", "1970-01-01"]) == 2
    assert "before the household existed" in capsys.readouterr().out
