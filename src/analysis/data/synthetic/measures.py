"""Statistics of a dataset that the calibration targets compare with published figures.

Each function reads what a researcher with the tables would read (no generator
internals) and returns ``(value, n)``: the statistic in the unit of its target and the
number of units it rests on. ``Frames`` reads each table once for all of them.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from analysis.data.synthetic.checkups import QUESTIONNAIRE

ADMISSION_GROUPS: dict[str, tuple[str, ...]] = {
    "stroke": ("I60", "I61", "I62", "I63", "I64"),
    "mi": ("I21", "I22"),
    "heart_failure": ("I50",),
    "hip_fracture": ("S72",),
    "pneumonia": ("J12", "J13", "J14", "J15", "J16", "J17", "J18"),
}
"""ICD-10 categories of the admissions counted by ``admission_rate``."""
HAEMORRHAGIC = ("I60", "I61", "I62")
LIFESTYLE_CODES = ("E11", "I10", "E78")
"""Diagnoses of lifestyle-disease care (diabetes, hypertension, dyslipidaemia)."""
MISSING_GROUPS: dict[str, tuple[str, ...]] = {
    "body": ("height_cm", "weight_kg", "waist_cm", "sbp", "dbp"),
    "lab": ("hba1c", "ldl", "hdl", "tg", "egfr"),
    "urine": ("urine_protein",),
    "questionnaire": QUESTIONNAIRE,
}
"""Checkup items whose missing shares are averaged in ``missing_<group>``."""


def fiscal_year(month: pd.Series) -> pd.Series:
    """Fiscal year of datetimes (April-March)."""
    return month.dt.year - (month.dt.month < 4)


class Frames:
    """The tables of a dataset, read once, with derived columns the statistics share.

    Parameters
    ----------
    ds : Dataset
        A loaded dataset (``analysis.data.load_dataset``).
    """

    def __init__(self, ds):
        self.ds = ds
        self.first, self.last = ds.meta["parameters"]["years"]

    def _read(self, name: str, columns=None) -> pd.DataFrame:
        df = self.ds.read(name, columns=columns).copy()
        for c in df.columns:
            if df[c].dtype == object and c.endswith(("_date", "_start", "_end", "_month")):
                df[c] = pd.to_datetime(df[c])
        return df

    @cached_property
    def enrollment(self) -> pd.DataFrame:
        return self._read("enrollment")

    @cached_property
    def birth(self) -> pd.Series:
        return self.enrollment.drop_duplicates("person_id").set_index("person_id")["birth_date"]

    @cached_property
    def claims(self) -> pd.DataFrame:
        cl = self._read("claims", ["claim_id", "person_id", "service_month", "setting", "cost_yen"])
        cl["fy"] = fiscal_year(cl["service_month"])
        return cl

    @cached_property
    def diagnoses(self) -> pd.DataFrame:
        """Diagnoses with their claim's person, month and setting."""
        dx = self._read("claim_diagnoses")
        return dx.merge(
            self.claims[["claim_id", "person_id", "service_month", "setting", "fy"]], on="claim_id"
        )

    @cached_property
    def checkups(self) -> pd.DataFrame:
        from analysis.data.synthetic.calibration import checkup_frame

        return checkup_frame(self.ds)

    @cached_property
    def person_years(self) -> pd.DataFrame:
        from analysis.data.synthetic.calibration import person_years

        return person_years(self.ds)

    def exposure(self, sex: str, ages: tuple[int, int]) -> float:
        py = self.person_years
        m = py["age"].between(*ages) & ((py["sex"] == sex) | (sex == "all"))
        return float(py.loc[m, "exposure"].sum())


def admissions(f: Frames, codes: tuple[str, ...], ages: tuple[int, int]) -> pd.DataFrame:
    """New admissions whose primary diagnosis starts with one of ``codes``: inpatient claims
    of a person with no such claim the month before, at ages ``ages``."""
    dx = f.diagnoses
    d = dx[dx["primary"] & (dx["setting"] == "inpatient") & dx["icd10"].str.startswith(codes)]
    d = d.assign(
        age=((d["service_month"] - f.birth.reindex(d["person_id"]).to_numpy()).dt.days / 365.25)
        .astype(int)
        .to_numpy(),
        mo=(d["service_month"].dt.year * 12 + d["service_month"].dt.month).to_numpy(),
    ).sort_values(["person_id", "mo"])
    prev = d.groupby("person_id")["mo"].shift()
    new = prev.isna() | (d["mo"] - prev > 1)
    return d[new & d["age"].between(*ages)]


