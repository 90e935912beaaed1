"""Video files decoded by the GPU's own decoder (NVDEC), frames left on the GPU.

Why: on 1080p H.264 FFmpeg on 16 cores decodes 600-800 frames a second and every frame
then crosses to the GPU (6 MB); NVDEC decodes in hardware beside the model, and a frame
stays in device memory unless something needs its pixels (docs/performance.md).

The decoder is NVIDIA's PyNvVideoCodec (`pip install 'trt-viewer[nvdec]'`), imported
only here and only when a run asks for it. It shares the backend's CUDA context
(backends.base.DeviceContext). Its ThreadedDecoder decodes ahead in a thread of its own
and hands over NV12 frames whose memory it reuses a few frames later, so each frame is
copied on the GPU (3 MB at 1080p, microseconds) into a pool of our own, on the stream
the decoder works on, and lent from there until the frame is settled
(core.sources.Frame.settle). Pixels come to the host only where something looks at them
(a video written, a snapshot): `downloads` counts those copies. The viewer's picture is
scaled on the GPU first (backends/trt/gpu_letterbox.GpuScaler), so only a view-sized
picture crosses per frame shown (`view_downloads`).

Where NVDEC cannot decode a file (no PyNvVideoCodec, no driver support, a codec, profile
or pixel format it does not take) NvdecUnavailable says why, and run.decoding falls back
to decoding on the CPU.
"""

from __future__ import annotations

import logging
import threading
import weakref
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from trt_viewer.backends.base import DeviceContext
from trt_viewer.core.device_frames import DeviceImage
from trt_viewer.core.sources import NO_PIXELS, Frame, Source
from trt_viewer.errors import InputError, first_line
from trt_viewer.run import nvdec_probe

AHEAD = 8  # frames the decoder's thread keeps decoded
# Frames of our own on the GPU: in flight, the one being read, and in the viewer the current
# one, the one on screen and the one waiting to be, plus up to 9 queued for Record.
POOL = 16
HELD_TIMEOUT_S = 30.0
# What `--decode auto` gives NVDEC: the codecs whose NVDEC decoding was found byte for byte
# FFmpeg's on a GPU (the H200, tests/test_gpu_nvdec.py). MPEG-4 Part 2 leaves the inverse
# DCT's rounding to the decoder: NVDEC's frames drift a level from FFmpeg's, which moved
# YOLOX-Nano boxes up to 12.8 px; AV1 was refused there. `--decode nvdec` gives it
# whatever it takes.
AUTO_CODECS = frozenset({"h264", "hevc", "vp9"})

log = logging.getLogger(__name__)


class NvdecUnavailable(Exception):
    """NVDEC cannot decode this file here; the message says why in one line."""


def import_nvc() -> Any:
    try:
        import PyNvVideoCodec as nvc
    except ImportError:
        raise NvdecUnavailable("PyNvVideoCodec is not installed (pip install 'trt-viewer[nvdec]')") from None
    except Exception as exc:  # its libraries load at import: an old driver fails here
        raise NvdecUnavailable(f"PyNvVideoCodec does not load: {first_line(exc)}") from None
    return nvc


def threaded_decoder(nvc: Any, spec: str, gpu: int, ahead: int, **context: Any) -> Any:
    """PyNvVideoCodec's ThreadedDecoder as trt_viewer makes it (here, and in the first-frame
    check's child: backends/trt/nvdec_check.py): frames left in device memory, in the
    decoder's own format (NV12 for 8-bit 4:2:0); `context`: cuda_context and cuda_stream."""
    return nvc.ThreadedDecoder(spec, buffer_size=ahead, gpu_id=gpu, use_device_memory=True,
                               output_color_type=nvc.OutputColorType.NATIVE, **context)


class _PoolFrame:
    """A frame's place in the pool, lent until the frame is settled."""

    def __init__(self, source: NvdecSource, k: int) -> None:
        self.source, self.k = source, k

    def pixels(self) -> np.ndarray:
        return self.source.download(self.k)

    def scaled(self, wh: tuple[int, int]) -> np.ndarray:
        return self.source.download_scaled(self.k, wh)

    def give_back(self) -> None:
        self.source.give_back(self.k)


