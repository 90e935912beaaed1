"""Cameras by name where the system tells us, else by probing the first indices.

QtMultimedia lists cameras by name, but it is not part of PySide6-Essentials; where the
full PySide6 is installed it is used. Otherwise names come from Linux's sysfs (instant,
opens no device), and elsewhere OpenCV opens indices 0..4, which takes seconds, so that
runs in a background thread and the menu fills in when it is done.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal

PROBE_INDICES = range(5)
SYSFS = Path("/sys/class/video4linux")


def linux_cameras(root: Path = SYSFS) -> list[tuple[int, str]] | None:
    """(index, name) of capture devices, from sysfs; None where sysfs has no such folder."""
    if not root.is_dir():
        return None
    found = []
    for node in root.iterdir():
        match = re.fullmatch(r"video(\d+)", node.name)
        if not match:
            continue
        # A UVC camera shows up twice; the second node (index 1) carries metadata only.
        try:
            if (node / "index").read_text().strip() not in ("", "0"):
                continue
        except OSError:
            pass
        try:
            name = (node / "name").read_text().strip()
        except OSError:
            name = ""
        found.append((int(match.group(1)), name or f"Camera {match.group(1)}"))
    return sorted(found)


def qt_cameras() -> list[tuple[int, str]] | None:
    """(index, name) from QtMultimedia; None where it is not installed."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:
        return None
    found = []
    for position, device in enumerate(QMediaDevices.videoInputs()):
        # On Linux the id is the device node (/dev/videoN), which is OpenCV's index;
        # elsewhere both enumerate the system's cameras in the same order.
        match = re.search(rb"video(\d+)$", device.id().data())
        found.append((int(match.group(1)) if match else position, device.description()))
    return found


def probe_cameras(indices: range = PROBE_INDICES) -> list[tuple[int, str]]:
    import cv2

    from trt_viewer.core.sources import quiet_opencv

    quiet_opencv()  # a missing camera is a quiet no, not an OpenCV warning
    found = []
    for index in indices:
        capture = cv2.VideoCapture(index)
        try:
            if capture.isOpened():
                found.append((index, f"Camera {index}"))
        finally:
            capture.release()
    return found


class CameraList(QObject):
    """The cameras last found; refresh() looks again without blocking the GUI."""

    changed = Signal(object)  # list[tuple[int, str]]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cameras: list[tuple[int, str]] = []
        self.searched = False
        self._busy = threading.Lock()

    def refresh(self) -> None:
        listed = qt_cameras()
        if listed is None and sys.platform.startswith("linux"):
            listed = linux_cameras()
        if listed is not None:
            self._set(listed)
            return
        if not self._busy.acquire(blocking=False):
            return  # a probe is already running
        threading.Thread(target=self._probe, name="trt-viewer-cameras", daemon=True).start()

    def _probe(self) -> None:
        try:
            found = probe_cameras()
        finally:
            self._busy.release()
        self._set(found)

    def _set(self, cameras: list[tuple[int, str]]) -> None:
        self.searched = True
        if cameras != self.cameras:
            self.cameras = cameras
        self.changed.emit(cameras)
