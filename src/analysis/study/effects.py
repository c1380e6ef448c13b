"""Effect estimates as recorded results: outcomes, covariates, runs and the effects table.

An estimator that cannot run on the data (too few treated, perfect separation, a failed
bootstrap) does not stop the evaluation: :func:`run_methods` records the attempt with the
error as its reason, and the effects table shows it as withheld (判定保留).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.causal.diagnostics import Check
from analysis.config import MIN_CELL_COUNT
from analysis.data.contract import PROGRAM_LABELS
from analysis.report import publish
from analysis.seeds import int_seed
from analysis.study.detectable import (
    DETECTABLE_COLUMNS,
    Detectable,
    detectable,
    outcome_scale,
    ratio_scale,
    reference_effects,
)

COVARIATES = [
    "age_years", "sex", "bmi", "sbp", "hba1c", "ldl", "smoker", "exercise_habit",
    "walking_habit", "bp_med", "glucose_med", "cm_cancer", "cm_mental", "cm_cardiovascular",
    "cm_ckd", "log_cost_total_prior",
]  # fmt: skip
"""Baseline confounders of every program-effect estimate (pre-declared): demographics, the
latest checkup's values, answers and medication, claims-based comorbidities that drive
costs (cancer, mental disorders, cardiovascular disease, CKD) and prior costs."""

MIN_PARTICIPANTS = 30
"""Fewest participants for an effect on a habit or a checkup value to be shown. The
recovery benchmark (``mvm-eval bench recovery``) finds honest 95% intervals from about 30
participants (the default city's Vitality year: 92-98% coverage)."""
MIN_PARTICIPANTS_COSTS = 100
"""Fewest participants for a cost effect to be shown: medical costs are heavy-tailed, and
with about 50 participants the intervals of every estimator cover the truth only 75-88%
of the time in the recovery benchmark; from about 130 they do 92-97%."""
MIN_PARTICIPANTS_METHOD = {"dml": 100}
"""Estimators that need more participants than the outcome's minimum: econml's
``LinearDML`` intervals cover 80% with about 40 participants (95% with 350)."""

SENSITIVITY_METHODS = ("regression", "ipw", "matching", "dml")
"""Estimators run beside the primary ``aipw`` as a sensitivity analysis."""

EFFECT_COLUMNS = [
    "program", "outcome", "label_ja", "label_en", "unit_ja", "unit_en", "method",
    "estimand", "estimate", "ci_low", "ci_high", "p_value", "n_treated", "n_control",
    "passed", "reason", "reason_ja", "headline", "role", *DETECTABLE_COLUMNS,
]  # fmt: skip
"""Columns of the effects table; the last four (:data:`DETECTABLE_COLUMNS`) say what a
primary estimate could detect (:func:`analysis.study.detectable.detectable`)."""

METHOD_JA = {"aipw": "AIPW", "regression": "回帰", "ipw": "IPW", "matching": "マッチング",
             "dml": "DML"}  # fmt: skip
"""Estimator names in the Japanese reasons of sensitivity rows."""
PROGRAM_JA = {k: v["ja"] for k, v in PROGRAM_LABELS.items()}
PROGRAM_EN = {k: v["en"] for k, v in PROGRAM_LABELS.items()}


@dataclass(frozen=True)
class Outcome:
    """An outcome of the evaluation with its labels and outcome model.

    Attributes
    ----------
    name : str
        Column of the analysis frame (a cohort's ``outcomes`` column).
    label_ja, label_en, unit_ja, unit_en : str
    outcome_model : {"linear", "logistic", "two_part", "loglink"}
        Outcome model of the primary ``aipw`` estimate (``two_part`` for costs).
    min_participants : int
        Fewest participants in the analysis for an estimate to be shown
        (:data:`MIN_PARTICIPANTS`; :data:`MIN_PARTICIPANTS_COSTS` for costs).
    column : str
        Column of the analysis frame holding the outcome when it differs from ``name``
        (a per-month cost is the window's cost column divided by ``per``).
    per : str or None
        Exposure column (enrolled months): the effect is on the outcome per unit of it,
        a ratio of means (``estimate_effect(per=...)``).
    """

    name: str
    label_ja: str
    label_en: str
    unit_ja: str
    unit_en: str
    outcome_model: str = "linear"
    min_participants: int = 30
    column: str = ""
    per: str | None = None

    @property
    def data_column(self) -> str:
        """The analysis frame's column of the outcome (``column``, else ``name``)."""
        return self.column or self.name


@dataclass(frozen=True)
class Attempt:
    """One pre-declared estimate: its result, or the reason it could not be computed.

    Attributes
    ----------
    program : str
    outcome : Outcome
    method : str
    result : object or None
        An ``EffectResult`` (or a result with the same fields: ``IVResult``,
        ``SurvivalEffectResult``); ``None`` when the estimator failed.
    error : str
        The one-line error when ``result`` is ``None``.
    n_treated, n_control : int
        People available in each group (used when the estimator failed).
    headline : bool
        Shown in the report's summary.
    seconds : float
        Time the estimator took.
    treated_ids : tuple of str
        Person ids of the treated people in the data the estimator was given (never
        published; lets a recovery check compute the truth of exactly this estimate).
    role : {"primary", "sensitivity"}
        The pre-declared primary estimate of its outcome, or a sensitivity analysis.
    primary : Attempt or None
        For a sensitivity analysis, the primary estimate of the same outcome: when the
        primary is withheld, so is the sensitivity analysis, with the primary's reason.
    outcome_sd, control_mean : float
        Standard deviation and mean of the outcome in the comparison group of the data the
        estimator was given (NaN when not recorded); they size the minimum detectable
        effect of a primary row (:meth:`detectable`).
    """

    program: str
    outcome: Outcome
    method: str
    result: object | None
    error: str = ""
    n_treated: int = 0
    n_control: int = 0
    headline: bool = False
    seconds: float = 0.0
    treated_ids: tuple = dataclasses.field(default=(), repr=False, compare=False)
    role: str = "primary"
    primary: Attempt | None = dataclasses.field(default=None, repr=False, compare=False)
    outcome_sd: float = float("nan")
    control_mean: float = float("nan")

    def detectable(self, n_treated, n_control) -> Detectable:
        """The MDE and the participants needed for the outcome's reference effect
        (:func:`analysis.study.detectable.reference_effects`); primary rows only."""
        if self.role != "primary":
            return Detectable()
        ref = reference_effects().get((self.program, self.outcome.name))
        return detectable(n_treated, n_control, self.outcome_sd, self.control_mean, ref)

    @property
    def own_passed(self) -> bool:
        """The estimate ran and passed its own diagnostics."""
        return self.result is not None and bool(self.result.diagnostics.passed)

    @property
    def passed(self) -> bool:
        """Shown as a number: it passed, and so did its primary (for a sensitivity row)."""
        return self.own_passed and (self.primary is None or self.primary.passed)

    @property
    def reason(self) -> str:
        return self._reason("en")

    @property
    def reason_ja(self) -> str:
        """The reason in Japanese (estimator errors keep their English text after a label)."""
        return self._reason("ja")

    def _reason(self, lang: str) -> str:
        if self.result is None:
            if lang == "ja":
                return f"推定できませんでした: {self.error}" if self.error else ""
            return self.error
        own = self.result.diagnostics.reason(lang)
        if own or self.primary is None or self.primary.passed:
            return own
        inherited = self.primary.reason_ja if lang == "ja" else self.primary.reason
        if lang == "ja":
            return f"主解析（{METHOD_JA.get(self.primary.method, self.primary.method)}）が判定保留: {inherited}"
        return f"primary estimate ({self.primary.method}) withheld: {inherited}"

    def to_row(self) -> dict:
        """One row of the effects table (:data:`EFFECT_COLUMNS`)."""
        r = self.result
        o = self.outcome
        row = {
            "program": self.program,
            "outcome": f"{self.program}:{o.name}",
            "label_ja": f"{PROGRAM_JA.get(self.program, self.program)}: {o.label_ja}",
            "label_en": f"{PROGRAM_EN.get(self.program, self.program)}: {o.label_en}",
            "unit_ja": o.unit_ja,
            "unit_en": o.unit_en,
            "method": self.method,
            "estimand": getattr(r, "estimand", "") if r is not None else "",
            "headline": bool(self.headline),
            "role": self.role,
            "passed": self.passed,
            "reason": self.reason,
            "reason_ja": self.reason_ja,
        }
        if r is None:
            row.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                       n_treated=int(self.n_treated), n_control=int(self.n_control))  # fmt: skip
        else:
            row.update(estimate=float(r.estimate), ci_low=float(r.ci_low),
                       ci_high=float(r.ci_high), p_value=float(r.p_value),
                       n_treated=int(r.n_treated), n_control=int(r.n_control))  # fmt: skip
        row.update(self.detectable(row["n_treated"], row["n_control"]).to_dict())
        return row


