"""Shared fixtures. BLAS threads are pinned so that results match exactly run to run."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

SMALL_POPULATION = 6_000
"""Residents of the small synthetic town the integration tests share (about 1,400 enrollees)."""
SMALL_SEED = 7


@pytest.fixture(scope="session")
def small_dataset_path(tmp_path_factory):
    """A small synthetic municipality written once per test session (per xdist worker)."""
    from analysis.data.synthetic import simulate

    out = tmp_path_factory.mktemp("synthetic") / "small"
    simulate(population=SMALL_POPULATION, years=(2019, 2024), seed=SMALL_SEED, out=out)
    return out


@pytest.fixture(scope="session")
def small_dataset(small_dataset_path):
    from analysis.data import load_dataset

    return load_dataset(small_dataset_path)


@pytest.fixture
def mvm_eval(monkeypatch, capsys):
    """Run the real ``mvm-eval`` entry point with arguments; return (exit status,
    standard error)."""
    import sys

    from analysis import cli

    def run(*args) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["mvm-eval", *map(str, args)])
        with pytest.raises(SystemExit) as e:
            cli.main()
        return e.value.code, capsys.readouterr().err

    return run


@pytest.fixture(scope="session")
def small_differences():
    """A function listing the rows of a published table of nested counts in which two
    shown counts differ by 1 to 9 people (hidden counts are text such as ``"<10"``)."""
    import numpy as np
    import pandas as pd

    from analysis.config import MIN_CELL_COUNT

    def find(table: pd.DataFrame, columns: list[str]) -> list[list[float]]:
        values = table[columns].apply(
            lambda s: pd.to_numeric(s.astype(str).str.replace(",", ""), errors="coerce")
        )
        bad = []
        for row in values.to_numpy(float):
            shown = row[~np.isnan(row)]
            diffs = [a - b for k, a in enumerate(shown) for b in shown[k + 1 :]]
            if any(1 <= d < MIN_CELL_COUNT for d in diffs):
                bad.append(row.tolist())
        return bad

    return find


def input_order(frame, column: str, kind: str, raw: list[str], *, pseudonymiser):
    """The rows of an imported table reordered as in the input file, whose ``column`` held
    the ids ``raw`` in this order: the importer writes each table in primary-key order
    (pseudonyms sort in no input order); rows with one id keep their key order."""
    rank = {pseudonymiser.one(kind, x): i for i, x in enumerate(dict.fromkeys(raw))}
    out = frame.sort_values(column, key=lambda s: s.map(rank), kind="stable")
    return out.reset_index(drop=True)
