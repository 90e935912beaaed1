"""The YOLOX letterbox as one CUDA kernel: raw BGR uint8 frame (or an NV12 frame from the
GPU's decoder) in, model input out.

One thread per pixel of the model's input canvas does what core/preprocess.letterbox does
on the CPU: the bilinear resize, the 114 padding (image pasted at the top-left), the
channel order, the legacy normalisation, HWC to CHW and the input's dtype, writing straight
into the engine's input device buffer.

The resize is cv2.resize's INTER_LINEAR for uint8, bit for bit where OpenCV takes its
usual path: the same source coordinates ((d + 0.5) * scale - 0.5, in double then float),
the same 11-bit fixed-point weights, and the vertical pass as OpenCV's SIMD code rounds it
(((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2. Float arithmetic uses
explicit round-to-nearest intrinsics so nvcc cannot fuse it into FMAs that round
differently, and the normalisation rounds as numpy does (float16 after each operation).

The kernel is compiled with nvcc (through pycuda) once per process and GPU architecture;
each backend loads the compiled image into its own context. Without nvcc the compile fails
and the backend letterboxes on the CPU (GpuLetterboxUnavailable says why).
"""

from __future__ import annotations

import os
import shutil
import threading
from typing import Any

import numpy as np

from trt_viewer.core.device_frames import DeviceImage
from trt_viewer.core.preprocess import CURRENT, PAD_VALUE, Preset, letterbox_size
from trt_viewer.errors import first_line

KERNELS = {
    np.dtype(np.float32): "letterbox_f32",
    np.dtype(np.float16): "letterbox_f16",
    np.dtype(np.uint8): "letterbox_u8",
    np.dtype(np.int8): "letterbox_i8",
}
# Launch arguments, pointers first, then doubles, floats and ints, so no padding is needed.
ARG_FORMAT = "PPddffffff" + "i" * 8
NV12_ARG_FORMAT = "PPPddffffff" + "i" * 10  # Y and UV planes, then as above, then the pitches
BLOCK = (32, 8, 1)

