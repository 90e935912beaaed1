"""The video view: the newest frame, aspect kept, drawn 1:1 in device pixels."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from trt_viewer.gui import icons
from trt_viewer.gui.marking import Sketch

BACKGROUND = QColor("#101114")
HINT = QColor("#8b8f98")
HUD_PAD = QPointF(10, 6)  # text to the HUD's edge
HUD_MARGIN = 12  # HUD to the picture's corner
BAR_MARGIN = 4  # HUD to the edges of a letterbox bar
HUD_SEPARATOR = "   ·   "  # between the figures when they go on one row
BARS = ("top", "left", "bottom", "right")  # the letterbox bars, where the HUD hides nothing
Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 in the image's pixels, both ends included


class _Notice(QFrame):
    """A card over the picture: what went wrong with the source, what is being done about
    it (progress: the countdown to the next reconnect; reason: why the last one failed, in
    small text), and what to do (Reconnect, Cancel)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setStyleSheet(
            "#notice { background: rgba(20, 22, 27, 225); border: 1px solid #3a3f4b; border-radius: 10px; }"
            "#notice QLabel { color: #e6e6e6; background: transparent; }"
            "#notice QLabel#noticeReason { color: #9aa0ab; }"
        )
        column = QVBoxLayout(self)
        column.setContentsMargins(24, 18, 24, 18)
        column.setSpacing(10)
        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress = QLabel()
        self.progress.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason = QLabel()
        self.reason.setObjectName("noticeReason")
        self.reason.setWordWrap(True)
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        small = self.reason.font()
        if small.pointSizeF() > 0:
            small.setPointSizeF(small.pointSizeF() * 0.85)
            self.reason.setFont(small)
        self.button = QPushButton(icons.icon("reconnect"), "Reconnect")
        self.cancel = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.button, self.cancel):
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button)
        buttons.addStretch(1)
        for label in (self.title, self.detail, self.progress, self.reason):
            column.addWidget(label)
        column.addLayout(buttons)
        self.hide()


