"""Cohort building on Ibis: DuckDB embedded by default, PySpark for scale-out.

>>> from analysis.cohort import build_cohort, connect, default_specs
>>> con = connect("data/synthetic")  # doctest: +SKIP
>>> cohorts = build_cohorts(con, default_specs(2023))  # doctest: +SKIP
"""

from analysis.cohort.attrition import Attrition
from analysis.cohort.build import Cohort, build_cohort, build_cohorts
from analysis.cohort.engine import connect
from analysis.cohort.spec import CohortSpec, default_specs, load_spec

__all__ = [
    "Attrition",
    "Cohort",
    "CohortSpec",
    "build_cohort",
    "build_cohorts",
    "connect",
    "default_specs",
    "load_spec",
]
