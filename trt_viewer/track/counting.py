"""Counting tracked objects: lines they cross, polygon zones they stay in.

A track's position is its anchor, the bottom-centre of its box (where an object stands),
or the centre (`anchor="center"`).

Lines (`LineZone`, from "x1,y1,x2,y2[,name]"): a track crosses when its anchor goes from
one side of the segment to the other while level with it (inside the band swept
perpendicular to the segment; going round an end does not count). Facing from the
first point to the second on screen, "in" is crossing to the right-hand side, "out" to the
left; swap the points to swap them. Each line counts per class, and each track at most
once per direction.

Zones (`PolygonZone`, from a JSON file, see `load_zones`): a track is in a zone while its
anchor is inside the polygon; occupancy is per class, dwell time per track in seconds
(from the timestamps given to update()).

Robustness:
- flicker: a change of side or of inside/outside takes `min_frames` consecutive frames
  (default 2, as supervision's minimum_crossing_threshold) before it counts;
- ID switches: a new track id that appears where a track id that is no longer seen was
  expected (its anchor moved on at its last speed, within `switch_radius` box diagonals,
  less than `lost_seconds` after it was last seen, the two never seen in one frame)
  continues that track's state: its side of each line, the directions already counted,
  its zones and dwell. So an object whose id changes on the line is not counted twice,
  and one whose id changed just before the line is counted when it crosses. If the old
  track had just been counted crossing a line and the new id shows up back on the side it
  came from (its box jumped back, as at an occlusion), that is not a crossing back either;
- a box cut by the frame's edge (with `frame_size` given) says nothing about lines;
- a track unseen for more than `lost_seconds` (the tracker's `lost_seconds`: set both
  alike) ends: it leaves its zones ("exit" events) and its state is forgotten.

Events (`Event`: kind "in"/"out" for lines, "enter"/"exit" for zones, the line or zone,
track id, class, frame, time, dwell on exits) come back from `Counter.update()` in the
frame where they are decided (after min_frames), for the CLI's JSONL.

The per-track state lives in arrays indexed by slot, so a frame where nothing changes
costs a few numpy calls per line and zone; only tracks whose state changes, new tracks
and ended ones go through Python code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections, label_for
from trt_viewer.errors import InputError

ANCHORS = ("bottom_center", "center")


@dataclass(frozen=True)
class Event:
    kind: str  # "in" or "out" (a line), "enter" or "exit" (a zone)
    zone: str  # the line's or zone's name
    track_id: int
    class_id: int
    frame: int  # the frame index given to update() when the event was decided
    time: float  # its timestamp
    dwell: float | None = None  # seconds in the zone, on "exit"

    def to_record(self, names: Sequence[str] = ()) -> dict[str, Any]:
        """JSON-ready: {"event", "line" or "zone", "track_id", "class_id", "label",
        "frame", "time"[, "dwell"]}."""
        record: dict[str, Any] = {
            "event": self.kind,
            ("line" if self.kind in ("in", "out") else "zone"): self.zone,
            "track_id": self.track_id,
            "class_id": self.class_id,
            "label": label_for(list(names), self.class_id),
            "frame": self.frame,
            "time": round(self.time, 4),
        }
        if self.dwell is not None:
            record["dwell"] = round(self.dwell, 3)
        return record


# --- geometry and parsing ------------------------------------------------------------


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


class LineZone:
    """A counting line from (x1, y1) to (x2, y2), in frame pixels."""

    def __init__(self, start: tuple[float, float], end: tuple[float, float], name: str = "line") -> None:
        self.start = (float(start[0]), float(start[1]))
        self.end = (float(end[0]), float(end[1]))
        self.name = name
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        self._d = np.array([dx, dy])
        self._len2 = dx * dx + dy * dy
        if self._len2 < 1e-6:
            raise InputError(f"line {name}: its two points are the same")
        self.in_counts: dict[int, int] = {}
        self.out_counts: dict[int, int] = {}

    @classmethod
    def parse(cls, spec: str, default_name: str = "line") -> LineZone:
        """From "x1,y1,x2,y2[,name]" (pixels); InputError with one line otherwise."""
        parts = [p.strip() for p in spec.split(",")]
        if len(parts) not in (4, 5):
            raise InputError(f"line {spec!r}: expected x1,y1,x2,y2[,name] in pixels")
        try:
            x1, y1, x2, y2 = (_number(p) for p in parts[:4])
        except ValueError:
            raise InputError(f"line {spec!r}: x1,y1,x2,y2 must be numbers") from None
        name = parts[4] if len(parts) == 5 and parts[4] else default_name
        return cls((x1, y1), (x2, y2), name)

    @property
    def points(self) -> np.ndarray:
        return np.array([self.start, self.end])

    def sides(self, anchors: np.ndarray) -> np.ndarray:
        """Per anchor: +1 right of the line (the "in" side), -1 left, 0 on it, 2 not level
        with the segment."""
        rel = anchors - np.array(self.start)
        cross = self._d[0] * rel[:, 1] - self._d[1] * rel[:, 0]
        t = (rel @ self._d) / self._len2
        side: np.ndarray = np.sign(cross).astype(np.int8)
        side[(t < 0) | (t > 1)] = 2
        return side

    @property
    def total_in(self) -> int:
        return sum(self.in_counts.values())

    @property
    def total_out(self) -> int:
        return sum(self.out_counts.values())

    def reset_counts(self) -> None:
        self.in_counts.clear()
        self.out_counts.clear()


class PolygonZone:
    """A polygon in frame pixels; anchors inside it are in the zone."""

    def __init__(self, points: Any, name: str = "zone") -> None:
        self.name = name
        self.points = _check_polygon(points, f"zone {name}")
        self.occupancy: dict[int, int] = {}  # per class, as of the last update
        self.entered: dict[int, int] = {}  # per class, tracks that entered since the reset

    def contains(self, anchors: np.ndarray) -> np.ndarray:
        """Crossing-number test, vectorised over anchors and edges."""
        if len(anchors) == 0:
            return np.zeros(0, bool)
        x, y = anchors[:, 0:1], anchors[:, 1:2]
        p = self.points
        q = np.roll(p, -1, axis=0)
        straddle = (p[None, :, 1] > y) != (q[None, :, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = p[None, :, 0] + (y - p[None, :, 1]) * (q[None, :, 0] - p[None, :, 0]) / (
                q[None, :, 1] - p[None, :, 1])
        inside: np.ndarray = (straddle & (x < x_cross)).sum(1) % 2 == 1
        return inside


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    def orient(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> float:
        return float((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return o1 * o2 < 0 and o3 * o4 < 0


def _check_polygon(points: Any, what: str) -> np.ndarray:
    if not isinstance(points, (list, tuple, np.ndarray)):
        raise InputError(f"{what}: points must be a list of [x, y] pairs")
    pts: list[tuple[float, float]] = []
    for p in points:
        if (not isinstance(p, (list, tuple, np.ndarray)) or len(p) != 2
                or not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in p)
                or not all(math.isfinite(float(v)) for v in p)):
            raise InputError(f"{what}: each point must be [x, y] with two numbers, not {p!r}")
        pts.append((float(p[0]), float(p[1])))
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()  # a closed ring repeats its first point
    if len(pts) < 3:
        raise InputError(f"{what}: a polygon needs at least 3 points, not {len(pts)}")
    arr = np.array(pts)
    rel = arr - arr[0]
    far = rel[np.argmax(np.hypot(rel[:, 0], rel[:, 1]))]
    if np.abs(far[0] * rel[:, 1] - far[1] * rel[:, 0]).max() < 1e-6:
        raise InputError(f"{what}: not a polygon (its points are on one line)")
    k = len(arr)
    for i in range(k):
        for j in range(i + 2, k):
            if i == 0 and j == k - 1:
                continue  # neighbours through the closing edge
            if _segments_cross(arr[i], arr[(i + 1) % k], arr[j], arr[(j + 1) % k]):
                raise InputError(f"{what}: not a polygon (its edges {i + 1} and {j + 1} cross)")
    area = 0.5 * float(np.sum(arr[:, 0] * np.roll(arr[:, 1], -1) - np.roll(arr[:, 0], -1) * arr[:, 1]))
    if abs(area) < 1e-6:
        raise InputError(f"{what}: not a polygon (it encloses no area)")
    return arr


def load_zones(path: str | Path, frame_size: tuple[int, int] | None = None) -> list[PolygonZone]:
    """Zones from a JSON file:

        {"zones": [{"name": "door", "points": [[x, y], [x, y], [x, y], ...]}, ...]}

    pixels of the frame; "name" is optional (zone1, zone2, ... by default) and unique; a
    ring may repeat its first point at the end. frame_size (width, height), where known,
    also checks that every point is in the frame. Any problem: InputError, one line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"zones file {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"zones file {p}: not JSON (not UTF-8 text)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"zones file {p}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    zones = parse_zones(data, f"zones file {p}")
    if frame_size is not None:
        try:
            check_in_frame(zones, frame_size)
        except InputError as exc:
            raise InputError(f"zones file {p}: {exc}") from None
    return zones


