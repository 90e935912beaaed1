"""INT8 calibration data for TensorRT versions that calibrate (8.5 to 10).

Each calibration image is letterboxed exactly as at inference time, into a pinned buffer,
and copied to one device buffer whose address TensorRT reads. TensorRT 11 dropped
calibration: it builds INT8 only from models quantized with Q/DQ nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trt_viewer.backends.trt.cuda import CudaContext
from trt_viewer.backends.trt.progress import BuildProgress
from trt_viewer.core import preprocess
from trt_viewer.core.sources import Source

if TYPE_CHECKING:
    import tensorrt as trt


def can_calibrate() -> bool:
    import tensorrt as trt

    return hasattr(trt.BuilderFlag, "INT8") and hasattr(trt, "IInt8EntropyCalibrator2")


class CalibrationData:
    """Letterboxed images, one per batch, in one device buffer TensorRT reads from."""

    def __init__(
        self,
        ctx: CudaContext,
        source: Source,
        shape: tuple[int, int, int, int],
        dtype: np.dtype,
        preset: preprocess.Preset,
        progress: BuildProgress,
    ) -> None:
        self.cuda = ctx.cuda
        self.source = source
        self.input_hw = (shape[2], shape[3])
        self.preset = preset
        self.progress = progress
        self.total = source.length or 0
        self.used = 0
        self.host = self.cuda.pagelocked_empty(shape, dtype)  # the input's own type
        self.device = self.cuda.mem_alloc(self.host.nbytes)

    def next_batch(self) -> list[int] | None:
        frame = self.source.read()
        if frame is None:
            return None  # tells TensorRT the data is exhausted
        preprocess.letterbox(frame.image, self.input_hw, self.host, self.preset)
        self.cuda.memcpy_htod(self.device, self.host)
        self.used += 1
        if self.used == 1 or self.used % 50 == 0 or self.used == self.total:
            self.progress.note(f"  calibration image {self.used}/{self.total}")
        return [int(self.device)]

    def free(self) -> None:
        self.source.close()
        self.device.free()
        self.host.base.free()


def entropy_calibrator(data: CalibrationData) -> trt.IInt8EntropyCalibrator2:
    import tensorrt as trt

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> Any:
            return data.next_batch()

        def read_calibration_cache(self) -> Any:
            return None  # always calibrate from the images given

        def write_calibration_cache(self, cache: Any) -> None:
            return None

    return Calibrator()
