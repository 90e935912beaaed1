"""The TensorRT backend on the strict doubles: outputs equal ONNX Runtime's for every
layout and I/O type, the per-frame CUDA work is what the design promises, and each bad
input gives one clear line with the GPU memory given back."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, Device, fake_plan, make_tensorrt
from fakes.fixtures import run_cli
from fakes.stubs import installed_stubs

from trt_viewer.backends import open_backend
from trt_viewer.backends.base import HostInput
from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.errors import InputError, RunError
from trt_viewer.run.detector import Detector

ALL_STYLES = pytest.mark.parametrize("trt_style", sorted(STYLES), indirect=True)
Build = Callable[..., Path]


def _engine(build: Build, onnx_path: Path, tmp_path: Path, *flags: str) -> Path:
    return build(onnx_path, tmp_path / onnx_path.with_suffix(".engine").name, *flags)


def _image(backend: Any, seed: int = 0) -> HostInput:
    rng = np.random.default_rng(seed)
    buf = backend.allocate_input()
    high = 127 if buf.array.dtype == np.int8 else 255
    buf.array[:] = rng.uniform(0, high, buf.array.shape).astype(buf.array.dtype)
    return buf


def assert_released(gpu: FakeGpu) -> None:
    assert gpu.used == 0, f"{gpu.used} bytes of device memory still held"
    assert gpu.pinned_bytes == 0, f"{gpu.pinned_bytes} bytes of pinned memory still held"
    assert gpu.retained == 0 and gpu.stack == [], "the primary context was not popped and released"


# -- outputs ---------------------------------------------------------------------------


@ALL_STYLES
@pytest.mark.parametrize("kind", ["raw", "decoded", "end2end", "fp16", "uint8", "int8"])
def test_outputs_equal_onnxruntime(kind: str, models: dict[str, Path], build: Build, gpu: FakeGpu,
                                   tmp_path: Path) -> None:
    engine = _engine(build, models[kind], tmp_path)
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models[kind]) as reference:
        assert [s.describe() for s in backend.outputs] == [s.describe() for s in reference.outputs]
        assert backend.input.dtype == reference.input.dtype
        for seed in range(3):
            image = _image(backend, seed)
            got, want = backend.infer(image), reference.infer(np.array(image.array))
            assert got.keys() == want.keys()
            for name in want:
                assert got[name].dtype == want[name].dtype
                np.testing.assert_array_equal(got[name], want[name])
    assert_released(gpu)


def test_one_frame_is_one_copy_in_one_run_copies_out_and_one_synchronize(
        models: dict[str, Path], build: Build, gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["end2end"], tmp_path)
    with TensorRTBackend(engine) as backend:
        image = _image(backend)
        before = len(gpu.calls)
        allocs = gpu.used
        backend.infer(image)
        frame = [c for c in gpu.calls[before:]]
        assert [c.name for c in frame] == ["memcpy_htod_async"] + ["memcpy_dtoh_async"] * 4 + ["synchronize"]
        assert all(c.pinned for c in frame if c.name.startswith("memcpy")), "a copy used pageable memory"
        backend.infer(image)
        assert gpu.used == allocs, "buffers were allocated per frame"


def test_outputs_belong_to_the_caller(models: dict[str, Path], build: Build, gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    with TensorRTBackend(engine) as backend:
        first = backend.infer(_image(backend, 1))["output"]
        kept = first.copy()
        backend.infer(_image(backend, 2))
        np.testing.assert_array_equal(first, kept)
        assert not gpu.is_pinned(first)


def test_an_ordinary_array_is_staged_through_pinned_memory(models: dict[str, Path], build: Build,
                                                         gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models["raw"]) as reference:
        image = np.random.default_rng(3).uniform(0, 255, (1, 3, 64, 96)).astype(np.float64)
        got = backend.infer(image)  # float64, pageable: copied into the pinned input
        assert gpu.calls[[c.name for c in gpu.calls].index("memcpy_htod_async")].pinned
        np.testing.assert_array_equal(got["output"], reference.infer(image.astype(np.float32))["output"])
        with pytest.raises(InputError, match="fixed 64x96 input; it cannot run at 32x32"):
            backend.infer(np.zeros((1, 3, 32, 32), np.float32))
        with pytest.raises(InputError, match=r"image of shape \[64, 96, 3\]; the engine takes \[1, 3, 64, 96\]"):
            backend.infer(np.zeros((64, 96, 3), np.float32))


def test_fp16_and_uint8_inputs_get_buffers_of_their_own_type(models: dict[str, Path], build: Build,
                                                            tmp_path: Path) -> None:
    image = np.random.default_rng(4).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    with TensorRTBackend(_engine(build, models["fp16"], tmp_path)) as backend, \
            OnnxRuntimeBackend(models["fp16"]) as reference:
        assert backend.allocate_input().array.dtype == np.float16
        assert backend.precision.startswith("float16")
        got = backend.infer(image)  # float32 casts safely into the float16 input
        np.testing.assert_array_equal(got["output"], reference.infer(image.astype(np.float16))["output"])
    with TensorRTBackend(_engine(build, models["uint8"], tmp_path)) as backend:
        assert backend.allocate_input().array.dtype == np.uint8
        with pytest.raises(InputError, match="got a float32 image; the engine's input is uint8"):
            backend.infer(image)


def test_allocate_input_reuses_buffers_the_caller_dropped(models: dict[str, Path], build: Build,
                                                          gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    with TensorRTBackend(engine) as backend:
        pool = [backend.allocate_input() for _ in range(4)]
        pinned = gpu.pinned_bytes
        assert len({b.array.ctypes.data for b in pool}) == 4
        del pool
        again = [backend.allocate_input() for _ in range(4)]
        assert gpu.pinned_bytes == pinned
        assert len({b.array.ctypes.data for b in again}) == 4


# -- dynamic shapes --------------------------------------------------------------------


def test_dynamic_engine_runs_at_the_profile_opt_size_or_the_one_asked(
        models: dict[str, Path], build: Build, gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["dynamic"], tmp_path, "--input-size", "64", "96")
    with TensorRTBackend(engine) as backend:
        assert backend.input_hw == (64, 96)
        assert backend.outputs[0].shape == (1, 126, 7)  # resolved for the chosen size
    with pytest.raises(InputError, match="cannot run at 128x128: its profile allows 64x96 to 64x96"):
        TensorRTBackend(engine, input_size=(128, 128))
    assert_released(gpu)


def test_dynamic_engine_with_a_range_reallocates_only_when_the_shape_changes(
        models: dict[str, Path], gpu: FakeGpu, trt: Any, tmp_path: Path) -> None:
    engine = tmp_path / "range.engine"
    header = {"profile": {"images": [[1, 3, 32, 32], [1, 3, 64, 96], [1, 3, 128, 128]]}}
    plan = fake_plan(header, models["dynamic"], STYLES["10"], Device(gpu))
    engine.write_bytes(plan)
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models["dynamic"], (64, 64)) as reference:
        assert backend.input_hw == (64, 96)  # the profile's opt
        mallocs = lambda: sum(1 for a in gpu.allocations)  # noqa: E731
        small = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 64)).astype(np.float32)
        got = backend.infer(small)
        assert backend.input_hw == (64, 64) and got["output"].shape == (1, 84, 7)
        np.testing.assert_array_equal(got["output"], reference.infer(small)["output"])
        held = mallocs()
        backend.infer(small)
        assert mallocs() == held, "buffers were reallocated without a shape change"
        with pytest.raises(InputError, match="its profile allows 32x32 to 128x128"):
            backend.infer(np.zeros((1, 3, 256, 256), np.float32))
    assert_released(gpu)


# -- the rest of trt_viewer ------------------------------------------------------------


def test_run_uses_the_backend_unchanged(models: dict[str, Path], build: Build, gpu: FakeGpu,
                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:

    import cv2


    video = tmp_path / "squares.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (96, 64))
    for i in range(8):  # a blue+green square on stride-8 cell (i, 2): class 0 there
        writer.write(modelgen.square_image((64, 96), (i, 2, 8)))
    writer.release()
    engine = _engine(build, models["raw"], tmp_path)
    results = {}
    for model in (engine, models["raw"]):
        out = tmp_path / f"{model.suffix[1:]}.jsonl"
        code, stdout, err = run_cli(["run", "--model", str(model), "--source", str(video), "--detections", str(out),
                                     "--json-summary", "--quiet"], capsys)
        assert code == 0, err
        summary = json.loads(stdout.strip().splitlines()[-1])
        results[summary["backend"]] = [json.loads(line)["detections"] for line in out.read_text().splitlines()]
    assert results["tensorrt"] == results["onnxruntime"]
    assert sum(len(d) for d in results["tensorrt"]) >= 8  # one square per frame was found
    assert_released(gpu)


def test_open_backend_routes_engines_here(models: dict[str, Path], build: Build, tmp_path: Path) -> None:
    for suffix in (".engine", ".plan", ".trt"):
        engine = build(models["raw"], tmp_path / f"m{suffix}")
        with open_backend(engine) as backend:
            assert backend.name == "tensorrt"


def test_ultralytics_metadata_prefix_gives_names_and_size(models: dict[str, Path], build: Build,
                                                          tmp_path: Path) -> None:
    plain = _engine(build, models["dynamic"], tmp_path, "--input-size", "64", "96")
    meta = {"task": "detect", "imgsz": [64, 96], "names": {"0": "apple", "1": "pear"}, "stride": 32}
    header = json.dumps(meta).encode()
    prefixed = tmp_path / "ultra.engine"
    prefixed.write_bytes(len(header).to_bytes(4, "little") + header + plain.read_bytes())
    with TensorRTBackend(prefixed) as backend:
        assert json.loads(backend.metadata["names"]) == ["apple", "pear"]
        assert backend.metadata["task"] == "detect"
        assert Detector(backend).names == ["apple", "pear"]
    literal = {"imgsz": 64, "names": "{0: 'person', 1: 'bicycle'}"}
    header = json.dumps(literal).encode()
    prefixed.write_bytes(len(header).to_bytes(4, "little") + header + plain.read_bytes())
    with pytest.raises(InputError, match="cannot run at 64x64"):  # imgsz 64 is outside the profile,
        TensorRTBackend(prefixed, input_size=(64, 64))  # and asking for it is refused
    with TensorRTBackend(prefixed) as backend:  # while a stated size that does not fit is ignored
        assert backend.input_hw == (64, 96)
        assert Detector(backend).names == ["person", "bicycle"]


def test_tensorrt_messages_go_to_python_logging(models: dict[str, Path], build: Build, gpu: FakeGpu,
                                                trt: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    gpu.name = "Another Fake GPU"  # same compute capability, another model of card
    trt_other = make_tensorrt(STYLES["10"], Device(gpu, gpu.name, "8.6"))
    sys.modules["tensorrt"] = trt_other
    with caplog.at_level(logging.WARNING, logger="trt_viewer.tensorrt"):
        TensorRTBackend(engine).close()
    record = next(r for r in caplog.records if r.name == "trt_viewer.tensorrt")
    assert record.levelno == logging.WARNING and "different models of devices" in record.getMessage()


def test_layoutless_outputs_are_refused_by_the_detector(build: Build, tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["features"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "features.onnx"
    onnx.save(model, str(path))
    with TensorRTBackend(build(path, tmp_path / "features.engine")) as backend, \
            pytest.raises(InputError, match="match no YOLOX layout"):
        Detector(backend)


# -- threads ---------------------------------------------------------------------------


def test_create_use_and_close_inside_a_qthread(models: dict[str, Path], build: Build, gpu: FakeGpu,
                                              tmp_path: Path) -> None:
    from PySide6.QtCore import QCoreApplication, QThread

    QCoreApplication.instance() or QCoreApplication([])
    engine = _engine(build, models["raw"], tmp_path)
    seen: dict[str, Any] = {}

    class Worker(QThread):
        def run(self) -> None:
            try:
                me = threading.get_ident()
                backend = TensorRTBackend(engine)
                seen["outputs"] = backend.infer(_image(backend))["output"].shape
                backend.close()
                seen["threads"] = {c.thread for c in gpu.calls if c.name in ("push", "pop", "retain", "detach")}
                seen["me"] = me
            except BaseException as exc:  # reported to the test's thread
                seen["error"] = exc

    before = len(gpu.calls)
    worker = Worker()
    worker.start()
    assert worker.wait(30_000)
    assert "error" not in seen, seen.get("error")
    assert seen["outputs"] == (1, 126, 7)
    assert seen["threads"] == {seen["me"]} and seen["me"] != threading.get_ident()
    assert [c.name for c in gpu.calls[before:] if c.name in ("retain", "push", "pop", "detach")] == [
        "retain", "push", "pop", "detach"]
    assert_released(gpu)


def test_use_from_another_thread_is_refused_with_one_line(models: dict[str, Path], build: Build,
                                                         gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    backend = TensorRTBackend(engine)
    image = _image(backend)
    errors: list[BaseException] = []
    t = threading.Thread(target=lambda: errors.extend(_catch(lambda: backend.infer(image))), name="gui")
    t.start()
    t.join()
    assert isinstance(errors[0], RunError) and "one thread" in str(errors[0]) and "'gui'" in str(errors[0])
    backend.close()
    assert_released(gpu)
    with pytest.raises(RunError, match="closed"):
        backend.infer(image)
    backend.close()  # twice is harmless


def _catch(fn: Callable[[], object]) -> list[BaseException]:
    try:
        fn()
    except BaseException as exc:
        return [exc]
    return []


# -- bad input -------------------------------------------------------------------------


def test_missing_tensorrt_names_it_and_the_extra(monkeypatch: pytest.MonkeyPatch, gpu: FakeGpu,
                                                  tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails as when not installed
    with pytest.raises(InputError, match=r"TensorRT is not installed: pip install 'trt-viewer\[tensorrt\]'"):
        TensorRTBackend(engine)
    monkeypatch.delitem(sys.modules, "tensorrt")  # the real import: at most tensorrt-stubs is here
    stubs_only = r" \(only its type stubs are\)" if installed_stubs() else ""
    with pytest.raises(InputError, match=rf"TensorRT is not installed{stubs_only}: pip install"):
        TensorRTBackend(engine)


def test_missing_pycuda_names_it(monkeypatch: pytest.MonkeyPatch, trt: Any, tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"whatever")
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    with pytest.raises(InputError, match=r"pycuda is not installed: pip install 'trt-viewer\[tensorrt\]'"):
        TensorRTBackend(engine)


def test_no_driver_and_no_device(monkeypatch: pytest.MonkeyPatch, trt: Any, gpu: FakeGpu, tmp_path: Path) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"whatever")
    gpu.fail_init = "no CUDA-capable device is detected"
    with pytest.raises(InputError, match="no usable CUDA device: cuInit failed: no CUDA-capable device"):
        TensorRTBackend(engine)
    gpu.fail_init, gpu.devices = None, 0
    with pytest.raises(InputError, match="no CUDA device found"):
        TensorRTBackend(engine)

    class NoDriver:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "pycuda.driver":
                raise ImportError("libcuda.so.1: cannot open shared object file: No such file or directory")

    monkeypatch.delitem(sys.modules, "pycuda.driver")
    monkeypatch.setattr(sys, "meta_path", [NoDriver(), *sys.meta_path])
    with pytest.raises(InputError, match="no NVIDIA driver found: pycuda cannot load libcuda"):
        TensorRTBackend(engine)
    assert gpu.retained == 0


@ALL_STYLES
def test_not_an_engine(trt: Any, gpu: FakeGpu, tmp_path: Path, models: dict[str, Path]) -> None:
    for name, data in (("garbage.engine", b"\x00\x01garbage" * 10), ("onnx.engine", models["raw"].read_bytes())):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(InputError) as info:
            TensorRTBackend(path)
        message = str(info.value)
        assert message.startswith(f"{name} is not a TensorRT engine") and "magicTag" in message
        assert "\n" not in message
    empty = tmp_path / "empty.engine"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        TensorRTBackend(empty)
    assert_released(gpu)


def test_engine_from_another_version_or_gpu_shows_tensorrts_reason(
        trt: Any, gpu: FakeGpu, tmp_path: Path, models: dict[str, Path]) -> None:
    cases = {
        "old.engine": ({"version": "8.6.1.6"}, "built by another TensorRT version",
                       "Serialized Engine Version: 8.6.1.6"),
        "gpu.engine": ({"compute": "9.0"}, "built for another GPU", "expecting compute 8.6 got compute 9.0"),
    }
    for name, (change, what, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(fake_plan(change, models["raw"], STYLES["10"], Device(gpu)))
        with pytest.raises(InputError) as info:
            TensorRTBackend(path)
        assert what in str(info.value) and reason in str(info.value)
    assert_released(gpu)


@pytest.mark.parametrize("stage", ["weights", "activations", "buffers"])
def test_out_of_gpu_memory_is_one_line_and_gives_memory_back(stage: str, models: dict[str, Path],
                                                            build: Build, gpu: FakeGpu, tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    weights = len(engine.read_bytes())
    gpu.memory = {"weights": weights // 2, "activations": weights + 1000, "buffers": weights + (1 << 20) + 100}[stage]
    with pytest.raises(RunError) as info:
        TensorRTBackend(engine)
    message = str(info.value)
    assert "out of GPU memory" in message or "OutOfMemory" in message, message
    assert "\n" not in message
    assert_released(gpu)


def test_shapes_trt_viewer_cannot_run(gpu: FakeGpu, trt: Any, tmp_path: Path, models: dict[str, Path]) -> None:
    static4 = tmp_path / "batch4.engine"
    io = [{"name": "images", "input": True, "shape": [4, 3, 64, 96], "dtype": "FLOAT"},
          {"name": "output", "input": False, "shape": [4, 126, 7], "dtype": "FLOAT"}]
    static4.write_bytes(fake_plan({"io": io}, models["raw"], STYLES["10"], Device(gpu)))
    with pytest.raises(InputError, match="fixed batch of 4"):
        TensorRTBackend(static4)
    two = tmp_path / "two.engine"
    io2 = [{"name": "a", "input": True, "shape": [1, 3, 8, 8], "dtype": "FLOAT"},
           {"name": "b", "input": True, "shape": [1, 3, 8, 8], "dtype": "FLOAT"},
           {"name": "output", "input": False, "shape": [1, 126, 7], "dtype": "FLOAT"}]
    two.write_bytes(fake_plan({"io": io2}, models["raw"], STYLES["10"], Device(gpu)))
    with pytest.raises(InputError, match="has 2 inputs"):
        TensorRTBackend(two)
    bf16 = tmp_path / "bf16.engine"
    io3 = [{"name": "images", "input": True, "shape": [1, 3, 64, 96], "dtype": "BF16"},
           {"name": "output", "input": False, "shape": [1, 126, 7], "dtype": "FLOAT"}]
    bf16.write_bytes(fake_plan({"io": io3}, models["raw"], STYLES["10"], Device(gpu)))
    with pytest.raises(InputError, match="TensorRT type BF16"):
        TensorRTBackend(bf16)
    assert_released(gpu)


def test_fixed_input_refuses_another_size(models: dict[str, Path], build: Build, gpu: FakeGpu,
                                          tmp_path: Path) -> None:
    engine = _engine(build, models["raw"], tmp_path)
    with pytest.raises(InputError, match="fixed 64x96 input; it cannot run at 640x640"):
        TensorRTBackend(engine, input_size=(640, 640))
    assert_released(gpu)