def parse_zones(data: Any, where: str = "zones") -> list[PolygonZone]:
    """Zones from the decoded JSON (see load_zones)."""
    if not isinstance(data, dict) or not isinstance(data.get("zones"), list):
        raise InputError(f'{where}: expected {{"zones": [{{"name": ..., "points": [[x, y], ...]}}, ...]}}')
    if not data["zones"]:
        raise InputError(f"{where}: no zones")
    zones: list[PolygonZone] = []
    for i, item in enumerate(data["zones"], 1):
        if not isinstance(item, dict) or "points" not in item:
            raise InputError(f'{where}: zone {i} must be an object with "points"')
        name = item.get("name", f"zone{i}")
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{where}: zone {i}: its name must be a non-empty string")
        if any(z.name == name for z in zones):
            raise InputError(f"{where}: two zones are named {name!r}")
        try:
            zones.append(PolygonZone(item["points"], name))
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    return zones


def check_in_frame(items: Iterable[PolygonZone | LineZone], frame_size: tuple[int, int]) -> None:
    """InputError naming the first line or zone with a point outside a frame of
    (width, height); a point on the border is in the frame."""
    w, h = frame_size
    for item in items:
        pts = item.points
        bad = (pts[:, 0] < 0) | (pts[:, 0] > w) | (pts[:, 1] < 0) | (pts[:, 1] > h)
        if bad.any():
            x, y = pts[int(np.argmax(bad))]
            kind = "zone" if isinstance(item, PolygonZone) else "line"
            raise InputError(f"{kind} {item.name}: point ({x:g}, {y:g}) is outside the {w}x{h} frame")


