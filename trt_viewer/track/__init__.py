"""Multi-object tracking, trails and counting on top of the detector's output.

How the project tracks without making the base install fragile: its own small ByteTrack
and SORT (`bytetrack.py`), numpy only: a batched Kalman filter (`kalman.py`), IoU
association, and a linear assignment of its own (`assignment.py`) instead of SciPy's
`linear_sum_assignment` or `lap`. A frame's IoU matrix is nearly a permutation (each
detection overlaps one or two predicted boxes), so after taking the pairs that are each
other's only candidate, what is left for the exact Hungarian method is usually nothing or
a handful of rows, solved in microseconds in plain Python; so adding SciPy (about 40 MB,
and one more binary wheel to match numpy) would buy nothing here, and a greedy matcher
would give up optimality where objects cross, which is where it matters. Roboflow
`trackers` (OC-SORT, BoT-SORT) is not a dependency, not even an optional one: it needs
`opencv-python`, which would overwrite the `cv2` of the `opencv-python-headless` this
project installs, and pulls SciPy, supervision, PyAV, matplotlib, rich and requests. Its
ByteTrack served as the reference (tools/eval_tracking.py compares the two in a separate
virtual environment); OC-SORT and BoT-SORT are left out.

The pieces, all free of Qt and of the backends, used from the Player's thread:
- `make_tracker("bytetrack" | "sort" | "none", ...)` -> a `Tracker` (or None):
  `update(detections, timestamp) -> Detections` with `track_ids`; `reset()`;
- `Counter(lines, zones)`: `update(tracked, frame, timestamp) -> list[Event]`, counts per
  class on `LineZone`s, occupancy and dwell in `PolygonZone`s; `LineZone.parse("x1,y1,x2,y2,name")`,
  `load_zones(path)`, `check_in_frame(...)`;
- `Trails`: recent points per track, to draw;
- `MotWriter`: MOTChallenge output; `metrics`: CLEAR MOT, IDF1 and HOTA.
"""

from __future__ import annotations

from trt_viewer.errors import InputError
from trt_viewer.track.base import Tracker
from trt_viewer.track.bytetrack import ByteTrack, Sort
from trt_viewer.track.counting import (
    Counter,
    Event,
    LineZone,
    PolygonZone,
    check_in_frame,
    load_zones,
    parse_zones,
)
from trt_viewer.track.mot import MotWriter, mot_lines, read_mot
from trt_viewer.track.trails import Trails

TRACKERS = ("bytetrack", "sort", "none")

__all__ = [
    "TRACKERS",
    "ByteTrack",
    "Counter",
    "Event",
    "LineZone",
    "MotWriter",
    "PolygonZone",
    "Sort",
    "Tracker",
    "Trails",
    "check_in_frame",
    "load_zones",
    "make_tracker",
    "mot_lines",
    "parse_zones",
    "read_mot",
]


def make_tracker(name: str, *, frame_rate: float | None = None, class_agnostic: bool = False,
                 keep_untracked: bool = False) -> Tracker | None:
    """The tracker `--track NAME` asks for, None for "none". frame_rate: the source's
    (None: 30); class_agnostic: one track may change class; keep_untracked: update()
    returns every detection, NO_TRACK where it is on no confirmed track."""
    key = name.strip().lower()
    rate = frame_rate if frame_rate and frame_rate > 0 else 30.0
    if key == "none":
        return None
    if key == "bytetrack":
        return ByteTrack(frame_rate=rate, class_agnostic=class_agnostic, keep_untracked=keep_untracked)
    if key == "sort":
        return Sort(frame_rate=rate, class_agnostic=class_agnostic, keep_untracked=keep_untracked)
    raise InputError(f"unknown tracker {name!r}; expected one of {', '.join(TRACKERS)}")
