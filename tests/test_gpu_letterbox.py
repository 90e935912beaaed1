"""GPU preprocessing on the doubles: the kernel's arithmetic (its emulation) is the CPU
letterbox's; the backend uploads the raw frame and letterboxes it on the device with the
same outputs as the CPU path; without nvcc it falls back with a note; the kernel compiles
once per process; the reader thread makes no CUDA call. The real kernel is compared with
the CPU letterbox and with this emulation in test_gpu_speed.py (on a GPU)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import cv2
import modelgen
import numpy as np
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fixtures import build, gpu, trt, trt_style  # noqa: F401 - fixtures
from fakes.gpu_kernels import KERNELS, nv12_to_bgr

from trt_viewer.backends.base import HostInput
from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.backends.trt.frame_buffer import DEFAULT_CAPACITY, FrameBuffer
from trt_viewer.core import preprocess
from trt_viewer.core.sources import Source
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions

Build = Callable[..., Path]


class Collect(Listener):
    def __init__(self) -> None:
        self.results: list[Result] = []

    def result(self, result: Result) -> None:
        self.results.append(result)


def play(detector: Detector, source: Source) -> list[Result]:
    """The results of a headless run of `source` through `detector`, in order."""
    got = Collect()
    Player(got, PlayOptions(interactive=False)).run(lambda: nullcontext(detector), source.spec, lambda spec: source)
    return got.results


class HostMemory:
    """Device memory as a dict of byte arrays, for running an emulation on its own."""

    def __init__(self) -> None:
        self.blocks: dict[int, bytearray] = {}

    def put(self, data: bytes) -> int:
        address = 0x1000 * (len(self.blocks) + 1) << 20
        self.blocks[address] = bytearray(data)
        return address

    def read(self, address: int, nbytes: int) -> bytes:
        return bytes(self.blocks[address][:nbytes])

    def write(self, address: int, data: bytes) -> None:
        self.blocks[address][: len(data)] = data


def emulate_letterbox(image: np.ndarray, out_hw: tuple[int, int], dtype: Any, preset: preprocess.Preset) -> np.ndarray:
    """What the kernel computes, launched with the arguments GpuLetterbox.launch passes."""
    launched: dict[str, Any] = {}

    class Function:
        def prepared_async_call(self, grid: Any, block: Any, stream: Any, *args: Any) -> None:
            launched.update(grid=grid, block=block, args=args)

    kernel = object.__new__(gpu_letterbox.GpuLetterbox)
    kernel.dtype = np.dtype(dtype)
    kernel._function = Function()
    mem = HostMemory()
    src = mem.put(np.ascontiguousarray(image).tobytes())
    dst = mem.put(bytes(3 * out_hw[0] * out_hw[1] * np.dtype(dtype).itemsize))
    kernel.launch(src, image.shape[:2], dst, out_hw, preset, None)
    KERNELS[gpu_letterbox.KERNELS[np.dtype(dtype)]](mem, launched["grid"], launched["block"], launched["args"])
    nbytes = 3 * out_hw[0] * out_hw[1] * np.dtype(dtype).itemsize
    return np.frombuffer(mem.read(dst, nbytes), dtype).reshape(1, 3, *out_hw)


@pytest.mark.parametrize("dtype,preset", [(np.float32, "current"), (np.float32, "legacy"), (np.float16, "current"),
                                          (np.float16, "legacy"), (np.uint8, "current"), (np.int8, "current")])
def test_the_kernels_arithmetic_is_the_cpu_letterbox(dtype: Any, preset: str, data_frames: list[np.ndarray]) -> None:
    chosen = preprocess.get_preset(preset)
    worst = []
    for image in data_frames:
        for out_hw in ((416, 416), (640, 640), (384, 640), (64, 96)):
            got = emulate_letterbox(image, out_hw, dtype, chosen)
            want = preprocess.letterbox(image, out_hw, np.empty((1, 3, *out_hw), dtype), chosen)[0]
            if np.dtype(dtype).kind == "f":
                scale = np.array(chosen.scale).reshape(1, 3, 1, 1)  # on the 0..255 scale
                diff = np.abs(got.astype(np.float64) - want.astype(np.float64)) / scale
            else:
                diff = np.abs(got.view(np.uint8).astype(np.float64) - want.view(np.uint8))
            worst.append((float(diff.mean()), float(diff.max())))
    # The issue asks for a mean difference of at most 0.5; the emulation of cv2's
    # fixed-point arithmetic should be within one level everywhere.
    assert max(m for m, _ in worst) <= 0.05 and max(x for _, x in worst) <= 1.0, worst


@pytest.mark.parametrize("hw", [(1080, 1920), (2, 2), (38, 54), (576, 768)])
def test_the_nv12_kernels_conversion_is_opencvs_integer_for_integer(hw: tuple[int, int]) -> None:
    """The NV12 kernels convert as cv2.cvtColor(COLOR_YUV2BGR_NV12), so a frame letterboxed
    from NV12 on the GPU equals the same frame downloaded (run/nvdec.py converts it with
    OpenCV) and letterboxed on the CPU, bit for bit. Every Y, U and V value appears."""
    h, w = hw
    rng = np.random.default_rng(h)
    nv12 = rng.integers(0, 256, (h * 3 // 2, w), np.uint8)
    nv12.reshape(-1)[:256 * 3] = np.repeat(np.arange(256, dtype=np.uint8), 3)[: min(768, nv12.size)]
    y, uv = nv12[:h], nv12[h:].reshape(h // 2, w // 2, 2)
    assert np.array_equal(nv12_to_bgr(y, uv), cv2.cvtColor(nv12, cv2.COLOR_YUV2BGR_NV12))


@pytest.fixture(scope="module")
def data_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    frames = [rng.integers(0, 256, shape, np.uint8) for shape in
              ((1080, 1920, 3), (432, 768, 3), (37, 53, 3), (333, 777, 3), (640, 640, 3), (832, 832, 3), (1, 1, 3),
               (2, 4000, 3))]
    frames.append(modelgen.square_image((64, 96), (3, 2, 8)))
    return frames


# -- the backend on the doubles --------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_kernel_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: nothing compiled yet."""
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})


