"""The natural health course: joint correlation, persistence, absorbing diagnoses, hazards."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.synthetic.calendar import fy_start
from analysis.data.synthetic.health import dialysis_lp, natural_course, severe_lp
from analysis.seeds import rng

N = 20_000


@pytest.fixture(scope="module")
def course():
    r = np.random.default_rng(1)
    male = r.random(N) < 0.5
    birth = fy_start(2019) - (r.uniform(40, 74, N) * 365.25).astype(np.int64)
    u = r.normal(0, 1, N)
    mid = np.array([fy_start(fy) + 183 for fy in range(2019, 2025)])
    return male, u, natural_course(rng(1, "test-health"), male, birth, u, mid)


def test_risk_factors_are_jointly_correlated(course):
    _, _, h = course
    c = np.corrcoef([h.bmi[:, 0], h.sbp[:, 0], h.hba1c[:, 0], h.tg[:, 0], h.hdl[:, 0]])
    assert c[0, 1] > 0.1 and c[0, 2] > 0.1 and c[0, 3] > 0.15
    assert c[0, 4] < -0.15 and c[3, 4] < -0.2


def test_values_persist_from_year_to_year(course):
    _, _, h = course
    for x in (h.bmi, h.hba1c, h.egfr):
        assert np.corrcoef(x[:, 0], x[:, 1])[0, 1] > 0.85
        assert np.corrcoef(x[:, 0], x[:, 5])[0, 1] < np.corrcoef(x[:, 0], x[:, 1])[0, 1]


def test_diagnoses_are_absorbing_and_drugs_persistent_but_not_for_good(course):
    """A diagnosis stays; a drug is taken only with the diagnosis, and most who take it
    one year take it the next (about 90%), but some stop and some restart."""
    _, _, h = course
    for flag in (h.diabetes, h.hypertension, h.dyslipidaemia, h.ckd):
        assert (np.diff(flag.astype(int), axis=1) >= 0).all()
    for med, dx in ((h.glucose_med, h.diabetes), (h.bp_med, h.hypertension),
                    (h.lipid_med, h.dyslipidaemia)):  # fmt: skip
        assert (med <= dx).all()
        on, nxt = med[:, :-1], med[:, 1:]
        stay = nxt[on].mean()
        assert 0.8 < stay < 0.97, stay
        assert (on & ~nxt).any() and (~on & nxt & dx[:, :-1]).any()


def test_age_trends(course):
    male, _, h = course
    old, young = h.age[:, 0] >= 65, h.age[:, 0] < 50
    assert h.sbp[old, 0].mean() > h.sbp[young, 0].mean() + 5
    assert h.egfr[old, 0].mean() < h.egfr[young, 0].mean() - 10
    assert (h.hba1c[old, 0] >= 6.5).mean() > (h.hba1c[young, 0] >= 6.5).mean()
    assert h.smoker[male & young, 0].mean() > h.smoker[~male & young, 0].mean() + 0.1


def test_severe_event_hazard_rises_with_risk_factors(course):
    male, u, h = course
    lp = severe_lp(h, 0, male, u, np.zeros(N, bool))
    assert np.corrcoef(lp, h.age[:, 0])[0, 1] > 0.5
    assert lp[h.hba1c[:, 0] >= 6.5].mean() > lp[h.hba1c[:, 0] < 5.6].mean()
    assert (severe_lp(h, 0, male, u, np.ones(N, bool)) > lp).all()
    d = dialysis_lp(h, 0)
    assert d[h.egfr[:, 0] < 30].mean() > d[h.egfr[:, 0] >= 60].mean() + 2


def test_motivation_lowers_risk_and_raises_exercise(course):
    male, u, h = course
    lp = severe_lp(h, 0, male, u, np.zeros(N, bool))
    hi, lo = u > 1, u < -1
    assert lp[hi].mean() < lp[lo].mean()
    habit = h.exercise_u[:, 0] < h.exercise_p[:, 0]
    assert habit[hi].mean() > habit[lo].mean() + 0.1
