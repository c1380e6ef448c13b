"""Temporal validation and comparison of the model with the rule-based levels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.risk import metrics
from analysis.risk.display import Summary
from analysis.risk.evaluation import RiskEvaluation
from analysis.risk.model import RiskModel, _outcome, fit_risk_model

RULE_ORDER = {"information": 0, "motivational": 1, "active": 2}
"""Ordinal score of the 特定保健指導 levels when they are used as a risk ranking."""


@dataclass(frozen=True)
class TemporalValidation:
    """A model fitted on earlier fiscal years and validated on later ones.

    Attributes
    ----------
    model : RiskModel
    evaluation : RiskEvaluation
        Performance on the later years.
    train_years, test_years : list of int
    """

    model: RiskModel
    evaluation: RiskEvaluation
    train_years: list[int]
    test_years: list[int]

    def summary(self, decimals: int = 3) -> Summary:
        s = self.evaluation.summary(decimals)
        facts = [
            ("fitted on fiscal years", ", ".join(map(str, self.train_years))),
            ("validated on fiscal years", ", ".join(map(str, self.test_years))),
            ("training events", self.model.n_events_),
            *s.facts,
        ]
        return Summary("Temporal validation", facts, s.tables, s.notes, decimals)

    def __repr__(self) -> str:
        return (
            f"<TemporalValidation train={self.train_years} test={self.test_years} "
            f"C={self.evaluation.c_index:.3f}>"
        )


def temporal_validation(
    data: pd.DataFrame,
    *,
    split_year: int,
    year: str = "fiscal_year",
    horizons=(3, 5),
    by: list[str] | None = None,
    **fit_options,
) -> TemporalValidation:
    """Fit on index years before ``split_year`` and validate on the years from it on.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person with the index fiscal year in ``year``, plus everything
        :func:`~analysis.risk.model.fit_risk_model` needs.
    split_year : int
        First validation year.
    year : str, default "fiscal_year"
    horizons : tuple of float, default (3, 5)
        Horizons beyond the validation follow-up get missing measures (with a warning).
    by : list of str, optional
        Subgroup columns for the validation.
    **fit_options
        Passed to :func:`~analysis.risk.model.fit_risk_model` (``duration``, ``event``,
        ``features``, ...).

    Returns
    -------
    TemporalValidation

    Raises
    ------
    ValueError
        If ``year`` is missing or either period is empty.
    """
    if year not in data.columns:
        raise ValueError(f"temporal_validation: column {year!r} not in data")
    y = data[year]
    train, test = data[y < split_year], data[y >= split_year]
    if train.empty or test.empty:
        raise ValueError(
            f"temporal_validation: split_year={split_year} leaves "
            f"{len(train)} training and {len(test)} validation rows; both must be non-empty"
        )
    model = fit_risk_model(train, **fit_options)
    ev = model.evaluate(test, horizons, by=by, label=f"FY{split_year}+")
    return TemporalValidation(
        model, ev, sorted(train[year].unique().tolist()), sorted(test[year].unique().tolist())
    )


def rule_comparison(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    scores: dict[str, pd.Series],
    horizon: float = 5,
) -> pd.DataFrame:
    """Harrell's C of several risk rankings on the same people (model versus rules).

    Parameters
    ----------
    data : pandas.DataFrame
        Follow-up and event columns.
    duration, event : str
    scores : dict of str to pandas.Series
        Ranking name to score aligned with ``data`` (higher = riskier). Non-numeric
        scores (object, ``string`` or categorical dtype) are rule levels (``"active"`` ...)
        and are mapped with :data:`RULE_ORDER`; any other value is an error.
    horizon : float, default 5
        Follow-up is truncated here.

    Returns
    -------
    pandas.DataFrame
        ``score``, ``harrell_c``, ``n``, ``events``.
    """
    t, e = _outcome(data, duration, event)
    t_h, e_h = np.minimum(t, horizon), e & (t <= horizon)
    rows = []
    for name, s in scores.items():
        s = pd.Series(s).reindex(data.index)
        if not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
            # object, string, categorical ...: rule levels, ranked with RULE_ORDER
            s = s.astype(object).map(RULE_ORDER)
        if s.isna().any():
            raise ValueError(f"rule_comparison: score {name!r} has missing or unknown values")
        rows.append(dict(score=name, harrell_c=metrics.harrell_c(t_h, e_h, s.to_numpy(float)),
                         n=len(t), events=int(e_h.sum())))  # fmt: skip
    return pd.DataFrame(rows)


def observed_risk_by_group(
    data: pd.DataFrame, group: pd.Series, *, duration: str, event: str, horizon: float = 5
) -> pd.DataFrame:
    """Kaplan-Meier risk at ``horizon`` within each level of ``group`` (e.g. tier or level).

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``events``, ``observed_risk``, ``se``. Counts are not suppressed.
    """
    t, e = _outcome(data, duration, event)
    g = pd.Series(group).reindex(data.index).to_numpy(dtype=object)
    rows = []
    for level in sorted(pd.unique(g), key=str):
        m = g == level
        r, se = metrics.km_risk(t[m], e[m], horizon)
        rows.append(dict(group=level, n=int(m.sum()), events=int((e[m] & (t[m] <= horizon)).sum()),
                         observed_risk=r, se=se))  # fmt: skip
    return pd.DataFrame(rows)
