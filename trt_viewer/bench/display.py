"""The viewer's frame-to-QImage conversion, timed without a window.

The worker thread converts every annotated frame with trt_viewer.gui.frames.to_qimage
(BGR to RGB32 straight into the QImage's buffer); the bench times that same function.
QImage needs no QApplication, so no display is needed. Without PySide6 the stage is left
out of the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def qimage_converter() -> tuple[Callable[[Any], Any] | None, str]:
    """The conversion function, or None and why it is missing."""
    try:
        from trt_viewer.gui.frames import to_qimage
    except Exception as exc:  # ImportError, or Qt failing to load its libraries
        return None, f"PySide6 is not usable here ({type(exc).__name__}: {exc})".splitlines()[0]
    return to_qimage, "trt_viewer.gui.frames.to_qimage, full size"