SOURCE = r"""
#define PAD @PAD@

// Float16 conversions through PTX, so no CUDA header is needed.
__device__ __forceinline__ unsigned short f2h(float f) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
__device__ __forceinline__ float h2f(unsigned short h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

// Where each output value goes and how it is normalised (as numpy does it on the CPU).
__device__ __forceinline__ void put(float* p, float v, float s, float t, int norm) {
    *p = norm ? __fadd_rn(__fmul_rn(v, s), t) : v;
}
__device__ __forceinline__ void put(unsigned short* p, float v, float s, float t, int norm) {
    // numpy computes float16 in float32 and rounds to float16 after each operation.
    *p = norm ? f2h(__fadd_rn(h2f(f2h(__fmul_rn(v, s))), t)) : f2h(v);
}
__device__ __forceinline__ void put(unsigned char* p, float v, float, float, int) {
    *p = (unsigned char)v;
}
__device__ __forceinline__ void put(signed char* p, float v, float, float, int) {
    *p = (signed char)(unsigned char)v;  // wraps above 127, as numpy's assignment does
}

// cv::resize INTER_LINEAR: the source coordinate of an output column or row, split into
// its integer part and fraction.
__device__ __forceinline__ void source_of(int d, double scale, int& s, float& f) {
    f = __double2float_rn(__dsub_rn(__dmul_rn((double)d + 0.5, scale), 0.5));
    s = __float2int_rd(f);
    f = __fsub_rn(f, (float)s);
}

// Where the kernel reads the frame's pixels: a raw BGR (or RGB) frame...
struct Bgr {
    const unsigned char* __restrict__ p;
    int w;
    __device__ __forceinline__ void at(int x, int y, int out[3]) const {
        const unsigned char* q = p + ((size_t)y * w + x) * 3;
        out[0] = q[0]; out[1] = q[1]; out[2] = q[2];
    }
};

// ...or an NV12 frame as the GPU's decoder leaves it (a Y plane, then interleaved U and V
// at half resolution), turned into BGR integer for integer as OpenCV's
// cvtColor(COLOR_YUV2BGR_NV12) does (BT.601 limited range, 20-bit fixed point, each chroma
// sample for its 2x2 block): a frame letterboxed here then equals the same frame downloaded
// and letterboxed on the CPU bit for bit. (A float conversion differed by a level here and
// there, and moved a box of the real YOLOX-Nano 1.6 px on the H200.)
struct Nv12 {
    const unsigned char* __restrict__ y;
    const unsigned char* __restrict__ uv;
    int y_pitch, uv_pitch;
    __device__ __forceinline__ void at(int x, int r, int out[3]) const {
        const int l = max((int)y[(size_t)r * y_pitch + x] - 16, 0) * 1220542;
        const unsigned char* c = uv + (size_t)(r >> 1) * uv_pitch + (x >> 1) * 2;
        const int u = (int)c[0] - 128, v = (int)c[1] - 128;
        out[0] = min(max((l + 2116026 * u + (1 << 19)) >> 20, 0), 255);
        out[1] = min(max((l - 852492 * v - 409993 * u + (1 << 19)) >> 20, 0), 255);
        out[2] = min(max((l + 1673527 * v + (1 << 19)) >> 20, 0), 255);
    }
};

// cv::resize INTER_LINEAR of the frame at output pixel (x, y), in BGR.
template <typename Src>
__device__ __forceinline__ void sample(const Src src, int x, int y, double scale_x, double scale_y,
                                       int src_h, int src_w, int bgr[3]) {
    int sx, sy;
    float fx, fy;
    source_of(x, scale_x, sx, fx);
    if (sx < 0) { fx = 0.f; sx = 0; }
    if (sx >= src_w - 1) { fx = 0.f; sx = src_w - 1; }
    const int sx1 = min(sx + 1, src_w - 1);
    const int a0 = __float2int_rn(__fmul_rn(__fsub_rn(1.f, fx), 2048.f));
    const int a1 = __float2int_rn(__fmul_rn(fx, 2048.f));
    source_of(y, scale_y, sy, fy);
    const int b0 = __float2int_rn(__fmul_rn(__fsub_rn(1.f, fy), 2048.f));
    const int b1 = __float2int_rn(__fmul_rn(fy, 2048.f));
    const int y0 = min(max(sy, 0), src_h - 1);
    const int y1 = min(max(sy + 1, 0), src_h - 1);
    int p00[3], p01[3], p10[3], p11[3];
    src.at(sx, y0, p00); src.at(sx1, y0, p01);
    src.at(sx, y1, p10); src.at(sx1, y1, p11);
    #pragma unroll
    for (int c = 0; c < 3; ++c) {
        const int h0 = p00[c] * a0 + p01[c] * a1;
        const int h1 = p10[c] * a0 + p11[c] * a1;
        const int v = ((((h0 >> 4) * b0) >> 16) + (((h1 >> 4) * b1) >> 16) + 2) >> 2;
        bgr[c] = min(max(v, 0), 255);
    }
}

template <typename T, typename Src>
__device__ void letterbox(const Src src, T* __restrict__ dst,
                          double scale_x, double scale_y,
                          float s0, float s1, float s2, float t0, float t1, float t2,
                          int src_h, int src_w, int new_h, int new_w, int out_h, int out_w,
                          int rgb, int norm) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || y >= out_h) return;
    int bgr[3] = {PAD, PAD, PAD};
    if (x < new_w && y < new_h) sample(src, x, y, scale_x, scale_y, src_h, src_w, bgr);
    const size_t plane = (size_t)out_h * out_w;
    const size_t at = (size_t)y * out_w + x;
    const float s[3] = {s0, s1, s2};
    const float t[3] = {t0, t1, t2};
    #pragma unroll
    for (int c = 0; c < 3; ++c) {
        const int from = rgb ? 2 - c : c;
        put(dst + c * plane + at, (float)bgr[from], s[c], t[c], norm);
    }
}

// One entry point per input dtype (float16 is written as its 16 bits) and frame format.
#define TAIL double scale_x, double scale_y, float s0, float s1, float s2, float t0, float t1, \
    float t2, int src_h, int src_w, int new_h, int new_w, int out_h, int out_w, int rgb, int norm
#define CALL(SRC) letterbox(SRC, dst, scale_x, scale_y, s0, s1, s2, t0, t1, t2, src_h, src_w, \
    new_h, new_w, out_h, out_w, rgb, norm)
#define BGR_ARGS(T) const unsigned char* src, T* dst, TAIL
#define NV12_ARGS(T) const unsigned char* y, const unsigned char* uv, T* dst, TAIL, int y_pitch, int uv_pitch
#define BGR CALL((Bgr{src, src_w}))
#define NV12 CALL((Nv12{y, uv, y_pitch, uv_pitch}))
extern "C" __global__ void letterbox_f32(BGR_ARGS(float)) { BGR; }
extern "C" __global__ void letterbox_f16(BGR_ARGS(unsigned short)) { BGR; }
extern "C" __global__ void letterbox_u8(BGR_ARGS(unsigned char)) { BGR; }
extern "C" __global__ void letterbox_i8(BGR_ARGS(signed char)) { BGR; }
extern "C" __global__ void letterbox_nv12_f32(NV12_ARGS(float)) { NV12; }
extern "C" __global__ void letterbox_nv12_f16(NV12_ARGS(unsigned short)) { NV12; }
extern "C" __global__ void letterbox_nv12_u8(NV12_ARGS(unsigned char)) { NV12; }
extern "C" __global__ void letterbox_nv12_i8(NV12_ARGS(signed char)) { NV12; }

// An NV12 frame scaled to the viewer's size, as BGR uint8 rows (HxWx3): what the viewer
// would get from cv2.resize(cv2.cvtColor(frame, COLOR_YUV2BGR_NV12), INTER_LINEAR), made
// where the frame is, so only the view-sized picture crosses to the host.
extern "C" __global__ void scale_nv12_bgr(const unsigned char* y, const unsigned char* uv, unsigned char* dst,
                                          double scale_x, double scale_y, int src_h, int src_w,
                                          int out_h, int out_w, int y_pitch, int uv_pitch) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int r = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= out_w || r >= out_h) return;
    int bgr[3];
    sample(Nv12{y, uv, y_pitch, uv_pitch}, x, r, scale_x, scale_y, src_h, src_w, bgr);
    unsigned char* p = dst + ((size_t)r * out_w + x) * 3;
    p[0] = (unsigned char)bgr[0]; p[1] = (unsigned char)bgr[1]; p[2] = (unsigned char)bgr[2];
}
""".replace("@PAD@", str(PAD_VALUE))

