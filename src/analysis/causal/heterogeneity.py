"""Effect heterogeneity and targeting: subgroup effects, uplift (Qini) curves and the
budget-constrained rule "whom to offer the program next year".

Everything rests on the cross-fitted doubly robust (AIPW) scores ``phi_i``: their mean
over any group defined by baseline covariates is a consistent estimate of the group's
average effect, with standard error ``sd(phi) / sqrt(n)`` (Kennedy 2023). Targeting
rules are compared on the same scores: the expected total effect of treating a set
``S`` is ``sum_{i in S} phi_i``. Rankings used for targeting must not be fitted on the
person they rank; ``out_of_fold_cate`` gives such predictions.

References
----------
Kennedy, E. H. (2023). Towards optimal doubly robust estimation of heterogeneous causal
effects. Electronic Journal of Statistics 17(2), 3008-3049.
Yadlowsky, S. et al. (2025). Evaluating treatment prioritization rules via rank-weighted
average treatment effects. JASA 120(549), 38-51.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.aipw import aipw_scores, cross_fit_nuisance
from analysis.causal.design import make_design, make_folds
from analysis.causal.estimate import Z95, influence_se
from analysis.causal.outcome_models import predict_potential_outcomes
from analysis.config import MIN_CELL_COUNT
from analysis.seeds import int_seed, rng

BENEFITS = ("increase", "decrease")


def dr_scores(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates,
    seed: int = 0,
    n_folds: int = 5,
    propensity_model: str = "logistic",
    outcome_model: str = "linear",
) -> np.ndarray:
    """Cross-fitted AIPW scores ``phi_i`` (their mean is the AIPW ATE), one per row."""
    design = make_design(data, treatment=treatment, outcome=outcome, covariates=covariates)
    e, m1, m0 = cross_fit_nuisance(
        design,
        seed=seed,
        n_folds=n_folds,
        propensity_model=propensity_model,
        outcome_model=outcome_model,
    )
    est, psi = aipw_scores(design.t, design.y, e, m1, m0, "ATE")
    return psi + est


def subgroup_effects(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates,
    subgroups,
    seed: int = 0,
    cluster: str | None = None,
    **nuisance,
) -> pd.DataFrame:
    """Average effects (ATE) in pre-declared subgroups, from one set of DR scores.

    Parameters
    ----------
    data : pandas.DataFrame
    treatment, outcome : str
    covariates : list of str
        Adjustment covariates of the nuisance models.
    subgroups : str or list of str
        Columns defining the subgroups (e.g. ``["age_band", "sex", "risk_tier"]``).
    seed : int
    cluster : str, optional
        Cluster column for cluster-robust standard errors.
    **nuisance
        ``n_folds``, ``propensity_model``, ``outcome_model`` for ``dr_scores``.

    Returns
    -------
    pandas.DataFrame
        One row per subgroup level: ``variable``, ``level``, ``n``, ``n_treated``,
        ``n_control``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
        ``p_heterogeneity`` (Wald test that all levels of the variable share one effect)
        and ``suppressed`` (levels with fewer than 10 treated or comparison people show
        no numbers).
    """
    subgroups = [subgroups] if isinstance(subgroups, str) else list(subgroups)
    missing = [s for s in subgroups if s not in data.columns]
    if missing:
        raise ValueError(f"subgroup column(s) not found in data: {missing}")
    for s in subgroups:
        n_missing = int(data[s].isna().sum())
        if n_missing:
            raise ValueError(f"column {s!r} has {n_missing} missing value(s)")
    phi = dr_scores(
        data, treatment=treatment, outcome=outcome, covariates=covariates, seed=seed, **nuisance
    )
    t = data[treatment].to_numpy().astype(int)
    codes = None if cluster is None else pd.factorize(data[cluster])[0]
    rows = []
    for var in subgroups:
        levels = data[var].to_numpy()
        var_rows = []
        for level in pd.unique(levels):
            g = levels == level
            n1, n0 = int(t[g].sum()), int((1 - t[g]).sum())
            est = float(phi[g].mean())
            se = influence_se(phi[g] - est, None if codes is None else codes[g])
            small = min(n1, n0) < MIN_CELL_COUNT
            var_rows.append(
                {
                    "variable": var,
                    "level": level,
                    "n": int(g.sum()),
                    "n_treated": n1,
                    "n_control": n0,
                    "estimate": est,
                    "se": se,
                    "ci_low": est - Z95 * se,
                    "ci_high": est + Z95 * se,
                    "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
                    "suppressed": small,
                }
            )
        ok = [r for r in var_rows if not r["suppressed"] and r["se"] > 0]
        p_het = np.nan
        if len(ok) >= 2:
            w = np.array([1 / r["se"] ** 2 for r in ok])
            b = np.array([r["estimate"] for r in ok])
            chi2 = float(np.sum(w * (b - np.sum(w * b) / w.sum()) ** 2))
            p_het = float(stats.chi2.sf(chi2, len(ok) - 1))
        for r in var_rows:
            r["p_heterogeneity"] = p_het
        rows.extend(var_rows)
    table = pd.DataFrame(rows)
    hide = ["n", "n_treated", "n_control", "estimate", "se", "ci_low", "ci_high", "p_value"]
    table[hide] = table[hide].astype(float)
    table.loc[table.suppressed, hide] = np.nan
    return table


def out_of_fold_cate(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates,
    seed: int = 0,
    n_folds: int = 5,
    learner: str = "linear",
    outcome_model: str = "linear",
) -> np.ndarray:
    """Predicted individual effects, each from a model that never saw that person.

    ``learner="linear"`` fits one outcome model per arm (T-learner); ``"forest"`` fits
    econml's CausalForestDML on the other folds.
    """
    from analysis.causal.dml import fit_forest

    if learner not in ("linear", "forest"):
        raise ValueError(f"learner must be 'linear' or 'forest', got {learner!r}")
    design = make_design(data, treatment=treatment, outcome=outcome, covariates=covariates)
    folds = make_folds(design.t, n_folds, seed, "cate")
    cate = np.empty(design.n)
    for k in range(n_folds):
        test, train = folds == k, folds != k
        if learner == "linear":
            m1, m0 = predict_potential_outcomes(
                design.X[train],
                design.t[train],
                design.y[train],
                design.X[test],
                model=outcome_model,
            )
            cate[test] = m1 - m0
        else:
            sub = design.subset(np.flatnonzero(train))
            fit = fit_forest(sub, seed=int_seed(seed, "cate", k), n_folds=3, n_jobs=1)
            cate[test] = fit.info["forest"].effect(design.X[test]).ravel()
    return cate


def _direction(benefit: str) -> float:
    if benefit not in BENEFITS:
        raise ValueError(f"benefit must be one of {BENEFITS}, got {benefit!r}")
    return 1.0 if benefit == "increase" else -1.0


def _curve(phi, order, fractions):
    n = len(phi)
    cum = np.concatenate([[0.0], np.cumsum(phi[order])])
    k = np.round(fractions * n).astype(int)
    return cum[k] / n


def uplift_curve(
    scores,
    ranking,
    *,
    n_points: int = 21,
    n_bootstrap: int = 200,
    seed: int = 0,
    benefit: str = "increase",
) -> pd.DataFrame:
    """Qini-type uplift curve of a ranking, with a bootstrap confidence band.

    For each fraction ``q`` of people treated in order of ``ranking`` (most promising
    first), ``gain(q) = sum_{top q} phi_i / n`` is the per-capita effect of treating them;
    random targeting gives ``q * ATE``. The Qini coefficient (``attrs["qini"]``) is the
    mean of ``gain(q) - q * ATE`` over the grid; positive means the ranking finds people
    who benefit more.

    Parameters
    ----------
    scores : array-like
        DR scores (``dr_scores``).
    ranking : array-like
        Priority per person (e.g. ``out_of_fold_cate``); higher is treated first when
        ``benefit="increase"``, lower first when ``benefit="decrease"`` (e.g. costs).
    n_points, n_bootstrap, seed : int
    benefit : {"increase", "decrease"}
        Whether a larger outcome is better; gains are reported in the beneficial direction.

    Returns
    -------
    pandas.DataFrame
        ``fraction``, ``gain``, ``ci_low``, ``ci_high``, ``random``.
    """
    sign = _direction(benefit)
    phi = sign * np.asarray(scores, float)
    rank = sign * np.asarray(ranking, float)
    if phi.shape != rank.shape:
        raise ValueError("scores and ranking must have one value per person")
    fractions = np.linspace(0, 1, n_points)
    order = np.argsort(-rank, kind="stable")
    gain = _curve(phi, order, fractions)
    g = rng(seed, "uplift")
    boots = np.empty((n_bootstrap, n_points))
    for b in range(n_bootstrap):
        idx = g.integers(0, len(phi), len(phi))
        boots[b] = _curve(phi[idx], np.argsort(-rank[idx], kind="stable"), fractions)
    table = pd.DataFrame(
        {
            "fraction": fractions,
            "gain": gain,
            "ci_low": np.quantile(boots, 0.025, axis=0),
            "ci_high": np.quantile(boots, 0.975, axis=0),
            "random": fractions * phi.mean(),
        }
    )
    table.attrs["qini"] = float(np.mean(gain - table["random"]))
    table.attrs["benefit"] = benefit
    return table


def plot_uplift(curve: pd.DataFrame, ax=None):
    """Uplift curve with its band and the random-targeting line; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    ax.fill_between(curve.fraction, curve.ci_low, curve.ci_high, color="C0", alpha=0.2)
    ax.plot(curve.fraction, curve.gain, color="C0", label="ranking / 優先順位")
    ax.plot(curve.fraction, curve.random, color="0.4", ls="--", label="random / 無作為")
    ax.set_xlabel("share offered (提供割合)")
    ax.set_ylabel("effect per capita (1人当たり効果)")
    ax.legend(fontsize="small")
    return ax


