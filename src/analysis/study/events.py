"""Sports-community events: whom they reach, and how attendance goes with exercise habits.

Reach: the NHI enrollees of the fiscal year who attended at least one event, and those who
came back (two or more events), by age band, sex, risk tier of the year's offer and
program participation, as shares of the group's enrollees with Wilson 95% intervals.
Association: the exercise habit at the next year's checkup of attendees and
non-attendees among the people offered Vitality, raw and adjusted for the pre-declared
baseline covariates and Vitality participation (:data:`ASSOCIATION_COVARIATES`). People
who choose to attend differ in ways no checkup records (motivation, time, health), so
the adjusted difference is an association, never an effect of the events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.data.contract import RISK_TIER_LABELS, RISK_TIERS
from analysis.report import publish
from analysis.risk.tiers import age_band
from analysis.seeds import int_seed
from analysis.study.cohort_step import SEX_EN, SEX_JA, checkup_population
from analysis.study.disclosure import suppress
from analysis.study.effects import COVARIATES, Outcome, attempt, complete_cases
from analysis.study.exercise import PROGRAMS
from analysis.study.reach import with_rates

MIN_AGE = 18
"""Events are for adults: enrollees from this age (at the end of the fiscal year) count."""
AGE_EDGES = (MIN_AGE, 40, 50, 60, 70, 75)
DIMENSIONS = {
    "all": ("全体", "All"),
    "age_band": ("年齢階級", "Age band"),
    "sex": ("性別", "Sex"),
    "risk_tier": ("リスク区分（案内時）", "Risk tier (at the offer)"),
    "participation": ("事業への参加", "Program participation"),
}
"""Dimensions of the events-reach table, in the order shown."""
NO_OFFER = ("事業の案内なし", "Not offered a program")
PARTICIPATION = {
    "vitality": (f"{PROGRAMS['vitality'][0]}に参加", f"Took part in {PROGRAMS['vitality'][1]}"),
    "mystar": (f"{PROGRAMS['mystar'][0]}に参加", f"Took part in {PROGRAMS['mystar'][1]}"),
    "offered": ("案内を受けたが不参加", "Offered, did not take part"),
    "none": NO_OFFER,
}
"""Groups of the participation dimension (the year's offers and enrollments)."""
COUNTS = ["n_enrollees", "n_attendees", "n_repeat"]
RATES = {"reach": ("n_enrollees", "n_attendees"), "repeat": ("n_attendees", "n_repeat")}
"""Each rate's (denominator, numerator) counts."""
EVENTS_REACH_COLUMNS = [
    "dimension", "dimension_ja", "dimension_en", "group", "group_ja", "group_en", *COUNTS,
    "reach_pct", "reach_ci_low", "reach_ci_high", "repeat_pct", "repeat_ci_low",
    "repeat_ci_high",
]  # fmt: skip
ASSOCIATION_COVARIATES = [*COVARIATES, "treat"]
"""Adjustment set of the attendance association: the pre-declared baseline covariates of
every effect estimate (which include the baseline exercise and walking habits) and
Vitality participation, which raises both attendance and the habit."""
HABIT = Outcome("next_exercise_habit", "翌年度の運動習慣あり", "Exercise habit next year",
                "（割合の差）", "(risk difference)", "logistic")  # fmt: skip


def event_fiscal_year(dates) -> pd.Series:
    """Fiscal year (April-March) of each date."""
    d = pd.to_datetime(pd.Series(dates))
    return d.dt.year - (d.dt.month < 4).astype(int)


def attendance_counts(events, attendance, fiscal_year: int) -> pd.Series:
    """Events attended in the fiscal year per person (``person_id`` index)."""
    ev = events.loc[event_fiscal_year(events["date"]).to_numpy() == fiscal_year, ["event_id"]]
    a = attendance.merge(ev, on="event_id", how="inner").drop_duplicates(["event_id", "person_id"])
    return a.groupby("person_id").size().rename("n_events")


def enrollee_frame(enrollment, offers, enrollments, events, attendance, fiscal_year: int):
    """The fiscal year's adult enrollees with their groups and event attendance.

    Person level: never published. Columns ``person_id``, ``age_band``, ``sex``,
    ``risk_tier`` (of the year's offer, ``"none"`` without one), ``participation``,
    ``n_events``.
    """
    empty = pd.DataFrame({"person_id": pd.Series(dtype=str), "fiscal_year": pd.Series(dtype=int)})
    pop = checkup_population(enrollment, empty, fiscal_year)
    pop = pop[pop["enrolled_in_year"] & (pop["age"] >= MIN_AGE)].copy()
    o = offers[offers["fiscal_year"] == fiscal_year].drop_duplicates("person_id")
    e = enrollments[enrollments["fiscal_year"] == fiscal_year].drop_duplicates("person_id")
    pop["age_band"] = age_band(pop["age"].astype(float), AGE_EDGES).to_numpy()
    pop["risk_tier"] = pop["person_id"].map(o.set_index("person_id")["risk_tier"]).fillna("none")
    took = pop["person_id"].map(e.set_index("person_id")["program"])
    offered = pop["person_id"].isin(o["person_id"])
    pop["participation"] = took.where(took.notna(), np.where(offered, "offered", "none"))
    n = attendance_counts(events, attendance, fiscal_year)
    pop["n_events"] = pop["person_id"].map(n).fillna(0).astype(int)
    return pop.reset_index(drop=True)


def _labels(dimension: str, group: str) -> tuple[str, str]:
    if dimension == "all":
        return DIMENSIONS["all"]
    if dimension == "age_band":
        lo, _, hi = group.partition("-")
        if group.endswith("+"):
            return f"{group[:-1]}歳以上", group
        return (f"{lo}〜{hi}歳" if hi else group), group
    if dimension == "sex":
        return SEX_JA.get(group, group), SEX_EN.get(group, group)
    if dimension == "risk_tier":
        if group == "none":
            return NO_OFFER
        lab = RISK_TIER_LABELS.get(group, {"ja": group, "en": group})
        return lab["ja"], lab["en"].capitalize()
    return PARTICIPATION.get(group, (group, group))


_ORDER = {
    "sex": ["M", "F"],
    "risk_tier": [*RISK_TIERS, "none"],
    "participation": list(PARTICIPATION),
}


def _block(pop: pd.DataFrame, dimension: str) -> pd.DataFrame:
    col = pop[dimension].astype(str) if dimension != "all" else pd.Series("all", index=pop.index)
    known = _ORDER.get(dimension, sorted(set(col)))
    groups = [g for g in known if g in set(col)] + sorted(set(col) - set(known))
    rows = []
    for g in groups:
        s = pop[col == g]
        ja, en = _labels(dimension, g)
        rows.append(dict(dimension=dimension, dimension_ja=DIMENSIONS[dimension][0],
                         dimension_en=DIMENSIONS[dimension][1], group=g, group_ja=ja,
                         group_en=en, n_enrollees=len(s),
                         n_attendees=int((s["n_events"] >= 1).sum()),
                         n_repeat=int((s["n_events"] >= 2).sum())))  # fmt: skip
    return with_rates(pd.DataFrame(rows), COUNTS, RATES)


def events_reach(enrollment, offers, enrollments, events, attendance, fiscal_year: int):
    """Reach of the year's community events among adult NHI enrollees, by group.

    ``n_attendees`` counts enrollees who attended at least one event of the fiscal year,
    ``n_repeat`` those who attended two or more; ``reach_pct`` is attendees per enrollee
    and ``repeat_pct`` repeat attendees per attendee (Wilson 95% intervals). Published:
    counts under 10 hidden within each dimension (its column totals are the "all" row).

    Returns
    -------
    pandas.DataFrame
        :data:`EVENTS_REACH_COLUMNS`.
    """
    pop = enrollee_frame(enrollment, offers, enrollments, events, attendance, fiscal_year)
    if pop.empty:
        raise ValueError(f"events: no adult NHI enrollees in FY{fiscal_year}")
    blocks = [_block(pop, d) for d in DIMENSIONS]
    return pd.concat(blocks, ignore_index=True)[EVENTS_REACH_COLUMNS]


def events_summary(enrollment, offers, enrollments, events, attendance, fiscal_year: int):
    """Key numbers of the year's events: events held, attendances, NHI attendees.

    ``n_attendances`` counts every attendance (open to every resident), ``n_attendees_nhi``
    the adult NHI enrollees of the year who attended and ``n_repeat`` those of them who
    came to two or more events. The number of other attendees is not given: with
    ``n_attendees_nhi`` it would reveal a small count by subtraction. Counts from 1 to 9
    are given as ``"<10"``.
    """
    fy = event_fiscal_year(events["date"]).to_numpy() == fiscal_year
    ids = set(events.loc[fy, "event_id"])
    a = attendance[attendance["event_id"].isin(ids)].drop_duplicates(["event_id", "person_id"])
    pop = enrollee_frame(enrollment, offers, enrollments, events, attendance, fiscal_year)
    n_nhi = int((pop["n_events"] >= 1).sum())
    raw = {"n_events": int(fy.sum()), "n_attendances": len(a), "n_attendees_nhi": n_nhi,
           "n_repeat": int((pop["n_events"] >= 2).sum())}  # fmt: skip
    out = {k: (f"<{MIN_CELL_COUNT}" if 0 < v < MIN_CELL_COUNT else v) for k, v in raw.items()}
    out["n_events"] = raw["n_events"]  # events are not people
    out["fiscal_year"] = int(fiscal_year)
    return out


def attendance_association(df: pd.DataFrame, events, attendance, fiscal_year: int, *, seed: int):
    """Exercise habit next year by event attendance: raw shares and the adjusted difference.

    ``df`` is the Vitality analysis frame (``analysis_frame`` with ``next_exercise_habit``).
    The difference (attended minus not, risk difference) comes from outcome regression on
    :data:`ASSOCIATION_COVARIATES` (``estimate_effect(method="regression")``); it is an
    association. Published: a group under 10 is hidden, and so is the other group (the two
    add up to a published total), with their shares.

    Returns
    -------
    (pandas.DataFrame, dict)
        The table (``group``, ``group_ja``, ``group_en``, ``n``, ``share_with_habit``) and
        the adjusted difference (``estimate``, ``ci_low``, ``ci_high``, ``n_attended``,
        ``n_not_attended``, ``covariates``, ``method``, ``error``).
    """
    from analysis.causal.estimate import estimate_effect

    n = attendance_counts(events, attendance, fiscal_year)
    d = complete_cases(df, HABIT.name)
    d = d.assign(attended=d["person_id"].isin(n.index).astype(int))
    rows = []
    for g, (ja, en) in ((1, ("イベント参加者", "Attended an event")),
                        (0, ("イベント非参加者", "Did not attend"))):  # fmt: skip
        s = d[d["attended"] == g]
        rows.append(dict(group="attended" if g else "not_attended", group_ja=ja, group_en=en,
                         n=len(s), share_with_habit=float(s[HABIT.name].mean())
                         if len(s) else np.nan))  # fmt: skip
    # the two groups add up to the cohort of the exercise effects (published there), so a
    # hidden group hides the other one too
    table = suppress(pd.DataFrame(rows), ["n"], known_totals="columns",
                     derived={"share_with_habit": ["n"]})  # fmt: skip
    shown = dict(zip(table["group"], table["n"], strict=True))
    a = attempt("events", HABIT, "regression", estimate_effect, d, treatment="attended",
                outcome=HABIT.name, covariates=ASSOCIATION_COVARIATES, method="regression",
                estimand="ATE", seed=int_seed(seed, "events", "association"))  # fmt: skip
    n1, n0 = int(d["attended"].sum()), int((d["attended"] == 0).sum())
    small = min(n1, n0) < MIN_CELL_COUNT
    r = a.result
    adjusted = {
        "estimate": float(r.estimate) if r is not None and not small else None,
        "ci_low": float(r.ci_low) if r is not None and not small else None,
        "ci_high": float(r.ci_high) if r is not None and not small else None,
        "n_attended": _plain(shown["attended"]),
        "n_not_attended": _plain(shown["not_attended"]),
        "covariates": list(ASSOCIATION_COVARIATES),
        "method": "regression",
        "error": "" if r is not None and not small else (a.error or "group under 10"),
    }
    return table, adjusted


def _plain(count) -> int | str:
    """A published count as JSON: a whole number when shown ("1,234" -> 1234), else its
    mark ("<10", "x")."""
    n = publish.shown_count(count)
    return str(count) if n is None else n


FIGURE_LABELS = {
    "ja": {"reach": "イベント参加率（%、95%信頼区間）", "hidden": "非表示（小さな人数の保護）"},
    "en": {"reach": "Reach (%, 95% CI)", "hidden": "hidden (small-count protection)"},
}  # fmt: skip
"""Labels of the events-reach figure."""


def plot_events_reach(table: pd.DataFrame, *, lang: str = "ja", ax=None):
    """Reach of the events by group: a seaborn bar per group with its Wilson 95% interval.

    Groups whose reach is hidden (a suppressed count) get no bar and say so. Returns the
    Axes (redrawable in the other report language).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    from analysis.report.i18n import check_lang, figure_labels, with_editions

    lab = figure_labels(FIGURE_LABELS, check_lang(lang))
    whole = table["dimension"] == "all"
    t = table.assign(
        label=(table[f"dimension_{lang}"] + ": " + table[f"group_{lang}"]).where(
            ~whole, table[f"group_{lang}"]
        ),
        reach=pd.to_numeric(table["reach_pct"], errors="coerce"),
    ).reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.3 * len(t) + 1.0))
    sns.barplot(data=t, x="reach", y="label", hue="dimension", dodge=False, legend=False,
                palette="muted", ax=ax, orient="h")  # fmt: skip
    shown = t["reach"].notna()
    lo = pd.to_numeric(t["reach_ci_low"], errors="coerce")
    hi = pd.to_numeric(t["reach_ci_high"], errors="coerce")
    ax.errorbar(t.loc[shown, "reach"], t.index[shown],
                xerr=[t.loc[shown, "reach"] - lo[shown], hi[shown] - t.loc[shown, "reach"]],
                fmt="none", ecolor="0.2", capsize=2, lw=0.8)  # fmt: skip
    for i in t.index[~shown]:
        ax.text(0, i, " " + lab["hidden"], va="center", fontsize="small", color="0.4")
    ax.set_xlabel(lab["reach"])
    ax.set_ylabel("")
    ax.set_xlim(left=0)
    ax.figure.tight_layout()
    return with_editions(ax, lang, lambda other: plot_events_reach(table, lang=other))
