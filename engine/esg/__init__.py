"""Values: per-fund ESG data, household screens, values reports and the cost of values.

    screen = apply_values(universe, load_esg(), household.values)     # allowed, excluded (with reasons), vectors
    report = values_report({"VTI": 0.6, "BND": 0.4}, load_esg(), household.values)
"""

from engine.esg.data import EsgAttributes, EsgData, Tag, esg_from_dict, load_esg, parse_tag, with_esg
from engine.esg.report import ValuesCost, ValuesReport, values_cost, values_report
from engine.esg.screen import Exclusion, ExclusionReason, Screen, apply_values

__all__ = [
    "EsgAttributes",
    "EsgData",
    "Exclusion",
    "ExclusionReason",
    "Screen",
    "Tag",
    "ValuesCost",
    "ValuesReport",
    "apply_values",
    "esg_from_dict",
    "load_esg",
    "parse_tag",
    "values_cost",
    "values_report",
    "with_esg",
]
