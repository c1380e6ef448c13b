"""The modelling table: first severe event, competing death, censoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.risk.table import DAYS_PER_YEAR, SEVERE_EVENTS, risk_table


def _outcomes():
    rows = {
        # person: {event: days} for events that happened; follow-up end or death day
        "a": ({"stroke": 400, "mi": 200}, None, 1000),  # first event MI at 200
        "b": ({}, 300, 300),  # died at 300 without an event: competing
        "c": ({}, None, 900),  # censored at 900
        "d": ({"dialysis": 100}, 500, 500),  # event before death: death not competing
    }
    recs = []
    for pid, (events, death, end) in rows.items():
        r = {"person_id": pid}
        for e in SEVERE_EVENTS:
            r[f"{e}_event"] = e in events
            r[f"{e}_days"] = events.get(e, death if death is not None else end)
        r["death_event"] = death is not None
        r["death_days"] = death if death is not None else end
        recs.append(r)
    return pd.DataFrame(recs)


def test_first_event_and_competing_death():
    base = pd.DataFrame(
        {"person_id": list("abcd"), "index_date": pd.to_datetime(["2021-03-31", "2021-04-01",
                                                                  "2022-10-01", "2020-10-01"]),
         "cost_total_prior": [0, 10, 100, 1000]}
    )  # fmt: skip
    out = risk_table(base, _outcomes()).set_index("person_id")
    assert np.allclose(out.time_years * DAYS_PER_YEAR, [200, 300, 900, 100])
    assert out.event.tolist() == [True, False, False, True]
    assert out.death.tolist() == [False, True, False, False]
    assert out.fiscal_year.tolist() == [2020, 2021, 2022, 2020]
    assert out.log_cost_total_prior.iloc[0] == 0.0


def test_mismatched_people_and_missing_columns():
    base = pd.DataFrame({"person_id": list("abcz")})
    with pytest.raises(ValueError, match="different people"):
        risk_table(base, _outcomes())
    with pytest.raises(ValueError, match="mi_days"):
        risk_table(base, _outcomes().drop(columns="mi_days"))
