"""`trt-viewer` with no subcommand: the QApplication, the window, and what it opens on."""

from __future__ import annotations

import importlib
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from trt_viewer.errors import TrtViewerError


def _check_pyside() -> None:
    import PySide6

    # 6.12.0 aborts on Python 3.11 after a few hundred Signal.emit() calls (bool_dealloc);
    # the viewer emits thousands a minute, so refuse it with the fix rather than crash.
    if PySide6.__version__ == "6.12.0" and sys.version_info[:2] == (3, 11):
        raise TrtViewerError(
            "PySide6 6.12.0 crashes on Python 3.11; install another version: "
            "pip install 'PySide6-Essentials!=6.12.0'"
        )


class _InterruptBridge:
    """Ctrl+C in the terminal (or SIGTERM, SIGHUP) closes the window the normal way: workers
    joined, settings saved. Qt's event loop does not run Python signal handlers by itself,
    so the wake-up byte Python writes for each signal goes through a socket that a
    QSocketNotifier watches."""

    def __init__(self, on_interrupt: Callable[[], object]) -> None:
        from PySide6.QtCore import QSocketNotifier

        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._write.fileno())
        # SIGTERM (kill, a session ending) and SIGHUP (the terminal that started us closed)
        # get the same clean close where they exist.
        self._signals = [signal.SIGINT] + ([signal.SIGTERM, signal.SIGHUP] if sys.platform != "win32" else [])
        self._previous = {s: signal.signal(s, lambda *_: None) for s in self._signals}
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        self._on_interrupt = on_interrupt

    def _drain(self) -> None:
        try:
            data = self._read.recv(64)
        except OSError:
            return
        if any(int(s) in data for s in self._signals):
            self._on_interrupt()

    def close(self) -> None:
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._read.close()
        self._write.close()


def _demo_module() -> Any | None:
    """The demo module when it is installed and its model is there, else None."""
    try:
        demo = importlib.import_module("trt_viewer.demo")
    except ImportError:
        return None
    try:
        return demo if Path(demo.demo_model_path()).is_file() else None
    except Exception:  # the demo is a convenience: never a reason not to open
        return None


@dataclass(frozen=True)
class Startup:
    model: str | None
    source: str | None
    start: bool
    demo: Any | None = None  # the demo module: its clip is rendered (once) after the window shows


def choose_startup(model: str | None, source: str | None, settings: Any) -> Startup:
    """Both given: start on them. Neither: the demo if there is one, else the last session
    (paths checked, not started: a camera should not switch on by surprise). One given:
    the other from the last session, not started."""
    if model and source:
        return Startup(model, source, True)
    if not model and not source:
        demo = _demo_module()
        if demo is not None:
            return Startup(str(demo.demo_model_path()), None, True, demo)
    return Startup(model or settings.last_model(), source or settings.last_source(), False)


class _DemoClip(QObject):
    """Renders the demo clip in a thread (seconds, the first time only), then plays it."""

    ready = Signal(str)
    failed = Signal(str)

    def __init__(self, window: Any, demo: Any) -> None:
        super().__init__(window)
        self.window = window
        self.ready.connect(self._ready)
        self.failed.connect(self._failed)
        # Only a render that takes a while deserves a notice; a cached clip just plays.
        self._notice = QTimer(self, singleShot=True, interval=300)
        self._notice.timeout.connect(lambda: window.shell.view.show_notice(
            "Preparing the demo", "Rendering the demo clip; this happens once and is cached."))
        self._notice.start()
        threading.Thread(target=self._render, args=(demo,), name="trt-viewer-demo", daemon=True).start()

    def _render(self, demo: Any) -> None:
        try:
            self.ready.emit(str(demo.ensure_demo_video()))
        except Exception as exc:
            self.failed.emit(f"the demo clip could not be made: {exc}".splitlines()[0])

    def _ready(self, path: str) -> None:
        self._notice.stop()
        self.window.shell.view.hide_notice()
        if self.window.source is None:  # the user did not choose something else meanwhile
            self.window.set_source(path, start=True)

    def _failed(self, message: str) -> None:
        self._notice.stop()
        self.window.shell.view.hide_notice()
        self.window.show_error(message)


def run_app(model: str | None = None, source: str | None = None, argv: list[str] | None = None) -> int:
    """Open the viewer; returns the process exit code (0 on a normal close)."""
    _check_pyside()
    from trt_viewer.gui.preflight import check_display

    check_display()
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from trt_viewer import __version__
    from trt_viewer.gui import theme
    from trt_viewer.gui.settings import APPLICATION, ORGANISATION, Settings
    from trt_viewer.gui.window import MainWindow

    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        # Fractional scales (150 %) stay fractional: frames are rendered for the real pixels.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName("trt-viewer")
    theme.apply(app)

    settings = Settings()
    window = MainWindow(settings)
    startup = choose_startup(model, source, settings)
    if startup.model:
        window.set_model(startup.model)
    if startup.source:
        window.set_source(startup.source)
    window.show()
    if startup.demo is not None:
        _DemoClip(window, startup.demo)
    elif startup.start and window.model and window.source:
        window.start()

    bridge = _InterruptBridge(window.close)
    try:
        app.exec()
    finally:
        bridge.close()
        window.shutdown()
    return 0