@pytest.fixture
def nvcc(gpu: FakeGpu) -> FakeGpu:  # noqa: F811
    """A fake GPU whose CUDA toolkit has nvcc."""
    gpu.nvcc = True
    return gpu


def _engine(build: Build, onnx_path: Path, tmp_path: Path) -> Path:  # noqa: F811
    return build(onnx_path, tmp_path / onnx_path.with_suffix(".engine").name)


@pytest.mark.parametrize("kind", ["raw", "fp16", "uint8"])
def test_the_backend_letterboxes_on_the_gpu_with_the_cpu_paths_outputs(
        kind: str, models: dict[str, Path], build: Build, nvcc: FakeGpu,  # noqa: F811
        tmp_path: Path, data_frames: list[np.ndarray]) -> None:
    engine = _engine(build, models[kind], tmp_path)
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models[kind]) as reference:
        detector = Detector(backend)
        frame_buffer = detector.allocate_input()
        assert isinstance(frame_buffer, FrameBuffer) and detector.cpu_letterbox_reason is None
        assert nvcc.is_pinned(frame_buffer.host)
        cpu = Detector(reference)
        tensor = cpu.allocate_input()
        for round_ in range(2):
            allocations = len(nvcc.allocations)
            for image in data_frames[1:4]:
                ratio = detector.preprocess(image, frame_buffer)
                assert ratio == cpu.preprocess(image, tensor)
                before, launches = len(nvcc.calls), len(nvcc.launches)
                got = detector.infer(frame_buffer)
                calls = nvcc.calls[before:]
                np.testing.assert_array_equal(got["output"], reference.infer(tensor)["output"])
                # one copy up (the raw frame, from pinned memory), one kernel, copies down, one synchronize
                assert [c.name for c in calls] == ["memcpy_htod_async", "memcpy_dtoh_async", "synchronize"]
                assert calls[0].pinned and calls[0].nbytes == image.size
                assert nvcc.launches[launches:] == [gpu_letterbox.KERNELS[backend.input.dtype]]
            if round_:  # the device buffers for raw frames are made once per lane, not per frame
                assert len(nvcc.allocations) == allocations


