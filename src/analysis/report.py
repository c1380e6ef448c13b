"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def report_command() -> None:
    """Not implemented yet."""
    raise UserError("report_command is not implemented yet")
