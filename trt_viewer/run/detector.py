"""A backend plus YOLOX pre- and post-processing: one frame in, Detections out."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.backends.base import Backend, InputBuffer, Ticket
from trt_viewer.core import layouts, names, preprocess
from trt_viewer.core.detections import Detections, label_for
from trt_viewer.core.sources import Frame
from trt_viewer.core.yolox import PostprocessConfig

LOGGER = logging.getLogger(__name__)


class Detector:
    """Not thread-safe for inference; `config` may be replaced from any thread at any time
    (the next frame picks it up), which is how the viewer's sliders work without a restart.

    gpu_preprocess: None letterboxes on the GPU where the backend can, False never, True
    asks for it and logs a warning where it cannot run (the CPU letterbox is used then).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        preset: str = "auto",
        layout: str = "auto",
        config: PostprocessConfig | None = None,
        names_file: Path | None = None,
        gpu_preprocess: bool | None = None,
    ) -> None:
        self.backend = backend
        self.gpu_preprocess = gpu_preprocess
        self._warned = False
        self._on_gpu: bool | None = None  # known once a buffer was allocated
        self.input_hw = backend.input_hw
        self.preset = preprocess.resolve_preset(preset, backend.metadata)
        self.postprocessor = layouts.Postprocessor(backend.outputs, self.input_hw, layout)
        self.config = config or PostprocessConfig()
        num_classes = layouts.num_classes(backend.outputs)
        if num_classes is None:  # end-to-end outputs: what the graph says, else the metadata
            num_classes = backend.class_count_hint
        self.names, self.names_source = names.resolve_names(backend.path, backend.metadata, num_classes, names_file)

    def update(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    def set_preset(self, name: str) -> None:
        self.preset = preprocess.resolve_preset(name, self.backend.metadata)

    @property
    def layout(self) -> str:
        return self.postprocessor.layout or "raw or decoded (settled on the first frame)"

    @property
    def layout_settled(self) -> bool:
        return self.postprocessor.layout is not None

    @property
    def lanes(self) -> int:
        """Frames the backend can have in flight (submit() before collect())."""
        return max(1, self.backend.lanes)

    @property
    def cpu_letterbox_reason(self) -> str | None:
        """Why the letterbox runs on the CPU, or None when it runs on the GPU (known once
        allocate_input() was called)."""
        if self.gpu_preprocess is False:
            return "turned off"
        if not self.backend.capabilities.gpu_letterbox:
            return f"the {self.backend.name} backend letterboxes on the CPU"
        if self._on_gpu is False:
            return self.backend.letterbox_note or "not available"
        return None

    @property
    def last_timings(self) -> dict[str, float]:
        """Seconds per step of the last collected frame, where the backend reports them
        (TensorRT: enqueue, wait, fetch; with gpu_timing also execute, h2d, gpu_letterbox,
        compute, d2h)."""
        return dict(self.backend.last_timings)

    def allocate_input(self) -> InputBuffer:
        """A buffer for one frame: letterboxed on the CPU by preprocess(), or on the GPU at
        submit() where the backend can and gpu_preprocess allows."""
        buffer = self.backend.allocate_input(gpu_letterbox=self.gpu_preprocess is not False)
        self._on_gpu = buffer.on_gpu
        if self.gpu_preprocess and not buffer.on_gpu and not self._warned:
            self._warned = True
            LOGGER.warning("GPU preprocessing is not available (%s); letterboxing on the CPU",
                           self.cpu_letterbox_reason)
        return buffer

    def preprocess(self, image: np.ndarray, buffer: InputBuffer) -> float:
        """Fill `buffer` with the frame; returns the letterbox ratio. Any thread."""
        return buffer.fill(image, self.preset)

    def preprocess_frame(self, frame: Frame, buffer: InputBuffer) -> float:
        """preprocess() for a source's frame: host pixels or a frame on the GPU, as the
        buffer takes it (InputBuffer.take). Host pixels in any thread; a frame on the GPU
        in the backend's."""
        return buffer.take(frame, self.preset)

    def infer(self, buffer: InputBuffer) -> dict[str, np.ndarray]:
        return self.backend.infer(buffer)

    def submit(self, buffer: InputBuffer) -> Ticket:
        """Queue one frame; collect() gives its outputs, in submission order."""
        return self.backend.submit(buffer)

    def collect(self, ticket: Ticket, copy: bool = True) -> dict[str, np.ndarray]:
        """The outputs of the oldest submitted frame. copy=False may give the backend's own
        buffers: read them before submitting more frames."""
        return self.backend.collect(ticket, copy)

    def postprocess(
        self, outputs: dict[str, np.ndarray], ratio: float, frame_hw: tuple[int, int]
    ) -> Detections:
        return self.postprocessor(outputs, ratio, frame_hw, self.config)

    def detect(self, image: np.ndarray, buffer: InputBuffer | None = None) -> Detections:
        """The sequential path: letterbox, infer, decode, NMS."""
        buffer = self.allocate_input() if buffer is None else buffer
        ratio = self.preprocess(image, buffer)
        return self.postprocess(self.infer(buffer), ratio, image.shape[:2])

    def label(self, class_id: int) -> str:
        return label_for(self.names, class_id)
