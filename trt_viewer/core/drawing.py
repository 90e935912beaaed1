"""Boxes and labels drawn on a frame, a colour per class (or per track).

The same code draws the viewer's picture (after scaling it to the view), snapshots and
recordings (full size), so a `DrawStyle` looks the same in all three. Labels are laid out
before anything is drawn: each stays whole inside the frame (above its box, else just
inside its top edge), and a label that would cover one already placed moves down past it
(up where the bottom of the frame leaves no room).

Where the run tracks, a detection's label starts with its track id ("#12 person 0.91"),
and a `TrackOverlay` adds what tracking knows beyond the frame's boxes: each track's trail
(its recent anchor points) and the counting lines and zones with their names and counts.
Nothing of it is drawn where nothing is tracked: the picture is then as it always was.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import cv2
import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections, label_for

FONT = cv2.FONT_HERSHEY_SIMPLEX
Rect = tuple[int, int, int, int]  # x1, y1, x2, y2: pixels, both ends included
Names = list[str] | tuple[str, ...]
Colour = tuple[int, int, int]
COLOUR_BY = ("class", "track")


@dataclass(frozen=True)
class DrawStyle:
    """How boxes and labels look; the defaults are the original look.

    line_width and font_size scale the automatic sizes, which follow the image's size
    (a thicker line on a 4K frame than on the view's 960 px), so one style suits the view,
    snapshots and recordings alike."""

    line_width: float = 1.0
    font_size: float = 1.0
    show_confidence: bool = True
    colour_by: str = "class"  # "class", or "track": a colour per track id where there is one
    trails: bool = True  # draw the trails a TrackOverlay carries
    trail_length: int = 30  # at most this many of each trail's newest points

    def thickness(self, h: int, w: int) -> int:
        return max(1, round(max(1.0, min(h, w) / 360) * self.line_width))

    def font_scale(self, h: int, w: int) -> float:
        return max(0.4, min(h, w) / 1100) * self.font_size

    def text(self, names: Names, class_id: int, score: float, track_id: int = NO_TRACK) -> str:
        name = label_for(names, class_id)
        text = f"{name} {score:.2f}" if self.show_confidence else name
        return text if track_id == NO_TRACK else f"#{track_id} {text}"

    def colour(self, class_id: int, track_id: int = NO_TRACK) -> Colour:
        """A detection's (or trail's) colour: its track's when colouring by track and it
        has one, else its class's."""
        if self.colour_by == "track" and track_id != NO_TRACK:
            return track_colour(track_id)
        return class_colour(class_id)


DEFAULT_STYLE = DrawStyle()


@dataclass(frozen=True)
class Placed:
    """One detection as drawn: its box, and its label's rectangle and text."""

    box: Rect
    label: Rect
    text: str
    class_id: int
    baseline: int  # the text's baseline row
    track_id: int = NO_TRACK


@dataclass(frozen=True)
class LineMark:
    """A counting line as drawn: its ends in frame pixels, and what it counted so far."""

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    in_count: int = 0
    out_count: int = 0

    @property
    def text(self) -> str:
        return f"{self.name}  in {self.in_count}  out {self.out_count}"


@dataclass(frozen=True)
class ZoneMark:
    """A counting zone as drawn: its corners in frame pixels, and how many are in it now."""

    name: str
    points: tuple[tuple[float, float], ...]
    occupancy: int = 0

    @property
    def text(self) -> str:
        return f"{self.name}  {self.occupancy} inside"


@dataclass(frozen=True)
class TrackOverlay:
    """What tracking draws besides the boxes, in frame pixels: each track's recent anchor
    points (oldest first) and class, and the counting lines and zones with their counts."""

    trails: dict[int, np.ndarray] = field(default_factory=dict)  # track id -> [k, 2]
    trail_classes: dict[int, int] = field(default_factory=dict)  # track id -> class id
    lines: tuple[LineMark, ...] = ()
    zones: tuple[ZoneMark, ...] = ()

    def scaled(self, sx: float, sy: float) -> TrackOverlay:
        """The same overlay on a picture scaled by sx, sy (the view's)."""
        scale = np.array([sx, sy])
        return replace(
            self,
            trails={tid: np.asarray(points, np.float64).reshape(-1, 2) * scale for tid, points in self.trails.items()},
            lines=tuple(replace(m, start=(m.start[0] * sx, m.start[1] * sy), end=(m.end[0] * sx, m.end[1] * sy))
                        for m in self.lines),
            zones=tuple(replace(z, points=tuple((x * sx, y * sy) for x, y in z.points)) for z in self.zones),
        )


