"""Playback ▸ Video Decoding: which decoder opens video files (run.decoding), kept in the
settings; and what the run tells about it: the decoder in use (SourceInfo.decoder) on the
Statistics panel's *Decoding* row, and why a choice fell back.

The choice is read when a run opens its source, so changing it while a video file plays
opens that file again (from the start, paused if it was), as choosing class names does.
Cameras, streams and images are decoded the same whatever the choice: a run on one of them
goes on, and the choice applies to the next video file opened.

Why a choice fell back is run.decoding's one log line: while a Worker runs, DecodingNotes
passes it the lines about its own source. One the user must hear about (the GPU chosen
and not to be had, no decoder process to be started) goes to the status bar, not to a
dialog: the video plays on, decoded another way. Automatic finding no NVDEC is what
Automatic means: that reason is in the *Decoding* row's tooltip only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from trt_viewer.gui.messages import Messages
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.run.decode_process import decodes_in_process
from trt_viewer.run.session import SourceInfo, display_name

if TYPE_CHECKING:
    from trt_viewer.gui.run_control import RunControl

# (run.decoding.DECODE_CHOICES value, menu text, what it does)
CHOICES = (
    ("auto", "&Automatic",
     "The GPU's decoder (NVDEC) where the model runs on the GPU and can take the file, else the CPU"),
    ("cpu", "&CPU (Decoder Process)", "FFmpeg on the CPU, in a process of its own beside the viewer"),
    ("thread", "CPU (in the &Viewer's Process)", "FFmpeg on the CPU, in a thread of the viewer"),
    ("nvdec", "&GPU (NVDEC)", "The GPU's video decoder: frames stay on the GPU (TensorRT engines, PyNvVideoCodec)"),
)
# SourceInfo.decoder, as the Decoding row says it.
IN_USE = {"nvdec": "GPU (NVDEC)", "cpu (process)": "CPU (decoder process)", "cpu (thread)": "CPU (viewer's process)"}
DECODING_LOGGER = "trt_viewer.run.decoding"
NOTE_MS = 15000  # a fallback explains the run that follows: longer than a passing notice
APPLIES = "Applies to video files; a video playing opens again from the start"


def _label(choice: str) -> str:
    return next(text for value, text, _ in CHOICES if value == choice).replace("&", "")


class DecodingNotes(logging.Handler):
    """run.decoding's lines about `spec`, passed on as say(line, warning). Called in the
    thread that logged (the player's source opens in a helper thread): `say` must be
    thread-safe, as a signal's emit() is."""

    def __init__(self, spec: str, say: Callable[[str, bool], object]) -> None:
        super().__init__(logging.INFO)
        self._spec = spec
        self._say = say

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # Its lines name the source ("decoding clip.mp4 on the CPU: ..."): a line from a run
        # before this one (an open abandoned by a stop, still running) is about its own.
        if f"decoding {self._spec} " not in message:
            return
        message = message.replace(self._spec, display_name(self._spec), 1)
        self._say(message[:1].upper() + message[1:], record.levelno >= logging.WARNING)


_listening = threading.Lock()
_listeners: list[DecodingNotes] = []
_level_before = [logging.NOTSET]


@contextmanager
def decoding_notes(spec: str, say: Callable[[str, bool], object]) -> Iterator[None]:
    """While inside, run.decoding's lines about `spec` go to say(line, warning). The logger
    makes INFO records (Automatic's fallback) only while someone listens: its own level is
    lowered to INFO for that time and given back after the last listener (workers of tests
    may overlap)."""
    logger = logging.getLogger(DECODING_LOGGER)
    handler = DecodingNotes(spec, say)
    with _listening:
        if not _listeners:
            _level_before[0] = logger.level
            if not logger.isEnabledFor(logging.INFO):
                logger.setLevel(logging.INFO)
        _listeners.append(handler)
        logger.addHandler(handler)
    try:
        yield
    finally:
        with _listening:
            logger.removeHandler(handler)
            _listeners.remove(handler)
            if not _listeners:
                logger.setLevel(_level_before[0])


class VideoDecoding(QObject):
    """The menu, the choice kept in the settings, and what the run says about decoding.
    `source()` is the source chosen (a video file playing is opened again on a change)."""

    def __init__(self, settings: Settings, run: RunControl, messages: Messages, stats: StatsPanel,
                 source: Callable[[], str | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._run = run
        self._messages = messages
        self._stats = stats
        self._source = source
        self.choice = settings.decode()
        self._notes: list[str] = []  # this run's lines from run.decoding
        self._reopening = False  # a new choice asked for the run to be opened again...
        self._reopened = False  # ...and this run is that one: say what it decodes with once it opens
        self.menu = QMenu("Video &Decoding")
        self.menu.setToolTipsVisible(True)
        self.menu.menuAction().setStatusTip(APPLIES)
        group = QActionGroup(self.menu)
        self.choices: dict[str, QAction] = {}
        for value, text, tip in CHOICES:
            action = self.menu.addAction(text)
            action.setCheckable(True)
            action.setToolTip(f"{tip}. {APPLIES}")
            action.setStatusTip(tip)
            action.setChecked(value == self.choice)
            action.triggered.connect(lambda _=False, v=value: self.set_choice(v))
            group.addAction(action)
            self.choices[value] = action
        run.launched.connect(self._new_run)
        run.decodingNote.connect(self._note)
        run.sourceReady.connect(self._source_ready)

    def set_choice(self, choice: str) -> None:
        """Decode video files with `choice` (run.decoding.DECODE_CHOICES) from the next open."""
        if choice not in self.choices:
            raise ValueError(f"unknown video decoding {choice!r}")
        self.choices[choice].setChecked(True)
        if choice == self.choice:
            return
        self.choice = choice
        self._settings.set_decode(choice)
        source = self._source()
        label = _label(choice)
        if not self._run.busy:
            self._messages.notify(f"Video decoding: {label}, from the next start")
        elif source and decodes_in_process(source):
            self._reopening = True
            self._run.start(paused=self._run.state in ("paused", "ended"))
        else:
            self._messages.notify(f"Video decoding: {label}, for the next video file (this source is no video file)")

    def _new_run(self) -> None:
        self._notes = []
        # Only the run launched for the choice says so (not a later one, if that one failed).
        self._reopened, self._reopening = self._reopening, False

    def _note(self, line: str, warning: bool) -> None:
        self._notes.append(line)
        if warning:
            self._reopened = False  # the warning says more than what it decodes with
            self._messages.notify(line, NOTE_MS)
        if self._run.source_info is not None:
            self._source_ready(self._run.source_info)

    def _source_ready(self, info: SourceInfo) -> None:
        in_use = IN_USE.get(info.decoder, info.decoder or "–")
        worker = self._run.worker
        chosen = worker.spec.decode if worker is not None else self.choice  # this run's, not the menu's now
        if decodes_in_process(info.spec):
            tip = f"Chosen: {_label(chosen)} (Playback ▸ Video Decoding)"
        else:
            tip = "Cameras, streams and images are decoded on the CPU whatever Playback ▸ Video Decoding says"
        self._stats.set_decoder(in_use, "\n".join([tip, *self._notes]))
        if self._reopened:
            self._reopened = False
            self._messages.notify(f"{display_name(info.spec)} opened again, decoding: {in_use}")
