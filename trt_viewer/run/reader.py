"""Read and letterbox in a background thread, ahead of the thread that runs the model.

The model's thread (the viewer's QThread, the CLI's main thread) owns the backend because
a CUDA context belongs to the thread that made it; reading and filling input buffers
needs no backend call, so it runs here. Buffers come from a small pool taken from the
backend (page-locked for TensorRT), so nothing is allocated per frame. Files are never
dropped; live sources keep only the newest prepared frame and count the ones they replace.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

from trt_viewer.backends.base import InputBuffer
from trt_viewer.core.sources import Frame, Source
from trt_viewer.errors import TrtViewerError
from trt_viewer.run.detector import Detector

POLL_S = 0.05  # how often blocked waits look at the stop flag


@dataclass
class Prepared:
    frame: Frame
    buffer: InputBuffer
    ratio: float
    timings: dict[str, float]


class _End:
    """Marks the end of the source in the reader's queue."""


class FrameReader:
    """A thread that reads frames and letterboxes them into pooled input buffers."""

    # A seek reopens the source: the thread may be blocked in a read of it.
    seeks_in_place = False

    def __init__(self, source: Source, detector: Detector, depth: int = 2) -> None:
        self.source = source
        self.detector = detector
        self.depth = max(1, depth)
        self.live = source.live
        self.dropped = 0
        self._pool: queue.SimpleQueue[InputBuffer] = queue.SimpleQueue()
        # One buffer being filled, `depth` queued, one in inference per frame in flight.
        for _ in range(self.depth + 1 + detector.lanes):
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

    def seek(self, index: int) -> bool:
        return False  # seeks_in_place is False: the player reopens

    def _take_buffer(self) -> InputBuffer | None:
        while not self._stop.is_set():
            try:
                return self._pool.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return None

    def release(self, buffer: InputBuffer) -> None:
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
                    ratio = self.detector.preprocess_frame(frame, buffer)
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


class InlineReader:
    """FrameReader's interface for sources decoded elsewhere (Source.decoded_elsewhere):
    get() takes the next decoded frame and letterboxes it in the caller's thread.

    No thread stands between: a reader thread would wait for the GIL at every frame while
    the player's thread runs Python, which is what made decoded files slow."""

    live = False
    dropped = 0

    def __init__(self, source: Source, detector: Detector, depth: int = 2) -> None:
        self.source = source
        self.detector = detector
        self.seeks_in_place = source.seekable  # no thread of ours is in the source
        self._stop = threading.Event()
        # One being filled and one per frame in flight: get() fills only after a frame was
        # collected, so the pool never runs dry.
        self._pool = [detector.allocate_input() for _ in range(1 + detector.lanes)]

    def start(self) -> InlineReader:
        return self

    def release(self, buffer: InputBuffer) -> None:
        self._pool.append(buffer)

    def ready(self) -> bool:
        return self._stop.is_set() or self.source.poll(0.0)

    def get(self) -> Prepared | None:
        while not self.source.poll(POLL_S):
            if self._stop.is_set():
                return None
        if self._stop.is_set():
            return None
        t0 = time.perf_counter()
        frame = self.source.read()
        if frame is None:
            return None
        t1 = time.perf_counter()
        buffer = self._pool.pop()
        try:
            ratio = self.detector.preprocess_frame(frame, buffer)
        except BaseException:
            self._pool.append(buffer)
            frame.settle(False)
            raise
        timings = {"read": t1 - t0, "preprocess": time.perf_counter() - t1}
        return Prepared(frame, buffer, ratio, timings)

    def seek(self, index: int) -> bool:
        """Seek the source itself; False where it failed (its decoder is gone: reopen)."""
        source = self.source
        try:
            source.seek(min(index, (source.length or index + 1) - 1))
        except (OSError, TrtViewerError):
            return False
        return True

    def stop(self) -> None:
        self._stop.set()

    def close(self, timeout: float = 0.5) -> bool:
        self.stop()
        self.source.close()
        return True


Reader = FrameReader | InlineReader


def make_reader(source: Source, detector: Detector, depth: int = 2) -> Reader:
    """The reader for `source`: inline where it is decoded elsewhere, else a thread."""
    if source.decoded_elsewhere:
        return InlineReader(source, detector, depth)
    return FrameReader(source, detector, depth)
