"""``mvm-eval bench recovery``: the fiscal-year evaluation on many synthetic cities.

Each city is simulated afresh (seed ``first_seed + i``), evaluated as the step notebooks
evaluate it (:func:`analysis.study.recovery.evaluate_city`) and deleted; the estimates are
compared with the planted truth. The summary gives, per setting, outcome and estimator:
how often the diagnostics withheld it, and over the cities where it was shown, the mean
bias, RMSE and the coverage of its 95% interval (with the Wilson interval of that share),
checked against the targets in :mod:`analysis.study.recovery`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from analysis.errors import UserError


def _one(setting: str, seed: int, fiscal_year: int, pool_from: int | None,
         single_year: bool) -> pd.DataFrame:  # fmt: skip
    import warnings

    from threadpoolctl import threadpool_limits

    from analysis.study.recovery import SETTINGS, run_seed

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        return run_seed(SETTINGS[setting], seed, fiscal_year=fiscal_year, pool_from=pool_from,
                        single_year=single_year)  # fmt: skip


def run_recovery(settings, seeds, fiscal_year: int, jobs: int, pool_from: int | None = None,
                 single_year: bool = True) -> pd.DataFrame:  # fmt: skip
    """Rows of every estimate in every city (see ``recovery.evaluate_city``)."""
    from joblib import Parallel, delayed

    tasks = [(s, seed) for s in settings for seed in seeds]
    parts = Parallel(n_jobs=jobs)(delayed(_one)(s, seed, fiscal_year, pool_from, single_year)
                                  for s, seed in tasks)  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _print_summary(summary: pd.DataFrame) -> None:
    from rich.console import Console
    from rich.table import Table

    for setting, part in summary.groupby("setting", sort=False):
        table = Table(title=f"recovery: {setting}")
        for col in ("program", "outcome", "method", "role", "shown", "truth", "bias", "RMSE",
                    "coverage (95% CI)", "target"):  # fmt: skip
            table.add_column(col, justify="left" if col in ("program", "outcome") else "right",
                             no_wrap=col == "outcome")  # fmt: skip
        for r in part.itertuples():
            shown = f"{r.n_shown}/{r.n_cities}"
            if r.n_shown == 0:
                table.add_row(r.program, r.outcome, r.method, r.role, shown, f"{r.truth:.4g}",
                              "", "", "", "withheld")  # fmt: skip
                continue
            table.add_row(
                r.program, r.outcome, r.method, r.role, shown, f"{r.truth:.4g}",
                f"{r.bias:+.4g} ± {1.96 * r.bias_mcse:.2g}", f"{r.rmse:.4g}",
                f"{r.coverage:.1%} ({r.coverage_low:.0%}-{r.coverage_high:.0%})",
                "met" if r.meets_target else
                "within MC error" if r.within_error else "not met",
            )  # fmt: skip
        Console(width=170).print(table)


def bench_recovery(
    settings: Annotated[
        str,
        typer.Option(
            help="Comma-separated city settings: default (70,000 residents, "
            "uptake 1), uptake10 (uptake x10)."
        ),  # fmt: skip
    ] = "default,uptake10",
    seeds: Annotated[int, typer.Option(help="Cities per setting.")] = 20,
    first_seed: Annotated[int, typer.Option(help="Seed of the first city.")] = 1,
    fiscal_year: Annotated[int, typer.Option(help="Fiscal year evaluated.")] = 2023,
    jobs: Annotated[int, typer.Option(help="Cities evaluated at once (processes).")] = 2,
    pool_from: Annotated[
        int | None,
        typer.Option(help="Add the pooled evaluation of this fiscal year to --fiscal-year."),
    ] = None,
    pooled_only: Annotated[
        bool, typer.Option(help="With --pool-from: leave out the single year's estimates.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write every city's estimates to this Parquet file.")
    ] = None,
    from_rows: Annotated[
        list[Path] | None,
        typer.Option("--from", help="Summarise saved estimates (repeatable) instead of running."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON object last.")] = False,
) -> None:
    """Bias, RMSE and 95% CI coverage of every published estimate over synthetic cities."""
    from analysis.study.recovery import SETTINGS, summarise

    chosen = [s.strip() for s in settings.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SETTINGS]
    if unknown:
        raise UserError(f"--settings: unknown setting(s) {unknown}; choose from {list(SETTINGS)}")
    if seeds < 2 or jobs < 1:
        raise UserError("--seeds must be at least 2 and --jobs at least 1")
    if pool_from is not None and pool_from >= fiscal_year:
        raise UserError(f"--pool-from must be before --fiscal-year {fiscal_year}, got {pool_from}")
    if pooled_only and pool_from is None:
        raise UserError("--pooled-only needs --pool-from")
    start = time.perf_counter()
    if from_rows:
        missing = [str(p) for p in from_rows if not p.is_file()]
        if missing:
            raise UserError(f"--from: file(s) not found: {missing}")
        rows = pd.concat([pd.read_parquet(p) for p in from_rows], ignore_index=True)
        rows = rows[rows["setting"].isin(chosen)]
    else:
        rows = run_recovery(chosen, range(first_seed, first_seed + seeds), fiscal_year, jobs,
                            pool_from, not pooled_only)  # fmt: skip
    if out is not None:
        rows.to_parquet(out)
    summary = summarise(rows)
    _print_summary(summary)
    seconds = time.perf_counter() - start
    shown = summary[summary["n_shown"] > 0]
    print(f"{len(shown)} estimates shown in at least one city; "
          f"{int(shown['meets_target'].sum())} meet the targets, "
          f"{int((shown['within_error'] & ~shown['meets_target']).sum())} more within the "
          f"benchmark's Monte Carlo error; {seconds:.0f} s")  # fmt: skip
    if json_out:
        payload = {
            "settings": chosen,
            "cities": {s: int(rows.loc[rows["setting"] == s, "seed"].nunique()) for s in chosen},
            "seconds": seconds,
            "estimates": summary.to_dict("records"),
        }
        print(json.dumps(payload, default=float))
