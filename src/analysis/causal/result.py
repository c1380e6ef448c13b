"""Effect results, their summary tables, tidy combination and the shared design-result display."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.causal.diagnostics import Diagnostics, rule_text
from analysis.causal.multiplicity import adjust_pvalues

FRAME_COLUMNS = (
    "outcome",
    "treatment",
    "method",
    "estimand",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "n_treated",
    "n_control",
    "passed",
    "failed_checks",
)
"""Stable columns of ``EffectResult.to_frame()``."""

LABELS = {
    "ja": {
        "title": "効果推定",
        "method": "手法",
        "estimand": "推定対象",
        "outcome": "アウトカム",
        "treatment": "介入",
        "n": "対象者数（介入／対照）",
        "estimate": "推定値",
        "se": "標準誤差",
        "ci": "95%信頼区間",
        "p": "p値",
        "check": "診断",
        "value": "値",
        "threshold": "基準",
        "result": "判定",
        "pass": "合格",
        "fail": "不合格",
        "passed": "すべての診断に合格",
        "withheld": "判定保留",
    },
    "en": {
        "title": "Effect estimate",
        "method": "Method",
        "estimand": "Estimand",
        "outcome": "Outcome",
        "treatment": "Treatment",
        "n": "N (treated / comparison)",
        "estimate": "Estimate",
        "se": "SE",
        "ci": "95% CI",
        "p": "p",
        "check": "Check",
        "value": "Value",
        "threshold": "Threshold",
        "result": "Result",
        "pass": "pass",
        "fail": "fail",
        "passed": "All diagnostics passed",
        "withheld": "Withheld",
    },
}


def _fmt(x: float, decimals: int) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:,.{decimals}f}"


def _markdown(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


@dataclass(frozen=True)
class Summary:
    """A readable summary: header lines, the estimate table, the diagnostics and a footer.

    Displays itself in notebooks (``_repr_html_``, ``_repr_markdown_``) and exports LaTeX.
    """

    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    checks: pd.DataFrame
    footer: str

    def __str__(self) -> str:
        head = "\n".join(f"{k}: {v}" for k, v in self.header)
        body = self.table.to_string(index=False)
        checks = self.checks.to_string(index=False) if len(self.checks) else ""
        return "\n".join(s for s in (head, body, checks, self.footer) if s)

    def _repr_markdown_(self) -> str:
        head = "  \n".join(f"**{k}**: {v}" for k, v in self.header)
        parts = [head, _markdown(self.table)]
        if len(self.checks):
            parts.append(_markdown(self.checks))
        parts.append(f"*{self.footer}*")
        return "\n\n".join(parts)

    def _repr_html_(self) -> str:
        head = "<br>".join(
            f"<b>{html.escape(k)}</b>: {html.escape(str(v))}" for k, v in self.header
        )
        parts = [f"<p>{head}</p>", self.table.to_html(index=False)]
        if len(self.checks):
            parts.append(self.checks.to_html(index=False))
        parts.append(f"<p><i>{html.escape(self.footer)}</i></p>")
        return "\n".join(parts)

    def to_latex(self) -> str:
        """LaTeX tables (estimate, then diagnostics) with the header as a comment."""
        head = "\n".join(f"% {k}: {v}" for k, v in self.header)
        parts = [head, self.table.to_latex(index=False)]
        if len(self.checks):
            parts.append(self.checks.to_latex(index=False))
        parts.append(f"% {self.footer}")
        return "\n".join(parts)


@dataclass(frozen=True, repr=False)
class EffectResult:
    """An estimated treatment effect with its uncertainty and diagnostics.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, p_value : float
        Point estimate (outcome units; risk difference for binary outcomes), standard
        error, 95% confidence interval and two-sided p-value for "no effect".
    n_treated, n_control : int
        People in each group used by the estimate.
    method, estimand, outcome, treatment : str
        What was estimated, and how.
    diagnostics : Diagnostics
        Pass/fail gates (balance, overlap, effective sample size) and tables.
    cate : numpy.ndarray or None
        Individual conditional effects (``method="forest"`` and ``"dml"``).
    info : dict
        Supporting numbers: ``se_type``, ``control_mean``, ``outcome_sd``,
        ``outcome_binary``, ``propensity``, ``weights``, ``t_stat``, ``df``,
        ``n_clusters``, ``bootstrap``.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_treated: int
    n_control: int
    method: str
    estimand: str
    outcome: str
    treatment: str
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    cate: np.ndarray | None = field(default=None, compare=False)
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def passed(self) -> bool:
        """True when every diagnostic gate passed."""
        return self.diagnostics.passed

    def ci(self) -> tuple[float, float]:
        """The 95% confidence interval."""
        return (self.ci_low, self.ci_high)

    def __repr__(self) -> str:
        return (
            f'<EffectResult method="{self.method}" estimand="{self.estimand}" '
            f'outcome="{self.outcome}" estimate={self.estimate:.4g} '
            f"ci=[{self.ci_low:.4g}, {self.ci_high:.4g}] passed={self.passed}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """One tidy row with the stable columns listed in ``FRAME_COLUMNS``."""
        row = {
            "outcome": self.outcome,
            "treatment": self.treatment,
            "method": self.method,
            "estimand": self.estimand,
            "estimate": float(self.estimate),
            "se": float(self.se),
            "ci_low": float(self.ci_low),
            "ci_high": float(self.ci_high),
            "p_value": float(self.p_value),
            "n_treated": int(self.n_treated),
            "n_control": int(self.n_control),
            "passed": bool(self.passed),
            "failed_checks": ",".join(c.name for c in self.diagnostics.failed),
        }
        return pd.DataFrame([row], columns=list(FRAME_COLUMNS))

    def summary(self, decimals: int = 2, lang: str = "ja") -> Summary:
        """A readable table for notebooks and reports (``lang`` is ``"ja"`` or ``"en"``)."""
        if lang not in LABELS:
            raise ValueError(f"lang must be one of {tuple(LABELS)}, got {lang!r}")
        lab = LABELS[lang]
        header = (
            (lab["outcome"], self.outcome),
            (lab["treatment"], self.treatment),
            (lab["method"], self.method),
            (lab["estimand"], self.estimand),
            (lab["n"], f"{self.n_treated:,} / {self.n_control:,}"),
        )
        table = pd.DataFrame(
            {
                lab["estimate"]: [_fmt(self.estimate, decimals)],
                lab["se"]: [_fmt(self.se, decimals)],
                lab["ci"]: [f"{_fmt(self.ci_low, decimals)} – {_fmt(self.ci_high, decimals)}"],
                lab["p"]: [_fmt_p(self.p_value)],
            }
        )
        checks = pd.DataFrame(
            {
                lab["check"]: [rule_text(c, lang) for c in self.diagnostics.checks],
                lab["value"]: [f"{c.value:.3g}" for c in self.diagnostics.checks],
                lab["threshold"]: [f"{c.threshold:.3g}" for c in self.diagnostics.checks],
                lab["result"]: [
                    lab["pass"] if c.passed else lab["fail"] for c in self.diagnostics.checks
                ],
            }
        )
        footer = (
            lab["passed"] if self.passed else f"{lab['withheld']}: {self.diagnostics.reason(lang)}"
        )
        return Summary(header, table, checks, footer)

    def plot(self, ax=None):
        """Point estimate with its 95% CI and a line at zero; returns the Axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 1.6))
        color = "C0" if self.passed else "0.5"
        ax.errorbar(
            [self.estimate],
            [0],
            xerr=[[self.estimate - self.ci_low], [self.ci_high - self.estimate]],
            fmt="o",
            color=color,
            capsize=4,
        )
        ax.axvline(0, color="0.3", lw=0.8, ls="--")
        ax.set_yticks([0], [f"{self.method} ({self.estimand})"])
        ax.set_xlabel(self.outcome)
        return ax


