"""``mvm-eval bench causal``: bias, RMSE, CI coverage and speed of every estimator.

Each replication draws a synthetic population with a planted constant effect and
confounding (``analysis.causal.plasmode.simulate_confounded``; the naive difference is
biased upwards), and runs every method on it. Then ``aipw`` is timed on 20,000 rows x 30
covariates, and ``forest`` on the same data.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from analysis.errors import UserError

BENCH_EFFECT = 1.0
BENCH_COVARIATES = 5
"""Numeric covariates of the replications (plus the categorical ``region``)."""
SPEED_N, SPEED_COVARIATES = 20_000, 29
"""Speed data: 20,000 rows x 30 covariates (29 numeric plus ``region``)."""


def _speed(method: str, seed: int) -> float:
    from analysis.causal.estimate import estimate_effect
    from analysis.causal.plasmode import simulate_confounded

    df = simulate_confounded(SPEED_N, SPEED_COVARIATES, effect=BENCH_EFFECT, seed=seed)
    covs = [c for c in df.columns if c not in ("t", "y")]
    start = time.perf_counter()
    estimate_effect(df, treatment="t", outcome="y", covariates=covs, method=method, seed=seed)
    return time.perf_counter() - start


def run_bench(n_rep: int, n: int, methods: list[str], seed: int = 0, estimand: str = "ATE"):
    """The replication table (one row per method) and the speed figures."""
    from analysis.causal.estimate import METHODS
    from analysis.causal.plasmode import run_replicates, simulate_confounded
    from analysis.seeds import int_seed

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UserError(f"--methods: unknown method(s) {unknown}; choose from {list(METHODS)}")
    if n_rep < 2 or n < 100:
        raise UserError("--n-rep must be at least 2 and --n at least 100")
    datasets = [
        simulate_confounded(
            n, BENCH_COVARIATES, effect=BENCH_EFFECT, seed=int_seed(seed, "bench", b)
        )
        for b in range(n_rep)
    ]
    covs = [c for c in datasets[0].columns if c not in ("t", "y")]
    table = run_replicates(
        datasets,
        methods,
        BENCH_EFFECT,
        treatment="t",
        outcome="y",
        covariates=covs,
        seed=seed,
        estimand=estimand,
    )
    naive = [d.y[d.t == 1].mean() - d.y[d.t == 0].mean() - BENCH_EFFECT for d in datasets]
    table["seconds_per_fit"] = table["seconds"] / n_rep
    speed = {f"{m}_20000x30_seconds": _speed(m, seed) for m in ("aipw", "forest") if m in methods}
    return table, float(sum(naive) / len(naive)), speed


def bench_causal(
    n_rep: Annotated[int, typer.Option(help="Simulated replications per method.")] = 100,
    n: Annotated[int, typer.Option(help="People per replication.")] = 2000,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
    methods: Annotated[str, typer.Option(help="Comma-separated methods.")] = (
        "regression,ipw,aipw,matching,dml,forest"
    ),
    seed: Annotated[int, typer.Option(help="Run seed.")] = 0,
    estimand: Annotated[str, typer.Option(help="ATE or ATT.")] = "ATE",
) -> None:
    """Bias, RMSE and 95% CI coverage per estimator on simulated data, and speed."""
    from rich.console import Console
    from rich.table import Table
    from threadpoolctl import threadpool_limits

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    # One BLAS thread per process: on 2 shared cores, threaded BLAS only adds contention.
    with threadpool_limits(limits=1, user_api="blas"):
        table, naive_bias, speed = run_bench(n_rep, n, chosen, seed=seed, estimand=estimand)
    console = Console()
    out = Table(title=f"{estimand}, planted effect {BENCH_EFFECT}, n={n}, {n_rep} replications")
    out.add_column("method", min_width=10)
    for col in ("bias", "RMSE", "coverage", "mean SE", "emp. SD", "s/fit", "failed"):
        out.add_column(col, justify="right")
    for r in table.itertuples():
        out.add_row(
            r.method,
            f"{r.bias:+.4f}",
            f"{r.rmse:.4f}",
            f"{r.coverage:.1%}",
            f"{r.mean_se:.4f}",
            f"{r.empirical_sd:.4f}",
            f"{r.seconds_per_fit:.2f}",
            str(r.n_failed),
        )
    console.print(out)
    console.print(f"naive difference in means: bias {naive_bias:+.4f}")
    for k, v in speed.items():
        console.print(f"{k}: {v:.2f}")
    if json_out:
        payload = {
            "n_rep": n_rep,
            "n": n,
            "estimand": estimand,
            "effect": BENCH_EFFECT,
            "naive_bias": naive_bias,
            **speed,
            "methods": {
                r["method"]: {
                    k: r[k]
                    for k in (
                        "bias",
                        "rmse",
                        "coverage",
                        "mean_se",
                        "empirical_sd",
                        "seconds_per_fit",
                        "n_failed",
                    )
                }
                for r in table.to_dict("records")
            },
        }
        print(json.dumps(payload))
