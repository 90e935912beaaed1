"""Snapshots written off the GUI thread, and names for everything the window saves."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal


def output_path(folder: Path, stem: str, suffix: str, index: int | None = None) -> Path:
    """folder/stem_YYYYmmdd-HHMMSS[_fN].suffix, never overwriting an existing file."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stem}_{stamp}" + (f"_f{index}" if index is not None else "")
    path = folder / f"{base}{suffix}"
    n = 1
    while path.exists():
        path = folder / f"{base}-{n}{suffix}"
        n += 1
    return path


def ensure_folder(folder: Path) -> Path:
    """The folder, created if needed; OSError with the reason if it cannot be."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class ImageSaver(QObject):
    """PNG encoding takes tens of ms for a large frame: too long for the GUI thread."""

    saved = Signal(str)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: list[threading.Thread] = []

    def save(self, image: np.ndarray, path: Path) -> None:
        # Not a daemon: a snapshot taken just before quitting is still written out.
        thread = threading.Thread(target=self._write, args=(image, path), name="trt-viewer-snapshot")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _write(self, image: np.ndarray, path: Path) -> None:
        try:
            ok, data = cv2.imencode(".png", image)
            if not ok:
                raise OSError("the image could not be encoded")
            path.write_bytes(data.tobytes())  # imencode + write_bytes: any path, any OS
        except OSError as exc:
            self.failed.emit(f"cannot save snapshot {path}: {exc.strerror or exc}")
        else:
            self.saved.emit(str(path))

    def wait(self, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
