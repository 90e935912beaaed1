"""Shared fixtures: small generated models and videos, and the optional real test data.

pytest imports this file with tests/ first on sys.path (its default "prepend" import mode,
tests/ being no package), so test modules import `modelgen`, `fakes...` and `gui_fixtures`
with no sys.path change of their own. The fixtures of fakes/fixtures.py (gpu, trt_style,
trt, build) and of gui_fixtures.py (gui_model, gui_video, long_video, gui_settings, window)
are registered here for every test, so test modules take them as parameters and need not
import them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import modelgen
import pytest
from modelgen import moving_square_frames, write_video

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["fakes.fixtures", "gui_fixtures"]


def real_data(needed: tuple[str, ...] = ("models/yolox_nano.onnx", "media/dog.jpg", "media/people.mp4")
              ) -> Path | None:
    root = os.environ.get("TRT_VIEWER_TEST_DATA")
    if not root:
        return None
    path = Path(root)
    return path if all((path / n).is_file() for n in needed) else None


def require_real_model_and_image() -> Path:
    """The real data folder, with at least the model and dog.jpg (what the GPU tests need:
    tools/gpu_check.sh carries no video); skips the test otherwise."""
    path = real_data(("models/yolox_nano.onnx", "media/dog.jpg"))
    if path is None:
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real test data")
    return path


@pytest.fixture(scope="session")
def cuda():
    """pycuda's driver module, initialised; skips where there is no pycuda or CUDA device."""
    try:
        import pycuda.driver as driver
    except ImportError as exc:
        pytest.skip(f"pycuda is not available: {exc}")
    try:
        driver.init()
        if driver.Device.count() == 0:
            pytest.skip("no CUDA device")
    except driver.Error as exc:
        pytest.skip(f"no usable CUDA device: {exc}")
    return driver


@pytest.fixture
def primary_context(cuda: Any) -> Iterator[Any]:
    """The device's primary context, current in this thread and held by the test, so the
    backend's own retain/release leaves it alive (free memory can be read around a run)."""
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    yield ctx
    cuda.Context.pop()
    ctx.detach()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = real_data()
    if path is None:
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real test data")
    return path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small model of each layout and kind, built once per test session."""
    d = tmp_path_factory.mktemp("models")
    return {
        "raw": modelgen.yolox_model(d / "raw.onnx"),
        "decoded": modelgen.yolox_model(d / "decoded.onnx", layout="decoded"),
        "end2end": modelgen.yolox_model(d / "end2end.onnx", layout="end2end"),
        "coco": modelgen.yolox_model(d / "coco.onnx", num_classes=80),
        "dynamic": modelgen.yolox_model(d / "dynamic.onnx", dynamic=True),
        "fp16": modelgen.yolox_model(d / "fp16.onnx", input_dtype=modelgen.TensorProto.FLOAT16),
        "uint8": modelgen.yolox_model(d / "uint8.onnx", input_dtype=modelgen.TensorProto.UINT8),
        "int8": modelgen.yolox_model(d / "int8.onnx", input_dtype=modelgen.TensorProto.INT8),
        "p6": modelgen.yolox_model(d / "p6.onnx", size=(128, 128), strides=modelgen.P6),
        "plugin": modelgen.trt_plugin_model(d / "plugin.onnx"),
    }


@pytest.fixture
def square_video(tmp_path: Path) -> Path:
    # MJPG keeps the squares' colours nearly exact, unlike mp4v at this size.
    return write_video(tmp_path / "squares.avi", moving_square_frames(24))


@pytest.fixture(autouse=True)
def nvdec_check_in_this_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """NVDEC's first-frame check (run/nvdec_probe.py) runs in a child that imports the real
    PyNvVideoCodec, which CI has not: here the check runs in this process, on whatever
    PyNvVideoCodec the test installed (the double). The GPU tests, and the tests of the
    child itself (test_nvdec_probe.py), keep the real child."""
    from trt_viewer.backends.trt import nvdec_check
    from trt_viewer.run import nvdec_probe

    monkeypatch.setattr(nvdec_probe, "_answers", {})
    if request.node.get_closest_marker("gpu") or request.node.path.name == "test_nvdec_probe.py":
        return

    def in_process(spec: str, gpu: int, timeout: float = 0.0) -> str:
        import importlib

        try:
            module = importlib.import_module("PyNvVideoCodec")
        except ImportError as exc:
            return str(exc)
        return nvdec_check.first_frame(module, spec, gpu)

    monkeypatch.setattr(nvdec_probe, "ask_child", in_process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A wait that timed out prints every thread's stack: a run stuck somewhere under
    load (a CI machine of 2 cores) says where, which a rerun that passes never does."""
    outcome = yield
    if call.when == "call" and call.excinfo is not None and "Timeout" in call.excinfo.typename:
        import faulthandler
        import sys
        print(f"\n--- threads when {item.nodeid} timed out ---", file=sys.stderr, flush=True)
        faulthandler.dump_traceback(sys.stderr, all_threads=True)
    del outcome
