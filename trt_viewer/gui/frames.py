"""What the worker hands the view: one rendered frame, through a one-slot mailbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import cv2
import numpy as np
from PySide6.QtGui import QImage

from trt_viewer.core.detections import Detections
from trt_viewer.core.drawing import DEFAULT_STYLE, DrawStyle, Rect, TrackOverlay, draw_annotations, draw_detections
from trt_viewer.core.sources import NO_PIXELS, Frame
from trt_viewer.errors import first_line

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class FramePacket:
    image: QImage  # owns its pixels, annotated and already scaled to the view's device pixels
    frame: np.ndarray  # the frame as read, never drawn on
    names: list[str]
    index: int
    name: str
    timestamp: float  # seconds into a file; capture time for live sources
    detections: Detections
    labels: list[str] = field(default_factory=list)  # label per detection, for the panel
    style: DrawStyle = DEFAULT_STYLE  # how image was drawn, and snapshots will be
    regions: list[Rect] = field(default_factory=list)  # boxes and labels drawn on image, in its pixels
    overlay: TrackOverlay | None = None  # trails, lines and zones (frame pixels), where the run tracks
    # The run's frame where its full-size pixels are still only in the decoder's memory on
    # the GPU (NVDEC): held for this packet (Frame.hold) until release(), fetched only when
    # something needs them (a snapshot, a paused frame drawn again). `frame` is then empty.
    lent: Frame | None = field(default=None, repr=False)
    hw: tuple[int, int] = (0, 0)  # (H, W) of the frame

    def __post_init__(self) -> None:
        if self.hw == (0, 0):
            self.hw = (int(self.frame.shape[0]), int(self.frame.shape[1]))

    def full(self) -> np.ndarray:
        """The frame at its own size, as read (fetched from the GPU the first time where
        it is still there only: a download in the caller's thread, milliseconds); empty
        where that failed (the packet still shows its picture)."""
        if self.lent is not None and self.frame.size == 0:
            try:
                self.frame = self.lent.host_image()
            except Exception as exc:  # a CUDA error: said once, the picture on screen stays
                log.warning("frame %d could not be fetched from the GPU: %s", self.index, first_line(exc))
                self.lent.settle(False)
                self.lent = None
        return self.frame

    def release(self) -> None:
        """The view is done with this packet: a frame it holds on the GPU goes back to the
        decoder (its pixels, if fetched, stay with the packet)."""
        lent, self.lent = self.lent, None
        if lent is not None:
            lent.settle(False)

    def annotated(self) -> np.ndarray:
        """The full-size frame with its detections drawn (snapshots, recording); empty where
        its pixels are gone (a frame on the GPU that could not be fetched)."""
        frame = self.full()
        if frame.size == 0:
            return frame
        return draw_detections(frame.copy(), self.detections, self.names, self.style, self.overlay)

    def render(self, box_wh: tuple[int, int] | None, dpr: float = 1.0) -> QImage:
        return render(self.full(), self.detections, self.names, box_wh, dpr, self.style, self.overlay)

    def redraw(self, box_wh: tuple[int, int] | None, dpr: float = 1.0, style: DrawStyle | None = None) -> QImage:
        """Render again for another view size or style, and keep it as this packet's image
        (a paused frame: the worker sends nothing new)."""
        if style is not None:
            self.style = style
        frame = self.full()
        if frame.size == 0:  # its pixels are gone (a frame on the GPU that could not be fetched): as it is
            return self.image
        self.image, self.regions = render_annotated(frame, self.detections, self.names, box_wh, dpr, self.style,
                                                    self.overlay)
        return self.image

    @property
    def frame_size(self) -> tuple[int, int]:
        """The frame's (width, height) in its own pixels."""
        h, w = self.hw
        return w, h

    @classmethod
    def of(cls, frame: Frame, detections: Detections, names: list[str], labels: list[str],
           view: tuple[int, int, float], style: DrawStyle = DEFAULT_STYLE,
           overlay: TrackOverlay | None = None) -> FramePacket:
        """The packet of one frame, rendered for a view of (width, height, pixel ratio);
        a view of no size yet gets the frame at its own size. A frame whose pixels are
        still on the GPU only is scaled there: only the view-sized picture comes to the
        host, and the packet holds the frame for its full-size pixels."""
        width, height, ratio = view
        box = (width, height) if width > 0 and height > 0 else None
        h, w = frame.hw
        if box is not None and frame.lent and frame.image is NO_PIXELS:
            held = frame.hold()  # first: the frame cannot go back while it is scaled
            try:
                scaled = frame.scaled(fit_size((w, h), box))
                if scaled.size:
                    image, regions = render_annotated(scaled, detections, names, box, ratio, style, overlay, (w, h))
                    return cls(image, NO_PIXELS, names, frame.index, frame.name, frame.timestamp, detections,
                               labels, style, regions, overlay, held, frame.hw)
            except BaseException:
                held.settle(False)
                raise
            held.settle(False)
        pixels = frame.host_image()
        image, regions = render_annotated(pixels, detections, names, box, ratio, style, overlay)
        return cls(image, pixels, names, frame.index, frame.name, frame.timestamp, detections, labels,
                   style, regions, overlay)


class LatestSlot(Generic[T]):
    """Holds only the newest item: the view can fall behind, but nothing queues.

    put() says whether the slot was empty, so the producer signals once per item the
    consumer will actually take, never once per frame produced. `drop` is called on an
    item replaced before anyone took it (a packet gives back the frame it holds).
    """

    def __init__(self, drop: Callable[[T], object] | None = None) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._drop = drop
        self.replaced = 0  # items overwritten before anyone took them

    def put(self, item: T) -> bool:
        with self._lock:
            old, self._item = self._item, item
            if old is not None:
                self.replaced += 1
        if old is not None and self._drop is not None:
            self._drop(old)
        return old is None

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


def render(bgr: np.ndarray, detections: Detections, names: list[str] | tuple[str, ...],
           box_wh: tuple[int, int] | None = None, dpr: float = 1.0, style: DrawStyle = DEFAULT_STYLE,
           overlay: TrackOverlay | None = None) -> QImage:
    return render_annotated(bgr, detections, names, box_wh, dpr, style, overlay)[0]


def render_annotated(bgr: np.ndarray, detections: Detections, names: list[str] | tuple[str, ...],
                     box_wh: tuple[int, int] | None = None, dpr: float = 1.0, style: DrawStyle = DEFAULT_STYLE,
                     overlay: TrackOverlay | None = None,
                     frame_wh: tuple[int, int] | None = None) -> tuple[QImage, list[Rect]]:
    """The frame with its detections drawn, as a QImage that owns its pixels, scaled to fit
    box_wh (device pixels).

    The frame is scaled first and the boxes are drawn afterwards, straight into the
    QImage's pixels: no full-size copy of the frame, no full-size drawing, and labels as
    sharp in a small window as in a large one. Scaling here, in the worker, leaves the GUI
    thread a 1:1 blit; RGB32 is the format Qt paints without converting. INTER_LINEAR, not
    INTER_AREA: for the usual 1-2x shrink of a video frame it looks the same and costs a
    fraction (docs/performance.md).

    `overlay` (trails, counting lines and zones, in frame pixels) is scaled like the boxes.
    Also returns the rectangles of the boxes and labels drawn (and the lines' and zones'
    labels), in the image's pixels: what the view's rate overlay keeps clear of.

    frame_wh: the frame's own (width, height) where `bgr` was already scaled (on the GPU):
    the boxes are in the frame's pixels.
    """
    hb, wb = bgr.shape[:2]
    w0, h0 = frame_wh if frame_wh is not None else (wb, hb)
    w, h = fit_size((w0, h0), box_wh) if box_wh is not None else (w0, h0)
    if (w, h) != (wb, hb):
        bgr = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_LINEAR)
    if (w, h) != (w0, h0):
        if len(detections):
            scale = np.array([w / w0, h / h0, w / w0, h / h0], np.float32)
            detections = Detections(detections.boxes * scale, detections.scores, detections.class_ids,
                                    detections.track_ids)
        if overlay is not None:
            overlay = overlay.scaled(w / w0, h / h0)
    image = QImage(w, h, QImage.Format.Format_RGB32)
    # RGB32 is 0xffRRGGBB per pixel, i.e. bytes B, G, R, 255 in memory (little-endian),
    # so BGR -> BGRA writes it directly into the QImage's own buffer.
    pixels = np.frombuffer(image.bits(), np.uint8).reshape(h, image.bytesPerLine())[:, : w * 4].reshape(h, w, 4)
    cv2.cvtColor(np.ascontiguousarray(bgr), cv2.COLOR_BGR2BGRA, dst=pixels)
    regions = draw_annotations(pixels, detections, names, style, overlay)
    del pixels
    image.setDevicePixelRatio(dpr)
    return image, regions
