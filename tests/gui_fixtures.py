"""Fixtures and fakes for the GUI tests: isolated settings, small models and videos,
and scripted live sources (a camera that blocks, one that disappears).

tests/conftest.py registers the fixtures for every test (`pytest_plugins`): test modules
take them as parameters, never import them; the helpers (make_window, ScriptedCamera...)
are imported. pytest puts tests/ on sys.path (tests/ is no package), so `modelgen`
imports as it is.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import modelgen
import numpy as np
import pytest

from trt_viewer.core.sources import Frame, Source

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt makes the QApplication

SIZE = (64, 96)  # model input and frame size (H, W): every test frame is one model input
# A square on stride-8 cell (x, 2) in this colour scores 0.78 x 0.78 = 0.61 as class 0.
COLOUR = (200, 200, 0)
SCORE = (200 / 255) ** 2


def square_frames(n: int, colour: tuple[int, int, int] = COLOUR) -> list[np.ndarray]:
    cols = SIZE[1] // 8
    return [modelgen.square_image(SIZE, (i % cols, 2, 8), colour) for i in range(n)]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    # MJPG keeps the squares' colours close to exact at this size (mp4v smears them).
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (SIZE[1], SIZE[0]))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def gui_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return modelgen.yolox_model(tmp_path_factory.mktemp("gui_models") / "squares.onnx", size=SIZE)


@pytest.fixture(scope="session")
def gui_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("gui_media") / "squares.avi", square_frames(30))


@pytest.fixture(scope="session")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("gui_long") / "long.avi", square_frames(2000))


@pytest.fixture
def gui_settings(tmp_path: Path):  # -> Settings
    """Settings in an ini file of this test's own: the user's settings are never touched."""
    from PySide6.QtCore import QSettings

    from trt_viewer.gui.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_output_dir(tmp_path / "out")
    return settings


def make_window(qtbot, settings, factory: Callable | None = None):  # -> MainWindow
    from trt_viewer.gui.window import MainWindow
    from trt_viewer.gui.worker import Worker

    window = MainWindow(settings, worker_factory=factory or Worker)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    return window


@pytest.fixture
def window(qtbot, gui_settings) -> Iterator:
    win = make_window(qtbot, gui_settings)
    yield win
    assert win.shutdown(5000), "a worker did not stop"


class ScriptedCamera(Source):
    """A live source giving `frames`, then ending (a camera unplugged) or blocking in read()
    until `gate` is set (a camera that hangs), as OpenCV does for real devices."""

    live = True

    def __init__(self, frames: list[np.ndarray], then: str = "end", gate: threading.Event | None = None,
                 delay: float = 0.005) -> None:
        super().__init__("0")
        self.frames = frames
        self.then = then
        self.gate = gate or threading.Event()
        self.delay = delay
        self.blocked = threading.Event()
        self.closed = threading.Event()
        self._next = 0

    def read(self) -> Frame | None:
        if self._next < len(self.frames):
            time.sleep(self.delay)  # a camera delivers at its own pace
            image = self.frames[self._next]
            self._next += 1
            return Frame(self._next - 1, image, self.spec, time.monotonic())
        if self.then == "block":
            self.blocked.set()
            self.gate.wait()
        return None

    def close(self) -> None:
        self.closed.set()


class CameraOpener:
    """source_opener for Worker: hands out ScriptedCameras and remembers them."""

    def __init__(self, make: Callable[[int], Source]) -> None:
        self.make = make
        self.attempts = 0
        self.opened: list[Source] = []

    def __call__(self, spec: str) -> Source:
        self.attempts += 1
        source = self.make(self.attempts - 1)
        self.opened.append(source)
        return source
