"""One full chunk of residents: steady state from the first year (burn-in), long stays."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.data.synthetic.calendar import fy_start
from analysis.data.synthetic.chunk import simulate_chunk
from analysis.data.synthetic.claims import CODES
from analysis.data.synthetic.effects import Effects

FIRST, LAST = 2019, 2024
RESIDENTS = 50_000
"""One full chunk (about 11,000 enrollees at the start, 30-45 of them on dialysis)."""


@pytest.fixture(scope="module")
def chunk():
    return simulate_chunk(
        11, 0, RESIDENTS, FIRST, LAST, 1.0, Effects(), np.zeros(0, dtype=np.int64)
    )


def test_first_year_checkup_participation_is_like_later_years(chunk):
    birth = chunk.people.birth
    rates = []
    for t, fy in enumerate(range(FIRST, LAST + 1)):
        age = (fy_start(fy) + 183 - birth) / 365.25
        elig = chunk.in_window[:, t] & (age >= 40) & (age < 75)
        rates.append(100.0 * (chunk.checkups["fy"] == fy).sum() / elig.sum())
    # Sampling error of one year's rate is under 1 point; a cold start is 10+ points low.
    assert abs(rates[0] - np.mean(rates[1:])) < 3.0, rates
    assert 30.0 < np.mean(rates) < 45.0, rates


def test_dialysis_prevalence_has_no_trend(chunk):
    c = chunk.claims
    on = c["px_claim"][c["px_code"] == 0]  # J038 claims
    fy = c["month"][on] // 12
    person = c["person"][on]
    counts = np.array(
        [len(np.unique(person[fy == t])) for t in range(LAST - FIRST + 1)], dtype=float
    )
    mean = counts.mean()
    # Patients on dialysis in each fiscal year: steady (Poisson noise about sqrt(mean)),
    # not climbing from a near-empty start.
    assert 15 <= mean <= 45, counts
    assert counts[0] >= mean - 3 * np.sqrt(mean), counts
    slope = np.polyfit(np.arange(len(counts)), counts, 1)[0]
    assert abs(slope) < 0.1 * mean, counts


def test_long_psychiatric_stays_are_mostly_schizophrenia(chunk):
    c = chunk.claims
    prim = c["dx_primary"] & (c["setting"][c["dx_claim"]] == 0)
    code = np.array(CODES)[c["dx_code"][prim]]
    person = c["person"][c["dx_claim"][prim]]
    mental = np.char.startswith(code.astype(str), "F")
    people_f20 = np.unique(person[mental & (code == "F209")])
    people_f = np.unique(person[mental])
    assert len(people_f) >= 20
    # Schizophrenia dominates long psychiatric stays (Patient Survey: about 60%).
    assert len(people_f20) / len(people_f) > 0.5
    assert not (code == "F411").any()
