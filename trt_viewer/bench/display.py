"""The viewer's frame-to-QImage conversion, timed without a window.

The viewer's worker thread converts every frame with trt_viewer.gui.frames.render (BGR
to RGB32 straight into the QImage's buffer, then the boxes drawn there); the bench times
that conversion of the frame it has already drawn on, full size.
QImage needs no QApplication, so no display is needed. Without PySide6 the stage is left
out of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def qimage_converter() -> tuple[Callable[[Any], Any] | None, str]:
    """The conversion function, or None and why it is missing."""
    try:
        from trt_viewer.core.detections import Detections
        from trt_viewer.gui.frames import render
    except Exception as exc:  # ImportError, or Qt failing to load its libraries
        return None, f"PySide6 is not usable here ({type(exc).__name__}: {exc})".splitlines()[0]
    nothing = Detections.empty()
    return (lambda bgr: render(bgr, nothing, ())), "trt_viewer.gui.frames.render, full size"
