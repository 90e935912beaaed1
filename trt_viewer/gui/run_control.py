"""The run behind the window: one Worker at a time, started, commanded and retired.

A new run retires the running worker and starts once the old one has finished, so two
never share the GPU or the camera. Only the current worker's reports are passed on, and
it is the single place where the window's state comes from.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.gui.worker import Worker
from trt_viewer.run.session import RunSpec, SourceInfo
from trt_viewer.run.tracking import TrackingOptions

if TYPE_CHECKING:
    from trt_viewer.gui.frames import FramePacket

CLOSE_WAIT_MS = 1000
NOT_CHOSEN = "choose a model and a source first (Ctrl+O)"
WorkerFactory = Callable[[RunSpec], Worker]


class RunControl(QObject):
    """Starts and retires workers and forwards the window's commands to the current one.

    make_spec(paused) gives the next run's RunSpec, or None while the model or the source
    is not chosen; view_size() the view's size in device pixels and its ratio.
    """

    stateChanged = Signal(str)  # loading, playing, paused, ended, lost, stopped; only on a change
    restarting = Signal()  # a start or reconnect was asked for: the last run's notices no longer apply
    launched = Signal()  # a new worker is about to start: per-run figures start again
    idle = Signal()  # a worker finished and none runs now
    frameReady = Signal(object)  # FramePacket, the newest of the current run
    statsReady = Signal(object)  # dict
    modelReady = Signal(object)  # dict of model info
    sourceReady = Signal(object)  # SourceInfo
    sourceLost = Signal(str)
    reconnecting = Signal(float, str)  # seconds to the next automatic reconnect (-1: none planned), why the last failed
    error = Signal(str)  # from any worker, or a command that cannot be done
    outputChanged = Signal(str, bool, str)  # kind, on, path; from any worker
    decodingNote = Signal(str, bool)  # the current run's: why its decoder is not the one chosen, warn or not

    def __init__(self, make_spec: Callable[[bool], RunSpec | None], view_size: Callable[[], tuple[int, int, float]],
                 worker_factory: WorkerFactory = Worker, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make_spec = make_spec
        self._view_size = view_size
        self._factory = worker_factory
        self.worker: Worker | None = None
        self.state = "stopped"
        self._packet: FramePacket | None = None  # the last frame shown; it stays after the run
        self.source_info: SourceInfo | None = None  # the current run's, once it reports it
        self._source: str | None = None  # the source of the last run launched
        self._retiring: list[Worker] = []
        self._pending: RunSpec | None = None
        self._closing = False

    @property
    def packet(self) -> FramePacket | None:
        """The last frame shown; it stays after the run."""
        return self._packet

    @packet.setter
    def packet(self, packet: FramePacket | None) -> None:
        old, self._packet = self._packet, packet
        if old is not None and old is not packet:
            old.release()  # a frame it held on the GPU goes back to its decoder

    @property
    def busy(self) -> bool:
        """A run is going or waiting for the last one to finish."""
        return self.worker is not None or self._pending is not None

    @property
    def seekable(self) -> bool:
        return bool(self.source_info and self.source_info.seekable)

    # ======================================================================== lifecycle
    def start(self, paused: bool = False) -> None:
        """(Re)start on the chosen model and source."""
        spec = self._make_spec(paused)
        if spec is None:
            self.error.emit(NOT_CHOSEN)
            return
        self._start(spec)

    def _start(self, spec: RunSpec) -> None:
        self.restarting.emit()
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
        if spec.source != self._source:
            self.packet = None  # another source's last frame says nothing about this one
        self._source = spec.source
        on = functools.partial
        worker.frameReady.connect(on(self._on_frame, worker))
        worker.stateChanged.connect(on(self._on_state, worker))
        worker.statsReady.connect(on(self._on_stats, worker))
        worker.modelReady.connect(on(self._on_model, worker))
        worker.sourceReady.connect(on(self._on_source, worker))
        worker.error.connect(self.error)
        worker.sourceLost.connect(on(self._on_lost, worker))
        worker.reconnecting.connect(on(self._on_reconnecting, worker))
        worker.outputChanged.connect(self.outputChanged)
        worker.decodingNote.connect(on(self._on_decoding_note, worker))
        worker.finished.connect(on(self._on_finished, worker))
        worker.set_view(*self._view_size())
        self.worker = worker
        self.source_info = None  # until this run reports its own
        self.launched.emit()
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
                       worker.sourceReady, worker.error, worker.sourceLost, worker.reconnecting,
                       worker.outputChanged, worker.decodingNote, worker.finished):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        if worker in self._retiring:
            self._retiring.remove(worker)
        if worker is self.worker:
            self.worker = None
            if self.source_info is None:
                self.packet = None  # the run never opened its source: the frame on screen is not of it
            self._set_state("stopped")
        if self.worker is None:
            self.idle.emit()
        if self._pending is not None and not self._retiring:
            self._launch_pending()

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
        return ok

    def when_retired(self, callback: Callable[[], object]) -> None:
        """Call back as each worker still being retired finishes (a close that had to wait)."""
        for worker in self._retiring:
            worker.finished.connect(callback)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

    # ======================================================================== commands
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
            spec = self._make_spec(True) if self._pending is None else None
            if spec is not None:
                self._start(spec)  # starts paused on the first frame
            return
        self.worker.set_paused(True)
        self.worker.step()

    def step_back(self) -> None:
        if self.worker is not None and self.seekable:
            self.worker.step_back()  # the player knows the frame on screen

    def seek(self, index: int) -> None:
        if self.worker is not None and self.seekable:
            self.worker.seek(index)

    def reconnect(self) -> None:
        if self.worker is not None:
            self.restarting.emit()
            self.worker.reconnect()
        else:
            self.start()

    def cancel_reconnect(self) -> None:
        """No more automatic reconnects of the lost source (reconnect() still works)."""
        if self.worker is not None:
            self.worker.cancel_reconnect()

    def set_loop(self, on: bool) -> None:
        if self.worker is not None:
            self.worker.set_loop(on)

    def set_realtime(self, on: bool) -> None:
        if self.worker is not None:
            self.worker.set_realtime(on)

    def set_image_seconds(self, seconds: float) -> None:
        """How long each image of a folder stays while playing (0: pause on each); a new
        run gets it in its RunSpec."""
        if self.worker is not None:
            self.worker.set_image_seconds(seconds)

    def set_config(self, config: PostprocessConfig) -> None:
        if self.worker is not None:
            self.worker.set_config(config)

    def set_preset(self, preset: str) -> None:
        if self.worker is not None:
            self.worker.set_preset(preset)

    def set_tracking(self, options: TrackingOptions | None) -> None:
        """Track (and count) with these options from the run's next frame; None: stop
        tracking. A new run gets them in its RunSpec."""
        if self.worker is not None:
            self.worker.set_tracking(options)

    def set_view(self, width: int, height: int, ratio: float) -> None:
        if self.worker is not None:
            self.worker.set_view(width, height, ratio)

    def start_output(self, kind: str, path: Path) -> bool:
        """False when nothing runs to write it."""
        if self.worker is None:
            return False
        self.worker.start_output(kind, path)
        return True

    def stop_output(self, kind: str) -> None:
        if self.worker is not None:
            self.worker.stop_output(kind)

    # ======================================================================== worker reports
    def _on_frame(self, worker: Worker) -> None:
        packet = worker.slot.take()
        if packet is None:
            return
        if worker is not self.worker:
            packet.release()
            return
        self.packet = packet
        self.frameReady.emit(packet)

    def _on_state(self, worker: Worker, state: str) -> None:
        if worker is self.worker and state != "stopped":
            self._set_state(state)

    def _on_stats(self, worker: Worker, stats: dict[str, Any]) -> None:
        if worker is self.worker:
            self.statsReady.emit(stats)

    def _on_model(self, worker: Worker, info: dict[str, Any]) -> None:
        if worker is self.worker:
            self.modelReady.emit(info)

    def _on_source(self, worker: Worker, info: SourceInfo) -> None:
        if worker is self.worker:
            self.source_info = info
            self.sourceReady.emit(info)

    def _on_lost(self, worker: Worker, message: str) -> None:
        if worker is self.worker:
            self.sourceLost.emit(message)

    def _on_reconnecting(self, worker: Worker, seconds: float, reason: str) -> None:
        if worker is self.worker:
            self.reconnecting.emit(seconds, reason)

    def _on_decoding_note(self, worker: Worker, line: str, warning: bool) -> None:
        if worker is self.worker:
            self.decodingNote.emit(line, warning)
