"""GPU preprocessing and frames in flight on a real GPU (marked gpu; skipped without one).

Real pycuda, nvcc, page-locked memory, streams, events and the letterbox kernel; the
engine is the stand-in from fakes/ (TensorRT cannot be installed there): RealCudaMemory
runs ONNX Runtime on the real device buffers, TimedCudaMemory spins a fixed time on the
engine's stream. Run with benchmarks/gpu_run.sh (or tools/gpu_check.sh-style setup).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import pytest
from conftest import require_real_model_and_image
from fakes.fake_tensorrt import STYLES, Device, make_tensorrt
from fakes.fixtures import run_cli
from fakes.gpu_kernels import KERNELS as EMULATIONS
from fakes.real_cuda import RealCudaMemory, TimedCudaMemory

from trt_viewer.backends.base import HostInput
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.backends.trt.frame_buffer import FrameBuffer
from trt_viewer.core import preprocess
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions

pytestmark = pytest.mark.gpu


class Collect(Listener):
    def __init__(self) -> None:
        self.results: list[Result] = []

    def result(self, result: Result) -> None:
        self.results.append(result)


def _install(memory: Any, cuda: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    dev = cuda.Device(0)
    major, minor = dev.compute_capability()
    module = make_tensorrt(STYLES["10"], Device(memory, dev.name(), f"{major}.{minor}"))
    monkeypatch.setitem(sys.modules, "tensorrt", module)


def _frames(data: Path) -> list[np.ndarray]:
    import cv2

    from trt_viewer.core.sources import read_image

    dog = read_image(data / "media" / "dog.jpg")
    rng = np.random.default_rng(7)
    frames = [dog, cv2.resize(dog, (1920, 1080)), rng.integers(0, 256, (37, 53, 3), np.uint8),
              rng.integers(0, 256, (1080, 1920, 3), np.uint8), rng.integers(0, 256, (333, 777, 3), np.uint8),
              rng.integers(0, 256, (2, 4000, 3), np.uint8)]  # a strip: one row after letterboxing
    video = data / "media" / "people.mp4"
    if video.is_file():
        cap = cv2.VideoCapture(str(video))
        ok, frame = cap.read()
        if ok:
            frames += [frame, cv2.resize(frame, (1920, 1080))]
    return frames


@pytest.mark.parametrize("dtype,preset", [(np.float32, "current"), (np.float32, "legacy"), (np.float16, "current"),
                                          (np.float16, "legacy"), (np.uint8, "current"), (np.int8, "current")])
def test_the_letterbox_kernel_matches_the_cpu_letterbox(cuda: Any, primary_context: Any, dtype: Any,
                                                        preset: str) -> None:
    data = require_real_model_and_image()
    dev = cuda.Device(0)
    kernel = gpu_letterbox.GpuLetterbox(cuda, np.dtype(dtype), dev.compute_capability())
    chosen = preprocess.get_preset(preset)
    kind = np.float16 if np.dtype(dtype) == np.float16 else np.float32
    stream = cuda.Stream()
    mem = RealCudaMemory(cuda)
    report = []
    try:
        for out_hw in ((416, 416), (640, 640), (384, 640)):
            for frame in _frames(data):
                h, w = frame.shape[:2]
                src = cuda.mem_alloc(frame.nbytes)
                dst = cuda.mem_alloc(3 * out_hw[0] * out_hw[1] * np.dtype(dtype).itemsize)
                cuda.memcpy_htod(src, np.ascontiguousarray(frame))
                kernel.launch(int(src), (h, w), int(dst), out_hw, chosen, stream)
                stream.synchronize()
                got = np.empty((1, 3, *out_hw), dtype)
                cuda.memcpy_dtoh(got, dst)
                want = preprocess.letterbox(frame, out_hw, np.empty((1, 3, *out_hw), dtype), chosen)[0]
                if np.dtype(dtype) == np.int8:
                    diff = np.abs(got.view(np.uint8).astype(np.float64) - want.view(np.uint8))
                else:  # back on the 0..255 scale for the legacy normalisation
                    scale = np.array(chosen.scale, np.float64).reshape(1, 3, 1, 1)
                    diff = np.abs(got.astype(np.float64) - want.astype(np.float64)) / scale
                # The doubles run an emulation of this kernel: it must compute the same.
                _, new_h, new_w = gpu_letterbox.geometry((h, w), out_hw)
                EMULATIONS[gpu_letterbox.KERNELS[np.dtype(dtype)]](
                    mem, (1, 1, 1), (out_hw[1], out_hw[0], 1),
                    (int(src), int(dst), 1.0 / (new_w / w), 1.0 / (new_h / h),
                     *[float(kind(v)) for v in chosen.scale], *[float(kind(v)) for v in chosen.shift],
                     h, w, new_h, new_w, out_hw[0], out_hw[1], int(chosen.rgb),
                     int(chosen is not preprocess.CURRENT)))
                emulated = np.empty_like(got)
                cuda.memcpy_dtoh(emulated, dst)
                same = bool(np.array_equal(got.view(np.uint8), emulated.view(np.uint8)))
                report.append((f"{w}x{h}->{out_hw[1]}x{out_hw[0]}", float(diff.mean()), float(diff.max()), same))
                src.free()
                dst.free()
    finally:
        kernel.close()
    print(f"\n{np.dtype(dtype).name} {preset}: mean/max |GPU - CPU letterbox| (0..255 scale), kernel == emulation: "
          + "; ".join(f"{name} {mad:.4f}/{mx:.3f} {same}" for name, mad, mx, same in report))
    assert max(mad for _, mad, _, _ in report) <= 0.5
    assert all(same for *_, same in report), "the doubles' emulation differs from the kernel"


def _engine(onnx_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    engine = tmp_path / "model.engine"
    code, _, err = run_cli(["build", str(onnx_path), "-o", str(engine)], capsys)
    assert code == 0, err
    return engine


def test_gpu_preprocessing_and_frames_in_flight_give_the_cpu_paths_results(
        cuda: Any, primary_context: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    data = require_real_model_and_image()
    memory = RealCudaMemory(cuda)
    _install(memory, cuda, monkeypatch)
    engine = _engine(data / "models" / "yolox_nano.onnx", tmp_path, capsys)
    frames = _frames(data)
    free_before = cuda.mem_get_info()[0]
    with TensorRTBackend(engine) as backend:
        cpu, gpu = Detector(backend, gpu_preprocess=False), Detector(backend, gpu_preprocess=True)
        cpu_buf, gpu_buf = cpu.allocate_input(), gpu.allocate_input()
        assert isinstance(cpu_buf, HostInput) and isinstance(gpu_buf, FrameBuffer), gpu.cpu_letterbox_reason
        diffs, same = [], []
        for frame in frames:
            ratio_cpu, ratio_gpu = cpu.preprocess(frame, cpu_buf), gpu.preprocess(frame, gpu_buf)
            out_cpu, out_gpu = cpu.infer(cpu_buf)["output"], gpu.infer(gpu_buf)["output"]
            diffs.append(float(np.abs(out_cpu - out_gpu).max()))
            d_cpu = cpu.postprocess({"output": out_cpu}, ratio_cpu, frame.shape[:2])
            d_gpu = gpu.postprocess({"output": out_gpu}, ratio_gpu, frame.shape[:2])
            same.append(bool(np.array_equal(d_cpu.class_ids, d_gpu.class_ids)) and
                        bool(np.allclose(d_cpu.boxes, d_gpu.boxes, atol=1e-2)))
        sequential = [gpu.detect(f, gpu_buf) for f in frames]

        from trt_viewer.bench.frames import MemorySource

        source = MemorySource("frames", frames, len(frames) * 3)
        got = Collect()
        Player(got, PlayOptions(interactive=False)).run(lambda: nullcontext(gpu), source.spec, lambda spec: source)
        results = got.results
        in_order = [r.frame.index for r in results] == list(range(len(frames) * 3))
        matches = [np.allclose(r.detections.boxes, sequential[r.frame.index % len(frames)].boxes, atol=1e-3)
                   for r in results]
    free_after = cuda.mem_get_info()[0]
    print(f"\nmax |outputs GPU letterbox - CPU letterbox| per frame: {', '.join(f'{d:.2e}' for d in diffs)}; "
          f"same detections: {same}; pipeline (2 lanes) in order: {in_order}, equal to one-at-a-time: "
          f"{sum(matches)}/{len(matches)}; free GPU memory before/after: {free_before >> 20}/{free_after >> 20} MiB")
    assert max(diffs) <= 1e-4 and all(same)
    assert in_order and all(matches)
    assert abs(free_after - free_before) <= 4 << 20


def test_frame_n_plus_1_uploads_while_frame_n_computes(cuda: Any, primary_context: Any, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The events of two frames in flight show the overlap: with a 20 ms engine, frame N+1's
    copy starts, and ends, before frame N's compute ends; and N+1 computes right after N."""
    memory = TimedCudaMemory(cuda, ms=20.0)
    _install(memory, cuda, monkeypatch)
    onnx_path = modelgen.yolox_model(tmp_path / "raw.onnx")
    engine = _engine(onnx_path, tmp_path, capsys)
    with TensorRTBackend(engine) as backend:
        backend.gpu_timing = True
        buffers = [backend.allocate_input() for _ in range(2)]
        for i, buf in enumerate(buffers):
            buf.array[:] = np.random.default_rng(i).uniform(0, 255, buf.array.shape)
        backend.infer(buffers[0])  # the stand-in computes real outputs once, then spins
        reference = backend.infer(buffers[0])["output"]
        first = backend.submit(buffers[0])
        second = backend.submit(buffers[1])
        ev1, ev2 = first.lane.events, second.lane.events
        out1 = backend.collect(first)
        gaps = {
            "N+1 upload start - N compute end": ev2["upload_start"].time_since(ev1["computed"]),
            "N+1 upload end - N compute end": ev2["uploaded"].time_since(ev1["computed"]),
        }
        out2 = backend.collect(second)
        gaps["N+1 compute start - N compute end"] = ev2["compute_start"].time_since(ev1["computed"])
        compute, idle, late = (backend.last_timings[k] for k in ("compute", "gpu_idle", "submit_late"))
        memory.close()
    print(f"\nms: {gaps}; compute of N+1 {compute * 1e3:.3f} ms; idle before it {idle * 1e3:.3f} ms")
    np.testing.assert_array_equal(out1["output"], reference)
    np.testing.assert_array_equal(out2["output"], reference)  # canned: the same real outputs
    assert gaps["N+1 upload start - N compute end"] < 0 and gaps["N+1 upload end - N compute end"] < 0
    assert compute * 1e3 >= 20.0  # the spin ran on the engine's stream
    # the backend's own measure of the same: N+1 was queued in time, the engine barely idle
    assert late == 0 and idle * 1e3 == pytest.approx(gaps["N+1 compute start - N compute end"], abs=1e-3)
    assert idle * 1e3 < 0.5


def test_without_nvcc_the_cpu_letterbox_is_used(cuda: Any, primary_context: Any, monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    memory = RealCudaMemory(cuda)
    _install(memory, cuda, monkeypatch)
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})
    monkeypatch.setattr(gpu_letterbox, "find_nvcc", lambda: "/nonexistent/bin/nvcc")
    engine = _engine(modelgen.yolox_model(tmp_path / "raw.onnx"), tmp_path, capsys)
    with TensorRTBackend(engine) as backend:
        detector = Detector(backend)
        buffer = detector.allocate_input()
        reason = detector.cpu_letterbox_reason
        assert isinstance(buffer, HostInput)
    print(f"\nwithout nvcc: {reason}")
    assert reason == "nvcc (the CUDA toolkit) was not found"


def test_every_name_the_pycuda_compiler_double_defines_exists_in_pycuda(cuda: Any) -> None:
    import pycuda.compiler
    from fakes.fake_pycuda import FakeGpu
    from fakes.strict import public_names

    fake = FakeGpu().compiler
    missing = [n for n in public_names(fake) if not hasattr(pycuda.compiler, n)]
    assert not missing, missing
