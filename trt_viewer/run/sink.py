"""Work that follows inference (drawing, encoding, writing) in a thread of its own."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

POLL_S = 0.05

T = TypeVar("T")


class BackgroundSink(Generic[T]):
    """Runs `handle` on items in order in its own thread (drawing, encoding, writing), so
    that work overlaps inference. An error in `handle` is raised by the next put/close.

    Every wait has a timeout and looks at a flag: an interrupt that lands in the middle of
    a put() (Ctrl+C) cannot leave the thread asleep on an item it was never told about,
    nor close() waiting forever on a thread that never hears the end."""

    def __init__(self, handle: Callable[[T], Any], depth: int = 4, drop: Callable[[T], Any] | None = None) -> None:
        """drop: what becomes of an item that will not be handled (after a failed one, or
        one put() refused): a frame lent by its decoder goes back (core.sources.Frame.settle)."""
        self._handle = handle
        self._drop = drop
        self._queue: queue.Queue[T] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = False  # stays set: nothing after a failed item is handled
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trt-viewer-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self._closing.is_set():
                    return  # closed, and nothing left
                continue
            if not self._failed:
                try:
                    self._handle(item)
                except BaseException as exc:
                    self._error, self._failed = exc, True
            elif self._drop is not None:
                try:
                    self._drop(item)
                except Exception:  # the first error is the one to tell
                    pass

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: T) -> None:
        try:
            self._raise()
            while True:
                try:
                    self._queue.put(item, timeout=POLL_S)
                    return
                except queue.Full:
                    self._raise()
        except BaseException:
            if self._drop is not None:
                self._drop(item)
            raise

    def close(self) -> None:
        """Finish what is queued, then raise any error `handle` met."""
        self._closing.set()
        while self._thread.is_alive():
            self._thread.join(POLL_S)
        self._raise()
