"""Toolbar icons drawn with QPainter: the same look on every platform and icon theme,
and sharp at any scale because they are painted, not shipped as small bitmaps."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

SIZE = 64
INK = QColor("#e6e6e6")
MUTED = QColor("#7a7a7a")
RED = QColor("#e5484d")

Painter = Callable[[QPainter, QColor], None]


def _tri(p: QPainter, points: list[tuple[float, float]]) -> None:
    p.drawPolygon(QPolygonF([QPointF(x, y) for x, y in points]))


def _play(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    _tri(p, [(20, 12), (52, 32), (20, 52)])


def _pause(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    p.drawRoundedRect(QRectF(16, 12, 11, 40), 2, 2)
    p.drawRoundedRect(QRectF(37, 12, 11, 40), 2, 2)


def _stop(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    p.drawRoundedRect(QRectF(15, 15, 34, 34), 4, 4)


def _step(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    _tri(p, [(14, 14), (40, 32), (14, 50)])
    p.drawRect(QRectF(42, 14, 8, 36))


def _step_back(p: QPainter, c: QColor) -> None:
    p.setBrush(c)
    _tri(p, [(50, 14), (24, 32), (50, 50)])
    p.drawRect(QRectF(14, 14, 8, 36))


def _record(p: QPainter, c: QColor) -> None:
    p.setBrush(RED)
    p.drawEllipse(QRectF(14, 14, 36, 36))


def _snapshot(p: QPainter, c: QColor) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(c, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    body = QPainterPath()
    body.addRoundedRect(QRectF(8, 20, 48, 32), 6, 6)
    p.drawPath(body)
    p.drawLine(QPointF(24, 20), QPointF(28, 13))
    p.drawLine(QPointF(28, 13), QPointF(36, 13))
    p.drawLine(QPointF(36, 13), QPointF(40, 20))
    p.drawEllipse(QRectF(23, 27, 18, 18))


def _export(p: QPainter, c: QColor) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(c, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    p.drawLine(QPointF(32, 10), QPointF(32, 38))
    p.drawPolyline(QPolygonF([QPointF(21, 28), QPointF(32, 39), QPointF(43, 28)]))
    p.drawPolyline(QPolygonF([QPointF(12, 40), QPointF(12, 53), QPointF(52, 53), QPointF(52, 40)]))


def _fullscreen(p: QPainter, c: QColor) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(c, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    for (x, y), (dx, dy) in (((12, 12), (1, 1)), ((52, 12), (-1, 1)), ((12, 52), (1, -1)), ((52, 52), (-1, -1))):
        p.drawPolyline(QPolygonF([QPointF(x, y + 12 * dy), QPointF(x, y), QPointF(x + 12 * dx, y)]))


def _model(p: QPainter, c: QColor) -> None:
    # A small network: three nodes feeding two.
    p.setPen(QPen(c, 3.5))
    left = [QPointF(16, y) for y in (16, 32, 48)]
    right = [QPointF(48, y) for y in (22, 42)]
    for a in left:
        for b in right:
            p.drawLine(a, b)
    p.setBrush(c)
    for pt in left + right:
        p.drawEllipse(pt, 6, 6)


def _source(p: QPainter, c: QColor) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(c, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    p.drawRoundedRect(QRectF(8, 16, 34, 32), 5, 5)
    p.setBrush(c)
    _tri(p, [(44, 28), (56, 20), (56, 44), (44, 36)])


def _reconnect(p: QPainter, c: QColor) -> None:
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setPen(QPen(c, 5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    p.drawArc(QRectF(14, 14, 36, 36), 60 * 16, 290 * 16)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(c)
    _tri(p, [(36, 6), (48, 16), (34, 22)])


PAINTERS: dict[str, Painter] = {
    "play": _play, "pause": _pause, "stop": _stop, "step": _step, "step-back": _step_back,
    "record": _record, "snapshot": _snapshot, "export": _export, "fullscreen": _fullscreen,
    "model": _model, "source": _source, "reconnect": _reconnect,
}


def _pixmap(name: str, colour: QColor) -> QPixmap:
    pixmap = QPixmap(SIZE, SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    PAINTERS[name](p, colour)
    p.end()
    return pixmap


@cache
def icon(name: str) -> QIcon:
    result = QIcon()
    result.addPixmap(_pixmap(name, INK), QIcon.Mode.Normal)
    result.addPixmap(_pixmap(name, MUTED), QIcon.Mode.Disabled)
    return result
