"""The main window: the parts that make up the viewer, wired together, and the window's events.

It holds no pipeline logic and little of its own. Each part is an object it owns:

- shell: the widgets (view, transport bar, docks, menus, toolbar, status bar) and fullscreen
- chooser: the model and the source, and every way of choosing them
- run: one Worker at a time, started, commanded and retired; the state comes from it
- display: each frame put on the view, the HUD, the rates and the statistics
- status: the state, the enabled actions, the pickers and the title, kept in step
- outputs: snapshots, and the recording and export the run writes
- messages: the status bar's messages and the error dialog
- preferences: loop, real-time playback and HUD, kept between sessions
- decoding: Playback ▸ Video Decoding, kept between sessions, and what the run decodes with
- lost_source: the notice while a live source is lost and reconnects by itself
- leftovers: what a run left on screen, cleared once it describes nothing
- tracking: the Tracking menu's switches and each source's counting lines and zones
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QMainWindow

from trt_viewer.gui.actions import Actions
from trt_viewer.gui.app import Demo
from trt_viewer.gui.choosing import Chooser
from trt_viewer.gui.decoding import VideoDecoding
from trt_viewer.gui.display import Display
from trt_viewer.gui.leftovers import Leftovers
from trt_viewer.gui.menus import install_menus
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.outputs import Outputs
from trt_viewer.gui.preferences import Preferences
from trt_viewer.gui.reconnect import LostSource
from trt_viewer.gui.run_control import CLOSE_WAIT_MS, RunControl, WorkerFactory
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.shell import Shell
from trt_viewer.gui.status import Status
from trt_viewer.gui.tracking import TrackingControl
from trt_viewer.gui.worker import Worker
from trt_viewer.run.session import RunSpec, SourceInfo

if TYPE_CHECKING:
    from trt_viewer.gui.frames import FramePacket

class MainWindow(QMainWindow):
    frameShown = Signal(int)  # index of each frame put on screen
    stateChanged = Signal(str)
    errorShown = Signal(str)

    def __init__(self, settings: Settings | None = None, worker_factory: WorkerFactory = Worker) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.setAcceptDrops(True)
        self.actions_ = Actions(self)
        self.messages = Messages(self, self.statusBar())
        self.chooser = Chooser(self, self.settings, self.messages, busy=lambda: self.run.busy, start=self.start)
        self.shell = Shell(self, self.actions_, self.settings, self.chooser)
        self.run = RunControl(self._spec, self.shell.view.device_size, worker_factory, self)
        self.display = Display(self.run, self.shell.view, self.shell.transport, self.shell.stats, self.shell.fps_label,
                             self)
        self.status = Status(self, self.shell, self.actions_, self.run, self.chooser, self.messages)
        self.outputs = Outputs(self, self.settings, self.actions_, self.shell.view, self.run, self.messages,
                               lambda: self.chooser.source)
        self.preferences = Preferences(self.settings, self.actions_, self.shell.transport, self.shell.view, self.run)
        self.tracking = TrackingControl(self.settings, self.actions_, self.shell.view, self.run, self.display,
                                        self.messages, lambda: self.chooser.source, self)
        self.decoding = VideoDecoding(self.settings, self.run, self.messages, self.shell.stats,
                                      lambda: self.chooser.source, self)
        self.demo = Demo(self)
        install_menus(self.menuBar(), self.actions_, self.chooser, self.preferences.image_menu, self.decoding.menu,
                      self.demo.action)
        self._wire()
        # After _wire: they connect themselves, behind the status and display (a reconnect
        # attempt's "loading" hides the notices there; the lost notice shows it again).
        self.lost_source = LostSource(self.run, self.shell.view, self.messages, lambda: self.chooser.source, self)
        self.leftovers = Leftovers(self.run, self.shell.view, self.shell.transport, self.shell.fps_label, self)
        self.shell.restore(self.settings)
        self.preferences.restore()

    def _wire(self) -> None:
        a, run, shell, chooser, messages = self.actions_, self.run, self.shell, self.chooser, self.messages
        a.open.triggered.connect(chooser.open_dialog)
        a.open_model.triggered.connect(chooser.open_model_dialog)
        a.open_source.triggered.connect(chooser.open_source_dialog)
        a.open_folder.triggered.connect(chooser.open_folder_dialog)
        a.open_url.triggered.connect(chooser.open_url_dialog)
        a.output_dir.triggered.connect(chooser.choose_output_dir)
        a.snapshot.triggered.connect(self.outputs.snapshot)
        a.record.toggled.connect(lambda on: self.outputs.set_output("record", on))
        a.export.toggled.connect(lambda on: self.outputs.set_output("export", on))
        a.quit.triggered.connect(self.close)
        a.play.triggered.connect(run.toggle_play)
        a.stop.triggered.connect(run.stop)
        a.step.triggered.connect(run.step)
        a.step_back.triggered.connect(run.step_back)
        a.rewind.triggered.connect(lambda: run.seek(0))
        a.shortcuts.triggered.connect(messages.show_shortcuts)
        a.about.triggered.connect(messages.show_about)
        shell.transport.slider.seekRequested.connect(run.seek)
        shell.view.resized.connect(run.set_view)
        shell.view.resized.connect(self.display.view_resized)
        shell.view.reconnectRequested.connect(run.reconnect)
        shell.detection.configChanged.connect(run.set_config)
        shell.detection.presetChanged.connect(run.set_preset)
        shell.labels.changed.connect(self.display.set_style)
        chooser.modelChosen.connect(shell.model_panel.clear)
        chooser.changed.connect(self.status.choice_changed)
        chooser.changed.connect(self.tracking.source_changed)
        messages.errorShown.connect(self.errorShown)

        run.restarting.connect(shell.view.hide_notice)
        run.launched.connect(self.display.new_run)
        run.launched.connect(messages.clear)
        run.stateChanged.connect(self.status.state_changed)
        run.stateChanged.connect(self.display.state_changed)
        run.stateChanged.connect(self.stateChanged)
        run.frameReady.connect(self.display.show_frame)
        run.statsReady.connect(self.display.show_stats)
        run.modelReady.connect(self.status.model_ready)
        run.sourceReady.connect(self.status.source_ready)
        run.error.connect(messages.show_error)
        run.outputChanged.connect(self.outputs.output_changed)
        run.idle.connect(self.outputs.run_ended)
        self.display.frameShown.connect(self.frameShown)

    def _spec(self, paused: bool) -> RunSpec | None:
        """The next run, from the choice, the detection panel and the playback toggles."""
        model, source = self.chooser.model, self.chooser.source
        if not model or not source:
            return None
        detection = self.shell.detection
        return RunSpec(
            model=model, source=source, preset=detection.preset_name(), config=detection.config(),
            loop=self.actions_.loop.isChecked(), realtime=self.actions_.realtime.isChecked(), start_paused=paused,
            image_seconds=self.preferences.image_seconds,
            names_file=Path(self.chooser.names_file) if self.chooser.names_file else None,
            tracking=self.tracking.options(), decode=self.decoding.choice,
        )

    # ======================================================================== the viewer's API
    # What scripts, the app and the tests drive the window with; the parts do the work.
    @property
    def model(self) -> str | None:
        return self.chooser.model

    @property
    def source(self) -> str | None:
        return self.chooser.source

    @property
    def state(self) -> str:
        return self.run.state

    @property
    def worker(self) -> Worker | None:
        return self.run.worker

    @property
    def packet(self) -> FramePacket | None:
        return self.run.packet

    @property
    def source_info(self) -> SourceInfo | None:
        return self.run.source_info

    @property
    def last_error(self) -> str:
        return self.messages.last_error

    def set_model(self, path: str, start: bool = False) -> bool:
        return self.chooser.set_model(path, start)

    def set_source(self, spec: str, start: bool = False) -> bool:
        return self.chooser.set_source(spec, start)

    def start(self, paused: bool = False) -> None:
        self.run.start(paused)

    def play(self) -> None:
        self.run.play()

    def pause(self) -> None:
        self.run.pause()

    def stop(self) -> None:
        self.run.stop()

    def step(self) -> None:
        self.run.step()

    def seek(self, index: int) -> None:
        self.run.seek(index)

    def snapshot(self) -> Path | None:
        return self.outputs.snapshot()

    def set_fullscreen(self, on: bool) -> None:
        self.shell.set_fullscreen(on)

    def show_error(self, message: str, dialog: bool = True) -> None:
        self.messages.show_error(message, dialog)

    def shutdown(self, timeout_ms: int = CLOSE_WAIT_MS) -> bool:
        """Stop every worker and join them; True if all finished within timeout_ms."""
        self.messages.dialogs = False
        ok = self.demo.stop()
        ok = self.run.shutdown(timeout_ms) and ok
        self.outputs.wait()
        return ok

    # ======================================================================== window events
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.shell.shown()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.chooser.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.chooser.drop(event.mimeData())
        event.acceptProposedAction()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange:
            self.shell.window_state_changed()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shell.set_fullscreen(False)
        self.settings.save_detection(self.shell.detection.config(), self.shell.detection.preset_name())
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        if not self.shutdown():
            # A backend call that will not return (a hung driver): the window goes, and
            # the process exits once the thread does; terminate() is never used.
            self.hide()
            self.run.when_retired(self.close)
            event.ignore()
            return
        event.accept()
