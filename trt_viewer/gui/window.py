"""The main window: wires pickers, panels and actions to one Worker at a time.

It holds no pipeline logic: it builds a RunSpec, starts a Worker, forwards commands to it
and shows what it reports. A new model or source retires the running worker and starts
the next one once the old has finished, so two never share the GPU or the camera.

How it is put together (layout), how a model and source are chosen (choosing) and what it
tells the user (feedback) are mixins; this module keeps the run and the window's events.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox

from trt_viewer.core.stats import FpsMeter
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.gui import files
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.cameras import CameraList
from trt_viewer.gui.choosing import ChoosingMixin
from trt_viewer.gui.feedback import FeedbackMixin
from trt_viewer.gui.frames import FramePacket
from trt_viewer.gui.layout import LayoutMixin
from trt_viewer.gui.saving import ImageSaver, ensure_folder, output_path
from trt_viewer.run.session import RunSpec, SourceInfo
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.worker import Worker

CLOSE_WAIT_MS = 1000
WorkerFactory = Callable[[RunSpec], Worker]


class MainWindow(LayoutMixin, ChoosingMixin, FeedbackMixin, QMainWindow):
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


    # ======================================================================== window
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._docks_sized:
            # Default proportions; only once laid out do the docks have heights to share.
            self._docks_sized = True
            QTimer.singleShot(0, self._size_docks)

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
