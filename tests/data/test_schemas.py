"""Pandera schemas are the contract, column for column, and catch what it forbids."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pandera.errors
import pytest

from analysis.data.contract import TABLES
from analysis.data.schemas import canonical_frame, schema

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)


@pytest.mark.parametrize("name", list(TABLES))
def test_schema_mirrors_the_contract(name):
    s = schema(name)
    t = TABLES[name]
    assert list(s.columns) == t.column_names
    assert s.unique == list(t.primary_key)
    for col in t.columns:
        sc = s.columns[col.name]
        assert sc.nullable == col.nullable
        checks = {c.name: c for c in sc.checks}
        if col.allowed is not None:
            assert set(checks["allowed_codes"].statistics["allowed_values"]) == set(col.allowed)
        elif col.min is not None and col.max is not None:
            st = checks["in_range"].statistics
            assert (st["min_value"], st["max_value"]) == (col.min, col.max)


@pytest.mark.parametrize("name", list(TABLES))
def test_tiny_tables_pass(name):
    df = tiny.tiny_tables()[name]
    schema(name).validate(canonical_frame(name, df), lazy=True)


def _failures(name: str, df: pd.DataFrame) -> set[tuple[str, str]]:
    with pytest.raises(pandera.errors.SchemaErrors) as e:
        schema(name).validate(canonical_frame(name, df), lazy=True)
    fc = e.value.failure_cases
    return {(str(c), str(k).split("(")[0]) for c, k in zip(fc["column"], fc["check"], strict=True)}


@pytest.mark.parametrize(
    ("name", "column", "value", "check"),
    [
        ("checkups", "hba1c", 65.0, "in_range"),
        ("checkups", "sbp", 0.0, "in_range"),
        ("enrollment", "sex", "X", "isin"),
        ("claims", "setting", "home", "isin"),
        ("claim_diagnoses", "icd10", "E11.9", "str_matches"),
        ("claims", "person_id", None, "not_nullable"),
    ],
)
def test_forbidden_values_are_caught(name, column, value, check):
    df = tiny.tiny_tables()[name].copy()
    df[column] = df[column].astype(object)
    df.loc[0, column] = value
    assert (column, check) in _failures(name, df)


def test_duplicate_keys_are_caught_only_with_keys():
    df = tiny.tiny_tables()["claims"]
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(pandera.errors.SchemaErrors):
        schema("claims").validate(canonical_frame("claims", dup), lazy=True)
    schema("claims", keys=False).validate(canonical_frame("claims", dup), lazy=True)


def test_canonical_frame_does_not_round_integers():
    df = tiny.tiny_tables()["claims"].astype({"points": float})
    df.loc[0, "points"] = 1.5
    with pytest.raises(ValueError, match="points"):
        canonical_frame("claims", df)
