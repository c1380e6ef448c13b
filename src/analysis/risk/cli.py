"""Command-line entry points of the risk area: ``mvm-eval bench risk``."""

from __future__ import annotations

from typing import Annotated

import typer

from analysis.config import DEFAULT_POPULATION, DEFAULT_SEED


def bench_risk(
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
    population: Annotated[int, typer.Option(help="Residents of the synthetic city.")] = (
        DEFAULT_POPULATION
    ),
    seed: Annotated[int, typer.Option(help="Seed of the synthetic city.")] = DEFAULT_SEED,
) -> None:
    """Temporal validation of the Cox risk model on a synthetic city, against the oracle.

    Simulates the city (FY2019-2024) in a temporary directory, builds the risk cohorts of
    FY2020-2023, fits on FY2020-2021 and validates on FY2022-2023. Prints ``c_index``,
    ``oracle_c_index``, ``calibration_slope`` and ``fit_seconds`` (with ``--json`` as one
    JSON object on the last line). ``fit_seconds`` is the Cox fit alone, after a small
    warm-up fit that absorbs the libraries' one-time start-up.

    Also printed: ``oracle_window_c_index`` (the stricter oracle: the log of the mean true
    annual hazard over the index year and the next two, see
    :func:`analysis.risk.oracle.window_log_hazard`) and a 3-year validation (``h3_*``:
    fitted on FY2020, validated on FY2021, the latest year whose follow-up reaches 3
    years). A 5-year horizon cannot be validated: the simulated data end in FY2024, so no
    cohort from FY2020 on has 5 years of follow-up.
    """
    import json
    import tempfile
    import time
    from pathlib import Path

    from analysis.data.synthetic import simulate
    from analysis.risk.oracle import oracle_comparison

    _warm_up()
    with tempfile.TemporaryDirectory(prefix="mvm-bench-risk-") as tmp:
        t0 = time.perf_counter()
        path = simulate(population=population, seed=seed, out=Path(tmp) / "city")
        sim_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = oracle_comparison(path, long_horizon=3.0)
        total_s = time.perf_counter() - t0
    figures = {**res.as_dict(), "population": population, "simulate_seconds": sim_s,
               "cohort_and_validation_seconds": total_s}  # fmt: skip
    if not json_out:
        for k, v in figures.items():
            print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in figures.items()}))


def _warm_up() -> None:
    """Fit a tiny Cox model so that one-time imports do not count in ``fit_seconds``."""
    import numpy as np
    import pandas as pd

    from analysis.risk.model import fit_risk_model
    from analysis.seeds import rng

    g = rng(0, "risk", "bench_warm_up")
    x = g.normal(size=200)
    df = pd.DataFrame({"x": x, "t": g.exponential(1 / np.exp(x)), "e": g.random(200) < 0.7})
    fit_risk_model(df, duration="t", event="e", features=["x"])
