"""Simulated designs of the causal bench: their truths, and estimators recovering them."""

import numpy as np
import pytest

from analysis.causal import benchmark as bench

# Large samples; each tolerance is about 4 standard errors of the mean of two estimates.
LARGE = {"iv": 60_000, "did": 12_000, "rd_sharp": 60_000, "survival_hr": 8_000}
TOLERANCE = {
    "iv LATE": 25.0,
    "did ATT(3,5)": 0.1,
    "did event e=1": 0.1,
    "did overall": 0.1,
    "rd sharp": 0.15,
    "survival log HR (IPTW Cox)": 0.12,
}


def test_did_cohort_shares_match_the_population_truth():
    df = bench.simulate_staggered(40_000, seed=1).drop_duplicates("id")
    early = (df.start == bench.DID_START_EARLY).mean()
    late = (df.start == bench.DID_START_LATE).mean()
    assert early == pytest.approx(bench.DID_EARLY_SHARE, abs=0.01)
    assert late == pytest.approx(bench.DID_LATE_SHARE, abs=0.01)


def test_survival_potential_times_give_the_planted_rmst_difference():
    # Everyone treated vs nobody treated, no censoring: RMST(tau) by simulation.
    g = np.random.default_rng(0)
    u = g.uniform(size=400_000)
    rmst = [
        np.minimum(-np.log(u) / (bench.SURV_RATE * hr), bench.SURV_TAU).mean()
        for hr in (bench.SURV_HR, 1.0)
    ]
    truth = bench.DESIGNS["survival_rmst"].truths["survival RMST diff (IPTW)"]
    assert rmst[0] - rmst[1] == pytest.approx(truth, abs=0.01)


def test_naive_participant_comparison_is_biased_in_the_letter_design():
    # always-takers walk 1,600 steps more: the naive difference is about 871, not 500
    df = bench.simulate_letter(60_000, seed=2)
    naive = df.steps[df.joined == 1].mean() - df.steps[df.joined == 0].mean()
    assert naive - bench.IV_LATE > 250


@pytest.mark.parametrize("design", sorted(LARGE))
def test_design_estimators_recover_planted_effects_in_large_samples(design):
    table = bench.run_designs([design], n_rep=2, seed=3, sizes={design: LARGE[design]})
    assert list(table.columns[:3]) == ["design", "n", "method"]
    assert set(table["method"]) == set(bench.DESIGNS[design].truths)
    assert (table["n"] == LARGE[design]).all() and (table["n_failed"] == 0).all()
    for row in table.itertuples():
        assert abs(row.bias) < TOLERANCE[row.method], row.method


def test_unknown_design_is_an_error():
    with pytest.raises(ValueError, match="unknown design"):
        bench.run_designs(["synth"], n_rep=2)