def test_preset_changes_reach_the_kernel(models: dict[str, Path], build: Build, nvcc: FakeGpu,  # noqa: F811
                                         tmp_path: Path, data_frames: list[np.ndarray]) -> None:
    image = data_frames[1]
    with TensorRTBackend(_engine(build, models["raw"], tmp_path)) as backend:
        detector = Detector(backend, preset="legacy")
        buf = detector.allocate_input()
        detector.preprocess(image, buf)
        legacy = detector.infer(buf)["output"]
        detector.set_preset("current")
        detector.preprocess(image, buf)  # the preset travels with the filled buffer
        current = detector.infer(buf)["output"]
        tensor = backend.allocate_input()
        preprocess.letterbox(image, backend.input_hw, tensor.array, preprocess.LEGACY)
        np.testing.assert_array_equal(legacy, backend.infer(tensor)["output"])
        preprocess.letterbox(image, backend.input_hw, tensor.array, preprocess.CURRENT)
        np.testing.assert_array_equal(current, backend.infer(tensor)["output"])
    with TensorRTBackend(_engine(build, models["uint8"], tmp_path)) as backend:
        detector = Detector(backend, preset="legacy")
        buf = detector.allocate_input()
        detector.preprocess(image, buf)
        with pytest.raises(ValueError, match="the legacy preset needs a float input, the model takes uint8"):
            detector.infer(buf)
        detector.set_preset("current")
        detector.preprocess(image, buf)
        assert detector.infer(buf)["output"].shape == backend.outputs[0].shape  # usable afterwards


def test_without_nvcc_the_cpu_letterbox_is_used_with_a_log_note(
        models: dict[str, Path], build: Build, gpu: FakeGpu, tmp_path: Path,  # noqa: F811
        caplog: pytest.LogCaptureFixture, data_frames: list[np.ndarray]) -> None:
    assert not gpu.nvcc
    engine = _engine(build, models["raw"], tmp_path)
    caplog.set_level(logging.INFO)
    with TensorRTBackend(engine) as backend:
        auto = Detector(backend)
        asked, off = Detector(backend, gpu_preprocess=True), Detector(backend, gpu_preprocess=False)
        buffers = [d.allocate_input() for d in (auto, asked, off)]
        assert all(isinstance(b, HostInput) for b in buffers)
        assert auto.cpu_letterbox_reason == "nvcc (the CUDA toolkit) was not found"
        assert off.cpu_letterbox_reason == "turned off"
        notes = [(r.levelno, r.getMessage()) for r in caplog.records if "letterboxing on the CPU" in r.getMessage()]
        off_note = "GPU preprocessing is off: nvcc (the CUDA toolkit) was not found; letterboxing on the CPU"
        assert (logging.INFO, off_note) in notes
        assert any(level == logging.WARNING and "not available" in text for level, text in notes)
        ratio = auto.preprocess(data_frames[1], buffers[0])
        found = auto.postprocess(auto.infer(buffers[0]), ratio, data_frames[1].shape[:2])
        assert found.boxes.shape[1] == 4
    assert gpu.compiles == 0 and gpu.launches == []


def test_the_kernel_compiles_once_per_process(models: dict[str, Path], build: Build, nvcc: FakeGpu,  # noqa: F811
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    for _ in range(3):
        with TensorRTBackend(engine) as backend:
            assert isinstance(backend.allocate_input(gpu_letterbox=True), FrameBuffer)
    assert nvcc.compiles == 1
    # A failure is remembered as well: nvcc is not run again for every backend.
    attempts = []
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})
    real_compile = nvcc.compiler.compile

    def failing(*args: Any, **kwargs: Any) -> bytes:
        attempts.append(1)
        raise nvcc.driver.CompileError("nvcc fatal : Unsupported gpu architecture 'compute_86'")

    monkeypatch.setattr(nvcc.compiler, "compile", failing)
    for _ in range(2):
        with TensorRTBackend(engine) as backend:
            assert not backend.allocate_input(gpu_letterbox=True).on_gpu
            assert backend.letterbox_note is not None
            assert backend.letterbox_note.startswith("the kernel did not compile (nvcc fatal")
    assert attempts == [1]
    monkeypatch.setattr(nvcc.compiler, "compile", real_compile)


