"""Covariate balance: standardised mean differences and variance ratios, and the love plot.

The SMD uses the unweighted pooled standard deviation ``sqrt((s1^2 + s0^2) / 2)`` both
before and after weighting, so that a change in the SMD reflects a change in the means
only (Austin & Stuart 2015). ``|SMD| < 0.1`` is the usual balance rule.

References
----------
Austin, P. C. & Stuart, E. A. (2015). Moving towards best practice when using inverse
probability of treatment weighting (IPTW). Statistics in Medicine 34(28), 3661-3679.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.causal.design import make_design

SMD_THRESHOLD = 0.1
"""Largest acceptable |standardised mean difference| after adjustment."""


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    m = np.sum(w * x) / np.sum(w)
    return m, np.sum(w * (x - m) ** 2) / np.sum(w)


def _smd(diff: float, s_pool: float) -> float:
    if s_pool > 0:
        return diff / s_pool
    return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)


def balance_table(X, t, names, weights=None) -> pd.DataFrame:
    """Balance of each column of ``X`` between ``t == 1`` and ``t == 0``.

    Returns
    -------
    pandas.DataFrame
        One row per covariate: ``covariate``, ``mean_treated_before``,
        ``mean_control_before``, ``smd_before``, ``variance_ratio_before`` and the same four
        ``*_after`` columns (equal to "before" when ``weights`` is None).
    """
    X = np.asarray(X, float)
    t = np.asarray(t)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, float)
    if w.shape != t.shape or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("weights must be finite, non-negative and one per row")
    g1, g0 = t == 1, t == 0
    if w[g1].sum() == 0 or w[g0].sum() == 0:
        raise ValueError("weights are zero for a whole treatment group")
    rows = []
    for j, name in enumerate(names):
        x = X[:, j]
        s_pool = np.sqrt((x[g1].var() + x[g0].var()) / 2)
        row = {"covariate": name}
        for tag, ww in (("before", np.ones(len(t))), ("after", w)):
            m1, v1 = _wmean_var(x[g1], ww[g1])
            m0, v0 = _wmean_var(x[g0], ww[g0])
            row[f"mean_treated_{tag}"] = m1
            row[f"mean_control_{tag}"] = m0
            row[f"smd_{tag}"] = _smd(m1 - m0, s_pool)
            row[f"variance_ratio_{tag}"] = v1 / v0 if v0 > 0 else np.inf
        rows.append(row)
    cols = ["covariate"] + [
        f"{s}_{tag}"
        for tag in ("before", "after")
        for s in ("mean_treated", "mean_control", "smd", "variance_ratio")
    ]
    return pd.DataFrame(rows, columns=cols)


def balance(data: pd.DataFrame, *, treatment: str, covariates, weights=None) -> pd.DataFrame:
    """Standardised mean differences and variance ratios before and after weighting.

    Parameters
    ----------
    data : pandas.DataFrame
    treatment : str
        Binary 0/1 column.
    covariates : list of str
        Categorical columns are shown one row per level (first level left out).
    weights : str, array-like or None
        A column name, or one weight per row (e.g. ``result.info["weights"]``).

    Returns
    -------
    pandas.DataFrame
        See ``balance_table``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"t": [0, 1] * 10, "age": range(20)})
    >>> round(float(balance(df, treatment="t", covariates=["age"])["smd_before"][0]), 3)
    0.174
    """
    if isinstance(weights, str):
        if weights not in data.columns:
            raise ValueError(f"weights column {weights!r} not found in data")
        weights = data[weights].to_numpy(float)
    design = make_design(
        data, treatment=treatment, outcome=None, covariates=covariates, separation=False
    )
    if weights is not None and len(weights) != design.n:
        raise ValueError(f"weights has {len(weights)} values for {design.n} rows")
    return balance_table(design.X, design.t, design.columns, weights)


def plot_balance(table, ax=None, threshold: float = SMD_THRESHOLD):
    """Love plot: |SMD| per covariate before and after adjustment; returns the Axes.

    ``table`` is a ``balance`` table or an ``EffectResult`` (its ``balance`` diagnostics).
    """
    import matplotlib.pyplot as plt

    if hasattr(table, "diagnostics"):
        table = table.diagnostics.tables["balance"]
    order = table.assign(a=table["smd_before"].abs()).sort_values("a")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 0.3 * len(order) + 1.2))
    pos = np.arange(len(order))
    ax.scatter(
        order["smd_before"].abs(),
        pos,
        marker="o",
        facecolors="none",
        edgecolors="C3",
        label="before / 調整前",
    )
    ax.scatter(order["smd_after"].abs(), pos, marker="o", color="C0", label="after / 調整後")
    ax.axvline(threshold, color="0.4", ls="--", lw=0.8)
    ax.set_yticks(pos, order["covariate"])
    ax.set_xlabel("|SMD| (標準化平均差)")
    ax.legend(loc="lower right", fontsize="small")
    return ax