def targeting_gain(
    scores,
    cate,
    risk,
    *,
    capacity: int,
    benefit: str = "increase",
) -> pd.DataFrame:
    """Expected total effect of offering the program to ``capacity`` people, by rule.

    Rules: ``"cate"`` offers it to those with the largest predicted benefit, ``"risk"``
    to those with the highest risk score (today's rule). ``"cate_minus_risk"`` is the
    paired difference, with its SE from the per-person differences of the DR scores.

    Parameters
    ----------
    scores : array-like
        DR scores (``dr_scores``).
    cate : array-like
        Out-of-fold predicted effects.
    risk : array-like
        Baseline risk score (higher = offered first).
    capacity : int
        People the budget allows (e.g. ``budget_yen // cost_per_person_yen``).
    benefit : {"increase", "decrease"}
        Whether a larger outcome is better; gains are in the beneficial direction.

    Returns
    -------
    pandas.DataFrame
        ``rule``, ``n_offered``, ``expected_gain`` (total), ``se``, ``ci_low``, ``ci_high``,
        ``gain_per_person``.
    """
    sign = _direction(benefit)
    phi = sign * np.asarray(scores, float)
    cate = sign * np.asarray(cate, float)
    risk = np.asarray(risk, float)
    n = len(phi)
    if not (cate.shape == risk.shape == phi.shape):
        raise ValueError("scores, cate and risk must have one value per person")
    if not 0 < capacity <= n:
        raise ValueError(f"capacity must be between 1 and {n}, got {capacity}")
    rows = []
    picks = {}
    for rule, key in (("cate", cate), ("risk", risk)):
        chosen = np.zeros(n, bool)
        chosen[np.argsort(-key, kind="stable")[:capacity]] = True
        picks[rule] = chosen
    for rule, contrib in (
        ("cate", picks["cate"] * phi),
        ("risk", picks["risk"] * phi),
        ("cate_minus_risk", (picks["cate"].astype(float) - picks["risk"]) * phi),
    ):
        total = float(contrib.sum())
        se = float(np.sqrt(n) * contrib.std(ddof=1))
        rows.append(
            {
                "rule": rule,
                "n_offered": capacity,
                "expected_gain": total,
                "se": se,
                "ci_low": total - Z95 * se,
                "ci_high": total + Z95 * se,
                "gain_per_person": total / capacity,
            }
        )
    return pd.DataFrame(rows)
