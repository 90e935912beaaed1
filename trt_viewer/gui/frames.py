"""What the worker hands the view: one rendered frame, through a one-slot mailbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import cv2
import numpy as np
from PySide6.QtGui import QImage

from trt_viewer.core.detections import Detections

T = TypeVar("T")


@dataclass
class FramePacket:
    image: QImage  # owns its pixels, already scaled to the view's device pixels
    annotated: np.ndarray  # full-size annotated BGR frame, for snapshots
    index: int
    name: str
    timestamp: float  # seconds into a file; capture time for live sources
    detections: Detections
    labels: list[str] = field(default_factory=list)  # label per detection, for the panel


class LatestSlot(Generic[T]):
    """Holds only the newest item: the view can fall behind, but nothing queues.

    put() says whether the slot was empty, so the producer signals once per item the
    consumer will actually take, never once per frame produced.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.replaced = 0  # items overwritten before anyone took them

    def put(self, item: T) -> bool:
        with self._lock:
            was_empty = self._item is None
            if not was_empty:
                self.replaced += 1
            self._item = item
            return was_empty

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item


def fit_size(image_wh: tuple[int, int], box_wh: tuple[int, int]) -> tuple[int, int]:
    """The largest size with the image's aspect ratio that fits in the box."""
    iw, ih = image_wh
    bw, bh = box_wh
    if iw <= 0 or ih <= 0 or bw <= 0 or bh <= 0:
        return iw, ih
    scale = min(bw / iw, bh / ih)
    return max(1, round(iw * scale)), max(1, round(ih * scale))


def to_qimage(bgr: np.ndarray, box_wh: tuple[int, int] | None = None, dpr: float = 1.0) -> QImage:
    """A QImage that owns its pixels, scaled to fit box_wh (device pixels).

    Scaling here, in the worker, leaves the GUI thread a 1:1 blit; RGB32 is the format Qt
    paints without converting. INTER_LINEAR, not INTER_AREA: for the usual 1-2x shrink of a
    video frame it looks the same and costs a fifth (0.9 against 4.4 ms for 1080p).
    """
    if box_wh is not None:
        w, h = fit_size((bgr.shape[1], bgr.shape[0]), box_wh)
        if (w, h) != (bgr.shape[1], bgr.shape[0]):
            bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
    h, w = bgr.shape[:2]
    image = QImage(w, h, QImage.Format.Format_RGB32)
    # RGB32 is 0xffRRGGBB per pixel, i.e. bytes B, G, R, 255 in memory (little-endian),
    # so BGR -> BGRA writes it directly into the QImage's own buffer.
    view = np.frombuffer(image.bits(), np.uint8).reshape(h, image.bytesPerLine())[:, : w * 4]
    cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2BGRA, dst=view.reshape(h, w, 4))
    del view
    image.setDevicePixelRatio(dpr)
    return image
