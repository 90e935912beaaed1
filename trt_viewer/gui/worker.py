"""The QThread of one run: it runs a Player and turns its reports into signals.

The backend is created, used and closed in this thread (a CUDA context belongs to the
thread that made it). The window never waits on it: commands go straight to the player
(thread-safe), and the newest frame, already scaled to the view, waits in a LatestSlot
until the window takes it when frameReady says one is there.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from trt_viewer.backends import open_backend
from trt_viewer.core.drawing import DEFAULT_STYLE, DrawStyle
from trt_viewer.core.sources import Source
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import first_line
from trt_viewer.gui.decoding import decoding_notes
from trt_viewer.gui.frames import FramePacket, LatestSlot
from trt_viewer.gui.recording import Outputs
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions, RunStats, State
from trt_viewer.run.session import RunSpec, SourceInfo
from trt_viewer.run.tracking import TrackingOptions


class Worker(QThread):
    modelReady = Signal(object)  # dict: session.model_info(), once per run
    sourceReady = Signal(object)  # SourceInfo
    frameReady = Signal()  # the slot went from empty to full: take() it
    stateChanged = Signal(str)  # a State's value
    statsReady = Signal(object)  # dict: RunStats' fields and not_shown, a few times a second
    error = Signal(str)  # one line; the state says whether the run went on
    sourceLost = Signal(str)  # a live source stopped giving frames
    reconnecting = Signal(float, str)  # seconds to the next automatic reconnect (-1: none planned), why the last failed
    outputChanged = Signal(str, bool, str)  # kind (record/export), on, path
    decodingNote = Signal(str, bool)  # why the decoder chosen was not the one used (one line), and whether to warn

    def __init__(self, spec: RunSpec, *, backend_opener: Callable[..., Any] = open_backend,
                 source_opener: Callable[[str], Source] | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("trt-viewer-worker")
        self.spec = spec
        self.slot: LatestSlot[FramePacket] = LatestSlot(drop=FramePacket.release)
        self._backend_opener = backend_opener
        self._source_opener = source_opener  # None: the decoder spec.decode names (tests pass their own sources)
        self._view = (0, 0, 1.0)  # the view's size in device pixels, and its pixel ratio
        self._style = DEFAULT_STYLE  # how boxes and labels are drawn: the view, snapshots, recordings
        self._reports = _Reports(self)
        # pixels="view": a frame decoded on the GPU stays there, held by the packet on
        # screen; the view gets it scaled on the GPU (FramePacket.of).
        options = PlayOptions(paused=spec.start_paused, loop=spec.loop, realtime=spec.realtime,
                              image_seconds=spec.image_seconds, tracking=spec.tracking, decode=spec.decode,
                              pixels="view")
        self.player = Player(self._reports, options, config=spec.config, preset=spec.preset)
        self.outputs = Outputs(self.outputChanged.emit, self.error.emit)

    @property
    def processed(self) -> int:
        """Frames inferred in this run."""
        return self.player.frames

    # -- commands, from any thread ----------------------------------------------------------
    def stop(self) -> None:
        self.player.stop()

    def set_paused(self, paused: bool) -> None:
        self.player.set_paused(paused)

    def step(self) -> None:
        self.player.step()

    def step_back(self) -> None:
        self.player.step_back()

    def seek(self, index: int) -> None:
        self.player.seek(index)

    def reconnect(self) -> None:
        self.player.reconnect()

    def cancel_reconnect(self) -> None:
        self.player.cancel_reconnect()

    def set_image_seconds(self, seconds: float) -> None:
        self.player.set_image_seconds(seconds)

    def set_tracking(self, options: TrackingOptions | None) -> None:
        self.player.set_tracking(options)

    def set_loop(self, loop: bool) -> None:
        self.player.set_loop(loop)

    def set_realtime(self, realtime: bool) -> None:
        self.player.set_realtime(realtime)

    def set_config(self, config: PostprocessConfig) -> None:
        self.player.set_config(config)

    def set_preset(self, preset: str) -> None:
        self.player.set_preset(preset)

    def set_view(self, width: int, height: int, ratio: float) -> None:
        self._view = (width, height, ratio)

    def set_style(self, style: DrawStyle) -> None:
        self._style = style
        self.player.call_soon(lambda: self.outputs.set_style(style))

    def start_output(self, kind: str, path: Path) -> None:
        self.player.call_soon(lambda: self._start_output(kind, path))

    def _start_output(self, kind: str, path: Path) -> None:
        self.outputs.start(kind, path, self._names(), self._fps(), self._style)
        current = self.player.current
        if current is not None and self.player.state in (State.PAUSED, State.ENDED):
            self.outputs.write(current)  # started while paused: the frame on screen comes first

    def stop_output(self, kind: str) -> None:
        self.player.call_soon(lambda: self.outputs.stop(kind))

    # -- the thread -------------------------------------------------------------------------
    def run(self) -> None:
        try:
            with decoding_notes(self.spec.source, self.decodingNote.emit):
                self.player.run(self._open_detector, self.spec.source, self._source_opener)
        except Exception as exc:  # everything the user must hear about ends up here
            self.error.emit(first_line(exc, typed=True))
        finally:
            self.outputs.close()

    @contextmanager
    def _open_detector(self) -> Iterator[Detector]:
        with self._backend_opener(self.spec.model, self.spec.input_size) as backend:
            yield Detector(backend, preset=self.spec.preset, config=self.spec.config, names_file=self.spec.names_file)

    def _names(self) -> list[str]:
        detector = self.player.detector
        return list(detector.names) if detector is not None else []

    def _fps(self) -> float | None:
        info = self.player.source_info
        return info.fps if info is not None else None

    def publish(self, result: Result, record: bool) -> None:
        """Scale the frame to the view, draw its boxes, and leave it in the slot."""
        t0 = time.perf_counter()
        detector = self.player.detector
        labels = [detector.label(int(c)) for c in result.detections.class_ids] if detector is not None else []
        overlay = result.overlay
        current = self.player.current
        if overlay is None and not record and current is not None:
            overlay = current.overlay  # a paused frame done again keeps its trails, lines and zones
        packet = FramePacket.of(result.frame, result.detections, self._names(), labels, self._view, self._style,
                                overlay)
        result.timings["draw"] = time.perf_counter() - t0
        if self.slot.put(packet):
            self.frameReady.emit()
        if record:
            self.outputs.write(result)  # drawn full size in the recorders' own threads


class _Reports(Listener):
    """The player's reports as the worker's signals (a QThread cannot be the Listener
    itself: `error` and `result` would clash with its signals)."""

    def __init__(self, worker: Worker) -> None:
        self.w = worker

    def state_changed(self, state: State) -> None:
        self.w.stateChanged.emit(state.value)

    def model_described(self, info: dict[str, Any]) -> None:
        self.w.modelReady.emit(info)

    def source_opened(self, info: SourceInfo) -> None:
        self.w.sourceReady.emit(info)

    def result(self, result: Result) -> None:
        self.w.publish(result, record=True)

    def redone(self, result: Result) -> None:
        self.w.publish(result, record=False)

    def stats(self, stats: RunStats) -> None:
        self.w.statsReady.emit({**dataclasses.asdict(stats), "not_shown": self.w.slot.replaced})

    def source_lost(self, message: str) -> None:
        self.w.sourceLost.emit(message)

    def reconnecting(self, seconds: float | None, reason: str) -> None:
        self.w.reconnecting.emit(-1.0 if seconds is None else seconds, reason)

    def error(self, message: str) -> None:
        self.w.error.emit(message)
