"""The data dictionary (``data/README.md``), generated from the table contract.

Regenerate after a contract change with::

    python -m analysis.data.synthetic.dictionary data/README.md

A test checks that the committed file equals the generated text.
"""

from __future__ import annotations

from analysis.data.contract import CONTRACT_VERSION, TABLES, Column

_HEADER = f"""# Data dictionary (table contract v{CONTRACT_VERSION})

A dataset is a directory with one Parquet file per table and `dataset.json` (name,
source, creation date, generator and seed for synthetic data, row counts, SHA-256 of
every file). Identifiers are pseudonymous strings; dates are ISO dates; money is yen
(int) and claim points (点数) are kept too (1 point = 10 yen). Fiscal years run April to
March (令和5年度 = FY2023 = 2023-04-01 to 2024-03-31).

This file is generated from `analysis.data.contract` by
`python -m analysis.data.synthetic.dictionary data/README.md`; do not edit it by hand.
Generated datasets (`data/synthetic/`, imported data) are not committed.
"""

_SYNTHETIC = """
## The synthetic municipality

`mvm-eval simulate` (Python: `analysis.data.simulate`) writes a synthetic NHI population
of a city of `--population` residents (default 70,000, a Kashima-sized city) for the
fiscal years `--years` (default 2019-2024), with planted program effects. It is the
default dataset: the toolkit runs, is tested and can be checked against a known truth
without any confidential data. Every figure it is calibrated to is listed, with its
source and tolerance, in `analysis.data.synthetic.calibration.TARGETS`; a test compares
the default city with them.

How it is generated, in order:

1. **People.** NHI enrollees are about {nhi_share:.0%} of residents, ages 0-74 skewed to 60-74
   (40-45% aged 65-74; single-year ages change smoothly, without steps at 5-year edges).
   New enrollees join during the window (retirement at 60-64, job changes, births,
   moving in). People live in households (couples of similar age,
   children with a parent) that share part of a latent *health motivation*, which the
   data never shows.
2. **Natural health course.** Each person's BMI, waist, blood pressure, HbA1c and
   glucose, LDL, HDL, triglycerides, eGFR and urine protein are age- and sex-specific
   means plus a standardised latent vector, jointly correlated across factors and
   persistent from year to year (a stationary AR(1) process). Diabetes, hypertension,
   dyslipidaemia and CKD are diagnosed once the factors cross clinical thresholds, more
   often with age; a diagnosed person takes the drug with a probability that rises with
   age (few people in their 40s), and some stop and restart (about 90% of those on a drug
   one year are on it the next), so a diagnosis code often comes without the drug. A
   small group has progressive kidney disease. Smoking, exercise habit and walking habit
   follow published rates by sex and age and are personal habits (answers persist from
   year to year); motivation raises exercise.
   The course (with checkup attendance and dialysis) is run for {burn_in} years before
   the first output year without writing anything, so that the first year is already
   at steady state (checkup persistence, patients on dialysis, cancers in treatment).
3. **Severe events and death.** Each fiscal year a severe event (cerebral infarction or
   haemorrhage, myocardial infarction, heart-failure admission, or dialysis start for
   advanced CKD) occurs with a hazard driven by age, sex, smoking, glycaemia, blood
   pressure, lipids, kidney function, earlier events and motivation (at 40-74 about 2.2
   stroke admissions per 1,000 person-years, a quarter of them haemorrhages, 0.85
   myocardial infarctions, 1.25 heart-failure admissions). The true log hazard per person
   and year is in `truth_risk.parquet` (`linear_predictor`; `program_log_hr` is the
   planted program term). Death comes from events (case fatality), cancer, dialysis
   (about 11% a year) or other causes (at 70-74 about 20 per 1,000 men and 9 per 1,000
   women a year, as in the vital statistics). About two in three deaths follow a
   terminal hospital stay (inpatient claims at about 50,000 yen a day up to the death);
   the rest are sudden or at home.
4. **Enrollment spells.** Spells end at the 75th birthday (`age75`, 後期高齢者医療),
   on moving away or joining employee insurance (drawn per household; less often for the
   sick and people with high costs), on starting public assistance (`other`, 生活保護;
   far more often with a mental disorder, on dialysis or with high costs), or at death;
   people who left for employee insurance may rejoin (a new spell). `death_date` is
   filled only on a spell ended by death: the insurer does not learn of deaths after
   a person has left.
5. **Checkups (特定健診).** Enrollees aged 40-74 attend with a strongly persistent
   propensity (about 38% a year; 33.7% in FY2020, the COVID-19 year, held later in the
   year), less often when sick (cancer, mental disorders, earlier events, dialysis, high
   costs, regular care for a lifestyle disease), so non-attenders cost about 1.5 times
   as much as attenders. Values are the natural course plus program effects plus
   measurement noise. Items are sometimes missing (1-3% each for laboratory, urine and
   questionnaire items, rarely body measurements; LDL when triglycerides are 400 mg/dL or
   more); 40% of checkups have no fasting glucose (HbA1c only).
6. **Programs.** In the pilot years FY2021-22 a small random share of eligible people
   get a letter (FY2021 in January 2022, after the November 2021 agreement; other years
   in mid-May); from FY2023 everyone aged 40-74 with a checkup in the last three fiscal
   years (from FY2019 on; a window that starts later reads the latest burn-in checkup,
   which is not written) who never took part. A noisy predicted 5-year risk
   (`risk_score`) from the latest checkup is cut sharply: high tier → Mystar offer, low
   and middle → Vitality offer (so a regression discontinuity at the cutoff is a valid
   design). Letters are
   randomised (plain or nudge). Uptake depends on the letter and on what the city
   records before the offer: age, sex and the latest checkup's exercise habit, walking
   habit, smoking and blood-pressure and glucose medication (exercisers join far more
   often, people on medication less often). Those habits persist and medication means
   higher costs, so naive participant/non-participant comparisons are biased, while
   participation would be ignorable given the recorded baseline but for a modest direct
   effect of the unobserved motivation on uptake (`--hidden-confounding`, default 0.4
   log-odds per SD), as on real data: adjusted estimates are a little biased and the
   sensitivity analyses have something to bound. `--hidden-confounding 0` makes
   participation ignorable given the record, for checks of the estimators (`truth.json`
   → `selection` says which applies). By default FY2023 has about 64
   Vitality and 15 Mystar participants for 70,000 residents, growing later;
   `--uptake` multiplies the odds of taking part.
7. **Program data.** Vitality: weekly steps from a wearable for up to {baseline_weeks} weeks
   before (some participants have none), the {vitality_weeks} program weeks and after the program
   until the participant stops wearing it. Usual steps differ widely between people (SD
   about 3,500), weekly means fluctuate (SD about 1,200) and follow the season; some weeks
   are missing, 0 (synced but not worn) or low (worn on a few days).
   Mystar: 6 months, up to 6 interview sessions, completion = 5 or more.
   Sports-community events from the first program year, on a monthly schedule, in
   number proportional to the population (12 a year for 70,000 residents; a small town
   has fewer, at least 4 a year; a large city several a month), with attendance per
   resident independent of their number, higher among the motivated and recent
   participants.
8. **Claims (レセプト).** One claim per person, month and setting when care occurs.
   About 10-15% of enrollees aged 40-74 have no claim in a year (more among younger
   men without chronic conditions) and about half see a dentist. Costs are lognormal
   around means driven by age and conditions, times a persistent personal cost level;
   cancer treatment varies widely in cost, a few people take specialty drugs (biologics
   and the like) and strokes are followed by months of inpatient rehabilitation, so the
   tail is heavy (the top 1% of person-years hold about a quarter of the cost, the top
   10% about 60%). Admissions follow severe events, cancer, long psychiatric stays
   (mostly schizophrenia, F20) and terminal stays; other admissions have realistic
   reasons (cataract, colon polyps, angina, gallstones, pneumonia, fractures ...); FY2020
   has about 8% fewer days of care (COVID-19); dialysis is
   a monthly outpatient claim with procedure J038 (about 5 M yen a patient-year with the
   other care). Medical claims list ICD-10 codes without the dot (E11x diabetes, I10,
   E78x, N18x, I63x, I21x, I50x, C.., F..); pharmacy claims carry no diagnoses, as in
   real 調剤レセプト.

Planted effects (defaults in `analysis.data.synthetic.Effects`; definitions and the
values realised among participants in `truth.json`): Vitality on steps (during the
program, decaying after), on next-year exercise habit and on costs; Mystar on HbA1c,
SBP, weight, severe-event hazard and costs over the following years; heterogeneity by
age (Vitality), risk tier (Vitality) and baseline risk score (Mystar); the nudge letter's
effect on uptake. Each effect acts through its own term and every stage draws from its
own random stream, so switching one effect to zero moves only its outcome, for the same
people.

Determinism: all randomness derives from `--seed`; the same arguments give
byte-identical files (`dataset.json` records the data cut as its creation date).
Residents are processed in independent chunks of {chunk:,} (fewer for windows longer
than six years), so a prefecture-sized run (`--population 3000000`) streams to disk
with bounded memory.

### Extra files of a synthetic dataset

| file | content |
|---|---|
| `truth.json` | planted effect sizes with unit and definition; realised effects by program and fiscal year (participants, ATT of steps, checkup values, cost change in yen) |
| `truth_risk.parquet` | `person_id`, `fiscal_year`, `linear_predictor` (true log annual hazard of a severe event, without program effects), `program_log_hr` (planted program term), for every person-year enrolled |
| `truth_participants.parquet` | one row per program enrollment: `person_id`, `fiscal_year`, `program`, the change in the participant's claim costs over the 12 months from the start month (`cost_change_yen_12m`) and over the whole program cost window (`cost_change_yen_window`), the change in the probability of an exercise habit at the next year's checkup (`exercise_habit_effect`), the Mystar checkup-effect multiplier (`lab_effect_multiplier`) and the Vitality step effect (`steps_effect`): the truth of any estimand on any subset of participants |
"""