def admission_rate(f: Frames, group: str, sex: str, ages) -> tuple[float, int]:
    """New admissions of an ``ADMISSION_GROUPS`` group per 1,000 person-years."""
    a = admissions(f, ADMISSION_GROUPS[group], ages)
    return 1000.0 * len(a) / max(f.exposure(sex, ages), 1e-9), len(a)


def haemorrhagic_share(f: Frames, sex: str, ages) -> tuple[float, int]:
    """Percent of stroke admissions that are haemorrhages (I60-I62)."""
    a = admissions(f, ADMISSION_GROUPS["stroke"], ages)
    return 100.0 * a["icd10"].str.startswith(HAEMORRHAGIC).mean(), len(a)


def _deaths(f: Frames) -> pd.DataFrame:
    en = f.enrollment
    d = en[en["death_date"].notna()].drop_duplicates("person_id")
    age = (d["death_date"] - d["birth_date"]).dt.days / 365.25
    return d.assign(age=age.astype(int))


def death_rate(f: Frames, sex: str, ages) -> tuple[float, int]:
    """Deaths of enrollees per 1,000 person-years."""
    d = _deaths(f)
    d = d[d["age"].between(*ages) & ((d["sex"] == sex) | (sex == "all"))]
    return 1000.0 * len(d) / max(f.exposure(sex, ages), 1e-9), len(d)


def _death_months(f: Frames) -> pd.DataFrame:
    """Per decedent: inpatient claim in the death month or the month before, and the cost
    of those two months (all settings)."""
    d = _deaths(f)[["person_id", "death_date", "age"]]
    mo = d["death_date"].dt.year * 12 + d["death_date"].dt.month
    cl = f.claims[f.claims["person_id"].isin(d["person_id"])]
    cl = cl.assign(mo=cl["service_month"].dt.year * 12 + cl["service_month"].dt.month)
    cl = cl.merge(d.assign(dmo=mo)[["person_id", "dmo"]], on="person_id")
    last2 = cl[(cl["mo"] <= cl["dmo"]) & (cl["mo"] >= cl["dmo"] - 1)]
    inp = set(last2.loc[last2["setting"] == "inpatient", "person_id"])
    cost = last2.groupby("person_id")["cost_yen"].sum()
    return d.assign(
        in_hospital=d["person_id"].isin(inp),
        cost=d["person_id"].map(cost).fillna(0).to_numpy(),
    )


def death_in_hospital(f: Frames, sex: str, ages) -> tuple[float, int]:
    """Percent of deaths with an inpatient claim in the death month or the month before."""
    d = _death_months(f)
    d = d[d["age"].between(*ages)]
    return 100.0 * d["in_hospital"].mean(), len(d)


def terminal_cost(f: Frames, sex: str, ages) -> tuple[float, int]:
    """Mean cost (10k yen) of the death month and the month before, deaths in hospital."""
    d = _death_months(f)
    d = d[d["age"].between(*ages) & d["in_hospital"]]
    return d["cost"].mean() / 1e4, len(d)


def _consecutive(f: Frames, col: str, ages) -> pd.DataFrame:
    """Pairs of a person's answers in consecutive fiscal years (``now``, ``next``)."""
    ck = f.checkups
    ck = ck.loc[ck["age"].between(*ages) & ck[col].notna(), ["person_id", "fiscal_year", col]]
    nxt = ck.assign(fiscal_year=ck["fiscal_year"] - 1)
    pair = ck.merge(nxt, on=["person_id", "fiscal_year"], suffixes=("_now", "_next"))
    return pair.rename(columns={f"{col}_now": "now", f"{col}_next": "next"}).astype(
        {"now": bool, "next": bool}
    )


def stays_yes(f: Frames, col: str, ages) -> tuple[float, int]:
    """Percent answering yes again the next year, of those answering yes."""
    p = _consecutive(f, col, ages)
    p = p[p["now"]]
    return 100.0 * p["next"].mean(), len(p)


def turns_yes(f: Frames, col: str, ages) -> tuple[float, int]:
    """Percent answering yes the next year, of those answering no."""
    p = _consecutive(f, col, ages)
    p = p[~p["now"]]
    return 100.0 * p["next"].mean(), len(p)


