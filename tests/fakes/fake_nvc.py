"""A strict double of NVIDIA's PyNvVideoCodec over the fake GPU (fake_pycuda.py), for the
NVDEC source (run/nvdec.py) in the CPU-only CI.

It decodes with OpenCV and writes NV12 frames (BT.601 limited range, as FFmpeg gives
OpenCV its BGR) into fake device memory, and behaves as the real ThreadedDecoder was seen
to on the GPU machine (benchmarks/results/h200_probe_nvdec.log):
- frames are NV12 with two planes behind cuda(), each with __cuda_array_interface__;
- the decoder reuses a frame's memory `buffer_size` frames later, so a consumer that keeps
  a frame's address instead of copying it reads a later frame;
- get_batch_frames returns [] at the end; reconfigure_decoder(path, start_frame) seeks;
- it takes a CUDA context handle and a stream handle, and refuses a context that is not a
  retained primary context of the fake GPU (as the real one fails on a bad handle);
- a file FFmpeg cannot open raises its exception type, PyNvVCException;
- `codecs`: the FourCCs it decodes (NVDEC takes no MJPEG-in-AVI on many GPUs: a test
  sets it to exercise the fallback).
The GPU test tests/test_gpu_nvdec.py checks that every name defined here exists in the
real module.
"""

from __future__ import annotations

import enum
import types

import cv2
import numpy as np

from .fake_pycuda import FakeGpu


class PyNvVCException(Exception):
    pass


class OutputColorType(enum.Enum):
    NATIVE = 0
    RGB = 1
    RGBP = 2


class Pixel_Format(enum.Enum):  # PyNvVideoCodec's names, as they are
    NV12 = 0
    P016 = 1
    YUV444 = 2


