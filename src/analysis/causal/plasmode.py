"""Method checks by simulation: plasmode (real covariates) and fully synthetic data.

``plasmode`` keeps the real covariates and treatment of the user's data, so the real
confounding structure is kept, and simulates outcomes with a known additive effect:

``y* = m0(X) + effect * t + noise``

where ``m0`` is a linear model of the real outcome fitted in the comparison group (or a
seeded random linear combination of the covariates when no outcome is given), and the
noise is normal with the residual standard deviation. Each estimator is re-run on every
replicate; the table gives bias, RMSE and 95% CI coverage per method, to be shown beside
the real estimate.

``simulate_confounded`` draws fully synthetic data with a planted effect and confounding
(used by the tests and ``mvm-eval bench causal``).

References
----------
Franklin, J. M. et al. (2014). Plasmode simulation for the evaluation of
pharmacoepidemiologic methods in complex healthcare databases. Computational
Statistics & Data Analysis 72, 219-226.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

from analysis.causal.design import make_design
from analysis.causal.outcome_models import fit_outcome_model
from analysis.seeds import int_seed, rng


def simulate_confounded(
    n: int = 2000,
    n_covariates: int = 5,
    effect: float = 1.0,
    seed: int = 0,
    confounding: float = 1.0,
    treated_share: float = 0.3,
) -> pd.DataFrame:
    """Synthetic people with a planted constant effect and confounding.

    Covariates ``x0..x{p-1}`` are standard normal (``x0`` and ``x1`` correlated 0.3), plus a
    categorical ``region`` with three levels. Treatment follows a logistic model in the
    first three covariates and the region (intercept set for about ``treated_share``); the
    outcome is linear in the same covariates plus ``effect * t`` and unit noise. Treated
    people have higher outcomes at baseline, so the naive difference overstates the effect.

    Returns
    -------
    pandas.DataFrame
        Columns ``t``, ``y``, ``x0``..., ``region``; the true ATE and ATT equal ``effect``.
    """
    if n_covariates < 3:
        raise ValueError(f"n_covariates must be at least 3, got {n_covariates}")
    g = rng(seed, "simulate_confounded")
    X = g.normal(size=(n, n_covariates))
    X[:, 1] = 0.3 * X[:, 0] + np.sqrt(1 - 0.09) * X[:, 1]
    region = g.choice(np.array(["north", "centre", "south"]), size=n, p=[0.3, 0.4, 0.3])
    r = (region == "south").astype(float) - (region == "north").astype(float)
    lin = confounding * (0.8 * X[:, 0] - 0.5 * X[:, 1] + 0.4 * X[:, 2] + 0.3 * r)
    intercept = np.log(treated_share / (1 - treated_share))
    t = (g.random(n) < 1 / (1 + np.exp(-(intercept + lin)))).astype(np.int64)
    beta = np.linspace(0.5, 0.1, n_covariates)
    y = effect * t + X @ beta + X[:, 2] * 0.5 + 0.5 * r + g.normal(size=n)
    cols = {f"x{j}": X[:, j] for j in range(n_covariates)}
    return pd.DataFrame({"t": t, "y": y, **cols, "region": region})


SKEWED_COST_SHAPE = 0.6
"""Gamma shape of the cost noise in :func:`simulate_skewed_costs` (coefficient of
variation 1.3 around the person's expected cost)."""


def simulate_skewed_costs(
    n: int = 3000,
    relative_effect: float = -0.10,
    seed: int = 0,
    confounding: float = 1.0,
    treated_share: float = 0.3,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Confounded, heavy-tailed medical costs with an effect proportional to expected cost.

    Covariates ``x0``, ``x1``, ``x2`` are standard normal and ``chronic`` is binary. The
    untreated cost is ``exp(linear) x Gamma(shape, 1 / shape)`` (log-normal-like spread of
    expected costs, gamma noise, a heavy right tail); treatment multiplies the cost by
    ``1 + relative_effect``, so the individual effect is proportional to the expected
    cost. People with higher expected costs take part less often (as in the programs),
    so the naive difference overstates the saving.

    Returns
    -------
    (pandas.DataFrame, dict)
        Columns ``t``, ``y``, ``x0``, ``x1``, ``x2``, ``chronic``; and the true effects
        ``{"ATE": ..., "ATT": ..., "mean_cost": ...}`` (expectations given the drawn
        covariates, so that only the outcome noise is random around them).
    """
    g = rng(seed, "simulate_skewed_costs")
    X = g.normal(size=(n, 3))
    chronic = (g.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 0.5)))).astype(float)
    log_mu = 11.8 + 0.7 * X[:, 0] + 0.4 * X[:, 1] - 0.2 * X[:, 2] + 0.8 * chronic
    mu0 = np.exp(log_mu)
    lin = confounding * (-0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.4 * X[:, 2] - 0.4 * chronic)
    intercept = np.log(treated_share / (1 - treated_share))
    t = (g.random(n) < 1 / (1 + np.exp(-(intercept + lin)))).astype(np.int64)
    noise = g.gamma(SKEWED_COST_SHAPE, 1 / SKEWED_COST_SHAPE, size=n)
    y = mu0 * noise * np.where(t == 1, 1 + relative_effect, 1.0)
    frame = pd.DataFrame({"t": t, "y": y, "x0": X[:, 0], "x1": X[:, 1], "x2": X[:, 2],
                          "chronic": chronic})  # fmt: skip
    truth = {
        "ATE": float(relative_effect * mu0.mean()),
        "ATT": float(relative_effect * mu0[t == 1].mean()),
        "mean_cost": float(mu0.mean()),
    }
    return frame, truth


def summarise_replicates(method, estimates, ses, lows, highs, effect, seconds) -> dict:
    """Bias, RMSE, 95% CI coverage, mean SE and Monte Carlo SD of one estimator's replicates.

    ``effect`` is the true effect: one number, or one per replicate (when the truth
    depends on the drawn sample). Failed replicates (NaN estimates) are counted in
    ``n_failed`` and left out.
    """
    est = np.asarray(estimates, float)
    truth = np.broadcast_to(np.asarray(effect, float), est.shape)
    ok = np.isfinite(est)
    e, s, tr = est[ok], np.asarray(ses, float)[ok], truth[ok]
    lo, hi = np.asarray(lows, float)[ok], np.asarray(highs, float)[ok]
    return {
        "method": method,
        "true_effect": float(tr.mean()) if len(e) else float(np.mean(truth)),
        "n_rep": int(ok.sum()),
        "n_failed": int((~ok).sum()),
        "mean_estimate": float(e.mean()) if len(e) else np.nan,
        "bias": float(np.mean(e - tr)) if len(e) else np.nan,
        "rmse": float(np.sqrt(np.mean((e - tr) ** 2))) if len(e) else np.nan,
        "coverage": float(np.mean((lo <= tr) & (tr <= hi))) if len(e) else np.nan,
        "mean_se": float(s.mean()) if len(e) else np.nan,
        "empirical_sd": float((e - tr).std(ddof=1)) if len(e) > 1 else np.nan,
        "seconds": seconds,
    }


def run_replicates(datasets, methods, effect, *, treatment, outcome, covariates, seed, **kw):
    """Run each method on each dataset; one summary row per method (see ``plasmode``)."""
    from analysis.causal.estimate import estimate_effect

    rows = []
    for method in methods:
        est, se, lo, hi = [], [], [], []
        start = time.perf_counter()
        for b, frame in enumerate(datasets):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = estimate_effect(
                        frame,
                        treatment=treatment,
                        outcome=outcome,
                        covariates=covariates,
                        method=method,
                        seed=int_seed(seed, "replicate", b),
                        **kw,
                    )
                est.append(r.estimate), se.append(r.se), lo.append(r.ci_low), hi.append(r.ci_high)
            except ValueError:
                est.append(np.nan), se.append(np.nan), lo.append(np.nan), hi.append(np.nan)
        rows.append(
            summarise_replicates(method, est, se, lo, hi, effect, time.perf_counter() - start)
        )
    return pd.DataFrame(rows)


def plasmode(
    data: pd.DataFrame,
    *,
    treatment: str,
    covariates,
    effect: float,
    methods=("regression", "ipw", "aipw", "matching"),
    n_rep: int = 100,
    seed: int = 0,
    outcome: str | None = None,
    estimand: str = "ATE",
    **options,
) -> pd.DataFrame:
    """Bias, RMSE and CI coverage of estimators on outcomes simulated on the real design.

    Parameters
    ----------
    data : pandas.DataFrame
        The real analysis table (never modified).
    treatment : str
        Binary treatment column (kept as observed).
    covariates : list of str
        Covariates (kept as observed).
    effect : float
        The additive effect planted in every simulated outcome (true ATE = ATT).
    methods : sequence of str
        ``estimate_effect`` methods to check.
    n_rep : int
        Simulated outcomes.
    seed : int
    outcome : str or None
        Real outcome whose relation to the covariates (in the comparison group) and residual
        spread the simulation copies; ``None`` uses a seeded random linear model with unit
        noise.
    estimand : {"ATE", "ATT"}
    **options
        Passed to ``estimate_effect``.

    Returns
    -------
    pandas.DataFrame
        One row per method: ``method``, ``true_effect``, ``n_rep``, ``n_failed``,
        ``mean_estimate``, ``bias``, ``rmse``, ``coverage``, ``mean_se``, ``empirical_sd``,
        ``seconds``.
    """
    if n_rep < 2:
        raise ValueError(f"n_rep must be at least 2, got {n_rep}")
    design = make_design(data, treatment=treatment, outcome=outcome, covariates=covariates)
    X, t = design.X, design.t
    if outcome is not None:
        model = fit_outcome_model(X[t == 0], design.y[t == 0], model="linear")
        mu0 = model.predict(X)
        sd = float(np.std(design.y[t == 0] - model.predict(X[t == 0]), ddof=1))
    else:
        z = (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        mu0 = z @ rng(seed, "plasmode", "coef").normal(0, 0.5, size=X.shape[1])
        sd = 1.0
    frame = pd.DataFrame(X, columns=[f"c{j}" for j in range(X.shape[1])])
    frame["t"] = t
    datasets = []
    for b in range(n_rep):
        noise = rng(seed, "plasmode", "noise", b).normal(0, sd, size=len(t))
        datasets.append(frame.assign(y=mu0 + effect * t + noise))
    return run_replicates(
        datasets,
        methods,
        effect,
        treatment="t",
        outcome="y",
        covariates=list(frame.columns[:-1]),
        seed=seed,
        estimand=estimand,
        **options,
    )
