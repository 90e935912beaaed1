"""Processing and display rates, per-stage p50/p95, drops, and detections per class."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

STAGE_NAMES = {
    "read": "Read", "preprocess": "Letterbox", "infer": "Inference",
    "postprocess": "Decode + NMS", "draw": "Draw", "write": "Write",
}
MAX_CLASS_ROWS = 50


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for col in range(1, len(headers)):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)
    return table


def _cell(text: str, number: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if number:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setUpdatesEnabled(False)
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            current = table.item(r, c)
            if current is None:
                table.setItem(r, c, _cell(text, c > 0))
            elif current.text() != text:
                current.setText(text)
    table.setUpdatesEnabled(True)


class StatsPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        rates = QGroupBox("Throughput")
        grid = QGridLayout(rates)
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.6)
        big.setBold(True)
        self.processing = QLabel("–")
        self.displayed = QLabel("–")
        for label in (self.processing, self.displayed):
            label.setFont(big)
        self.frames = QLabel("0")
        self.dropped = QLabel("0")
        self.not_shown = QLabel("0")
        grid.addWidget(self.processing, 0, 0)
        grid.addWidget(self.displayed, 0, 1)
        grid.addWidget(_muted("processed FPS"), 1, 0)
        grid.addWidget(_muted("displayed FPS"), 1, 1)
        grid.addWidget(_muted("Frames processed"), 2, 0)
        grid.addWidget(self.frames, 2, 1)
        grid.addWidget(_muted("Dropped by the source"), 3, 0)
        grid.addWidget(self.dropped, 3, 1)
        grid.addWidget(_muted("Processed, not displayed"), 4, 0)
        grid.addWidget(self.not_shown, 4, 1)
        for label in (self.frames, self.dropped, self.not_shown):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        stages = QGroupBox("Stage times (ms)")
        self.stages = _table(["Stage", "p50", "p95"])
        self.stages.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QVBoxLayout(stages).addWidget(self.stages)

        classes = QGroupBox("Detections per class")
        self.classes = _table(["Class", "This frame", "Total"])
        self.classes.setMinimumHeight(self.classes.verticalHeader().defaultSectionSize() * 3)
        QVBoxLayout(classes).addWidget(self.classes)

        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(rates)
        column.addWidget(stages)
        column.addWidget(classes, 1)
        self._fit_stages(len(STAGE_NAMES) - 1)

    def _fit_stages(self, rows: int) -> None:
        height = self.stages.horizontalHeader().sizeHint().height()
        height += rows * self.stages.verticalHeader().defaultSectionSize() + 4
        self.stages.setFixedHeight(height)

    def set_display_fps(self, fps: float | None) -> None:
        self.displayed.setText("–" if fps is None else f"{fps:.1f}")

    def update_stats(self, stats: dict[str, Any], playing: bool) -> None:
        self.processing.setText(f"{stats['fps']:.1f}" if playing else "–")
        self.frames.setText(f"{stats['frames']:,}")
        self.dropped.setText(f"{stats['dropped']:,}")
        self.not_shown.setText(f"{stats['not_shown']:,}")
        rows = [
            [STAGE_NAMES.get(stage, stage), f"{v['p50_ms']:.2f}", f"{v['p95_ms']:.2f}"]
            for stage, v in stats["stages"].items()
        ]
        _fill(self.stages, rows)
        frame, totals = stats["frame_counts"], stats["totals"]
        labels = sorted(set(frame) | set(totals), key=lambda k: (-frame.get(k, 0), -totals.get(k, 0), k))
        _fill(self.classes, [
            [label, str(frame.get(label, 0)), f"{totals.get(label, 0):,}"] for label in labels[:MAX_CLASS_ROWS]
        ])

    def reset(self) -> None:
        self.processing.setText("–")
        self.displayed.setText("–")
        for label in (self.frames, self.dropped, self.not_shown):
            label.setText("0")
        _fill(self.stages, [])
        _fill(self.classes, [])


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    return label