class VideoView(QWidget):
    """Shows QImages the worker already scaled to this widget's device pixels; tells the
    worker its size through `resized` so the next frames come at the right scale."""

    resized = Signal(int, int, float)  # width, height in device pixels, device pixel ratio
    reconnectRequested = Signal()
    cancelReconnectRequested = Signal()  # the notice's Cancel: no more automatic reconnects
    doubleClicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("videoView")
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._image: QImage | None = None
        self._badge = ""
        self._recording = False
        self._hud: list[str] = []
        self._hud_regions: list[Rect] = []  # what the HUD must not cover: boxes and labels on the image
        self._hud_spot = ""  # where the HUD went last: it stays there while that is still clear
        self.hud_enabled = True
        self._clock: Callable[[], float] = time.monotonic
        self._recording_since = 0.0
        self._recording_tick = QTimer(self)  # the REC badge's time, while nothing else repaints
        self._recording_tick.setInterval(500)
        self._recording_tick.timeout.connect(self.update)
        self.notice = _Notice(self)
        self.notice.button.clicked.connect(self.reconnectRequested)
        self.notice.cancel.clicked.connect(self.cancelReconnectRequested)
        self.frame_size: tuple[int, int] | None = None  # (W, H) of the frame shown, in its own pixels
        self.sketch = Sketch(self)  # a counting line or zone being drawn with the mouse

    # -- what to show ---------------------------------------------------------------------
    @property
    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage) -> None:
        self._image = image
        self.update()

    def clear(self) -> None:
        self._image = None
        self.frame_size = None
        self.sketch.cancel()  # nothing left to draw on
        self.update()

    def set_frame_size(self, width: int, height: int) -> None:
        """The size of the frame the image on screen shows (the image is scaled to the view):
        lines and zones drawn with the mouse are given in these pixels."""
        self.frame_size = (width, height)

    def set_badge(self, text: str) -> None:
        """A small state label in the corner (Paused, Ended); '' hides it."""
        if text != self._badge:
            self._badge = text
            self.update()

    def set_hud(self, lines: list[str], regions: Sequence[Rect] = ()) -> None:
        """Rate and count, painted over the view, never into the picture, so snapshots and
        recordings stay clean. `regions`: the boxes and labels drawn on the image on screen
        (its pixels), which the HUD keeps clear of (see hud_rect)."""
        regions = list(regions)
        if lines != self._hud or regions != self._hud_regions:
            self._hud = lines
            self._hud_regions = regions
            self.update()

    @property
    def hud_lines(self) -> list[str]:
        return list(self._hud)

    def set_recording(self, on: bool) -> None:
        if on != self._recording:
            self._recording = on
            self._recording_since = self._clock()
            if on:
                self._recording_tick.start()
            else:
                self._recording_tick.stop()
            self.update()

    def recording_text(self) -> str:
        """REC and the time since the recording started: m:ss, h:mm:ss past the hour."""
        seconds = max(0, int(self._clock() - self._recording_since))
        hours, rest = divmod(seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"REC {hours}:{minutes:02d}:{seconds:02d}" if hours else f"REC {minutes:02d}:{seconds:02d}"

    def show_notice(self, title: str, detail: str, reconnect: bool = False, *, progress: str = "",
                    reason: str = "", cancel: bool = False, reconnect_text: str = "Reconnect") -> None:
        """The card over the picture, all of it at once: progress ("Reconnecting in 4 s…")
        and reason (why the last attempt failed) are left out when empty; reconnect and
        cancel show those buttons."""
        notice = self.notice
        notice.title.setText(title)
        notice.detail.setText(detail)
        for label, text in ((notice.progress, progress), (notice.reason, reason)):
            label.setText(text)
            label.setVisible(bool(text))
        notice.button.setText(reconnect_text)
        notice.button.setVisible(reconnect)
        notice.cancel.setVisible(cancel)
        self.notice.show()
        self.notice.raise_()
        self._place_notice()

    def hide_notice(self) -> None:
        self.notice.hide()

    def device_size(self) -> tuple[int, int, float]:
        ratio = self.devicePixelRatioF()
        return round(self.width() * ratio), round(self.height() * ratio), ratio

    # -- Qt -------------------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(960, 540)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_notice()
        self.resized.emit(*self.device_size())

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if not self.sketch.double_click(event):
            self.doubleClicked.emit()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self.sketch.press(event):
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self.sketch.move(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if not self.sketch.release(event):
            super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.sketch.key(event):
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        # While drawing, Escape, Enter and Backspace are the sketch's, not the window's
        # shortcuts (Escape would leave fullscreen).
        if event.type() == QEvent.Type.ShortcutOverride and self.sketch.wants(event):
            event.accept()
            return True
        return super().event(event)

    def _place_notice(self) -> None:
        if not self.notice.isVisible():
            return
        width = min(460, self.width() - 40)
        self.notice.setFixedWidth(max(200, width))
        self.notice.adjustSize()
        self.notice.move((self.width() - self.notice.width()) // 2, (self.height() - self.notice.height()) // 2)

    def image_rect(self) -> QRectF:
        """Where the frame lands, in logical pixels: centred, aspect kept."""
        if self._image is None or self._image.isNull():
            return QRectF()
        ratio = self._image.devicePixelRatio() or 1.0
        iw, ih = self._image.width() / ratio, self._image.height() / ratio
        scale = min(self.width() / iw, self.height() / ih)
        w, h = iw * scale, ih * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), BACKGROUND)
        if self._image is None or self._image.isNull():
            self._paint_placeholder(p)
        else:
            target = self.image_rect()
            ratio = self._image.devicePixelRatio() or 1.0
            if abs(target.width() * ratio - self._image.width()) > 1:
                # Between a resize and the next frame: scale smoothly until the worker catches up.
                p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            p.drawImage(target, self._image)
            if self.hud_enabled and self._hud:
                self._paint_hud(p)
            self.sketch.paint(p)
        self._paint_badges(p)
        p.end()

    def _paint_placeholder(self, p: QPainter) -> None:
        p.setPen(HINT)
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.5)
        p.setFont(font)
        r = self.rect().adjusted(20, 0, -20, -self.height() // 6)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                   "Open a model and a video, camera or folder of images")
        font.setPointSizeF(self.font().pointSizeF())
        p.setFont(font)
        r = self.rect().adjusted(20, self.height() // 8, -20, 0)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                   "Ctrl+O to open, or drop the files here")

    # -- the HUD: where it goes --------------------------------------------------------------
    def _hud_font(self) -> QFont:
        font = QFont(self.font())
        font.setBold(True)
        return font

    def hud_regions(self) -> list[QRectF]:
        """The boxes and labels on screen, in this widget's coordinates."""
        target = self.image_rect()
        if target.isEmpty() or self._image is None:
            return []
        sx, sy = target.width() / self._image.width(), target.height() / self._image.height()
        rects = (QRectF(target.left() + x1 * sx, target.top() + y1 * sy, (x2 - x1 + 1) * sx, (y2 - y1 + 1) * sy)
                 for x1, y1, x2, y2 in self._hud_regions)
        return [r for r in (r.intersected(target) for r in rects) if not r.isEmpty()]

    def _hud_spots(self, target: QRectF) -> list[tuple[str, QRectF, bool]]:
        """Where the HUD may go, best first: (name, rectangle, figures on one row).

        First the letterbox bars, where it covers nothing of the picture: one row above or
        below the image, stacked beside it. Then the picture's corners."""
        metrics = QFontMetricsF(self._hud_font())
        pad, line = HUD_PAD, metrics.height()
        row = QSize(round(metrics.horizontalAdvance(HUD_SEPARATOR.join(self._hud)) + 2 * pad.x()),
                    round(line + 2 * pad.y()))
        stack = QSize(round(max(metrics.horizontalAdvance(t) for t in self._hud) + 2 * pad.x()),
                      round(line * len(self._hud) + 2 * pad.y()))
        w, h, m = float(self.width()), float(self.height()), BAR_MARGIN
        spots = [
            ("top", QRectF(target.left() + m, (target.top() - row.height()) / 2, row.width(), row.height()), True),
            ("left", QRectF((target.left() - stack.width()) / 2, target.top() + m, stack.width(), stack.height()),
             False),
            ("bottom", QRectF(target.left() + m, (target.bottom() + h - row.height()) / 2, row.width(),
                              row.height()), True),
            ("right", QRectF((target.right() + w - stack.width()) / 2, target.bottom() - m - stack.height(),
                             stack.width(), stack.height()), False),
        ]
        widget = QRectF(0, 0, w, h)
        fits = [(name, r, one_row) for name, r, one_row in spots
                if widget.contains(r) and not r.intersects(target) and r.top() >= m and r.left() >= m
                and r.bottom() <= h - m and r.right() <= w - m]
        m = HUD_MARGIN
        left, top = target.left() + m, target.top() + m
        right, bottom = target.right() - m - stack.width(), target.bottom() - m - stack.height()
        corners = [
            ("top-left", QRectF(left, top, stack.width(), stack.height()), False),
            ("top-right", QRectF(right, top, stack.width(), stack.height()), False),
            ("bottom-left", QRectF(left, bottom, stack.width(), stack.height()), False),
            ("bottom-right", QRectF(right, bottom, stack.width(), stack.height()), False),
        ]
        return fits + corners

    def _hud_place(self) -> tuple[QRectF, bool]:
        target = self.image_rect()
        if target.isEmpty() or not self._hud:
            return QRectF(), False
        spots = self._hud_spots(target)
        obstacles = [*self.hud_regions(), *self._badge_rects()]

        def covered(rect: QRectF) -> float:
            area = 0.0
            for r in obstacles:
                part = rect.intersected(r)
                area += part.width() * part.height()
            return area

        clear = [s for s in spots if covered(s[1]) == 0]
        bars = [s for s in clear if s[0] in BARS]
        if bars:
            choice = bars[0]
        elif clear:  # a corner: the one it is in while that stays clear, so it does not hop about
            choice = next((s for s in clear if s[0] == self._hud_spot), clear[0])
        else:  # boxes everywhere: the corner it hides least in
            choice = min(spots, key=lambda s: covered(s[1]))
        self._hud_spot = choice[0]
        return choice[1], choice[2]

    def hud_rect(self) -> QRectF:
        """Where the rate and count are painted, in this widget's coordinates; empty when
        they are not shown. Outside the picture where the letterbox leaves room, else the
        corner of the picture that no box or label is in."""
        if not (self.hud_enabled and self._hud) or self._image is None or self._image.isNull():
            return QRectF()
        return self._hud_place()[0]

    def _paint_hud(self, p: QPainter) -> None:
        box, one_row = self._hud_place()
        if box.isEmpty():
            return
        p.setFont(self._hud_font())
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor("#ffffff"))
        text = box.adjusted(HUD_PAD.x(), HUD_PAD.y(), -HUD_PAD.x(), -HUD_PAD.y())
        align = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        if one_row:
            p.drawText(text, align, HUD_SEPARATOR.join(self._hud))
            return
        line = text.height() / len(self._hud)
        for i, t in enumerate(self._hud):
            p.drawText(QRectF(text.left(), text.top() + i * line, text.width(), line), align, t)

    # -- the badges -----------------------------------------------------------------------------
    def _badge_rects(self) -> list[QRectF]:
        """Where the REC and state badges are painted (see _paint_badges)."""
        metrics = QFontMetricsF(self._hud_font())
        rects, y = [], 12.0
        for text, extra in ((self.recording_text(), 34) if self._recording else ("", 0), (self._badge, 20)):
            if text:
                w = metrics.horizontalAdvance(text) + extra
                rects.append(QRectF(self.width() - w - 12, y, w, metrics.height() + 10))
                y += metrics.height() + 10 + 8
        return rects

    def _paint_badges(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        y = 12
        if self._recording:
            text = self.recording_text()
            w = metrics.horizontalAdvance(text) + 34
            box = QRectF(self.width() - w - 12, y, w, metrics.height() + 10)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 160))
            p.drawRoundedRect(box, 6, 6)
            p.setBrush(icons.RED)
            p.drawEllipse(QRectF(box.left() + 10, box.center().y() - 5, 10, 10))
            p.setPen(QColor("#ffffff"))
            p.drawText(box.adjusted(24, 0, 0, 0), Qt.AlignmentFlag.AlignCenter, text)
            y += int(box.height()) + 8
        if self._badge:
            w = metrics.horizontalAdvance(self._badge) + 20
            box = QRectF(self.width() - w - 12, y, w, metrics.height() + 10)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(0, 0, 0, 160))
            p.drawRoundedRect(box, 6, 6)
            p.setPen(QColor("#ffffff"))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, self._badge)
