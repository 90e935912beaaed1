"""The ways of running a model over frames, each timing every stage of every frame.

- decode alone: every frame read from the source and nothing else (the decoder's ceiling);
- model alone: back-to-back inference on inputs letterboxed beforehand (the ceiling);
- sequential: read, letterbox, infer, decode + per-class NMS, draw (and QImage), one after
  another in one thread, as the YOLOX demos do;
- pipeline: trt_viewer's own: run.player.Player (reader thread, in-order inference,
  frames in flight) with drawing in a BackgroundSink, as `trt-viewer run` does.

All three use the same opened backend and Detector, so they differ only in how the work
is arranged. Times are seconds; the first `warmup` frames run but are not recorded.
`draw=False` leaves drawing (and the QImage) out of the sequential loop and the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trt_viewer.core.drawing import draw_detections
from trt_viewer.core.sources import Frame, Source
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions
from trt_viewer.run.sink import BackgroundSink

Display = Callable[[np.ndarray], Any]


@dataclass
class Run:
    mode: str
    frames: int = 0
    seconds: float = 0.0
    samples: list[dict[str, float]] = field(default_factory=list)
    cpu_seconds: float = 0.0  # CPU time of the whole process (every thread) over the timed frames
    downloads: int = 0  # frames a decoder on the GPU copied to the host

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _show(detector: Detector, image: np.ndarray, result: Any, display: Display | None) -> dict[str, float]:
    """Draw on the frame itself, as `trt-viewer run` and the YOLOX demos do (the viewer
    draws on a copy: one more frame copy), and convert it for Qt, timing both."""
    t0 = time.perf_counter()
    annotated = draw_detections(image, result, detector.names)
    t1 = time.perf_counter()
    times = {"draw": t1 - t0}
    if display is not None:
        display(annotated)
        times["qimage"] = time.perf_counter() - t1
    return times


class _Clock:
    """Wall and CPU time from the end of the warm-up to the last timed frame done.

    It stops at that frame (mark()), not when the run returns: closing the source (a
    decoder process ending, NVDEC's thread joined) and the player's teardown are not
    frames, and on the H200 they were 0.1-0.2 s of a 2 s run (docs/performance.md)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        self.start, self.cpu = time.perf_counter(), time.process_time()
        self.end, self.cpu_end = self.start, self.cpu

    def mark(self) -> None:
        """A timed frame is done: the run lasts at least until now."""
        now, cpu = time.perf_counter(), time.process_time()
        if now > self.end:  # a sink's thread and the player's may both mark
            self.end, self.cpu_end = now, cpu

    def stop(self, run: Run, source: Source | None = None) -> None:
        """The run's wall and CPU time, the source's frames to the host; the source closed."""
        run.seconds, run.cpu_seconds = self.end - self.start, self.cpu_end - self.cpu
        if source is not None:
            run.downloads = source.downloads
            source.close()


def _read(source: Source, frames: int, warmup: int, clock: _Clock) -> Iterator[tuple[bool, Frame, float]]:
    """Each frame read, whether it is past the warm-up, and when its read began; the clock
    restarts where the warm-up ends."""
    for n in range(warmup + frames):
        if n == warmup:
            clock.restart()
        t0 = time.perf_counter()
        frame = source.read()
        if frame is None:
            return
        yield n >= warmup, frame, t0


def decode_alone(source: Source, frames: int, warmup: int) -> Run:
    """Every frame read, nothing done with it: what the source can give at most."""
    run = Run("decode")
    clock = _Clock()
    try:
        for timed, frame, t0 in _read(source, frames, warmup, clock):
            frame.settle(False)  # a decoder process's slot goes back; nothing copied
            if timed:
                run.samples.append({"read": time.perf_counter() - t0})
                clock.mark()
    finally:
        clock.stop(run, source)
    run.frames = len(run.samples)
    return run


def model_alone(detector: Detector, images: list[np.ndarray], frames: int, warmup: int) -> Run:
    """Inference only, on input tensors letterboxed (on the CPU) before the clock starts."""
    backend = detector.backend
    buffers = []
    for image in images[:4]:
        buf = backend.allocate_input()  # an input tensor, letterboxed on the CPU here
        buf.fill(image, detector.preset)
        buffers.append(buf)
    run = Run("model")
    for i in range(warmup):
        backend.infer(buffers[i % len(buffers)])
    start = time.perf_counter()
    for i in range(frames):
        t0 = time.perf_counter()
        backend.infer(buffers[i % len(buffers)])
        sample = {"infer": time.perf_counter() - t0}
        sample.update(detector.last_timings)
        run.samples.append(sample)
    run.seconds = time.perf_counter() - start
    run.frames = frames
    return run


def sequential(detector: Detector, source: Source, frames: int, warmup: int, display: Display | None,
               draw: bool = True) -> Run:
    """One frame at a time, every stage in this thread."""
    run = Run("sequential")
    buffer = detector.allocate_input()  # a raw-frame buffer where the GPU letterboxes
    clock = _Clock()
    try:
        for timed, frame, t0 in _read(source, frames, warmup, clock):
            t1 = time.perf_counter()
            ratio = detector.preprocess_frame(frame, buffer)
            t2 = time.perf_counter()
            outputs = detector.infer(buffer)
            t3 = time.perf_counter()
            found = detector.postprocess(outputs, ratio, frame.hw)
            t4 = time.perf_counter()
            sample = {"read": t1 - t0, "preprocess": t2 - t1, "infer": t3 - t2, "postprocess": t4 - t3}
            sample.update(detector.last_timings)
            if draw:  # on the decoder's own memory where it lends it: nothing else reads it
                sample.update(_show(detector, frame.host_image(), found, display))
            frame.settle(False)
            if timed:
                run.samples.append(sample)
                clock.mark()
    finally:
        clock.stop(run, source)
    run.frames = len(run.samples)
    return run


class _Shower:
    """The sink's work: draw and convert each result, keeping the times by frame."""

    def __init__(self, detector: Detector, display: Display | None, clock: _Clock) -> None:
        self.detector = detector
        self.display = display
        self.clock = clock
        self.times: dict[int, dict[str, float]] = {}

    def __call__(self, result: Result) -> None:
        try:
            image = result.frame.host_image()  # fetched from the GPU in this thread where NVDEC decoded it
            self.times[result.frame.index] = _show(self.detector, image, result.detections, self.display)
        finally:
            result.frame.settle(False)  # lent by the player: drawn on, then given back
        self.clock.mark()  # a frame before the warm-up's end is overtaken by restart()


class _Recording(Listener):
    """Hands each result to the sink, keeps those after the warm-up, stops when done."""

    def __init__(self, sink: BackgroundSink[Result], frames: int, warmup: int, clock: _Clock) -> None:
        self.sink = sink
        self.frames = frames
        self.warmup = warmup
        self.clock = clock
        self.seen = 0
        self.recorded: list[Result] = []
        self.player: Player | None = None

    def result(self, result: Result) -> None:
        n, self.seen = self.seen, self.seen + 1
        if n == self.warmup:
            self.clock.restart()
        if n >= self.warmup:
            self.recorded.append(result)
            self.clock.mark()  # done, unless the sink draws it: then when that is done
        self.sink.put(result)
        if self.seen >= self.warmup + self.frames and self.player is not None:
            self.player.stop()


def pipeline(detector: Detector, source: Source, frames: int, warmup: int, display: Display | None,
             draw: bool = True, read_ahead: int = 2) -> Run:
    """trt_viewer's pipeline (the player of the viewer and `run`), with the drawing in a
    background sink as `run` does it."""
    run = Run("pipeline")
    clock = _Clock()
    shower = _Shower(detector, display, clock)
    sink: BackgroundSink[Result] = BackgroundSink(shower if draw else lambda result: None, drop=Result.give_back)
    recording = _Recording(sink, frames, warmup, clock)
    player = recording.player = Player(recording, PlayOptions(interactive=False, depth=read_ahead,
                                                                        pixels="lend" if draw else "drop"))
    try:
        player.run(lambda: nullcontext(detector), source.spec, lambda spec: source)
    finally:
        sink.close()  # every recorded frame is drawn before the clock is read
    clock.stop(run)
    run.downloads = source.downloads
    recorded = recording.recorded
    for result in recorded:
        sample = dict(result.timings)
        sample.update(shower.times.get(result.frame.index, {}))
        run.samples.append(sample)
    run.frames = len(recorded)
    return run
