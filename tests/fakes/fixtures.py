"""Fixtures that install the doubles, registered for every test by tests/conftest.py
(`pytest_plugins`): test modules take them as parameters and never import them.

`gpu` puts the fake pycuda (driver and compiler) in sys.modules; `trt` adds a tensorrt double of the style the
test is parametrised with (default "10"); `build` runs `trt-viewer build` in-process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .fake_pycuda import FakeGpu
from .fake_tensorrt import STYLES, Device, make_tensorrt


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGpu]:
    fake = FakeGpu()
    monkeypatch.setitem(sys.modules, "pycuda", fake.package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", fake.driver)
    monkeypatch.setitem(sys.modules, "pycuda.compiler", fake.compiler)
    yield fake


@pytest.fixture
def fake_device(gpu: FakeGpu) -> Iterator[Any]:
    """A backend's CUDA context on the fake GPU (backends.base.DeviceContext), its primary
    context current in this thread, as a GPU decoder gets it."""
    from trt_viewer.backends.base import DeviceContext

    cuda = gpu.driver
    cuda.init()
    context = cuda.Device(0).retain_primary_context()
    context.push()
    yield DeviceContext(cuda, context, 0)
    cuda.Context.pop()
    context.detach()


@pytest.fixture
def trt_style(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "10")


@pytest.fixture
def trt(gpu: FakeGpu, trt_style: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = make_tensorrt(STYLES[trt_style], Device(gpu, gpu.name, f"{gpu.compute[0]}.{gpu.compute[1]}"))
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    return module


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`trt-viewer ARGV` in-process, through the real command line entry point."""
    from trt_viewer.cli import main

    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def build(trt: Any, capsys: pytest.CaptureFixture[str]) -> Callable[..., Path]:
    """Build an engine with the fake TensorRT; fails the test if the build fails."""

    def run(onnx_path: Path, engine: Path | None = None, *flags: str) -> Path:
        engine = engine or onnx_path.with_suffix(".engine")
        code, _, err = run_cli(["build", str(onnx_path), "-o", str(engine), *flags], capsys)
        assert code == 0, err
        return engine

    return run