def analysis_frame(cohort, outcomes: Sequence[str] = ()) -> pd.DataFrame:
    """Baseline joined with the named outcome columns, one row per person.

    Adds ``treat`` (0/1 participation) and ``log_cost_total_prior``. People missing one of
    the pre-declared :data:`COVARIATES` (a checkup item not recorded: 1-3% of each) are
    left out, so every estimate is a complete-case analysis on the covariates; their
    number is ``df.attrs["missing_covariates"]``. :func:`complete_cases` drops people
    without a measured outcome.
    """
    base = cohort.baseline.copy()
    cols = [c for c in outcomes if c not in base.columns]
    missing = [c for c in cols if c not in cohort.outcomes.columns]
    if missing:
        raise ValueError(f"cohort {cohort.spec.spec_id!r}: outcome column(s) {missing} not found")
    df = base.merge(
        cohort.outcomes[["person_id", *cols]], on="person_id", how="left", validate="one_to_one"
    )
    df["treat"] = df["treated"].astype(int)
    df["log_cost_total_prior"] = np.log1p(df["cost_total_prior"].astype(float))
    for c in cols:
        if pd.api.types.is_bool_dtype(df[c]) or str(df[c].dtype) == "boolean":
            df[c] = df[c].astype("Float64").astype(float)
        elif pd.api.types.is_integer_dtype(df[c]):
            df[c] = df[c].astype("Float64").astype(float)
    return _complete_covariates(df)


