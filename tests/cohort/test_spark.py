"""DuckDB-vs-Spark parity: the same spec gives identical tables on both engines.

One Spark session serves the module (``spark_con_factory``); starting it dominates the
run time, so the module holds a single build on the small synthetic town. The edge cases
of the micro-city are pinned on DuckDB (test_build.py) and against plain pandas
(test_reference.py).
"""

import pandas as pd
import pytest

from analysis.cohort import build_cohort, connect, default_specs

pytestmark = pytest.mark.spark

FLOAT_RTOL = 1e-9
"""Means may be summed in a different order on Spark's partitions."""


def _assert_same(left: pd.DataFrame, right: pd.DataFrame, keys):
    assert list(left.columns) == list(right.columns)
    a = left.sort_values(keys).reset_index(drop=True)
    b = right.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=FLOAT_RTOL)


def test_small_synthetic_parity(spark_con_factory, small_dataset_path):
    spec = default_specs(2023)["vitality"]
    duck = build_cohort(connect(small_dataset_path), spec)
    spark = build_cohort(spark_con_factory(small_dataset_path), spec)
    assert spark.engine == "spark" and duck.engine == "duckdb"
    assert duck.n > 100 and duck.baseline["treated"].any()
    assert duck.outcomes["death_event"].any() and duck.outcomes["steps_mean"].notna().any()
    pd.testing.assert_frame_equal(duck.attrition.to_frame(), spark.attrition.to_frame())
    _assert_same(duck.baseline, spark.baseline, ["person_id"])
    _assert_same(duck.outcomes, spark.outcomes, ["person_id"])
    _assert_same(duck.panel_monthly, spark.panel_monthly, ["person_id", "rel_month"])


def test_absent_optional_tables_are_empty_views(spark_con_factory, micro_builder, tmp_path):
    from analysis.data.contract import REQUIRED_TABLES, TABLES

    m = micro_builder()
    m.person("P").claim("P", "2023-04")
    con = spark_con_factory(m.write(tmp_path / "required", tables=REQUIRED_TABLES))
    activity = con.table("activity")
    assert list(activity.columns) == TABLES["activity"].column_names
    assert con.execute(activity.count()) == 0