# ----------------------------------------------------------------------------- design results
HEADER_LABELS = {
    "design": ("デザイン", "Design"),
    "outcome": ("アウトカム", "Outcome"),
    "n": ("対象者数", "N"),
    "treatment / instrument": ("介入／操作変数", "Treatment / instrument"),
    "control group": ("対照群", "Control group"),
    "base": ("比較の基準", "Base"),
    "units (treated / never treated)": (
        "対象者数（介入／未介入）",
        "Units (treated / never treated)",
    ),
    "running variable / cutoff": ("割当変数／閾値", "Running variable / cutoff"),
    "bandwidth h (b)": ("バンド幅 h (b)", "Bandwidth h (b)"),
    "effective n (left / right)": ("実効対象者数（閾値未満／以上）", "Effective N (below / above)"),
    "n (treated / control)": ("対象者数（介入／対照）", "N (treated / comparison)"),
}
"""Japanese and English names of the header lines of the design-based summaries."""

PLOT_LABELS = {
    "ja": {
        "event_time": "開始からの期間",
        "uniform_band": "同時信頼帯",
        "pre": "開始前",
        "post": "開始後",
        "treated": "介入群",
        "control": "対照群",
        "survival": "イベント発生なしの割合",
        "itt": "ITT（案内状）",
        "late": "LATE（参加）",
        "first_stage_f": "第1段階F値",
        "estimate": "推定値",
    },
    "en": {
        "event_time": "periods since program start",
        "uniform_band": "uniform band",
        "pre": "pre",
        "post": "post",
        "treated": "treated",
        "control": "control",
        "survival": "event-free probability",
        "itt": "ITT (letter)",
        "late": "LATE (participation)",
        "first_stage_f": "first-stage F",
        "estimate": "estimate",
    },
}
"""Axis and legend labels of the design-based plots."""


