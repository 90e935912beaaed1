"""What the loaded model is: backend, precision, input size, output layout, I/O tensors, classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget


def _value() -> QLabel:
    label = QLabel("–")
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ModelPanel(QWidget):
    def __init__(self) -> None:
        super().__init__()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        box = QGroupBox("Summary")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for key, title in (
            ("file", "File"), ("backend", "Backend"), ("precision", "Precision"),
            ("input_size", "Input size"), ("layout", "Output layout"), ("preset", "Preprocessing"),
            ("classes", "Classes"),
        ):
            self.fields[key] = _value()
            form.addRow(title, self.fields[key])
        tensors = QGroupBox("Tensors")
        self.tensors = QPlainTextEdit()
        self.tensors.setReadOnly(True)
        self.tensors.setFont(mono)
        self.tensors.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        QVBoxLayout(tensors).addWidget(self.tensors)
        names = QGroupBox("Class names")
        self.names = QPlainTextEdit()
        self.names.setReadOnly(True)
        self.names.setFont(mono)
        QVBoxLayout(names).addWidget(self.names)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 6)
        column.addWidget(box)
        column.addWidget(tensors)
        column.addWidget(names, 1)
        self._fit_tensors(2)
        self.clear()

    def _fit_tensors(self, lines: int) -> None:
        # As tall as its lines (end2end models have four outputs), no taller.
        line = self.tensors.fontMetrics().lineSpacing()
        self.tensors.setFixedHeight(line * min(max(lines, 2), 8) + 14)

    def clear(self, path: str | None = None) -> None:
        for label in self.fields.values():
            label.setText("–")
        if path:
            self.fields["file"].setText(Path(path).name)
            self.fields["file"].setToolTip(path)
            self.fields["backend"].setText("loads when playing starts")
        self.tensors.setPlainText("")
        self.names.setPlainText("")

    def set_info(self, info: dict[str, Any]) -> None:
        h, w = info["input_size"]
        self.fields["file"].setText(Path(info["model"]).name)
        self.fields["file"].setToolTip(info["model"])
        self.fields["backend"].setText(info["backend"])
        self.fields["precision"].setText(info["precision"])
        self.fields["input_size"].setText(f"{h} × {w} (H × W)")
        self.fields["layout"].setText(info["layout"])
        self.fields["preset"].setText(info["preset"])
        names = info["names"]
        self.fields["classes"].setText(f"{len(names)} ({info['names_source']})")
        lines = [f"in   {t}" for t in info["inputs"]] + [f"out  {t}" for t in info["outputs"]]
        self.tensors.setPlainText("\n".join(lines))
        self._fit_tensors(len(lines))
        self.names.setPlainText("\n".join(f"{i:>3}  {n}" for i, n in enumerate(names)))
