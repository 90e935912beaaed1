"""Read and letterbox in a background thread, infer and decode in the caller's thread.

The caller's thread runs the backend because a CUDA context belongs to the thread that
made it: the GUI's QThread and the CLI's main thread both own their backend. Letterboxing
writes into buffers from the backend (page-locked for TensorRT) taken from a small pool,
so nothing is allocated per frame. Files are never dropped; live sources keep only the
newest prepared frame and count the ones they replace.

With a backend that keeps several frames in flight (TensorRT, ONNX Runtime's worker
sessions), Pipeline submits frame N+1 before it collects and decodes frame N, so N+1's
inference overlaps N's postprocessing; results still come out in source order, and every
backend call still happens in the caller's thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from trt_viewer.core.detections import Detections
from trt_viewer.core.detector import Detector
from trt_viewer.core.sources import Frame, Source

POLL_S = 0.05  # how often blocked waits look at the stop flag


@dataclass
class Prepared:
    frame: Frame
    buffer: np.ndarray
    ratio: float
    timings: dict[str, float]


@dataclass
class Result:
    frame: Frame
    detections: Detections
    timings: dict[str, float] = field(default_factory=dict)


class _End:
    """Marks the end of the source in the reader's queue."""


class FrameReader:
    """A thread that reads frames and letterboxes them into pooled input buffers."""

    def __init__(self, source: Source, detector: Detector, depth: int = 2) -> None:
        self.source = source
        self.detector = detector
        self.depth = max(1, depth)
        self.live = source.live
        self.dropped = 0
        self._pool: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()
        # One buffer being filled, `depth` queued, one in inference per frame in flight.
        for _ in range(self.depth + 1 + getattr(detector, "lanes", 1)):
            self._pool.put(detector.allocate_input())
        self._items: deque[Prepared | _End | BaseException] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        # Held while a pooled buffer is written: once close() has it, no write can start, so
        # the backend may free its (page-locked) buffers even if a read is still blocked.
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="trt-viewer-reader", daemon=True)

    def start(self) -> FrameReader:
        self._thread.start()
        return self

    def _take_buffer(self) -> np.ndarray | None:
        while not self._stop.is_set():
            try:
                return self._pool.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return None

    def release(self, buffer: np.ndarray) -> None:
        self._pool.put(buffer)

    def _put(self, item: Prepared | _End | BaseException) -> None:
        with self._cond:
            if isinstance(item, Prepared):
                if self.live:
                    while self._items and isinstance(self._items[-1], Prepared):
                        stale = self._items.pop()
                        assert isinstance(stale, Prepared)
                        self.release(stale.buffer)
                        self.dropped += 1
                else:
                    while len(self._items) >= self.depth and not self._stop.is_set():
                        self._cond.wait(POLL_S)
            self._items.append(item)
            self._cond.notify_all()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                frame = self.source.read()
                if frame is None:
                    self._put(_End())
                    return
                t1 = time.perf_counter()
                with self._writing:
                    buffer = None if self._stop.is_set() else self._take_buffer()
                    if buffer is None:
                        return
                    ratio = self.detector.preprocess(frame.image, buffer)
                t2 = time.perf_counter()
                timings = {"read": t1 - t0, "preprocess": t2 - t1}
                self._put(Prepared(frame, buffer, ratio, timings))
        except BaseException as exc:  # handed to the consumer, which raises it
            self._put(exc)
        finally:
            # Closed here, never from another thread while read() may be blocked in it.
            self.source.close()

    def get(self) -> Prepared | None:
        """The next prepared frame; None at the end or once stopped. Re-raises reader errors."""
        with self._cond:
            while not self._items:
                if self._stop.is_set():
                    return None
                self._cond.wait(POLL_S)
            item = self._items.popleft()
            self._cond.notify_all()
        if isinstance(item, BaseException):
            raise item
        return None if isinstance(item, _End) else item

    def ready(self) -> bool:
        """Whether get() would return at once (a frame, the end or an error is queued)."""
        with self._cond:
            return bool(self._items) or self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()

    def close(self, timeout: float = 0.5) -> bool:
        """Stop and join; False if the thread is still blocked in a read after timeout.

        Either way, once this returns the thread writes no pooled buffer again."""
        self.stop()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            with self._writing:
                pass
        return not self._thread.is_alive()