def plot_labels(lang: str) -> dict[str, str]:
    """Labels for ``lang``; Japanese also registers the Japanese font with matplotlib."""
    from analysis.report.i18n import figure_labels

    return figure_labels(PLOT_LABELS, lang)


def build_summary(
    header: list[tuple[str, str]],
    table: pd.DataFrame,
    diagnostics: Diagnostics,
    lang: str = "ja",
    notes: tuple[str, ...] = (),
) -> Summary:
    """The package's ``Summary`` display object for a design-based estimate.

    Parameters
    ----------
    header : list of (str, str)
        Labelled header lines (design, outcome, N ...).
    table : pandas.DataFrame
        The estimates, already rounded or formatted for display.
    diagnostics : Diagnostics
        Its checks become the diagnostics table; failures go into the footer.
    lang : {"ja", "en"}
        Label language.
    notes : tuple of str
        Extra footer text (bandwidths, warnings).
    """
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {tuple(LABELS)}, got {lang!r}")
    lab = LABELS[lang]
    pick = 0 if lang == "ja" else 1
    header = [(HEADER_LABELS[k][pick] if k in HEADER_LABELS else k, v) for k, v in header]
    checks = pd.DataFrame(
        {
            lab["check"]: [rule_text(c, lang) for c in diagnostics.checks],
            lab["value"]: [f"{c.value:.3g}" for c in diagnostics.checks],
            lab["threshold"]: [f"{c.threshold:.3g}" for c in diagnostics.checks],
            lab["result"]: [lab["pass"] if c.passed else lab["fail"] for c in diagnostics.checks],
        }
    )
    verdict = (
        lab["passed"] if diagnostics.passed else f"{lab['withheld']}: {diagnostics.reason(lang)}"
    )
    footer = " / ".join([verdict, *notes, *diagnostics.warnings])
    return Summary(tuple(header), table, checks, footer)


