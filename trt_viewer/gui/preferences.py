"""The toggles kept from one session to the next: loop, real-time playback, the HUD and how
long each image of a folder stays (pause on each by default).

Menu and transport bar show the same toggles; a change in either is saved at once and
applied to the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from trt_viewer.gui.actions import Actions
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.transport import IMAGE_SECONDS, TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.run_control import RunControl


class Preferences:
    def __init__(self, settings: Settings, actions: Actions, transport: TransportBar, view: VideoView,
                 run: RunControl) -> None:
        self._settings = settings
        self._actions = actions
        self._transport = transport
        self._view = view
        self._run = run
        actions.loop.toggled.connect(self.set_loop)
        actions.realtime.toggled.connect(self.set_realtime)
        actions.hud.toggled.connect(self.set_hud)
        transport.loop.toggled.connect(actions.loop.setChecked)
        transport.realtime.toggled.connect(actions.realtime.setChecked)
        self.image_seconds = 0.0
        # Playback ▸ Each Image, and the choice in the transport bar (shown for folders).
        self.image_menu = QMenu("Each &Image")
        self.image_menu.setToolTipsVisible(True)
        group = QActionGroup(self.image_menu)
        self._image_actions: dict[float, QAction] = {}
        for seconds in IMAGE_SECONDS:
            text = "&Pause on Each" if seconds == 0 else f"&{seconds:g} Second{'' if seconds == 1 else 's'}"
            action = self.image_menu.addAction(text)
            action.setCheckable(True)
            action.setStatusTip("How long each image of a folder stays while playing")
            action.triggered.connect(lambda _=False, s=seconds: self.set_image_seconds(s))
            group.addAction(action)
            self._image_actions[seconds] = action
        transport.imageSecondsChosen.connect(self.set_image_seconds)

    def restore(self) -> None:
        """The last session's toggles (each applied as if the user had set it)."""
        a = self._actions
        a.loop.setChecked(self._settings.get("playback/loop", False, bool))
        a.realtime.setChecked(self._settings.get("playback/realtime", False, bool))
        a.hud.setChecked(self._settings.get("view/hud", True, bool))
        self._view.hud_enabled = a.hud.isChecked()
        self.set_image_seconds(self._settings.get("playback/image_seconds", 0.0, float))

    def set_loop(self, on: bool) -> None:
        self._transport.loop.setChecked(on)
        self._settings.set("playback/loop", on)
        self._run.set_loop(on)

    def set_realtime(self, on: bool) -> None:
        self._transport.realtime.setChecked(on)
        self._settings.set("playback/realtime", on)
        self._run.set_realtime(on)

    def set_image_seconds(self, seconds: float) -> None:
        """How long each image of a folder stays while playing; 0 pauses on each."""
        seconds = min(IMAGE_SECONDS, key=lambda s: abs(s - max(0.0, seconds)))
        self.image_seconds = seconds
        self._image_actions[seconds].setChecked(True)
        self._transport.set_image_seconds(seconds)
        self._settings.set("playback/image_seconds", seconds)
        self._run.set_image_seconds(seconds)

    def set_hud(self, on: bool) -> None:
        self._settings.set("view/hud", on)
        self._view.hud_enabled = on
        self._view.update()
