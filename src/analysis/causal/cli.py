"""``mvm-eval bench causal``: bias, RMSE, CI coverage and speed of every estimator.

Each replication of ``estimate_effect``'s methods draws a synthetic population with a
planted constant effect and confounding (``analysis.causal.plasmode.simulate_confounded``;
the naive difference is biased upwards) and runs every method on it. The design-based
estimators (``did_effect``, ``rd_effect``, ``iv_effect``, the survival effects) run on
their own simulated designs with planted effects (``analysis.causal.benchmark``). Then
``aipw`` is timed on 20,000 rows x 30 covariates, and ``forest`` on the same data.

Estimators that take well under a second per fit get ``--fast-factor`` times the
replications of the slow ones (``dml``, ``forest``, the survival effects), which narrows
the Monte Carlo error of their coverage (about +-4 points at 100 replications).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import pandas as pd
import typer

from analysis.errors import UserError

BENCH_EFFECT = 1.0
BENCH_COVARIATES = 5
"""Numeric covariates of the replications (plus the categorical ``region``)."""
SPEED_N, SPEED_COVARIATES = 20_000, 29
"""Speed data: 20,000 rows x 30 covariates (29 numeric plus ``region``)."""
SLOW_METHODS = ("dml", "forest", "survival_hr", "survival_rmst", "skewed_costs")
"""Estimators run ``--n-rep`` times; every other one ``--fast-factor`` times as often."""
DEFAULT_METHODS = "regression,ipw,aipw,matching,dml,forest"
DEFAULT_DESIGNS = "did,did_costs,rd_sharp,rd_fuzzy,iv,survival_hr,survival_rmst,skewed_costs"
QUICK = {"n_rep": 5, "fast_factor": 1, "n": 500}
"""``--quick``: a smoke run of the whole machinery in well under a minute."""
COLUMNS = ("bias", "rmse", "coverage", "mean_se", "empirical_sd", "seconds_per_fit", "n_failed")


def _speed(method: str, seed: int) -> float:
    from analysis.causal.estimate import estimate_effect
    from analysis.causal.plasmode import simulate_confounded

    df = simulate_confounded(SPEED_N, SPEED_COVARIATES, effect=BENCH_EFFECT, seed=seed)
    covs = [c for c in df.columns if c not in ("t", "y")]
    start = time.perf_counter()
    estimate_effect(df, treatment="t", outcome="y", covariates=covs, method=method, seed=seed)
    return time.perf_counter() - start


def _replications(name: str, n_rep: int, fast_factor: int) -> int:
    return n_rep if name in SLOW_METHODS else n_rep * fast_factor


def run_bench(
    n_rep: int,
    n: int,
    methods: list[str],
    seed: int = 0,
    estimand: str = "ATE",
    fast_factor: int = 1,
    speed: bool = True,
):
    """The ``estimate_effect`` table (one row per method), the naive bias and speed figures."""
    from analysis.causal.estimate import METHODS
    from analysis.causal.plasmode import run_replicates, simulate_confounded
    from analysis.seeds import int_seed

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"--methods: unknown method(s) {unknown}; choose from {list(METHODS)}")
    if estimand not in ("ATE", "ATT"):
        raise UserError(f"--estimand must be ATE or ATT, got {estimand!r}")
    if n_rep < 2 or n < 100 or fast_factor < 1:
        raise UserError("--n-rep must be at least 2, --n at least 100, --fast-factor at least 1")
    most = max([_replications(m, n_rep, fast_factor) for m in methods], default=n_rep)
    datasets = [
        simulate_confounded(
            n, BENCH_COVARIATES, effect=BENCH_EFFECT, seed=int_seed(seed, "bench", b)
        )
        for b in range(most)
    ]
    covs = [c for c in datasets[0].columns if c not in ("t", "y")]
    rows = []
    for m in methods:
        reps = _replications(m, n_rep, fast_factor)
        row = run_replicates(
            datasets[:reps],
            [m],
            BENCH_EFFECT,
            treatment="t",
            outcome="y",
            covariates=covs,
            seed=seed,
            estimand=estimand,
        )
        rows.append(row.assign(design=f"simulate_confounded ({estimand})", n=n))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    naive = [d.y[d.t == 1].mean() - d.y[d.t == 0].mean() - BENCH_EFFECT for d in datasets]
    chosen = ("aipw", "forest") if speed else ()
    timing = {f"{m}_20000x30_seconds": _speed(m, seed) for m in chosen if m in methods}
    return table, float(sum(naive) / len(naive)), timing


def run_design_bench(designs: list[str], n_rep: int, seed: int = 0, fast_factor: int = 1):
    """One row per quantity of the design-based estimators (``analysis.causal.benchmark``)."""
    from analysis.causal.benchmark import DESIGNS, run_designs

    unknown = [d for d in designs if d not in DESIGNS]
    if unknown:
        raise UserError(f"--designs: unknown design(s) {unknown}; choose from {list(DESIGNS)}")
    parts = [run_designs([d], _replications(d, n_rep, fast_factor), seed=seed) for d in designs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _print_table(table: pd.DataFrame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title)
    out.add_column("estimator", min_width=10)
    for col in ("n", "reps", "truth", "bias", "RMSE", "coverage", "mean SE", "emp. SD"):
        out.add_column(col, justify="right")
    out.add_column("s/fit", justify="right")
    out.add_column("failed", justify="right")
    for r in table.itertuples():
        scale = getattr(r, "scale", float("nan"))
        share = f" ({r.bias / scale:+.1%} of mean)" if scale == scale else ""
        out.add_row(
            r.method,
            f"{r.n:,}",
            str(r.n_rep + r.n_failed),
            f"{r.true_effect:.4g}",
            f"{r.bias:+.4f}{share}",
            f"{r.rmse:.4f}",
            f"{r.coverage:.1%}",
            f"{r.mean_se:.4f}",
            f"{r.empirical_sd:.4f}",
            f"{r.seconds_per_fit:.3f}",
            str(r.n_failed),
        )
    Console(width=150).print(out)


def _records(table: pd.DataFrame) -> dict:
    keys = ("design", "n", "n_rep", "true_effect", *COLUMNS, "scale")
    return {r["method"]: {k: r.get(k) for k in keys} for r in table.to_dict("records")}


def _csv(value: str) -> list[str]:
    return [] if value.strip() == "none" else [m.strip() for m in value.split(",") if m.strip()]


def bench_causal(
    n_rep: Annotated[
        int, typer.Option(help="Replications of the slow estimators (dml, forest, survival).")
    ] = 100,
    fast_factor: Annotated[
        int, typer.Option(help="The other estimators run this many times as often.")
    ] = 3,
    n: Annotated[int, typer.Option(help="People per estimate_effect replication.")] = 2000,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
    methods: Annotated[
        str, typer.Option(help="Comma-separated estimate_effect methods, or 'none'.")
    ] = DEFAULT_METHODS,
    designs: Annotated[
        str, typer.Option(help="Comma-separated design-based estimators, or 'none'.")
    ] = DEFAULT_DESIGNS,
    seed: Annotated[int, typer.Option(help="Run seed.")] = 0,
    estimand: Annotated[str, typer.Option(help="ATE or ATT (estimate_effect).")] = "ATE",
    quick: Annotated[
        bool, typer.Option("--quick", help="5 replications each, n=500, no speed runs.")
    ] = False,
) -> None:
    """Bias, RMSE and 95% CI coverage per estimator on simulated data, and speed."""
    from threadpoolctl import threadpool_limits

    if quick:
        n_rep, fast_factor, n = QUICK["n_rep"], QUICK["fast_factor"], QUICK["n"]
    chosen, chosen_designs = _csv(methods), _csv(designs)
    # One BLAS thread per process: on 2 shared cores, threaded BLAS only adds contention.
    with threadpool_limits(limits=1, user_api="blas"):
        table, naive_bias, speed = run_bench(
            n_rep, n, chosen, seed, estimand, fast_factor, speed=not quick
        )
        design_table = run_design_bench(chosen_designs, n_rep, seed, fast_factor)
    for part in (table, design_table):
        if len(part):
            part["seconds_per_fit"] = part["seconds"] / (part["n_rep"] + part["n_failed"])
    if len(table):
        _print_table(table, f"estimate_effect, {estimand}, planted effect {BENCH_EFFECT}")
        print(f"naive difference in means: bias {naive_bias:+.4f}")
    if len(design_table):
        _print_table(design_table, "design-based estimators, planted effects")
    for k, v in speed.items():
        print(f"{k}: {v:.2f}")
    if json_out:
        payload = {
            "n_rep": n_rep,
            "fast_factor": fast_factor,
            "n": n,
            "estimand": estimand,
            "effect": BENCH_EFFECT,
            "naive_bias": naive_bias,
            **speed,
            "methods": _records(table) if len(table) else {},
            "designs": _records(design_table) if len(design_table) else {},
        }
        print(json.dumps(payload, default=float))
