"""Risk model: recovery of a planted Cox truth, non-linear terms, PH checks, bad input."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analysis.risk import EPVWarning, fit_risk_model, temporal_validation
from analysis.risk.metrics import harrell_c

from .conftest import TRUE_BETA, simulate_cox

matplotlib.use("Agg")

FEATURES = ["x1", "x2", "x3", "sex"]
COEF_Z = 4.0
"""Estimated coefficients must lie within this many standard errors of the truth."""
ORACLE_RATIO = 0.98
"""Model C on fresh data must reach this share of the oracle's C (n = 4,000, linear truth)."""


def fit(df, **kw):
    return fit_risk_model(df, duration="time", event="event", features=FEATURES, **kw)


@pytest.fixture(scope="module")
def cox_model(cox_data):
    """One default Cox fit (with the PH test), shared by the read-only tests below."""
    return fit(cox_data)


def test_coefficients_recovered(cox_data):
    m = fit(cox_data, penalizer=1e-6, competing_event="death")
    p = m.params_
    for name, col in [("x1", "x1"), ("x2", "x2"), ("x3", "x3"), ("male", "sex[M]")]:
        sd = m.design_.scale_[m.design_.columns_.index(col)]
        assert abs(p.loc[col, "coef"] - TRUE_BETA[name] * sd) < COEF_Z * p.loc[col, "se"], name
    assert m.n_competing_ == int(cox_data.death.sum()) > 0
    assert m.n_events_ == int(cox_data.event.sum())


def test_penalty_shrinks(cox_data):
    free = fit(cox_data, penalizer=1e-6, ph_check=False).params_["coef"].abs()
    shrunk = fit(cox_data, penalizer=0.01, ph_check=False).params_["coef"].abs()
    assert (shrunk < free).all()


def test_discrimination_close_to_oracle_and_calibrated(cox_model):
    m = cox_model
    fresh = simulate_cox(4000, seed=12)
    ev = m.evaluate(fresh, horizons=(3, 5), by=["sex"])
    oracle = harrell_c(fresh.time, fresh.event, fresh.true_lp)
    assert ev.c_index >= ORACLE_RATIO * oracle
    row = ev.metrics.set_index("horizon").loc[3.0]
    assert 0.85 < row.calibration_slope < 1.15
    assert abs(row.calibration_intercept) < 0.15
    assert abs(row.observed_risk - row.mean_predicted_risk) < 0.02
    assert set(ev.subgroups.level) == {"F", "M"}
    assert len(ev.calibration) == 20 and ev.decision_curve.horizon.nunique() == 2


def test_predict_risk_consistent_with_lifelines(cox_data, cox_model):
    m = cox_model
    r = m.predict_risk(cox_data.iloc[:200], 3)
    X = m.design_.transform(cox_data.iloc[:200])
    ref = 1 - m.fit_.estimator.predict_survival_function(X, times=[3.0]).to_numpy().ravel()
    assert np.allclose(r.to_numpy(), ref, atol=2e-3)  # lifelines interpolates the baseline
    assert r.index.equals(cox_data.index[:200]) and r.name == "risk_3y"
    with pytest.raises(ValueError, match="horizon_years"):
        m.predict_risk(cox_data, 50)


def test_splines_capture_nonlinear_effect():
    train, test = simulate_cox(4000, 21, nonlinear=0.5), simulate_cox(4000, 22, nonlinear=0.5)
    linear = fit(train, ph_check=False).evaluate(test, horizons=(3,)).c_index
    spline = fit(train, spline_features=["x2"], ph_check=False).evaluate(test, horizons=(3,))
    assert spline.c_index > linear + 0.01
    assert spline.c_index >= ORACLE_RATIO * harrell_c(test.time, test.event, test.true_lp)


def test_ph_test_flags_time_varying_effect(cox_model):
    m = fit(simulate_cox(4000, 31, ph_violation=1.0))
    assert "x1" in m.ph_violations
    assert cox_model.ph_test_["p"].min() > 1e-4  # proportional truth: nothing flagged
    assert cox_model.ph_violations == []


def test_gbm_comparator_reasonable_and_deterministic():
    train, test = simulate_cox(800, 41), simulate_cox(2000, 42)
    opts = dict(n_estimators=40, max_depth=2)
    a = fit(train, model="gbm", seed=3, gbm_options=opts)
    b = fit(train, model="gbm", seed=3, gbm_options=opts)
    lp_a, lp_b = a.linear_predictor(test), b.linear_predictor(test)
    assert np.array_equal(lp_a, lp_b)
    oracle = harrell_c(test.time, test.event, test.true_lp)
    assert harrell_c(test.time, test.event, lp_a) > 0.9 * oracle
    r = a.predict_risk(test, 3)
    assert abs(r.mean() - a.evaluate(test, (3,)).metrics.observed_risk.iloc[0]) < 0.03


def test_summary_and_plot(cox_data, cox_model):
    m = cox_model
    m.evaluate(cox_data, horizons=(3,))
    s = m.summary()
    assert "events" in s._repr_markdown_() and "<table" in s._repr_html_()
    assert "Proportional-hazards" in str(s)
    ax = m.plot_calibration()
    assert ax.get_xlabel().startswith("Predicted 3-year")
    assert repr(m).startswith("<RiskModel model='cox'")
    assert m.evaluation_.plot_decision_curve() is not None