COUNT_UNITS = {"claims.days": "日", "program_enrollments.sessions": "回"}
"""Units of count columns that the contract does not state (``table.column`` → unit)."""
UNITLESS = {
    "checkups.fiscal_year",
    "checkups.urine_protein",
    "program_offers.fiscal_year",
    "program_offers.risk_score",
    "program_enrollments.fiscal_year",
}
"""Numeric columns without a unit: fiscal years, the dipstick grade, a probability."""


def unit(table: str, c: Column) -> str:
    """Unit of a column as the dictionary prints it (the contract's, else :data:`COUNT_UNITS`)."""
    return c.unit or COUNT_UNITS.get(f"{table}.{c.name}", "")


def _range(c: Column) -> str:
    if c.allowed:
        return ", ".join(f"`{a}`" for a in c.allowed)
    lo = "" if c.min is None else f"{c.min:g}"
    hi = "" if c.max is None else f"{c.max:g}"
    return f"{lo}–{hi}" if lo or hi else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """The full text of ``data/README.md``."""
    parts = [_HEADER, "\n## Tables\n"]
    for t in TABLES.values():
        parts.append(f"\n### `{t.name}` ({t.ja})\n\n{t.description}\n")
        key = ", ".join(f"`{k}`" for k in t.primary_key)
        parts.append(f"\nPrimary key: {key}.")
        if t.references:
            refs = "; ".join(f"`{k}` → `{v}`" for k, v in t.references.items())
            parts.append(f" References: {refs}.")
        parts.append("\n\n| column | 項目名 | label | type | unit | null | values | meaning |\n")
        parts.append("|---|---|---|---|---|---|---|---|\n")
        for c in t.columns:
            parts.append(
                f"| `{c.name}` | {_cell(c.ja)} | {_cell(c.en)} | {c.kind} | {_cell(unit(t.name, c))} | "
                f"{'yes' if c.nullable else 'no'} | {_cell(_range(c))} | "
                f"{_cell(c.description)} |\n"
            )
    from analysis.data.synthetic.chunk import BURN_IN_YEARS
    from analysis.data.synthetic.city import CHUNK_RESIDENTS
    from analysis.data.synthetic.population import NHI_SHARE
    from analysis.data.synthetic.programs import BASELINE_WEEKS, VITALITY_WEEKS

    parts.append(
        _SYNTHETIC.format(
            nhi_share=NHI_SHARE,
            chunk=CHUNK_RESIDENTS,
            burn_in=BURN_IN_YEARS,
            baseline_weeks=BASELINE_WEEKS,
            vitality_weeks=VITALITY_WEEKS,
        )
    )
    return "".join(parts)


def write(path) -> None:
    """Write the data dictionary to ``path`` (UTF-8)."""
    from pathlib import Path

    Path(path).write_text(render(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python -m analysis.data.synthetic.dictionary data/README.md")
    write(sys.argv[1])
