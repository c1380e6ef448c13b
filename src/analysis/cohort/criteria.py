"""Inclusion and exclusion criteria, each a named function ``Ibis table -> Ibis table``.

``annotate`` first adds to the start population every column the criteria read
(enrollment island around the index date, age, baseline checkup date, dialysis and
participation history); each criterion is then a plain filter, so that
``build_cohort`` can count the people remaining after every step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis

from analysis.cohort.claims import dialysis_months
from analysis.cohort.engine import source
from analysis.cohort.expr import FAR_FUTURE, age_years, first_row, left_join_all, month_ord
from analysis.cohort.spec import CohortSpec
from analysis.data.contract import RISK_TIER_LABELS

_FAR = ibis.date(FAR_FUTURE.year, FAR_FUTURE.month, FAR_FUTURE.day)


# ---- derived tables -----------------------------------------------------------------
def enrollment_islands(enrollment):
    """Merge enrollment spells into continuous islands.

    Spells that overlap or touch (the next starts the day after the previous ends) form
    one island. An open spell (``enroll_end`` null) ends on ``FAR_FUTURE``.

    Returns
    -------
    ibis.Table
        ``person_id, island_start, island_end``.
    """
    t = enrollment.select("person_id", "enroll_start", end=enrollment.enroll_end.fill_null(_FAR))
    order = ["enroll_start", "end"]
    running = ibis.window(group_by="person_id", order_by=order, preceding=None, following=0)
    t = t.mutate(reach=t.end.max().over(running))
    t = t.mutate(prev_reach=t.reach.lag().over(group_by="person_id", order_by=order))
    gap = t.prev_reach.isnull() | (t.enroll_start > t.prev_reach + ibis.interval(days=1))
    t = t.mutate(new_island=gap.cast("int64"))
    t = t.mutate(island=t.new_island.cumsum().over(group_by="person_id", order_by=order))
    return t.group_by(["person_id", "island"]).aggregate(
        island_start=t.enroll_start.min(), island_end=t.end.max()
    )


SPEC_COLUMNS = (
    "_cohort", "_fy", "_lookback", "_followup", "_age_min", "_age_max", "_in_tiers",
    "_ck_lo", "_ck_hi", "_washout_lo", "_followup_hi",
)  # fmt: skip
"""Columns ``spec_columns`` adds: a spec's parameters as values of its rows, so that the
start populations of several specs can be stacked and selected in one query."""


def spec_columns(t, spec: CohortSpec, cohort: int = 0) -> dict:
    """The ``SPEC_COLUMNS`` of the start population ``t`` of ``spec`` (cohort number
    ``cohort``): fiscal year, windows, age range, whether the offer's tier is kept, and
    the dates the criteria compare with (baseline-checkup start, wash-out start,
    follow-up end)."""

    def lit(v):
        return ibis.literal(v, type="int64")

    # Baseline checkups are read as of the offer (the treatment decision) for people
    # offered, so that no participant's baseline holds a checkup taken after the letter
    # (participants are indexed weeks later, at their program start).
    ck_hi = ibis.least(t.index_date, t.offer_date.fill_null(t.index_date))
    if spec.comparator == "offered" and spec.offered_tiers is not None:
        in_tiers = t.risk_tier.isin(list(spec.offered_tiers)).fill_null(False)
    else:
        in_tiers = ibis.literal(True)
    return {
        "_cohort": lit(cohort),
        "_fy": lit(spec.fiscal_year),
        "_lookback": lit(spec.lookback_months),
        "_followup": lit(spec.followup_months),
        "_age_min": lit(spec.age_min_years),
        "_age_max": lit(spec.age_max_years),
        "_in_tiers": in_tiers,
        "_ck_lo": ck_hi - ibis.interval(days=spec.baseline_checkup_days),
        "_ck_hi": ck_hi,
        "_washout_lo": t.index_date - ibis.interval(days=spec.washout_days),
        "_followup_hi": t.index_date + ibis.interval(days=spec.min_followup_days),
    }


def annotate(con, persons, dialysis=None, islands=None):
    """Add the columns the criteria read to the start populations.

    ``persons`` is a stack of start populations (``index.index_dates`` of each spec with
    its ``spec_columns``): a person may appear once per cohort (``_cohort``), each row
    with its own index date.

    Added columns: ``sex, birth_date,
    household_id`` (from the spell around the index date, else the latest spell starting
    before it), ``death_date``, ``island_start, island_end`` (the continuous-enrollment
    island containing the index date; null when not enrolled on it; ``FAR_FUTURE`` when
    open), ``age_years`` (at index), ``baseline_exam_date`` (latest checkup in the
    baseline window, strictly before the offer date for people offered, the decision to
    take part, else before the index date), ``dialysis_before_index`` and
    ``prior_participation``.

    ``dialysis`` (``claims.dialysis_months``) and ``islands`` (``enrollment_islands`` of
    the whole enrollment table) may be given cached, to share them between cohorts.
    """
    keys = ["person_id", "_cohort"]
    idx = persons.select(*keys, "index_date", "_ck_lo", "_ck_hi", "_fy")
    enrollment = source(con, "enrollment").semi_join(idx, "person_id")

    spells = enrollment.join(idx.select(*keys, "index_date"), "person_id")
    end = spells.enroll_end.fill_null(_FAR)
    covers = (spells.enroll_start <= spells.index_date) & (end >= spells.index_date)
    started = spells.enroll_start <= spells.index_date
    spells = spells.mutate(_covers=(~covers).cast("int8"), _started=(~started).cast("int8"))
    demo = first_row(
        spells, keys, [spells._covers, spells._started, ibis.desc(spells.enroll_start)]
    ).select(*keys, "sex", "birth_date", "household_id")
    deaths = enrollment.group_by("person_id").aggregate(death_date=enrollment.death_date.max())

    isl = enrollment_islands(enrollment) if islands is None else islands
    isl = isl.join(idx.select(*keys, "index_date"), "person_id")
    isl = isl.filter((isl.island_start <= isl.index_date) & (isl.island_end >= isl.index_date))
    isl = isl.select(*keys, "island_start", "island_end")

    ck = source(con, "checkups").join(idx.select(*keys, "_ck_lo", "_ck_hi"), "person_id")
    ck = ck.filter((ck.exam_date < ck._ck_hi) & (ck.exam_date >= ck._ck_lo))
    ck = first_row(ck, keys, [ibis.desc(ck.exam_date), ibis.desc(ck.fiscal_year)])
    ck = ck.select(*keys, baseline_exam_date=ck.exam_date)

    dialysis = dialysis_months(con) if dialysis is None else dialysis
    dia = dialysis.join(idx.select(*keys, "index_date"), "person_id")
    dia = dia.filter(dia.mo < month_ord(dia.index_date))
    dia = dia.select(*keys).distinct().mutate(dialysis_before_index=ibis.literal(True))

    prior = source(con, "program_enrollments").join(idx.select(*keys, "_fy"), "person_id")
    prior = prior.filter(prior.fiscal_year < prior._fy).select(*keys).distinct()
    prior = prior.mutate(prior_participation=ibis.literal(True))

    t = left_join_all(persons, (deaths,))
    t = left_join_all(t, (demo, isl, ck, dia, prior), keys=tuple(keys))
    return t.mutate(
        age_years=age_years(t.birth_date, t.index_date),
        dialysis_before_index=t.dialysis_before_index.fill_null(False),
        prior_participation=t.prior_participation.fill_null(False),
    )


# ---- criteria ------------------------------------------------------------------------
# Each criterion is a boolean condition on the annotated table (reading the spec's values
# from ``SPEC_COLUMNS``, so that one condition serves a stack of cohorts); the public
# functions below apply it as a filter. ``build_cohort`` counts all steps in one query from the
# conditions, so that an engine with a high cost per query (Spark) runs few of them.


def _in_offered_tiers(t, spec: CohortSpec):
    return t._in_tiers


def _alive_at_index(t, spec: CohortSpec):
    return t.death_date.isnull() | (t.death_date >= t.index_date)


def _enrolled_at_index(t, spec: CohortSpec):
    return t.island_start.notnull()


def _age_in_range(t, spec: CohortSpec):
    return t.age_years.between(t._age_min, t._age_max)


def _continuous_enrollment_before(t, spec: CohortSpec):
    return t.island_start <= t._washout_lo


def _continuous_enrollment_after(t, spec: CohortSpec):
    return t.island_end >= t._followup_hi


def _has_baseline_checkup(t, spec: CohortSpec):
    return t.baseline_exam_date.notnull()


def _no_dialysis_before_index(t, spec: CohortSpec):
    return ~t.dialysis_before_index


def _no_prior_participation(t, spec: CohortSpec):
    return ~t.prior_participation


def in_offered_tiers(t, spec: CohortSpec):
    """Keep offers whose risk tier is in ``spec.offered_tiers``."""
    return t.filter(_in_offered_tiers(t, spec))


def alive_at_index(t, spec: CohortSpec):
    """Exclude people who died before the index date (death on the index date stays)."""
    return t.filter(_alive_at_index(t, spec))


def enrolled_at_index(t, spec: CohortSpec):
    """Keep people with an NHI enrollment spell covering the index date."""
    return t.filter(_enrolled_at_index(t, spec))


def age_in_range(t, spec: CohortSpec):
    """Keep ages ``age_min_years``..``age_max_years`` (inclusive) at the index date."""
    return t.filter(_age_in_range(t, spec))


def continuous_enrollment_before(t, spec: CohortSpec):
    """Keep people enrolled without a gap from ``index - washout_days`` to the index date."""
    return t.filter(_continuous_enrollment_before(t, spec))


def continuous_enrollment_after(t, spec: CohortSpec):
    """Keep people enrolled without a gap from the index date to ``index + min_followup_days``."""
    return t.filter(_continuous_enrollment_after(t, spec))


def has_baseline_checkup(t, spec: CohortSpec):
    """Keep people with a checkup in ``[index - baseline_checkup_days, index)``."""
    return t.filter(_has_baseline_checkup(t, spec))


def no_dialysis_before_index(t, spec: CohortSpec):
    """Exclude people with a dialysis claim in any month before the index month."""
    return t.filter(_no_dialysis_before_index(t, spec))


def no_prior_participation(t, spec: CohortSpec):
    """Exclude people who took part in a program in an earlier fiscal year."""
    return t.filter(_no_prior_participation(t, spec))


@dataclass(frozen=True)
class Criterion:
    """One attrition step: a name, Japanese and English labels, and the filter."""

    name: str
    ja: str
    en: str
    apply: Callable

    def condition(self, t, spec: CohortSpec):
        """The boolean Ibis expression the filter keeps."""
        return _CONDITIONS[self.apply](t, spec)


def criteria(spec: CohortSpec) -> list[Criterion]:
    """The criteria a spec switches on, in the order they are applied."""
    s = spec
    out: list[Criterion] = []
    if s.comparator == "offered" and s.offered_tiers is not None:
        ja = "・".join(RISK_TIER_LABELS.get(t, {}).get("ja", t) for t in s.offered_tiers)
        en = ", ".join(RISK_TIER_LABELS.get(t, {}).get("en", t) for t in s.offered_tiers)
        out.append(
            Criterion("in_offered_tiers", f"リスク区分: {ja}", f"Risk tier: {en}", in_offered_tiers)
        )
    if s.exclude_death_before_index:
        out.append(
            Criterion(
                "alive_at_index",
                "基準日前の死亡を除外",
                "Excluded: died before index",
                alive_at_index,
            )
        )
    out.append(
        Criterion(
            "enrolled_at_index",
            "基準日に国保加入",
            "Enrolled in NHI on index date",
            enrolled_at_index,
        )
    )
    out.append(
        Criterion(
            "age_in_range",
            f"基準日の年齢 {s.age_min_years}–{s.age_max_years}歳",
            f"Age {s.age_min_years}-{s.age_max_years} at index",
            age_in_range,
        )
    )
    if s.washout_days > 0:
        out.append(
            Criterion(
                "continuous_enrollment_before",
                f"基準日前 {s.washout_days}日間 継続加入",
                f"Continuously enrolled {s.washout_days} days before index",
                continuous_enrollment_before,
            )
        )
    if s.min_followup_days > 0:
        out.append(
            Criterion(
                "continuous_enrollment_after",
                f"基準日後 {s.min_followup_days}日間 継続加入",
                f"Continuously enrolled {s.min_followup_days} days after index",
                continuous_enrollment_after,
            )
        )
    if s.require_baseline_checkup:
        out.append(
            Criterion(
                "has_baseline_checkup",
                f"基準日前 {s.baseline_checkup_days}日以内に健診受診",
                f"Checkup within {s.baseline_checkup_days} days before index",
                has_baseline_checkup,
            )
        )
    if s.exclude_dialysis_before_index:
        out.append(
            Criterion(
                "no_dialysis_before_index",
                "基準日前の透析を除外",
                "Excluded: dialysis before index",
                no_dialysis_before_index,
            )
        )
    if s.exclude_prior_participants:
        out.append(
            Criterion(
                "no_prior_participation",
                "過年度の事業参加者を除外",
                "Excluded: took part in an earlier year",
                no_prior_participation,
            )
        )
    return out


_CONDITIONS = {
    in_offered_tiers: _in_offered_tiers,
    alive_at_index: _alive_at_index,
    enrolled_at_index: _enrolled_at_index,
    age_in_range: _age_in_range,
    continuous_enrollment_before: _continuous_enrollment_before,
    continuous_enrollment_after: _continuous_enrollment_after,
    has_baseline_checkup: _has_baseline_checkup,
    no_dialysis_before_index: _no_dialysis_before_index,
    no_prior_participation: _no_prior_participation,
}
