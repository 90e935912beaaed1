"""Errors that reach the user as one line, with the exit code the CLI gives them."""

from __future__ import annotations


class TrtViewerError(Exception):
    """A failure with a message meant for the user; no traceback is shown."""

    exit_code = 1


class InputError(TrtViewerError):
    """Bad usage or unusable input (model, source, output path): exit code 2."""

    exit_code = 2


class RunError(TrtViewerError):
    """A failure while running: exit code 1."""

    exit_code = 1
