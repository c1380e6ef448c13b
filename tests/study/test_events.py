"""Community events on a small synthetic town: reach, suppression, and the association."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analysis.config import MIN_CELL_COUNT
from analysis.seeds import rng
from analysis.study import events as ev
from analysis.study.effects import COVARIATES

YEAR = 2023
NO_ASSOCIATION_TOL = 0.05
"""About three standard errors of the adjusted difference at n = 4,000."""


@pytest.fixture(scope="module")
def town(tmp_path_factory):
    from analysis.data import load_dataset
    from analysis.data.synthetic import simulate

    out = tmp_path_factory.mktemp("events") / "town"
    simulate(population=6_000, years=(2019, 2024), seed=7, uptake=10.0, out=out)
    d = load_dataset(out)
    return tuple(d.read(t) for t in ("enrollment", "program_offers", "program_enrollments",
                                     "events", "event_attendance"))  # fmt: skip


@pytest.fixture(scope="module")
def reach(town):
    return ev.events_reach(*town, YEAR)


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.replace(",", ""), errors="coerce")


def _fy_attendance(town) -> pd.DataFrame:
    enrollment, _, _, events, attendance = town
    d = pd.to_datetime(events["date"])
    fy = events[(d >= f"{YEAR}-04-01") & (d <= f"{YEAR + 1}-03-31")]
    return attendance[attendance["event_id"].isin(fy["event_id"])]


def _fy_attendees(town) -> set:
    return set(_fy_attendance(town)["person_id"])


def test_all_row_counts_attendees_among_adult_enrollees(town, reach):
    enrollment = town[0]
    start, end = pd.Timestamp(f"{YEAR}-04-01"), pd.Timestamp(f"{YEAR + 1}-03-31")
    stop = enrollment["enroll_end"].fillna(pd.Timestamp.max)
    e = enrollment[(enrollment["enroll_start"] <= end) & (stop >= start)]
    age = (end - e["birth_date"]).dt.days // 365.25
    adults = set(e.loc[age >= ev.MIN_AGE, "person_id"])
    total = reach[reach["dimension"] == "all"].iloc[0]
    assert _num(pd.Series([total["n_enrollees"]]))[0] == len(adults)
    assert _num(pd.Series([total["n_attendees"]]))[0] == len(_fy_attendees(town) & adults)
    for dim, block in reach.groupby("dimension"):
        n = _num(block["n_enrollees"])
        assert n.notna().all() and n.sum() == len(adults), dim


def test_rates_follow_from_shown_counts_and_small_counts_are_hidden(town, reach, small_differences):
    checked = 0
    for rate, den, num in (("reach", "n_enrollees", "n_attendees"),
                           ("repeat", "n_attendees", "n_repeat")):  # fmt: skip
        n, k = _num(reach[den]), _num(reach[num])
        ok = n.notna() & k.notna() & (n > 0)
        assert reach.loc[~ok, f"{rate}_pct"].isna().all()
        lo, hi = proportion_confint(k[ok], n[ok], method="wilson")
        np.testing.assert_allclose(reach.loc[ok, f"{rate}_pct"], 100 * k[ok] / n[ok])
        np.testing.assert_allclose(reach.loc[ok, f"{rate}_ci_low"], 100 * lo, atol=1e-9)
        np.testing.assert_allclose(reach.loc[ok, f"{rate}_ci_high"], 100 * hi, atol=1e-9)
        checked += int(ok.sum())
    assert checked >= 5
    counts = _num(reach[ev.COUNTS].astype(str).stack())
    assert ((counts == 0) | (counts >= MIN_CELL_COUNT) | counts.isna()).all()
    # nested counts: no shown difference (non-attendees, one-time attendees) of 1 to 9
    assert not small_differences(reach, ev.COUNTS)
    ids = set(town[0]["person_id"])
    assert not any(str(v) in ids for v in reach.to_numpy().ravel())


def test_summary_counts_events_and_hides_small_counts(town, reach):
    summary = ev.events_summary(*town, YEAR)
    d = pd.to_datetime(town[3]["date"])
    assert summary["n_events"] == int(((d >= f"{YEAR}-04-01") & (d < f"{YEAR + 1}-04-01")).sum())
    total = reach[reach["dimension"] == "all"].iloc[0]
    assert str(summary["n_attendees_nhi"]) == str(total["n_attendees"])
    assert "n_attendees_other" not in summary  # it would reveal a small count by subtraction
    few = _fy_attendance(town).tail(3)
    tiny = ev.events_summary(*town[:4], few, YEAR)
    assert tiny["n_attendances"] == f"<{MIN_CELL_COUNT}"


def _confounded(n: int, direct: float, seed: int = 5):
    """People whose baseline exercise habit drives both attendance and the habit next
    year; attendance itself adds ``direct`` to the probability of the habit."""
    g = rng(seed, "test", "events")
    df = pd.DataFrame({c: g.normal(size=n) for c in COVARIATES if c != "sex"})
    df["sex"] = g.choice(["F", "M"], n)
    df["exercise_habit"] = g.random(n) < 0.4
    df["person_id"] = [f"p{i}" for i in range(n)]
    df["treat"] = (g.random(n) < 0.1).astype(int)
    attended = g.random(n) < np.where(df["exercise_habit"], 0.5, 0.1)
    p = 0.2 + 0.5 * df["exercise_habit"] + direct * attended
    df["next_exercise_habit"] = (g.random(n) < p).astype(float)
    events = pd.DataFrame({"event_id": ["E1"], "date": [pd.Timestamp(f"{YEAR}-06-10")]})
    attendance = pd.DataFrame({"event_id": "E1", "person_id": df.loc[attended, "person_id"]})
    return df, events, attendance


@pytest.mark.parametrize("direct", [0.0, 0.15])
def test_adjustment_removes_the_confounding_by_baseline_habit(direct):
    df, events, attendance = _confounded(4_000, direct)
    table, adjusted = ev.attendance_association(df, events, attendance, YEAR, seed=1)
    share = table.set_index("group")["share_with_habit"]
    assert share["attended"] - share["not_attended"] > direct + 0.1  # confounded raw gap
    assert adjusted["estimate"] == pytest.approx(direct, abs=NO_ASSOCIATION_TOL)
    assert adjusted["ci_low"] < adjusted["estimate"] < adjusted["ci_high"]
    assert adjusted["covariates"] == ev.ASSOCIATION_COVARIATES and "treat" in adjusted["covariates"]


def test_a_small_attendee_group_gives_no_adjusted_difference():
    df, events, attendance = _confounded(400, 0.0)
    table, adjusted = ev.attendance_association(df, events, attendance.head(4), YEAR, seed=1)
    assert adjusted["estimate"] is None and adjusted["error"]
    assert adjusted["n_attended"] == f"<{MIN_CELL_COUNT}"
    rows = table.set_index("group")
    assert rows.loc["attended", "n"] == f"<{MIN_CELL_COUNT}"
    # the other group is hidden too: the two add up to the published cohort size
    assert rows.loc["not_attended", "n"] == "x" and adjusted["n_not_attended"] == "x"
    assert rows["share_with_habit"].isna().all()


def test_reach_figure_has_a_bar_per_shown_group_and_redraws_in_english(reach):
    import matplotlib.pyplot as plt

    ax = ev.plot_events_reach(reach, lang="ja")
    shown = pd.to_numeric(reach["reach_pct"], errors="coerce").notna()
    heights = [p.get_width() for p in ax.patches if p.get_width() > 0]
    np.testing.assert_allclose(sorted(heights), sorted(reach.loc[shown, "reach_pct"]))
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "全体" and len(labels) == len(reach)
    en = ax.figure.redraw_in("en")
    assert [t.get_text() for t in en.get_yticklabels()][0] == "All"
    plt.close("all")
