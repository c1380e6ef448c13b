"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def bench_risk() -> None:
    """Not implemented yet."""
    raise UserError("bench_risk is not implemented yet")
