"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def simulate() -> None:
    """Not implemented yet."""
    raise UserError("simulate is not implemented yet")


def bench_simulate() -> None:
    """Not implemented yet."""
    raise UserError("bench_simulate is not implemented yet")
