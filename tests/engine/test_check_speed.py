"""The planner's speed paths give the very same answers: the goals configuration is read once per planner."""

from __future__ import annotations


def test_goals_config_is_read_once_per_engine(engine, household):
    first = engine.planner.goals_config(household.id)
    again = engine.planner.goals_config(household.id)
    assert all(first[k] is again[k] for k in first)
    assert set(first) == {"capital_market", "rules", "glide"}
