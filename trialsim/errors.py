"""Bad input found after a scenario validated: an option, a folder, or a run too large to fit.

The CLI prints each as one line, `WHERE: what is wrong and what to do`, and exits with code 2.
"""

from __future__ import annotations


class InputProblem(Exception):
    """One problem with the user's input; `where` names the option or file (None: the scenario file)."""

    def __init__(self, message: str, where: str | None = None):
        super().__init__(message)
        self.where = where


class OutputFolderError(InputProblem):
    """The output folder cannot be used as it is (nothing has been written or removed)."""

    def __init__(self, message: str):
        super().__init__(message, "--out")


class RunTooLarge(InputProblem):
    """A run whose records or working arrays cannot fit in memory."""
