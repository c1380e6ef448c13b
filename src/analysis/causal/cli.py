"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def bench_causal() -> None:
    """Not implemented yet."""
    raise UserError("bench_causal is not implemented yet")
