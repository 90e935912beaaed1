"""The QThread that owns one run: backend, source reader, detector, outputs.

The backend is created, used and closed in this thread (a CUDA context belongs to the
thread that made it). The GUI never waits on it: it sends commands through Controls and
takes the newest frame from a LatestSlot when frameReady says one is there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QThread, Signal

from trt_viewer.backends import open_backend
from trt_viewer.core.detections import Detections
from trt_viewer.core.detector import Detector
from trt_viewer.core.outputs import frame_record
from trt_viewer.core.pipeline import FrameReader, InFlight, Result
from trt_viewer.core.sources import Frame, Source, open_source
from trt_viewer.core.stats import FpsMeter, StageStats
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.gui.control import Controls
from trt_viewer.gui.files import display_name
from trt_viewer.gui.frames import FramePacket, LatestSlot, render
from trt_viewer.run.opening import open_cancellable
from trt_viewer.errors import first_line
from trt_viewer.gui.recording import Outputs
from trt_viewer.run.session import RunSpec, SourceInfo, model_info, source_info

STATS_EVERY_S = 0.5
IDLE_WAIT_S = 0.25  # paused: how long to sleep between looks at the controls
CATCH_UP_S = 0.5  # real-time playback this far behind starts a new clock instead of rushing
STATS_WINDOW = 600  # frames: the stats panel describes the last few seconds, not the run


class Worker(QThread):
    modelReady = Signal(object)  # dict: model_info()
    sourceReady = Signal(object)  # SourceInfo
    frameReady = Signal()  # the slot went from empty to full: take() it
    stateChanged = Signal(str)  # loading, playing, paused, ended, lost, stopped
    statsReady = Signal(object)  # dict, a few times a second
    error = Signal(str)  # one line; the state says whether the run went on
    sourceLost = Signal(str)  # a live source stopped giving frames
    outputChanged = Signal(str, bool, str)  # kind (record/export), on, path

    def __init__(
        self,
        spec: RunSpec,
        *,
        backend_opener: Callable[..., Any] = open_backend,
        source_opener: Callable[[str], Source] = open_source,
        parent: Any = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trt-viewer-worker")
        self.spec = spec
        self.slot: LatestSlot[FramePacket] = LatestSlot()
        self.controls = Controls(
            paused=spec.start_paused, loop=spec.loop, realtime=spec.realtime,
            config=spec.config, preset=spec.preset,
            steps=1 if spec.start_paused else 0,  # starting paused still shows the first frame
        )
        self._backend_opener = backend_opener
        self._source_opener = source_opener
        self._reader: FrameReader | None = None
        self._state = ""
        self.processed = 0  # frames inferred in this run, for tests and the summary

    # -- commands, from any thread --------------------------------------------------------
    def stop(self) -> None:
        self.controls.update(stop=True)
        reader = self._reader
        if reader is not None:
            reader.stop()  # unblocks a get() waiting on a camera

    def set_paused(self, paused: bool) -> None:
        self.controls.update(paused=paused)

    def step(self) -> None:
        self.controls.add_step()

    def seek(self, index: int) -> None:
        self.controls.update(seek=max(0, int(index)))

    def reconnect(self) -> None:
        self.controls.update(reconnect=True)

    def set_loop(self, loop: bool) -> None:
        self.controls.update(loop=loop)

    def set_realtime(self, realtime: bool) -> None:
        self.controls.update(realtime=realtime)

    def set_config(self, config: PostprocessConfig) -> None:
        self.controls.update(config=config, refresh=True)

    def set_preset(self, preset: str) -> None:
        self.controls.update(preset=preset, refresh=True)

    def set_view(self, width: int, height: int, ratio: float) -> None:
        self.controls.update(view=(width, height, ratio))

    def start_output(self, kind: str, path: Path) -> None:
        self.controls.request_output(kind, path)

    def stop_output(self, kind: str) -> None:
        self.controls.request_output(kind, None)

    # -- the thread -----------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    def _stopping(self) -> bool:
        return self.controls.stop

    def run(self) -> None:
        backend = None
        outputs = Outputs(self.outputChanged.emit, self.error.emit)
        try:
            self._set_state("loading")
            backend = self._backend_opener(self.spec.model, self.spec.input_size)
            detector = Detector(backend, preset=self.controls.preset, config=self.controls.config)
            self.modelReady.emit(model_info(backend, detector))
            if not self._stopping():
                run = _Run(self, detector, outputs)
                try:
                    run.play()
                finally:
                    run.discard_in_flight()  # the backend is done with every buffer before closing
                    run._emit_stats(force=True)  # the panel ends on the run's final counts
        except Exception as exc:  # everything the user must hear about ends up here
            self.error.emit(first_line(exc, typed=True))
        finally:
            try:
                outputs.close()
                reader, self._reader = self._reader, None
                if reader is not None:
                    reader.close(timeout=0.2)
            finally:
                if backend is not None:
                    try:
                        backend.close()
                    except Exception as exc:
                        self.error.emit(first_line(exc, typed=True))
                self._set_state("stopped")


class _Run:
    """The playing loop of one worker, on the worker's thread; split out to keep state
    that only this thread touches away from the command methods."""

    def __init__(self, worker: Worker, detector: Detector, outputs: Outputs) -> None:
        self.w = worker
        self.ctl = worker.controls
        self.detector = detector
        self.outputs = outputs
        self.names = list(detector.names)
        self.info: SourceInfo | None = None
        self.stats = StageStats(window=STATS_WINDOW)
        self.meter = FpsMeter()
        self.preset = self.ctl.preset
        self.dropped_before = 0  # drops counted by readers already replaced
        self.totals: dict[str, int] = {}
        self.current: tuple[Frame, Detections] | None = None
        self.last_stats = 0.0
        self.clock: tuple[float, float] | None = None  # (wall time, frame timestamp)
        self.layout_reported = False
        self.flight: InFlight | None = None  # frames of the current reader in the backend

    # -- source and reader ----------------------------------------------------------------
    def _open(self, index: int = 0) -> FrameReader | None:
        source = open_cancellable(self.w._source_opener, self.w.spec.source, self.w._stopping)
        if source is None:
            return None
        try:
            if index > 0 and source.seekable:
                source.seek(min(index, (source.length or index + 1) - 1))
            reader = FrameReader(source, self.detector)
        except BaseException:
            source.close()
            raise
        self.flight = InFlight(self.detector, reader)
        if self.info is None:
            self.info = source_info(source)
            self.w.sourceReady.emit(self.info)
        self.w._reader = reader
        reader.start()
        if self._stopping():
            reader.stop()
        return reader

    def discard_in_flight(self) -> None:
        if self.flight is not None:
            self.flight.discard()

    def _finish_in_flight(self) -> None:
        while self.flight:
            self._show(self.flight.finish())

    def _reopen(self, reader: FrameReader | None, index: int) -> FrameReader | None:
        self.discard_in_flight()
        if reader is not None:
            self.dropped_before += reader.dropped
            self.w._reader = None
            reader.close(timeout=0.5)
        self.clock = None
        return self._open(index)

    def _stopping(self) -> bool:
        return self.ctl.stop

    # -- the loop -------------------------------------------------------------------------
    def play(self) -> None:
        ctl = self.ctl
        reader = self._open()
        if reader is None:
            return
        assert self.info is not None
        state = "paused" if ctl.paused else "playing"
        self.w._set_state(state)
        played_since_open = 0
        while True:
            with ctl.cond:
                if ctl.stop:
                    return
                generation = ctl.generation
                seek, ctl.seek = ctl.seek, None
                reconnect, ctl.reconnect = ctl.reconnect, False
                refresh, ctl.refresh = ctl.refresh, False
                requests, ctl.outputs = ctl.outputs, {}
                paused = ctl.paused
                step = ctl.steps > 0 and paused
                if step:
                    ctl.steps -= 1
                elif not paused:
                    ctl.steps = 0
            if requests:
                self.outputs.apply(requests, self.info.fps)
            if self.preset != ctl.preset:
                self.preset = ctl.preset
                self.detector.set_preset(self.preset)
            self.detector.config = ctl.config  # sliders apply from the next frame decoded

            if seek is not None and self.info.seekable:
                reader = self._reopen(reader, seek)
                if reader is None:
                    return
                played_since_open = 0
                state = "paused" if paused else "playing"
                step = step or paused  # show the frame sought to
            elif reconnect and state == "lost":
                reader = self._reconnect(reader)
                if reader is None:
                    continue
                state = "paused" if paused else "playing"
            elif state in ("ended", "lost") and not paused and not step:
                if state == "ended":  # play after the end: start again
                    reader = self._reopen(reader, 0)
                    if reader is None:
                        return
                    played_since_open = 0
                    state = "playing"
            if state in ("ended", "lost"):
                self.w._set_state(state)
                ctl.wait(generation, IDLE_WAIT_S)
                continue
            if paused and not step:
                self._finish_in_flight()  # frames read before the pause are still shown
                self.w._set_state("paused")
                self.clock = None
                if refresh:
                    self._redo()
                ctl.wait(generation, IDLE_WAIT_S)
                continue
            if reader is None:  # a reconnect failed: nothing to read until the next one
                state = "lost"
                continue
            self.w._set_state("paused" if paused else "playing")

            # Frames in flight: the next frame is submitted before this one is decoded and
            # drawn, as in core.pipeline.Pipeline; a live source is never held back for it.
            flight = self.flight
            assert flight is not None
            if flight and (flight.full or paused or not reader.ready()):
                self._show(flight.finish())
                continue
            try:
                item = reader.get()
            except BaseException:
                self._finish_in_flight()  # frames read before the error
                raise
            if item is None:
                self._finish_in_flight()
                if self._stopping():
                    return
                if self.info.live:
                    state = "lost"
                    self.w.sourceLost.emit(f"{_what(self.info)} stopped sending frames")
                elif ctl.loop and played_since_open > 0:
                    reader = self._reopen(reader, 0)
                    if reader is None:
                        return
                    played_since_open = 0
                    continue
                else:
                    state = "ended"
                    ctl.update(paused=True)
                self._emit_stats(force=True)
                continue
            flight.submit(item)
            played_since_open += 1

    def _reconnect(self, reader: FrameReader | None) -> FrameReader | None:
        self.w._set_state("loading")
        try:
            return self._reopen(reader, 0)
        except Exception as exc:
            self.w.error.emit(first_line(exc, typed=True))
            self.w._set_state("lost")
            self.w._reader = None
            return None

    def _pace(self, timestamp: float) -> None:
        """Hold a file to its own frame rate, waking early for any command."""
        now = time.perf_counter()
        if self.clock is None:
            self.clock = (now, timestamp)
            return
        due = self.clock[0] + (timestamp - self.clock[1])
        if due - now > CATCH_UP_S or now - due > CATCH_UP_S:
            self.clock = (now, timestamp)  # seeked, looped or fell behind
            return
        generation = self.ctl.generation
        while not self.ctl.stop and (left := due - time.perf_counter()) > 0:
            self.ctl.wait(generation, left)
            if self.ctl.generation != generation:
                if self.ctl.seek is not None or self.ctl.paused or self.ctl.stop:
                    return
                generation = self.ctl.generation

    # -- one frame ------------------------------------------------------------------------
    def _show(self, result: Result) -> None:
        self.stats.add_all(result.timings)
        self.meter.tick()
        self.w.processed += 1
        self._count(result.detections)
        self._publish(result.frame, result.detections)
        if not self.layout_reported:
            self.layout_reported = True  # raw or decoded is only known after one frame
            self.w.modelReady.emit(model_info(self.detector.backend, self.detector))
        self._emit_stats()
        if self.ctl.realtime and self.info is not None and not self.info.live and not self.ctl.paused:
            self._pace(result.frame.timestamp)

    def _redo(self) -> None:
        """Settings changed while paused: run the frame on screen again, so a slider
        shows its effect at once."""
        if self.current is None:
            return
        frame = self.current[0]
        self.detector.config = self.ctl.config
        self.detector.set_preset(self.preset)
        detections = self.detector.detect(frame.image)
        self._publish(frame, detections, record=False)

    def _publish(self, frame: Frame, detections: Detections, record: bool = True) -> None:
        t0 = time.perf_counter()
        width, height, ratio = self.ctl.view
        box = (width, height) if width > 0 and height > 0 else None
        image = render(frame.image, detections, self.names, box, ratio)
        self.stats.add("draw", time.perf_counter() - t0)
        labels = [self.detector.label(int(c)) for c in detections.class_ids]
        packet = FramePacket(image, frame.image, self.names, frame.index, frame.name, frame.timestamp,
                             detections, labels)
        self.current = (frame, detections)
        if self.w.slot.put(packet):
            self.w.frameReady.emit()
        if record and self.outputs.active:
            # drawn full size in the recorder's own thread, not here
            self.outputs.write(packet.annotated, lambda: frame_record(
                frame.index, frame.name, frame.image.shape[:2], detections, self.names))

    def _count(self, detections: Detections) -> None:
        for cid in detections.class_ids:
            label = self.detector.label(int(cid))
            self.totals[label] = self.totals.get(label, 0) + 1

    def _emit_stats(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last_stats < STATS_EVERY_S:
            return
        self.last_stats = now
        reader = self.w._reader
        frame_counts: dict[str, int] = {}
        if self.current is not None:
            for cid in self.current[1].class_ids:
                label = self.detector.label(int(cid))
                frame_counts[label] = frame_counts.get(label, 0) + 1
        self.w.statsReady.emit({
            "fps": self.meter.fps,
            "frames": self.w.processed,
            "dropped": self.dropped_before + (reader.dropped if reader else 0),
            "not_shown": self.w.slot.replaced,
            "stages": self.stats.summary(),
            "frame_counts": frame_counts,
            "totals": dict(self.totals),
        })


def _what(info: SourceInfo) -> str:
    return display_name(info.spec)

