"""Confidence and NMS sliders, class-agnostic NMS, preprocessing preset.

Every change is sent as a whole PostprocessConfig; the worker applies it to the next
frame (or redoes the paused frame), so nothing restarts.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from trt_viewer.core.yolox import PostprocessConfig

PRESETS = (
    ("auto", "Auto", "What the model's metadata names, else current YOLOX"),
    ("current", "Current YOLOX", "YOLOX 0.1.1 and later: BGR, 0..255, pad 114"),
    ("legacy", "Legacy YOLOX", "Before 0.1.1: RGB, 0..1, ImageNet mean and std"),
)


class _FractionSlider(QWidget):
    """A 0.01..0.99 slider with its value shown beside it."""

    valueChanged = Signal(float)

    def __init__(self, value: float, tooltip: str) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 99)
        self.slider.setPageStep(5)
        self.slider.setToolTip(tooltip)
        self.label = QLabel()
        self.label.setMinimumWidth(self.label.fontMetrics().horizontalAdvance("0.00") + 6)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(self._changed)
        self.set_value(value)

    def value(self) -> float:
        return self.slider.value() / 100

    def set_value(self, value: float) -> None:
        self.slider.setValue(round(min(0.99, max(0.01, value)) * 100))
        self.label.setText(f"{self.value():.2f}")

    def _changed(self, raw: int) -> None:
        self.label.setText(f"{raw / 100:.2f}")
        self.valueChanged.emit(raw / 100)


class DetectionPanel(QWidget):
    configChanged = Signal(object)  # PostprocessConfig
    presetChanged = Signal(str)

    def __init__(self, config: PostprocessConfig | None = None, preset: str = "auto") -> None:
        super().__init__()
        self._config = config or PostprocessConfig()
        self.conf = _FractionSlider(self._config.conf, "Keep detections scoring above this")
        self.nms = _FractionSlider(self._config.nms, "Boxes overlapping more than this IoU are merged")
        self.agnostic = QCheckBox("Class-agnostic NMS")
        self.agnostic.setToolTip("Suppress overlapping boxes even when their classes differ")
        self.agnostic.setChecked(self._config.agnostic)
        self.preset = QComboBox()
        for key, text, tip in PRESETS:
            self.preset.addItem(text, key)
            self.preset.setItemData(self.preset.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.set_preset(preset)

        form = QFormLayout(self)
        form.setContentsMargins(12, 10, 12, 10)
        form.addRow("Confidence", self.conf)
        form.addRow("NMS IoU", self.nms)
        form.addRow("", self.agnostic)
        form.addRow("Preprocessing", self.preset)

        self.conf.valueChanged.connect(lambda v: self._update(conf=v))
        self.nms.valueChanged.connect(lambda v: self._update(nms=v))
        self.agnostic.toggled.connect(lambda on: self._update(agnostic=on))
        self.preset.currentIndexChanged.connect(lambda _: self.presetChanged.emit(self.preset_name()))

    # -- values ---------------------------------------------------------------------------
    def config(self) -> PostprocessConfig:
        return self._config

    def preset_name(self) -> str:
        return str(self.preset.currentData())

    def set_preset(self, name: str) -> None:
        index = self.preset.findData(name)
        self.preset.setCurrentIndex(max(0, index))

    def _update(self, **changes: object) -> None:
        self._config = replace(self._config, **changes)  # type: ignore[arg-type]
        self.configChanged.emit(self._config)

    def set_classes(self, classes: frozenset[int] | None) -> None:
        if classes != self._config.classes:
            self._update(classes=classes)