def test_frames_larger_than_their_buffer_grow_it_in_the_inference_thread(
        models: dict[str, Path], build: Build, nvcc: FakeGpu, tmp_path: Path) -> None:  # noqa: F811
    big = np.random.default_rng(2).integers(0, 256, (2160, 3840, 3), np.uint8)
    with TensorRTBackend(_engine(build, models["raw"], tmp_path)) as backend:
        detector = Detector(backend)
        buf = detector.allocate_input()
        assert buf.capacity == DEFAULT_CAPACITY
        filled = threading.Thread(target=detector.preprocess, args=(big, buf))  # no CUDA context there
        filled.start()
        filled.join()
        assert buf.pending is big  # too large: kept by reference, nothing allocated in that thread
        got = detector.infer(buf)["output"]
        assert buf.capacity == big.size and buf.pending is None and nvcc.is_pinned(buf.host)
        detector.preprocess(big, buf)
        assert buf.pending is None  # fits from now on
        tensor = backend.allocate_input()
        preprocess.letterbox(big, backend.input_hw, tensor.array)
        np.testing.assert_array_equal(got, backend.infer(tensor)["output"])
    assert nvcc.used == 0 and nvcc.pinned_bytes == 0


def test_frame_buffers_are_reused_when_dropped_and_freed_on_close(
        models: dict[str, Path], build: Build, nvcc: FakeGpu, tmp_path: Path) -> None:  # noqa: F811
    with TensorRTBackend(_engine(build, models["raw"], tmp_path)) as backend:
        pool = [backend.allocate_input(gpu_letterbox=True) for _ in range(3)]
        pinned = nvcc.pinned_bytes
        assert len({id(b) for b in pool}) == 3
        del pool
        again = [backend.allocate_input(gpu_letterbox=True) for _ in range(3)]
        assert nvcc.pinned_bytes == pinned and len({id(b) for b in again}) == 3
    assert nvcc.used == 0 and nvcc.pinned_bytes == 0 and nvcc.retained == 0


def test_the_pipeline_reader_only_copies_frames_and_cuda_stays_in_the_callers_thread(
        models: dict[str, Path], build: Build, nvcc: FakeGpu, tmp_path: Path, square_video: Path) -> None:  # noqa: F811
    from trt_viewer.core.sources import open_source

    engine = _engine(build, models["raw"], tmp_path)
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models["raw"]) as reference:
        gpu_results = play(Detector(backend), open_source(str(square_video)))
        cpu_results = play(Detector(reference), open_source(str(square_video)))
    assert len(nvcc.launches) == 24
    assert {c.thread for c in nvcc.calls} == {threading.get_ident()}
    assert [r.frame.index for r in gpu_results] == list(range(24))
    for g, c in zip(gpu_results, cpu_results):
        np.testing.assert_array_equal(g.detections.boxes, c.detections.boxes)
        np.testing.assert_array_equal(g.detections.class_ids, c.detections.class_ids)


def test_frame_copies_give_the_same_pixels_threaded_or_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    from trt_viewer.backends.trt.frame_buffer import FrameCopier, copy_threads_setting

    image = np.random.default_rng(3).integers(0, 256, (1080, 1920, 3), np.uint8)
    for threads in (0, 1, 2, 3, 4):
        copier = FrameCopier(threads)
        buf = FrameBuffer(np.zeros(DEFAULT_CAPACITY + 7, np.uint8), (640, 640), copier)
        for frame in (image, image[:5, :7]):  # below a band's worth: one copy; a non-contiguous view too
            buf.fill(frame, preprocess.CURRENT)
            # threads=0: OpenCV's copy, channels swapped, and the buffer says so
            assert buf.rgb == (threads == 0)
            np.testing.assert_array_equal(buf.frame(), frame[..., ::-1] if buf.rgb else frame)
        copier.close()
    monkeypatch.setenv("TRT_VIEWER_COPY_THREADS", "3")
    assert copy_threads_setting() == 3
    monkeypatch.setenv("TRT_VIEWER_COPY_THREADS", "")
    assert copy_threads_setting() == 0


@pytest.mark.parametrize("env,flags", [(None, 4), ("0", 0)])
def test_frame_buffers_are_write_combined_unless_turned_off(
        env: str | None, flags: int, models: dict[str, Path], build: Build, nvcc: FakeGpu,  # noqa: F811
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if env is not None:
        monkeypatch.setenv("TRT_VIEWER_WRITE_COMBINED", env)
    else:
        monkeypatch.delenv("TRT_VIEWER_WRITE_COMBINED", raising=False)
    with TensorRTBackend(_engine(build, models["raw"], tmp_path)) as backend:
        frame = backend.allocate_input(gpu_letterbox=True)
        assert isinstance(frame, FrameBuffer) and frame.host.base._flags == flags
        assert backend.allocate_input().array.base._flags == 0  # input tensors are read back by tests and tools
