"""Annotated video and detections written while a run goes on, for the viewer and the CLI.

A Recorder draws and writes in a BackgroundSink, so encoding never slows inference. It
is opened, fed and closed by the player's thread; its files are core.outputs' writers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from trt_viewer.core.drawing import DEFAULT_STYLE, DrawStyle, draw_detections
from trt_viewer.core.outputs import AnnotatedOutput, DetectionsWriter, frame_record
from trt_viewer.core.stats import StageStats
from trt_viewer.run.flight import Result
from trt_viewer.run.sink import BackgroundSink

# The fields core.outputs.frame_record writes; an extra field may not replace one of them.
RECORD_FIELDS = frozenset({"frame", "source", "width", "height", "detections", "events"})
# Recorders writing to a text stream (several streams' JSONL on standard output) take
# turns a frame at a time, so that no line is cut by another's.
_STREAM_LOCK = threading.Lock()


class Recorder:
    """Writes each result to an annotated video (or image), a detections file and/or a
    MOTChallenge tracks file (`tracks`).

    draw_in_place: draw on the frame itself (the CLI, where nothing reads the frame
    afterwards) instead of a copy (the viewer, which keeps showing it). `detections` may
    be a text stream (JSONL to standard output). `stats`, if given, gets the "draw" and
    "write" stages. `style`: how boxes and labels are drawn (may be replaced while writing).
    `extra_fields`: put first in every JSONL record (the CLI's `stream` with several
    sources); CSV and MOT files have fixed columns and leave them out."""

    def __init__(self, names: list[str], *, video: Path | None = None, detections: Path | TextIO | None = None,
                 fps: float | None = None, draw_in_place: bool = False, stats: StageStats | None = None,
                 depth: int = 8, style: DrawStyle = DEFAULT_STYLE, tracks: Path | None = None,
                 extra_fields: Mapping[str, Any] | None = None) -> None:
        clash = sorted(RECORD_FIELDS.intersection(extra_fields or {}))
        if clash:
            raise ValueError(f"extra fields {', '.join(clash)} would replace the record's own")
        self.extra_fields = dict(extra_fields or {})
        self.names = names
        self.style = style
        self.draw_in_place = draw_in_place
        self.stats = stats
        self.written = 0  # frames handled in full
        self.writer: DetectionsWriter | None = None
        self._to_stream = detections is not None and not isinstance(detections, Path)
        self.tracks: DetectionsWriter | None = None
        self.video = AnnotatedOutput(video, fps) if video is not None else None
        try:
            if detections is None or isinstance(detections, Path):
                self.writer = DetectionsWriter(detections) if detections is not None else None
            else:  # a stream: JSONL on standard output
                self.writer = DetectionsWriter.to_stream(detections)
            self.tracks = DetectionsWriter(tracks, "mot") if tracks is not None else None
        except BaseException:
            for opened in (self.video, self.writer):  # nothing was written: leave no file behind
                if opened is not None:
                    opened.close(keep=False)
            raise
        self._sink: BackgroundSink[Result] = BackgroundSink(self._handle, depth=depth, drop=Result.give_back)

    @property
    def paths(self) -> list[Path]:
        return [out.path for out in (self.video, self.writer, self.tracks) if out is not None]

    def write(self, result: Result) -> None:
        """Queue one result; raises an error the writing thread met earlier."""
        self._sink.put(result)

    def _handle(self, result: Result) -> None:
        try:
            self._record(result)
        finally:
            # A frame lent by its decoder (PlayOptions.pixels="lend") goes back once drawn
            # and written; a frame with pixels of its own is left as it is.
            result.frame.settle(False)

    def _record(self, result: Result) -> None:
        frame = result.frame
        if self.video is not None:
            t0 = time.perf_counter()
            image = frame.host_image()  # fetched from the GPU here where NVDEC decoded it
            image = image if self.draw_in_place else image.copy()
            if result.overlay is not None:  # trails, lines and zones, where the run tracks
                image = draw_detections(image, result.detections, self.names, self.style, result.overlay)
            else:
                image = draw_detections(image, result.detections, self.names, self.style)
            t1 = time.perf_counter()
            self.video.write(image)
            if self.stats is not None:
                self.stats.add("draw", t1 - t0)
                self.stats.add("write", time.perf_counter() - t1)
        if self.writer is not None or self.tracks is not None:
            events = [event.to_record(self.names) for event in result.events]
            record = frame_record(frame.index, frame.name, frame.hw, result.detections, self.names,
                                  events)
            if self.extra_fields:
                record = {**self.extra_fields, **record}
            if self.writer is not None:
                if self._to_stream:
                    with _STREAM_LOCK:
                        self.writer.write(record)
                else:
                    self.writer.write(record)
            if self.tracks is not None:
                self.tracks.write(record)
        self.written += 1

    def close(self, keep: bool = True) -> None:
        """Write what is queued, close the files, then raise any error met on the way.
        keep=False: the files are removed again (a file they would replace is left as it
        was) -- for a run that failed before it wrote anything."""
        try:
            self._sink.close()
        finally:
            for out in (self.video, self.writer, self.tracks):
                if out is not None:
                    out.close(keep=keep)
