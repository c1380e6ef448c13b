"""Input checks and covariate encoding shared by every estimator.

``make_design`` turns a user's pandas DataFrame into plain arrays: a binary treatment, a
numeric outcome and an encoded covariate matrix. Every problem in the input is reported
with the column it concerns; nothing is dropped or repaired without saying so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.seeds import rng

MIN_GROUP_SIZE = 10
"""Smallest treatment or comparison group accepted (the NDB small-cell rule)."""


@dataclass(frozen=True)
class Design:
    """Arrays ready for estimation.

    Attributes
    ----------
    X : numpy.ndarray
        Encoded covariates, shape ``(n, p)``, float.
    t : numpy.ndarray
        Treatment indicator, shape ``(n,)``, values 0/1.
    y : numpy.ndarray or None
        Outcome, shape ``(n,)``, float (``None`` when no outcome was asked for).
    columns : tuple of str
        Names of the columns of ``X`` (categorical levels as ``"col[level]"``).
    cluster : numpy.ndarray or None
        Integer cluster codes, shape ``(n,)``.
    treatment, outcome : str
        Column names in the user's data.
    warnings : tuple of str
        What the encoding did that the user should know (dropped constant columns ...).
    per : numpy.ndarray or None
        Exposure of each person (e.g. enrolled months) when the effect is on the outcome
        per unit of exposure, a ratio of means (``None``: the outcome's mean).
    per_name : str or None
        Column name of the exposure in the user's data.
    """

    X: np.ndarray
    t: np.ndarray
    y: np.ndarray | None
    columns: tuple[str, ...]
    cluster: np.ndarray | None = None
    treatment: str = "treatment"
    outcome: str | None = "outcome"
    warnings: tuple[str, ...] = ()
    per: np.ndarray | None = None
    per_name: str | None = None

    @property
    def n(self) -> int:
        return int(self.t.shape[0])

    @property
    def n_treated(self) -> int:
        return int(self.t.sum())

    @property
    def n_control(self) -> int:
        return self.n - self.n_treated

    @property
    def outcome_is_binary(self) -> bool:
        return self.y is not None and bool(np.isin(self.y, (0.0, 1.0)).all())

    def subset(self, index: np.ndarray) -> Design:
        """The design restricted to (or resampled at) the integer positions ``index``."""
        return Design(
            X=self.X[index],
            t=self.t[index],
            y=None if self.y is None else self.y[index],
            columns=self.columns,
            cluster=None if self.cluster is None else self.cluster[index],
            treatment=self.treatment,
            outcome=self.outcome,
            warnings=self.warnings,
            per=None if self.per is None else self.per[index],
            per_name=self.per_name,
        )


def _require_columns(data: pd.DataFrame, names: list[str]) -> None:
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) not found in data: {', '.join(map(repr, missing))}")


def _check_missing(data: pd.DataFrame, names: list[str]) -> None:
    for c in names:
        n_missing = int(data[c].isna().sum())
        if n_missing:
            raise ValueError(
                f"column {c!r} has {n_missing} missing value(s); impute or filter them first"
            )


def binary_treatment(values: pd.Series, name: str) -> np.ndarray:
    """The treatment column as a 0/1 integer array.

    Raises
    ------
    ValueError
        If the column holds anything other than 0/1 (or booleans), naming the values seen.
    """
    if values.dtype == bool:
        return values.to_numpy().astype(np.int8)
    seen = pd.unique(values)
    ok = pd.api.types.is_numeric_dtype(values) and set(np.asarray(seen, float)) <= {0.0, 1.0}
    if not ok:
        shown = ", ".join(map(repr, list(seen)[:5]))
        raise ValueError(f"treatment column {name!r} must be binary 0/1 or boolean; saw {shown}")
    return values.to_numpy().astype(np.int8)


def _encode_column(col: pd.Series, name: str) -> tuple[np.ndarray, list[str]]:
    if col.dtype == bool:
        return col.to_numpy(float)[:, None], [name]
    if pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(float)
        if not np.isfinite(values).all():
            raise ValueError(f"covariate {name!r} has infinite values")
        return values[:, None], [name]
    levels = sorted(pd.unique(col.astype(str)))
    codes = col.astype(str).to_numpy()
    dummies = [(codes == lev).astype(float) for lev in levels[1:]]
    names = [f"{name}[{lev}]" for lev in levels[1:]]
    if not dummies:
        return np.empty((len(col), 0)), []
    return np.column_stack(dummies), names


def encode_covariates(
    data: pd.DataFrame, covariates: list[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Encode covariates as a float matrix (categoricals as dummies, first level dropped).

    Returns
    -------
    X, names, notes
        The matrix, its column names, and a note for every constant column that was dropped.
    """
    blocks, names, notes = [], [], []
    for c in covariates:
        block, block_names = _encode_column(data[c], c)
        for j, nm in enumerate(block_names):
            if np.ptp(block[:, j]) == 0:
                notes.append(f"covariate {nm!r} is constant and was left out of the model")
                continue
            blocks.append(block[:, j])
            names.append(nm)
        if not block_names:
            notes.append(f"covariate {c!r} is constant and was left out of the model")
    X = np.column_stack(blocks) if blocks else np.empty((len(data), 0))
    return X, names, notes


def check_separation(X: np.ndarray, t: np.ndarray, names: list[str]) -> list[str]:
    """Raise on a covariate that perfectly separates the groups; warn on empty levels.

    Raises
    ------
    ValueError
        When every treated value of a covariate lies strictly above (or below) every
        comparison value: no comparison is possible and the propensity model diverges.
    """
    notes = []
    for j, nm in enumerate(names):
        x1, x0 = X[t == 1, j], X[t == 0, j]
        if x1.min() > x0.max() or x1.max() < x0.min():
            raise ValueError(
                f"covariate {nm!r} perfectly separates treated from comparison units; "
                "no adjusted comparison is possible (drop it or restrict the sample)"
            )
        is_dummy = set(np.unique(X[:, j])) <= {0.0, 1.0}
        if is_dummy and (x1.max() == 0 or x0.max() == 0):
            group = "treated" if x1.max() == 0 else "comparison"
            notes.append(f"level {nm!r} does not occur in the {group} group (no overlap)")
    return notes


def make_design(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str | None,
    covariates: list[str] | tuple[str, ...],
    cluster: str | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    separation: bool = True,
    per: str | None = None,
) -> Design:
    """Check the user's data and build the arrays used by every estimator.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person (never modified).
    treatment : str
        Binary 0/1 (or boolean) column.
    outcome : str or None
        Numeric (or boolean) outcome column.
    covariates : list of str
        Adjustment columns; strings and categories are one-hot encoded.
    cluster : str or None
        Column with cluster ids (e.g. household) for cluster-robust standard errors.
    min_group_size : int
        Smallest accepted treated and comparison group.
    separation : bool
        Raise on a covariate that perfectly separates the groups (off for descriptive
        balance tables, where such a covariate simply shows a huge difference).
    per : str or None
        Exposure column (e.g. enrolled months) for an effect on the outcome per unit of
        exposure: non-negative, with a positive total in each group.

    Returns
    -------
    Design

    Raises
    ------
    ValueError
        Missing columns or values, a non-binary treatment, a small group, a non-numeric
        outcome or a covariate that perfectly separates the groups.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    covariates = list(covariates)
    if treatment in covariates or (outcome is not None and outcome in covariates):
        raise ValueError("covariates must not include the treatment or outcome column")
    if len(set(covariates)) != len(covariates):
        raise ValueError("covariates contain duplicates")
    if per is not None and (per == treatment or per == outcome or per in covariates):
        raise ValueError(f"per column {per!r} must not be the treatment, outcome or a covariate")
    used = (
        [treatment]
        + ([outcome] if outcome else [])
        + covariates
        + ([cluster] if cluster else [])
        + ([per] if per else [])
    )
    _require_columns(data, used)
    _check_missing(data, used)
    t = binary_treatment(data[treatment], treatment)
    for label, n_group in (("treated", int(t.sum())), ("comparison", int(len(t) - t.sum()))):
        if n_group < min_group_size:
            raise ValueError(
                f"treatment column {treatment!r}: the {label} group has {n_group} people, "
                f"fewer than {min_group_size}"
            )
    y = None
    if outcome is not None:
        col = data[outcome]
        if not (pd.api.types.is_numeric_dtype(col) or col.dtype == bool):
            raise ValueError(f"outcome column {outcome!r} must be numeric, got {col.dtype}")
        y = col.to_numpy(float)
        if not np.isfinite(y).all():
            raise ValueError(f"outcome column {outcome!r} has infinite values")
    exposure = None if per is None else _exposure(data[per], per, t)
    X, names, notes = encode_covariates(data, covariates)
    if separation:
        notes += check_separation(X, t, names)
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=3)
    codes = None
    if cluster is not None:
        codes = pd.factorize(data[cluster])[0].astype(np.int64)
    return Design(X, t, y, tuple(names), codes, treatment, outcome, tuple(notes), exposure, per)


def _exposure(col: pd.Series, name: str, t: np.ndarray) -> np.ndarray:
    """The ``per`` column as floats: numeric, finite, non-negative, positive in each group."""
    if not pd.api.types.is_numeric_dtype(col) or col.dtype == bool:
        raise ValueError(f"per column {name!r} must be numeric, got {col.dtype}")
    v = col.to_numpy(float)
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError(f"per column {name!r} must be finite and non-negative")
    for label, g in (("treated", 1), ("comparison", 0)):
        if v[t == g].sum() <= 0:
            raise ValueError(f"per column {name!r} sums to 0 in the {label} group")
    return v


def make_folds(t: np.ndarray, n_folds: int, seed: int, *names: str) -> np.ndarray:
    """Fold labels ``0..n_folds-1`` for cross-fitting, stratified on the treatment."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    gen = rng(seed, "folds", *names)
    folds = np.empty(len(t), dtype=np.int64)
    for value in (0, 1):
        idx = np.flatnonzero(t == value)
        if len(idx) < n_folds:
            raise ValueError(f"cannot cross-fit {n_folds} folds with {len(idx)} units in a group")
        folds[gen.permutation(idx)] = np.arange(len(idx)) % n_folds
    return folds
