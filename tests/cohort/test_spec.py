import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.cohort.spec import CohortSpec, default_specs, load_spec
from analysis.errors import UserError


def _spec(**kw):
    base = {"spec_id": "s", "description": "d", "fiscal_year": 2023}
    return CohortSpec(**{**base, **kw})


@pytest.mark.parametrize("key", ["vitality", "mystar", "risk"])
@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_default_specs_round_trip(tmp_path, key, fmt):
    spec = default_specs(2023)[key]
    path = spec.save(tmp_path / f"spec.{'yml' if fmt == 'yaml' else 'json'}")
    assert load_spec(path) == spec


@settings(max_examples=40, deadline=None)
@given(
    lo=st.integers(0, 120),
    width=st.integers(0, 40),
    washout=st.integers(0, 2000),
    tiers=st.sampled_from([None, ("low",), ("low", "middle"), ("high",)]),
    day=st.integers(0, 365),
    windows=st.lists(st.integers(1, 24), min_size=1, max_size=3),
)
def test_round_trip_property(lo, width, washout, tiers, day, windows):
    hi = min(lo + width, 120)
    spec = _spec(
        target="vitality",
        comparator="offered",
        offered_tiers=tiers,
        age_min_years=lo,
        age_max_years=hi,
        washout_days=washout,
        cost_windows_months=tuple(windows),
        nonoffered_index_date=dt.date(2023, 4, 1) + dt.timedelta(days=day),
    )
    assert CohortSpec.from_json(spec.to_json()) == spec
    assert CohortSpec.from_yaml(spec.to_yaml()) == spec


def test_defaults_describe_the_three_cohorts():
    specs = default_specs(2024)
    assert [s.spec_id for s in specs.values()] == [
        "vitality-fy2024",
        "mystar-fy2024",
        "risk-fy2024",
    ]
    assert specs["vitality"].offered_tiers == ("low", "middle")
    assert specs["mystar"].target == "mystar" and specs["mystar"].comparator == "offered"
    assert specs["risk"].target is None and specs["risk"].comparator == "all"
    assert all(s.fiscal_year == 2024 for s in specs.values())


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"age_min_years": 75, "age_max_years": 74}, "age_min_years"),
        ({"age_max_years": 130}, "age_max_years"),
        ({"washout_days": -1}, "washout_days"),
        ({"target": "walking"}, "target"),
        ({"comparator": "offered"}, "comparator"),
        ({"comparator": "matched"}, "comparator"),
        (
            {"target": "vitality", "comparator": "offered", "offered_tiers": ("top",)},
            "offered_tiers",
        ),
        ({"offered_tiers": ("low",)}, "offered_tiers"),
        ({"cost_windows_months": (12, 36)}, "cost_windows_months"),
        ({"lookback_months": 0}, "lookback_months"),
        ({"fiscal_year": 1990}, "fiscal_year"),
        ({"nonoffered_index_date": dt.date(2024, 4, 1)}, "nonoffered_index_date"),
        ({"baseline_checkup_days": 0}, "baseline_checkup_days"),
    ],
)
def test_contradictions_name_the_field(changes, field):
    with pytest.raises(UserError, match=field):
        _spec(**changes)


def test_unknown_and_missing_keys():
    with pytest.raises(UserError, match="washout_months"):
        CohortSpec.from_dict({"spec_id": "s", "description": "d", "fiscal_year": 2023,
                              "washout_months": 12})  # fmt: skip
    with pytest.raises(UserError, match="fiscal_year"):
        CohortSpec.from_dict({"spec_id": "s", "description": "d"})
    with pytest.raises(UserError, match="nonoffered_index_date"):
        CohortSpec.from_dict({"spec_id": "s", "description": "d", "fiscal_year": 2023,
                              "nonoffered_index_date": "July"})  # fmt: skip


def test_data_window_checks():
    spec = _spec()
    first, last = dt.date(2019, 4, 1), dt.date(2025, 3, 1)
    spec.check_data_window(first, last)  # FY2023 with 12 months of look-back: fine
    with pytest.raises(UserError, match="fiscal_year 2026"):
        _spec(fiscal_year=2026).check_data_window(first, last)
    # FY2019 starts in the first data month: a 12-month look-back reaches 2018-04
    with pytest.raises(UserError, match="lookback_months 12 reaches 2018-04"):
        _spec(fiscal_year=2019).check_data_window(first, last)
    # FY2020 needs claims from April 2019 exactly: allowed
    _spec(fiscal_year=2020).check_data_window(first, last)
    with pytest.raises(UserError, match="lookback_months 13"):
        _spec(fiscal_year=2020, lookback_months=13).check_data_window(first, last)


def test_fiscal_year_bounds_and_load_errors(tmp_path):
    s = _spec(fiscal_year=2023)
    assert (s.fy_start, s.fy_end) == (dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    with pytest.raises(UserError, match="not found"):
        load_spec(tmp_path / "missing.yml")
    (tmp_path / "spec.txt").write_text("{}")
    with pytest.raises(UserError, match="json"):
        load_spec(tmp_path / "spec.txt")
