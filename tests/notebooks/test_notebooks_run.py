"""The six step notebooks and the report run end to end on a small synthetic city.

One run (module fixture, FY2023 with FY2021-FY2023 pooled) is shared by every test:
``run_pipeline`` executes the step notebooks and the report notebook into ``tmp_path``;
the tests then check the report contract, the privacy rules and that ``verify_run``
reproduces every artifact.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.report.contract import REPORT_ARTIFACTS
from analysis.runs import artifacts as art
from analysis.runs.pipeline import STEPS, RunSettings, run_pipeline, verify_run

POPULATION, SEED, UPTAKE = 20_000, 7, 10.0
"""A town with a raised program uptake, so the effect notebooks have people, and large
enough (like the preview town) for severe events in the risk model's validation year:
at national event rates a town of 6,000 has none."""

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("notebook-run")]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from analysis.data.synthetic import simulate

    root = tmp_path_factory.mktemp("nbrun")
    data = simulate(population=POPULATION, years=(2019, 2024), seed=SEED, uptake=UPTAKE,
                    out=root / "town")  # fmt: skip
    settings = RunSettings(dataset=str(data), fiscal_year=2023, seed=SEED, pool_from=2021)
    return run_pipeline(settings, runs_dir=root / "runs", progress=False)


def test_every_step_notebook_executed(run_dir):
    executed = sorted(p.stem for p in (run_dir / "notebooks").glob("*.ipynb"))
    assert executed == sorted(STEPS)
    assert (run_dir / "manifest.json").exists()
    assert (run_dir / "artifacts" / "05_targeting" / "qini.png").exists()


def test_report_contract_is_met(run_dir):
    for a in REPORT_ARTIFACTS:
        assert art.has_artifact(run_dir, a.step, a.name), a.key
        meta = art.artifact_meta(run_dir, a.step, a.name)
        if a.kind == "table":
            df = art.load_table(run_dir, a.step, a.name)
            assert set(a.fields) <= set(df.columns), a.key
            assert meta["published"] is True, a.key
            assert {"caption", "population", "period"} <= set(meta), a.key
            assert {"ja", "en"} == set(meta["caption"]), a.key
        elif a.kind == "numbers":
            assert set(a.fields) <= set(art.load_numbers(run_dir, a.step, a.name)), a.key
        else:
            assert {"caption", "alt"} <= set(meta), a.key


def _small(v) -> bool:
    n = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    return bool(pd.notna(n) and 0 < n < 10)


def test_published_tables_have_no_ids_and_no_small_counts(run_dir):
    for a in REPORT_ARTIFACTS:
        if a.kind != "table":
            continue
        df = art.load_table(run_dir, a.step, a.name)
        assert "person_id" not in df.columns, a.key
        for col in a.counts:
            assert not any(_small(v) for v in df[col]), f"{a.key}.{col}"


def test_effect_tables_record_withheld_estimates_with_reasons(run_dir):
    for step in ("03_effect_exercise", "04_effect_costs"):
        eff = art.load_table(run_dir, step, "effects")
        assert eff["headline"].any()
        failed = eff[~eff["passed"].astype(bool)]
        assert (failed["reason"].str.len() > 0).all()
        assert not eff.duplicated(["outcome", "method"]).any()
    pooled = art.load_table(run_dir, "06_pooled", "effects")
    assert set(pooled["pooled_years"]) == {"FY2021-FY2023"}
    failed = pooled[~pooled["pooled_passed"].astype(bool)]
    assert (failed["pooled_reason"].str.len() > 0).all()
    assert not pooled.duplicated(["outcome", "method"]).any()


def test_offer_list_is_kept_but_not_published(run_dir):
    meta = art.artifact_meta(run_dir, "02_risk", "offer_list")
    offers = art.load_table(run_dir, "02_risk", "offer_list")
    assert meta["published"] is False
    assert offers["fiscal_year"].eq(2024).all()


def test_roi_is_consistent_with_its_interval(run_dir):
    roi = art.load_numbers(run_dir, "04_effect_costs", "roi")
    assert roi["budget_yen"] == 4_730_000
    assert roi["roi_ci_low"] <= roi["roi"] <= roi["roi_ci_high"]
    assert json.loads(json.dumps(roi)) == roi


def test_verify_reproduces_the_run(run_dir, tmp_path):
    report = verify_run(run_dir, scratch=tmp_path / "scratch")
    assert report.ok, [r for r in report.rows if r[1] != "same"]
