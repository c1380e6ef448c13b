"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def bench_cohort() -> None:
    """Not implemented yet."""
    raise UserError("bench_cohort is not implemented yet")
