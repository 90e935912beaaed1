"""Processing and display rates, per-stage p50/p95, drops, detections per class, and where
the run counts, the in/out counts of each line and the occupancy of each zone."""

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
    "postprocess": "Decode + NMS", "track": "Tracking", "draw": "Draw", "write": "Write",
}
STAGE_ROWS = 5  # read, letterbox, inference, decode + NMS, draw
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
        self.decoder = QLabel("–")  # what decodes the source (gui.decoding)
        grid.addWidget(_muted("Decoding"), 5, 0)
        grid.addWidget(self.decoder, 5, 1)
        for label in (self.frames, self.dropped, self.not_shown, self.decoder):
            label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

        stages = QGroupBox("Stage times (ms)")
        self.stages = _table(["Stage", "p50", "p95"])
        self.stages.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        QVBoxLayout(stages).addWidget(self.stages)

        classes = QGroupBox("Detections per class")
        self.classes = _table(["Class", "This frame", "Total"])
        self.classes.setMinimumHeight(self.classes.verticalHeader().defaultSectionSize() * 3)
        QVBoxLayout(classes).addWidget(self.classes)

        self.counts_box = QGroupBox("Counts")
        self.counts = _table(["Line or zone", "In", "Out", "Inside"])
        self.counts.setToolTip("Tracked objects that crossed each line (in: to the side its arrow points to), "
                               "and those in each zone now")
        QVBoxLayout(self.counts_box).addWidget(self.counts)
        self.counts_box.hide()  # until the run counts something

        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(rates)
        column.addWidget(stages)
        column.addWidget(self.counts_box)
        column.addWidget(classes, 1)
        self._fitted = 0
        self._fit_stages(STAGE_ROWS)

    def _fit_stages(self, rows: int) -> None:
        if rows == self._fitted:
            return
        self._fitted = rows
        height = self.stages.horizontalHeader().sizeHint().height()
        height += rows * self.stages.verticalHeader().defaultSectionSize() + 4
        self.stages.setFixedHeight(height)

    def set_decoder(self, text: str, tip: str = "") -> None:
        self.decoder.setText(text)
        self.decoder.setToolTip(tip)

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
        self._fit_stages(max(STAGE_ROWS, len(rows)))  # tracking adds a stage
        frame, totals = stats["frame_counts"], stats["totals"]
        labels = sorted(set(frame) | set(totals), key=lambda k: (-frame.get(k, 0), -totals.get(k, 0), k))
        _fill(self.classes, [
            [label, str(frame.get(label, 0)), f"{totals.get(label, 0):,}"] for label in labels[:MAX_CLASS_ROWS]
        ])
        self.set_counts(stats.get("counts") or {})

    def set_counts(self, counts: dict[str, Any]) -> None:
        """The run's counts (track.Counter.summary()): a row per line (in, out) and per zone
        (entered, inside now), each with its per-class figures as its tooltip; hidden when
        there are none."""
        rows: list[list[str]] = []
        tips: list[str] = []
        for name, line in counts.get("lines", {}).items():
            rows.append([name, f"{line.get('in_total', 0):,}", f"{line.get('out_total', 0):,}", ""])
            tips.append(_per_class({"in": line.get("in", {}), "out": line.get("out", {})}))
        for name, zone in counts.get("zones", {}).items():
            occupancy, entered = zone.get("occupancy", {}), zone.get("entered", {})
            rows.append([name, f"{sum(entered.values()):,}", "", f"{sum(occupancy.values()):,}"])
            tips.append(_per_class({"entered": entered, "inside": occupancy}))
        _fill(self.counts, rows)
        for r, tip in enumerate(tips):
            for c in range(self.counts.columnCount()):
                item = self.counts.item(r, c)
                if item is not None and item.toolTip() != tip:
                    item.setToolTip(tip)
        if rows:
            self.counts.setFixedHeight(self.counts.horizontalHeader().sizeHint().height()
                                       + min(len(rows), 6) * self.counts.verticalHeader().defaultSectionSize() + 4)
        self.counts_box.setVisible(bool(rows))

    def count_rows(self) -> dict[str, tuple[str, str, str]]:
        """What the counts table shows: name -> (in, out, inside)."""
        rows: dict[str, tuple[str, str, str]] = {}
        for r in range(self.counts.rowCount()):
            cells = [self.counts.item(r, c) for c in range(4)]
            name, a, b, c = (cell.text() if cell is not None else "" for cell in cells)
            rows[name] = (a, b, c)
        return rows

    def reset(self) -> None:
        self.processing.setText("–")
        self.displayed.setText("–")
        for label in (self.frames, self.dropped, self.not_shown):
            label.setText("0")
        self.set_decoder("–")
        _fill(self.stages, [])
        _fill(self.classes, [])
        self.set_counts({})


def _per_class(parts: dict[str, dict[str, int]]) -> str:
    """"in: person 2, car 1 · out: person 1" (what a count row's tooltip says)."""
    said = [f"{what}: " + ", ".join(f"{label} {n}" for label, n in by_label.items())
            for what, by_label in parts.items() if by_label]
    return " · ".join(said) or "nothing counted yet"


def _muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("muted")
    return label