def code_without_drug(f: Frames, code: str, med: str, ages) -> tuple[float, int]:
    """Percent of checkups, among people with a ``code`` diagnosis in the fiscal year,
    whose questionnaire says they take no such drug."""
    dx = f.diagnoses
    have = dx.loc[dx["icd10"].str.startswith(code), ["person_id", "fy"]].drop_duplicates()
    ck = f.checkups
    ck = ck.loc[ck["age"].between(*ages) & ck[med].notna(), ["person_id", "fiscal_year", med]]
    m = ck.merge(have.rename(columns={"fy": "fiscal_year"}), on=["person_id", "fiscal_year"])
    return 100.0 * (1 - m[med].astype(bool).mean()), len(m)


def _attendance(f: Frames, ages) -> pd.DataFrame:
    """Person-years enrolled all year at ``ages``, with ``attended`` and ``in_care`` (a
    lifestyle-disease diagnosis in the year)."""
    py = f.person_years
    py = py[(py["exposure"] >= 0.99) & py["age"].between(*ages)]
    att = f.checkups[["person_id", "fiscal_year"]].rename(columns={"fiscal_year": "fy"})
    dx = f.diagnoses
    care = dx.loc[dx["icd10"].str.startswith(LIFESTYLE_CODES), ["person_id", "fy"]]
    py = py.merge(att.drop_duplicates().assign(attended=True), on=["person_id", "fy"], how="left")
    py = py.merge(care.drop_duplicates().assign(in_care=True), on=["person_id", "fy"], how="left")
    return py.assign(
        attended=py["attended"].notna().to_numpy(), in_care=py["in_care"].notna().to_numpy()
    )


def non_attender_cost_ratio(f: Frames, in_care: bool, ages) -> tuple[float, int]:
    """Mean yearly cost of people without a checkup that year over that of people with
    one (all enrollees, or those in lifestyle-disease care only)."""
    py = _attendance(f, ages)
    if in_care:
        py = py[py["in_care"]]
    g = py.groupby("attended")["cost_yen"].mean()
    return float(g.get(False, np.nan) / g.get(True, np.nan)), len(py)


def missing_share(f: Frames, group: str, ages) -> tuple[float, int]:
    """Mean percent of checkups missing each item of a ``MISSING_GROUPS`` group."""
    ck = f.checkups
    ck = ck[ck["age"].between(*ages)]
    return 100.0 * float(ck[list(MISSING_GROUPS[group])].isna().mean().mean()), len(ck)


def checkup_rate_fy(f: Frames, fy: int, ages) -> tuple[float, int]:
    """MHLW-style checkup rate of one fiscal year (enrolled the whole year, age reached
    by its end 40-74)."""
    en = f.enrollment
    end = en["enroll_end"].fillna(pd.Timestamp(f"{f.last + 1}-03-31"))
    s, e = pd.Timestamp(f"{fy}-04-01"), pd.Timestamp(f"{fy + 1}-03-31")
    whole = en[(en["enroll_start"] <= s) & (end >= e)]
    age = e.year - whole["birth_date"].dt.year
    elig = set(whole.loc[(age >= ages[0] + 1) & (age <= ages[1] + 1), "person_id"])
    got = set(f.checkups.loc[f.checkups["fiscal_year"] == fy, "person_id"])
    return 100.0 * len(elig & got) / max(len(elig), 1), len(elig)


def checkup_dip_fy2020(f: Frames, ages) -> tuple[float, int]:
    """Checkup rate of FY2019 minus that of FY2020 (points)."""
    a, n = checkup_rate_fy(f, 2019, ages)
    b, _ = checkup_rate_fy(f, 2020, ages)
    return a - b, n


def fy2020_ratio(f: Frames, what: str, ages) -> tuple[float, int]:
    """FY2020 over the trend (geometric mean of FY2019 and FY2021), per person-year.

    ``what`` is ``"days"`` (days of care, 診療実日数, of inpatient, outpatient and dental
    claims: 受診延日数) or ``"cost"`` (all claims). At the size of a city the cost ratio
    is noisy (a few very costly patients come and go; its standard error is about 2
    points at 70,000 residents), the days ratio is not.
    """
    cl = f.claims
    py = f.person_years
    py = py[py["age"].between(*ages)]
    if what == "days":
        cl = cl[cl["setting"] != "pharmacy"]
        value = f._read("claims", ["claim_id", "days"]).set_index("claim_id")["days"]
        cl = cl.assign(v=cl["claim_id"].map(value).to_numpy())
    else:
        cl = cl.assign(v=cl["cost_yen"])
    cl = cl.merge(py[["person_id", "fy"]], on=["person_id", "fy"])
    per = cl.groupby("fy")["v"].sum() / py.groupby("fy")["exposure"].sum()
    return float(per[2020] / np.sqrt(per[2019] * per[2021])), len(py)


