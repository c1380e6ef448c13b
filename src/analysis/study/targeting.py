"""Step 05: who benefits most, and the budget-constrained offer rule for next year.

Subgroup effects come from one set of cross-fitted doubly robust scores
(``analysis.causal.heterogeneity``); individual effects are out-of-fold predictions. The
offer rule compares offering the places the budget buys to those with the largest
predicted benefit against today's rule (highest risk score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.report.i18n import check_lang, with_editions
from analysis.runs.artifacts import save_figure_editions
from analysis.seeds import int_seed
from analysis.study.disclosure import suppress
from analysis.study.effects import COVARIATES, MIN_PARTICIPANTS, complete_cases

OUTCOME = "next_exercise_habit"
"""Outcome of the targeting analysis (Vitality's primary outcome)."""
SUBGROUPS = {
    "sex": ("性別", "Sex", {"F": ("女性", "Women"), "M": ("男性", "Men")}),
    "age_group": ("年齢", "Age", {"40-64": ("40–64歳", "40-64"), "65-74": ("65–74歳", "65-74")}),
    "habit_group": ("基準時の運動習慣", "Exercise habit at baseline",
                    {"yes": ("あり", "yes"), "no": ("なし", "no")}),
    "risk_tier": ("リスク区分", "Risk tier",
                  {"low": ("低", "low"), "middle": ("中", "middle")}),
}  # fmt: skip
SUBGROUP_COLUMNS = ["subgroup_ja", "subgroup_en", "variable", "level", "n", "estimate",
                    "ci_low", "ci_high", "p_heterogeneity", "passed", "reason"]  # fmt: skip


def targeting_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Complete cases of :data:`OUTCOME` with the subgroup columns added."""
    d = complete_cases(df, OUTCOME)
    return d.assign(
        age_group=np.where(d["age_years"] >= 65, "65-74", "40-64"),
        habit_group=np.where(d["exercise_habit"].astype(bool), "yes", "no"),
        risk_tier=d["risk_tier"].astype(str),
    )


def subgroups(df: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Effects on :data:`OUTCOME` within the pre-declared subgroups (published).

    A subgroup with fewer than 10 participants or non-participants (never published), or
    fewer than :data:`~analysis.study.effects.MIN_PARTICIPANTS` participants (too few for
    an honest interval), is withheld with the reason; when the scores cannot be computed
    at all, every row is withheld.
    """
    from analysis.causal.heterogeneity import subgroup_effects

    d = targeting_frame(df)
    err = ""
    try:
        table = subgroup_effects(d, treatment="treat", outcome=OUTCOME, covariates=COVARIATES,
                                 subgroups=list(SUBGROUPS), seed=int_seed(seed, "subgroups"))  # fmt: skip
    except ValueError as e:
        err, table = str(e).splitlines()[0], None
    rows = []
    for var, (vja, ven, levels) in SUBGROUPS.items():
        for level, (lja, len_) in levels.items():
            n = int((d[var] == level).sum())
            r = None
            if table is not None:
                m = table[(table["variable"] == var) & (table["level"] == level)]
                r = m.iloc[0] if len(m) else None
            small = r is None or bool(r["suppressed"])
            few = not small and int(r["n_treated"]) < MIN_PARTICIPANTS
            reason = err or (f"fewer than {MIN_CELL_COUNT} participants or non-participants"
                             if small else f"fewer than {MIN_PARTICIPANTS} participants"
                             if few else "")  # fmt: skip
            small = small or few
            rows.append(dict(
                subgroup_ja=f"{vja}: {lja}", subgroup_en=f"{ven}: {len_}", variable=var,
                level=level, n=n,
                estimate=np.nan if small else float(r["estimate"]),
                ci_low=np.nan if small else float(r["ci_low"]),
                ci_high=np.nan if small else float(r["ci_high"]),
                p_heterogeneity=np.nan if r is None else float(r["p_heterogeneity"]),
                passed=not small and not err, reason=reason,
            ))  # fmt: skip
    return suppress(pd.DataFrame(rows, columns=SUBGROUP_COLUMNS), ["n"], complementary=False)


def plot_subgroups(table: pd.DataFrame, *, ax=None, lang: str = "ja"):
    """Forest plot of the subgroup effects (withheld rows shown without a point)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(table) + 1))
    y = np.arange(len(table))[::-1]
    est = table["estimate"].to_numpy(float)
    lo, hi = table["ci_low"].to_numpy(float), table["ci_high"].to_numpy(float)
    ok = np.isfinite(est)
    ax.errorbar(est[ok], y[ok], xerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="s", capsize=3)
    ax.axvline(0, color="0.3", lw=0.8, ls="--")
    ax.set_yticks(y, table[f"subgroup_{check_lang(lang)}"])
    ax.set_xlabel("運動習慣への効果（割合の差）" if lang == "ja"
                  else "Effect on exercise habit (risk difference)")  # fmt: skip
    return with_editions(ax, lang, lambda other: plot_subgroups(table, lang=other))


UPLIFT_LABELS = {
    "ja": ("効果予測の高い順", "無作為に案内", "案内した割合", "1人当たりの効果（割合の差）"),
    "en": ("By predicted benefit", "At random", "Share offered",
           "Effect per person offered (risk difference)"),
}  # fmt: skip
"""Legend (ranking, random) and axis (x, y) labels of the uplift figure."""


@dataclass(frozen=True)
class OfferRule:
    """Offering the budget's places by predicted benefit versus by risk.

    Attributes
    ----------
    gain : pandas.DataFrame or None
        ``targeting_gain`` table (``rule``, ``expected_gain``, ``ci_low``, ``ci_high`` ...).
    uplift : pandas.DataFrame or None
        Qini-type uplift curve of the predicted benefit (``attrs["qini"]``).
    capacity : int
    error : str
        Why the comparison could not be computed (``gain`` is then ``None``).
    """

    gain: pd.DataFrame | None
    uplift: pd.DataFrame | None
    capacity: int
    error: str = ""

    def plot_uplift(self, ax=None, lang: str = "ja"):
        """The uplift (Qini) curve, or a note when it could not be computed."""
        import matplotlib.pyplot as plt

        from analysis.causal.heterogeneity import plot_uplift

        ranking, random, xlabel, ylabel = UPLIFT_LABELS[check_lang(lang)]
        if self.uplift is None:
            ax = ax or plt.subplots(figsize=(5, 2))[1]
            ax.text(0.5, 0.5, self.error or "—", ha="center", va="center", wrap=True)
            ax.set_axis_off()
        else:
            ax = plot_uplift(self.uplift, ax=ax)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            handles, _ = ax.get_legend_handles_labels()
            ax.legend(handles, [ranking, random], fontsize="small")
        return with_editions(ax, lang, lambda other: self.plot_uplift(lang=other))


def offer_rule(df: pd.DataFrame, *, capacity: int, seed: int) -> OfferRule:
    """Gain of offering ``capacity`` places by predicted benefit versus by risk.

    Individual effects are out-of-fold predictions; gains and the uplift curve are
    evaluated on cross-fitted doubly robust scores. A failure is recorded, not raised.
    """
    from analysis.causal.heterogeneity import (
        dr_scores,
        out_of_fold_cate,
        targeting_gain,
        uplift_curve,
    )

    d = targeting_frame(df)
    kw = dict(treatment="treat", outcome=OUTCOME, covariates=COVARIATES)
    cap = int(min(max(capacity, 1), len(d)))
    try:
        phi = dr_scores(d, seed=int_seed(seed, "targeting", "scores"), **kw)
        cate = out_of_fold_cate(d, seed=int_seed(seed, "targeting", "cate"), **kw)
        gain = targeting_gain(phi, cate, d["risk_score"].to_numpy(float), capacity=cap)
        curve = uplift_curve(phi, cate, seed=int_seed(seed, "targeting", "uplift"))
    except ValueError as e:
        return OfferRule(None, None, cap, str(e).splitlines()[0])
    return OfferRule(gain, curve, cap)


def recommendation(rule: OfferRule, subgroup_table: pd.DataFrame) -> dict[str, str]:
    """Next year's offer rule in both languages, from the targeting comparison."""
    gain, error = rule.gain, rule.error
    shown = subgroup_table[subgroup_table["passed"]]
    best = shown.loc[shown["estimate"].idxmax()] if len(shown) else None
    diff = None if gain is None else gain.set_index("rule").loc["cate_minus_risk"]
    if diff is not None and diff["ci_low"] > 0:
        ja = (
            "予測される効果の大きい人から順に案内すると、リスクの高い順に案内するより"
            "運動習慣の改善が多く見込まれます。来年度は効果予測に基づく案内を推奨します。"
        )
        en = ("Offering places to those with the largest predicted benefit is expected to "
              "improve exercise habits more than offering them by risk; we recommend it for "
              "next year.")  # fmt: skip
    else:
        ja = (
            "効果予測に基づく案内がリスク順の案内を上回るとは確認できませんでした。"
            "来年度も従来どおりリスク区分に基づいて案内することを推奨します。"
        )
        en = ("Offering by predicted benefit was not shown to beat offering by risk; we "
              "recommend keeping the risk-tier offers next year.")  # fmt: skip
    if best is not None:
        ja += f"効果が最も大きかった層: {best['subgroup_ja']}。"
        en += f" Largest estimated effect: {best['subgroup_en']}."
    if error:
        en += f" (Targeting comparison not computed: {error})"
        ja += "（効果予測による比較は計算できませんでした）"
    return {"text_ja": ja, "text_en": en}


def save_results(
    run_dir, fiscal_year: int, *, subgroup_table, forest_figure, advice, rule=None,
    uplift_figure=None,
) -> list:  # fmt: skip
    """Write the step-05 artifacts: those the report reads (``REPORT_ARTIFACTS``) and,
    when given, the targeting comparison (``offer_rule_gain`` table, the uplift curve as
    ``uplift_curve`` table with its Qini coefficient, and the ``qini`` figure)."""
    from analysis.runs import artifacts as art
    from analysis.study.cohort_step import period_text

    step, period = "05_targeting", period_text(fiscal_year)
    extra = []
    if rule is not None and rule.gain is not None:
        extra.append(art.save_table(
            rule.gain, run_dir, step, "offer_rule_gain",
            caption={"ja": f"定員{rule.capacity}人を効果予測順とリスク順で案内した場合の期待改善数",
                     "en": f"Expected gain of offering {rule.capacity} places by predicted "
                           "benefit versus by risk"},
            period=period,
        ))  # fmt: skip
    if rule is not None and rule.uplift is not None:
        curve = rule.uplift.assign(qini=float(rule.uplift.attrs.get("qini", np.nan)))
        extra.append(art.save_table(
            curve, run_dir, step, "uplift_curve",
            caption={"ja": "アップリフト（Qini）曲線", "en": "Uplift (Qini) curve"},
            period=period,
        ))  # fmt: skip
    if uplift_figure is not None:
        extra.extend(save_figure_editions(
            uplift_figure, run_dir, step, "qini",
            caption={"ja": "効果予測順に案内した場合のアップリフト（Qini）曲線",
                     "en": "Uplift (Qini) curve of offering by predicted benefit"},
            alt={"ja": "案内割合ごとの累積改善数（効果予測順と無作為）",
                 "en": "Cumulative gain by share offered, by predicted benefit and at random"},
        ))  # fmt: skip
    return extra + [
        art.save_table(subgroup_table, run_dir, step, "subgroups",
                       caption={"ja": "サブグループ別の運動習慣への効果",
                                "en": "Effects on exercise habit by subgroup"},
                       population={"ja": "Vitality 案内送付者のうち翌年度の健診受診者",
                                   "en": "People offered Vitality with a checkup the next year"},
                       period=period, published=True),
        *save_figure_editions(
            forest_figure, run_dir, step, "forest",
            caption={"ja": "サブグループ別の効果（フォレストプロット）",
                     "en": "Effects by subgroup (forest plot)"},
            alt={"ja": "サブグループごとの効果の点推定と95%信頼区間",
                 "en": "Point estimates and 95% CIs of the effect per subgroup"}),
        art.save_numbers(advice, run_dir, step, "recommendation"),
    ]  # fmt: skip
