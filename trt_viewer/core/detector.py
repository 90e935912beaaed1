"""A backend plus YOLOX pre- and post-processing: one frame in, Detections out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trt_viewer.core import layouts, names, preprocess
from trt_viewer.core.detections import Detections, label_for
from trt_viewer.core.yolox import PostprocessConfig

if TYPE_CHECKING:
    from trt_viewer.backends.base import Backend


class Detector:
    """Not thread-safe for infer(); `config` may be replaced from any thread at any time
    (the next frame picks it up), which is how the GUI's sliders work without a restart."""

    def __init__(
        self,
        backend: Backend,
        *,
        preset: str = "auto",
        layout: str = "auto",
        config: PostprocessConfig | None = None,
        names_file: Path | None = None,
    ) -> None:
        self.backend = backend
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

    def allocate_input(self) -> np.ndarray:
        return self.backend.allocate_input()

    def preprocess(self, image: np.ndarray, buffer: np.ndarray) -> float:
        return preprocess.letterbox(image, self.input_hw, buffer, self.preset)[1]

    def infer(self, buffer: np.ndarray) -> dict[str, np.ndarray]:
        return self.backend.infer(buffer)

    def postprocess(
        self, outputs: dict[str, np.ndarray], ratio: float, frame_hw: tuple[int, int]
    ) -> Detections:
        return self.postprocessor(outputs, ratio, frame_hw, self.config)

    def detect(self, image: np.ndarray, buffer: np.ndarray | None = None) -> Detections:
        """The sequential path: letterbox, infer, decode, NMS."""
        buffer = self.allocate_input() if buffer is None else buffer
        ratio = self.preprocess(image, buffer)
        return self.postprocess(self.infer(buffer), ratio, image.shape[:2])

    def label(self, class_id: int) -> str:
        return label_for(self.names, class_id)
