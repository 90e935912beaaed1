"""Where the run stands, shown: the state label and badge, the notices over the picture,
which actions apply, the picker buttons, the window title and what the model and source
turned out to be (for a folder of images: the image on screen, "dog.jpg — 14 / 79").
Nothing here starts or stops anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QWidget

from trt_viewer.gui import files
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.model_panel import execution

if TYPE_CHECKING:
    from trt_viewer.gui.choosing import Chooser
    from trt_viewer.gui.frames import FramePacket
    from trt_viewer.gui.run_control import RunControl
    from trt_viewer.gui.shell import Shell
    from trt_viewer.run.session import SourceInfo

STATE_TEXT = {
    "stopped": "Stopped", "loading": "Loading…", "playing": "Playing", "paused": "Paused",
    "ended": "Ended", "lost": "Source lost",
}
TITLE = "trt-viewer"
LIVE_TIP = "Off for live sources: cameras and streams always show the newest frame"


class Status:
    def __init__(self, window: QWidget, shell: Shell, actions: Actions, run: RunControl, chooser: Chooser,
                 messages: Messages) -> None:
        self._window = window
        self._shell = shell
        self._actions = actions
        self._run = run
        self._chooser = chooser
        self._messages = messages
        self._image = ""  # the image on screen and its place in its folder: "dog.jpg — 14 / 79"
        self._last_image = False  # the image on screen is the folder's last
        self._tips = {w: w.toolTip() for w in (actions.loop, actions.realtime, shell.transport.loop,
                                               shell.transport.realtime)}
        run.frameReady.connect(self.frame_shown)
        chooser.namesChosen.connect(self.names_chosen)
        self.choice_changed()

    def state_changed(self, state: str) -> None:
        view = self._shell.view
        self._shell.state_label.setText(STATE_TEXT.get(state, state))
        self._actions.set_playing(state == "playing")
        self._update_badge()
        if state in ("playing", "paused", "loading"):
            view.hide_notice()
        if state == "ended":
            if self._images():
                self._messages.notify("Last image: Space starts the folder again, L loops")
            else:
                self._messages.notify("End of the video: Space plays it again, L loops")
        self.update_actions()
        self._update_title()

    def _update_badge(self) -> None:
        state = self._run.state
        badge = {"paused": "Paused", "ended": "End", "stopped": "Stopped" if self._run.packet else "",
                 "loading": "Loading…"}.get(state, "")
        if self._images() and (state == "ended" or (state == "paused" and self._last_image)):
            badge = "Last image"
        self._shell.view.set_badge(badge)

    def _images(self) -> bool:
        """The current run plays a folder (or a single file) of images."""
        info = self._run.source_info
        return bool(info and info.images)

    def frame_shown(self, packet: FramePacket) -> None:
        """A folder's image on screen: its name and place in the transport bar and the title."""
        info = self._run.source_info
        if info is None or not info.images:
            return
        self._shell.transport.set_image_name(packet.name)
        if (info.length or 0) > 1:  # a single image is named in the title already
            self._image = f"{packet.name} — {packet.index + 1} / {info.length}"
        self._last_image = bool(info.length) and packet.index + 1 >= (info.length or 0)
        self._update_badge()
        self._update_title()

    def choice_changed(self) -> None:
        model, source = self._chooser.model, self._chooser.source
        self._shell.model_button.setText(Path(model).name if model else "Open Model…")
        self._shell.model_button.setToolTip(model or "Choose the model to run")
        self._shell.source_button.setText(files.display_name(source) if source else "Open Source…")
        self._shell.source_button.setToolTip(source or "Choose a video, camera, folder or stream")
        info = self._run.source_info
        if info is None or info.spec != source:
            self._image, self._last_image = "", False
        self._shell.transport.show_image_seconds(self._folder(source))
        self._shell.model_panel.set_names_file(self._chooser.names_file)
        self.update_actions()
        self._update_title()

    def names_chosen(self, path: str) -> None:
        self._shell.model_panel.set_names_file(path or None, chosen=True)

    def _folder(self, source: str | None) -> bool:
        """A folder of images: the per-image duration applies."""
        info = self._run.source_info
        if info is not None and info.spec == source:
            return info.images and (info.length or 0) > 1
        return bool(source) and not files.is_stream(source or "") and Path(source or "").expanduser().is_dir()

    def _live(self) -> bool:
        """The chosen source is live (a camera or a stream): it has no end to loop at and no
        frame rate of its own to hold. The run says for sure once it opened it; until then
        the spec tells (an http:// URL may turn out to be a video file)."""
        source = self._chooser.source
        if not source:
            return False
        info = self._run.source_info
        if info is not None and info.spec == source:
            return info.live
        return files.is_camera(source) or files.is_stream(source)

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
        live = self._live()
        for widget, tip in self._tips.items():
            widget.setEnabled(not live)
            widget.setToolTip(LIVE_TIP if live else tip)

    def _update_title(self) -> None:
        model, source = self._chooser.model, self._chooser.source
        parts = [self._image, files.display_name(source) if source else "", Path(model).name if model else ""]
        detail = " · ".join(p for p in parts if p)
        self._window.setWindowTitle(f"{detail} — {TITLE}" if detail else TITLE)

    def model_ready(self, info: dict[str, Any]) -> None:
        self._shell.model_panel.set_info(info)
        self._shell.class_filter.set_names(info["names"])
        self._shell.backend_label.setText(
            f"{info['backend']} · {info['precision']} · {info['input_size'][0]}×{info['input_size'][1]}"
        )
        self._shell.backend_label.setToolTip(execution(info)[1])

    def source_ready(self, info: SourceInfo) -> None:
        self._shell.transport.set_source(info)
        self._shell.transport.show_image_seconds(self._folder(self._chooser.source))
        self.update_actions()
