"""The doubles cannot invent an API: every name the tensorrt double offers is in
tensorrt-stubs, and the doubles fail where the real modules would."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, Device, make_tensorrt
from fakes.strict import public_names
from fakes.stubs import installed_stubs, mended_copy, stub_classes

# Names the TensorRT 11 double has that the 10.13 stubs lack, with the reason each is
# allowed. Empty: the 11 double only drops names (FP16/INT8 flags, calibrators,
# device_memory_size); the test below keeps any future entry honest.
TRT11_ONLY: dict[str, str] = {}

REMOVED_IN_10 = ("get_binding_shape", "binding_is_input", "execute_async_v2", "get_binding_dtype",
                 "num_bindings", "max_batch_size")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], dict[str, set[str]]]:
    if installed_stubs() is None:
        pytest.fail("tensorrt-stubs is not installed (the README's test command installs it)")
    return stub_classes(mended_copy(tmp_path_factory.mktemp("stubs")))


def _double(style: str) -> object:
    gpu = FakeGpu()
    return make_tensorrt(STYLES[style], Device(gpu))


def _fake_members(cls: type) -> set[str]:
    """Public members the double itself defines on a class (its own bases included)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("fakes.") or klass.__module__ == "tensorrt":
            names |= public_names(klass) | set(getattr(klass, "_settable", ()))
    return names


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_name_in_the_double_exists_in_the_stubs(style: str, stubs: tuple[set[str], dict[str, set[str]]]) -> None:
    module_names, classes = stubs
    trt = _double(style)
    unknown = []
    for name in public_names(trt):
        if name not in module_names and name not in TRT11_ONLY:
            unknown.append(name)
            continue
        value = getattr(trt, name)
        if isinstance(value, type):
            members = classes.get(name, set())
            unknown += [f"{name}.{m}" for m in _fake_members(value) - members if f"{name}.{m}" not in TRT11_ONLY]
    severity = trt.ILogger.Severity  # type: ignore[attr-defined]
    unknown += [f"ILogger.Severity.{m}" for m in _fake_members(severity) - classes["ILogger.Severity"]]
    assert not unknown, f"the {style} double offers names tensorrt-stubs lacks: {unknown}"


def test_the_trt11_list_names_only_what_the_10_stubs_lack(stubs: tuple[set[str], dict[str, set[str]]]) -> None:
    module_names, classes = stubs
    for entry, reason in TRT11_ONLY.items():
        owner, _, member = entry.partition(".")
        known = member in classes.get(owner, set()) if member else owner in module_names
        assert not known and reason, f"{entry} is in the 10.13 stubs or has no reason"


def test_the_check_catches_an_invented_name(stubs: tuple[set[str], dict[str, set[str]]]) -> None:
    _, classes = stubs
    assert "execute_async_v3" in classes["IExecutionContext"]
    for removed in REMOVED_IN_10:
        assert all(removed not in members for members in classes.values()), removed


@pytest.mark.parametrize("style", sorted(STYLES))
def test_removed_and_missing_api_raises(style: str) -> None:
    trt = _double(style)
    engine_cls, context_cls = trt.ICudaEngine, trt.IExecutionContext  # type: ignore[attr-defined]
    for removed in REMOVED_IN_10:
        assert not hasattr(engine_cls, removed) and not hasattr(context_cls, removed)
    config = trt.Builder(_Logger(trt)).create_builder_config()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        config.max_workspace_size = 1 << 30  # removed in TensorRT 10: setting it must fail
    with pytest.raises(AttributeError):
        _ = trt.BuilderFlag.STRICT_TYPES  # type: ignore[attr-defined]  # removed in TensorRT 10
    has_fp16 = hasattr(trt.BuilderFlag, "FP16")  # type: ignore[attr-defined]
    assert has_fp16 == (style != "11")
    assert hasattr(trt, "IProgressMonitor") == (style != "8.6")
    assert hasattr(config, "int8_calibrator") == (style != "11")


def _Logger(trt: object) -> object:
    class Quiet(trt.ILogger):  # type: ignore[attr-defined, name-defined, misc]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)  # type: ignore[attr-defined]

        def log(self, severity: object, msg: str) -> None:
            pass

    return Quiet()


def test_a_logger_that_skips_the_base_init_is_refused() -> None:
    trt = _double("10")

    class Bad(trt.ILogger):  # type: ignore[attr-defined, name-defined, misc]
        def __init__(self) -> None:
            pass

    with pytest.raises(TypeError):
        trt.Runtime(Bad())  # type: ignore[attr-defined]


def test_fake_cuda_needs_a_context_in_the_calling_thread() -> None:
    gpu = FakeGpu()
    cuda = gpu.driver
    with pytest.raises(cuda.LogicError):
        cuda.Device.count()  # before init(), as cuDeviceGetCount fails
    cuda.init()
    with pytest.raises(cuda.LogicError, match="invalid device context"):
        cuda.mem_alloc(16)
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    buf = cuda.mem_alloc(16)
    errors: list[BaseException] = []

    def elsewhere() -> None:
        try:
            cuda.mem_alloc(16)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert errors and isinstance(errors[0], cuda.LogicError)
    buf.free()
    cuda.Context.pop()
    ctx.detach()
    assert gpu.used == 0 and gpu.retained == 0


def test_fake_stream_work_happens_at_synchronize() -> None:
    gpu = FakeGpu()
    cuda = gpu.driver
    cuda.init()
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    stream = cuda.Stream()
    host = cuda.pagelocked_empty((4,), np.float32)
    host[:] = [1, 2, 3, 4]
    dev = cuda.mem_alloc(host.nbytes)
    cuda.memcpy_htod_async(dev, host, stream)
    back = cuda.pagelocked_empty((4,), np.float32)
    back[:] = 0
    cuda.memcpy_dtoh_async(back, dev, stream)
    assert back.tolist() == [0, 0, 0, 0]  # nothing has run yet
    stream.synchronize()
    assert back.tolist() == [1, 2, 3, 4]
    assert [c.pinned for c in gpu.calls if c.name.endswith("_async")] == [True, True]
    plain = np.zeros(4, np.float32)
    cuda.memcpy_dtoh_async(plain, dev, stream)
    assert gpu.calls[-1].pinned is False
    stream.synchronize()
    dev.free()
    host.base.free()
    back.base.free()
    cuda.Context.pop()
    ctx.detach()
    assert gpu.pinned_bytes == 0 and gpu.used == 0


def test_stub_mending_keeps_every_class(tmp_path: Path, stubs: tuple[set[str], dict[str, set[str]]]) -> None:
    module_names, classes = stubs
    assert {"Runtime", "Builder", "ICudaEngine", "IExecutionContext", "IProgressMonitor"} <= module_names
    assert {"set_input_shape", "set_tensor_address", "get_tensor_shape"} <= classes["IExecutionContext"]
    assert "add_scale_nd" in classes["INetworkDefinition"]  # the mended line
