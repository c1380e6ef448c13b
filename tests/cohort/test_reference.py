"""The Ibis cohort equals an independent plain-pandas implementation of the same rules."""

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import build_cohort, connect, default_specs
from analysis.cohort.reference import build_cohort_pandas, read_tables

FLOAT_RTOL = 1e-9
"""Means of steps are summed in a different order by the two engines."""


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    """One representation of missing values and numbers, so only values are compared."""
    out = {}
    for c in df.columns:
        s = df[c]
        if s.dtype == object and s.dropna().map(type).isin([bool, np.bool_]).all():
            s = s.astype("float64")  # booleans with gaps after a pandas merge
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype("float64")
        else:
            out[c] = s.astype(object).where(s.notna(), np.nan)
    return pd.DataFrame(out)


def assert_same_cohort(a, b):
    pd.testing.assert_frame_equal(a.attrition.to_frame(), b.attrition.to_frame())
    for name in ("baseline", "outcomes", "panel_monthly"):
        x, y = getattr(a, name), getattr(b, name)
        assert list(x.columns) == list(y.columns), name
        pd.testing.assert_frame_equal(_canon(x), _canon(y), rtol=FLOAT_RTOL, obj=name)


def test_micro_matches_pandas(micro_path):
    spec = default_specs(2023)["risk"]  # the synthetic test below covers the other two
    ibis_cohort = build_cohort(connect(micro_path, validate=False), spec)
    pandas_cohort = build_cohort_pandas(read_tables(micro_path), spec)
    assert_same_cohort(ibis_cohort, pandas_cohort)


@pytest.mark.slow
def test_small_synthetic_matches_pandas(small_dataset_path):
    con = connect(small_dataset_path)  # validated: the synthetic city passes the contract
    tabs = read_tables(small_dataset_path)
    treated = 0
    for spec in default_specs(2023).values():
        a, b = build_cohort(con, spec), build_cohort_pandas(tabs, spec)
        assert a.n > 10
        treated += int(a.baseline["treated"].sum())
        assert_same_cohort(a, b)
    assert treated > 0  # the comparison covered participants too
