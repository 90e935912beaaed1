"""What a run leaves on screen, cleared once it describes nothing.

The last frame stays after a run (Stop keeps it; so does a restart on the same source).
But when a run starts on another source, or a run ends without ever opening its source
(RunControl then forgets its packet), the picture with its boxes, the HUD's count, the
transport bar's position and the rate belong to nothing chosen any more: the view goes
back to its hint. While a live source is lost, no rate is shown either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from trt_viewer.gui.display import NO_RATE
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.run_control import RunControl


class Leftovers(QObject):
    """Connects itself to the run; made after the display, so its slots run after the
    display's."""

    def __init__(self, run: RunControl, view: VideoView, transport: TransportBar, fps_label: QLabel,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run = run
        self._view = view
        self._transport = transport
        self._fps_label = fps_label
        run.launched.connect(self.launched)
        run.stateChanged.connect(self.state_changed)

    def launched(self) -> None:
        if self._run.packet is None:
            self.clear()

    def state_changed(self, state: str) -> None:
        if state == "lost":
            self._fps_label.setText(NO_RATE)
        elif state == "stopped" and self._run.packet is None:
            self.clear()

    def clear(self) -> None:
        """The hint instead of a picture; no count, no position, no rate."""
        self._view.clear()
        self._view.set_hud([])
        self._transport.set_source(None)
        self._fps_label.setText(NO_RATE)
