"""The TensorRT backend with real pycuda on a real GPU (marked gpu; skipped without one).

TensorRT itself cannot be installed where these run, so the engine is the stand-in from
fakes/: its execute_async_v3 copies the input down from the real device buffer, runs ONNX
Runtime, and copies the outputs up into the real device buffers (fakes/real_cuda.py).
Everything else is real: page-locked host memory, device memory, the stream, the
asynchronous copies and the primary context. Run with tools/gpu_check.sh.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import pytest
from conftest import require_real_model_and_image
from fakes.fake_tensorrt import STYLES, Device, make_tensorrt
from fakes.fixtures import run_cli
from fakes.real_cuda import RealCudaMemory

from trt_viewer.backends.base import HostInput
from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.errors import RunError

pytestmark = pytest.mark.gpu
MIB = 1 << 20


@pytest.fixture
def memory(cuda: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealCudaMemory]:
    """The stand-in tensorrt module, computing on this GPU's memory."""
    dev = cuda.Device(0)
    real = RealCudaMemory(cuda)
    major, minor = dev.compute_capability()
    module = make_tensorrt(STYLES["10"], Device(real, dev.name(), f"{major}.{minor}"))
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    yield real
    assert real.held == 0, "the engine's device memory was not given back"


def _build(onnx_path: Path, engine: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> Path:
    code, _, err = run_cli(["build", str(onnx_path), "-o", str(engine), *flags], capsys)
    assert code == 0, err
    return engine


def test_yolox_nano_equals_onnxruntime_on_the_gpu(cuda: Any, memory: RealCudaMemory, primary_context: Any,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trt_viewer.core.sources import read_image
    from trt_viewer.run.detector import Detector

    data = require_real_model_and_image()
    onnx_path = data / "models" / "yolox_nano.onnx"
    engine = _build(onnx_path, tmp_path / "nano.engine", capsys)
    image = read_image(data / "media" / "dog.jpg")
    free_before = cuda.mem_get_info()[0]
    diffs, times = [], []
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(onnx_path) as reference:
        detector = Detector(backend)
        buffer = backend.allocate_input()
        assert type(buffer.array.base).__name__ in ("PagelockedHostAllocation", "HostAllocation")
        ratio = detector.preprocess(image, buffer)
        # the pinned buffer, then pageable arrays (copied into the lane's pinned staging)
        frames = [buffer] + [HostInput(np.random.default_rng(i).uniform(0, 255, buffer.array.shape).astype(np.float32))
                             for i in range(4)]
        for frame in frames:
            t0 = time.perf_counter()
            got = backend.infer(frame)["output"]
            times.append(time.perf_counter() - t0)
            want = reference.infer(np.array(frame.array))["output"]
            diffs.append(float(np.abs(got - want).max()))
        found = detector.postprocess(backend.infer(buffer), ratio, image.shape[:2])
        runs = memory.runs
    free_after = cuda.mem_get_info()[0]
    labels = [detector.label(int(c)) for c in found.class_ids]
    print(f"\nGPU: {cuda.Device(0).name()}; max |TensorRT backend - ONNX Runtime| per frame: "
          f"{', '.join(f'{d:.2e}' for d in diffs)}; stand-in runs on device buffers: {runs}; "
          f"infer p50 {np.median(times) * 1e3:.1f} ms (ONNX Runtime on the CPU inside); "
          f"detections on dog.jpg: {', '.join(f'{n} {s:.3f}' for n, s in zip(labels, found.scores))}; "
          f"free GPU memory before/after: {free_before // MIB}/{free_after // MIB} MiB")
    assert max(diffs) <= 1e-4
    assert runs == len(frames) + 1
    assert sorted(labels) == ["bicycle", "car", "dog", "truck"]  # as ../shared/REFERENCE.md lists
    assert abs(free_after - free_before) <= 4 * MIB


def test_layouts_dynamic_shapes_and_io_types_on_the_gpu(cuda: Any, memory: RealCudaMemory, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    cases = {
        "end2end": modelgen.yolox_model(tmp_path / "e2e.onnx", layout="end2end"),
        "fp16": modelgen.yolox_model(tmp_path / "fp16.onnx", input_dtype=modelgen.TensorProto.FLOAT16),
        "uint8": modelgen.yolox_model(tmp_path / "u8.onnx", input_dtype=modelgen.TensorProto.UINT8),
        "dynamic": modelgen.yolox_model(tmp_path / "dyn.onnx", dynamic=True),
    }
    for kind, onnx_path in cases.items():
        flags = ["--input-size", "64", "96"] if kind == "dynamic" else []
        engine = _build(onnx_path, tmp_path / f"{kind}.engine", capsys, *flags)
        with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(onnx_path, (64, 96)) as reference:
            buf = backend.allocate_input()
            buf.array[:] = np.random.default_rng(1).uniform(0, 255, buf.array.shape).astype(buf.array.dtype)
            got, want = backend.infer(buf), reference.infer(np.array(buf.array))
            for name in want:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{kind}: {name}")


def test_create_use_close_in_a_worker_thread(cuda: Any, memory: RealCudaMemory, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    engine = _build(modelgen.yolox_model(tmp_path / "raw.onnx"), tmp_path / "raw.engine", capsys)
    seen: dict[str, Any] = {}
    ready, done = threading.Event(), threading.Event()

    def worker() -> None:
        try:
            backend = TensorRTBackend(engine)
            seen["backend"] = backend
            seen["shape"] = backend.infer(backend.allocate_input())["output"].shape
            ready.set()
            done.wait(30)
            backend.close()
            seen["current_after_close"] = cuda.Context.get_current()
        except BaseException as exc:
            seen["error"] = exc
            ready.set()

    t = threading.Thread(target=worker, name="inference")
    t.start()
    assert ready.wait(60)
    try:
        assert "error" not in seen, seen.get("error")
        with pytest.raises(RunError, match="belongs to thread 'inference'"):
            seen["backend"].infer(np.zeros((1, 3, 64, 96), np.float32))
    finally:
        done.set()
        t.join(60)
    assert "error" not in seen, seen.get("error")
    assert seen["shape"] == (1, 126, 7)
    print(f"\ncurrent context in the worker after close(): {seen['current_after_close']}")


def test_every_name_the_pycuda_double_defines_exists_in_pycuda(cuda: Any) -> None:
    from fakes.fake_pycuda import FakeGpu
    from fakes.strict import public_names

    fake = FakeGpu().driver
    missing = [n for n in public_names(fake) if not hasattr(cuda, n)]
    for name in public_names(fake):
        value = getattr(fake, name)
        if isinstance(value, type) and hasattr(cuda, name):
            own = public_names(value) - {"freed", "valid"}  # bookkeeping of the double
            missing += [f"{name}.{m}" for m in own if not hasattr(getattr(cuda, name), m)]
    assert not missing, missing