@dataclass(frozen=True)
class _Tag:
    """A line's or zone's label as placed: its rectangle, text, colour and baseline row."""

    rect: Rect
    text: str
    colour: Colour
    baseline: int


@lru_cache(maxsize=1024)
def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour: hues stepped by the golden ratio."""
    hue = (class_id * 0.618033988749895 + 0.12) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


@lru_cache(maxsize=4096)
def track_colour(track_id: int) -> Colour:
    """A stable BGR colour per track id, neighbours far apart (golden-ratio hues, two
    brightnesses in turn)."""
    hue = (track_id * 0.618033988749895 + 0.55) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.8, 1.0 if track_id % 2 else 0.8)
    return int(b * 255), int(g * 255), int(r * 255)


# Lines and zones: bright colours that read on most footage, one per line or zone in turn.
MARK_COLOURS: tuple[Colour, ...] = ((0, 215, 255), (255, 191, 0), (180, 105, 255), (127, 255, 0), (0, 140, 255))


def mark_colour(index: int) -> Colour:
    return MARK_COLOURS[index % len(MARK_COLOURS)]


def _text_colour(bg: tuple[int, ...]) -> tuple[int, int, int]:
    luma = 0.114 * bg[0] + 0.587 * bg[1] + 0.299 * bg[2]
    return (0, 0, 0) if luma > 150 else (255, 255, 255)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _free_top(top: int, span: tuple[int, int], height: int, placed: list[Rect], step: int, last: int) -> int | None:
    """The first top from `top` on, moving down (step > 0) or up, at which a label of this
    height over the columns `span` covers none of `placed`; None past 0 or `last`."""
    while 0 <= top <= last:
        hits = [r for r in placed if _overlaps((span[0], top, span[1], top + height - 1), r)]
        if not hits:
            return top
        # Past the labels in the way: strictly further each time, so this ends.
        top = max(r[3] for r in hits) + 1 if step > 0 else min(r[1] for r in hits) - height
    return None


def layout_detections(shape: tuple[int, ...], detections: Detections, names: Names,
                      style: DrawStyle = DEFAULT_STYLE, avoid: Sequence[Rect] = ()) -> list[Placed]:
    """Where each box and label goes on an image of `shape` (H, W, ...); labels keep clear
    of the rectangles in `avoid` (the lines' and zones' labels) as of each other."""
    h, w = shape[:2]
    if len(detections) == 0 or h <= 0 or w <= 0:
        return []
    font_scale = style.font_scale(h, w)
    placed: list[Placed] = []
    labels: list[Rect] = list(avoid)
    boxes = detections.boxes.round().astype(np.int64)
    ids = detections.track_ids if detections.track_ids is not None else np.full(len(detections), NO_TRACK)
    for box, score, cid, tid in zip(boxes, detections.scores, detections.class_ids, ids.tolist()):
        x1, y1, x2, y2 = (int(v) for v in box)
        text = style.text(names, int(cid), float(score), int(tid))
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, 1)
        lw, lh = tw + 5, th + base + 3  # the filled rectangle, both ends included
        lx = min(max(0, x1), max(0, w - lw))  # whole inside the frame where it fits at all
        bottom_room = max(0, h - lh)
        # On the box's top edge, above it; just inside it when the frame's top leaves no room.
        top = y1 - lh + 1 if y1 - lh + 1 >= 0 else max(0, y1)
        top = min(top, bottom_room)
        span = (lx, lx + lw - 1)
        free = _free_top(top, span, lh, labels, +1, bottom_room)
        if free is None:
            free = _free_top(top, span, lh, labels, -1, bottom_room)
        top = top if free is None else free  # nowhere free: the overlap cannot be helped
        label = (span[0], top, span[1], top + lh - 1)
        labels.append(label)
        placed.append(Placed((x1, y1, x2, y2), label, text, int(cid), top + th + 1, int(tid)))
    return placed


def draw_detections(image: np.ndarray, detections: Detections, names: Names,
                    style: DrawStyle = DEFAULT_STYLE, overlay: TrackOverlay | None = None) -> np.ndarray:
    """Draw in place on a BGR (or BGRA, alpha kept opaque) uint8 image and return it;
    `overlay` (frame pixels of this image): trails, lines and zones."""
    draw_annotations(image, detections, names, style, overlay)
    return image


def draw_annotations(image: np.ndarray, detections: Detections, names: Names, style: DrawStyle = DEFAULT_STYLE,
                     overlay: TrackOverlay | None = None) -> list[Rect]:
    """Draw everything in place (zones and lines, then trails, boxes, and the labels over
    them) and return the rectangles drawn: each box and label, and each line's or zone's
    label."""
    tags: list[_Tag] = []
    if overlay is not None:
        draw_marks(image, overlay, style)
        tags = layout_tags(image.shape, overlay, style)
    placed = layout_detections(image.shape, detections, names, style, [t.rect for t in tags])
    draw_layout(image, placed, style)
    _draw_tags(image, tags, style)
    return [r for p in placed for r in (p.box, p.label)] + [t.rect for t in tags]


def draw_layout(image: np.ndarray, placed: list[Placed], style: DrawStyle = DEFAULT_STYLE) -> np.ndarray:
    """Boxes first, then the labels over them, so no box's line crosses a label's text."""
    if not placed:
        return image
    opaque = (255,) if image.ndim == 3 and image.shape[2] == 4 else ()
    h, w = image.shape[:2]
    thickness = style.thickness(h, w)
    font_scale = style.font_scale(h, w)
    for p in placed:
        x1, y1, x2, y2 = p.box
        cv2.rectangle(image, (x1, y1), (x2, y2), style.colour(p.class_id, p.track_id) + opaque, thickness,
                      cv2.LINE_AA)
    for p in placed:
        colour = style.colour(p.class_id, p.track_id) + opaque
        lx1, ly1, lx2, ly2 = p.label
        cv2.rectangle(image, (lx1, ly1), (lx2, ly2), colour, -1)
        cv2.putText(image, p.text, (lx1 + 2, p.baseline), FONT, font_scale, _text_colour(colour) + opaque, 1,
                    cv2.LINE_AA)
        if opaque:  # OpenCV's anti-aliased text blends the alpha byte too: make it opaque again
            image[ly1: ly2 + 1, lx1: lx2 + 1, 3] = 255
    return image


# -- tracking: trails, counting lines and zones ----------------------------------------------

ZONE_FILL = 0.2  # how much of a zone's colour tints the picture inside it


def _point(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


def _ints(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)


def draw_marks(image: np.ndarray, overlay: TrackOverlay, style: DrawStyle = DEFAULT_STYLE) -> np.ndarray:
    """The zones (tinted, outlined), the counting lines (with an arrow to their "in" side)
    and the trails, in place; their labels are layout_tags' and _draw_tags'."""
    opaque = (255,) if image.ndim == 3 and image.shape[2] == 4 else ()
    h, w = image.shape[:2]
    if h <= 0 or w <= 0:
        return image
    thickness = style.thickness(h, w)
    for k, zone in enumerate(overlay.zones):
        pts = _ints(np.array(zone.points))
        colour = mark_colour(len(overlay.lines) + k) + opaque
        x, y, bw, bh = cv2.boundingRect(pts)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
        if x1 > x0 and y1 > y0:  # tint only the zone's bounding box: no full-frame blend
            roi = image[y0:y1, x0:x1]
            tinted = roi.copy()
            cv2.fillPoly(tinted, [pts - np.array([x0, y0], np.int32)], colour)
            cv2.addWeighted(tinted, ZONE_FILL, roi, 1 - ZONE_FILL, 0, dst=roi)
        cv2.polylines(image, [pts], True, colour, thickness, cv2.LINE_AA)
    for k, line in enumerate(overlay.lines):
        colour = mark_colour(k) + opaque
        start = np.array(line.start, np.float64)
        end = np.array(line.end, np.float64)
        p1, p2 = _point(start), _point(end)
        cv2.line(image, p1, p2, colour, thickness + 1, cv2.LINE_AA)
        for p in (p1, p2):
            cv2.circle(image, p, thickness + 2, colour, -1, cv2.LINE_AA)
        d = end - start
        length = float(np.hypot(*d))
        if length > 0:
            normal = np.array([-d[1], d[0]]) / length  # towards the "in" side (track.LineZone)
            mid = (start + end) / 2
            tip = mid + normal * max(12.0, 6.0 * thickness)
            cv2.arrowedLine(image, _point(mid), _point(tip), colour, thickness, cv2.LINE_AA, tipLength=0.4)
    if style.trails and style.trail_length > 1:
        for tid, points in overlay.trails.items():
            pts = np.asarray(points).reshape(-1, 2)[-style.trail_length:]
            if len(pts) < 2:
                continue
            colour = style.colour(overlay.trail_classes.get(tid, 0), tid) + opaque
            cv2.polylines(image, [_ints(pts)], False, colour, thickness, cv2.LINE_AA)
    return image


def layout_tags(shape: tuple[int, ...], overlay: TrackOverlay, style: DrawStyle = DEFAULT_STYLE) -> list[_Tag]:
    """Where the lines' and zones' labels go: past the first end of each line on its "out"
    side (its arrow points to "in"; two lines crossing in the middle keep their labels
    apart), above the top corner of each zone; all inside the frame, none over another."""
    h, w = shape[:2]
    if h <= 0 or w <= 0:
        return []
    font_scale = style.font_scale(h, w)
    gap = style.thickness(h, w) + 4
    tags: list[_Tag] = []

    def size(text: str) -> tuple[int, int, int]:
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, 1)
        return tw + 5, th + base + 3, th

    def place(text: str, colour: Colour, cx: float, cy: float) -> None:
        lw, lh, th = size(text)
        x = round(float(min(max(0.0, cx - lw / 2), max(0, w - lw))))
        top = round(float(min(max(0.0, cy - lh / 2), max(0, h - lh))))
        taken = [t.rect for t in tags]
        span = (x, x + lw - 1)
        free = _free_top(top, span, lh, taken, +1, max(0, h - lh))
        if free is None:
            free = _free_top(top, span, lh, taken, -1, max(0, h - lh))
        top = top if free is None else free
        tags.append(_Tag((x, top, x + lw - 1, top + lh - 1), text, colour, top + th + 1))

    for k, line in enumerate(overlay.lines):
        start, end = np.array(line.start, np.float64), np.array(line.end, np.float64)
        d = end - start
        length = float(np.hypot(*d)) or 1.0
        along, normal = d / length, np.array([-d[1], d[0]]) / length
        lw, lh, _ = size(line.text)
        # In from the first end by its own extent along the line, and off the line on the
        # "out" side by its extent across it.
        inward = abs(along[0]) * lw / 2 + abs(along[1]) * lh / 2 + 2 * gap
        away = abs(normal[0]) * lw / 2 + abs(normal[1]) * lh / 2 + gap
        centre = start + along * min(inward, length / 2) - normal * away
        place(line.text, mark_colour(k), float(centre[0]), float(centre[1]))
    for k, zone in enumerate(overlay.zones):
        pts = np.array(zone.points, np.float64).reshape(-1, 2)
        top = pts[int(np.argmin(pts[:, 1]))]
        _, lh, _ = size(zone.text)
        place(zone.text, mark_colour(len(overlay.lines) + k), float(top[0]), float(top[1]) - lh / 2 - gap)
    return tags


def _draw_tags(image: np.ndarray, tags: list[_Tag], style: DrawStyle) -> None:
    opaque = (255,) if image.ndim == 3 and image.shape[2] == 4 else ()
    h, w = image.shape[:2]
    font_scale = style.font_scale(h, w)
    for tag in tags:
        colour = tag.colour + opaque
        x1, y1, x2, y2 = tag.rect
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, -1)
        cv2.putText(image, tag.text, (x1 + 2, tag.baseline), FONT, font_scale, _text_colour(colour) + opaque, 1,
                    cv2.LINE_AA)
        if opaque:
            image[max(0, y1): y2 + 1, max(0, x1): x2 + 1, 3] = 255


def draw_overlay(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """Status text (FPS, counts) in the top-left corner, readable on any background."""
    scale = max(0.5, min(image.shape[:2]) / 900)
    y = 8
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, FONT, scale, 1)
        cv2.rectangle(image, (6, y - 2), (14 + tw, y + th + base + 2), (0, 0, 0), -1)
        cv2.putText(image, line, (10, y + th), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
        y += th + base + 8
    return image
