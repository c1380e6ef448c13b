"""Propensity overlap, effective sample size and the pass/fail gates of weighting.

Gates (all recorded on every result):

- ``balance_max_abs_smd``: max |SMD| after adjustment < 0.1;
- ``propensity_extreme_share``: for the ATE, the share of people with a propensity
  <= 0.01 or >= 0.99; for the ATT, the share of treated people with a propensity >= 0.99
  (treated people without comparable comparison people); must be < 0.05;
- ``effective_sample_size_ratio``: Kish's effective sample size of each weighted arm
  over its size (over the number treated for the comparison arm of the ATT, capped at
  1); must be >= 0.1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.causal.balance import SMD_THRESHOLD, balance_table
from analysis.causal.diagnostics import Check, Diagnostics

EXTREME_PROPENSITY = 0.01
EXTREME_SHARE_MAX = 0.05
ESS_RATIO_MIN = 0.1


def effective_sample_size(weights) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / np.sum(w**2)) if np.sum(w**2) > 0 else 0.0


def extreme_share(e: np.ndarray, t: np.ndarray, estimand: str) -> float:
    """Share of people whose propensity crowds at 0 or 1 (see the module docstring)."""
    hi = 1 - EXTREME_PROPENSITY
    if estimand == "ATT":
        return float(np.mean(e[t == 1] >= hi))
    return float(np.mean((e <= EXTREME_PROPENSITY) | (e >= hi)))


def ess_ratio(w: np.ndarray, t: np.ndarray, estimand: str) -> float:
    """Smallest effective-sample-size ratio over the weighted arms."""
    n1 = int((t == 1).sum())
    r1 = effective_sample_size(w[t == 1]) / max(int(((t == 1) & (w > 0)).sum()), 1)
    ess0 = effective_sample_size(w[t == 0])
    if estimand == "ATT":
        r0 = min(ess0 / max(n1, 1), 1.0)
    else:
        r0 = ess0 / max(int(((t == 0) & (w > 0)).sum()), 1)
    return float(min(r1, r0))


def overlap_table(e: np.ndarray, t: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    """Propensity quantiles and effective sample size per group."""
    rows = []
    for g, label in ((1, "treated"), (0, "control")):
        eg = e[t == g]
        q = np.quantile(eg, [0.0, 0.05, 0.5, 0.95, 1.0])
        rows.append(
            {
                "group": label,
                "n": int(len(eg)),
                "effective_n": effective_sample_size(w[t == g]),
                "propensity_min": q[0],
                "propensity_p05": q[1],
                "propensity_median": q[2],
                "propensity_p95": q[3],
                "propensity_max": q[4],
            }
        )
    return pd.DataFrame(rows)


def weighting_diagnostics(X, t, names, e, w, estimand: str, warnings=()) -> Diagnostics:
    """Balance, overlap and effective-sample-size gates for weights ``w``."""
    t = np.asarray(t)
    table = balance_table(X, t, names, w)
    checks = []
    if len(table):
        max_smd = float(table["smd_after"].abs().max())
        checks.append(
            Check(
                "balance_max_abs_smd",
                max_smd,
                SMD_THRESHOLD,
                max_smd < SMD_THRESHOLD,
                f"max |SMD| < {SMD_THRESHOLD} after adjustment",
            )
        )
    share = extreme_share(e, t, estimand)
    checks.append(
        Check(
            "propensity_extreme_share",
            share,
            EXTREME_SHARE_MAX,
            share < EXTREME_SHARE_MAX,
            f"share of propensities at <= {EXTREME_PROPENSITY} or >= {1 - EXTREME_PROPENSITY} "
            f"< {EXTREME_SHARE_MAX}",
        )
    )
    ratio = ess_ratio(w, t, estimand)
    checks.append(
        Check(
            "effective_sample_size_ratio",
            ratio,
            ESS_RATIO_MIN,
            ratio >= ESS_RATIO_MIN,
            f"effective sample size of each weighted group >= {ESS_RATIO_MIN:.0%} of its size",
        )
    )
    tables = {"balance": table, "overlap": overlap_table(e, t, w)}
    return Diagnostics(tuple(checks), tables, tuple(warnings))


def plot_overlap(result_or_propensity, t=None, ax=None, bins: int = 40):
    """Histograms of the propensity score by group; returns the Axes.

    Pass an ``EffectResult`` (its stored propensity and treatment), or a propensity
    array and the treatment array.
    """
    import matplotlib.pyplot as plt

    if hasattr(result_or_propensity, "info"):
        e = result_or_propensity.info["propensity"]
        t = result_or_propensity.info["treatment_values"]
    else:
        e = np.asarray(result_or_propensity, float)
        if t is None:
            raise ValueError("plot_overlap needs the treatment array t with a propensity array")
    t = np.asarray(t)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    edges = np.linspace(0, 1, bins + 1)
    ax.hist(e[t == 1], bins=edges, alpha=0.5, density=True, color="C1", label="treated / 介入")
    ax.hist(e[t == 0], bins=edges, alpha=0.5, density=True, color="C0", label="control / 対照")
    ax.set_xlabel("propensity score (傾向スコア)")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax
