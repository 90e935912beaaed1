"""The toggles kept from one session to the next: loop, real-time playback and the HUD.

Menu and transport bar show the same toggles; a change in either is saved at once and
applied to the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trt_viewer.gui.actions import Actions
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.transport import TransportBar
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

    def restore(self) -> None:
        """The last session's toggles (each applied as if the user had set it)."""
        a = self._actions
        a.loop.setChecked(self._settings.get("playback/loop", False, bool))
        a.realtime.setChecked(self._settings.get("playback/realtime", False, bool))
        a.hud.setChecked(self._settings.get("view/hud", True, bool))
        self._view.hud_enabled = a.hud.isChecked()

    def set_loop(self, on: bool) -> None:
        self._transport.loop.setChecked(on)
        self._settings.set("playback/loop", on)
        self._run.set_loop(on)

    def set_realtime(self, on: bool) -> None:
        self._transport.realtime.setChecked(on)
        self._settings.set("playback/realtime", on)
        self._run.set_realtime(on)

    def set_hud(self, on: bool) -> None:
        self._settings.set("view/hud", on)
        self._view.hud_enabled = on
        self._view.update()
