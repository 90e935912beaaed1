"""Two frames in flight: per-frame buffers and events, and the three streams they share.

A frame's work runs on three streams: `upload` (host-to-device copy, then the GPU letterbox
where used), `compute` (execute_async_v3) and `download` (device-to-host copies). Events
order them: compute waits for the frame's upload, download for its compute. With one set
of I/O buffers per frame in flight (a "lane"), frame N+1's upload can run while frame N
computes, and N+1 can compute while N's outputs come back. TensorRT needs one stream for
all enqueues of an execution context (they share its activation memory), hence the one
compute stream. All of this is driven from the backend's own thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from trt_viewer.backends.base import STREAM_NON_BLOCKING
from trt_viewer.backends.base import Ticket as BaseTicket
from trt_viewer.backends.trt.cuda import BufferSet, CudaContext, TensorBuffer
from trt_viewer.errors import RunError

# Events that order a frame's work; the rest only time it (recorded when timing is on).
SYNC_EVENTS = ("uploaded", "computed", "done")
TIMING_EVENTS = ("upload_start", "copied", "compute_start", "download_start")


def blocking_sync_setting(stated: bool | None = None) -> bool:
    """Whether the wait for a frame's outputs sleeps (BLOCKING_SYNC on its `done` event), the
    default, or spins on a core as CUDA does by default; TRT_VIEWER_BLOCKING_SYNC=0 spins.
    A core spinning for the whole of each frame's compute is a core FFmpeg's decoding
    threads lacked: on the H200 with a 1 ms engine the pipeline decoding on the CPU went
    from 0.80 to 0.93 of decoding alone, NVDEC's unchanged (docs/performance.md)."""
    if stated is not None:
        return stated
    return os.environ.get("TRT_VIEWER_BLOCKING_SYNC", "1").strip().lower() not in ("0", "false", "no")


class Streams:
    def __init__(self, cuda: Any) -> None:
        # Non-blocking: a frame's work must not wait for a decoder's on the legacy stream.
        self.upload = cuda.Stream(STREAM_NON_BLOCKING)
        self.compute = cuda.Stream(STREAM_NON_BLOCKING)
        self.download = cuda.Stream(STREAM_NON_BLOCKING)

    def all(self) -> tuple[Any, ...]:
        return self.upload, self.compute, self.download

    def synchronize(self) -> None:
        for stream in self.all():
            stream.synchronize()


class Lane:
    """One frame's I/O buffers (pinned host + device per tensor), the device buffer its raw
    frame is copied into for GPU preprocessing (grown on demand), and its events."""

    def __init__(self, ctx: CudaContext, shapes: dict[str, tuple[tuple[int, ...], np.dtype]],
                 blocking_sync: bool = False) -> None:
        self.ctx = ctx
        self.buffers = BufferSet(ctx, shapes)
        cuda = ctx.cuda
        try:
            self.events = {name: cuda.Event() for name in SYNC_EVENTS + TIMING_EVENTS}
            if blocking_sync:  # the one the host waits on
                self.events["done"] = cuda.Event(cuda.event_flags.BLOCKING_SYNC)
        except BaseException:
            self.buffers.free()
            raise
        self.raw: Any = None  # DeviceAllocation for the raw frame
        self.raw_bytes = 0

    def __getitem__(self, name: str) -> TensorBuffer:
        return self.buffers[name]

    def raw_buffer(self, nbytes: int) -> Any:
        """A device buffer of at least `nbytes` for the raw frame; grows, never per frame."""
        if nbytes > self.raw_bytes:
            cuda = self.ctx.cuda
            if self.raw is not None:
                self.raw.free()
                self.raw, self.raw_bytes = None, 0
            try:
                self.raw = cuda.mem_alloc(nbytes)
            except cuda.MemoryError:
                raise RunError(
                    f"out of GPU memory for a {nbytes / (1 << 20):.1f} MiB frame ({self.ctx.memory_note()})"
                ) from None
            self.raw_bytes = nbytes
        return self.raw

    def free(self) -> None:
        """Give the device and pinned memory back; the context must be current."""
        self.events = {}
        try:
            if self.raw is not None:
                raw, self.raw, self.raw_bytes = self.raw, None, 0
                raw.free()
        finally:
            self.buffers.free()


@dataclass
class Ticket(BaseTicket):
    """A submitted frame, to collect() in submission order."""

    number: int
    lane: Lane
    gpu_letterbox: bool
    enqueue_s: float = 0.0
    execute_s: float = 0.0
    timed: bool = False
