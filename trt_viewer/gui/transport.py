"""The bar under the picture: play controls, the seek slider with the position (time and
frame number, or the image's name and place in its folder), loop, real-time and how long
each image of a folder stays."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QStyleOptionSlider,
    QToolButton,
    QWidget,
)

from trt_viewer.run.session import SourceInfo

IMAGE_SECONDS = (0.0, 1.0, 2.0, 5.0)  # how long each image of a folder stays; 0 pauses on each
NAME_WIDTH = 200  # px: an image's name longer than this is elided (its full name in the tooltip)
POSITION_WIDTH = 260  # px: the most the position keeps for itself


def format_time(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def image_seconds_text(seconds: float) -> str:
    """'pause' or '2 s': the choices of how long each image of a folder stays."""
    return "pause" if seconds <= 0 else f"{seconds:g} s"


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
    imageSecondsChosen = Signal(float)  # the user chose how long each image stays

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
        self._time_width = self.duration.fontMetrics().horizontalAdvance("00:00:00") + 4
        self.duration.setMinimumWidth(self._time_width)
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Start again at the end of a file (L)")
        self.loop.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.realtime = QCheckBox("Real-time")
        self.realtime.setToolTip("Play files at their own frame rate instead of as fast as the model runs")
        self.realtime.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.image_seconds_label = QLabel("Each image:")
        self.image_seconds = QComboBox()
        self.image_seconds.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.image_seconds.setToolTip("How long each image of a folder stays while playing; "
                                      "pause: Space or Right shows the next one")
        for seconds in IMAGE_SECONDS:
            self.image_seconds.addItem(image_seconds_text(seconds), seconds)
        row.addWidget(self.position)
        row.addWidget(self.slider, 1)
        row.addWidget(self.duration)
        row.addSpacing(8)
        row.addWidget(self.image_seconds_label)
        row.addWidget(self.image_seconds)
        row.addWidget(self.loop)
        row.addWidget(self.realtime)
        self.loop.toggled.connect(self.loopToggled)
        self.image_seconds.activated.connect(
            lambda i: self.imageSecondsChosen.emit(float(self.image_seconds.itemData(i))))
        self._info: SourceInfo | None = None
        self._index = 0
        self._timestamp = 0.0
        self._name = ""  # the image on screen, for folders of images
        self.show_image_seconds(False)
        self.set_source(None)

    def set_image_seconds(self, seconds: float) -> None:
        """Show the choice (the nearest offered) without announcing it."""
        nearest = min(range(len(IMAGE_SECONDS)), key=lambda i: abs(IMAGE_SECONDS[i] - seconds))
        self.image_seconds.setCurrentIndex(nearest)

    def show_image_seconds(self, on: bool) -> None:
        """The per-image duration only means something for a folder of images."""
        self.image_seconds_label.setVisible(on)
        self.image_seconds.setVisible(on)

    def set_source(self, info: SourceInfo | None) -> None:
        self._info = info
        self._index, self._timestamp, self._name = 0, 0.0, ""
        seekable = bool(info and info.seekable and info.length)
        self.slider.setEnabled(seekable)
        self.slider.setRange(0, max(0, (info.length or 1) - 1) if seekable and info else 0)
        self.slider.setValue(0)
        self.slider.setPageStep(max(1, round((info.fps or 10) * 5)) if info else 10)
        self.position.setToolTip("")
        self.position.setMinimumWidth(self._steady_width(info))
        if info is None:
            self.position.setText("–")
            self.duration.setText("–")
        elif info.live:
            self.position.setText("live")
            self.duration.setText("")
        else:
            self.position.setText(self._label())
            self.duration.setText(self._total())

    def _steady_width(self, info: SourceInfo | None) -> int:
        """Wide enough for this source's longest position, so the slider does not shift as
        the text changes (up to a limit: the window must stay narrow enough)."""
        if info is None or info.live or not info.length:
            return self._time_width
        count = f"{info.length} / {info.length}"
        if info.images:
            widest = f"{'m' * 12} — {count}"
        else:
            widest = f"{format_time(info.length / info.fps)} · frame {count}" if info.fps else f"frame {count}"
        return min(POSITION_WIDTH, max(self._time_width, self.position.fontMetrics().horizontalAdvance(widest) + 4))

    def set_position(self, index: int, timestamp: float) -> None:
        if self._info is None or self._info.live:
            return
        if not self.slider.isSliderDown():
            self.slider.setValue(index)
        self._index, self._timestamp = index, timestamp
        self.position.setText(self._label())

    def set_image_name(self, name: str) -> None:
        """The name of the image on screen (folders of images)."""
        if self._info is None or not self._info.images:
            return
        self._name = name
        self.position.setText(self._label())
        self.position.setToolTip(name)

    def _label(self) -> str:
        info, index = self._info, self._index
        if info is None:
            return "–"
        place = f"{index + 1} / {info.length}" if info.length else f"{index + 1}"
        if info.images:
            if not self._name:
                return place
            name = self.position.fontMetrics().elidedText(self._name, Qt.TextElideMode.ElideMiddle, NAME_WIDTH)
            return f"{name} — {place}"
        if info.fps:
            return f"{format_time(self._timestamp)} · frame {place}"
        return f"frame {place}"

    def _total(self) -> str:
        info = self._info
        if not info or not info.length or info.images:
            return ""
        if info.fps:
            return format_time(info.length / info.fps)
        return ""
