"""Command-line entry points of this area (placeholder until implemented)."""

from analysis.errors import UserError


def import_command() -> None:
    """Not implemented yet."""
    raise UserError("import_command is not implemented yet")


def export_command() -> None:
    """Not implemented yet."""
    raise UserError("export_command is not implemented yet")


def validate_command() -> None:
    """Not implemented yet."""
    raise UserError("validate_command is not implemented yet")


def bench_import() -> None:
    """Not implemented yet."""
    raise UserError("bench_import is not implemented yet")
