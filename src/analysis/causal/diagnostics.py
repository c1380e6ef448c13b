"""Pass/fail gates recorded on every effect result (CohortMethod's ``unblind`` idea).

Every estimator attaches a ``Diagnostics`` object made of named ``Check`` results with
explicit thresholds. A report shows an estimate plainly only when ``passed`` is true;
otherwise it names the checks that failed (shown as 判定保留 with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class Check:
    """One diagnostic gate.

    Attributes
    ----------
    name : str
        Stable snake_case id, e.g. ``"balance_max_abs_smd"``, ``"overlap"``,
        ``"pretrend_p"``, ``"first_stage_f"``.
    value : float
        The measured statistic.
    threshold : float
        The limit the statistic is compared against.
    passed : bool
        Whether the gate holds.
    rule : str
        Human-readable rule, e.g. ``"max |SMD| < 0.1 after weighting"``.
    """

    name: str
    value: float
    threshold: float
    passed: bool
    rule: str


RULES_JA = {
    "balance_max_abs_smd": "調整後の標準化平均差の最大値(|SMD|)が {threshold:g} 未満",
    "propensity_extreme_share": "傾向スコアが 0 または 1 に極端に近い人の割合が {threshold:g} 未満",
    "effective_sample_size_ratio": "重み付け後の有効サンプルサイズが各群の人数の {threshold:.0%} 以上",
    "matched_share": "マッチングできた介入群の割合が {threshold:.0%} 以上",
    "pretrend_p": "開始前の傾向の差の検定(平行トレンド)の p 値が {threshold:g} 以上",
    "first_stage_f": "第1段階の F 統計量が {threshold:g} 超(弱い操作変数でない)",
    "systematic_error_sd": "負の対照アウトカムから推定した系統誤差の標準偏差が {threshold:g} 未満",
    "density_p": "カットオフ前後の密度検定(操作の有無)の p 値が {threshold:g} 以上",
    "effective_n_left": "カットオフ左側の有効サンプル数が {threshold:g} 以上",
    "effective_n_right": "カットオフ右側の有効サンプル数が {threshold:g} 以上",
    "placebo_outcomes": "効果がないはずのアウトカム(プラセボ)で効果が検出されない",
    "min_participants": "分析対象の参加者が {threshold:g} 人以上",
}
"""Japanese wording of each gate, by ``Check.name`` (report text is Japanese first)."""


def rule_text(check: Check, lang: str = "en") -> str:
    """The rule of a check in ``lang`` ("en" or "ja"); English when no translation exists."""
    if lang == "ja" and check.name in RULES_JA:
        return RULES_JA[check.name].format(threshold=check.threshold)
    return check.rule


@dataclass(frozen=True)
class Diagnostics:
    """The set of gates of one estimate, plus free-form tables (balance, overlap)."""

    checks: tuple[Check, ...] = ()
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when every check passed (and vacuously when there are none)."""
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def reason(self, lang: str = "en") -> str:
        """One line naming the failed checks, or ``""`` when all passed.

        ``lang="ja"`` gives the Japanese wording used by the Japanese report.
        """
        if lang == "ja":
            return "; ".join(f"{rule_text(c, 'ja')}(観測値 {c.value:.3g})" for c in self.failed)
        return "; ".join(f"{c.rule} (observed {c.value:.3g})" for c in self.failed)

    def to_frame(self) -> pd.DataFrame:
        """One row per check: name, value, threshold, passed, rule."""
        return pd.DataFrame(
            [(c.name, c.value, c.threshold, c.passed, c.rule) for c in self.checks],
            columns=["name", "value", "threshold", "passed", "rule"],
        )

    def with_checks(self, *checks: Check, warnings: tuple[str, ...] = ()) -> Diagnostics:
        """A copy with more checks (and warnings) added."""
        return Diagnostics(self.checks + tuple(checks), dict(self.tables), self.warnings + warnings)
