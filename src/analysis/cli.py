"""The ``mvm-eval`` command line.

This module only wires commands together. Each area owns its commands in its own
``cli`` module (``analysis.data.cli``, ``analysis.data.synthetic.cli``,
``analysis.cohort.cli``, ``analysis.risk.cli``, ``analysis.causal.cli``,
``analysis.runs.pipeline``, ``analysis.report.render``); heavy libraries are imported inside the
command functions so that ``mvm-eval --help`` stays fast.

Errors the user can fix (bad input, missing files) are raised as ``UserError`` and
printed as one line on standard error with exit status 2; no traceback.
"""

from __future__ import annotations

import sys

import typer

from analysis.errors import UserError

app = typer.Typer(
    name="mvm-eval",
    help="Evaluate municipal preventive-health programs on NHI checkup and claims data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks: print time and memory figures.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


def _register() -> None:
    from analysis.causal import cli as causal_cli
    from analysis.cohort import cli as cohort_cli
    from analysis.data import cli as data_cli
    from analysis.data.synthetic import cli as synth_cli
    from analysis.report import render as report
    from analysis.risk import cli as risk_cli
    from analysis.runs import pipeline
    from analysis.study import cli as study_cli

    app.command("simulate")(synth_cli.simulate)
    app.command("import")(data_cli.import_command)
    app.command("export")(data_cli.export_command)
    app.command("validate")(data_cli.validate_command)
    app.command("run")(pipeline.run_command)
    app.command("verify")(pipeline.verify_command)
    app.command("runs")(pipeline.runs_command)
    app.command("report")(report.report_command)

    bench_app.command("simulate")(synth_cli.bench_simulate)
    bench_app.command("import")(data_cli.bench_import)
    bench_app.command("validate")(data_cli.bench_validate)
    bench_app.command("cohort")(cohort_cli.bench_cohort)
    bench_app.command("risk")(risk_cli.bench_risk)
    bench_app.command("causal")(causal_cli.bench_causal)
    bench_app.command("recovery")(study_cli.bench_recovery)
    bench_app.command("report")(report.bench_report)


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except UserError as e:
        print(f"mvm-eval: error: {e}", file=sys.stderr)
        sys.exit(2)
