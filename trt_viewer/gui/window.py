"""The main window: wires pickers, panels and actions to one Worker at a time.

It holds no pipeline logic: it builds a RunSpec, starts a Worker, forwards commands to it
and shows what it reports. A new model or source retires the running worker and starts
the next one once the old has finished, so two never share the GPU or the camera.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox, QSizePolicy, QToolBar,
    QToolButton, QVBoxLayout, QWidget,
)

from trt_viewer import __version__
from trt_viewer.backends import MODEL_SUFFIXES, check_model_path
from trt_viewer.core.stats import FpsMeter
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import TrtViewerError
from trt_viewer.gui import files
from trt_viewer.gui.actions import SHORTCUTS, Actions
from trt_viewer.gui.cameras import CameraList
from trt_viewer.gui.class_filter import ClassFilter
from trt_viewer.gui.detection_panel import DetectionPanel
from trt_viewer.gui.frames import FramePacket
from trt_viewer.gui.menus import CameraMenu, RecentMenu, source_menu
from trt_viewer.gui.model_panel import ModelPanel
from trt_viewer.gui.saving import ImageSaver, ensure_folder, output_path
from trt_viewer.gui.session import RunSpec, SourceInfo
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView
from trt_viewer.gui.worker import Worker

CLOSE_WAIT_MS = 1000
STATE_TEXT = {
    "stopped": "Stopped", "loading": "Loading…", "playing": "Playing", "paused": "Paused",
    "ended": "Ended", "lost": "Source lost",
}
WorkerFactory = Callable[[RunSpec], Worker]


class MainWindow(QMainWindow):
    frameShown = Signal(int)  # index of each frame put on screen
    stateChanged = Signal(str)
    errorShown = Signal(str)

    def __init__(self, settings: Settings | None = None, worker_factory: WorkerFactory = Worker) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self._factory = worker_factory
        self.model: str | None = None
        self.source: str | None = None
        self.worker: Worker | None = None
        self._retiring: list[Worker] = []
        self._pending: RunSpec | None = None
        self.packet: FramePacket | None = None
        self.source_info: SourceInfo | None = None
        self.state = "stopped"
        self.last_error = ""
        self.display_meter = FpsMeter()
        self._last_stats: dict[str, Any] | None = None
        self._error_box: QMessageBox | None = None
        self._fullscreen_docks: list[QDockWidget] = []
        self._closing = False
        self.saver = ImageSaver(self)
        self.cameras = CameraList(self)

        self.setWindowTitle("trt-viewer")
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.actions_ = Actions(self)
        self._build()
        self._connect()
        self._restore()
        self._tick = QTimer(self)
        self._tick.setInterval(500)
        self._tick.timeout.connect(self._refresh_rates)
        self._tick.start()

    # ======================================================================== building
    def _build(self) -> None:
        a = self.actions_
        self.view = VideoView()
        self.transport = TransportBar([a.play, a.stop, None, a.step_back, a.step])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.view, 1)
        box.addWidget(self.transport)
        self.setCentralWidget(central)

        self.detection = DetectionPanel(
            PostprocessConfig(
                conf=self.settings.get("detect/conf", 0.3, float),
                nms=self.settings.get("detect/nms", 0.45, float),
                agnostic=self.settings.get("detect/agnostic", False, bool),
            ),
            preset=self.settings.get("detect/preset", "auto", str),
        )
        self.class_filter = ClassFilter()
        self.stats = StatsPanel()
        self.model_panel = ModelPanel()
        self.detection_dock = self._dock("Detection", self.detection, "detectionDock")
        self.stats_dock = self._dock("Statistics", self.stats, "statsDock")
        self.classes_dock = self._dock("Classes", self.class_filter, "classesDock")
        self.model_dock = self._dock("Model", self.model_panel, "modelDock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.detection_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.stats_dock)
        self.tabifyDockWidget(self.stats_dock, self.classes_dock)
        self.tabifyDockWidget(self.classes_dock, self.model_dock)
        self.stats_dock.raise_()
        self._docks_sized = False

        self._build_menus()
        self._build_toolbar()
        self._build_status()

    def _docks(self) -> tuple[QDockWidget, ...]:
        return (self.detection_dock, self.stats_dock, self.classes_dock, self.model_dock)

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() finds docks by name
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _build_menus(self) -> None:
        a = self.actions_
        self.recent_models = RecentMenu(
            "Recent &Models", self.settings.recent_models, lambda p: self.set_model(p, start=True),
            self._clear_recent, self,
        )
        self.recent_sources = RecentMenu(
            "Recent &Sources", self.settings.recent_sources, lambda s: self.set_source(s, start=True),
            self._clear_recent, self,
        )
        self.camera_menu = CameraMenu(self.cameras, self._choose_camera, self)
        bar = self.menuBar()
        m = bar.addMenu("&File")
        for action in (a.open, a.open_model, a.open_source, a.open_folder, a.open_url):
            m.addAction(action)
        m.addMenu(self.camera_menu)
        m.addSeparator()
        m.addMenu(self.recent_models)
        m.addMenu(self.recent_sources)
        m.addSeparator()
        for action in (a.snapshot, a.record, a.export, a.output_dir):
            m.addAction(action)
        m.addSeparator()
        m.addAction(a.quit)
        m = bar.addMenu("&Playback")
        for action in (a.play, a.stop, a.step, a.step_back, a.rewind):
            m.addAction(action)
        m.addSeparator()
        m.addAction(a.loop)
        m.addAction(a.realtime)
        m = bar.addMenu("&View")
        for dock in self._docks():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addAction(a.hud)
        m.addSeparator()
        m.addAction(a.fullscreen)
        m = bar.addMenu("&Help")
        m.addAction(a.shortcuts)
        m.addAction(a.about)

    def _build_toolbar(self) -> None:
        a = self.actions_
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_button = QToolButton()
        self.model_button.setDefaultAction(a.open_model)
        self.model_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.model_button.setMenu(self.recent_models)
        self.source_button = QToolButton()
        self.source_button.setDefaultAction(a.open_source)
        self.source_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.source_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.source_button.setMenu(
            source_menu([a.open_source, a.open_folder, a.open_url], self.camera_menu, self.recent_sources, self)
        )
        bar.addWidget(self.model_button)
        bar.addWidget(self.source_button)
        bar.addSeparator()
        bar.addAction(a.snapshot)
        bar.addAction(a.record)
        bar.addAction(a.export)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(a.fullscreen)
        self.toolbar = bar
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self._update_pickers()

    def _build_status(self) -> None:
        status = self.statusBar()
        self.state_label = QLabel(STATE_TEXT["stopped"])
        self.backend_label = QLabel("")
        self.backend_label.setObjectName("muted")
        self.fps_label = QLabel("– FPS")
        self.fps_label.setMinimumWidth(self.fps_label.fontMetrics().horizontalAdvance("0000.0 FPS") + 16)
        self.fps_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status.addPermanentWidget(self.backend_label)
        status.addPermanentWidget(self.state_label)
        status.addPermanentWidget(self.fps_label)

    def _connect(self) -> None:
        a = self.actions_
        a.open.triggered.connect(self.open_dialog)
        a.open_model.triggered.connect(self.open_model_dialog)
        a.open_source.triggered.connect(self.open_source_dialog)
        a.open_folder.triggered.connect(self.open_folder_dialog)
        a.open_url.triggered.connect(self.open_url_dialog)
        a.output_dir.triggered.connect(self.choose_output_dir)
        a.snapshot.triggered.connect(self.snapshot)
        a.record.toggled.connect(lambda on: self.set_output("record", on))
        a.export.toggled.connect(lambda on: self.set_output("export", on))
        a.quit.triggered.connect(self.close)
        a.play.triggered.connect(self.toggle_play)
        a.stop.triggered.connect(self.stop)
        a.step.triggered.connect(self.step)
        a.step_back.triggered.connect(self.step_back)
        a.rewind.triggered.connect(lambda: self.seek(0))
        a.loop.toggled.connect(self._set_loop)
        a.realtime.toggled.connect(self._set_realtime)
        a.fullscreen.toggled.connect(self.set_fullscreen)
        a.hud.toggled.connect(self._set_hud)
        a.leave_fullscreen.triggered.connect(lambda: self.set_fullscreen(False))
        a.shortcuts.triggered.connect(self.show_shortcuts)
        a.about.triggered.connect(self.show_about)
        self.transport.loop.toggled.connect(a.loop.setChecked)
        self.transport.realtime.toggled.connect(a.realtime.setChecked)
        self.transport.slider.seekRequested.connect(self.seek)
        self.view.resized.connect(self._view_resized)
        self.view.reconnectRequested.connect(self.reconnect)
        self.view.doubleClicked.connect(a.fullscreen.toggle)
        self.detection.configChanged.connect(self._config_changed)
        self.detection.presetChanged.connect(self._preset_changed)
        self.class_filter.classesChanged.connect(self.detection.set_classes)
        self.saver.saved.connect(lambda path: self.notify(f"Snapshot saved: {path}"))
        self.saver.failed.connect(self.show_error)
        self._update_actions()

    def _restore(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        if state is not None:
            self._docks_sized = self.restoreState(state)
        self.actions_.loop.setChecked(self.settings.get("playback/loop", False, bool))
        self.actions_.realtime.setChecked(self.settings.get("playback/realtime", False, bool))
        self.actions_.hud.setChecked(self.settings.get("view/hud", True, bool))
        self.view.hud_enabled = self.actions_.hud.isChecked()

    # ======================================================================== choosing
    def set_model(self, path: str, start: bool = False) -> bool:
        try:
            check_model_path(path)
        except TrtViewerError as exc:
            self.show_error(str(exc))
            return False
        if Path(path).suffix.lower() not in MODEL_SUFFIXES:
            self.show_error(f"{Path(path).name} is not a model: expected one of {', '.join(MODEL_SUFFIXES)}")
            return False
        self.model = str(Path(path).expanduser())
        self.settings.add_recent_model(self.model)
        self.model_panel.clear(self.model)
        self._chosen(start)
        return True

    def set_source(self, spec: str, start: bool = False) -> bool:
        spec = spec.strip()
        if not spec:
            return False
        if not files.spec_exists(spec):
            self.show_error(f"source {spec} does not exist")
            return False
        self.source = spec
        self.settings.add_recent_source(spec)
        self._chosen(start)
        return True

    def _chosen(self, start: bool) -> None:
        self.settings.remember_session(self.model, self.source)
        self._update_pickers()
        running = self.worker is not None or self._pending is not None
        if self.model and self.source and (start or running):
            self.start()
        elif self.model and self.source:
            self.notify("Ready: press Space to play")
        elif self.model and not self.source:
            self.notify("Model chosen: now open a video, camera or folder of images")
        elif self.source and not self.model:
            self.notify("Source chosen: now open a model (Ctrl+M)")

    def open_paths(self, paths: list[str]) -> None:
        """Models and sources from a drop or the Open dialog, sorted by what they are."""
        models = [p for p in paths if files.classify(p) == "model"]
        sources = [p for p in paths if files.classify(p) == "source"]
        unknown = [p for p in paths if files.classify(p) == "unknown"]
        if unknown:
            self.show_error(
                f"{Path(unknown[0]).name} is neither a model ({', '.join(MODEL_SUFFIXES)}) "
                "nor a video, image or folder of images"
            )
        ok_model = self.set_model(models[-1]) if models else False
        ok_source = self.set_source(sources[0]) if sources else False
        if (ok_model or ok_source) and self.model and self.source:
            self.start()

    # -- dialogs (user actions only: tests call the methods above) --------------------------
    def _start_dir(self) -> str:
        return self.settings.get("dialogs/dir", str(Path.home()), str)

    def _remember_dir(self, path: str) -> None:
        p = Path(path)
        self.settings.set("dialogs/dir", str(p if p.is_dir() else p.parent))

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open model or source", self._start_dir(),
            ";;".join((files.ANY_FILTER, files.MODEL_FILTER, files.MEDIA_FILTER, "All files (*)")),
        )
        if paths:
            self._remember_dir(paths[0])
            self.open_paths(paths)

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", self._start_dir(), f"{files.MODEL_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_model(path, start=True)

    def open_source_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video or image", self._start_dir(), f"{files.MEDIA_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder of images", self._start_dir())
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_url_dialog(self) -> None:
        url, ok = QInputDialog.getText(
            self, "Open stream", "Stream URL (rtsp://, http://, udp://…):",
            text=self.settings.get("dialogs/url", "rtsp://", str),
        )
        if ok and url.strip():
            if not files.is_stream(url):
                self.show_error(f"{url.strip()} is not a stream URL (rtsp://, rtmp://, http(s)://, udp://, tcp://, srt://)")
                return
            self.settings.set("dialogs/url", url.strip())
            self.set_source(url.strip(), start=True)

    def _choose_camera(self, spec: str) -> None:
        if not spec:
            index, ok = QInputDialog.getInt(self, "Open camera", "Camera index:", 0, 0, 99)
            if not ok:
                return
            spec = str(index)
        self.set_source(spec, start=True)

    def choose_output_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", str(self.settings.output_dir()))
        if path:
            self.settings.set_output_dir(Path(path))
            self.notify(f"Snapshots, recordings and exports now go to {path}")

    def _clear_recent(self) -> None:
        self.settings.clear_recent()

    # ======================================================================== running
    def start(self, paused: bool = False) -> None:
        """(Re)start on the chosen model and source."""
        if not self.model or not self.source:
            self.show_error("choose a model and a source first (Ctrl+O)")
            return
        spec = RunSpec(
            model=self.model, source=self.source, preset=self.detection.preset_name(),
            config=self.detection.config(), loop=self.actions_.loop.isChecked(),
            realtime=self.actions_.realtime.isChecked(), start_paused=paused,
        )
        self.view.hide_notice()
        self._pending = spec
        if self.worker is not None:
            self._retire(self.worker)
        if not self._retiring:
            self._launch_pending()
        else:
            self._set_state("loading")

    def _launch_pending(self) -> None:
        spec, self._pending = self._pending, None
        if spec is None or self._closing:
            return
        worker = self._factory(spec)
        on = functools.partial
        worker.frameReady.connect(on(self._on_frame, worker))
        worker.stateChanged.connect(on(self._on_state, worker))
        worker.statsReady.connect(on(self._on_stats, worker))
        worker.modelReady.connect(on(self._on_model, worker))
        worker.sourceReady.connect(on(self._on_source, worker))
        worker.error.connect(on(self._on_error, worker))
        worker.sourceLost.connect(on(self._on_lost, worker))
        worker.outputChanged.connect(self._on_output)
        worker.finished.connect(on(self._on_finished, worker))
        worker.set_view(*self.view.device_size())
        self.worker = worker
        self.source_info = None  # until this run reports its own
        self.display_meter = FpsMeter()
        self._last_stats = None
        self.stats.reset()
        self.statusBar().clearMessage()
        self._set_state("loading")
        worker.start()

    def _retire(self, worker: Worker) -> None:
        worker.stop()
        if worker not in self._retiring:
            self._retiring.append(worker)
        if worker is self.worker:
            self.worker = None

    def _on_finished(self, worker: Worker) -> None:
        # finished is emitted just before the thread ends: join it, or dropping the last
        # reference could destroy a QThread that is still (barely) running.
        worker.wait()
        # The partials hold the worker inside its own connections: a cycle Python's GC
        # cannot see through, so cut it, or every restart would leak a worker.
        for signal in (worker.frameReady, worker.stateChanged, worker.statsReady, worker.modelReady,
                       worker.sourceReady, worker.error, worker.sourceLost, worker.outputChanged,
                       worker.finished):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        if worker in self._retiring:
            self._retiring.remove(worker)
        if worker is self.worker:
            self.worker = None
            self._set_state("stopped")
        if self.worker is None:
            # A record or export asked for while the run was still loading dies with it.
            for action in (self.actions_.record, self.actions_.export):
                self._uncheck(action)
            self.view.set_recording(False)
        if self._pending is not None and not self._retiring:
            self._launch_pending()

    def stop(self) -> None:
        self._pending = None
        if self.worker is not None:
            self._retire(self.worker)
        self._set_state("stopped")

    def toggle_play(self) -> None:
        if self.worker is None:
            if self._pending is None:
                self.start()
        elif self.state == "playing":
            self.worker.set_paused(True)
        elif self.state == "lost":
            self.reconnect()
        else:
            self.worker.set_paused(False)

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.set_paused(True)

    def play(self) -> None:
        if self.worker is None:
            self.start()
        else:
            self.worker.set_paused(False)

    def step(self) -> None:
        if self.worker is None:
            if self.model and self.source and self._pending is None:
                self.start(paused=True)  # shows the first frame
            return
        self.worker.set_paused(True)
        self.worker.step()

    def step_back(self) -> None:
        if self.worker is not None and self.packet is not None and self._seekable():
            self.worker.set_paused(True)
            self.worker.seek(max(0, self.packet.index - 1))

    def seek(self, index: int) -> None:
        if self.worker is not None and self._seekable():
            self.worker.seek(index)

    def reconnect(self) -> None:
        if self.worker is not None:
            self.view.hide_notice()
            self.worker.reconnect()
        else:
            self.start()

    def _seekable(self) -> bool:
        return bool(self.source_info and self.source_info.seekable)

    def _set_loop(self, on: bool) -> None:
        self.transport.loop.setChecked(on)
        self.settings.set("playback/loop", on)
        if self.worker is not None:
            self.worker.set_loop(on)

    def _set_realtime(self, on: bool) -> None:
        self.transport.realtime.setChecked(on)
        self.settings.set("playback/realtime", on)
        if self.worker is not None:
            self.worker.set_realtime(on)

    def _set_hud(self, on: bool) -> None:
        self.settings.set("view/hud", on)
        self.view.hud_enabled = on
        self.view.update()

    def _config_changed(self, config: PostprocessConfig) -> None:
        if self.worker is not None:
            self.worker.set_config(config)

    def _preset_changed(self, preset: str) -> None:
        if self.worker is not None:
            self.worker.set_preset(preset)

    def _view_resized(self, width: int, height: int, ratio: float) -> None:
        if self.worker is not None:
            self.worker.set_view(width, height, ratio)
        if self.packet is not None and self.state != "playing":
            # Paused: the worker sends nothing new, so re-render the frame on screen here.
            self.view.set_image(self.packet.render((width, height), ratio))

    # ======================================================================== outputs
    def snapshot(self) -> Path | None:
        if self.packet is None:
            self.notify("Nothing to save yet: start playing first")
            return None
        try:
            folder = ensure_folder(self.settings.output_dir())
        except OSError as exc:
            self.show_error(f"cannot create the output folder {self.settings.output_dir()}: {exc.strerror or exc}")
            return None
        path = output_path(folder, files.stem_for_output(self.source or "frame"), ".png", self.packet.index)
        self.saver.save(self.packet.annotated(), path)
        return path

    def set_output(self, kind: str, on: bool) -> None:
        action = self.actions_.record if kind == "record" else self.actions_.export
        if not on:
            if self.worker is not None:
                self.worker.stop_output(kind)
            return
        if self.worker is None:
            self._uncheck(action)
            self.notify("Start playing first, then record or export")
            return
        try:
            folder = ensure_folder(self.settings.output_dir())
        except OSError as exc:
            self._uncheck(action)
            self.show_error(f"cannot create the output folder {self.settings.output_dir()}: {exc.strerror or exc}")
            return
        suffix = ".mp4" if kind == "record" else ".jsonl"
        self.worker.start_output(kind, output_path(folder, files.stem_for_output(self.source or "run"), suffix))

    def _uncheck(self, action: Any) -> None:
        action.blockSignals(True)
        action.setChecked(False)
        action.blockSignals(False)

    def _on_output(self, kind: str, on: bool, path: str) -> None:
        action = self.actions_.record if kind == "record" else self.actions_.export
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)
        if kind == "record":
            self.view.set_recording(on)
        what = "Recording" if kind == "record" else "Exporting detections"
        if on:
            self.notify(f"{what} to {path}")
        elif path:
            self.notify(f"{'Recording' if kind == 'record' else 'Detections'} saved: {path}")
        else:
            self.notify(f"{what} stopped: nothing was written")

    # ======================================================================== worker reports
    def _on_frame(self, worker: Worker) -> None:
        packet = worker.slot.take()
        if packet is None or worker is not self.worker:
            return
        self.packet = packet
        self.view.set_image(packet.image)
        self.transport.set_position(packet.index, packet.timestamp)
        self.display_meter.tick()
        self._update_hud()
        self.frameShown.emit(packet.index)

    def _on_state(self, worker: Worker, state: str) -> None:
        if worker is self.worker and state != "stopped":
            self._set_state(state)

    def _on_stats(self, worker: Worker, stats: dict[str, Any]) -> None:
        if worker is not self.worker:
            return
        self._last_stats = stats
        self.stats.update_stats(stats, self.state == "playing")
        self._refresh_rates()

    def _on_model(self, worker: Worker, info: dict[str, Any]) -> None:
        if worker is not self.worker:
            return
        self.model_panel.set_info(info)
        self.class_filter.set_names(info["names"])
        self.backend_label.setText(f"{info['backend']} · {info['precision']} · {info['input_size'][0]}×{info['input_size'][1]}")

    def _on_source(self, worker: Worker, info: SourceInfo) -> None:
        if worker is not self.worker:
            return
        self.source_info = info
        self.transport.set_source(info)
        self._update_actions()

    def _on_error(self, worker: Worker, message: str) -> None:
        self.show_error(message)

    def _on_lost(self, worker: Worker, message: str) -> None:
        if worker is not self.worker:
            return
        name = files.display_name(self.source or "")
        self.view.show_notice(
            f"{name} disconnected", f"{message}. Check that it is plugged in and not used by another program.",
            reconnect=True,
        )
        self.show_error(f"{message}", dialog=False)

    # ======================================================================== state and feedback
    def _set_state(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_label.setText(STATE_TEXT.get(state, state))
        self.actions_.set_playing(state == "playing")
        self.view.set_badge({"paused": "Paused", "ended": "End", "stopped": "Stopped" if self.packet else "",
                             "loading": "Loading…"}.get(state, ""))
        if state in ("playing", "paused", "loading"):
            self.view.hide_notice()
        if state == "ended":
            self.notify("End of the video: Space plays it again, L loops")
        if state in ("stopped", "ended", "paused"):
            self.fps_label.setText("– FPS")
        self._update_hud()
        self._update_actions()
        self._update_title()
        self.stateChanged.emit(state)

    def _refresh_rates(self) -> None:
        playing = self.state == "playing"
        self.stats.set_display_fps(self.display_meter.fps if playing else None)
        if playing and self._last_stats is not None and self._last_stats["fps"] > 0:
            self.fps_label.setText(f"{self._last_stats['fps']:.1f} FPS")

    def _update_hud(self) -> None:
        lines = []
        stats = self._last_stats
        if self.state == "playing" and stats is not None and stats["fps"] > 0:
            lines.append(f"{stats['fps']:.1f} FPS")
        if self.packet is not None:
            n = len(self.packet.detections)
            lines.append(f"{n} detection{'' if n == 1 else 's'}")
        self.view.set_hud(lines)

    def _update_actions(self) -> None:
        a = self.actions_
        running = self.worker is not None
        a.stop.setEnabled(running)
        a.step.setEnabled(bool(self.model and self.source))
        a.step_back.setEnabled(running and self._seekable())
        a.rewind.setEnabled(running and self._seekable())
        a.play.setEnabled(bool(self.model and self.source))
        for action in (a.record, a.export):
            action.setEnabled(running)
        a.snapshot.setEnabled(self.packet is not None or running)

    def _update_pickers(self) -> None:
        self.model_button.setText(Path(self.model).name if self.model else "Open Model…")
        self.model_button.setToolTip(self.model or "Choose the model to run")
        self.source_button.setText(files.display_name(self.source) if self.source else "Open Source…")
        self.source_button.setToolTip(self.source or "Choose a video, camera, folder or stream")
        self._update_actions()
        self._update_title()

    def _update_title(self) -> None:
        parts = [files.display_name(self.source) if self.source else "", Path(self.model).name if self.model else ""]
        detail = " · ".join(p for p in parts if p)
        self.setWindowTitle(f"{detail} — trt-viewer" if detail else "trt-viewer")

    def notify(self, message: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self, message: str, dialog: bool = True) -> None:
        message = message.strip().splitlines()[0] if message.strip() else "unknown error"
        self.last_error = message
        self.statusBar().showMessage(f"Error: {message}", 15000)
        if dialog and not self._closing:
            box = self._error_box
            if box is None:
                # Non-modal and reused: a burst of errors updates one dialog, not a stack.
                box = self._error_box = QMessageBox(QMessageBox.Icon.Warning, "trt-viewer", "", parent=self)
                box.setWindowModality(Qt.WindowModality.NonModal)
            box.setText(message[:1].upper() + message[1:])
            box.show()
        self.errorShown.emit(message)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About trt-viewer",
            f"<b>trt-viewer {__version__}</b><br>Real-time YOLOX detection on TensorRT engines "
            "and ONNX models.<br><br>Apache-2.0",
        )

    # ======================================================================== window
    def set_fullscreen(self, on: bool) -> None:
        if on == self.isFullScreen():
            self.actions_.fullscreen.setChecked(on)
            return
        bars = (self.menuBar(), self.toolbar, self.statusBar(), self.transport)
        if on:
            self._fullscreen_docks = [d for d in self._docks() if d.isVisible()]
            for widget in (*bars, *self._fullscreen_docks):
                widget.hide()
            self.showFullScreen()
        else:
            for widget in (*bars, *self._fullscreen_docks):
                widget.show()
            self.showNormal()
        self.actions_.fullscreen.setChecked(on)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            # Default proportions; only once laid out do the docks have heights to share.
            self._docks_sized = True
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        self.resizeDocks([self.detection_dock], [350], Qt.Orientation.Horizontal)
        self.resizeDocks([self.detection_dock], [self.detection.sizeHint().height()], Qt.Orientation.Vertical)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() and any(u.isLocalFile() for u in mime.urls()) or (
            mime.hasText() and files.is_stream(mime.text())
        ):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        mime = event.mimeData()
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if not paths and mime.hasText() and files.is_stream(mime.text()):
            self.set_source(mime.text().strip(), start=True)
        elif paths:
            self.open_paths(paths)
        event.acceptProposedAction()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.WindowStateChange and not self.isFullScreen():
            if self.actions_.fullscreen.isChecked():
                self.set_fullscreen(False)

    def shutdown(self, timeout_ms: int = CLOSE_WAIT_MS) -> bool:
        """Stop every worker and join them; True if all finished within timeout_ms."""
        self._closing = True
        self._pending = None
        if self.worker is not None:
            self._retire(self.worker)
        for worker in list(self._retiring):
            worker.stop()
        ok = True
        deadline = time.monotonic() + timeout_ms / 1000
        for worker in list(self._retiring):
            left = max(0, int((deadline - time.monotonic()) * 1000))
            ok = worker.wait(left) and ok
        self.saver.wait()
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:
        self.set_fullscreen(False)
        self.settings.set("detect/conf", self.detection.config().conf)
        self.settings.set("detect/nms", self.detection.config().nms)
        self.settings.set("detect/agnostic", self.detection.config().agnostic)
        self.settings.set("detect/preset", self.detection.preset_name())
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.sync()
        if not self.shutdown():
            # A backend call that will not return (a hung driver): the window goes, and
            # the process exits once the thread does; terminate() is never used.
            self.hide()
            for worker in self._retiring:
                worker.finished.connect(self.close)
            event.ignore()
            return
        event.accept()
