"""Where the run stands, shown: the state label and badge, the notices over the picture,
which actions apply, the picker buttons, the window title and what the model and source
turned out to be. Nothing here starts or stops anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from trt_viewer.gui import files
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.messages import Messages

if TYPE_CHECKING:
    from trt_viewer.gui.choosing import Chooser
    from trt_viewer.gui.run_control import RunControl
    from trt_viewer.gui.shell import Shell
    from trt_viewer.run.session import SourceInfo

STATE_TEXT = {
    "stopped": "Stopped", "loading": "Loading…", "playing": "Playing", "paused": "Paused",
    "ended": "Ended", "lost": "Source lost",
}
TITLE = "trt-viewer"


class Status:
    def __init__(self, window: QWidget, shell: Shell, actions: Actions, run: RunControl, chooser: Chooser,
                 messages: Messages) -> None:
        self._window = window
        self._shell = shell
        self._actions = actions
        self._run = run
        self._chooser = chooser
        self._messages = messages
        self.choice_changed()

    def state_changed(self, state: str) -> None:
        view = self._shell.view
        self._shell.state_label.setText(STATE_TEXT.get(state, state))
        self._actions.set_playing(state == "playing")
        view.set_badge({"paused": "Paused", "ended": "End", "stopped": "Stopped" if self._run.packet else "",
                        "loading": "Loading…"}.get(state, ""))
        if state in ("playing", "paused", "loading"):
            view.hide_notice()
        if state == "ended":
            self._messages.notify("End of the video: Space plays it again, L loops")
        self.update_actions()
        self._update_title()

    def choice_changed(self) -> None:
        model, source = self._chooser.model, self._chooser.source
        self._shell.model_button.setText(Path(model).name if model else "Open Model…")
        self._shell.model_button.setToolTip(model or "Choose the model to run")
        self._shell.source_button.setText(files.display_name(source) if source else "Open Source…")
        self._shell.source_button.setToolTip(source or "Choose a video, camera, folder or stream")
        self.update_actions()
        self._update_title()

    def update_actions(self) -> None:
        a = self._actions
        running = self._run.worker is not None
        chosen = bool(self._chooser.model and self._chooser.source)
        a.stop.setEnabled(running)
        a.step.setEnabled(chosen)
        a.step_back.setEnabled(running and self._run.seekable)
        a.rewind.setEnabled(running and self._run.seekable)
        a.play.setEnabled(chosen)
        for action in (a.record, a.export):
            action.setEnabled(running)
        a.snapshot.setEnabled(self._run.packet is not None or running)

    def _update_title(self) -> None:
        model, source = self._chooser.model, self._chooser.source
        parts = [files.display_name(source) if source else "", Path(model).name if model else ""]
        detail = " · ".join(p for p in parts if p)
        self._window.setWindowTitle(f"{detail} — {TITLE}" if detail else TITLE)

    def model_ready(self, info: dict[str, Any]) -> None:
        self._shell.model_panel.set_info(info)
        self._shell.class_filter.set_names(info["names"])
        self._shell.backend_label.setText(
            f"{info['backend']} · {info['precision']} · {info['input_size'][0]}×{info['input_size'][1]}"
        )

    def source_ready(self, info: SourceInfo) -> None:
        self._shell.transport.set_source(info)
        self.update_actions()

    def source_lost(self, message: str) -> None:
        name = files.display_name(self._chooser.source or "")
        self._shell.view.show_notice(
            f"{name} disconnected", f"{message}. Check that it is plugged in and not used by another program.",
            reconnect=True,
        )
        self._messages.show_error(f"{message}", dialog=False)
