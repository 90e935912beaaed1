"""What the window says in words: status-bar messages, the error dialog, help dialogs."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

from trt_viewer import __version__
from trt_viewer.gui.actions import SHORTCUTS

NOTICE_MS = 6000
ERROR_MS = 15000


class Messages(QObject):
    """Messages go to the status bar; errors also to one non-modal dialog, reused."""

    errorShown = Signal(str)  # each error, as its one line

    def __init__(self, parent: QWidget, status_bar: QStatusBar) -> None:
        super().__init__(parent)
        self._parent = parent
        self._bar = status_bar
        self.last_error = ""
        self.error_box: QMessageBox | None = None  # made on the first error
        self.dialogs = True  # False while the window closes: errors go to the status bar only

    def notify(self, message: str, timeout_ms: int = NOTICE_MS) -> None:
        self._bar.showMessage(message, timeout_ms)

    def clear(self) -> None:
        self._bar.clearMessage()

    def show_error(self, message: str, dialog: bool = True) -> None:
        message = message.strip().splitlines()[0] if message.strip() else "unknown error"
        self.last_error = message
        self._bar.showMessage(f"Error: {message}", ERROR_MS)
        if dialog and self.dialogs:
            box = self.error_box
            if box is None:
                # Non-modal and reused: a burst of errors updates one dialog, not a stack.
                box = self.error_box = QMessageBox(QMessageBox.Icon.Warning, "trt-viewer", "", parent=self._parent)
                box.setWindowModality(Qt.WindowModality.NonModal)
            box.setText(message[:1].upper() + message[1:])
            box.show()
        self.errorShown.emit(message)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self._parent, "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> None:
        QMessageBox.about(
            self._parent, "About trt-viewer",
            f"<b>trt-viewer {__version__}</b><br>Real-time YOLOX detection on TensorRT engines "
            "and ONNX models.<br><br>Apache-2.0",
        )
