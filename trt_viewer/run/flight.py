"""Frames handed to the backend and not yet collected: the frames-in-flight machinery.

With a backend that keeps several frames in flight (TensorRT, ONNX Runtime's worker
sessions), the player submits frame N+1 before it collects and decodes frame N, so N+1's
inference overlaps N's postprocessing; results still come out in source order, and every
backend call happens in the player's thread.
"""

from __future__ import annotations

import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from trt_viewer.backends.base import Ticket
from trt_viewer.core.detections import Detections
from trt_viewer.core.drawing import TrackOverlay
from trt_viewer.core.sources import Frame
from trt_viewer.run.detector import Detector
from trt_viewer.run.reader import Prepared, Reader


@dataclass
class Result:
    frame: Frame
    detections: Detections  # with track ids where the run tracks
    timings: dict[str, float] = field(default_factory=dict)
    events: list[Any] = field(default_factory=list)  # track.Event: lines crossed, zones entered or left
    overlay: TrackOverlay | None = None  # where the run tracks: trails, lines and zones to draw

    def give_back(self) -> None:
        """Done with it unseen (a writer's sink dropping it after an error): a frame lent by
        its decoder goes back, its pixels not fetched."""
        self.frame.settle(False)


PIXELS = ("keep", "drop", "lend", "view")


class InFlight:
    """Frames handed to the backend and not yet collected, oldest first.

    The player runs frames through this: submit() gives a
    prepared frame to the backend, finish() collects the oldest one, returns its buffer to
    the reader's pool and decodes it. A backend without lanes infers inside submit(), so
    the same loop runs one frame at a time there. Every backend call happens in the thread
    that calls these methods.
    """

    def __init__(self, detector: Detector, reader: Reader, pixels: str = "keep") -> None:
        self.detector = detector
        self.reader = reader
        # What becomes of a decoder's frame after the model (PlayOptions.pixels): kept as a
        # copy, dropped, left lent for the listener to settle, or ("view") left lent where
        # it is on the GPU and kept as a copy otherwise.
        if pixels not in PIXELS:
            raise ValueError(f"pixels must be one of {', '.join(PIXELS)}, not {pixels!r}")
        self.pixels = pixels
        self._pending: deque[tuple[Prepared, Ticket, float]] = deque()

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
            item.frame.settle(False)
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
            # The model is done with the frame: the decoder gets its memory back (or, lent,
            # once the listener is done with it: a frame on the GPU is then fetched in the
            # listener's thread, not in this one, which has the next frame to submit).
            if self.pixels == "view":
                if item.frame.device is None:
                    item.frame.settle(True)
            elif self.pixels != "lend":
                item.frame.settle(self.pixels == "keep")
        t1 = time.perf_counter()
        detections = self.detector.postprocess(outputs, item.ratio, item.frame.hw)
        t2 = time.perf_counter()
        item.timings["infer"] = submit_s + (t1 - t0)
        item.timings["postprocess"] = t2 - t1
        if self.detector.backend.gpu_timing:  # the bench asks for these
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
            item.frame.settle(False)
