"""TensorRT backend: a serialised engine run with pycuda's pinned memory.

Per frame: the pinned input goes to the device asynchronously, execute_async_v3 runs,
the outputs come back asynchronously, and one synchronize (of the frame's last event)
waits for all of it. Buffers are allocated once (again only when the input shape changes).

Two frames can be in flight (lanes.py): submit() queues a frame and returns at once,
collect() waits for the oldest one and returns its outputs, so the caller can decode frame
N while frame N+1 is copied and computed. infer() is submit() then collect().

GPU preprocessing (gpu_letterbox.py): allocate_input(gpu_letterbox=True) hands out
page-locked buffers for raw frames (FrameBuffer); the raw frame goes to the device and one
kernel letterboxes it straight into the engine's input buffer. Where the kernel cannot run
(no nvcc), it hands out an ordinary input tensor instead, letterboxed on the CPU, and
letterbox_note says why.

Threading: the device's primary context is pushed in the thread that constructs the
backend; every method that touches CUDA (allocate_input(), submit(), collect(), infer(),
close()) must run in that same thread (the GUI's inference QThread, the CLI's main
thread). Filling a buffer from allocate_input() is plain memory access and may happen in
any thread (the reader's). Those buffers are page-locked memory that close() frees: stop
writing into them before closing.
"""

from __future__ import annotations

import logging
import sys
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trt_viewer.backends.base import Backend, Capabilities, DeviceContext, HostInput, InputBuffer
from trt_viewer.backends.base import Ticket as BaseTicket
from trt_viewer.backends.trt import engine as eng
from trt_viewer.backends.trt.cuda import CudaContext, cuda_failure, free_pinned, pinned_empty
from trt_viewer.backends.trt.frame_buffer import (
    DEFAULT_CAPACITY,
    FrameBuffer,
    FrameCopier,
    copy_threads_setting,
    write_combined_setting,
)
from trt_viewer.backends.trt.gpu_letterbox import GpuLetterbox, GpuLetterboxUnavailable
from trt_viewer.backends.trt.lanes import Lane, Streams, Ticket, blocking_sync_setting
from trt_viewer.backends.trt.log import TrtMessages, create_logger
from trt_viewer.backends.trt.modules import import_pycuda, require_tensorrt
from trt_viewer.backends.trt.plan import read_engine_file
from trt_viewer.errors import InputError, RunError, first_line

if TYPE_CHECKING:
    import tensorrt as trt

LOGGER = logging.getLogger(__name__)


