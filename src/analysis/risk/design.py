"""The design matrix of a risk model: encoding, spline terms and standardisation.

A :class:`Design` is learnt on the training data and applied unchanged to any later data,
so that validation rows are encoded with the training knots, levels, means and scales.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

KNOT_QUANTILES = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
}
"""Knot positions (quantiles) of restricted cubic splines, as recommended by Harrell (2015)."""


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Non-linear columns of a restricted (natural) cubic spline.

    The spline is linear beyond the outer knots. With ``k`` knots there are ``k - 2``
    columns; together with ``x`` itself they span the spline space.

    Parameters
    ----------
    x : numpy.ndarray
        Values, shape (n,).
    knots : numpy.ndarray
        Increasing knot positions, at least 3.

    Returns
    -------
    numpy.ndarray
        Shape (n, k - 2), scaled by ``(t_k - t_1) ** 2`` so that the columns are of the
        order of ``x``.

    References
    ----------
    Harrell FE. Regression Modeling Strategies, 2nd ed. Springer, 2015, §2.4.5.
    """
    t = np.asarray(knots, dtype=float)
    k = len(t)
    if k < 3 or np.any(np.diff(t) <= 0):
        raise ValueError(f"rcs_basis: need at least 3 increasing knots, got {t.tolist()}")
    x = np.asarray(x, dtype=float)[:, None]

    def cube(u):
        return np.clip(u, 0, None) ** 3

    tj = t[: k - 2][None, :]
    last, penult = t[-1], t[-2]
    cols = (
        cube(x - tj)
        - cube(x - penult) * (last - tj) / (last - penult)
        + cube(x - last) * (penult - tj) / (last - penult)
    )
    return cols / (last - t[0]) ** 2


@dataclass
class Design:
    """Encodes feature columns into a standardised numeric matrix.

    Numeric and boolean features enter linearly; features in ``spline_features`` also get
    restricted-cubic-spline columns; string or categorical features are one-hot encoded
    with the first level (sorted, or the category order) as reference. Every column is
    then centred and scaled with the training mean and standard deviation.

    Attributes
    ----------
    features : list of str
        Input columns, in order.
    spline_features : list of str
        Features with spline terms.
    knots_ : dict
        Knot positions per spline feature.
    levels_ : dict
        Levels per categorical feature (the first is the reference).
    columns_ : list of str
        Names of the design columns.
    mean_, scale_ : numpy.ndarray
        Standardisation of the design columns.
    """

    features: list[str]
    spline_features: list[str] = field(default_factory=list)
    n_knots: int = 4
    knots_: dict[str, np.ndarray] = field(default_factory=dict)
    levels_: dict[str, list] = field(default_factory=dict)
    columns_: list[str] = field(default_factory=list)
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def fit(self, data: pd.DataFrame) -> Design:
        """Learn knots, levels and scales from ``data``; returns ``self``."""
        if self.n_knots not in KNOT_QUANTILES:
            raise ValueError(f"n_knots must be one of {sorted(KNOT_QUANTILES)}, got {self.n_knots}")
        unknown = [f for f in self.spline_features if f not in self.features]
        if unknown:
            raise ValueError(f"spline_features not among features: {', '.join(unknown)}")
        check_features(data, self.features)
        for f in self.features:
            s = data[f]
            if _is_categorical(s):
                cats = s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else None
                levels = [c for c in cats if c in set(s)] if cats is not None else sorted(set(s))
                self.levels_[f] = list(levels)
            elif f in self.spline_features:
                x = s.to_numpy(dtype=float)
                knots = np.unique(np.quantile(x, KNOT_QUANTILES[self.n_knots]))
                if len(knots) < 3:
                    raise ValueError(
                        f"spline feature {f!r} has too few distinct values for "
                        f"{self.n_knots} knots; drop it from spline_features"
                    )
                self.knots_[f] = knots
        raw, self.columns_ = self._encode(data)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = raw.std(axis=0)
        flat = [c for c, s in zip(self.columns_, self.scale_, strict=True) if s == 0]
        if flat:
            raise ValueError(f"design column(s) constant in the training data: {', '.join(flat)}")
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """The standardised design matrix of ``data`` (same index)."""
        if self.mean_ is None:
            raise ValueError("Design.transform called before fit")
        check_features(data, self.features, allow_constant=True)
        raw, _ = self._encode(data)
        return pd.DataFrame(
            (raw - self.mean_) / self.scale_, columns=self.columns_, index=data.index
        )

    def _encode(self, data: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        blocks, names = [], []
        for f in self.features:
            s = data[f]
            if f in self.levels_:
                levels = self.levels_[f]
                unseen = sorted(set(s) - set(levels), key=str)
                if unseen:
                    raise ValueError(f"feature {f!r} has level(s) unseen in training: {unseen}")
                values = s.to_numpy(dtype=object)
                for lv in levels[1:]:
                    blocks.append((values == lv).astype(float)[:, None])
                    names.append(f"{f}[{lv}]")
                continue
            x = s.to_numpy(dtype=float)
            blocks.append(x[:, None])
            names.append(f)
            if f in self.knots_:
                basis = rcs_basis(x, self.knots_[f])
                blocks.append(basis)
                names.extend(f"{f}_rcs{j + 1}" for j in range(basis.shape[1]))
        return np.hstack(blocks), names


def _all_bool(s: pd.Series) -> bool:
    return s.dtype == object and all(isinstance(v, (bool, np.bool_)) for v in s)


def _is_categorical(s: pd.Series) -> bool:
    if _all_bool(s):
        return False
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(s.dtype)
        or s.dtype == object
    )


def check_features(data: pd.DataFrame, features: list[str], *, allow_constant: bool = False):
    """Raise ``ValueError`` for missing, empty, non-numeric-object or constant feature columns.

    Missing values in a used column are an error naming the column and the count.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame, got {type(data).__name__}")
    if not features:
        raise ValueError("features: give at least one feature column")
    absent = [f for f in features if f not in data.columns]
    if absent:
        raise ValueError(f"feature column(s) not in data: {', '.join(absent)}")
    for f in features:
        n_na = int(data[f].isna().sum())
        if n_na:
            raise ValueError(f"feature column {f!r} has {n_na} missing value(s)")
        s = data[f]
        if s.dtype == object and not _all_bool(s) and not all(isinstance(v, str) for v in s):
            raise ValueError(f"feature column {f!r} mixes strings and other values")
    if not allow_constant:
        flat = [f for f in features if data[f].nunique() <= 1]
        if flat:
            raise ValueError(f"feature column(s) constant (one value only): {', '.join(flat)}")
