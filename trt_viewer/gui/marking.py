"""Counting lines and zones drawn with the mouse on the picture, in the frame's pixels.

The view hands its mouse, key and paint events to a Sketch while one is going:

- a line: press, drag, release; the two ends, converted from the view's coordinates
  through the rectangle where the (letterboxed, scaled) frame is shown, come out in the
  frame's own pixels;
- a zone: each click adds a corner, double-click or Enter closes it (three corners at
  least), Backspace takes the last corner back;
- Escape cancels either.

What is being drawn is painted over the picture by the view (never into it); once done,
the line or zone goes to the run, which draws it into the frames like the boxes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QLineF, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QKeyEvent, QMouseEvent, QPainter, QPen, QPolygonF

from trt_viewer.core.drawing import mark_colour

if TYPE_CHECKING:
    from trt_viewer.gui.view import VideoView

Point = tuple[float, float]
MIN_DRAG = 6.0  # logical pixels: a shorter drag is a click, not a line
CLOSE_TO_FIRST = 8.0  # logical pixels: a click this near the first corner closes the zone
SAME_POINT = 3.0  # logical pixels: a double-click this near the last corner is on it
HINTS = {
    "line": "Drag across the picture to draw a count line  ·  Esc cancels",
    "zone": "Click the zone's corners  ·  double-click or Enter closes it  ·  Esc cancels",
}
KEYS = (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Backspace)


class Sketch(QObject):
    """A line or zone being drawn on `view`; mode is "" while nothing is."""

    lineDrawn = Signal(object)  # (x1, y1, x2, y2) in frame pixels
    zoneDrawn = Signal(object)  # [(x, y), ...] in frame pixels, three or more
    ended = Signal(str)  # the mode that ended: drawn or cancelled

    def __init__(self, view: VideoView) -> None:
        super().__init__(view)
        self._view = view
        self.mode = ""
        self.points: list[Point] = []  # frame pixels: a line's start, a zone's corners so far
        self._cursor: Point | None = None  # frame pixels: where the mouse is (the edge being drawn)
        self.colour_index = 0  # which mark colour the line or zone will get

    @property
    def active(self) -> bool:
        return bool(self.mode)

    # -- coordinates -------------------------------------------------------------------------
    def to_frame(self, pos: QPointF, clamp: bool = True) -> Point | None:
        """A point of the view (logical pixels) in the frame's pixels; None where no frame is
        shown, or (clamp=False) outside the picture. Points in the letterbox bars are moved
        onto the picture's edge."""
        rect = self._view.image_rect()
        size = self._view.frame_size
        if rect.isEmpty() or size is None:
            return None
        w, h = size
        x = (pos.x() - rect.left()) / rect.width() * w
        y = (pos.y() - rect.top()) / rect.height() * h
        if not clamp and not (0 <= x <= w and 0 <= y <= h):
            return None
        return round(min(max(x, 0.0), float(w)), 1), round(min(max(y, 0.0), float(h)), 1)

    def to_view(self, point: Point) -> QPointF:
        rect = self._view.image_rect()
        size = self._view.frame_size
        if rect.isEmpty() or size is None:
            return QPointF()
        w, h = size
        return QPointF(rect.left() + point[0] / w * rect.width(), rect.top() + point[1] / h * rect.height())

    # -- the mode ----------------------------------------------------------------------------
    def start(self, mode: str) -> bool:
        """Start drawing a "line" or a "zone"; False while no picture is shown to draw on."""
        if mode not in HINTS:
            raise ValueError(f"unknown mark {mode!r}")
        if self._view.image_rect().isEmpty() or self._view.frame_size is None:
            return False
        self.mode, self.points, self._cursor = mode, [], None
        view = self._view
        view.setCursor(Qt.CursorShape.CrossCursor)
        view.setMouseTracking(True)
        view.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        view.setFocus(Qt.FocusReason.OtherFocusReason)
        view.update()
        return True

    def cancel(self) -> None:
        if self.mode:
            self._end()

    def _end(self) -> None:
        mode, self.mode, self.points, self._cursor = self.mode, "", [], None
        view = self._view
        view.unsetCursor()
        view.setMouseTracking(False)
        view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        view.clearFocus()
        view.update()
        self.ended.emit(mode)

    def _finish_zone(self) -> bool:
        if self.mode != "zone" or len(self.points) < 3:
            return False
        points = list(self.points)
        self._end()
        self.zoneDrawn.emit(points)
        return True

    # -- events from the view: each returns whether it was the sketch's ---------------------
    def press(self, event: QMouseEvent) -> bool:
        if not self.mode:
            return False
        if event.button() != Qt.MouseButton.LeftButton:
            return True
        point = self.to_frame(event.position())
        if point is None:
            return True
        if self.mode == "line":
            self.points = [point]
            self._cursor = point
        elif len(self.points) >= 3 and self._near_first(event.position()):
            self._finish_zone()  # a click on the first corner closes the zone
            return True
        elif not self.points or self.points[-1] != point:
            self.points.append(point)
        self._view.update()
        return True

    def _near_first(self, pos: QPointF) -> bool:
        return QLineF(self.to_view(self.points[0]), pos).length() <= CLOSE_TO_FIRST

    def move(self, event: QMouseEvent) -> bool:
        if not self.mode:
            return False
        self._cursor = self.to_frame(event.position())
        self._view.update()
        return True

    def release(self, event: QMouseEvent) -> bool:
        if not self.mode:
            return False
        if self.mode != "line" or event.button() != Qt.MouseButton.LeftButton or not self.points:
            return True
        end = self.to_frame(event.position())
        start = self.points[0]
        if end is None or QLineF(self.to_view(start), self.to_view(end)).length() < MIN_DRAG:
            self.points, self._cursor = [], None  # a click: still waiting for a drag
            self._view.update()
            return True
        self._end()
        self.lineDrawn.emit((start[0], start[1], end[0], end[1]))
        return True

    def double_click(self, event: QMouseEvent) -> bool:
        if not self.mode:
            return False
        if self.mode == "zone":
            # The double-click's first press added this corner already, where there was one.
            point = self.to_frame(event.position())
            if point is not None and (not self.points or QLineF(self.to_view(self.points[-1]),
                                                                event.position()).length() > SAME_POINT):
                self.points.append(point)
            self._finish_zone()
        return True

    def wants(self, event: QEvent) -> bool:
        """A shortcut override for a key the sketch takes (Escape would leave fullscreen)."""
        return bool(self.mode) and isinstance(event, QKeyEvent) and event.key() in KEYS

    def key(self, event: QKeyEvent) -> bool:
        if not self.mode or event.key() not in KEYS:
            return False
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self._end()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._finish_zone()
        elif key == Qt.Key.Key_Backspace and self.points:
            self.points.pop()
            self._view.update()
        return True

    # -- painting, over the picture ----------------------------------------------------------
    def paint(self, p: QPainter) -> None:
        if not self.mode:
            return
        b, g, r = mark_colour(self.colour_index)
        colour = QColor(r, g, b)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(colour, 2, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        points = [self.to_view(pt) for pt in self.points]
        cursor = self.to_view(self._cursor) if self._cursor is not None else None
        if self.mode == "line" and points and cursor is not None:
            p.drawLine(points[0], cursor)
        elif self.mode == "zone" and points:
            p.drawPolyline(QPolygonF([*points, *([cursor] if cursor is not None else [])]))
            if len(points) >= 2:
                p.setPen(QPen(colour, 1, Qt.PenStyle.DotLine))
                p.drawLine(cursor if cursor is not None else points[-1], points[0])
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(colour)
        for point in points:
            p.drawEllipse(point, 4, 4)
        self._paint_hint(p)

    def _paint_hint(self, p: QPainter) -> None:
        view = self._view
        metrics = QFontMetricsF(view.font())
        text = HINTS[self.mode]
        width = min(metrics.horizontalAdvance(text) + 24, view.width() - 16)
        box = QRectF((view.width() - width) / 2, view.height() - metrics.height() - 28, width, metrics.height() + 12)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 170))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor("#ffffff"))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, text)
