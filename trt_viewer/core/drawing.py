"""Boxes and labels drawn on a frame, a colour per class.

The same code draws the viewer's picture (after scaling it to the view), snapshots and
recordings (full size), so a `DrawStyle` looks the same in all three. Labels are laid out
before anything is drawn: each stays whole inside the frame (above its box, else just
inside its top edge), and a label that would cover one already placed moves down past it
(up where the bottom of the frame leaves no room).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from trt_viewer.core.detections import Detections, label_for

FONT = cv2.FONT_HERSHEY_SIMPLEX
Rect = tuple[int, int, int, int]  # x1, y1, x2, y2: pixels, both ends included
Names = list[str] | tuple[str, ...]


@dataclass(frozen=True)
class DrawStyle:
    """How boxes and labels look; the defaults are the original look.

    line_width and font_size scale the automatic sizes, which follow the image's size
    (a thicker line on a 4K frame than on the view's 960 px), so one style suits the view,
    snapshots and recordings alike."""

    line_width: float = 1.0
    font_size: float = 1.0
    show_confidence: bool = True

    def thickness(self, h: int, w: int) -> int:
        return max(1, round(max(1.0, min(h, w) / 360) * self.line_width))

    def font_scale(self, h: int, w: int) -> float:
        return max(0.4, min(h, w) / 1100) * self.font_size

    def text(self, names: Names, class_id: int, score: float) -> str:
        name = label_for(names, class_id)
        return f"{name} {score:.2f}" if self.show_confidence else name


DEFAULT_STYLE = DrawStyle()


@dataclass(frozen=True)
class Placed:
    """One detection as drawn: its box, and its label's rectangle and text."""

    box: Rect
    label: Rect
    text: str
    class_id: int
    baseline: int  # the text's baseline row


@lru_cache(maxsize=1024)
def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour: hues stepped by the golden ratio."""
    hue = (class_id * 0.618033988749895 + 0.12) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


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
                      style: DrawStyle = DEFAULT_STYLE) -> list[Placed]:
    """Where each box and label goes on an image of `shape` (H, W, ...)."""
    h, w = shape[:2]
    if len(detections) == 0 or h <= 0 or w <= 0:
        return []
    font_scale = style.font_scale(h, w)
    placed: list[Placed] = []
    labels: list[Rect] = []
    boxes = detections.boxes.round().astype(np.int64)
    for box, score, cid in zip(boxes, detections.scores, detections.class_ids):
        x1, y1, x2, y2 = (int(v) for v in box)
        text = style.text(names, int(cid), float(score))
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
        placed.append(Placed((x1, y1, x2, y2), label, text, int(cid), top + th + 1))
    return placed


def draw_detections(image: np.ndarray, detections: Detections, names: Names,
                    style: DrawStyle = DEFAULT_STYLE) -> np.ndarray:
    """Draw in place on a BGR (or BGRA, alpha kept opaque) uint8 image and return it."""
    draw_layout(image, layout_detections(image.shape, detections, names, style), style)
    return image


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
        cv2.rectangle(image, (x1, y1), (x2, y2), class_colour(p.class_id) + opaque, thickness, cv2.LINE_AA)
    for p in placed:
        colour = class_colour(p.class_id) + opaque
        lx1, ly1, lx2, ly2 = p.label
        cv2.rectangle(image, (lx1, ly1), (lx2, ly2), colour, -1)
        cv2.putText(image, p.text, (lx1 + 2, p.baseline), FONT, font_scale, _text_colour(colour) + opaque, 1,
                    cv2.LINE_AA)
        if opaque:  # OpenCV's anti-aliased text blends the alpha byte too: make it opaque again
            image[ly1: ly2 + 1, lx1: lx2 + 1, 3] = 255
    return image


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