class InFlight:
    """Frames handed to the backend and not yet collected, oldest first.

    Pipeline and the viewer's worker both run frames through this: submit() gives a
    prepared frame to the backend, finish() collects the oldest one, returns its buffer to
    the reader's pool and decodes it. A backend without lanes infers inside submit(), so
    the same loop runs one frame at a time there. Every backend call happens in the thread
    that calls these methods.
    """

    def __init__(self, detector: Detector, reader: FrameReader) -> None:
        self.detector = detector
        self.reader = reader
        self._pending: deque[tuple[Prepared, Any, float]] = deque()

    def __len__(self) -> int:
        return len(self._pending)

    @property
    def full(self) -> bool:
        return len(self._pending) >= self.detector.lanes

    def submit(self, item: Prepared) -> None:
        t0 = time.perf_counter()
        try:
            ticket = self.detector.submit(item.buffer)
        except BaseException:
            self.reader.release(item.buffer)
            raise
        self._pending.append((item, ticket, time.perf_counter() - t0))

    def finish(self) -> Result:
        item, ticket, submit_s = self._pending.popleft()
        t0 = time.perf_counter()
        try:
            # In place, not copied: decoded below, before the next frame is submitted.
            outputs = self.detector.collect(ticket, copy=False)
        finally:
            self.reader.release(item.buffer)
        t1 = time.perf_counter()
        detections = self.detector.postprocess(outputs, item.ratio, item.frame.image.shape[:2])
        t2 = time.perf_counter()
        item.timings["infer"] = submit_s + (t1 - t0)
        item.timings["postprocess"] = t2 - t1
        if getattr(self.detector.backend, "gpu_timing", False):  # the bench asks for these
            item.timings.update(self.detector.last_timings)
        return Result(item.frame, detections, item.timings)

    def discard(self) -> None:
        """Drop every frame in flight (a stop, a seek), letting the backend finish with
        each buffer before it goes back to the pool."""
        while self._pending:
            item, ticket, _ = self._pending.popleft()
            with suppress(Exception):
                self.detector.collect(ticket)
            self.reader.release(item.buffer)


class Pipeline:
    """Iterate over Results, in source order. stop() may be called from any thread."""

    def __init__(self, source: Source, detector: Detector, depth: int = 2) -> None:
        self.source = source
        self.detector = detector
        self.depth = depth
        self.frames = 0
        self._reader: FrameReader | None = None
        self._stopped = threading.Event()

    @property
    def dropped(self) -> int:
        return self._reader.dropped if self._reader else 0

    def __iter__(self) -> Iterator[Result]:
        """Frames ahead up to the backend's lanes: submit N+1, then collect and decode N.
        A frame is submitted ahead only when the reader already has it, so a live source
        adds no latency."""
        reader = self._reader = FrameReader(self.source, self.detector, self.depth).start()
        if self._stopped.is_set():
            reader.stop()
        flight = InFlight(self.detector, reader)
        try:
            while not self._stopped.is_set():
                if flight and (flight.full or not reader.ready()):
                    yield self._counted(flight.finish())
                    continue
                try:
                    item = reader.get()
                except BaseException:
                    while flight and not self._stopped.is_set():  # frames read before the error
                        yield self._counted(flight.finish())
                    raise
                if item is None:
                    break
                flight.submit(item)
            while flight and not self._stopped.is_set():
                yield self._counted(flight.finish())
        finally:
            flight.discard()
            reader.close()

    def _counted(self, result: Result) -> Result:
        self.frames += 1
        return result

    def stop(self) -> None:
        self._stopped.set()
        if self._reader is not None:
            self._reader.stop()


T = TypeVar("T")


class BackgroundSink(Generic[T]):
    """Runs `handle` on items in order in its own thread (drawing, encoding, writing), so
    that work overlaps inference. An error in `handle` is raised by the next put/close."""

    def __init__(self, handle: Callable[[T], Any], depth: int = 4) -> None:
        self._handle = handle
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._failed = False  # stays set: nothing after a failed item is handled
        self._thread = threading.Thread(target=self._run, name="trt-viewer-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _End):
                return
            if not self._failed:
                try:
                    self._handle(item)
                except BaseException as exc:
                    self._error, self._failed = exc, True

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def put(self, item: T) -> None:
        self._raise()
        while True:
            try:
                self._queue.put(item, timeout=POLL_S)
                return
            except queue.Full:
                self._raise()

    def close(self) -> None:
        """Finish what is queued, then raise any error `handle` met."""
        self._queue.put(_End())
        self._thread.join()
        self._raise()
