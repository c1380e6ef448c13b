"""Standard errors match the sampling spread of their estimates.

For each estimator, replications of a simulated design give estimates and standard
errors; the mean SE over the Monte Carlo SD of the estimates must lie in
:data:`SE_RATIO_RANGE`. Each test also shows the check has teeth: the same replications
with every SE multiplied by 0.6 or by 1.6 fail it.

The designs have a fixed (population) true effect and moderate overlap, so the SD of the
estimates is the target of the SE. With R replications the SD itself has a relative error
of about ``1 / sqrt(2 (R - 1))``: 9% at 60, 5% at 200; the cheap estimators get more
replications.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

SE_RATIO_RANGE = (0.85, 1.2)
"""Mean SE / SD of the estimates: calibrated within Monte Carlo error."""
SHRINK, INFLATE = 0.6, 1.6
"""SEs multiplied by these must fail the check."""

pytestmark = pytest.mark.slow


def calibrated(estimates, ses) -> tuple[bool, float]:
    """Whether mean SE / SD(estimates) lies in :data:`SE_RATIO_RANGE`, and the ratio."""
    est, se = np.asarray(estimates, float), np.asarray(ses, float)
    ok = np.isfinite(est) & np.isfinite(se)
    ratio = float(se[ok].mean() / est[ok].std(ddof=1))
    return SE_RATIO_RANGE[0] < ratio < SE_RATIO_RANGE[1], ratio


def _effect(method, estimand, n, reps, **kw):
    from analysis.causal.estimate import estimate_effect
    from analysis.causal.plasmode import simulate_confounded

    out = []
    for b in range(reps):
        df = simulate_confounded(n, 3, effect=1.0, seed=7000 + b)
        r = estimate_effect(df, treatment="t", outcome="y", method=method, estimand=estimand,
                            covariates=["x0", "x1", "x2", "region"], seed=b, n_jobs=1, **kw)  # fmt: skip
        out.append((r.estimate, r.se))
    return out


def _cox(n, reps):
    from analysis.causal.benchmark import simulate_event_times
    from analysis.causal.survival import weighted_cox

    out = []
    for b in range(reps):
        r = weighted_cox(simulate_event_times(n, 7000 + b), duration="days", event="event",
                         treatment="t", weights="ipw", covariates=["risk"], seed=b)  # fmt: skip
        out.append((float(np.log(r.estimate)), r.se))
    return out


def _rmst(n, reps):
    from analysis.causal.benchmark import SURV_TAU, simulate_event_times
    from analysis.causal.survival import rmst_difference

    out = []
    for b in range(reps):
        r = rmst_difference(simulate_event_times(n, 7000 + b), duration="days", event="event",
                            treatment="t", tau=SURV_TAU, weights="ipw", covariates=["risk"],
                            seed=b, n_bootstrap=100)  # fmt: skip
        out.append((r.estimate, r.se))
    return out


def _did(n, reps):
    from analysis.causal.benchmark import simulate_staggered
    from analysis.causal.did import did_effect

    out = []
    for b in range(reps):
        r = did_effect(simulate_staggered(n, 7000 + b), unit="id", time="month", outcome="cost",
                       first_treated="start", covariates=["x"], n_bootstrap=0)  # fmt: skip
        out.append((r.estimate, r.se))
    return out


def _did_costs(n, reps):
    from analysis.causal.benchmark import simulate_monthly_costs
    from analysis.causal.did import did_effect

    out = []
    for b in range(reps):  # the truth is each sample's own: the estimates' errors are used
        df, truth = simulate_monthly_costs(n, 7000 + b)
        r = did_effect(df, unit="id", time="month", outcome="cost", first_treated="start",
                       n_bootstrap=0, base="pre_mean")  # fmt: skip
        out.append((r.estimate - truth, r.se))
    return out


CASES = {
    "aipw_att": lambda: _effect("aipw", "ATT", 1000, 200),
    "aipw_ate": lambda: _effect("aipw", "ATE", 1000, 200),
    "dml_att": lambda: _effect("dml", "ATT", 1000, 100),
    "forest_ate": lambda: _effect("forest", "ATE", 600, 60, n_estimators=100),
    "iptw_cox_log_hr": lambda: _cox(800, 60),
    "rmst_difference": lambda: _rmst(1000, 150),  # weights spread its estimates: more reps
    "did_overall": lambda: _did(600, 100),
    "did_costs_pre_mean": lambda: _did_costs(2700, 150),  # heavy-tailed monthly costs
}


@pytest.mark.parametrize("case", list(CASES))
def test_standard_error_is_calibrated(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est, se = (np.array(v) for v in zip(*CASES[case](), strict=True))
    ok, ratio = calibrated(est, se)
    print(f"{case}: {len(est)} replications, mean SE / SD = {ratio:.3f}")
    assert ok, f"{case}: mean SE / SD = {ratio:.3f}, outside {SE_RATIO_RANGE}"
    for factor in (SHRINK, INFLATE):
        bad, scaled = calibrated(est, factor * se)
        assert not bad, f"{case}: SEs x {factor} pass the check (ratio {scaled:.3f})"
