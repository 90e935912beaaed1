"""Recording the annotated video and exporting detections while the worker runs.

Both are written by BackgroundSinks so that encoding never slows inference; they are
opened, fed and closed by the worker thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.core.outputs import AnnotatedOutput, DetectionsWriter
from trt_viewer.core.pipeline import BackgroundSink
from trt_viewer.errors import first_line

KINDS = ("record", "export")


class _Output:
    def __init__(self, kind: str, path: Path, fps: float | None) -> None:
        self.kind = kind
        self.path = path
        self.target: Any = AnnotatedOutput(path, fps) if kind == "record" else DetectionsWriter(path)
        # Items are made in the sink's thread (drawing a full-size frame costs the worker time).
        self.sink: BackgroundSink[Callable[[], Any]] = BackgroundSink(lambda make: self.target.write(make()), depth=8)
        self.items = 0

    def close(self) -> None:
        try:
            self.sink.close()
        finally:
            self.target.close()


class Outputs:
    """on_change(kind, on, path) reports each start and stop; on_error(message) failures."""

    def __init__(self, on_change: Callable[[str, bool, str], None], on_error: Callable[[str], None]) -> None:
        self._open: dict[str, _Output] = {}
        self._on_change = on_change
        self._on_error = on_error

    @property
    def active(self) -> bool:
        return bool(self._open)

    def apply(self, requests: dict[str, Path | None], fps: float | None) -> None:
        for kind, path in requests.items():
            self._stop(kind)
            if path is None:
                continue
            try:
                self._open[kind] = _Output(kind, path, fps)
            except Exception as exc:  # a bad folder must not end the run
                self._on_error(first_line(exc, typed=True))
                self._on_change(kind, False, str(path))
            else:
                self._on_change(kind, True, str(path))

    def write(self, annotated: Callable[[], np.ndarray], record: Callable[[], dict[str, Any]]) -> None:
        """annotated() gives the full-size annotated frame, record() the frame's JSONL record."""
        for kind, out in list(self._open.items()):
            try:
                out.sink.put(annotated if kind == "record" else record)
                out.items += 1
            except Exception as exc:
                self._on_error(first_line(exc, typed=True))
                self._stop(kind)

    def _stop(self, kind: str) -> None:
        out = self._open.pop(kind, None)
        if out is None:
            return
        try:
            out.close()
        except Exception as exc:
            self._on_error(first_line(exc, typed=True))
        self._on_change(kind, False, str(out.path) if out.items else "")

    def close(self) -> None:
        for kind in list(self._open):
            self._stop(kind)
