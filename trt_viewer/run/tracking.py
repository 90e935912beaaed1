"""Tracking inside the run loop: the tracker, the line/zone counter and the trails of one
run, applied to each result in source order in the player's thread.

Made at the first frame, when the frame's size (lines and zones must lie in it) and the
source's rate (the motion model's clock) are known. reset() -- on a seek, a step back, a
loop, a reconnect -- forgets the tracks (a jump in time would glue unrelated objects
together) but keeps the counts; a pause changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.core.drawing import LineMark, TrackOverlay, ZoneMark
from trt_viewer.run.flight import Result
from trt_viewer.track import Counter, LineZone, PolygonZone, Trails, check_in_frame, load_zones, make_tracker
from trt_viewer.track.assignment import match
from trt_viewer.track.base import iou_matrix

CARRY_IOU = 0.5  # a redone detection keeps a shown one's id from this overlap on


@dataclass(frozen=True)
class TrackingOptions:
    tracker: str = "bytetrack"  # bytetrack | sort
    across_classes: bool = False  # one track may change class (default: per class)
    lines: tuple[str, ...] = ()  # "x1,y1,x2,y2[,name]"
    zones_file: Path | None = None  # {"zones": [{"name": ..., "points": [[x, y], ...]}]}
    trail_length: int = 30  # points kept per track for drawing
    zones: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = ()  # (name, points) each, after zones_file's

    def check(self) -> tuple[list[LineZone], list[PolygonZone]]:
        """Parse the lines and zones now (before the model loads): InputError, one line."""
        make_tracker(self.tracker)  # an unknown name fails here
        lines = [LineZone.parse(spec, f"line{i + 1}") for i, spec in enumerate(self.lines)]
        zones = load_zones(self.zones_file) if self.zones_file is not None else []
        zones += [PolygonZone(points, name) for name, points in self.zones]
        return lines, zones


@dataclass
class Tracking:
    options: TrackingOptions
    frame_rate: float | None = None
    tracker: Any = None
    counter: Counter | None = None
    trails: Trails = field(default_factory=Trails)

    def _start(self, frame_size: tuple[int, int]) -> None:
        lines, zones = self.options.check()
        check_in_frame([*lines, *zones], frame_size)
        # Every detection stays (those on no confirmed track yet with no id): the output
        # holds what the detector found, the ids are what tracking adds.
        self.tracker = make_tracker(self.options.tracker, frame_rate=self.frame_rate,
                                    class_agnostic=self.options.across_classes, keep_untracked=True)
        if lines or zones:
            self.counter = Counter(lines, zones, frame_size=frame_size, lost_seconds=self.tracker.lost_seconds)
        self.trails = Trails(length=self.options.trail_length, anchor="bottom_center")  # where the lines count

    def apply(self, result: Result) -> Result:
        """The result with track ids on its detections and the counting events it caused."""
        t0 = time.perf_counter()
        frame = result.frame
        if self.tracker is None:
            h, w = frame.hw
            self._start((w, h))
        tracked = self.tracker.update(result.detections, frame.timestamp)
        self.trails.update(tracked, frame.timestamp)
        events = self.counter.update(tracked, frame.index, frame.timestamp) if self.counter is not None else []
        overlay = self.overlay()
        timings = dict(result.timings, track=time.perf_counter() - t0)
        return replace(result, detections=tracked, events=events, timings=timings, overlay=overlay)

    def overlay(self) -> TrackOverlay:
        """What to draw of the tracking as it stands: trails, lines and zones with their counts."""
        counter = self.counter
        lines = tuple(LineMark(line.name, line.start, line.end, line.total_in, line.total_out)
                      for line in counter.lines) if counter is not None else ()
        zones = tuple(ZoneMark(zone.name, tuple((float(x), float(y)) for x, y in zone.points),
                               sum(zone.occupancy.values())) for zone in counter.zones) if counter is not None else ()
        return TrackOverlay(self.trails.points(), self.trails.classes(), lines, zones)

    def redone(self, shown: Result, fresh: Detections) -> Detections:
        """The frame on screen detected again (a threshold moved while paused): each fresh
        detection takes the id of the shown detection it overlaps most (same class, IoU
        of 0.5 or more), the rest none. The tracker is not updated: the frame was counted
        once already, and its tracks go on from where they were."""
        return carry_ids(shown.detections, fresh, same_class=not self.options.across_classes)

    def reset(self) -> None:
        if self.tracker is not None:
            self.tracker.reset()
        if self.counter is not None:
            self.counter.reset(keep_counts=True)
        self.trails.reset()

    def counts(self, names: list[str]) -> dict[str, Any]:
        return self.counter.summary(names) if self.counter is not None else {}


def carry_ids(shown: Detections, fresh: Detections, same_class: bool = True) -> Detections:
    """`fresh` with the track ids of the `shown` detections it matches one to one (IoU of
    CARRY_IOU or more, and the same class where tracks keep their class)."""
    ids = np.full(len(fresh), NO_TRACK, np.int64)
    if shown.track_ids is not None and len(shown) and len(fresh):
        cost = 1.0 - iou_matrix(fresh.boxes, shown.boxes)
        if same_class:
            cost[fresh.class_ids[:, None] != shown.class_ids[None, :]] = np.inf
        rows, cols = match(cost, 1.0 - CARRY_IOU + 1e-9)
        ids[rows] = shown.track_ids[cols]
    return fresh.with_track_ids(ids)
