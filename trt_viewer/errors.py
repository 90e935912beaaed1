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


def first_line(exc: BaseException, *, typed: bool = False) -> str:
    """An exception as the one line a user sees.

    typed=True prefixes the type's name to errors that are not TrtViewerErrors: for those
    the message alone ("[Errno 28]...", "3") often does not say what went wrong."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    if line.endswith(":") and len(lines) > 1:  # "CreateFormatContext :" and the reason below it
        line = f"{line} {lines[1]}"
    if typed and not isinstance(exc, TrtViewerError):
        return f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line or type(exc).__name__