class TensorRTBackend(Backend):
    """lanes: frames in flight. copy_threads / write_combined: how raw frames are copied
    into page-locked memory for the GPU letterbox (frame_buffer.py; None: the default, or
    TRT_VIEWER_COPY_THREADS / TRT_VIEWER_WRITE_COMBINED where set). blocking_sync: the
    wait for outputs sleeps instead of spinning (lanes.py; TRT_VIEWER_BLOCKING_SYNC)."""

    name = "tensorrt"
    capabilities = Capabilities(gpu_letterbox=True, gpu_timing=True)

    def __init__(self, path: Path, input_size: tuple[int, int] | None = None, device: int = 0,
                 lanes: int = 2, copy_threads: int | None = None, write_combined: bool | None = None,
                 blocking_sync: bool | None = None) -> None:
        self.path = Path(path)
        self.version = require_tensorrt()
        import tensorrt as trt

        cuda = import_pycuda()
        file = read_engine_file(self.path)
        self.metadata = dict(file.metadata)
        self.lanes = max(1, int(lanes))  # frames that may be in flight (submitted, not collected)
        # When set, collect() also reads the frame's CUDA events into last_timings.
        self.gpu_timing = False
        self.last_timings: dict[str, float] = {}  # seconds, of the last collected frame
        # Timed frames are placed on one GPU clock (ms since _epoch) to tell how long the
        # engine stood idle between frames, and whether the next frame had been queued.
        self._epoch: Any = None
        self._computed_at: float | None = None  # the previous timed frame's compute end
        self._closed = False
        self._copy_threads = copy_threads_setting(copy_threads)
        self._write_combined = write_combined_setting(write_combined)
        self._blocking_sync = blocking_sync_setting(blocking_sync)
        self._handed_out: list[HostInput] = []
        self._frames_out: list[FrameBuffer] = []
        self._lanes: list[Lane] = []
        self._in_flight: deque[Ticket] = deque()
        self._submitted = 0
        self._letterbox: GpuLetterbox | None = None
        self._copier: FrameCopier | None = None
        self._ctx = CudaContext(cuda, device)
        try:
            self._messages = TrtMessages()
            self._logger = create_logger(self._messages)  # must outlive runtime and engine
            self._runtime = trt.Runtime(self._logger)
            self._engine = eng.deserialize(self._runtime, file.plan, self._messages, self.path)
            self._tensors = eng.io_tensors(self._engine)
            self._input = eng.one_image_input(self._tensors, self.path.name)
            self._context = self._create_context()
            self._streams = Streams(cuda)
            shape = eng.choose_input_shape(self._input, self.path.name, input_size, file.input_hw)
            self._apply_input_shape(shape)
        except BaseException:
            for exc in self._release():  # the original error is the one to report
                LOGGER.warning("releasing after a failed open: %s", first_line(exc))
            raise

    # -- setup -------------------------------------------------------------------------

    def _create_context(self) -> trt.IExecutionContext:
        with self._messages.capturing():
            try:
                context = self._engine.create_execution_context()
            except Exception as exc:
                raise cuda_failure(self._ctx, exc, f"creating the execution context of {self.path.name}") from None
            if context is None:  # TensorRT logs why: nearly always the activation memory
                need = eng.device_memory_size(self._engine)
                raise RunError(
                    f"cannot create an execution context for {self.path.name}: "
                    f"{self._messages.reason()} (it needs {need / (1 << 20):.1f} MiB; "
                    f"{self._ctx.memory_note()})"
                )
        return context

    def _apply_input_shape(self, shape: eng.Shape) -> None:
        """Set the input shape, read the output shapes it gives, and (re)allocate the lanes."""
        name = self._input.name
        with self._messages.capturing():
            if not self._context.set_input_shape(name, shape):
                reason = self._messages.reason()
                raise InputError(f"engine {self.path.name} rejects input shape {list(shape)}: {reason}")
        shapes: dict[str, tuple[eng.Shape, np.dtype]] = {}
        for t in self._tensors:
            actual = eng.dims(self._context.get_tensor_shape(t.name))
            if any(d < 0 for d in actual):
                raise InputError(
                    f"output {t.name} of {self.path.name} has a data-dependent shape {list(actual)}, "
                    "which trt_viewer cannot run"
                )
            shapes[t.name] = (actual, t.dtype)
        self._free_buffers()
        for _ in range(self.lanes):
            self._lanes.append(Lane(self._ctx, shapes, self._blocking_sync))
        self._shape = shape
        self.inputs = [self._input.spec()]
        self.outputs = [t.spec(shapes[t.name][0]) for t in self._tensors if not t.is_input]

    # -- Backend interface -------------------------------------------------------------

    @property
    def input_hw(self) -> tuple[int, int]:
        return int(self._shape[2]), int(self._shape[3])

    @property
    def precision(self) -> str:
        return f"{np.dtype(self._input.dtype).name} I/O (TensorRT {self.version})"

    def allocate_input(self, gpu_letterbox: bool = False) -> InputBuffer:
        """A page-locked buffer, valid until close(): a raw-frame FrameBuffer letterboxed
        on the GPU where asked for and the kernel runs, else a [1, 3, H, W] input tensor."""
        self._check_usable("allocate_input()")
        if gpu_letterbox and self._load_letterbox():
            return self._allocate_frame()
        for buf in self._handed_out:
            # Held only by this list (and getrefcount's argument): the caller dropped it,
            # so it is handed out again instead of pinning more memory per new pipeline.
            if buf.array.shape == self._shape and sys.getrefcount(buf) <= 3:
                return buf
        buf = HostInput(pinned_empty(self._ctx, self._shape, self._input.dtype))
        self._handed_out.append(buf)
        return buf

    def device_context(self) -> DeviceContext | None:
        return DeviceContext(self._ctx.cuda, self._ctx.context, self._ctx.device_index)

    def _load_letterbox(self) -> bool:
        if self._letterbox is None and self.letterbox_note is None:
            try:
                self._letterbox = GpuLetterbox(self._ctx.cuda, self._input.dtype, self._ctx.device.compute_capability())
            except GpuLetterboxUnavailable as exc:
                self.letterbox_note = str(exc)
                LOGGER.info("GPU preprocessing is off: %s; letterboxing on the CPU", exc)
        return self._letterbox is not None

    def _allocate_frame(self) -> FrameBuffer:
        for frame in self._frames_out:
            # As in allocate_input(): reuse what only this list (and getrefcount) holds.
            if sys.getrefcount(frame) <= 3:
                return frame
        if self._copier is None:
            self._copier = FrameCopier(self._copy_threads)
        host = pinned_empty(self._ctx, (DEFAULT_CAPACITY,), np.dtype(np.uint8), self._write_combined)
        frame = FrameBuffer(host, self.input_hw, self._copier)
        self._frames_out.append(frame)
        return frame

    def _source(self, buffer: HostInput, lane: Lane) -> np.ndarray:
        """Pinned memory holding the input tensor: its own array when we handed it out."""
        image = buffer.array
        if image.shape != self._shape:
            raise InputError(f"infer() got an image of shape {list(image.shape)}; the engine takes {list(self._shape)}")
        if any(buffer is mine for mine in self._handed_out):
            return image
        staging = lane[self._input.name].host
        try:
            np.copyto(staging, image, casting="same_kind")
        except TypeError:
            raise InputError(
                f"infer() got a {image.dtype} image; the engine's input is {np.dtype(self._input.dtype).name}"
            ) from None
        return staging

    def infer(self, tensor: InputBuffer | np.ndarray) -> dict[str, np.ndarray]:
        """Run one frame; the returned arrays are copies the caller may keep."""
        self._check_idle("infer()")
        return super().infer(tensor)

    def submit(self, buffer: InputBuffer) -> Ticket:
        """Queue one frame (an input tensor, or a raw frame to be letterboxed on the GPU
        with the preset it was filled with) and return at once; collect() gives its
        outputs. The buffer must not be filled again until then (its copy to the device
        may be running)."""
        self._check_usable("submit()")
        if len(self._in_flight) >= self.lanes:
            raise RunError(f"{self.lanes} frames are already in flight: collect() one first")
        t0 = time.perf_counter()
        frame = isinstance(buffer, FrameBuffer)
        if isinstance(buffer, HostInput):
            shape = buffer.array.shape
            if len(shape) == 4 and shape[:2] == (1, 3) and tuple(shape) != self._shape:
                self._check_idle("a new input shape")
                self._reshape(buffer.array.shape[2], buffer.array.shape[3])
        elif not frame:
            raise RunError(f"the TensorRT backend cannot take a {type(buffer).__name__}")
        if not self._lanes:
            raise RunError(f"{self.path.name} has no I/O buffers after a failed resize; reopen it")
        lane = self._lanes[self._submitted % len(self._lanes)]
        ticket = Ticket(self._submitted, lane, frame, timed=self.gpu_timing)
        cuda, streams, ev = self._ctx.cuda, self._streams, lane.events
        try:
            if ticket.timed:
                if self._epoch is None:
                    self._epoch = cuda.Event().record(streams.compute)
                ev["upload_start"].record(streams.upload)
            else:
                self._computed_at = None
            if isinstance(buffer, FrameBuffer):
                self._upload_frame(lane, buffer, ticket.timed)
            else:
                assert isinstance(buffer, HostInput)
                cuda.memcpy_htod_async(lane[self._input.name].device, self._source(buffer, lane), streams.upload)
            ev["uploaded"].record(streams.upload)
            streams.compute.wait_for_event(ev["uploaded"])
            for t in self._tensors:  # this lane's buffers; TensorRT reads them at enqueue
                self._context.set_tensor_address(t.name, lane[t.name].address)
            if ticket.timed:
                ev["compute_start"].record(streams.compute)
            with self._messages.capturing():
                t_exec = time.perf_counter()
                ok = self._context.execute_async_v3(streams.compute.handle)
                ticket.execute_s = time.perf_counter() - t_exec
                if not ok:
                    streams.synchronize()
                    raise RunError(f"TensorRT could not run {self.path.name}: {self._messages.reason()}")
            ev["computed"].record(streams.compute)
            streams.download.wait_for_event(ev["computed"])
            if ticket.timed:
                ev["download_start"].record(streams.download)
            for spec in self.outputs:
                cuda.memcpy_dtoh_async(lane[spec.name].host, lane[spec.name].device, streams.download)
            ev["done"].record(streams.download)
        except cuda.Error as exc:
            raise cuda_failure(self._ctx, exc, f"while running {self.path.name}") from None
        self._submitted += 1
        self._in_flight.append(ticket)
        ticket.enqueue_s = time.perf_counter() - t0
        return ticket

    def _upload_frame(self, lane: Lane, frame: FrameBuffer, timed: bool) -> None:
        if self._letterbox is None:
            raise RunError("submit() got a raw frame, but GPU preprocessing is off: use allocate_input()")
        if frame.pending is not None:  # too large for its buffer: grow it here, in the CUDA thread
            image = frame.pending
            free_pinned([frame.host])
            frame.host = pinned_empty(self._ctx, (image.size,), np.dtype(np.uint8), self._write_combined)
            frame.fill(image, frame.preset)
        if frame.shape is None:
            raise RunError("submit() got an empty frame buffer")
        if frame.device is not None:  # decoded on the GPU: letterboxed from where it is
            if timed:
                lane.events["copied"].record(self._streams.upload)  # nothing to copy: h2d is 0
            self._letterbox.launch_nv12(frame.device, lane[self._input.name].address, self.input_hw, frame.preset,
                                        self._streams.upload)
            return
        h, w = frame.shape
        raw = lane.raw_buffer(h * w * 3)
        streams = self._streams
        self._ctx.cuda.memcpy_htod_async(raw, frame.frame(), streams.upload)
        if timed:
            lane.events["copied"].record(streams.upload)
        self._letterbox.launch(int(raw), (h, w), lane[self._input.name].address, self.input_hw, frame.preset,
                               streams.upload, src_rgb=frame.rgb)

    def collect(self, ticket: BaseTicket, copy: bool = True) -> dict[str, np.ndarray]:
        """Wait for the oldest frame in flight (`ticket`) and return copies of its outputs.

        copy=False returns the page-locked output buffers themselves: valid only until
        `lanes` more frames have been submitted (their lane is reused then). The pipeline
        decodes each frame before submitting the next, so it reads them in place."""
        self._check_usable("collect()")
        if not self._in_flight or self._in_flight[0] is not ticket:
            raise RunError("collect() takes frames in the order they were submitted")
        assert isinstance(ticket, Ticket)
        lane, t0 = ticket.lane, time.perf_counter()
        try:
            lane.events["done"].synchronize()
            t1 = time.perf_counter()
            outputs = {spec.name: lane[spec.name].host.copy() if copy else lane[spec.name].host
                       for spec in self.outputs}
            t2 = time.perf_counter()
            timings = {"enqueue": ticket.enqueue_s, "wait": t1 - t0, "fetch": t2 - t1}
            if ticket.timed:
                timings["execute"] = ticket.execute_s  # host time inside execute_async_v3
                timings.update(self._gpu_times(ticket))
        except self._ctx.cuda.Error as exc:
            raise cuda_failure(self._ctx, exc, f"while running {self.path.name}") from None
        finally:
            self._in_flight.popleft()
        self.last_timings = timings
        return outputs

    def _gpu_times(self, ticket: Ticket) -> dict[str, float]:
        """Seconds between the frame's events: its copies, its letterbox kernel, its compute;
        and, after the previous timed frame, `gpu_idle`: the engine idle between that frame's
        compute and this one's, of which `submit_late` passed before this frame was even
        queued (upload_start, recorded on an otherwise idle stream, marks when the host
        submitted it). Idle with nothing late means the frame's own upload or letterbox
        held the engine back."""
        ev = ticket.lane.events
        epoch = self._epoch
        started, submitted = (epoch.time_till(ev[name]) for name in ("compute_start", "upload_start"))
        previous, self._computed_at = self._computed_at, epoch.time_till(ev["computed"])
        times = {
            "h2d": ev["upload_start"].time_till(ev["copied"] if ticket.gpu_letterbox else ev["uploaded"]),
            "compute": ev["compute_start"].time_till(ev["computed"]),
            "d2h": ev["download_start"].time_till(ev["done"]),
        }
        if ticket.gpu_letterbox:
            times["gpu_letterbox"] = ev["copied"].time_till(ev["uploaded"])
        if previous is not None:
            times["gpu_idle"] = max(0.0, started - previous)
            times["submit_late"] = max(0.0, min(started, submitted) - previous)
        return {k: v / 1e3 for k, v in times.items()}

    def _reshape(self, h: int, w: int) -> None:
        shape = eng.choose_input_shape(self._input, self.path.name, (h, w))
        self._streams.synchronize()
        self._apply_input_shape(shape)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            tensorrt=self.version,
            device=self._ctx.device_name,
            device_memory_mb=round(eng.device_memory_size(self._engine) / (1 << 20), 1),
            profiles=[p.describe() for p in self._input.profiles],
            lanes=self.lanes,
        )
        return info

    # -- teardown ----------------------------------------------------------------------

    def _check_usable(self, what: str) -> None:
        if self._closed:
            raise RunError(f"{what} on a closed TensorRT backend")
        self._ctx.check_thread(what)

    def _check_idle(self, what: str) -> None:
        if self._in_flight:
            raise RunError(f"{what} with {len(self._in_flight)} frame(s) in flight: collect() them first")

    def _free_buffers(self) -> None:
        lanes, self._lanes = self._lanes, []
        errors: list[BaseException] = []
        for lane in lanes:
            try:
                lane.free()
            except Exception as exc:  # keep freeing the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    def close(self) -> None:
        if self._closed:
            return
        self._ctx.check_thread("close()")
        errors = self._release()
        if errors:
            raise RunError(f"closing the TensorRT backend: {first_line(errors[0])}")

    def _stop_copier(self) -> None:
        copier, self._copier = self._copier, None
        if copier is not None:
            copier.close()

    def _unload_letterbox(self) -> None:
        letterbox, self._letterbox = self._letterbox, None
        if letterbox is not None:
            letterbox.close()

    def _release(self) -> list[BaseException]:
        """Give back everything, in the opening thread, with the context still current."""
        self._closed = True
        errors: list[BaseException] = []
        streams = self.__dict__.pop("_streams", None)
        if streams is not None:
            try:
                streams.synchronize()  # nothing may still be copying into what is freed next
            except Exception as exc:
                errors.append(exc)
        self._in_flight.clear()
        self._epoch = None
        frames = [f.host for f in self._frames_out]
        self._frames_out.clear()
        tensors = [b.array for b in self._handed_out]
        self._handed_out.clear()
        for step in (self._free_buffers, lambda: free_pinned(tensors), lambda: free_pinned(frames),
                     self._unload_letterbox, self._stop_copier):
            try:
                step()
            except Exception as exc:  # keep releasing; the first failure is reported
                errors.append(exc)
        # TensorRT objects free their device memory when the last reference goes, which
        # must happen while the context is current: context, engine, runtime, in order.
        for attr in ("_context", "_engine", "_runtime"):
            self.__dict__.pop(attr, None)
        del streams
        try:
            self._ctx.close()
        except Exception as exc:
            errors.append(exc)
        return errors
