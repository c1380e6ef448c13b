"""Exceptions shared by the library and the command line."""


class UserError(ValueError):
    """An error in the user's input (file, column, parameter) that the user can fix.

    The message is one line that names the file, column or parameter. The command line
    prints it without a traceback and exits with status 2.
    """


class ValidationFailed(UserError):
    """A dataset broke the table contract; ``report`` holds the findings."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
