"""Key and foreign-key rules proven from the order of the rows: only when they hold, and
the validator's findings are the same with or without the proofs."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analysis.data.validation as validation
from analysis.data.dataset import Dataset
from analysis.data.validation import all_rules, proven_by_order, validate_dataset

_spec = importlib.util.spec_from_file_location(
    "tiny", Path(__file__).parent / "fixtures" / "tiny.py"
)
tiny = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tiny)

TODAY = dt.date(2026, 1, 1)
RULES = {
    (r.table, r.name): r
    for r in all_rules()
    if r.table in ("claims", "claim_diagnoses") and r.name != "person_id exists in enrollment"
}
CLAIM_KEY = RULES["claims", "unique key (claim_id)"]
DIAGNOSIS_KEY = RULES["claim_diagnoses", "unique key (claim_id, icd10)"]
DIAGNOSIS_CLAIM = RULES["claim_diagnoses", "claim_id exists in claims"]


def _hex(text: str, width: int) -> str:
    return (hashlib.sha256(text.encode()).hexdigest() * 2)[:width]


def _id(width: int, head: int, n: int, style: str = "digits") -> str:
    """A claim id of ``width`` characters.

    ``digits``: beyond 9, ``head`` sets the bytes before the last 8 (several heads in one
    row group take the segmented path; wider ids share their first 8 bytes). ``hex``: a
    pseudonym, hex digits in no order. ``hex prefix``: hex whose first 8 digits ``head``
    sets (wide ids that tie on their first 8 bytes and differ after)."""
    if style == "hex":
        return _hex(f"{head}/{n}", width)
    if style == "hex prefix" and width > 8:
        return _hex(str(head), 8) + _hex(str(n), width - 8)
    if width <= 9:
        return "C" + str(n % 10 ** (width - 1)).zfill(width - 1)
    return "C" + str(head).zfill(width - 9) + str(n).zfill(8)


@st.composite
def _tables(draw):
    width = draw(st.sampled_from([2, 8, 9, 13, 16, 17, 20, 24, 32, 33, 64, 65]))
    style = draw(st.sampled_from(["digits", "hex", "hex prefix"]))
    ids = sorted({_id(width, h, n, style) for h, n in draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 9)), min_size=1, max_size=12))})  # fmt: skip
    claims = list(ids)
    diagnoses = [
        (draw(st.sampled_from(ids)), draw(st.sampled_from(["A00", "B01", "C020"])))
        for _ in range(draw(st.integers(0, 20)))
    ]
    diagnoses = sorted(set(diagnoses), key=lambda d: d[0])
    # break the order or a rule, or not
    change = draw(st.sampled_from(["none", "dup claim", "dup diagnosis", "unknown claim", "shuffle", "width"]))  # fmt: skip
    if change == "dup claim":
        i = draw(st.integers(0, len(claims) - 1))
        claims.insert(i, claims[i])
    elif change == "dup diagnosis" and diagnoses:
        i = draw(st.integers(0, len(diagnoses) - 1))
        diagnoses.insert(draw(st.integers(i, len(diagnoses))), diagnoses[i])
    elif change == "unknown claim" and diagnoses:
        i = draw(st.integers(0, len(diagnoses) - 1))
        missing = _id(width, draw(st.integers(0, 3)), draw(st.integers(0, 10)), style)
        diagnoses[i] = (missing, diagnoses[i][1])
    elif change == "shuffle":
        claims = draw(st.permutations(claims))
        diagnoses = draw(st.permutations(diagnoses))
    elif change == "width":
        claims.append(claims[-1] + "0")
    return claims, diagnoses, draw(st.integers(1, 5)), draw(st.integers(1, 5))


def _write(path: Path, claims, diagnoses, claim_rows: int, diagnosis_rows: int) -> Dataset:
    path.mkdir()
    pq.write_table(
        pa.table({"claim_id": pa.array(claims, pa.string())}),
        path / "claims.parquet",
        row_group_size=claim_rows,
    )
    ids, codes = zip(*diagnoses, strict=True) if diagnoses else ((), ())
    pq.write_table(
        pa.table({"claim_id": pa.array(ids, pa.string()), "icd10": pa.array(codes, pa.string())}),
        path / "claim_diagnoses.parquet",
        row_group_size=diagnosis_rows,
    )
    return Dataset(path=path, meta={})


@settings(max_examples=600, deadline=None)
@given(_tables())
def test_a_rule_is_proven_only_when_it_holds(tables):
    claims, diagnoses, claim_rows, diagnosis_rows = tables
    with tempfile.TemporaryDirectory() as tmp:
        ds = _write(Path(tmp) / "ds", claims, diagnoses, claim_rows, diagnosis_rows)
        proven = proven_by_order(ds, list(RULES.values()))
    holds = {
        CLAIM_KEY: len(set(claims)) == len(claims),
        DIAGNOSIS_KEY: len(set(diagnoses)) == len(diagnoses),
        DIAGNOSIS_CLAIM: {c for c, _ in diagnoses} <= set(claims),
    }
    assert all(holds[rule] for rule in proven), (proven, holds)
    # and sorted data of one width up to 64 characters is proven whenever the rule holds
    width = {len(c) for c in claims + [c for c, _ in diagnoses]}
    if len(width) == 1 and max(width) <= validation.ORDER_MAX_WIDTH:
        if claims == sorted(claims) and holds[CLAIM_KEY]:
            assert CLAIM_KEY in proven
        if [c for c, _ in diagnoses] == sorted(c for c, _ in diagnoses):
            assert (DIAGNOSIS_KEY in proven) == holds[DIAGNOSIS_KEY]
            if claims == sorted(claims):
                assert (DIAGNOSIS_CLAIM in proven) == holds[DIAGNOSIS_CLAIM]


_BYTES = st.sampled_from([b"\x00", b"\x01", b"a", b"\x80", b"\xff"])


@st.composite
def _wide_ids(draw):
    """Ids of one width from 17 to 64 bytes, each a common base with up to two bytes
    changed anywhere: ties on the first 8 bytes, differences after, repeats."""
    width = draw(st.integers(17, 64))
    base = draw(st.lists(_BYTES, min_size=width, max_size=width))

    def one() -> bytes:
        key = list(base)
        for i, b in draw(st.lists(st.tuples(st.integers(0, width - 1), _BYTES), max_size=2)):
            key[i] = b
        return b"".join(key)

    keys = [one() for _ in range(draw(st.integers(1, 30)))]
    return width, keys, [one() for _ in range(draw(st.integers(0, 30)))]


@settings(max_examples=300, deadline=None)
@given(_wide_ids())
def test_wide_ids_compare_as_their_bytes(case):
    """Wide ids compared 8 bytes at a time order and match as ``memcmp`` does (bytes
    0x00 and 0x80-0xff included), for any width from 17 to 64."""
    width, keys, values = case
    array = np.array(keys, f"S{width}")
    down, same = validation._steps(array)
    assert down.tolist() == [b < a for a, b in zip(keys, keys[1:], strict=False)]
    assert same.tolist() == [b == a for a, b in zip(keys, keys[1:], strict=False)]
    keys = sorted(keys)
    values = sorted(set(v for v in values if v <= keys[-1]) | set(keys[::3]))
    contained = validation._contains(np.array(keys, f"S{width}"), np.array(values, f"S{width}"))
    assert contained == (set(values) <= set(keys))


def _add(table: str, **row):
    def edit(t):
        t[table] = pd.concat([t[table], pd.DataFrame([row])]).sort_values("claim_id")
        t[table] = t[table].reset_index(drop=True)

    return edit


def _unknown_claim(t):
    """A diagnosis of claim c4, in place, and claim c4 gone."""
    t["claims"] = t["claims"][t["claims"]["claim_id"] != "c4"].reset_index(drop=True)
    _add("claim_diagnoses", claim_id="c4", icd10="K21", primary=True)(t)


# Violations that keep the rows sorted: the proofs fail and the SQL counts them.
SORTED_CASES = {
    "duplicate claim": (
        "unique key (claim_id)",
        _add("claims", **tiny.tiny_tables()["claims"].iloc[1].to_dict()),
    ),
    "duplicate diagnosis": (
        "unique key (claim_id, icd10)",
        _add("claim_diagnoses", claim_id="c2", icd10="K21", primary=False),
    ),
    "diagnosis of unknown claim": ("claim_id exists in claims", _unknown_claim),
}


def test_the_tiny_dataset_proves_its_keys(tmp_path):
    path = tiny.write_tiny_dataset(tmp_path / "ds")
    proven = proven_by_order(Dataset(path=path, meta={}), all_rules())
    assert {CLAIM_KEY, DIAGNOSIS_KEY, DIAGNOSIS_CLAIM} <= proven


@pytest.mark.parametrize("case", list(SORTED_CASES))
def test_sorted_violations_are_found_as_without_proofs(tmp_path, monkeypatch, case):
    rule, edit = SORTED_CASES[case]
    tables = tiny.tiny_tables()
    edit(tables)
    path = tiny.write_tiny_dataset(tmp_path / "ds", tables)
    report = validate_dataset(path, today=TODAY)
    assert [(f.rule, f.n_rows) for f in report.findings] == [(rule, 1)], report.summary()
    monkeypatch.setattr(validation, "proven_by_order", lambda ds, rules: set())
    assert validate_dataset(path, today=TODAY).findings == report.findings
