"""The household problem built from term and constraint objects gives what the monolithic one gave.

The numbers below were printed by the household problem as it was before issue 23 item 5 (commit a4140a9,
``engine/optimizer/household.py`` with the terms and groups inline) on the fixture households, with
``tests/optimizer/_households.py``; the objects must reproduce them (bitwise on the machine they were
recorded on; the tolerance only allows for another BLAS).
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.optimizer import FactorModel, ProblemCache, TermKind, shape_key, solve_household
from tests.optimizer._households import household

FM = FactorModel(
    np.random.default_rng(4).normal(0, 0.12, (6, 2)), np.array([[0.04, 0.01], [0.01, 0.02]]), np.full(6, 0.001)
)
CHANGES: dict[str, dict[str, object]] = {
    "base": {},
    "esg_tilt_and_floor": {"esg_tilt": 0.01, "esg_floor": 5.5},
    "tax_budget_and_turnover": {"tax_budget": 500.0, "turnover_limit": 0.3},
    "liquidity_reserve": {"liquidity_reserve": 15000.0},
    "withdrawal_with_buffer": {"cash_flows": np.array([-20000.0, 0.0]), "cash_buffer": np.array([1000.0, 0.0])},
    "factor_model": {"cov": None, "factor_model": FM},
}

# household: (targets per (account, ticker), term values), as printed before the refactor
BEFORE: dict[str, tuple[dict[tuple[str, str], float], dict[str, float]]] = {
    "base": (
        {
            ("brokerage", "BND"): 0.19081272084805653,
            ("brokerage", "IVV"): 0.07066595600334637,
            ("brokerage", "VEA"): 0.15015779721533978,
            ("brokerage", "VTI"): 0.26501766784452296,
            ("ira", "AGG"): 7.650440631001842e-08,
            ("ira", "BIL"): 0.0505129522673519,
            ("ira", "BND"): 0.15966038908177768,
            ("ira", "IVV"): 0.1129908996038876,
            ("ira", "VTI"): 2.2179456660165187e-08,
        },
        {
            "return": 0.054765769181595536,
            "risk": 0.018380757212538946,
            "tracking": 1.1343647303039518e-05,
            "tax": 0.0005304129805863878,
            "trading": 0.00018150111898360428,
            "location": 0.003943376540901757,
            "esg": 0.0,
        },
    ),
    "esg_tilt_and_floor": (
        {
            ("brokerage", "BND"): 0.07873622786289264,
            ("brokerage", "IVV"): 0.17958394173015194,
            ("brokerage", "VEA"): 0.1532618373921847,
            ("brokerage", "VTI"): 0.26501766784452296,
            ("ira", "AGG"): 0.2685979116310192,
            ("ira", "BIL"): 0.04923817881189666,
            ("ira", "IVV"): 0.005414808046298754,
            ("ira", "VTI"): 1.4827714334142428e-09,
        },
        {
            "return": 0.054643412503388035,
            "risk": 0.018608365858834602,
            "tracking": 9.163519021154436e-05,
            "tax": 0.002128724646904296,
            "trading": 0.00014942297577799404,
            "location": 0.002604557765414722,
            "esg": 0.005499178173512466,
        },
    ),
    "tax_budget_and_turnover": (
        {
            ("brokerage", "BND"): 0.19081272084805653,
            ("brokerage", "IVV"): 0.07061078599741913,
            ("brokerage", "VEA"): 0.15021295060055484,
            ("brokerage", "VTI"): 0.26501766784452296,
            ("ira", "AGG"): 0.1596904277117918,
            ("ira", "BIL"): 0.050529232856393665,
            ("ira", "BND"): 5.408646718686909e-07,
            ("ira", "IVV"): 0.05974047249457182,
            ("ira", "VTI"): 0.05331008074216177,
        },
        {
            "return": 0.054664843721142414,
            "risk": 0.018475574214571248,
            "tracking": 1.161991095152784e-05,
            "tax": 0.0005293100275541015,
            "trading": 7.499996507586662e-05,
            "location": 0.003943486945086143,
            "esg": 0.0,
        },
    ),
    "liquidity_reserve": (
        {
            ("brokerage", "BIL"): 0.1325088334710034,
            ("brokerage", "BND"): 0.1563147891828625,
            ("brokerage", "VEA"): 0.12278192594764366,
            ("brokerage", "VTI"): 0.26501766784452296,
            ("ira", "AGG"): 2.9582153401874756e-07,
            ("ira", "BND"): 0.16660495525144575,
            ("ira", "IVV"): 0.15655892249068207,
            ("ira", "VTI"): 1.5955496110442446e-07,
        },
        {
            "return": 0.052612105904111875,
            "risk": 0.015264847424550513,
            "tracking": 0.045448677518564864,
            "tax": 0.0015890108644501266,
            "trading": 0.0002124301092930303,
            "location": 0.005329711435613093,
            "esg": 0.0,
        },
    ),
    "withdrawal_with_buffer": (
        {
            ("brokerage", "BND"): 0.12474694738088352,
            ("brokerage", "VEA"): 0.149888231051933,
            ("brokerage", "VTI"): 0.3218884120171674,
            ("ira", "AGG"): 1.7561037504720822e-07,
            ("ira", "BIL"): 0.03985942035704709,
            ("ira", "BND"): 0.22580156242378777,
            ("ira", "IVV"): 0.12685171035575504,
            ("ira", "VTI"): 2.985545066724882e-08,
        },
        {
            "return": 0.054492681800321636,
            "risk": 0.018482879296273076,
            "tracking": 1.1238568299588852e-05,
            "tax": 0.0028794543580073287,
            "trading": 0.00023386847614841072,
            "location": 0.0029897870330415034,
            "esg": 0.0,
        },
    ),
    "factor_model": (
        {
            ("brokerage", "BND"): 0.19081272084805653,
            ("brokerage", "IVV"): 0.06804641890442938,
            ("brokerage", "VEA"): 0.15277851567878195,
            ("brokerage", "VTI"): 0.2650178000337295,
            ("ira", "AGG"): 0.030113173438504115,
            ("ira", "BIL"): 0.04759087082133804,
            ("ira", "BND"): 0.12700317958545912,
            ("ira", "IVV"): 0.11847120019895628,
            ("ira", "VTI"): 9.781250671914155e-07,
        },
        {
            "return": 0.05492676439863485,
            "risk": 0.0005881132343463224,
            "tracking": 0.00010086650071156416,
            "tax": 0.000477998641749822,
            "trading": 0.00016513797294678758,
            "location": 0.0039486206258995335,
            "esg": 0.0,
        },
    ),
}


@pytest.mark.parametrize("name", list(CHANGES))
def test_same_targets_and_terms_as_before_the_refactor(name):
    x = household(**CHANGES[name])
    cache = ProblemCache()
    result = solve_household(x, cache=cache)
    targets, terms = BEFORE[name]
    assert sorted(result.targets) == sorted(targets)
    for cell, weight in targets.items():
        assert result.targets[cell] == pytest.approx(weight, rel=1e-9, abs=1e-12), cell
    assert {t.name: t.value for t in result.terms} == pytest.approx(terms, rel=1e-9, abs=1e-12)
    prob, _ = cache.get(shape_key(x))
    objective = sum(v if t.kind is TermKind.PENALTY else -v for t, v in zip(result.terms, terms.values(), strict=True))
    assert prob.problem.value == pytest.approx(objective, abs=1e-7)  # the solver's own objective at that point
