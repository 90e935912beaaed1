"""A backend plus YOLOX pre- and post-processing: one frame in, Detections out."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trt_viewer.core import layouts, names, preprocess
from trt_viewer.core.detections import Detections, label_for
from trt_viewer.core.yolox import PostprocessConfig

if TYPE_CHECKING:
    from trt_viewer.backends.base import Backend

LOGGER = logging.getLogger(__name__)


class Detector:
    """Not thread-safe for infer(); `config` may be replaced from any thread at any time
    (the next frame picks it up), which is how the GUI's sliders work without a restart.

    GPU preprocessing: with a backend that has allocate_frame() (TensorRT, where nvcc can
    build its kernel), allocate_input() hands out raw-frame buffers instead of input
    tensors; preprocess() then only copies the frame in and infer() letterboxes it on the
    GPU. `gpu_preprocess`: None uses it where it can run, False never, True asks for it and
    logs a warning where it cannot run (the CPU letterbox is used then).
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
        self.input_hw = backend.input_hw
        self.preset = preprocess.resolve_preset(preset, backend.metadata)
        self.postprocessor = layouts.Postprocessor(backend.outputs, self.input_hw, layout)
        self.config = config or PostprocessConfig()
        self.names, self.names_source = names.resolve_names(
            backend.path, backend.metadata, layouts.num_classes(backend.outputs), names_file
        )

    def update(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)

    def set_preset(self, name: str) -> None:
        self.preset = preprocess.resolve_preset(name, self.backend.metadata)

    @property
    def layout(self) -> str:
        return self.postprocessor.layout or "raw or decoded (settled on the first frame)"

    @property
    def lanes(self) -> int:
        """Frames the backend can have in flight (submit() before collect()); 1: one at a time."""
        return max(1, int(getattr(self.backend, "lanes", 1)))

    @property
    def cpu_letterbox_reason(self) -> str | None:
        """Why the letterbox runs on the CPU, or None when it runs on the GPU (known once
        allocate_input() was called)."""
        if self.gpu_preprocess is False:
            return "turned off"
        if not hasattr(self.backend, "allocate_frame"):
            return f"the {self.backend.name} backend letterboxes on the CPU"
        return getattr(self.backend, "gpu_letterbox_note", None)

    @property
    def last_timings(self) -> dict[str, float]:
        """Seconds per step of the last collected frame, where the backend reports them
        (TensorRT: enqueue, wait, fetch; with gpu_timing also execute, h2d, gpu_letterbox,
        compute, d2h)."""
        return dict(getattr(self.backend, "last_timings", {}))

    def allocate_input(self) -> Any:
        """An input tensor (np.ndarray) to letterbox into, or a backend's raw-frame buffer
        when the letterbox runs on the GPU; either goes to preprocess() then infer()."""
        allocate_frame = getattr(self.backend, "allocate_frame", None)
        if self.gpu_preprocess is not False and allocate_frame is not None:
            frame = allocate_frame()
            if frame is not None:
                return frame
        if self.gpu_preprocess and not self._warned:
            self._warned = True
            LOGGER.warning("GPU preprocessing is not available (%s); letterboxing on the CPU", self.cpu_letterbox_reason)
        return self.backend.allocate_input()

    def preprocess(self, image: np.ndarray, buffer: Any) -> float:
        if not isinstance(buffer, np.ndarray):  # a raw-frame buffer: the GPU letterboxes it
            buffer.fill(image)
            return preprocess.letterbox_ratio(image.shape[:2], self.input_hw)
        return preprocess.letterbox(image, self.input_hw, buffer, self.preset)[1]

    def infer(self, buffer: Any) -> dict[str, np.ndarray]:
        if not isinstance(buffer, np.ndarray):
            return self.backend.infer_frame(buffer, self.preset)  # type: ignore[attr-defined, no-any-return]
        return self.backend.infer(buffer)

    def submit(self, buffer: Any) -> Any:
        """Queue one frame; collect() gives its outputs, in submission order. Backends
        without lanes run it here and collect() just hands the outputs over."""
        if self.lanes == 1:
            return _Done(self.infer(buffer))
        if not isinstance(buffer, np.ndarray):
            return self.backend.submit(buffer, self.preset)  # type: ignore[attr-defined]
        return self.backend.submit(buffer)  # type: ignore[attr-defined]

    def collect(self, ticket: Any, copy: bool = True) -> dict[str, np.ndarray]:
        """The outputs of the oldest submitted frame. copy=False may give the backend's own
        buffers: read them before submitting more frames (see TensorRTBackend.collect)."""
        if isinstance(ticket, _Done):
            return ticket.outputs
        return self.backend.collect(ticket, copy)  # type: ignore[attr-defined, no-any-return]

    def postprocess(
        self, outputs: dict[str, np.ndarray], ratio: float, frame_hw: tuple[int, int]
    ) -> Detections:
        return self.postprocessor(outputs, ratio, frame_hw, self.config)

    def detect(self, image: np.ndarray, buffer: Any = None) -> Detections:
        """The sequential path: letterbox, infer, decode, NMS."""
        buffer = self.allocate_input() if buffer is None else buffer
        ratio = self.preprocess(image, buffer)
        return self.postprocess(self.infer(buffer), ratio, image.shape[:2])

    def label(self, class_id: int) -> str:
        return label_for(self.names, class_id)


class _Done:
    """Outputs computed at submit() by a backend without lanes."""

    def __init__(self, outputs: dict[str, np.ndarray]) -> None:
        self.outputs = outputs
