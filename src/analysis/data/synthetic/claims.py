"""Monthly claims (レセプト): settings, costs, ICD-10 diagnoses and procedures.

Every enrolled person-month can produce one claim per setting (outpatient, pharmacy,
dental, inpatient). Whether a claim occurs and what it costs depends on age, the
diagnosed conditions of that fiscal year (pharmacy: the drugs actually taken), a
persistent personal cost level ("frailty", lognormal) and the latent motivation. The cost
tail is heavy: cancer treatment varies widely in cost between patients, a few people take
specialty drugs (biologics and the like, some over 1 M yen a month), admission months
range from short stays to intensive care, and strokes are followed by months of inpatient
rehabilitation. Severe events produce an admission in their month; deaths after a
terminal stay produce inpatient claims up to the death (``deaths``); dialysis produces a
monthly outpatient claim of about 400,000 yen with the procedure code J038 (人工腎臓),
about 5 M yen a patient-year with the other care. FY2020 has fewer visits (COVID-19,
:data:`COVID_CARE`). Program cost effects multiply the costs of the participant's months
in the effect window. Pharmacy claims (調剤レセプト) carry no diagnoses, as in real data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data.synthetic.deaths import TERMINAL_DAY_YEN

SETTINGS = ("inpatient", "outpatient", "pharmacy", "dental")

# ICD-10 vocabulary (no dot), by group; claims hold indices into CODES.
GROUPS: dict[str, tuple[str, ...]] = {
    "events": tuple("I639 I219 I500 I693 I252 I619 I609".split()),  # admissions and sequelae
    "chronic": tuple("E119 E112 I10 E785 N183 N184 N185 N186".split()),
    "cancer": tuple("C169 C189 C349 C509 C61 C220".split()),
    "mental": tuple("F209 F329 F411 F03".split()),
    "acute": tuple("J069 J209 K297 K590 M545 M179 H101 H251 L309 J301 N390 R51 M810".split()),
    "acute_child": tuple("J069 J209 H101 L309 J301 J00 A090 H659 J029 L209 T784 S009 B349".split()),
    # other admissions (not severe events, cancer or long psychiatric stays), weighted below
    "admission": tuple(
        "H251 J189 D126 I209 S720 K802 M170 I480 K566 M480 K573 K922 J441 G459 N390 S328 "
        "K358 K409 N201 L039 M511 K850".split()
    ),
    # primary reasons of terminal stays of deaths not due to cancer, events or dialysis
    "terminal": tuple("J189 J690 A419 I469 K746 N179 I500 J841".split()),
    # long-standing conditions treated with specialty drugs (very expensive prescriptions)
    "specialty": tuple("M069 L400 K509 K519".split()),
    "dental": tuple("K021 K051 K053 K083 K040".split()),
    # long-standing minor conditions, listed as secondary diagnoses on every medical claim
    "secondary": tuple("K219 G470 E039 H409 N400 J449 M480 D649 E790 K760 R42 L209".split()),
}
CODES: tuple[str, ...] = tuple(dict.fromkeys(c for g in GROUPS.values() for c in g))
_C = {c: i for i, c in enumerate(CODES)}


def _idx(group: str) -> np.ndarray:
    return np.array([_C[c] for c in GROUPS[group]])


_CANCER, _MENTAL, _ACUTE = _idx("cancer"), _idx("mental"), _idx("acute")
_ACUTE_CHILD = _idx("acute_child")
_ADMIT, _DENTAL, SECONDARY = _idx("admission"), _idx("dental"), _idx("secondary")
_TERMINAL, _SPECIALTY = _idx("terminal"), _idx("specialty")

# Relative frequency of the other admissions at 40-74 ([E], after the Patient Survey's
# discharges by diagnosis): cataract and colon-polyp short stays, angina, gallstones,
# knee replacement, arrhythmia, ileus, spinal stenosis, hernia ... Pneumonia (J189) and
# hip fracture (S720) are set so that they come to about 3.5 and 0.7 admissions per
# 1,000 person-years at 40-74 (calibration: ``admission_rate``).
ADMISSION_WEIGHTS = np.array(
    [12, 2.2, 9, 9, 0.5, 7, 5, 5, 5, 5, 4, 4, 3, 3, 4, 3, 2, 3, 3, 2, 3, 2], dtype=float
)
TERMINAL_WEIGHTS = np.array([30, 10, 12, 15, 10, 5, 12, 6], dtype=float)
"""Primary reasons of terminal stays of other causes (pneumonia, aspiration pneumonia,
sepsis, cardiac arrest, liver cirrhosis, acute kidney injury, heart failure, interstitial
lung disease)."""
_ADMIT_CUM = np.cumsum(ADMISSION_WEIGHTS) / ADMISSION_WEIGHTS.sum()
# Mental disorders: codes of people under care (outpatient) and of long psychiatric stays
# (dominated by schizophrenia, F20).
MENTAL_OUTPATIENT_CUM = np.cumsum([0.25, 0.45, 0.30])  # F209, F329, F411
LONG_STAY_CUM = np.cumsum([0.75, 0.15, 0.10])  # F209, F329, F03

PROCEDURES = {
    "J038": "人工腎臓(血液透析)",
    "K546": "経皮的冠動脈形成術",
    "K178": "脳血管内手術",
}

DIALYSIS_MONTH_YEN = 380_000
EVENT_ADMISSION_YEN = {1: 1_600_000, 2: 1_900_000, 3: 950_000, 4: 800_000, 5: 2_200_000}
"""Admission cost by event type: 1 cerebral infarction, 2 MI, 3 heart failure, 4 dialysis
start, 5 haemorrhagic stroke."""
EVENT_CODES = {1: "I639", 2: "I219", 3: "I500", 4: "N186", 5: "I619"}
"""Primary diagnosis of each event type's admission (a fifth of the haemorrhages are
subarachnoid, I609; see ``_diagnoses``)."""
INPATIENT_SIGMA = 0.95
"""Log-scale SD of the cost of an admission month (short stays ... intensive care)."""
REHAB_MONTHS_P = (0.35, 0.2, 0.2, 0.25)
"""Probability of 0, 1, 2, 3 months of inpatient rehabilitation after a survived stroke."""
REHAB_MONTH_YEN = 1_050_000
"""Cost of a month of inpatient rehabilitation (about 35,000 yen a day)."""
CANCER_COST_SIGMA = 1.2
"""Log-scale SD of a person's cancer treatment intensity (surgery only ... immunotherapy)."""
SPECIALTY_SHARE = 0.008
"""Share of adults (at about 60) on a specialty drug (biologics and the like)."""
SPECIALTY_MONTH_YEN = 150_000
"""Median monthly pharmacy cost of a specialty drug."""
SPECIALTY_SIGMA = 1.1
"""Log-scale SD of the monthly cost of a specialty drug between people (a few, e.g. on
clotting factors or drugs for rare diseases, cost over 1 M yen a month)."""
COVID_CARE = {
    (2020, 4): 0.79,
    (2020, 5): 0.75,
    (2020, 6): 0.93,
    (2020, 7): 0.92,
    (2020, 8): 0.91,
    (2020, 9): 0.94,
    (2020, 10): 0.98,
    (2020, 11): 0.94,
    (2020, 12): 0.93,
    (2021, 1): 0.87,
    (2021, 2): 0.9,
    (2021, 3): 0.97,
}
"""Multiplier of the probability of outpatient and dental care and of an elective
admission in the months of FY2020 (COVID-19): days of care fell by 8.5% that year and
spending by 3.2%, because the cost per day rose by 5.8% (longer prescriptions, fewer minor
visits; MHLW 医療費の動向 FY2020). Outpatient, pharmacy and dental claims of those months
cost ``factor ** COVID_COST_PER_CLAIM`` times more. Other months: 1."""
COVID_COST_PER_CLAIM = -0.6