class NvdecSource(Source):
    """A video file decoded by NVDEC into the backend's CUDA context (module docstring)."""

    decoded_elsewhere = True  # the decoder's thread decodes ahead: a read is a GPU copy
    decoder = "nvdec"

    def __init__(self, spec: str, device: DeviceContext, codecs: frozenset[str] | None = None) -> None:
        """codecs: those it may decode (AUTO_CODECS under --decode auto); None: any."""
        super().__init__(spec)
        nvc = import_nvc()
        self._device = device
        cuda = self._cuda = device.cuda
        self._decoder: Any = None
        self._pool: list[Any] = []
        self.downloads = 0  # frames copied to the host
        self.view_downloads = 0  # frames scaled on the GPU, then copied to the host (the viewer's)
        self._free: list[int] = []
        self._lent: dict[int, weakref.ref[Frame]] = {}  # slot -> the frame it is lent to
        self._scaler: Any = None  # GpuScaler, made on the first scaled picture; False: none here
        self._view: tuple[Any, np.ndarray] | None = None  # device and host buffers for scaled pictures
        self._host: list[np.ndarray | None] = [None] * POOL  # page-locked, per slot, made on first download
        self._back = threading.Condition()
        self._io = threading.Lock()  # a download against close()
        self._index = 0
        self._ended = False
        self._closed = False
        self._opened = False
        name = Path(spec).name
        codec = container_codec(spec)
        if codecs is not None and codec not in codecs:
            raise NvdecUnavailable(f"{name} is {codec or 'of a codec OpenCV does not name'}, and automatic "
                                   f"decoding gives NVDEC {', '.join(sorted(codecs))} only (--decode nvdec tries it)")
        if codec in FULL_RANGE_CODECS:
            raise NvdecUnavailable(f"{name} is {codec}: its YUV is full-range (JPEG), and the GPU letterbox "
                                   "converts video-range NV12")
        if flagged_full_range(spec):
            raise NvdecUnavailable(f"{name} is {codec or 'video'} flagged full-range (JPEG levels, as some phones "
                                   "write), and the GPU letterbox converts video-range NV12")
        # A stream the decoder cannot take may abort the process from its own thread:
        # a child decodes the first frame first (run/nvdec_probe.py).
        why = nvdec_probe.why_not(spec, device.device)
        if why:
            raise NvdecUnavailable(f"NVDEC cannot decode {name}: {why}")
        try:
            with device.current():
                self._stream = device.stream()
                self._download_stream = device.stream()
                try:
                    self._decoder = threaded_decoder(nvc, spec, device.device, AHEAD,
                                                     cuda_context=device.context.handle,
                                                     cuda_stream=self._stream.handle)
                    meta = self._decoder.get_stream_metadata()
                    first = self._decoder.get_batch_frames(1)
                except Exception as exc:  # the decoder's own exception types: unsupported, corrupt...
                    raise NvdecUnavailable(f"NVDEC cannot decode {name}: {first_line(exc)}") from None
                if not first:
                    raise InputError(f"cannot decode video {spec}: no frame could be read")
                fmt = str(first[0].format).rsplit(".", 1)[-1]
                if fmt != "NV12":
                    raise NvdecUnavailable(f"NVDEC gives {fmt} frames for {name}; the GPU letterbox takes NV12")
                h, w = int(meta.height), int(meta.width)
                if h % 2 or w % 2:
                    raise NvdecUnavailable(f"{name} is {w}x{h}: NVDEC frames here need even sides")
                self.hw = (h, w)
                self._frame_bytes = h * w + (h // 2) * w
                self._pool = [cuda.mem_alloc(self._frame_bytes) for _ in range(POOL)]
        except BaseException:
            self.close()
            raise
        self._free = list(range(POOL))
        self._opened = True
        count = int(meta.num_frames)
        fps = float(meta.average_fps)
        self.length = count if count > 0 else None
        self.fps = fps if 0 < fps < 1000 else None
        self.seekable = self.length is not None
        self._pending: Any = first[0]

    # -- reading, in the backend's thread ------------------------------------------------
    def poll(self, timeout: float = 0.0) -> bool:
        return True  # the decoder's thread keeps frames ready: a read waits only at its pace

    def read(self) -> Frame | None:
        if self._ended or self._closed:
            return None
        decoded, self._pending = self._pending, None
        if decoded is None:
            try:
                batch = self._decoder.get_batch_frames(1)
            except Exception as exc:
                self._ended, self.end_reason = True, "ended"
                raise InputError(f"cannot decode {self.spec} on the GPU: {first_line(exc)}") from None
            if not batch:
                self._ended, self.end_reason = True, "ended"
                return None
            decoded = batch[0]
        k = self._take_slot()
        try:
            self._copy_in(decoded, int(self._pool[k]))
        except BaseException:
            self.give_back(k)
            raise
        h, w = self.hw
        base = int(self._pool[k])
        image = DeviceImage(base, base + h * w, w, w, self.hw)
        stamp = self._index / self.fps if self.fps else 0.0
        frame = Frame(self._index, NO_PIXELS, self.spec, stamp, device=image, lender=_PoolFrame(self, k), hw=self.hw)
        with self._back:
            self._lent[k] = weakref.ref(frame)
        self._index += 1
        self.frames_read += 1
        return frame

    def _copy_in(self, decoded: Any, dst: int) -> None:
        """Both planes into our slot, rows packed, on the decoder's stream (after its own
        work on the frame), waited for: the decoder may reuse its memory once we return."""
        h, w = self.hw
        y, uv = (p.__cuda_array_interface__ for p in decoded.cuda())
        cuda = self._cuda
        for plane, rows, offset in ((y, h, 0), (uv, h // 2, h * w)):
            pitch = int(plane["strides"][0])
            src = int(plane["data"][0])
            if pitch == w:
                cuda.memcpy_dtod_async(dst + offset, src, rows * w, self._stream)
            else:
                copy = cuda.Memcpy2D()
                copy.set_src_device(src)
                copy.src_pitch = pitch
                copy.set_dst_device(dst + offset)
                copy.dst_pitch = copy.width_in_bytes = w
                copy.height = rows
                copy(self._stream)
        self._stream.synchronize()

    def _take_slot(self) -> int:
        with self._back:
            if not self._back.wait_for(lambda: bool(self._free), HELD_TIMEOUT_S):
                raise RuntimeError(f"all {POOL} GPU frame slots are held: frames read were never settled")
            return self._free.pop(0)

    def give_back(self, k: int) -> None:
        with self._back:
            self._lent.pop(k, None)
            self._free.append(k)
            self._back.notify_all()

    def download(self, k: int) -> np.ndarray:
        """The frame in slot k as host BGR pixels (a copy from the GPU, counted).

        Runs in whichever thread settles the frame (a writer's, where a run lends its
        frames), with the context pushed there, so the Player's thread does not wait for
        the copy and the conversion. Into page-locked memory on a non-blocking stream of its
        own: a synchronous copy to pageable memory runs on the legacy stream and so waits
        for the engine's work in flight (on the H200 that made a drawn run slower than the
        model alone)."""
        h, w = self.hw
        with self._io:  # close() frees this memory under the same lock
            if self._closed:
                raise InputError(f"{self.spec} was closed before frame {k} of its GPU pool was fetched")
            with self._device.current():
                host = self._host[k]
                if host is None:
                    host = self._host[k] = self._cuda.pagelocked_empty(self._frame_bytes, np.uint8)
                self._cuda.memcpy_dtoh_async(host, self._pool[k], self._download_stream)
                self._download_stream.synchronize()
            self.downloads += 1
            return cv2.cvtColor(host.reshape(h * 3 // 2, w), cv2.COLOR_YUV2BGR_NV12)

    def download_scaled(self, k: int, wh: tuple[int, int]) -> np.ndarray:
        """The frame in slot k scaled to wh (width, height) as host BGR pixels: scaled on
        the GPU, so only the scaled picture is copied (the viewer's, per frame shown).
        A picture larger than the frame (a window above its size), or one where the kernel
        cannot run (no nvcc), comes from the whole frame copied and scaled on the CPU: its
        BGR would be more to copy than the frame's NV12 (on the H200, 2560x1440 from
        1080p took 1.5 ms that way against 1.2 ms: docs/performance.md)."""
        w, h = wh
        fh, fw = self.hw
        with self._io:
            if self._closed:
                raise InputError(f"{self.spec} was closed before frame {k} of its GPU pool was fetched")
            with self._device.current():
                scaler = self._gpu_scaler() if w * h <= fw * fh else None
                if scaler is not None:
                    device, host = self._view_buffers()
                    host = host[: w * h * 3]
                    base = int(self._pool[k])
                    scaler.launch(DeviceImage(base, base + fh * fw, fw, fw, self.hw), device, (h, w),
                                  self._download_stream)
                    self._cuda.memcpy_dtoh_async(host, device, self._download_stream)
                    self._download_stream.synchronize()
                    self.view_downloads += 1
                    picture: np.ndarray = host.reshape(h, w, 3).copy()
                    return picture
        return cv2.resize(self.download(k), wh, interpolation=cv2.INTER_LINEAR)

    def _gpu_scaler(self) -> Any:
        """The scaling kernel in this context, loaded once; None where it cannot be (said once)."""
        if self._scaler is None:
            from trt_viewer.backends.trt.gpu_letterbox import GpuLetterboxUnavailable, GpuScaler

            try:
                capability = self._cuda.Context.get_device().compute_capability()
                self._scaler = GpuScaler(self._cuda, capability)
            except GpuLetterboxUnavailable as exc:
                log.info("the viewer's frames from NVDEC are scaled on the CPU: %s", exc)
                self._scaler = False
        return self._scaler or None

    def _view_buffers(self) -> tuple[Any, np.ndarray]:
        """A device buffer and a page-locked host buffer for a picture up to the frame's
        size in BGR, made once: a window being resized changes the picture's size every
        frame, and freeing device memory would wait for the GPU's work in flight."""
        if self._view is None:
            h, w = self.hw
            self._view = (self._cuda.mem_alloc(h * w * 3), self._cuda.pagelocked_empty(h * w * 3, np.uint8))
        return self._view

    def _free_view(self) -> None:
        view, self._view = self._view, None
        if view is not None:
            view[0].free()
            pinned: Any = view[1].base  # pycuda's PagelockedHostAllocation
            pinned.free()

    def seek(self, index: int) -> None:
        if not self.seekable:
            super().seek(index)
        index = max(0, min(index, (self.length or 1) - 1))
        try:
            self._decoder.reconfigure_decoder(self.spec, index)
        except Exception as exc:
            raise InputError(f"cannot seek {self.spec} on the GPU: {first_line(exc)}") from None
        self._index, self._pending, self._ended, self.end_reason = index, None, False, ""

    def close(self) -> None:
        if self._closed:
            return
        try:
            # Frames still lent (to a writer's queue, to the viewer's frame on screen) get
            # their pixels now, from this pool, before it goes: whoever holds one goes on
            # with host pixels, and close() never waits on a holder.
            with self._back:
                lent = [ref() for ref in self._lent.values()]
            for frame in lent:
                if frame is not None:
                    try:
                        frame.detach()
                    except Exception as exc:  # that frame is left without pixels; the others still get theirs
                        log.warning("frame %d of %s could not be fetched from the GPU: %s", frame.index,
                                    Path(self.spec).name, first_line(exc))
        finally:  # a Ctrl+C in a download still frees everything
            self._release()

    def _release(self) -> None:
        with self._io:
            self._closed = True
        decoder, self._decoder = self._decoder, None
        pool, self._pool = self._pool, []
        self._pending = None
        scaler, self._scaler = self._scaler, None
        with self._device.current():
            if scaler:
                scaler.close()
            self._free_view()
            if decoder is not None:
                try:
                    decoder.end()  # stops its thread before the memory goes
                except Exception:  # closing: nothing left to tell
                    pass
                del decoder
            for allocation in pool:
                allocation.free()
            hosts, self._host = self._host, []
            for host in hosts:
                if host is not None:
                    pinned: Any = host.base  # pycuda's PagelockedHostAllocation
                    pinned.free()


# Motion JPEG is full-range YUV, which NVDEC hands over as it is; the NV12 kernel converts
# video range as OpenCV's COLOR_YUV2BGR_NV12 does (on the H200 a cat found on the CPU's
# frames was lost on NVDEC's).
FULL_RANGE_CODECS = frozenset({"mjpg", "mjpeg", "jpeg", "avrn", "ljpg"})

# The container's FourCC (as OpenCV reads it) to the codec names PyNvVideoCodec's metadata uses.
FOURCC_CODECS = {"avc1": "h264", "avc3": "h264", "h264": "h264", "x264": "h264", "davc": "h264",
                 "hvc1": "hevc", "hev1": "hevc", "hevc": "hevc", "h265": "hevc",
                 "vp90": "vp9", "vp09": "vp9", "av01": "av1",
                 "fmp4": "mpeg4", "mp4v": "mpeg4", "xvid": "mpeg4", "divx": "mpeg4", "dx50": "mpeg4"}


def flagged_full_range(spec: str) -> bool:
    """Whether the file's video says its YUV is full-range (H.264 or HEVC with
    video_full_range_flag, as some phones and screen recorders write), as FFmpeg reads the
    headers (PyAV, milliseconds, no frame decoded). FFmpeg on the CPU honours the flag;
    NVDEC hands the planes over as they are, and the NV12 kernel converts video range, so
    the colours would differ. False where FFmpeg cannot tell (then the other checks speak)."""
    import av

    try:
        with av.open(spec) as container:
            if not container.streams.video:
                return False
            context = container.streams.video[0].codec_context
            return int(context.color_range or 0) == FULL_RANGE or str(context.pix_fmt or "").startswith("yuvj")
    except Exception:  # not a file FFmpeg opens: NVDEC's own checks say why
        return False


FULL_RANGE = 2  # FFmpeg's AVCOL_RANGE_JPEG


def container_codec(spec: str) -> str:
    """The video codec of a file as its container names it ('' where OpenCV cannot say):
    cheap, no decoder made, so `auto` passes over other codecs without NVDEC's check."""
    capture = cv2.VideoCapture(spec)
    try:
        value = int(capture.get(cv2.CAP_PROP_FOURCC)) if capture.isOpened() else 0
    finally:
        capture.release()
    fourcc = "".join(chr((value >> 8 * i) & 0xFF) for i in range(4)).strip("\0 ").lower()
    return FOURCC_CODECS.get(fourcc, fourcc)
