"""What the window saves: snapshots of the frame on screen (named after the source, or after
the image on screen for images), and the recording and export the run writes while it plays
(their toggles follow what the worker reports)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from trt_viewer.gui import files
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.saving import ImageSaver, ensure_folder, output_path
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.run_control import RunControl

SUFFIX = {"record": ".mp4", "export": ".jsonl"}


def _set_quietly(action: QAction, on: bool) -> None:
    """Check or uncheck a toggle without it asking for the change again."""
    action.blockSignals(True)
    action.setChecked(on)
    action.blockSignals(False)


class Outputs:
    """source() names the files (the chosen source); snapshots are written by `saver`."""

    def __init__(self, parent: QWidget, settings: Settings, actions: Actions, view: VideoView, run: RunControl,
                 messages: Messages, source: Callable[[], str | None]) -> None:
        self._settings = settings
        self._actions = actions
        self._view = view
        self._run = run
        self._messages = messages
        self._source = source
        self.saver = ImageSaver(parent)
        self.saver.saved.connect(lambda path: messages.notify(f"Snapshot saved: {path}"))
        self.saver.failed.connect(messages.show_error)

    def _action(self, kind: str) -> QAction:
        return self._actions.record if kind == "record" else self._actions.export

    def _folder_error(self, exc: OSError) -> str:
        return f"cannot create the output folder {self._settings.output_dir()}: {exc.strerror or exc}"

    def snapshot(self) -> Path | None:
        packet = self._run.packet
        if packet is None:
            self._messages.notify("Nothing to save yet: start playing first")
            return None
        try:
            folder = ensure_folder(self._settings.output_dir())
        except OSError as exc:
            self._messages.show_error(self._folder_error(exc))
            return None
        info = self._run.source_info
        if info is not None and info.images and packet.name:
            # An image is named after itself (dog_20250101-120000.png), not its folder.
            path = output_path(folder, files.stem_for_output(packet.name), ".png")
        else:
            path = output_path(folder, files.stem_for_output(self._source() or "frame"), ".png", packet.index)
        image = packet.annotated()
        if image.size == 0:
            self._messages.show_error("cannot save a snapshot: the frame on screen could not be fetched from the GPU")
            return None
        self.saver.save(image, path)
        return path

    def set_output(self, kind: str, on: bool) -> None:
        """The record or export toggle was switched by the user."""
        if not on:
            self._run.stop_output(kind)
            return
        if self._run.worker is None:
            _set_quietly(self._action(kind), False)
            self._messages.notify("Start playing first, then record or export")
            return
        try:
            folder = ensure_folder(self._settings.output_dir())
        except OSError as exc:
            _set_quietly(self._action(kind), False)
            self._messages.show_error(self._folder_error(exc))
            return
        self._run.start_output(kind, output_path(folder, files.stem_for_output(self._source() or "run"), SUFFIX[kind]))

    def output_changed(self, kind: str, on: bool, path: str) -> None:
        """What the worker did about it: started, saved, or stopped with nothing written."""
        _set_quietly(self._action(kind), on)
        if kind == "record":
            self._view.set_recording(on)
        what = "Recording" if kind == "record" else "Exporting detections"
        if on:
            self._messages.notify(f"{what} to {path}")
        elif path:
            self._messages.notify(f"{'Recording' if kind == 'record' else 'Detections'} saved: {path}")
        else:
            self._messages.notify(f"{what} stopped: nothing was written")

    def run_ended(self) -> None:
        """No run any more: a record or export asked for while it was loading dies with it."""
        for kind in SUFFIX:
            _set_quietly(self._action(kind), False)
        self._view.set_recording(False)

    def wait(self) -> None:
        """Let snapshots still being written finish (the window is closing)."""
        self.saver.wait()
