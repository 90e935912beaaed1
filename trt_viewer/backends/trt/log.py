"""TensorRT's messages go to Python logging; its errors also become the reason we report.

TensorRT reports most failures only through its logger (deserialize_cuda_engine returns
None and logs why). Inside `TrtMessages.capturing()` errors are kept for the exception
that follows and logged at DEBUG only, so the CLI prints one line, not the same reason twice.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorrt as trt

LOGGER = logging.getLogger("trt_viewer.tensorrt")
_LEVELS = {
    "INTERNAL_ERROR": logging.CRITICAL,
    "ERROR": logging.ERROR,
    "WARNING": logging.WARNING,
    "INFO": logging.INFO,
    "VERBOSE": logging.DEBUG,
}
_ERROR_LEVEL = logging.ERROR
# "1: [runtime.cpp::parsePlan::314] " locates the check in TensorRT's sources: noise here.
_SOURCE_PREFIX = re.compile(r"^\d+: \[[^\]]*\]\s*")


class TrtMessages:
    """The errors TensorRT logged while captured; thread-safe (TensorRT logs from its threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: deque[str] = deque(maxlen=16)
        self._capturing = 0

    @contextmanager
    def capturing(self) -> Iterator[TrtMessages]:
        with self._lock:
            self._errors.clear()
            self._capturing += 1
        try:
            yield self
        finally:
            with self._lock:
                self._capturing -= 1

    def record(self, level: int, text: str) -> bool:
        """Keep an error while capturing; True if it was kept (and so is not logged loudly)."""
        if level < _ERROR_LEVEL:
            return False
        with self._lock:
            if not self._capturing:
                return False
            self._errors.append(text)
            return True

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def reason(self, default: str = "TensorRT gave no reason") -> str:
        """The most telling captured error, as one line."""
        errors = self.errors
        if not errors:
            return default
        # The first error names the cause; later ones are usually its consequences.
        return _SOURCE_PREFIX.sub("", " ".join(errors[0].split()))


def create_logger(messages: TrtMessages) -> trt.ILogger:
    """A tensorrt.ILogger that forwards to the 'trt_viewer.tensorrt' Python logger."""
    import tensorrt as trt

    class PythonLogger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
            level = _LEVELS.get(getattr(severity, "name", ""), logging.INFO)
            if messages.record(level, msg):
                level = logging.DEBUG
            LOGGER.log(level, "%s", msg)

    return PythonLogger()
