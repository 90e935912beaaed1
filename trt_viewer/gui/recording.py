"""The viewer's Record (annotated video) and Export (detections), started and stopped at
will during a run; each is a run.recording.Recorder, used only in the worker's thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from trt_viewer.core.drawing import DEFAULT_STYLE, DrawStyle
from trt_viewer.errors import first_line
from trt_viewer.run.flight import Result
from trt_viewer.run.recording import Recorder

KINDS = ("record", "export")


class Outputs:
    """on_change(kind, on, path) reports each start and stop; on_error(message) failures."""

    def __init__(self, on_change: Callable[[str, bool, str], None], on_error: Callable[[str], None]) -> None:
        self._open: dict[str, Recorder] = {}
        self._on_change = on_change
        self._on_error = on_error

    @property
    def active(self) -> bool:
        return bool(self._open)

    def start(self, kind: str, path: Path, names: list[str], fps: float | None,
              style: DrawStyle = DEFAULT_STYLE) -> None:
        self.stop(kind)
        try:
            if kind == "record":
                recorder = Recorder(names, video=path, fps=fps, style=style)
            else:
                recorder = Recorder(names, detections=path)
        except Exception as exc:  # a bad folder must not end the run
            self._on_error(first_line(exc, typed=True))
            self._on_change(kind, False, str(path))
        else:
            self._open[kind] = recorder
            self._on_change(kind, True, str(path))

    def set_style(self, style: DrawStyle) -> None:
        """A recording goes on with the new style from its next frame."""
        for recorder in self._open.values():
            recorder.style = style

    def write(self, result: Result) -> None:
        for kind, recorder in list(self._open.items()):
            result.frame.hold()  # the recorder settles the frame once written (or refused)
            try:
                recorder.write(result)
            except Exception as exc:
                self._on_error(first_line(exc, typed=True))
                self.stop(kind)

    def stop(self, kind: str) -> None:
        recorder = self._open.pop(kind, None)
        if recorder is None:
            return
        try:
            recorder.close()
        except Exception as exc:
            self._on_error(first_line(exc, typed=True))
        self._on_change(kind, False, str(recorder.paths[0]) if recorder.written else "")

    def close(self) -> None:
        for kind in list(self._open):
            self.stop(kind)
