"""What the loaded model is: backend, where it runs (the execution provider), precision, input
size, output layout, I/O tensors, classes and where their names come from."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

GPU_HINT = ("ONNX Runtime runs it on the CPU. On an NVIDIA GPU it runs on CUDA with the GPU build: "
            "pip install onnxruntime-gpu (instead of onnxruntime)")


def execution(info: dict[str, Any]) -> tuple[str, str]:
    """Where the model runs, as (short text, longer explanation). ONNX Runtime names the
    execution provider it chose in the precision ("float32 (CUDA)"); TensorRT always runs
    on the GPU."""
    backend = str(info.get("backend", ""))
    if backend == "tensorrt":
        device = info.get("device") or "NVIDIA GPU"
        return f"GPU · {device} (TensorRT)", f"TensorRT runs it on {device}"
    provider = str(info.get("provider", ""))
    if not provider:
        match = re.search(r"\((\w+)\)\s*$", str(info.get("precision", "")))
        provider = match.group(1) if match else ""
    provider = provider.removesuffix("ExecutionProvider")
    if not provider:
        return "–", ""
    if provider == "CPU":
        return "CPU (ONNX Runtime CPUExecutionProvider)", GPU_HINT
    if provider in ("CUDA", "TensorRT"):
        return (f"NVIDIA GPU · {provider} (ONNX Runtime {provider}ExecutionProvider)",
                f"ONNX Runtime runs it on the NVIDIA GPU with its {provider}ExecutionProvider")
    return f"{provider} (ONNX Runtime {provider}ExecutionProvider)", f"ONNX Runtime's {provider}ExecutionProvider"


def _names_text(count: int, source: str) -> tuple[str, str]:
    """The Classes field: a names file by its name (the full path in the tooltip)."""
    if "/" in source or "\\" in source or Path(source).suffix in (".txt", ".names"):
        return f"{count} from {Path(source).name}", source
    return f"{count} ({source})", ""


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
            ("file", "File"), ("backend", "Backend"), ("runs_on", "Runs on"), ("precision", "Precision"),
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
        self.loaded = False  # the fields describe a loaded model, not only a chosen one
        self.clear()

    def _fit_tensors(self, lines: int) -> None:
        # As tall as its lines (end2end models have four outputs), no taller.
        line = self.tensors.fontMetrics().lineSpacing()
        self.tensors.setFixedHeight(line * min(max(lines, 2), 8) + 14)

    def clear(self, path: str | None = None) -> None:
        self.loaded = False
        for label in self.fields.values():
            label.setText("–")
            label.setToolTip("")
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
        runs_on, detail = execution(info)
        self.fields["runs_on"].setText(runs_on)
        self.fields["runs_on"].setToolTip(detail)
        precision = str(info["precision"])
        if info["backend"] == "onnxruntime":  # "float32 (CPU)": the provider has a row of its own
            precision = re.sub(r"\s*\(\w+\)\s*$", "", precision) or precision
        self.fields["precision"].setText(precision)
        self.fields["input_size"].setText(f"{h} × {w} (H × W)")
        self.fields["layout"].setText(info["layout"])
        self.fields["preset"].setText(info["preset"])
        names = info["names"]
        text, tip = _names_text(len(names), str(info["names_source"]))
        self.fields["classes"].setText(text)
        self.fields["classes"].setToolTip(tip)
        lines = [f"in   {t}" for t in info["inputs"]] + [f"out  {t}" for t in info["outputs"]]
        self.tensors.setPlainText("\n".join(lines))
        self._fit_tensors(len(lines))
        self.names.setPlainText("\n".join(f"{i:>3}  {n}" for i, n in enumerate(names)))
        self.loaded = True

    def set_names_file(self, path: str | None, chosen: bool = False) -> None:
        """Class names chosen for the model (Model ▸ Class Names…), read when it next loads.
        chosen: just now, so the loaded model's names no longer apply."""
        if self.loaded and not chosen:
            return
        field = self.fields["classes"]
        if path:
            field.setText(f"from {Path(path).name} (read when playing starts)")
            field.setToolTip(path)
        elif chosen or field.toolTip():
            field.setText("the model's own (read when playing starts)" if chosen else "–")
            field.setToolTip("")