_lock = threading.Lock()
_compiled: dict[str, bytes | str] = {}  # arch -> cubin, or why it could not be compiled


class GpuLetterboxUnavailable(Exception):
    """The kernel cannot run here (no nvcc, an input dtype it has no version for...)."""


def find_nvcc() -> str:
    """nvcc on PATH, else in the CUDA toolkit the usual variables or /usr/local/cuda name."""
    found = shutil.which("nvcc")
    if found:
        return found
    for root in (os.environ.get(v) for v in ("CUDA_ROOT", "CUDA_HOME", "CUDA_PATH")):
        if root and os.path.isfile(os.path.join(root, "bin", "nvcc")):
            return os.path.join(root, "bin", "nvcc")
    default = "/usr/local/cuda/bin/nvcc"
    return default if os.path.isfile(default) else "nvcc"


def _explain(exc: BaseException) -> str:
    text = first_line(exc)
    if isinstance(exc, OSError) and ("No such file" in text or "not found" in text):
        return "nvcc (the CUDA toolkit) was not found"
    return f"the kernel did not compile ({text})"


def compiled(arch: str) -> bytes:
    """The kernel compiled for `arch` (e.g. sm_90): nvcc runs once per process and arch,
    and a failure is remembered too, so it is not retried for every backend."""
    with _lock:
        if arch not in _compiled:
            try:
                from pycuda import compiler

                _compiled[arch] = compiler.compile(SOURCE, nvcc=find_nvcc(), no_extern_c=True, arch=arch)
            except Exception as exc:  # nvcc missing or failing: OSError, CompileError...
                _compiled[arch] = _explain(exc)
        result = _compiled[arch]
    if isinstance(result, str):
        raise GpuLetterboxUnavailable(result)
    return result