DENTAL_USER_SHARE = (0.55, 0.2)
"""Yearly probability of any dental care for people who see a doctor that year / who do not
(women 5 points more)."""


def care_factor(month_days: np.ndarray) -> np.ndarray:
    """:data:`COVID_CARE` multiplier of each month (day numbers of month starts)."""
    ym = month_days.astype("datetime64[D]").astype("datetime64[M]").astype(int)
    return np.array([COVID_CARE.get((1970 + k // 12, k % 12 + 1), 1.0) for k in ym])


def terminal_codes(cause, fatal_type, cancer_site, r) -> np.ndarray:
    """Primary diagnosis (code index) of each decedent's terminal stay, -1 if none.

    Parameters
    ----------
    cause : int array (n,)
        Cause of death (``deaths.CAUSES`` index; 0 = did not die).
    fatal_type : int array (n,)
        Event type of a fatal event.
    cancer_site : int array (n,)
        Code index of the person's cancer site.
    r : float array (n,)
        Uniform draws for the reason of deaths of other causes.
    """
    ev = np.array([_C[EVENT_CODES.get(k, "I639")] for k in range(6)])[fatal_type]
    cum = np.cumsum(TERMINAL_WEIGHTS) / TERMINAL_WEIGHTS.sum()
    other = _TERMINAL[np.minimum(np.searchsorted(cum, r, side="right"), len(_TERMINAL) - 1)]
    return np.select(
        [cause == 1, cause == 2, cause == 3, cause == 4],
        [ev, cancer_site, np.full(len(r), _C["N186"]), other],
        -1,
    )


def care_user_prob(
    age: np.ndarray, male: np.ndarray, chronic: np.ndarray, frailty: np.ndarray
) -> np.ndarray:
    """Probability of seeing a doctor (any medical claim) in a fiscal year.

    About 97% with a chronic condition; without one, from about 60% (men) and 70% (women)
    at 40 to about 85% at 75, and higher with a higher personal cost level. Children
    under 6 nearly all, older children about 85%.
    """
    base = np.where(male, -0.5, 0.0) + 0.045 * (np.clip(age, 20, 80) - 40)
    base = np.where(age < 20, np.where(age < 6, 3.0, 1.7), base) + 0.6 * frailty
    p = 1.0 / (1.0 + np.exp(-base))
    return np.where(chronic, 0.95, p)


@dataclass
class MonthState:
    """Inputs of the claim stage, arrays of shape (persons, months) unless noted."""

    enrolled: np.ndarray  # bool
    age: np.ndarray
    diabetes: np.ndarray
    hypertension: np.ndarray
    dyslipidaemia: np.ndarray
    ckd_stage: np.ndarray  # 0 none, 3, 4, 5
    cancer: np.ndarray
    mental: np.ndarray  # (n,) bool
    long_stay: np.ndarray  # (n,) bool: long-stay psychiatric inpatient
    dialysis: np.ndarray  # bool, on dialysis that month
    event: np.ndarray  # int 0 none, 1..4 type of severe event that month
    after_stroke: np.ndarray
    after_mi: np.ndarray
    after_hf: np.ndarray
    frailty: np.ndarray  # (n,)
    cost_factor: np.ndarray  # float multiplier (program effects)
    cancer_site: np.ndarray  # (n,) code index
    mental_code: np.ndarray  # (n,) code index
    secondary: np.ndarray  # (n, 3) code indices of minor conditions, -1 = none
    month_len: np.ndarray  # (months,) days in each month
    male: np.ndarray  # (n,) bool
    glucose_med: np.ndarray = None  # bool: on the drug (pharmacy), by fiscal year
    bp_med: np.ndarray = None
    lipid_med: np.ndarray = None
    specialty: np.ndarray = None  # (n,) bool: on a specialty drug
    specialty_code: np.ndarray = None  # (n,) code index
    specialty_yen: np.ndarray = None  # (n,) monthly cost of the specialty drug
    care_factor: np.ndarray = None  # (months,) COVID-19 multiplier of elective care
    rehab: np.ndarray = None  # bool: in inpatient rehabilitation after a stroke
    cancer_cost: np.ndarray = None  # (n,) multiplier of cancer treatment costs (mean 1)
    terminal_days: np.ndarray = None  # int: days of the terminal stay in the month
    terminal_code: np.ndarray = None  # (n,) primary diagnosis of the terminal stay, -1 none

    def __post_init__(self):
        n, m = self.enrolled.shape
        for name in ("glucose_med", "bp_med", "lipid_med"):
            if getattr(self, name) is None:  # treated = diagnosed
                cond = {"glucose_med": "diabetes", "bp_med": "hypertension"}.get(
                    name, "dyslipidaemia"
                )
                setattr(self, name, getattr(self, cond))
        if self.specialty is None:
            self.specialty = np.zeros(n, dtype=bool)
            self.specialty_code = np.zeros(n, dtype=np.int64)
            self.specialty_yen = np.zeros(n)
        if self.rehab is None:
            self.rehab = np.zeros((n, m), dtype=bool)
        if self.cancer_cost is None:
            self.cancer_cost = np.ones(n)
        if self.care_factor is None:
            self.care_factor = np.ones(m)
        if self.terminal_days is None:
            self.terminal_days = np.zeros((n, m), dtype=np.int64)
            self.terminal_code = np.full(n, -1, dtype=np.int64)


def generate(rng: np.random.Generator, s: MonthState) -> dict:
    """Draw the claims of one chunk.

    Returns
    -------
    dict
        ``person``, ``month`` (index), ``setting`` (index into ``SETTINGS``), ``cost``
        (yen, int), ``days`` per claim (sorted by person, month, setting), and the
        diagnosis (``dx_claim``, ``dx_code``, ``dx_primary``) and procedure
        (``px_claim``, ``px_code``) rows with claim positions.
    """
    n, m = s.enrolled.shape
    u = {
        k: rng.random((n, m))
        for k in ("out", "pharm", "dent", "inp", "ac1", "ac2", "dent_c", "adm_c", "px")
    }
    ln = {k: rng.standard_normal((n, m)) for k in ("out", "pharm", "dent", "inp", "days")}
    u_year = {k: rng.random((n, -(-m // 12))) for k in ("user", "dent")}
    age = s.age
    fr = s.frailty[:, None]
    chronic = (
        s.diabetes.astype(int)
        + s.hypertension
        + s.dyslipidaemia
        + (s.ckd_stage > 0)
        + s.cancer
        + s.mental[:, None]
        + s.after_stroke
        + s.after_mi
        + s.after_hf
    )
    child = age < 20
    p_out = np.where(
        child, np.where(age < 6, 0.55, 0.30), np.clip(0.16 + 0.0065 * (age - 20), 0.14, 0.55)
    )
    cf = s.care_factor[None, :]  # COVID-19 months: fewer visits, each costing more
    p_out = np.where(chronic > 0, 0.88, p_out) * np.exp(0.25 * fr)
    # Whether a person sees a doctor at all in a fiscal year: people without a chronic
    # condition often do not (more so young men). Users visit more often, so the expected
    # number of visits (and the per-capita cost) is that of the monthly model above.
    p_user = care_user_prob(age, s.male[:, None], chronic > 0, fr)
    year = np.arange(m) // 12
    user = u_year["user"][:, year] < p_user
    spec = s.specialty[:, None]
    out = s.enrolled & (
        (user & (u["out"] < np.minimum(p_out / p_user, 0.98) * cf)) | s.dialysis | spec
    )
    aging = np.exp(0.022 * (np.clip(age, 20, 80) - 50))
    cc = s.cancer_cost[:, None]
    mean_out = (
        5_000 + 3_200 * chronic + 55_000 * s.cancer * cc + 6_000 * s.mental[:, None]
    ) * aging
    cost_out = mean_out * np.exp(0.45 * fr + 0.5 * ln["out"] - 0.125)
    cost_out = np.where(s.dialysis, DIALYSIS_MONTH_YEN * np.exp(0.08 * ln["out"]), cost_out)
    days_out = np.where(
        s.dialysis, 13, 1 + np.minimum(np.floor(np.abs(ln["days"]) * (0.6 + 0.4 * chronic)), 10)
    ).astype(np.int64)

    meds = (
        s.glucose_med.astype(int)
        + s.bp_med
        + s.lipid_med
        + s.mental[:, None]
        + s.after_stroke
        + s.after_mi
        + s.after_hf
        + (s.ckd_stage > 0)
    )
    pharm = out & ((meds > 0) | s.cancer | spec | (u["pharm"] < 0.45))
    mean_ph = (1_800 + 4_600 * meds + 70_000 * s.cancer * cc) * aging
    cost_ph = mean_ph * np.exp(0.5 * fr + 0.6 * ln["pharm"] - 0.18)
    cost_ph = cost_ph + spec * s.specialty_yen[:, None] * np.exp(0.2 * ln["pharm"] - 0.02)

    p_dent = np.where(child, 0.12, 0.11 + 0.0015 * np.clip(age - 20, 0, 55))
    # Dental care: about half of the adults in a year, fewer among people who do not see a
    # doctor either; users come back over several months.
    p_dent_user = (
        np.where(user, DENTAL_USER_SHARE[0], DENTAL_USER_SHARE[1]) + 0.05 * ~s.male[:, None]
    )
    dent_user = u_year["dent"][:, year] < p_dent_user
    dent = s.enrolled & dent_user & (u["dent"] < np.minimum(p_dent / p_dent_user, 0.95) * cf)
    cost_dent = 11_000 * np.exp(0.6 * ln["dent"] - 0.18)

    p_adm = 0.0034 * np.exp(0.065 * (np.clip(age, 20, 80) - 50)) * np.exp(0.7 * fr)
    p_adm = p_adm * cf + 0.25 * s.cancer + 0.012 * s.mental[:, None]
    term = s.terminal_days > 0
    inp = s.enrolled & (
        (u["inp"] < np.minimum(p_adm, 0.9)) | (s.event > 0) | s.long_stay[:, None] | term | s.rehab
    )
    cost_inp = np.where(s.long_stay[:, None], 420_000, np.where(s.cancer, 650_000 * cc, 480_000))
    cost_inp = cost_inp * np.exp(INPATIENT_SIGMA * ln["inp"] - INPATIENT_SIGMA**2 / 2)
    days_inp = np.where(s.long_stay[:, None], 30, 4 + np.floor(np.abs(ln["days"]) * 9))
    cost_inp = np.where(s.rehab, REHAB_MONTH_YEN * np.exp(0.2 * ln["inp"] - 0.02), cost_inp)
    days_inp = np.where(s.rehab, 30, days_inp)
    # A terminal stay: a daily cost for the days of the month in hospital.
    cost_inp = np.where(
        term, s.terminal_days * TERMINAL_DAY_YEN * np.exp(0.3 * ln["inp"] - 0.045), cost_inp
    )
    days_inp = np.where(term, s.terminal_days, days_inp)
    ev_cost = np.zeros((n, m))
    for k, yen in EVENT_ADMISSION_YEN.items():
        ev_cost[s.event == k] = yen
    cost_inp = np.where(s.event > 0, ev_cost * np.exp(0.3 * ln["inp"]), cost_inp)
    stroke = (s.event == 1) | (s.event == 5)
    days_inp = np.where(
        s.event > 0, np.where(term, s.terminal_days, 14 + 6 * stroke), days_inp
    ).astype(np.int64)

    masks = (inp, out, pharm, dent)
    per_claim = cf**COVID_COST_PER_CLAIM
    costs = (
        cost_inp,
        cost_out * np.where(s.dialysis, 1.0, per_claim),
        cost_ph * per_claim,
        cost_dent * per_claim,
    )
    days = (days_inp, days_out, np.ones((n, m), np.int64), 1 + (u["dent_c"] < 0.4).astype(np.int64))
    parts = []
    for k, mk in enumerate(masks):
        pi, mi = np.nonzero(mk)
        c = np.maximum(costs[k][pi, mi] * s.cost_factor[pi, mi], 100.0)
        points = np.round(c / 10.0).astype(np.int64)
        parts.append((pi, mi, np.full(len(pi), k), points, days[k][pi, mi]))
    person = np.concatenate([p[0] for p in parts])
    month = np.concatenate([p[1] for p in parts])
    setting = np.concatenate([p[2] for p in parts])
    points = np.concatenate([p[3] for p in parts])
    cday = np.concatenate([p[4] for p in parts])
    cday = np.minimum(cday, s.month_len[month])  # 診療実日数 never exceeds the month
    order = np.lexsort((setting, month, person))
    person, month, setting, points, cday = (
        a[order] for a in (person, month, setting, points, cday)
    )
    dx = _diagnoses(s, u, person, month, setting)
    px = _procedures(s, u, person, month, setting)
    return {
        "person": person,
        "month": month,
        "setting": setting,
        "points": points,
        "cost": points * 10,
        "days": cday,
        **dx,
        **px,
    }


def _diagnoses(s: MonthState, u, person, month, setting) -> dict:
    """ICD-10 rows per claim: a priority-ordered code matrix, first present code primary."""
    n_cl = len(person)
    p, mo = person, month
    none = -1
    cols = []
    ev = s.event[p, mo]
    # A fifth of the haemorrhagic strokes are subarachnoid haemorrhages (I60).
    sah = u["px"][p, mo] >= 0.8
    ev_code = np.select(
        [ev == 1, ev == 2, ev == 3, ev == 4, (ev == 5) & sah, ev == 5],
        [_C["I639"], _C["I219"], _C["I500"], _C["N186"], _C["I609"], _C["I619"]],
        none,
    )
    inp = setting == 0
    outp = setting == 1
    dent = setting == 3
    medical = inp | outp
    cancer = s.cancer[p, mo]
    mental = s.mental[p]
    long_stay = s.long_stay[p]
    # Inpatient reason (primary) when not an event: cancer, psychiatric stay or other.
    adm_other = _ADMIT[
        np.minimum(np.searchsorted(_ADMIT_CUM, u["adm_c"][p, mo], side="right"), len(_ADMIT) - 1)
    ]
    terminal = s.terminal_days[p, mo] > 0
    inp_reason = np.select(
        [ev_code >= 0, terminal, s.rehab[p, mo], long_stay & mental, cancer],
        [ev_code, s.terminal_code[p], _C["I693"], s.mental_code[p], s.cancer_site[p]],
        adm_other,
    )
    cols.append(np.where(inp, inp_reason, none))
    dia = s.dialysis[p, mo]
    stage = s.ckd_stage[p, mo]
    ckd_code = np.select(
        [dia, stage == 5, stage == 4, stage == 3],
        [_C["N186"], _C["N185"], _C["N184"], _C["N183"]],
        none,
    )
    cols.append(np.where(medical, ckd_code, none))
    cols.append(np.where(medical & cancer, s.cancer_site[p], none))
    cols.append(np.where(medical & mental, s.mental_code[p], none))
    dm = s.diabetes[p, mo]
    cols.append(np.where(medical & dm, np.where(stage > 0, _C["E112"], _C["E119"]), none))
    cols.append(np.where(medical & s.hypertension[p, mo], _C["I10"], none))
    cols.append(np.where(medical & s.dyslipidaemia[p, mo], _C["E785"], none))
    cols.append(np.where(medical & s.after_stroke[p, mo], _C["I693"], none))
    cols.append(np.where(medical & s.after_mi[p, mo], _C["I252"], none))
    cols.append(np.where(medical & s.after_hf[p, mo] & (ev != 3), _C["I500"], none))
    cols.append(np.where(medical & s.specialty[p], s.specialty_code[p], none))
    chronic_any = np.stack(cols[1:], axis=1).max(axis=1) >= 0
    for j in range(s.secondary.shape[1]):
        cols.append(np.where(medical, s.secondary[p, j], none))
    k = len(_ACUTE)
    a1 = np.minimum((u["ac1"][p, mo] * k).astype(int), k - 1)
    a2 = (a1 + 1 + np.minimum((u["ac2"][p, mo] * (k - 1)).astype(int), k - 2)) % k
    acute1 = outp & (~chronic_any | (u["ac2"][p, mo] < 0.35))
    # Both lists have the same length, so one index picks a code in either.
    child = s.age[p, mo] < 20
    cols.append(np.where(acute1, np.where(child, _ACUTE_CHILD[a1], _ACUTE[a1]), none))
    second = acute1 & (u["ac1"][p, mo] < 0.3)
    cols.append(np.where(second, np.where(child, _ACUTE_CHILD[a2], _ACUTE[a2]), none))
    dk = len(_DENTAL)
    d1 = np.minimum((u["dent_c"][p, mo] * dk).astype(int), dk - 1)
    cols.append(np.where(dent, _DENTAL[d1], none))
    cols.append(np.where(dent & (u["ac2"][p, mo] < 0.4), _DENTAL[(d1 + 1) % dk], none))
    mat = np.stack(cols, axis=1)
    # Outpatient visits for an acute reason list it first.
    acute_first = outp & (mat[:, -4] >= 0) & ~chronic_any
    present = mat >= 0
    first = np.argmax(present, axis=1)
    first = np.where(acute_first, mat.shape[1] - 4, first)
    ci, kj = np.nonzero(present)
    # Drop duplicate codes within a claim (e.g. I500 as event and as condition).
    code = mat[ci, kj]
    key = ci.astype(np.int64) * 1000 + code
    _, keep = np.unique(key, return_index=True)
    keep.sort()
    ci, kj, code = ci[keep], kj[keep], code[keep]
    del n_cl
    return {"dx_claim": ci, "dx_code": code, "dx_primary": kj == first[ci]}


def _procedures(s: MonthState, u, person, month, setting) -> dict:
    p, mo = person, month
    dia = (setting == 1) & s.dialysis[p, mo]
    ev = s.event[p, mo]
    inp = setting == 0
    pci = inp & (ev == 2) & (u["px"][p, mo] < 0.6)
    evt = inp & (ev == 1) & (u["px"][p, mo] < 0.1)
    claim = np.concatenate([np.flatnonzero(dia), np.flatnonzero(pci), np.flatnonzero(evt)])
    code = np.concatenate([np.full(dia.sum(), 0), np.full(pci.sum(), 1), np.full(evt.sum(), 2)])
    order = np.argsort(claim, kind="stable")
    return {"px_claim": claim[order], "px_code": code[order]}
