"""The interface every backend implements (ONNX Runtime, TensorRT).

A backend is a context manager: opened by its constructor, released by close(). It must
be created, used and closed in the same thread (a CUDA context belongs to one thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.core.spec import TensorSpec

DEFAULT_INPUT_SIZE = (640, 640)


class Backend:
    name = "backend"
    path: Path
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, str]  # free-form strings stored with the model (class names...)

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    def input_hw(self) -> tuple[int, int]:
        """(H, W) the model is run at; dynamic models get a concrete size when opened."""
        raise NotImplementedError

    @property
    def precision(self) -> str:
        """What the user sees in the model panel: fp32, fp16, int8..."""
        return np.dtype(self.input.dtype).name

    def allocate_input(self) -> np.ndarray:
        """A buffer of the input's shape and dtype to letterbox into and pass to infer().

        The TensorRT backend hands out page-locked memory here, so the host-to-device copy
        is asynchronous; an ordinary array passed to infer() is copied into such a buffer.
        """
        shape = (1, 3, *self.input_hw)
        return np.empty(shape, np.dtype(self.input.dtype))

    def infer(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Run one batch; the returned arrays belong to the caller."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": str(self.path),
            "precision": self.precision,
            "input_size": list(self.input_hw),
            "lanes": int(getattr(self, "lanes", 1)),  # frames the pipeline keeps in flight
            "inputs": [s.describe() for s in self.inputs],
            "outputs": [s.describe() for s in self.outputs],
        }

    def close(self) -> None:
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