def _complete_covariates(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with every pre-declared covariate recorded (nullable flags become bool)."""
    cov = [c for c in COVARIATES if c in df.columns]
    missing = df[cov].isna().any(axis=1)
    out = df[~missing].reset_index(drop=True)
    for c in cov:
        if str(out[c].dtype) == "boolean":
            out[c] = out[c].astype(bool)
    out.attrs["missing_covariates"] = int(missing.sum())
    return out


def complete_cases(df: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Rows whose ``outcome`` was measured (e.g. people with a next-year checkup)."""
    if outcome not in df.columns:
        raise ValueError(f"outcome column {outcome!r} not in the analysis frame")
    return df[df[outcome].notna()].reset_index(drop=True)


def _group_sizes(df: pd.DataFrame, treatment: str) -> tuple[int, int]:
    """People in each group (a panel counts each person once)."""
    if "person_id" in df.columns:
        df = df.drop_duplicates("person_id")
    t = df[treatment].astype(int)
    return int(t.sum()), int((t == 0).sum())


def size_gate(a: Attempt, minimum: int) -> Attempt:
    """``a`` with the gate ``min_participants`` (participants in its analysis >= ``minimum``)
    added to its diagnostics; an attempt without a result is returned unchanged."""
    r = a.result
    if r is None:
        return a
    n = int(r.n_treated)
    check = Check("min_participants", float(n), float(minimum), n >= minimum,
                  f"participants in the analysis >= {minimum}")  # fmt: skip
    return dataclasses.replace(
        a, result=dataclasses.replace(r, diagnostics=r.diagnostics.with_checks(check))
    )


def attempt(program: str, outcome: Outcome, method: str, fn, data, /, **kw) -> Attempt:
    """Run ``fn(data, **kw)``; a ``ValueError`` becomes a recorded failure, not a crash.

    Group sizes for a failed attempt come from ``kw["treatment"]`` (default ``"treat"``).
    """
    treatment = kw.get("treatment", "treat")
    n1, n0 = _group_sizes(data, treatment) if treatment in data.columns else (0, 0)
    ids = _treated_ids(data, treatment)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fn(data, **kw)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return Attempt(program, outcome, method, None, msg, n1, n0,
                       seconds=time.perf_counter() - start, treated_ids=ids)  # fmt: skip
    return Attempt(program, outcome, method, res, "", n1, n0,
                   seconds=time.perf_counter() - start, treated_ids=ids)  # fmt: skip


def _treated_ids(data: pd.DataFrame, treatment: str) -> tuple:
    if "person_id" not in data.columns or treatment not in data.columns:
        return ()
    t = pd.to_numeric(data[treatment], errors="coerce").fillna(0).astype(bool)
    return tuple(data.loc[t.to_numpy(), "person_id"].drop_duplicates())


def run_methods(
    df: pd.DataFrame,
    *,
    program: str,
    outcome: Outcome,
    covariates: Sequence[str] = COVARIATES,
    methods: Sequence[str] = ("aipw", *SENSITIVITY_METHODS),
    seed: int,
    estimand: str = "ATT",
    headline_method: str | None = "aipw",
    n_bootstrap: int = 0,
    cluster: str | None = None,
) -> list[Attempt]:
    """Run the pre-declared estimators of one outcome; each becomes an :class:`Attempt`.

    People without a measured outcome are left out (complete cases). Each method's seed
    is derived from ``seed`` and the program, outcome and method names. The first method
    is the primary estimate; the others are sensitivity analyses, withheld whenever the
    primary is (:func:`with_primary`). ``cluster`` names a column whose groups get
    cluster-robust standard errors (households in a pooled evaluation).
    """
    from analysis.causal.estimate import estimate_effect

    data = complete_cases(df, outcome.data_column)
    if outcome.per is not None:
        data = complete_cases(data, outcome.per)
        sd, mean = ratio_scale(data, outcome.data_column, outcome.per)
    else:
        sd, mean = outcome_scale(data, outcome.name)
    out = []
    for method in methods:
        kw = dict(treatment="treat", outcome=outcome.data_column, covariates=list(covariates),
                  method=method, estimand=estimand,
                  seed=int_seed(seed, "effect", program, outcome.name, method), n_jobs=1)  # fmt: skip
        if method == "aipw":
            # two-part / log-link models need a bootstrap under "regression": too slow
            kw["outcome_model"] = outcome.outcome_model
        if outcome.per is not None:
            kw["per"] = outcome.per
        if cluster is not None:
            kw["cluster"] = cluster
        if method in ("matching",) and n_bootstrap:
            kw["n_bootstrap"] = n_bootstrap
        a = attempt(program, outcome, method, estimate_effect, data, **kw)
        a = dataclasses.replace(a, outcome_sd=sd, control_mean=mean)
        a = size_gate(a, max(outcome.min_participants, MIN_PARTICIPANTS_METHOD.get(method, 0)))
        out.append(_with_headline(a, method == headline_method))
    return with_primary(out)


def with_primary(attempts: Sequence[Attempt]) -> list[Attempt]:
    """The first attempt is the primary estimate; the others become its sensitivity
    analyses, withheld whenever it is (see :class:`Attempt`)."""
    if not attempts:
        return []
    first = dataclasses.replace(attempts[0], role="primary", primary=None)
    rest = [dataclasses.replace(a, role="sensitivity", primary=first) for a in attempts[1:]]
    return [first, *rest]


def _with_headline(a: Attempt, headline: bool) -> Attempt:
    return dataclasses.replace(a, headline=headline)


def effects_table(attempts: Sequence[Attempt], min_cell_count: int = MIN_CELL_COUNT):
    """The published effects table: one row per attempt, small group sizes suppressed.

    Returns
    -------
    pandas.DataFrame
        :data:`EFFECT_COLUMNS`; ``n_treated`` / ``n_control`` from 1 to
        ``min_cell_count - 1`` shown as ``"<10"``.
    """
    if not attempts:
        raise ValueError("effects_table: no estimates to tabulate")
    df = pd.DataFrame([a.to_row() for a in attempts], columns=EFFECT_COLUMNS)
    return publish.suppress_small_counts(
        df, ["n_treated", "n_control"], min_cell_count, complementary=False
    )


def first_result(attempts: Sequence[Attempt], method: str = "aipw", outcome: str | None = None):
    """The first successful result of ``method`` (and ``outcome``), or ``None``."""
    for a in attempts:
        if a.method == method and a.result is not None:
            if outcome is None or a.outcome.name == outcome:
                return a.result
    return None
