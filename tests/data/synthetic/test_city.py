"""simulate(): all contract tables, determinism, bad parameters, internal consistency."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analysis.data import load_dataset
from analysis.data.contract import TABLES, arrow_schema
from analysis.data.synthetic import simulate
from analysis.errors import UserError

TINY = {"population": 2_000, "years": (2020, 2023)}
"""A town small enough to simulate twice in a test (about 450 enrollees)."""


def _dates(df: pd.DataFrame, *cols: str) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        df[c] = pd.to_datetime(df[c])
    return df


def test_writes_every_contract_table_with_its_schema(small_dataset_path):
    import pyarrow.parquet as pq

    ds = load_dataset(small_dataset_path)
    assert ds.tables == list(TABLES)
    for name in TABLES:
        schema = pq.read_schema(small_dataset_path / f"{name}.parquet")
        assert schema.names == arrow_schema(name).names
        assert (
            ds.meta["rows"][name]
            == pq.ParquetFile(small_dataset_path / f"{name}.parquet").metadata.num_rows
        )
    for name in ("enrollment", "checkups", "claims", "claim_diagnoses", "program_offers"):
        assert ds.meta["rows"][name] > 0, name
    assert (small_dataset_path / "truth.json").exists()
    assert (small_dataset_path / "truth_risk.parquet").exists()
    assert ds.verify_hashes() == []


def test_same_arguments_give_byte_identical_directories(tmp_path):
    a = simulate(**TINY, seed=3, out=tmp_path / "a")
    b = simulate(**TINY, seed=3, out=tmp_path / "b", progress=True)  # the bar changes nothing
    c = simulate(**TINY, seed=4, out=tmp_path / "c")
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    meta_a = json.loads((a / "dataset.json").read_text())
    meta_b = json.loads((b / "dataset.json").read_text())
    meta_c = json.loads((c / "dataset.json").read_text())
    meta_a.pop("name"), meta_b.pop("name")
    assert meta_a == meta_b
    for f in files:
        if f != "dataset.json":
            assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert meta_c["files"]["claims.parquet"] != meta_a["files"]["claims.parquet"]
    assert meta_c["files"]["enrollment.parquet"] != meta_a["files"]["enrollment.parquet"]


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"population": 10}, "population"),
        ({"population": 2.5}, "population"),
        ({"years": (2024, 2020)}, "years"),
        ({"years": "2020"}, "years"),
        ({"seed": -1}, "seed"),
        ({"uptake": -1.0}, "uptake"),
        ({"uptake": float("nan")}, "uptake"),
    ],
)
def test_bad_parameters_name_the_parameter(tmp_path, kwargs, word):
    with pytest.raises(UserError, match=word):
        simulate(**{**TINY, **kwargs}, out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_refuses_to_overwrite_without_replace(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    with pytest.raises(FileExistsError):
        simulate(**TINY, out=out)
    simulate(**TINY, out=out, replace=True)
    assert (out / "dataset.json").exists()


def test_claims_only_while_enrolled_and_alive(small_dataset):
    en = _dates(small_dataset.enrollment, "enroll_start", "enroll_end", "death_date")
    cl = _dates(
        small_dataset.read("claims", columns=["person_id", "service_month"]), "service_month"
    ).drop_duplicates()
    cut = pd.Timestamp("2025-03-31")
    sp = en.assign(
        m0=en["enroll_start"].dt.to_period("M"), m1=en["enroll_end"].fillna(cut).dt.to_period("M")
    )
    j = cl.assign(m=cl["service_month"].dt.to_period("M")).merge(sp, on="person_id")
    covered = j[(j["m"] >= j["m0"]) & (j["m"] <= j["m1"])]
    assert covered[["person_id", "service_month"]].drop_duplicates().shape[0] == len(cl)
    died = en.dropna(subset=["death_date"]).drop_duplicates("person_id")
    after = cl.merge(died[["person_id", "death_date"]], on="person_id")
    assert (after["service_month"].dt.to_period("M") <= after["death_date"].dt.to_period("M")).all()


def test_checkups_only_at_40_to_74_while_enrolled_once_per_year(small_dataset):
    en = _dates(small_dataset.enrollment, "birth_date", "enroll_start", "enroll_end", "death_date")
    ck = _dates(small_dataset.checkups, "exam_date")
    assert not ck.duplicated(["person_id", "fiscal_year"]).any()
    fy = ck["exam_date"].dt.year - (ck["exam_date"].dt.month < 4)
    assert (fy == ck["fiscal_year"]).all()
    j = ck.merge(en, on="person_id")
    inside = (j["exam_date"] >= j["enroll_start"]) & (
        j["exam_date"] <= j["enroll_end"].fillna(pd.Timestamp("2100-01-01"))
    )
    assert inside.groupby([j["person_id"], j["fiscal_year"]]).any().all()
    b, e = j["birth_date"], j["exam_date"]
    age = e.dt.year - b.dt.year - ((e.dt.month * 100 + e.dt.day) < (b.dt.month * 100 + b.dt.day))
    assert age.between(40, 74).all()
    alive = j["death_date"].isna() | (j["exam_date"] < j["death_date"])
    assert alive.all()


def test_spells_do_not_overlap_and_exit_reasons_are_consistent(small_dataset):
    en = _dates(
        small_dataset.enrollment, "birth_date", "enroll_start", "enroll_end", "death_date"
    ).sort_values(["person_id", "enroll_start"])
    assert (en["enroll_end"].isna() | (en["enroll_end"] >= en["enroll_start"])).all()
    prev_end = en.groupby("person_id")["enroll_end"].shift()
    assert ((prev_end.isna()) | (en["enroll_start"] > prev_end)).all()
    assert (en["enroll_end"].isna() == en["exit_reason"].isna()).all()
    d = en[en["exit_reason"] == "death"]
    assert (d["enroll_end"] == d["death_date"]).all()
    # Deaths after leaving NHI are unknown to the insurer: a death date only on the spell
    # the death ends.
    assert (en["death_date"].notna() == (en["exit_reason"] == "death")).all()
    a = en[en["exit_reason"] == "age75"]
    age_end = (a["enroll_end"] + pd.Timedelta(days=1) - a["birth_date"]).dt.days / 365.25
    assert np.allclose(age_end, 75, atol=0.01)
    assert en.groupby("person_id")["sex"].nunique().max() == 1
    assert en.groupby("person_id").size().max() >= 2 or len(en) < 500  # several spells occur
    assert set(en["exit_reason"].dropna()) >= {"age75", "moved", "employee_insurance", "death"}


def test_points_are_cost_over_ten_and_ids_are_unique(small_dataset):
    cl = small_dataset.claims
    assert (cl["cost_yen"] == cl["points"] * 10).all()
    assert (cl["days"] <= pd.to_datetime(cl["service_month"]).dt.days_in_month).all()
    assert not cl.duplicated(["person_id", "service_month", "setting"]).any()
    assert cl["claim_id"].is_unique
    dx = small_dataset.claim_diagnoses
    assert not dx.duplicated(["claim_id", "icd10"]).any()
    assert dx["claim_id"].isin(cl["claim_id"]).all()
    per_claim = dx.groupby("claim_id")["primary"].sum()
    assert (per_claim == 1).all()
    assert dx["icd10"].str.fullmatch(r"[A-Z]\d{2,3}").all()


def test_truth_risk_covers_every_enrolled_person_year(small_dataset):
    risk = pd.read_parquet(small_dataset.path / "truth_risk.parquet")
    assert not risk.duplicated(["person_id", "fiscal_year"]).any()
    assert np.isfinite(risk["linear_predictor"]).all()
    cl = _dates(
        small_dataset.read("claims", columns=["person_id", "service_month"]), "service_month"
    )
    fy = cl["service_month"].dt.year - (cl["service_month"].dt.month < 4)
    used = cl.assign(fiscal_year=fy)[["person_id", "fiscal_year"]].drop_duplicates()
    j = used.merge(risk, on=["person_id", "fiscal_year"], how="left")
    assert j["linear_predictor"].notna().all()
    # The oracle risk rises with age, as the hazard does.
    en = small_dataset.enrollment.drop_duplicates("person_id")
    r = risk.merge(en[["person_id", "birth_date"]], on="person_id")
    age = r["fiscal_year"] - pd.to_datetime(r["birth_date"]).dt.year
    assert np.corrcoef(age, r["linear_predictor"])[0, 1] > 0.5


def test_households_group_people_and_persist_across_spells(small_dataset):
    en = small_dataset.enrollment
    assert en.groupby("person_id")["household_id"].nunique().max() == 1
    size = en.drop_duplicates("person_id").groupby("household_id").size()
    in_shared = size[size >= 2].sum() / size.sum()
    assert 0.3 < in_shared < 0.8
    assert size.max() <= 10