class DesignResult:
    """Display scaffolding shared by the design-based results (DiD, RD, IV, survival).

    A subclass (a frozen dataclass with a ``diagnostics`` field or property) supplies
    ``_summary_header()``, ``_summary_table(decimals)`` and optionally
    ``_summary_notes()``; ``summary()`` assembles them with ``build_summary``.
    ``_axes(ax, lang)`` gives plots their Axes (a new figure of ``_figsize`` when
    ``ax`` is None) and their labels.
    """

    _figsize: tuple[float, float] = (6, 4)
    _decimals: int = 2

    @property
    def passed(self) -> bool:
        """True when every diagnostic gate passed."""
        return self.diagnostics.passed

    def _summary_header(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def _summary_table(self, decimals: int) -> pd.DataFrame:
        raise NotImplementedError

    def _summary_notes(self) -> tuple[str, ...]:
        return ()

    def summary(self, decimals: int | None = None, lang: str = "ja") -> Summary:
        """A readable table with the diagnostics gates (``lang`` is ``"ja"`` or ``"en"``).

        ``decimals`` defaults to 2 (3 for the survival results).
        """
        decimals = self._decimals if decimals is None else decimals
        table = self._summary_table(decimals)
        return build_summary(
            self._summary_header(), table, self.diagnostics, lang, self._summary_notes()
        )

    def _axes(self, ax, lang: str):
        """``(ax, labels)``: the given Axes or a new figure's, and the plot labels."""
        import matplotlib.pyplot as plt

        lab = plot_labels(lang)
        if ax is None:
            _, ax = plt.subplots(figsize=self._figsize)
        return ax, lab


class DesignEffect(DesignResult):
    """A design-based effect with ``estimate, se, ci_low, ci_high, p_value``.

    Adds ``ci()`` and ``as_effect_result()``; a subclass supplies ``_effect_fields()``
    (``n_treated, n_control, method, estimand, outcome, treatment, info``).
    """

    def ci(self) -> tuple[float, float]:
        """The confidence interval."""
        return (self.ci_low, self.ci_high)

    def _effect_fields(self) -> dict[str, Any]:
        raise NotImplementedError

    def as_effect_result(self) -> EffectResult:
        """The estimate as an ``EffectResult`` (for ``combine_results`` and the report)."""
        return EffectResult(
            estimate=self.estimate,
            se=self.se,
            ci_low=self.ci_low,
            ci_high=self.ci_high,
            p_value=self.p_value,
            diagnostics=self.diagnostics,
            **self._effect_fields(),
        )


def combine_results(results, adjust: str = "holm") -> pd.DataFrame:
    """One tidy table for several results, with multiplicity-adjusted p-values.

    Parameters
    ----------
    results : iterable of EffectResult
    adjust : {"holm", "bh", "none"}
        Holm (family-wise error) or Benjamini-Hochberg (false discovery rate).

    Returns
    -------
    pandas.DataFrame
        The ``to_frame()`` rows plus ``p_value_adjusted`` and ``adjustment``.
    """
    results = list(results)
    if not results:
        raise ValueError("combine_results needs at least one result")
    bad = [type(r).__name__ for r in results if not isinstance(r, EffectResult)]
    if bad:
        raise ValueError(f"combine_results takes EffectResult objects, got {bad[0]}")
    frame = pd.concat([r.to_frame() for r in results], ignore_index=True)
    frame["p_value_adjusted"] = adjust_pvalues(frame["p_value"].to_numpy(), adjust)
    frame["adjustment"] = adjust
    return frame


@dataclass(frozen=True)
class Fit:
    """What one estimator computes before inference is attached (internal).

    Attributes
    ----------
    estimate : float
        The point estimate.
    influence : numpy.ndarray or None
        Per-person influence values ``psi_i`` with ``estimate - truth ~ mean(psi)``;
        the variance is ``sum(psi**2) / n**2`` (summed within clusters when clustered).
    se : float or None
        A standard error computed by the method itself (e.g. Abadie-Imbens, econml).
    weights : numpy.ndarray or None
        Balancing weights per person (for balance and effective sample size).
    propensity : numpy.ndarray or None
        Propensity scores per person.
    keep : numpy.ndarray or None
        Boolean mask of the people used (after trimming or matching).
    cate : numpy.ndarray or None
        Individual effects.
    info : dict
        Method-specific numbers (``t_stat``, ``df``, ``n_trimmed`` ...).
    """

    estimate: float
    influence: np.ndarray | None = None
    se: float | None = None
    weights: np.ndarray | None = None
    propensity: np.ndarray | None = None
    keep: np.ndarray | None = None
    cate: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)