def bgr_to_nv12(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Y [H, W], UV [H/2, W/2, 2]) of a BGR frame, BT.601 limited range."""
    i420 = cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420)
    h, w = image.shape[:2]
    y = i420[:h]
    u = i420[h:h + h // 4].reshape(h // 2, w // 2)
    v = i420[h + h // 4:].reshape(h // 2, w // 2)
    return y, np.stack([u, v], -1)


class _Plane:
    def __init__(self, address: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> None:
        self.__cuda_array_interface__ = {"version": 3, "shape": list(shape), "strides": list(strides),
                                         "typestr": "|u1", "stream": 2, "data": (address, False), "gpuIdx": 0}


class DecodedFrame:
    def __init__(self, y: int, uv: int, hw: tuple[int, int], pts: int, pitch: int) -> None:
        h, w = hw
        self._planes = [_Plane(y, (h, w, 1), (pitch, 1, 1)), _Plane(uv, (h // 2, w // 2, 2), (pitch, 2, 1))]
        self.format = Pixel_Format.NV12
        self.shape = (h * 3 // 2, w)
        self.timestamp = pts
        self._pts = pts

    def cuda(self) -> list[_Plane]:
        return list(self._planes)

    def getPTS(self) -> int:
        return self._pts

    def framesize(self) -> int:
        h, w = self.shape
        return h * w


class StreamMetadata:
    def __init__(self, width: int, height: int, num_frames: int, average_fps: float, codec_name: str) -> None:
        self.width, self.height, self.num_frames = width, height, num_frames
        self.average_fps, self.codec_name = average_fps, codec_name
        self.duration = num_frames / average_fps if average_fps else 0.0
        self.bitrate = 0.0


def make_nvc(gpu: FakeGpu, codecs: set[str] | None = None, pitch_pad: int = 0) -> types.ModuleType:
    """The `PyNvVideoCodec` module double over `gpu`. pitch_pad: bytes added to each row's
    pitch (the real decoder's pitch may exceed the width)."""
    module = types.ModuleType("PyNvVideoCodec")
    module.__version__ = "2.2.4"  # type: ignore[attr-defined]
    module.decoded = 0  # type: ignore[attr-defined]  # frames decoded, for the tests

    class ThreadedDecoder:
        def __init__(self, enc_file_path: str, buffer_size: int, gpu_id: int = 0, cuda_context: int = 0,
                     cuda_stream: int = 0, use_device_memory: bool = True, max_width: int = 0, max_height: int = 0,
                     need_scanned_stream_metadata: int = 0, decoder_cache_size: int = 4,
                     output_color_type: OutputColorType = OutputColorType.NATIVE, start_frame: int = 0,
                     enableDecodeStats: bool = False) -> None:
            if cuda_context not in {0x7C000000 + n for n in range(gpu.devices)}:
                raise PyNvVCException(f"ValidateCUDAContext : invalid CUDA context {cuda_context:#x}")
            if cuda_stream not in gpu.streams:
                raise PyNvVCException(f"ValidateCUDAStream : invalid CUDA stream {cuda_stream:#x}")
            if output_color_type is not OutputColorType.NATIVE or not use_device_memory:
                raise AssertionError("the double decodes NV12 into device memory only")
            self._path, self._buffer_size = enc_file_path, buffer_size
            self._open(start_frame)

        def _open(self, start: int) -> None:
            cap = cv2.VideoCapture(self._path, cv2.CAP_FFMPEG)
            if not cap.isOpened():
                raise PyNvVCException("CreateFormatContext : avformat_open_input returned error "
                                      "\" Invalid data found when processing input\"")
            fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
            codec = "".join(chr((fourcc >> 8 * i) & 0xFF) for i in range(4)).strip().lower()
            if codecs is not None and codec not in codecs:
                cap.release()
                raise PyNvVCException(f"Codec {codec} not supported on this GPU")
            self._cap = cap
            self._w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            self._h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            self._fps = float(cap.get(cv2.CAP_PROP_FPS))
            self._count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            self._codec = codec
            self._pitch = self._w + pitch_pad
            size = self._pitch * self._h * 3 // 2
            self._ring = [gpu.reserve(size) for _ in range(self._buffer_size)]
            self._next = start
            if start:
                cap.set(cv2.CAP_PROP_POS_FRAMES, start)

        def __len__(self) -> int:
            return self._count

        def get_stream_metadata(self) -> StreamMetadata:
            return StreamMetadata(self._w, self._h, self._count, self._fps, self._codec)

        def get_batch_frames(self, batch_size: int) -> list[DecodedFrame]:
            if batch_size > self._buffer_size:
                raise Exception("batch_size cannot be greater than buffer_size.")
            out = []
            for _ in range(batch_size):
                ok, image = self._cap.read()
                if not ok:
                    break
                y, uv = bgr_to_nv12(image)
                base = self._ring[self._next % self._buffer_size]  # reused buffer_size frames on
                pitch, h = self._pitch, self._h
                rows_y = np.zeros((h, pitch), np.uint8)
                rows_y[:, : self._w] = y
                rows_uv = np.zeros((h // 2, pitch), np.uint8)
                rows_uv[:, : self._w] = uv.reshape(h // 2, self._w)
                gpu.write(base, rows_y.tobytes() + rows_uv.tobytes())
                out.append(DecodedFrame(base, base + pitch * h, (h, self._w), self._next, pitch))
                self._next += 1
                module.decoded += 1  # type: ignore[attr-defined]
            return out

        def reconfigure_decoder(self, new_source: str, start_frame: int = 0) -> None:
            self.end()
            self._path = new_source
            self._open(start_frame)

        def end(self) -> None:
            cap = getattr(self, "_cap", None)
            if cap is not None:
                cap.release()
            for address in getattr(self, "_ring", []):
                gpu.release(address)
            self._ring = []

    module.ThreadedDecoder = ThreadedDecoder  # type: ignore[attr-defined]
    module.OutputColorType = OutputColorType  # type: ignore[attr-defined]
    module.PyNvVCException = PyNvVCException  # type: ignore[attr-defined]
    return module
