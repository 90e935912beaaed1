"""Python emulations of trt_viewer's CUDA kernels, for the fake GPU (fake_pycuda.py).

Each emulation does, in numpy, the arithmetic its kernel does, reading and writing the
fake device memory; a launch with the wrong arguments fails here as it would misbehave
there. The GPU tests (test_gpu_speed.py) compare the real kernel with these emulations
and with the CPU letterbox, so an emulation that drifts from its kernel is caught.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

PAD = 114
F32 = np.float32


def _source_of(count: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """cv::resize INTER_LINEAR: source index (floor) and fraction per output column/row."""
    d = np.arange(count, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(F32)  # double, then rounded to float
    s = np.floor(f).astype(np.int64)
    return s, (f - s.astype(F32)).astype(F32)


def _weights(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # saturate_cast<short>(w * 2048): round half to even
    return np.rint((F32(1) - f) * F32(2048)).astype(np.int64), np.rint(f * F32(2048)).astype(np.int64)


def resize_linear(image: np.ndarray, new_h: int, new_w: int, scale_x: float, scale_y: float) -> np.ndarray:
    h, w = image.shape[:2]
    sx, fx = _source_of(new_w, scale_x)
    low, high = sx < 0, sx >= w - 1
    fx[low], sx[low] = 0, 0
    fx[high], sx[high] = 0, w - 1
    sx1 = np.minimum(sx + 1, w - 1)
    a0, a1 = _weights(fx)
    sy, fy = _source_of(new_h, scale_y)
    b0, b1 = _weights(fy)
    y0, y1 = np.clip(sy, 0, h - 1), np.clip(sy + 1, 0, h - 1)
    src = image.astype(np.int64)
    h0 = src[y0][:, sx] * a0[None, :, None] + src[y0][:, sx1] * a1[None, :, None]
    h1 = src[y1][:, sx] * a0[None, :, None] + src[y1][:, sx1] * a1[None, :, None]
    v = (((h0 >> 4) * b0[:, None, None]) >> 16) + (((h1 >> 4) * b1[:, None, None]) >> 16)
    return np.clip((v + 2) >> 2, 0, 255)


def nv12_to_bgr(y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """The NV12 kernels' conversion: OpenCV's COLOR_YUV2BGR_NV12 in its 20-bit fixed point
    (BT.601 limited range, each chroma sample for its 2x2 block)."""
    h, w = y.shape
    luma = np.maximum(y.astype(np.int64) - 16, 0) * 1220542
    u = np.repeat(np.repeat(uv[:, :, 0].astype(np.int64) - 128, 2, 0), 2, 1)[:h, :w]
    v = np.repeat(np.repeat(uv[:, :, 1].astype(np.int64) - 128, 2, 0), 2, 1)[:h, :w]
    half = 1 << 19
    b = (luma + 2116026 * u + half) >> 20
    g = (luma - 852492 * v - 409993 * u + half) >> 20
    r = (luma + 1673527 * v + half) >> 20
    return np.clip(np.stack([b, g, r], -1), 0, 255).astype(np.uint8)


def _read_nv12(gpu: Any, y_ptr: int, uv_ptr: int, h: int, w: int, y_pitch: int, uv_pitch: int) -> np.ndarray:
    y = np.frombuffer(gpu.read(y_ptr, (h - 1) * y_pitch + w), np.uint8)
    y = np.lib.stride_tricks.as_strided(y, (h, w), (y_pitch, 1))
    ch = (h + 1) // 2
    uv = np.frombuffer(gpu.read(uv_ptr, (ch - 1) * uv_pitch + 2 * ((w + 1) // 2)), np.uint8)
    uv = np.lib.stride_tricks.as_strided(uv, (ch, (w + 1) // 2, 2), (uv_pitch, 2, 1))
    return nv12_to_bgr(y, uv)


def _letterbox(dtype: Any, nv12: bool = False) -> Callable[..., None]:
    dtype = np.dtype(dtype)

    def emulate(gpu: Any, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None:
        if nv12:  # Y, UV, dst, ... then the two pitches last
            y_ptr, uv_ptr, *rest = args
            y_pitch, uv_pitch = int(rest[-2]), int(rest[-1])
            args = (0, *rest[:-2])
        src, dst, scale_x, scale_y, s0, s1, s2, t0, t1, t2 = args[:10]
        src_h, src_w, new_h, new_w, out_h, out_w, rgb, norm = (int(a) for a in args[10:])
        if grid[0] * block[0] < out_w or grid[1] * block[1] < out_h:
            raise AssertionError("the launch grid does not cover the input canvas")
        if nv12:
            image = _read_nv12(gpu, int(y_ptr), int(uv_ptr), src_h, src_w, y_pitch, uv_pitch)
        else:
            image = np.frombuffer(gpu.read(int(src), src_h * src_w * 3), np.uint8).reshape(src_h, src_w, 3)
        canvas = np.full((out_h, out_w, 3), PAD, np.int64)
        canvas[:new_h, :new_w] = resize_linear(image, new_h, new_w, float(scale_x), float(scale_y))
        if rgb:
            canvas = canvas[:, :, ::-1]
        planes = canvas.transpose(2, 0, 1).astype(F32)
        out = np.empty((3, out_h, out_w), dtype)
        for c, (s, t) in enumerate(((s0, t0), (s1, t1), (s2, t2))):
            if dtype.kind == "f" and norm:
                p = (planes[c] * F32(s)).astype(dtype)  # rounded to the dtype after each step
                out[c] = (p.astype(F32) + F32(t)).astype(dtype)
            elif dtype == np.int8:
                out[c] = planes[c].astype(np.uint8).view(np.int8)
            else:
                out[c] = planes[c].astype(dtype)
        gpu.write(int(dst), out.tobytes())

    return emulate


def _scale_nv12_bgr(gpu: Any, grid: tuple[int, ...], block: tuple[int, ...], args: tuple[Any, ...]) -> None:
    """scale_nv12_bgr: the frame converted, then resized as cv2.resize INTER_LINEAR, as HxWx3 rows."""
    y_ptr, uv_ptr, dst, scale_x, scale_y = args[:5]
    src_h, src_w, out_h, out_w, y_pitch, uv_pitch = (int(a) for a in args[5:])
    if grid[0] * block[0] < out_w or grid[1] * block[1] < out_h:
        raise AssertionError("the launch grid does not cover the picture")
    image = _read_nv12(gpu, int(y_ptr), int(uv_ptr), src_h, src_w, y_pitch, uv_pitch)
    scaled = resize_linear(image, out_h, out_w, float(scale_x), float(scale_y)).astype(np.uint8)
    gpu.write(int(dst), scaled.tobytes())


KERNELS: dict[str, Callable[..., None]] = {
    "scale_nv12_bgr": _scale_nv12_bgr,
    "letterbox_f32": _letterbox(np.float32),
    "letterbox_f16": _letterbox(np.float16),
    "letterbox_u8": _letterbox(np.uint8),
    "letterbox_i8": _letterbox(np.int8),
    "letterbox_nv12_f32": _letterbox(np.float32, nv12=True),
    "letterbox_nv12_f16": _letterbox(np.float16, nv12=True),
    "letterbox_nv12_u8": _letterbox(np.uint8, nv12=True),
    "letterbox_nv12_i8": _letterbox(np.int8, nv12=True),
}
