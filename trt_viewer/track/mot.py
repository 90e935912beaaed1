"""MOTChallenge text files: tracker output written frame by frame, and read back.

A line per tracked detection: `frame,id,x,y,w,h,score,-1,-1,-1`, the frame numbered from 1
(the source's frame index + 1), the box's top-left corner, width and height in pixels.
Ground truth files (`frame,id,x,y,w,h,conf,class,visibility`) read the same way.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections


def mot_lines(frame_index: int, detections: Detections) -> list[str]:
    """The lines of one frame (0-based index; written as index + 1); detections without a
    track id are left out."""
    if detections.track_ids is None:
        return []
    frame = frame_index + 1
    out = []
    for tid, box, score in zip(detections.track_ids.tolist(), detections.boxes.tolist(), detections.scores.tolist()):
        if tid == NO_TRACK:
            continue
        x1, y1, x2, y2 = box
        out.append(f"{frame},{tid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{score:.4f},-1,-1,-1\n")
    return out


class MotWriter:
    """Tracker output as a MOTChallenge file; `write(frame_index, tracked)` per frame.

    Opens (and truncates) a path, or writes to an open text stream that it does not close.
    Not thread-safe; a context manager."""

    def __init__(self, target: str | Path | IO[str]) -> None:
        if isinstance(target, (str, Path)):
            self.path: Path | None = Path(target)
            self._file: IO[str] = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
            self._owned = True
        else:
            self.path = None
            self._file = target
            self._owned = False
        self.lines = 0

    def write(self, frame_index: int, detections: Detections) -> int:
        lines = mot_lines(frame_index, detections)
        if lines:
            self._file.writelines(lines)
            self.lines += len(lines)
        return len(lines)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if self._owned and not self._file.closed:
            self._file.close()

    def __enter__(self) -> MotWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_mot(source: str | Path | IO[str]) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per frame number (from 1): ids [N], xyxy boxes [N, 4] and the 7th column (score or
    conf) [N]. Blank lines are skipped."""
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, (str, Path)) else source.read()
    rows = [line.split(",") for line in io.StringIO(text).read().splitlines() if line.strip()]
    if not rows:
        return {}
    arr = np.array([[float(v) for v in r[:7]] for r in rows])
    frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for f in np.unique(arr[:, 0]).astype(int).tolist():
        sel = arr[arr[:, 0] == f]
        boxes = sel[:, 2:6].copy()
        boxes[:, 2:] += boxes[:, :2]
        frames[f] = (sel[:, 1].astype(np.int64), boxes, sel[:, 6])
    return frames
