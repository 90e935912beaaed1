"""The bar under the picture: play controls, the seek slider with time, loop."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QWidget,
)

from trt_viewer.run.session import SourceInfo


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class SeekSlider(QSlider):
    """Jumps to where it is clicked (as media players do) and reports only what the user
    does, never the position updates the window makes while playing."""

    seekRequested = Signal(int)

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows belong to step, not the slider
        self.sliderMoved.connect(self.seekRequested)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.maximum() > self.minimum():
            option = QStyleOptionSlider()
            self.initStyleOption(option)
            handle = self.style().subControlRect(
                QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self
            )
            if not handle.contains(event.position().toPoint()):
                value = QStyle.sliderValueFromPosition(
                    self.minimum(), self.maximum(), int(event.position().x()) - handle.width() // 2,
                    self.width() - handle.width(),
                )
                self.setValue(value)
                self.seekRequested.emit(value)
        super().mousePressEvent(event)


class TransportBar(QWidget):
    loopToggled = Signal(bool)

    def __init__(self, actions: list[QAction | None]) -> None:
        super().__init__()
        self.setObjectName("transport")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        row.setSpacing(4)
        for action in actions:
            if action is None:
                row.addSpacing(8)
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            button.setIconSize(QSize(20, 20))
            button.setAutoRaise(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            row.addWidget(button)
        row.addSpacing(8)
        self.position = QLabel("–")
        self.slider = SeekSlider()
        self.duration = QLabel("–")
        for label in (self.position, self.duration):
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance("00:00:00") + 4)
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Start again at the end of a file (L)")
        self.loop.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.realtime = QCheckBox("Real-time")
        self.realtime.setToolTip("Play files at their own frame rate instead of as fast as the model runs")
        self.realtime.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        row.addWidget(self.position)
        row.addWidget(self.slider, 1)
        row.addWidget(self.duration)
        row.addSpacing(8)
        row.addWidget(self.loop)
        row.addWidget(self.realtime)
        self.loop.toggled.connect(self.loopToggled)
        self._info: SourceInfo | None = None
        self.set_source(None)

    def set_source(self, info: SourceInfo | None) -> None:
        self._info = info
        seekable = bool(info and info.seekable and info.length)
        self.slider.setEnabled(seekable)
        self.slider.setRange(0, max(0, (info.length or 1) - 1) if seekable and info else 0)
        self.slider.setValue(0)
        self.slider.setPageStep(max(1, round((info.fps or 10) * 5)) if info else 10)
        if info is None:
            self.position.setText("–")
            self.duration.setText("–")
        elif info.live:
            self.position.setText("live")
            self.duration.setText("")
        else:
            self.position.setText(self._label(0, 0.0))
            self.duration.setText(self._total())

    def set_position(self, index: int, timestamp: float) -> None:
        if self._info is None or self._info.live:
            return
        if not self.slider.isSliderDown():
            self.slider.setValue(index)
        self.position.setText(self._label(index, timestamp))

    def _label(self, index: int, timestamp: float) -> str:
        info = self._info
        if info and info.fps and info.length:
            return format_time(timestamp)
        return f"{index + 1}"

    def _total(self) -> str:
        info = self._info
        if not info or not info.length:
            return ""
        if info.fps:
            return format_time(info.length / info.fps)
        return f"/ {info.length}"
