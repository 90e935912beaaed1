"""Recent positions of each track, for drawing trails."""

from __future__ import annotations

from collections import deque

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.track.counting import ANCHORS, anchors_of


class Trails:
    """The last `length` anchor points of each track seen within `max_age` seconds.

    update(tracked, timestamp) after each frame; points() (and classes(), each track's
    latest class, to colour it) for drawing; reset() with the tracker's."""

    def __init__(self, length: int = 30, max_age: float = 1.0, anchor: str = "center") -> None:
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}")
        self.length = length
        self.max_age = max_age
        self.anchor = anchor
        self._points: dict[int, deque[tuple[float, float]]] = {}
        self._seen: dict[int, float] = {}
        self._classes: dict[int, int] = {}

    def reset(self) -> None:
        self._points.clear()
        self._seen.clear()
        self._classes.clear()

    def update(self, tracked: Detections, timestamp: float) -> None:
        if tracked.track_ids is not None and len(tracked):
            anchors = anchors_of(tracked.boxes, self.anchor).tolist()
            for tid, point, cid in zip(tracked.track_ids.tolist(), anchors, tracked.class_ids.tolist()):
                if tid == NO_TRACK:
                    continue
                self._classes[tid] = cid
                trail = self._points.get(tid)
                if trail is None:
                    trail = self._points[tid] = deque(maxlen=self.length)
                trail.append((point[0], point[1]))
                self._seen[tid] = timestamp
        old = [tid for tid, t in self._seen.items() if timestamp - t > self.max_age]
        for tid in old:
            del self._points[tid], self._seen[tid]
            self._classes.pop(tid, None)

    def points(self) -> dict[int, np.ndarray]:
        """Per track id, its points [k, 2] (oldest first) in frame pixels."""
        return {tid: np.array(trail) for tid, trail in self._points.items()}

    def classes(self) -> dict[int, int]:
        """Per track id (those points() gives), its class in its latest frame."""
        return dict(self._classes)
