"""``estimate_effect``: one entry point for every effect estimator.

It checks and encodes the data (``design``), runs the chosen method, attaches standard
errors (influence function, cluster-robust, method-specific or bootstrap) and the
diagnostic gates, and returns an ``EffectResult``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from analysis.causal.aipw import fit_aipw
from analysis.causal.design import MIN_GROUP_SIZE, Design, make_design
from analysis.causal.diagnostics import Check
from analysis.causal.dml import fit_dml, fit_forest
from analysis.causal.ipw import check_trim, fit_ipw, ipw_weights
from analysis.causal.matching import fit_matching
from analysis.causal.outcome_models import check_outcome_model
from analysis.causal.overlap import weighting_diagnostics
from analysis.causal.propensity import fit_propensity
from analysis.causal.regression import fit_regression
from analysis.causal.result import EffectResult, Fit
from analysis.seeds import int_seed, rng

METHODS = ("regression", "ipw", "aipw", "matching", "dml", "forest")
ESTIMANDS = ("ATE", "ATT")
DEFAULT_BOOTSTRAP = 200
"""Replicates used when a method has no analytic standard error and none were asked for."""
MATCHED_SHARE_MIN = 0.9
"""Matching gate: at least 90% of the target people must find a match within the caliper."""
Z95 = float(stats.norm.ppf(0.975))

_OPTIONS = {
    "regression": set(),
    "ipw": {"propensity_model"},
    "aipw": {"propensity_model", "n_folds", "clip"},
    "matching": {"propensity_model", "n_neighbors", "bias_correction", "propensity_adjustment"},
    "dml": {"nuisance", "n_folds"},
    "forest": {"nuisance", "n_folds", "n_estimators", "min_samples_leaf", "max_samples"},
}


def _fit(design: Design, method: str, estimand: str, seed: int, kw: dict) -> Fit:
    if method == "regression":
        return fit_regression(design, estimand=estimand, outcome_model=kw["outcome_model"])
    if method == "ipw":
        return fit_ipw(design, estimand=estimand, seed=seed, trim=kw["trim"], **kw["options"])
    if method == "aipw":
        return fit_aipw(
            design,
            estimand=estimand,
            seed=seed,
            trim=kw["trim"],
            outcome_model=kw["outcome_model"],
            **kw["options"],
        )
    if method == "matching":
        return fit_matching(
            design, estimand=estimand, seed=seed, caliper=kw["caliper"], **kw["options"]
        )
    if method == "dml":
        return fit_dml(design, estimand=estimand, seed=seed, **kw["options"])
    return fit_forest(design, estimand=estimand, seed=seed, n_jobs=kw["n_jobs"], **kw["options"])


def influence_se(psi: np.ndarray, cluster: np.ndarray | None = None) -> float:
    """Standard error from influence values; cluster-robust when ``cluster`` is given.

    ``var = sum_i psi_i^2 / n^2``; with clusters ``var = G / (G - 1) sum_g (sum_{i in g}
    psi_i)^2 / n^2`` (Liang & Zeger 1986).
    """
    n = len(psi)
    if cluster is None:
        return float(np.sqrt(np.sum(psi**2)) / n)
    sums = np.bincount(cluster, weights=psi)
    g = len(sums)
    return float(np.sqrt(g / (g - 1) * np.sum(sums**2)) / n)


def _resample(design: Design, gen: np.random.Generator) -> np.ndarray:
    """Bootstrap row positions: whole clusters, or rows within each treatment group."""
    if design.cluster is not None:
        ids = np.unique(design.cluster)
        pick = gen.choice(ids, size=len(ids), replace=True)
        order = np.argsort(design.cluster, kind="stable")
        starts = np.searchsorted(design.cluster[order], ids)
        ends = np.searchsorted(design.cluster[order], ids, side="right")
        return np.concatenate([order[starts[i] : ends[i]] for i in np.searchsorted(ids, pick)])
    parts = []
    for g in (0, 1):
        idx = np.flatnonzero(design.t == g)
        parts.append(gen.choice(idx, size=len(idx), replace=True))
    return np.concatenate(parts)


def _replicates(design, method, estimand, seed, kw, reps) -> list[float]:
    out = []
    for b in reps:
        idx = _resample(design, rng(seed, "bootstrap", b))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = _fit(design.subset(idx), method, estimand, int_seed(seed, "boot", b), kw)
            out.append(fit.estimate)
        except ValueError:
            out.append(np.nan)
    return out


def bootstrap_estimates(
    design: Design,
    method: str,
    estimand: str,
    seed: int,
    kw: dict,
    n_bootstrap: int,
    n_jobs: int | None = -1,
    progress: bool = False,
) -> np.ndarray:
    """Re-estimate on ``n_bootstrap`` resamples, in parallel with joblib.

    Replicate ``b`` always uses the stream ``rng(seed, "bootstrap", b)``, so the result
    does not depend on ``n_jobs``. Replicates that fail (e.g. a group too small in the
    resample) are NaN.
    """
    from joblib import Parallel, delayed

    chunk = max(1, n_bootstrap // 20)
    chunks = [range(s, min(s + chunk, n_bootstrap)) for s in range(0, n_bootstrap, chunk)]
    kw = {**kw, "n_jobs": 1}
    jobs = (delayed(_replicates)(design, method, estimand, seed, kw, c) for c in chunks)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    results = []
    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"bootstrap {method}", total=n_bootstrap)
            for part in runner(jobs):
                results.extend(part)
                bar.advance(task, len(part))
    else:
        for part in runner(jobs):
            results.extend(part)
    return np.asarray(results, float)


def _diagnostics(design: Design, fit: Fit, method: str, estimand: str, seed: int, kw: dict):
    """The gates of the design: balance, overlap and effective sample size.

    They are computed on the propensity model fitted to the whole analysis sample (its
    inverse-probability weights), whatever the estimator, so that every estimator of an
    outcome faces the same design check; ``ipw`` is judged on its own weights (the same
    model), ``matching`` on its matched sample. AIPW's cross-fitted propensities (which
    enter its scores) would judge the fold split rather than the design.
    """
    if method == "aipw" or fit.propensity is None or fit.weights is None:
        model = (
            kw["options"].get("propensity_model", "logistic") if method == "aipw" else "logistic"
        )
        e = fit_propensity(design.X, design.t, seed=int_seed(seed, "diagnostic"), model=model)
        e = np.clip(e, 1e-6, 1 - 1e-6)
        w = ipw_weights(design.t, e, estimand)
        if fit.keep is not None:
            w = w * fit.keep
    else:
        e, w = fit.propensity, fit.weights
    diag = weighting_diagnostics(
        design.X, design.t, design.columns, e, w, estimand, warnings=design.warnings
    )
    if method == "matching":
        share = float(fit.info["matched_share"])
        diag = diag.with_checks(
            Check(
                "matched_share",
                share,
                MATCHED_SHARE_MIN,
                share >= MATCHED_SHARE_MIN,
                f"share matched within the caliper >= {MATCHED_SHARE_MIN:.0%}",
            )
        )
    return diag, e, w


def outcome_scale(design: Design) -> tuple[float, float]:
    """Mean of the outcome in the comparison group and its SD in the sample.

    With an exposure (``design.per``) both are per unit of exposure: the comparison
    group's ratio ``r0 = sum(y) / sum(per)`` and the SD of the linearised per-person value
    ``(y - r per) / mean(per)`` (``r`` the whole sample's ratio), whose variance over ``n``
    is the variance of a ratio of means (delta method).
    """
    y, t = design.y, design.t
    if design.per is None:
        return float(y[t == 0].mean()), float(y.std(ddof=1))
    per = design.per
    r0 = float(y[t == 0].sum() / per[t == 0].sum())
    r = y.sum() / per.sum()
    return r0, float(((y - r * per) / per.mean()).std(ddof=1))


def _validate(method, estimand, n_bootstrap, outcome_model, trim, cluster, options):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if estimand not in ESTIMANDS:
        raise ValueError(f"estimand must be one of {ESTIMANDS}, got {estimand!r}")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise ValueError(f"n_bootstrap must be a non-negative integer, got {n_bootstrap!r}")
    if n_bootstrap < 0 or 0 < n_bootstrap < 20:
        raise ValueError(f"n_bootstrap must be 0 or at least 20, got {n_bootstrap}")
    unknown = set(options) - _OPTIONS[method]
    if unknown:
        raise ValueError(
            f"unknown option(s) for method={method!r}: {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(_OPTIONS[method])) or 'none'}"
        )
    if outcome_model != "linear" and method not in ("regression", "aipw"):
        raise ValueError("outcome_model applies to method='regression' and 'aipw' only")
    if trim is not None and method not in ("ipw", "aipw"):
        raise ValueError("trim applies to method='ipw' and 'aipw' only")
    check_trim(trim)
    if cluster is not None and method in ("matching", "dml") and n_bootstrap == 0:
        raise ValueError(
            f"cluster= with method={method!r} needs n_bootstrap > 0 (cluster bootstrap)"
        )


def estimate_effect(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    covariates,
    method: str = "aipw",
    estimand: str = "ATE",
    seed: int = 0,
    cluster: str | None = None,
    n_bootstrap: int = 0,
    outcome_model: str = "linear",
    trim: float | None = None,
    caliper: float | None = 0.2,
    n_jobs: int | None = -1,
    progress: bool = False,
    per: str | None = None,
    **options,
) -> EffectResult:
    """Estimate the effect of a binary treatment on an outcome, adjusting for covariates.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person; never modified.
    treatment : str
        Binary 0/1 (or boolean) column, e.g. program participation.
    outcome : str
        Numeric outcome (0/1 outcomes give risk differences).
    covariates : list of str
        Baseline confounders; string and categorical columns are one-hot encoded.
    method : {"regression", "ipw", "aipw", "matching", "dml", "forest"}
        ``aipw`` (cross-fitted doubly robust, the default), outcome ``regression``
        (Lin's interacted OLS or standardisation), ``ipw`` (stabilised weights),
        propensity ``matching`` (nearest neighbour with caliper), econml ``dml``
        (LinearDML) and ``forest`` (CausalForestDML; per-person effects in ``cate``).
    estimand : {"ATE", "ATT"}
        Average effect in everyone, or in the treated.
    seed : int
        Run seed; every fold split, model and resample derives from it.
    cluster : str or None
        Cluster column (e.g. household id) for cluster-robust standard errors.
    n_bootstrap : int
        Bootstrap replicates (0: analytic standard errors; otherwise at least 20).
        Resamples whole clusters when ``cluster`` is given, otherwise rows within groups.
    outcome_model : {"linear", "logistic", "two_part", "loglink"}
        Outcome model of ``regression`` and ``aipw``; ``two_part`` and ``loglink`` suit
        skewed non-negative costs.
    trim : float or None
        ``ipw``/``aipw``: leave out people with propensity outside ``[trim, 1 - trim]``.
    caliper : float or None
        ``matching``: caliper in standard deviations of the logit propensity.
    n_jobs : int or None
        Parallel workers for the bootstrap and the forest.
    progress : bool
        Show a progress bar during the bootstrap.
    per : str or None
        ``aipw`` and ``ipw``: an exposure column (e.g. enrolled months); the effect is then
        on the outcome per unit of exposure, a difference of ratios of means
        (``E[Y(1)] / E[per(1)] - E[Y(0)] / E[per(0)]`` in the target population, e.g. costs
        per member per month), and ``control_mean`` / ``outcome_sd`` in ``info`` are on
        that scale.
    **options
        Method options: ``propensity_model`` ("logistic", "gbm"), ``n_folds``, ``clip``,
        ``n_neighbors``, ``bias_correction``, ``nuisance`` ("linear", "gbm"),
        ``n_estimators``, ``min_samples_leaf``, ``max_samples``.

    Returns
    -------
    EffectResult
        Its diagnostics hold the gates of ``analysis.causal.overlap`` (balance after
        weighting or matching, extreme propensities, effective sample size; for
        ``regression``, ``dml`` and ``forest`` they are computed with inverse-probability
        weights from a logistic propensity model, or the forest's own propensities).

    Raises
    ------
    ValueError
        Bad input (missing values, non-binary treatment, groups under 10, perfect
        separation, unknown options), naming the column or parameter.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = np.random.default_rng(1); x = g.normal(size=400)
    >>> t = (g.random(400) < 1 / (1 + np.exp(-x))).astype(int)
    >>> df = pd.DataFrame({"t": t, "x": x, "y": 2 * t + x + g.normal(size=400)})
    >>> r = estimate_effect(df, treatment="t", outcome="y", covariates=["x"])
    >>> bool(abs(r.estimate - 2) < 0.5)
    True
    """
    _validate(method, estimand, n_bootstrap, outcome_model, trim, cluster, options)
    if per is not None and method not in ("aipw", "ipw"):
        raise ValueError(f"per= applies to method='aipw' and 'ipw' only, got method={method!r}")
    design = make_design(
        data,
        treatment=treatment,
        outcome=outcome,
        covariates=covariates,
        cluster=cluster,
        per=per,
    )
    check_outcome_model(outcome_model, design.y, outcome)
    kw = {
        "outcome_model": outcome_model,
        "trim": trim,
        "caliper": caliper,
        "n_jobs": n_jobs,
        "options": options,
    }
    fit = _fit(design, method, estimand, seed, kw)
    keep = fit.keep if fit.keep is not None else np.ones(design.n, bool)
    n_used = (int(design.t[keep].sum()), int((design.t[keep] == 0).sum()))
    if min(n_used) < MIN_GROUP_SIZE and (method != "matching" or n_used[0] < MIN_GROUP_SIZE):
        raise ValueError(
            f"after {'matching' if method == 'matching' else 'trimming'} only "
            f"{n_used[0]} treated and {n_used[1]} comparison people remain (fewer than "
            f"{MIN_GROUP_SIZE} in a group); relax trim or caliper"
        )
    info: dict = {}
    if fit.info.get("needs_bootstrap") and n_bootstrap == 0:
        n_bootstrap = DEFAULT_BOOTSTRAP
    if n_bootstrap:
        boot = bootstrap_estimates(
            design, method, estimand, seed, kw, n_bootstrap, n_jobs=n_jobs, progress=progress
        )
        ok = boot[np.isfinite(boot)]
        if len(ok) < 0.9 * n_bootstrap:
            raise ValueError(
                f"{n_bootstrap - len(ok)} of {n_bootstrap} bootstrap replicates failed; "
                "groups are too small for the bootstrap"
            )
        se = float(ok.std(ddof=1))
        ci = (float(np.quantile(ok, 0.025)), float(np.quantile(ok, 0.975)))
        info.update(
            se_type="cluster_bootstrap" if cluster else "bootstrap",
            bootstrap=ok,
            n_bootstrap_failed=int(n_bootstrap - len(ok)),
        )
    else:
        if fit.influence is not None:
            se = influence_se(fit.influence, design.cluster)
            se *= np.sqrt(fit.info.get("small_sample", 1.0))
            info["se_type"] = "cluster_robust" if cluster else "influence_function"
        else:
            se = float(fit.se)
            info["se_type"] = fit.info.get("analytic_se_type", "econml")
        ci = (fit.estimate - Z95 * se, fit.estimate + Z95 * se)
    if se > 0:
        z = fit.estimate / se
        p_value = float(2 * stats.norm.sf(abs(z)))
    else:
        z, p_value = np.nan, float(fit.estimate == 0)
    diag, e, w = _diagnostics(design, fit, method, estimand, seed, kw)
    if n_used[1] < MIN_GROUP_SIZE:
        note = f"only {n_used[1]} distinct comparison people were matched; suppress when publishing"
        diag = diag.with_checks(warnings=(note,))
    control_mean, outcome_sd = outcome_scale(design)
    info.update(
        fit.info,
        t_stat=float(z),
        df=float(fit.info.get("df", design.n - 1)),
        control_mean=control_mean,
        outcome_sd=outcome_sd,
        outcome_binary=design.outcome_is_binary,
        propensity=e,
        weights=w,
        estimator_propensity=fit.propensity,
        treatment_values=design.t,
        n_clusters=None if cluster is None else int(design.cluster.max() + 1),
        covariates=design.columns,
    )
    if design.per is not None:  # the treated's mean exposure (an ATT ratio's truth needs it)
        info["per_mean_treated"] = float(design.per[keep & (design.t == 1)].mean())
    info.pop("needs_bootstrap", None)
    return EffectResult(
        estimate=float(fit.estimate),
        se=float(se),
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        p_value=p_value,
        n_treated=n_used[0],
        n_control=n_used[1],
        method=method,
        estimand=estimand,
        outcome=outcome,
        treatment=treatment,
        diagnostics=diag,
        cate=fit.cate if method in ("dml", "forest") else None,
        info=info,
    )
