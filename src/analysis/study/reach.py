"""Reach and equity (誰ひとり取り残さない): who was invited, who took part, who completed.

Offers, uptake and completion of each program by age band, sex, risk tier and letter
variant, with Wilson 95% intervals, as municipal evaluations report them to show which
groups the invitations do not reach. Each (program, dimension) block is a published
count table: counts under 10 are hidden, with complementary suppression within the
block (its column totals are the program's totals of the participation table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analysis.data.contract import RISK_TIER_LABELS, RISK_TIERS
from analysis.report.i18n import check_lang, figure_labels, with_editions
from analysis.risk.tiers import age_band
from analysis.study.cohort_step import SEX_EN, SEX_JA
from analysis.study.disclosure import suppress
from analysis.study.exercise import PROGRAMS, VARIANTS, uptake_frame

AGE_EDGES = (40, 50, 60, 70, 75)
"""10-year age bands at the offer date (40-49 ... 70-74)."""
DIMENSIONS = {
    "age_band": ("年齢階級", "Age band"),
    "sex": ("性別", "Sex"),
    "risk_tier": ("リスク区分", "Risk tier"),
    "letter_variant": ("案内状の種類", "Invitation letter"),
}
"""The dimensions of the reach table, in the order shown, with their labels."""
COUNTS = ["n_offered", "n_enrolled", "n_completed"]
RATES = {
    "uptake": ("n_offered", "n_enrolled"),
    "completion": ("n_enrolled", "n_completed"),
}
"""Each rate's (denominator, numerator) counts."""
RATE_SUFFIXES = ("_pct", "_ci_low", "_ci_high")
"""The columns of a rate: percent and its Wilson 95% interval."""
REACH_COLUMNS = [
    "program", "program_ja", "program_en", "dimension", "dimension_ja", "dimension_en",
    "group", "group_ja", "group_en", *COUNTS,
    "uptake_pct", "uptake_ci_low", "uptake_ci_high",
    "completion_pct", "completion_ci_low", "completion_ci_high",
]  # fmt: skip