def test_horizon_beyond_follow_up_warns(cox_data, cox_model):
    m = cox_model
    short = cox_data.assign(
        time=np.minimum(cox_data.time, 4.0), event=cox_data.event & (cox_data.time <= 4.0)
    )
    with pytest.warns(UserWarning, match="horizon 5"):
        ev = m.evaluate(short, horizons=(3, 5))
    assert np.isnan(ev.metrics.set_index("horizon").loc[5.0, "harrell_c"])


def test_temporal_validation_splits_years(cox_data):
    tv = temporal_validation(cox_data, split_year=2021, duration="time", event="event",
                             features=FEATURES, horizons=(2, 3))  # fmt: skip
    assert tv.train_years == [2019, 2020] and tv.test_years == [2021, 2022]
    assert tv.model.n_ == int((cox_data.fiscal_year < 2021).sum())
    assert "Temporal validation" in str(tv.summary())
    with pytest.raises(ValueError, match="split_year"):
        temporal_validation(cox_data, split_year=2030, duration="time", event="event",
                            features=FEATURES)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "kw", "message"),
    [
        (lambda d: d.drop(columns="x3"), {}, "x3"),
        (lambda d: d.assign(x3=1.0), {}, "constant.*x3"),
        (lambda d: d.assign(x2=d.x2.mask(d.index < 5)), {}, "'x2' has 5 missing"),
        (lambda d: d.assign(event=False), {}, "no events"),
        (lambda d: d.assign(time=-d.time), {}, "'time'.*negative"),
        (lambda d: d.assign(event=d.event | d.death), {"competing_event": "death"}, "both"),
        (lambda d: d, {"model": "forest"}, "model must be"),
        (lambda d: d, {"spline_features": ["x9"]}, "x9"),
    ],
)
def test_bad_input(cox_data, change, kw, message):
    with pytest.raises(ValueError, match=message):
        fit(change(cox_data), ph_check=False, **kw)


def test_epv_warning_names_epv():
    small = simulate_cox(60, 51)
    with pytest.warns(EPVWarning, match=r"EPV\) = \d+\.\d < 10"):
        fit(small, ph_check=False)


def test_input_not_mutated(cox_data):
    before = cox_data.copy()
    m = fit(cox_data, spline_features=["x1"])
    m.evaluate(cox_data, horizons=(3,))
    pd.testing.assert_frame_equal(cox_data, before)


def test_no_warnings_on_clean_fit(cox_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EPVWarning)
        fit(cox_data, ph_check=False)


def test_design_encodes_object_bools_and_categories(cox_data):
    df = cox_data.assign(
        flag=(cox_data.x1 > 0).astype(object), grade=cox_data.sex.map({"F": "b", "M": "a"})
    )
    m = fit_risk_model(df, duration="time", event="event", features=["flag", "grade", "x2"],
                       ph_check=False)  # fmt: skip
    assert m.design_.columns_ == ["flag", "grade[b]", "x2"]  # "a" is the reference level
    assert m.to_frame().index.tolist() == ["flag", "grade[b]", "x2"]
    with pytest.raises(ValueError, match="unseen"):
        m.predict_risk(df.assign(grade="c"), 3)


def test_newton_backoff_retries_then_warns(cox_data, monkeypatch):
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning

    from analysis.risk import cox

    real_fit, steps = CoxPHFitter.fit, []

    def flaky_fit(self, *args, fit_options=None, **kw):
        steps.append(fit_options["step_size"])
        out = real_fit(self, *args, fit_options=fit_options, **kw)
        if fit_options["step_size"] > limit:
            msg = "Newton-Raphson failed to converge sufficiently"
            warnings.warn(msg, ConvergenceWarning, stacklevel=2)
        return out

    monkeypatch.setattr(CoxPHFitter, "fit", flaky_fit)
    limit = 0.3  # converges from the second step size on
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fit(cox_data, ph_check=False)
    assert steps == list(cox.STEP_SIZES[:2])
    steps.clear()
    limit = 0.0  # never converges
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit(cox_data, ph_check=False)
    assert steps == list(cox.STEP_SIZES)


def test_subgroup_calibration_slope_that_cannot_converge_is_nan_with_warning(cox_model):
    fresh = simulate_cox(3000, seed=14)
    early_events = fresh.index[fresh.event & (fresh.time <= 3)][:8]
    survivors = fresh.index[fresh.time > 3.5][:30]
    tiny = early_events.union(survivors)
    fresh["site"] = "main"
    # a tiny subgroup with identical covariates: a constant linear predictor, so the
    # one-covariate refit of the calibration slope has no solution
    fresh.loc[tiny, ["site", "x1", "x2", "x3", "sex"]] = ["tiny", 0.0, 0.0, 0.0, "M"]
    with pytest.warns(RuntimeWarning, match="subgroup site=tiny at 3 years"):
        ev = cox_model.evaluate(fresh, horizons=(3,), by=["site"])
    sub = ev.subgroups.set_index("level")
    assert sub.loc["tiny", "events"] >= 5
    assert np.isnan(sub.loc["tiny", "calibration_slope"])
    assert 0.7 < sub.loc["main", "calibration_slope"] < 1.3
    assert np.isfinite(ev.metrics.calibration_slope.iloc[0])