def geometry(src_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[float, int, int]:
    """The letterbox ratio and resized (h, w), exactly as the CPU letterbox computes them
    (each side at least 1 px: a 2x4000 strip letterboxes to a line, not to nothing)."""
    return letterbox_size(src_hw, out_hw)


class GpuLetterbox:
    """The kernel for one input dtype, loaded in the current (the backend's) context."""

    def __init__(self, cuda: Any, dtype: np.dtype, compute_capability: tuple[int, int]) -> None:
        self.dtype = np.dtype(dtype)
        name = KERNELS.get(self.dtype)
        if name is None:
            raise GpuLetterboxUnavailable(f"no GPU letterbox for {self.dtype.name} inputs")
        cubin = compiled("sm_{}{}".format(*compute_capability))
        try:
            self._module = cuda.module_from_buffer(cubin)
            self._function = self._module.get_function(name).prepare(ARG_FORMAT)
            self._nv12 = self._module.get_function(name.replace("letterbox_", "letterbox_nv12_")).prepare(
                NV12_ARG_FORMAT)
        except cuda.Error as exc:
            raise GpuLetterboxUnavailable(f"the kernel did not load ({first_line(exc)})") from None

    def _arguments(self, src_hw: tuple[int, int], out_hw: tuple[int, int], preset: Preset,
                   src_rgb: bool) -> tuple[tuple[int, int, int], list[float | int]]:
        """The launch grid, and the arguments after the pointers."""
        normalise = preset is not CURRENT
        if normalise and self.dtype.kind in "ui":  # the CPU letterbox refuses this too
            raise ValueError(f"the {preset.name} preset needs a float input, the model takes {self.dtype}")
        (h, w), (out_h, out_w) = src_hw, out_hw
        _, new_h, new_w = geometry(src_hw, out_hw)
        # The scalars as numpy rounds them for this dtype (a python float meets float16 as float16).
        kind = np.float16 if self.dtype == np.float16 else np.float32
        scale = [float(kind(v)) for v in preset.scale]
        shift = [float(kind(v)) for v in preset.shift]
        grid = ((out_w + BLOCK[0] - 1) // BLOCK[0], (out_h + BLOCK[1] - 1) // BLOCK[1], 1)
        # the kernel swaps the channels when asked to: for an RGB preset, or an RGB frame
        return grid, [1.0 / (new_w / w), 1.0 / (new_h / h), *scale, *shift,
                      h, w, new_h, new_w, out_h, out_w, int(preset.rgb != src_rgb), int(normalise)]

    def launch(self, src: int, src_hw: tuple[int, int], dst: int, out_hw: tuple[int, int],
               preset: Preset, stream: Any, src_rgb: bool = False) -> None:
        """Queue the letterbox of the raw frame at `src` (BGR, or RGB with src_rgb) into the
        input at `dst` on `stream`."""
        grid, rest = self._arguments(src_hw, out_hw, preset, src_rgb)
        self._function.prepared_async_call(grid, BLOCK, stream, int(src), int(dst), *rest)

    def launch_nv12(self, image: DeviceImage, dst: int, out_hw: tuple[int, int], preset: Preset,
                    stream: Any) -> None:
        """Queue the letterbox of an NV12 frame on the GPU (converted to BGR on the way, as
        FFmpeg converts for OpenCV) into the input at `dst` on `stream`."""
        grid, rest = self._arguments(image.hw, out_hw, preset, False)
        self._nv12.prepared_async_call(grid, BLOCK, stream, int(image.y), int(image.uv), int(dst), *rest,
                                       image.y_pitch, image.uv_pitch)

    def close(self) -> None:
        """Unload the module; call with the context still current."""
        self.__dict__.pop("_function", None)
        self.__dict__.pop("_nv12", None)
        self.__dict__.pop("_module", None)


SCALE_ARG_FORMAT = "PPPdd" + "i" * 6  # Y, UV, dst; the scales; src (h, w), out (h, w), the pitches


class GpuScaler:
    """The view-sized picture of an NV12 frame on the GPU (scale_nv12_bgr), loaded in the
    current context: for the viewer, whose window shows a frame at its own size."""

    def __init__(self, cuda: Any, compute_capability: tuple[int, int]) -> None:
        cubin = compiled("sm_{}{}".format(*compute_capability))
        try:
            self._module = cuda.module_from_buffer(cubin)
            self._function = self._module.get_function("scale_nv12_bgr").prepare(SCALE_ARG_FORMAT)
        except cuda.Error as exc:
            raise GpuLetterboxUnavailable(f"the kernel did not load ({first_line(exc)})") from None

    def launch(self, image: DeviceImage, dst: int, out_hw: tuple[int, int], stream: Any) -> None:
        """Queue the frame scaled to out_hw (h, w) as BGR rows at `dst` on `stream`."""
        (h, w), (out_h, out_w) = image.hw, out_hw
        grid = ((out_w + BLOCK[0] - 1) // BLOCK[0], (out_h + BLOCK[1] - 1) // BLOCK[1], 1)
        # cv2.resize's scales for a size it is given: the inverse of (new / old), in double
        self._function.prepared_async_call(grid, BLOCK, stream, int(image.y), int(image.uv), int(dst),
                                           1.0 / (out_w / w), 1.0 / (out_h / h), h, w, out_h, out_w,
                                           image.y_pitch, image.uv_pitch)

    def close(self) -> None:
        """Unload the module; call with the context still current."""
        self.__dict__.pop("_function", None)
        self.__dict__.pop("_module", None)