def wilson_interval(successes, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion (NaN where ``n`` is 0).

    Parameters
    ----------
    successes, n : array-like of int
        Successes and trials (``0 <= successes <= n``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Lower and upper bounds, as proportions.

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference.
    J Am Stat Assoc 1927;22:209-212.

    Examples
    --------
    >>> lo, hi = wilson_interval([0], [10])
    >>> float(lo[0]), round(float(hi[0]), 4)
    (0.0, 0.2775)
    """
    k, m = np.asarray(successes, float), np.asarray(n, float)
    if np.any(k < 0) or np.any(k > m):
        raise ValueError("wilson_interval: successes must lie between 0 and n")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z**2 / m
        centre = (p + z**2 / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / denom
    # exact at the edges: the interval of 0 successes starts at 0, of n ends at 1
    lo = np.where(k == 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(k == m, 1.0, np.clip(centre + half, 0, 1))
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


def offer_frame(offers, enrollments, enrollment, fiscal_year: int) -> pd.DataFrame:
    """One row per offer of the year: enrolled, completed and the four dimensions.

    Age is in completed years at the offer date; sex comes from ``enrollment``. Person
    level: never published.
    """
    df = uptake_frame(offers, enrollments, fiscal_year)
    people = enrollment[["person_id", "sex", "birth_date"]].drop_duplicates("person_id")
    df = df.merge(people, on="person_id", how="left", validate="many_to_one")
    if df["birth_date"].isna().any():
        raise ValueError(
            f"reach: {int(df['birth_date'].isna().sum())} offer(s) of FY{fiscal_year} "
            "have no enrollment record"
        )
    return df.assign(age_band=age_band(_age_at(df["birth_date"], df["offer_date"]), AGE_EDGES))


def _age_at(birth, when) -> pd.Series:
    """Completed years of age on ``when``, rising on the birthday itself (as the cohort
    queries count it)."""
    b, w = pd.to_datetime(birth), pd.to_datetime(when)
    before = (w.dt.month * 100 + w.dt.day) < (b.dt.month * 100 + b.dt.day)
    return (w.dt.year - b.dt.year - before.astype(int)).astype(float)


def _group_labels(dimension: str, group: str) -> tuple[str, str]:
    if dimension == "age_band":
        lo, _, hi = group.partition("-")
        return (f"{lo}〜{hi}歳" if hi else group), group
    if dimension == "sex":
        return SEX_JA.get(group, group), SEX_EN.get(group, group)
    if dimension == "risk_tier":
        lab = RISK_TIER_LABELS.get(group, {"ja": group, "en": group})
        return lab["ja"], lab["en"].capitalize()
    return VARIANTS.get(group, (group, group))


def _order(dimension: str, groups) -> list:
    fixed = {"sex": ["M", "F"], "risk_tier": list(RISK_TIERS), "letter_variant": list(VARIANTS)}
    known = fixed.get(dimension)
    groups = sorted(set(groups))
    if known is None:
        return groups
    return [g for g in known if g in groups] + [g for g in groups if g not in known]


def _block(g: pd.DataFrame, program: str, dimension: str) -> pd.DataFrame:
    rows = []
    for group in _order(dimension, g[dimension].dropna().astype(str)):
        s = g[g[dimension].astype(str) == group]
        ja, en = _group_labels(dimension, group)
        rows.append(dict(program=program, program_ja=PROGRAMS[program][0],
                         program_en=PROGRAMS[program][1], dimension=dimension,
                         dimension_ja=DIMENSIONS[dimension][0],
                         dimension_en=DIMENSIONS[dimension][1], group=group, group_ja=ja,
                         group_en=en, n_offered=len(s), n_enrolled=int(s["enrolled"].sum()),
                         n_completed=int(s["completed"].sum())))  # fmt: skip
    return with_rates(pd.DataFrame(rows), COUNTS, RATES)


def rate_derived(rates: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """``{rate column: the counts it is computed from}`` for suppression."""
    return {f"{rate}{x}": list(cols) for rate, cols in rates.items() for x in RATE_SUFFIXES}


def with_rates(
    table: pd.DataFrame, counts: list[str], rates: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    """``table`` with each rate ``{name: (denominator, numerator)}`` in percent and its
    Wilson 95% interval, suppressed as one block of nested ``counts`` (outermost first)
    whose column totals are known."""
    out = table.copy()
    for rate, (den, num) in rates.items():
        n, k = out[den].to_numpy(float), out[num].to_numpy(float)
        lo, hi = wilson_interval(k, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[f"{rate}_pct"] = np.where(n > 0, 100 * k / n, np.nan)
        out[f"{rate}_ci_low"], out[f"{rate}_ci_high"] = 100 * lo, 100 * hi
    return suppress(out, counts, known_totals="columns", derived=rate_derived(rates),
                    nested=counts)  # fmt: skip


def reach_table(offers, enrollments, enrollment, fiscal_year: int) -> pd.DataFrame:
    """Offers, enrollment and completion by program and age band, sex, risk tier and
    letter variant, with Wilson 95% intervals of uptake and completion (percent).

    Enrollment counts people who took part in the program they were offered; completion
    is among them. Published: counts under 10 are ``"<10"`` and complementary cells
    ``"x"`` within each (program, dimension) block; rates and intervals of a hidden
    count are missing.

    Returns
    -------
    pandas.DataFrame
        :data:`REACH_COLUMNS`, one row per program, dimension and group.
    """
    df = offer_frame(offers, enrollments, enrollment, fiscal_year)
    blocks = [
        _block(df[df["program"] == program], program, dimension)
        for program in PROGRAMS
        if (df["program"] == program).any()
        for dimension in DIMENSIONS
    ]
    if not blocks:
        raise ValueError(f"reach: no program offers in FY{fiscal_year}")
    return pd.concat(blocks, ignore_index=True)[REACH_COLUMNS]


FIGURE_LABELS = {
    "ja": {"uptake": "参加率（%）",
           "legend": "斜線: 10人未満のため非表示　—: 案内した人なし"},
    "en": {"uptake": "Uptake (%)",
           "legend": "Hatched: hidden (under 10 people)   —: nobody offered"},
}  # fmt: skip
"""Labels of the reach figure."""


def plot_reach(table: pd.DataFrame, *, lang: str = "ja", ax=None):
    """Heatmap of uptake (%) by group (rows) and program (columns), drawn with seaborn.

    A hidden cell (a suppressed count) is left blank over a hatched background; a group a
    program offered to nobody shows a dash. The intervals are in the table. Returns the
    Axes (redrawable in the other report language).
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    lab = figure_labels(FIGURE_LABELS, check_lang(lang))
    order = {d: i for i, d in enumerate(DIMENSIONS)}
    t = table.assign(
        row=table[f"dimension_{lang}"] + ": " + table[f"group_{lang}"],
        uptake=pd.to_numeric(table["uptake_pct"], errors="coerce"),
        _dim=table["dimension"].map(order),
    ).sort_values("_dim", kind="stable")
    rows = list(dict.fromkeys(t["row"]))
    programs = list(dict.fromkeys(table[f"program_{lang}"]))
    grid = t.pivot_table(index="row", columns=f"program_{lang}", values="uptake",
                         aggfunc="first", dropna=False)  # fmt: skip
    grid = grid.reindex(index=rows, columns=programs)
    offered = set(zip(t["row"], t[f"program_{lang}"], strict=True))
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 0.32 * len(rows) + 1.4))
    ax.patch.set_hatch("//")
    ax.patch.set_edgecolor("0.8")
    sns.heatmap(grid, ax=ax, annot=True, fmt=".1f", cmap="Blues", vmin=0, mask=grid.isna(),
                linewidths=0.5, cbar_kws={"shrink": 0.8})  # fmt: skip
    for i, row in enumerate(rows):
        for j, program in enumerate(programs):
            if (row, program) not in offered:
                ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor="white", edgecolor="0.9"))
                ax.text(j + 0.5, i + 0.5, "—", ha="center", va="center", color="0.5")
    ax.collections[0].colorbar.ax.set_title(lab["uptake"], fontsize="small")
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(lab["legend"], fontsize="small", loc="left")
    ax.figure.tight_layout()
    return with_editions(ax, lang, lambda other: plot_reach(table, lang=other))
