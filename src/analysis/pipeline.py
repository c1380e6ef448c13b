"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def run_command() -> None:
    """Not implemented yet."""
    raise UserError("run_command is not implemented yet")


def verify_command() -> None:
    """Not implemented yet."""
    raise UserError("verify_command is not implemented yet")


def runs_command() -> None:
    """Not implemented yet."""
    raise UserError("runs_command is not implemented yet")
