"""What the window tells the user: state, rates, HUD, which actions apply, title, messages.

Everything here only reflects the window's state onto its widgets; nothing starts or stops.
"""

# Methods here run on MainWindow, hence `self: MainWindow`, which mypy takes only from a
# protocol or a base class and otherwise reports as [misc].
# mypy: disable-error-code="misc"

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from trt_viewer import __version__
from trt_viewer.gui import files
from trt_viewer.gui.actions import SHORTCUTS

if TYPE_CHECKING:
    from trt_viewer.gui.window import MainWindow

STATE_TEXT = {
    "stopped": "Stopped", "loading": "Loading…", "playing": "Playing", "paused": "Paused",
    "ended": "Ended", "lost": "Source lost",
}


class FeedbackMixin:
    # Declared here because these methods assign them: mypy would otherwise infer them from that.
    state: str
    last_error: str
    _error_box: QMessageBox | None

    def _set_state(self: MainWindow, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self.state_label.setText(STATE_TEXT.get(state, state))
        self.actions_.set_playing(state == "playing")
        self.view.set_badge({"paused": "Paused", "ended": "End", "stopped": "Stopped" if self.packet else "",
                             "loading": "Loading…"}.get(state, ""))
        if state in ("playing", "paused", "loading"):
            self.view.hide_notice()
        if state == "ended":
            self.notify("End of the video: Space plays it again, L loops")
        if state in ("stopped", "ended", "paused"):
            self.fps_label.setText("– FPS")
        self._update_hud()
        self._update_actions()
        self._update_title()
        self.stateChanged.emit(state)

    def _refresh_rates(self: MainWindow) -> None:
        playing = self.state == "playing"
        self.stats.set_display_fps(self.display_meter.fps if playing else None)
        if playing and self._last_stats is not None and self._last_stats["fps"] > 0:
            self.fps_label.setText(f"{self._last_stats['fps']:.1f} FPS")

    def _update_hud(self: MainWindow) -> None:
        lines = []
        stats = self._last_stats
        if self.state == "playing" and stats is not None and stats["fps"] > 0:
            lines.append(f"{stats['fps']:.1f} FPS")
        if self.packet is not None:
            n = len(self.packet.detections)
            lines.append(f"{n} detection{'' if n == 1 else 's'}")
        self.view.set_hud(lines)

    def _update_actions(self: MainWindow) -> None:
        a = self.actions_
        running = self.worker is not None
        a.stop.setEnabled(running)
        a.step.setEnabled(bool(self.model and self.source))
        a.step_back.setEnabled(running and self._seekable())
        a.rewind.setEnabled(running and self._seekable())
        a.play.setEnabled(bool(self.model and self.source))
        for action in (a.record, a.export):
            action.setEnabled(running)
        a.snapshot.setEnabled(self.packet is not None or running)

    def _update_pickers(self: MainWindow) -> None:
        self.model_button.setText(Path(self.model).name if self.model else "Open Model…")
        self.model_button.setToolTip(self.model or "Choose the model to run")
        self.source_button.setText(files.display_name(self.source) if self.source else "Open Source…")
        self.source_button.setToolTip(self.source or "Choose a video, camera, folder or stream")
        self._update_actions()
        self._update_title()

    def _update_title(self: MainWindow) -> None:
        parts = [files.display_name(self.source) if self.source else "", Path(self.model).name if self.model else ""]
        detail = " · ".join(p for p in parts if p)
        self.setWindowTitle(f"{detail} — trt-viewer" if detail else "trt-viewer")

    def notify(self: MainWindow, message: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(message, timeout_ms)

    def show_error(self: MainWindow, message: str, dialog: bool = True) -> None:
        message = message.strip().splitlines()[0] if message.strip() else "unknown error"
        self.last_error = message
        self.statusBar().showMessage(f"Error: {message}", 15000)
        if dialog and not self._closing:
            box = self._error_box
            if box is None:
                # Non-modal and reused: a burst of errors updates one dialog, not a stack.
                box = self._error_box = QMessageBox(QMessageBox.Icon.Warning, "trt-viewer", "", parent=self)
                box.setWindowModality(Qt.WindowModality.NonModal)
            box.setText(message[:1].upper() + message[1:])
            box.show()
        self.errorShown.emit(message)

    def show_shortcuts(self: MainWindow) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self: MainWindow) -> None:
        QMessageBox.about(
            self, "About trt-viewer",
            f"<b>trt-viewer {__version__}</b><br>Real-time YOLOX detection on TensorRT engines "
            "and ONNX models.<br><br>Apache-2.0",
        )
