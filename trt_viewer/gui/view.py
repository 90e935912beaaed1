"""The video view: the newest frame, aspect kept, drawn 1:1 in device pixels."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from trt_viewer.gui import icons

BACKGROUND = QColor("#101114")
HINT = QColor("#8b8f98")


class _Notice(QFrame):
    """A card over the picture: what went wrong with the source, and what to do."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.setStyleSheet(
            "#notice { background: rgba(20, 22, 27, 225); border: 1px solid #3a3f4b; border-radius: 10px; }"
            "#notice QLabel { color: #e6e6e6; background: transparent; }"
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
        self.button = QPushButton(icons.icon("reconnect"), "Reconnect")
        self.button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        column.addWidget(self.title)
        column.addWidget(self.detail)
        column.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.hide()


class VideoView(QWidget):
    """Shows QImages the worker already scaled to this widget's device pixels; tells the
    worker its size through `resized` so the next frames come at the right scale."""

    resized = Signal(int, int, float)  # width, height in device pixels, device pixel ratio
    reconnectRequested = Signal()
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
        self.hud_enabled = True
        self.notice = _Notice(self)
        self.notice.button.clicked.connect(self.reconnectRequested)

    # -- what to show ---------------------------------------------------------------------
    @property
    def image(self) -> QImage | None:
        return self._image

    def set_image(self, image: QImage) -> None:
        self._image = image
        self.update()

    def clear(self) -> None:
        self._image = None
        self.update()

    def set_badge(self, text: str) -> None:
        """A small state label in the corner (Paused, Ended); '' hides it."""
        if text != self._badge:
            self._badge = text
            self.update()

    def set_hud(self, lines: list[str]) -> None:
        """Rate and count in the top-left corner: painted over the picture, never into it,
        so snapshots and recordings stay clean."""
        if lines != self._hud:
            self._hud = lines
            self.update()

    def set_recording(self, on: bool) -> None:
        if on != self._recording:
            self._recording = on
            self.update()

    def show_notice(self, title: str, detail: str, reconnect: bool = False) -> None:
        self.notice.title.setText(title)
        self.notice.detail.setText(detail)
        self.notice.button.setVisible(reconnect)
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

    def mouseDoubleClickEvent(self, event: object) -> None:
        self.doubleClicked.emit()

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
                self._paint_hud(p, target)
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

    def _paint_hud(self, p: QPainter, target: QRectF) -> None:
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        width = max(metrics.horizontalAdvance(line) for line in self._hud) + 20
        height = metrics.height() * len(self._hud) + 12
        box = QRectF(max(0.0, target.left()) + 12, max(0.0, target.top()) + 12, width, height)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(box, 6, 6)
        p.setPen(QColor("#ffffff"))
        for i, line in enumerate(self._hud):
            p.drawText(QRectF(box.left() + 10, box.top() + 6 + i * metrics.height(), width, metrics.height()),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, line)

    def _paint_badges(self, p: QPainter) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        metrics = p.fontMetrics()
        y = 12
        if self._recording:
            text = "REC"
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