def anchors_of(boxes: np.ndarray, anchor: str = "bottom_center") -> np.ndarray:
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    y = boxes[:, 3] if anchor == "bottom_center" else (boxes[:, 1] + boxes[:, 3]) / 2
    return np.stack([cx, y], 1)


# --- the counter ---------------------------------------------------------------------


class Counter:
    """Line counts, zone occupancy and dwell for one stream's tracked detections.

    frame_size (width, height), where given, makes boxes within edge_margin (a fraction of
    the frame's longer side: 1 %, 12.8 px at 1280x720) of the frame's edge count for nothing
    on lines: such a box is cut, its anchor is not its object's (an object leaving along the
    bottom edge drags the anchor of what is left of it across a vertical line). Nor does a
    cut box continue an ended track's state: an object coming in at the edge is a new one,
    and one last seen at the edge has left. Pass it: the source's frame size.

    update(tracked, frame, timestamp) -> events: `tracked` is what a Tracker returned for
    the frame (detections without a track id are ignored). reset() forgets the tracks and,
    unless keep_counts, zeroes the counts (call it with the tracker's reset).
    """

    _used: np.ndarray
    _tid: np.ndarray
    _cls: np.ndarray
    _first: np.ndarray
    _seen: np.ndarray
    _seen_frame: np.ndarray
    _pos: np.ndarray
    _vel: np.ndarray
    _vel_n: np.ndarray
    _size: np.ndarray
    _cut: np.ndarray
    _side: np.ndarray
    _pend: np.ndarray
    _pend_n: np.ndarray
    _counted: np.ndarray
    _crossed_at: np.ndarray
    _inside: np.ndarray
    _zpend: np.ndarray
    _entered_at: np.ndarray

    def __init__(
        self,
        lines: Sequence[LineZone] = (),
        zones: Sequence[PolygonZone] = (),
        *,
        min_frames: int = 2,
        lost_seconds: float = 1.0,
        switch_radius: float = 1.0,
        anchor: str = "bottom_center",
        frame_size: tuple[int, int] | None = None,
        edge_margin: float = 0.01,
    ) -> None:
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}")
        if min_frames < 1:
            raise ValueError("min_frames must be >= 1")
        items: list[LineZone | PolygonZone] = [*lines, *zones]
        names = [item.name for item in items]
        if len(set(names)) != len(names):
            raise InputError(f"lines and zones need distinct names, not {', '.join(names)}")
        self.lines = list(lines)
        self.zones = list(zones)
        self.min_frames = min_frames
        self.lost_seconds = lost_seconds
        self.switch_radius = switch_radius
        self.anchor = anchor
        self.frame_size = frame_size
        self.edge_margin = edge_margin
        self.switches = 0  # new ids that continued an ended track's state
        self._capacity = 0
        self.reset()

    # -- state arrays, one row per slot --

    def _allocate(self, capacity: int) -> None:
        old = self._capacity

        def grow(a: np.ndarray, fill: Any) -> np.ndarray:
            out = np.full((capacity, *a.shape[1:]), fill, a.dtype)
            out[:old] = a[:old]
            return out

        self._used = grow(self._used, False)
        self._tid = grow(self._tid, 0)
        self._cls = grow(self._cls, 0)
        self._first = grow(self._first, 0.0)
        self._seen = grow(self._seen, 0.0)
        self._seen_frame = grow(self._seen_frame, -1)
        self._pos = grow(self._pos, 0.0)
        self._vel = grow(self._vel, 0.0)
        self._vel_n = grow(self._vel_n, 0)
        self._size = grow(self._size, 0.0)
        self._cut = grow(self._cut, False)
        self._side = grow(self._side, 0)  # [slot, line]: confirmed side, 0 unknown
        self._pend = grow(self._pend, 0)  # [slot, line]: side being confirmed, 0 none
        self._pend_n = grow(self._pend_n, 0)
        self._counted = grow(self._counted, False)  # [slot, line, 0 in / 1 out]
        self._crossed_at = grow(self._crossed_at, -np.inf)  # [slot, line]: time of the last count
        self._inside = grow(self._inside, False)  # [slot, zone]: confirmed inside
        self._zpend = grow(self._zpend, 0)  # [slot, zone]: frames the other way in a row
        self._entered_at = grow(self._entered_at, 0.0)
        self._capacity = capacity

    def reset(self, keep_counts: bool = False) -> None:
        n_lines, n_zones = len(self.lines), len(self.zones)
        self._capacity = 0
        self._used = np.zeros(0, bool)
        self._tid = np.zeros(0, np.int64)
        self._cls = np.zeros(0, np.int64)
        self._first = np.zeros(0)
        self._seen = np.zeros(0)
        self._seen_frame = np.zeros(0, np.int64)
        self._pos = np.zeros((0, 2))
        self._vel = np.zeros((0, 2))
        self._vel_n = np.zeros(0, np.int64)
        self._size = np.zeros(0)
        self._cut = np.zeros(0, bool)
        self._side = np.zeros((0, n_lines), np.int8)
        self._pend = np.zeros((0, n_lines), np.int8)
        self._pend_n = np.zeros((0, n_lines), np.int64)
        self._counted = np.zeros((0, n_lines, 2), bool)
        self._crossed_at = np.zeros((0, n_lines))
        self._inside = np.zeros((0, n_zones), bool)
        self._zpend = np.zeros((0, n_zones), np.int64)
        self._entered_at = np.zeros((0, n_zones))
        self._allocate(64)
        self._slot_of: dict[int, int] = {}
        self._free: list[int] = list(range(63, -1, -1))
        self._frame = -1
        if not keep_counts:
            self.switches = 0
            for line in self.lines:
                line.reset_counts()
            for zone in self.zones:
                zone.entered.clear()
        for zone in self.zones:
            zone.occupancy.clear()

    def _new_slot(self) -> int:
        if not self._free:
            old = self._capacity
            self._allocate(old * 2)
            self._free = list(range(self._capacity - 1, old - 1, -1))
        return self._free.pop()

    def _release(self, slot: int) -> None:
        del self._slot_of[int(self._tid[slot])]
        self._used[slot] = False
        self._vel_n[slot] = 0
        self._side[slot] = 0
        self._pend[slot] = 0
        self._pend_n[slot] = 0
        self._counted[slot] = False
        self._crossed_at[slot] = -np.inf
        self._inside[slot] = False
        self._zpend[slot] = 0
        self._free.append(slot)

    # -- queries --

    def dwell(self, track_id: int) -> dict[str, float]:
        """Seconds the track has been in each zone it is in now (up to when last seen)."""
        slot = self._slot_of.get(int(track_id))
        if slot is None:
            return {}
        return {z.name: float(self._seen[slot] - self._entered_at[slot, k])
                for k, z in enumerate(self.zones) if self._inside[slot, k]}

    def summary(self, names: Sequence[str] = ()) -> dict[str, Any]:
        """JSON-ready counts: {"lines": {name: {"in": {label: n}, "out": {...}, "in_total",
        "out_total"}}, "zones": {name: {"occupancy": {label: n}, "entered": {label: n}}}}."""
        labels = list(names)

        def by_label(counts: dict[int, int]) -> dict[str, int]:
            return {label_for(labels, c): n for c, n in sorted(counts.items())}

        return {
            "lines": {line.name: {"in": by_label(line.in_counts), "out": by_label(line.out_counts),
                                  "in_total": line.total_in, "out_total": line.total_out} for line in self.lines},
            "zones": {zone.name: {"occupancy": by_label(zone.occupancy), "entered": by_label(zone.entered)}
                      for zone in self.zones},
        }

    # -- the update --

    def update(self, tracked: Detections, frame: int, timestamp: float) -> list[Event]:
        events: list[Event] = []
        now = float(timestamp)
        self._frame = frame
        if tracked.track_ids is not None and len(tracked):
            on = tracked.track_ids != NO_TRACK
            ids = tracked.track_ids[on]
            boxes = np.asarray(tracked.boxes[on], np.float64)
            cls = tracked.class_ids[on]
        else:
            ids = np.zeros(0, np.int64)
            boxes = np.zeros((0, 4))
            cls = np.zeros(0, np.int64)
        anchors = anchors_of(boxes, self.anchor)
        sizes = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        cut = np.zeros(len(boxes), bool)
        if self.frame_size is not None:  # a box cut by the frame's edge is not where its object is
            w, h = self.frame_size
            m = self.edge_margin * max(w, h)
            cut = (boxes[:, 0] <= m) | (boxes[:, 1] <= m) | (boxes[:, 2] >= w - m) | (boxes[:, 3] >= h - m)
        slot_of = self._slot_of
        slots = np.array([slot_of.get(i, -1) for i in ids.tolist()], np.int64)
        known = slots >= 0
        if known.any():
            self._observe(slots[known], anchors[known], sizes[known], cls[known], now, frame)
            self._cut[slots[known]] = cut[known]
        for k in np.flatnonzero(~known).tolist():
            slots[k] = self._start(int(ids[k]), anchors[k], float(sizes[k]), int(cls[k]), now, frame, bool(cut[k]))
            self._cut[slots[k]] = cut[k]
        for li, line in enumerate(self.lines):
            self._lines_step(li, line, slots, anchors, cut, now, frame, events)
        for zi, zone in enumerate(self.zones):
            self._zones_step(zi, zone, slots, anchors, now, frame, events)
        self._expire(now, frame, events)
        for zi, zone in enumerate(self.zones):
            live = self._used & self._inside[:, zi]
            zone.occupancy = {int(c): int(n) for c, n in zip(*np.unique(self._cls[live], return_counts=True))}
        return events

    def _observe(self, slots: np.ndarray, anchors: np.ndarray, sizes: np.ndarray, cls: np.ndarray, now: float,
                 frame: int) -> None:
        """Where these tracks are now; their speed from where they were."""
        dt = now - self._seen[slots]
        moved = dt > 0
        if moved.any():
            m = slots[moved]
            v = (anchors[moved] - self._pos[m]) / dt[moved][:, None]
            self._vel[m] = np.where(self._vel_n[m, None] > 0, 0.5 * self._vel[m] + 0.5 * v, v)
            self._vel_n[m] += 1
        self._pos[slots] = anchors
        self._size[slots] = sizes
        self._cls[slots] = cls
        self._seen[slots] = now
        self._seen_frame[slots] = frame

    def _start(self, tid: int, anchor: np.ndarray, size: float, cls: int, now: float, frame: int, cut: bool) -> int:
        """A slot for a new track id: an ended track's, if this id continues it."""
        prev = -1 if cut else self._continues(anchor, size, now, frame)
        if prev < 0:
            slot = self._new_slot()
            self._used[slot] = True
            self._tid[slot] = tid
            self._first[slot] = now
            self._vel[slot] = 0.0
            self._vel_n[slot] = 0
            self._slot_of[tid] = slot
            self._observe(np.array([slot]), anchor[None], np.array([size]), np.array([cls]), now, frame)
            return slot
        self.switches += 1
        del self._slot_of[int(self._tid[prev])]
        self._tid[prev] = tid
        self._slot_of[tid] = prev
        self._observe(np.array([prev]), anchor[None], np.array([size]), np.array([cls]), now, frame)
        # Back on the side it came from right after a counted crossing: its box jumped, it
        # did not cross back.
        for li, line in enumerate(self.lines):
            side = int(line.sides(anchor[None])[0])
            confirmed = int(self._side[prev, li])
            recent = now - self._crossed_at[prev, li] <= self.lost_seconds
            if side in (-1, 1) and confirmed and side != confirmed and recent:
                self._side[prev, li] = side
                self._pend[prev, li] = 0
                self._pend_n[prev, li] = 0
        return prev

    def _continues(self, anchor: np.ndarray, size: float, now: float, frame: int) -> int:
        """The slot of an ended track that a new one at `anchor` continues, or -1."""
        cand = self._used & ~self._cut & (self._seen_frame < frame) & (now - self._seen <= self.lost_seconds)
        idx = np.flatnonzero(cand)
        if len(idx) == 0:
            return -1
        # Near where it was heading, or near where it was last seen (its box jumped back).
        expected = self._pos[idx] + self._vel[idx] * (now - self._seen[idx])[:, None]
        dist = np.minimum(np.hypot(*(expected - anchor).T), np.hypot(*(self._pos[idx] - anchor).T))
        reach = self.switch_radius * np.maximum(self._size[idx], size)
        ok = dist <= reach
        if not ok.any():
            return -1
        return int(idx[ok][np.argmin(dist[ok])])

    def _lines_step(self, li: int, line: LineZone, slots: np.ndarray, anchors: np.ndarray, cut: np.ndarray,
                    now: float, frame: int, events: list[Event]) -> None:
        if len(slots) == 0:
            return
        s = line.sides(anchors)
        s[cut] = 0  # no news of its side
        side = self._side[slots, li]
        pend = self._pend[slots, li]
        quiet = (s == 0) | ((s == side) & (pend == 0)) | ((s == 2) & (side == 0) & (pend == 0))
        for k in np.flatnonzero(~quiet).tolist():
            slot = int(slots[k])
            new = int(s[k])
            if new == 2:  # off the segment's ends: its side no longer says anything
                self._side[slot, li] = 0
                self._pend[slot, li] = 0
                self._pend_n[slot, li] = 0
                continue
            current = int(self._side[slot, li])
            if current == 0:
                self._side[slot, li] = new
                continue
            if new == current:
                self._pend[slot, li] = 0
                self._pend_n[slot, li] = 0
                continue
            if self._pend[slot, li] == new:
                self._pend_n[slot, li] += 1
            else:
                self._pend[slot, li] = new
                self._pend_n[slot, li] = 1
            if self._pend_n[slot, li] < self.min_frames:
                continue
            self._side[slot, li] = new
            self._pend[slot, li] = 0
            self._pend_n[slot, li] = 0
            direction = 0 if new > 0 else 1
            if self._counted[slot, li, direction]:
                continue
            self._counted[slot, li, direction] = True
            self._crossed_at[slot, li] = now
            c = int(self._cls[slot])
            counts = line.in_counts if direction == 0 else line.out_counts
            counts[c] = counts.get(c, 0) + 1
            events.append(Event("in" if direction == 0 else "out", line.name, int(self._tid[slot]), c, frame, now))

    def _zones_step(self, zi: int, zone: PolygonZone, slots: np.ndarray, anchors: np.ndarray, now: float,
                    frame: int, events: list[Event]) -> None:
        if len(slots) == 0:
            return
        inside = zone.contains(anchors)
        was = self._inside[slots, zi]
        same = inside == was
        self._zpend[slots[same], zi] = 0
        for k in np.flatnonzero(~same).tolist():
            slot = int(slots[k])
            self._zpend[slot, zi] += 1
            if self._zpend[slot, zi] < self.min_frames and not (inside[k] and self._first[slot] == now):
                continue  # a track that starts inside a zone is in it at once
            self._zpend[slot, zi] = 0
            c = int(self._cls[slot])
            if inside[k]:
                self._inside[slot, zi] = True
                self._entered_at[slot, zi] = now
                zone.entered[c] = zone.entered.get(c, 0) + 1
                events.append(Event("enter", zone.name, int(self._tid[slot]), c, frame, now))
            else:
                self._inside[slot, zi] = False
                events.append(Event("exit", zone.name, int(self._tid[slot]), c, frame, now,
                                    now - self._entered_at[slot, zi]))

    def _expire(self, now: float, frame: int, events: list[Event]) -> None:
        gone = np.flatnonzero(self._used & (now - self._seen > self.lost_seconds))
        for slot in gone.tolist():
            c = int(self._cls[slot])
            for zi, zone in enumerate(self.zones):
                if self._inside[slot, zi]:
                    events.append(Event("exit", zone.name, int(self._tid[slot]), c, frame, now,
                                        float(self._seen[slot] - self._entered_at[slot, zi])))
            self._release(slot)
