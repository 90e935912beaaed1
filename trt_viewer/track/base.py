"""The tracker contract: detections of one frame in, the same detections with track ids out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from trt_viewer.core.detections import Detections


class Tracker(ABC):
    """One stream's tracker; not thread-safe (the Player's thread owns it).

    update(detections, timestamp): the frame's detections (from `Detector.postprocess`)
    and its time in seconds (`Frame.timestamp`: position in a file, or capture time);
    returns Detections with `track_ids` set, the detections' own boxes, scores and classes.
    By default only detections on confirmed tracks come back (track ids >= 1); with
    `keep_untracked=True` every input detection does, in input order, NO_TRACK (-1) for
    those on no confirmed track. Ids are unique across classes and never reused until
    reset().

    reset(): forget every track and start ids at 1 again; call it on a seek, a step back,
    a loop and a change of source (anything after which the next frame does not follow
    the last one).
    """

    name: str = "tracker"

    @abstractmethod
    def update(self, detections: Detections, timestamp: float) -> Detections: ...

    @abstractmethod
    def reset(self) -> None: ...


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes, [len(a), len(b)]."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    out: np.ndarray = inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
    return out
