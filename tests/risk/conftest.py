"""Survival data with a known Cox truth, for the risk-model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

TRUE_BETA = {"x1": 0.6, "x2": 0.3, "x3": -0.4, "male": 0.4}
"""Log hazard ratios per unit of each simulated covariate."""
BASE_RATE = 0.03
"""Baseline hazard per year (exponential) at x = 0, female."""


def simulate_cox(n: int, seed: int, *, nonlinear: float = 0.0, ph_violation: float = 0.0):
    """People with covariates, follow-up (years), the event, death and the true lp.

    ``nonlinear`` adds ``nonlinear * (x2**2 - 1)`` to the log hazard. ``ph_violation``
    makes the effect of x1 vanish after 2 years (x1 acts as ``beta * (1 + ph) `` early, 0 late)
    by simulating the event in two pieces.
    """
    g = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "x1": g.normal(size=n),
            "x2": g.normal(size=n),
            "x3": g.normal(size=n),
            "sex": g.choice(["F", "M"], n),
            "fiscal_year": g.choice([2019, 2020, 2021, 2022], n),
        }
    )
    lp = (
        TRUE_BETA["x1"] * df.x1 + TRUE_BETA["x2"] * df.x2 + TRUE_BETA["x3"] * df.x3
        + TRUE_BETA["male"] * (df.sex == "M") + nonlinear * (df.x2**2 - 1)
    ).to_numpy()  # fmt: skip
    if ph_violation:
        early = lp + ph_violation * df.x1.to_numpy()
        late = lp - TRUE_BETA["x1"] * df.x1.to_numpy()
        t1 = g.exponential(1 / (BASE_RATE * np.exp(early)))
        t2 = 2 + g.exponential(1 / (BASE_RATE * np.exp(late)))
        t_event = np.where(t1 <= 2, t1, t2)
    else:
        t_event = g.exponential(1 / (BASE_RATE * np.exp(lp)))
    admin = 2025 - df.fiscal_year.to_numpy() + g.uniform(0, 1, n)  # end of data
    t_death = g.exponential(1 / 0.01, n)
    t = np.minimum.reduce([t_event, admin, t_death])
    df["time"] = t
    df["event"] = t_event <= np.minimum(admin, t_death)
    df["death"] = (t_death < t_event) & (t_death <= admin)
    df["true_lp"] = lp
    df["age"] = g.integers(40, 75, n)
    return df


@pytest.fixture(scope="module")
def cox_data():
    return simulate_cox(4000, seed=11)
