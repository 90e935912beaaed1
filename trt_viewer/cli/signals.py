"""SIGINT, SIGTERM and SIGHUP end the command the same way (timeout, `docker stop`,
systemd and a closed terminal send the last two).

Outside a run each raises Interrupted where the main thread is, like Ctrl+C does. During a
run (stop_on_signals) the first one asks the run to stop: it finishes the frame in hand,
closes its outputs and prints its summary; a second one raises Interrupted at once. The
exit code is 128 + the signal's number (130 for Ctrl+C).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

HANDLED = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


class Interrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def exit_code(exc: KeyboardInterrupt) -> int:
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


class _Raised:
    signum: int | None = None  # the last signal raised as Interrupted in this process


def raised_signal() -> int | None:
    """The last signal raised as Interrupted: an error that surfaces after it (an import
    cut short by it can end as a bare ImportError, its cause lost) was caused by it."""
    return _Raised.signum


def _raise(signum: int, frame: FrameType | None) -> None:
    _Raised.signum = signum
    raise Interrupted(signum)


@contextmanager
def _handlers(handler: Callable[[int, FrameType | None], Any]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread may
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def raising_on_signals() -> Iterator[None]:
    """Each handled signal raises Interrupted in the main thread."""
    with _handlers(_raise):
        yield


class Received:
    signum: int | None = None


@contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[Received]:
    """The first signal calls stop() and is recorded; a second raises Interrupted."""
    received = Received()

    def handle(signum: int, frame: FrameType | None) -> None:
        if received.signum is not None:
            raise Interrupted(signum)
        received.signum = signum
        stop()

    with _handlers(handle):
        yield received
