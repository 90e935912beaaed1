"""A lost live source, shown: the notice over the picture while the run reconnects by itself.

The player plans each automatic attempt and says so (RunControl.reconnecting: the seconds
to the next one, and why the last one failed). Here that becomes a countdown in the notice
("Reconnecting in 4 s…", updated each second; "Reconnecting…" while an attempt runs), the
last failure's reason in small text, Cancel (no more automatic attempts) and Reconnect (one
now). A camera and a network stream get advice of their own. When the source is back, the
notice goes by itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer

from trt_viewer.gui import files
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.run_control import RunControl

TICK_MS = 1000  # the countdown counts whole seconds
CAMERA_ADVICE = "Check that it is plugged in and not used by another program."
STREAM_ADVICE = "check the network and that the stream is running."


def lost_text(source: str, message: str, retrying: bool) -> tuple[str, str]:
    """The notice's title and text for a live source that stopped sending frames: a stream
    URL gets network advice, a camera camera advice. retrying: automatic attempts go on."""
    if files.is_stream(source):
        advice = f"trt-viewer keeps trying; {STREAM_ADVICE}" if retrying else STREAM_ADVICE.capitalize()
        return "Stream disconnected", f"{message}. {advice}"
    return f"{files.display_name(source)} disconnected", f"{message}. {CAMERA_ADVICE}"


def countdown_text(seconds_left: float) -> str:
    """'Reconnecting in 4 s…', or 'Reconnecting…' once it is due."""
    # A timer may fire a little early: 3.98 s left still reads "4 s", not "4 s" twice.
    left = math.ceil(seconds_left - 0.05)
    return f"Reconnecting in {left} s…" if left > 0 else "Reconnecting…"


class LostSource(QObject):
    """The lost notice of the current run, kept in step with its reconnect plans.

    It connects itself to the run and the view; made after the window's other parts, its
    slots run after theirs (the status hides notices on "loading", which a reconnect
    attempt is: this shows the notice again, saying so). source() is the chosen source.
    """

    def __init__(self, run: RunControl, view: VideoView, messages: Messages, source: Callable[[], str | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run = run
        self._view = view
        self._messages = messages
        self._source = source
        self.clock: Callable[[], float] = time.monotonic
        self.lost = False  # the current run's source is lost: the notice is this one's
        self._message = ""  # what the run said when it lost the source
        self._reason = ""  # why the last attempt failed
        self._due: float | None = None  # when the next automatic attempt is due (clock); None: none planned
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.setTimerType(Qt.TimerType.PreciseTimer)
        self._tick.timeout.connect(self._show)
        run.launched.connect(self.launched)
        run.sourceLost.connect(self.source_lost)
        run.reconnecting.connect(self.planned)
        run.stateChanged.connect(self.state_changed)
        view.cancelReconnectRequested.connect(self.cancel)

    @property
    def retrying(self) -> bool:
        """An automatic attempt is planned (or under way)."""
        return self._due is not None

    def launched(self) -> None:
        """A new run: whatever the last one lost, it is not this one's."""
        self.lost = False
        self._stop_retrying()

    def source_lost(self, message: str) -> None:
        self.lost = True
        self._message = message
        self._reason = ""
        self._messages.show_error(message, dialog=False)
        self._show()

    def planned(self, seconds: float, reason: str) -> None:
        """The run's plan: the next automatic attempt in `seconds` (-1: none, because it
        was cancelled or the source is back); reason: why the last attempt failed."""
        if reason:
            self._reason = reason
        if seconds >= 0:
            self._due = self.clock() + seconds
            self._tick.start()
        else:
            self._stop_retrying()  # if an attempt worked, playing (or paused) comes next and ends the notice
        self._show()

    def state_changed(self, state: str) -> None:
        if not self.lost:
            return
        if state in ("playing", "paused", "ended"):
            self._end()  # the source is back
            return
        if state == "stopped":
            self._stop_retrying()  # the run is over; Reconnect starts a new one
        self._show()

    def cancel(self) -> None:
        """No more automatic attempts; the notice offers Reconnect."""
        self._stop_retrying()
        self._run.cancel_reconnect()
        self._show()

    def _stop_retrying(self) -> None:
        self._due = None
        self._tick.stop()

    def _end(self) -> None:
        self.lost = False
        self._stop_retrying()
        self._view.hide_notice()

    def _show(self) -> None:
        if not self.lost:
            return
        attempting = self._run.state == "loading"
        title, detail = lost_text(self._source() or "", self._message, self.retrying or attempting)
        if attempting:
            progress = "Reconnecting…"
        elif self._due is not None:
            progress = countdown_text(self._due - self.clock())
        else:
            progress = ""
        self._view.show_notice(
            title, detail, reconnect=not attempting, progress=progress,
            reason=f"Last attempt: {self._reason}" if self._reason else "",
            cancel=self.retrying, reconnect_text="Reconnect Now" if self.retrying else "Reconnect",
        )