def top_share(f: Frames, share: float) -> tuple[float, int]:
    """Percent of all cost held by the costliest ``share`` of enrolled person-years
    (every fiscal year a person was enrolled, the year of death included)."""
    c = np.sort(f.person_years["cost_yen"].to_numpy())[::-1]
    k = max(int(len(c) * share), 1)
    return 100.0 * c[:k].sum() / max(c.sum(), 1), len(c)


def birth_year_edge_jump(f: Frames, ages) -> tuple[float, int]:
    """How much larger the change between adjacent single-year ages is at 5-year edges
    than inside the bands (mean absolute log ratio, edges minus the rest), among the
    enrollees of the window's first day."""
    en = f.enrollment
    day0 = pd.Timestamp(f"{f.first}-04-01")
    end = en["enroll_end"].fillna(pd.Timestamp.max)
    stock = en[(en["enroll_start"] <= day0) & (end >= day0)].drop_duplicates("person_id")
    age = ((day0 - stock["birth_date"]).dt.days / 365.25).astype(int)
    counts = age.value_counts().reindex(range(ages[0], ages[1] + 1), fill_value=0)
    jump = np.abs(np.diff(np.log(np.maximum(counts.to_numpy(), 1))))
    upper = np.arange(ages[0] + 1, ages[1] + 1)  # the older age of each adjacent pair
    edge = upper % 5 == 0
    return float(jump[edge].mean() - jump[~edge].mean()), int(counts.sum())


def _steps(f: Frames) -> pd.DataFrame:
    """Weekly steps with the week relative to the participant's Vitality start."""
    act = f._read("activity")
    e = f._read("program_enrollments")
    e = e[e["program"] == "vitality"].drop_duplicates("person_id")
    a = act.merge(e[["person_id", "start_date"]], on="person_id")
    week = (a["week_start"] - a["start_date"]).dt.days // 7
    return a.assign(week=week)


def steps_sd(f: Frames, within: bool) -> tuple[float, int]:
    """Between-person SD of mean steps over the weeks before the start, or the mean
    within-person SD of those weekly means (persons with 2+ worn weeks before the start)."""
    a = _steps(f)
    pre = a[(a["week"] < 0) & (a["steps_per_day"] > 0)]
    g = pre.groupby("person_id")["steps_per_day"]
    ok = g.size() >= 2
    if within:
        return float(g.std()[ok].mean()), int(ok.sum())
    return float(g.mean()[ok].std()), int(ok.sum())


def steps_unworn_share(f: Frames) -> tuple[float, int]:
    """Percent of the weeks between a participant's first and last record that have no
    record or a record of 0 steps."""
    a = _steps(f)
    g = a.groupby("person_id")["week"]
    span = int((g.max() - g.min() + 1).sum())
    worn = int((a["steps_per_day"] > 0).sum())
    return 100.0 * (span - worn) / max(span, 1), span


def steps_full_baseline(f: Frames) -> tuple[float, int]:
    """Percent of Vitality participants with records in each of the 4 weeks before the
    start."""
    a = _steps(f)
    e = f._read("program_enrollments")
    people = e.loc[e["program"] == "vitality", "person_id"].unique()
    pre = a[a["week"].between(-4, -1)].groupby("person_id")["week"].nunique()
    return 100.0 * float((pre.reindex(people, fill_value=0) == 4).mean()), len(people)


LIFESTYLE_PRIMARY = ("E11", "E78", "I10", "N18", "I2", "I50", "I6")
"""Primary diagnoses of lifestyle-disease claims (生活習慣病: diabetes, dyslipidaemia,
hypertension, chronic kidney disease and dialysis, ischaemic heart disease, heart failure,
cerebrovascular disease)."""


def lifestyle_cost_ratio(f: Frames, ages) -> tuple[float, int]:
    """Mean yearly cost of medical claims with a lifestyle-disease primary diagnosis,
    people without a checkup that year over people with one (KDB's comparison of
    生活習慣病 costs of 健診未受診者 and 受診者)."""
    dx = f.diagnoses
    ls = dx.loc[dx["primary"] & dx["icd10"].str.startswith(LIFESTYLE_PRIMARY), "claim_id"]
    cl = f.claims[f.claims["claim_id"].isin(ls)]
    cost = cl.groupby(["person_id", "fy"])["cost_yen"].sum().rename("ls_cost").reset_index()
    py = _attendance(f, ages).merge(cost, on=["person_id", "fy"], how="left")
    g = py["ls_cost"].fillna(0).groupby(py["attended"]).mean()
    return float(g.get(False, np.nan) / g.get(True, np.nan)), len(py)
