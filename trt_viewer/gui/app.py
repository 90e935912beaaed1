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
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QImage

from trt_viewer.errors import InputError, TrtViewerError

if TYPE_CHECKING:
    from trt_viewer.gui.window import MainWindow

VIEW_BACKGROUND = QColor("#101114")  # the view's own background (gui.view.BACKGROUND)


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
    demo: Any | None = None  # the demo module: played (Demo.start) once the window shows


def _is_demo_file(path: str | None, demo: Any) -> bool:
    """The demo's own model or clip (an older version remembered them as the last session)."""
    if not path:
        return False
    try:
        ours = [demo.demo_model_path()]
        if hasattr(demo, "demo_video_path"):
            ours.append(demo.demo_video_path())
        return any(Path(path).resolve() == Path(p).resolve() for p in ours)
    except Exception:
        return False


def choose_startup(model: str | None, source: str | None, settings: Any) -> Startup:
    """Both given: start on them. Neither: the last session (paths checked, not started: a
    camera should not switch on by surprise); the demo when there is no last session (a
    first start, or nothing of it left). One given: the other from the last session, not
    started."""
    if model and source:
        return Startup(model, source, True)
    if not model and not source:
        demo = _demo_module()
        last_model, last_source = settings.last_model(), settings.last_source()
        if demo is not None:
            last_model = None if _is_demo_file(last_model, demo) else last_model
            last_source = None if _is_demo_file(last_source, demo) else last_source
        if last_model or last_source:
            return Startup(last_model, last_source, False)
        if demo is not None:
            return Startup(str(demo.demo_model_path()), None, True, demo)
        return Startup(None, None, False)
    return Startup(model or settings.last_model(), source or settings.last_source(), False)


class _Cancelled(Exception):
    """The window closes while the demo clip is rendering."""


class _DemoClip(QObject):
    """Renders the demo clip in a thread (seconds, the first time only), then plays it.

    It plays only if the user chose nothing else meanwhile: the source is still the one
    there was when the demo was asked for. stop() ends a render at its next frame: a
    process exiting with the render still writing through FFmpeg ended in
    "terminate called without an active exception" (seen once in CI)."""

    ready = Signal(str)
    failed = Signal(str)

    def __init__(self, window: MainWindow, demo: Any) -> None:
        super().__init__(window)
        self.window = window
        self._source = window.source  # what was chosen when the demo was asked for
        self._model = window.model
        self._blank = False  # the view shows a blank picture instead of the empty-window hint
        self.ready.connect(self._ready)
        self.failed.connect(self._failed)
        # Only a render that takes a while deserves a notice; a cached clip just plays.
        self._notice = QTimer(self, singleShot=True, interval=300)
        self._notice.timeout.connect(self._show_notice)
        self._notice.start()
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._render, args=(demo,), name="trt-viewer-demo", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """End a render still running (its part-written file is removed); True once it ended."""
        self._cancel.set()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _progress(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise _Cancelled

    def _show_notice(self) -> None:
        view = self.window.shell.view
        if view.image is None:
            # The notice, not "Open a model and a video…" under it: an empty picture for now.
            blank = QImage(1, 1, QImage.Format.Format_RGB32)
            blank.fill(VIEW_BACKGROUND)
            view.set_image(blank)
            self._blank = True
        view.show_notice("Preparing the demo", "Rendering the demo clip; this happens once and is cached.")

    def _unchanged(self) -> bool:
        return self.window.source == self._source and self.window.model == self._model

    def _render(self, demo: Any) -> None:
        try:
            path = str(demo.ensure_demo_video(self._progress))
        except _Cancelled:
            return
        except Exception as exc:
            if not self._cancel.is_set():
                self.failed.emit(f"the demo clip could not be made: {exc}".splitlines()[0])
            return
        if not self._cancel.is_set():
            self.ready.emit(path)

    def _done(self) -> None:
        self._notice.stop()
        self.window.shell.view.hide_notice()

    def _ready(self, path: str) -> None:
        self._done()
        if self._unchanged():  # the user did not choose something else meanwhile
            self.window.chooser.set_source(path, start=True, remember=False)
        elif self._blank and self.window.packet is None:
            self.window.shell.view.clear()

    def _failed(self, message: str) -> None:
        self._done()
        if self._blank and self.window.packet is None:
            self.window.shell.view.clear()
        self.window.show_error(message)


class Demo(QObject):
    """Help ▸ Demo: the built-in model on its clip, at any time. Neither is remembered as the
    last session, so the next start still opens the user's own files."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.action = QAction("Play the &Demo", window)
        self.action.setStatusTip("The built-in model on its own clip (your last session stays as it is)")
        self.action.triggered.connect(self.start)
        self.clip: _DemoClip | None = None

    def start(self) -> bool:
        """Stop what runs, choose the demo's model, and play its clip once it is made."""
        demo = _demo_module()
        if demo is None:
            self._window.show_error("the built-in demo is not installed")
            return False
        window = self._window
        window.stop()  # the demo model never runs on the user's source, even for a moment
        if not window.chooser.set_model(str(demo.demo_model_path()), remember=False):
            return False
        window.messages.notify("Opening the demo…")
        self.stop()
        self.clip = _DemoClip(window, demo)
        return True

    def stop(self) -> bool:
        """End a demo clip still rendering (the window closing); True once none is."""
        return self.clip.stop() if self.clip is not None else True


def run_app(model: str | None = None, source: str | None = None, argv: list[str] | None = None,
            names: str | None = None) -> int:
    """Open the viewer; returns the process exit code (0 on a normal close). names: a class
    names file for the model the window opens on (remembered for it, as Model ▸ Class Names…)."""
    _check_pyside()
    if names and not Path(names).expanduser().is_file():
        raise InputError(f"class names file {names} does not exist")
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
    open_startup(window, choose_startup(model, source, settings), names)

    bridge = _InterruptBridge(window.close)
    try:
        app.exec()
    finally:
        bridge.close()
        window.shutdown()
    return 0


def open_startup(window: MainWindow, startup: Startup, names: str | None = None) -> None:
    """Show the window on what it opens with: the demo is played once the window shows,
    the last session is only loaded into the pickers, both given start at once."""
    if startup.demo is None:
        if startup.model:
            window.set_model(startup.model)
        if startup.source:
            window.set_source(startup.source)
    window.show()
    if startup.demo is not None:
        window.demo.start()
    if names:
        window.chooser.set_names_file(str(Path(names).expanduser()))
    if startup.demo is None and startup.start and window.model and window.source:
        window.start()
