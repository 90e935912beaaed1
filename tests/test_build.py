"""`trt-viewer build` on the TensorRT double, in the styles of TensorRT 8.6, 10 and 11."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import cv2
import modelgen
import numpy as np
import onnx
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, plan_onnx, read_plan_header
from fakes.fixtures import run_cli
from onnx import TensorProto, helper

from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.backends.trt.builder import _cancel_on_interrupt
from trt_viewer.backends.trt.progress import BuildProgress
from trt_viewer.run.detector import Detector

ALL_STYLES = pytest.mark.parametrize("trt_style", sorted(STYLES), indirect=True)
STYLE = pytest.mark.parametrize("trt_style", ["10", "11"], indirect=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("build")
    return {
        "raw": modelgen.yolox_model(d / "raw.onnx"),
        "dynamic": _dynamic_batch(modelgen.yolox_model(d / "dynamic.onnx", dynamic=True)),
        "coco": modelgen.yolox_model(d / "coco.onnx", num_classes=80),
        "named": modelgen.yolox_model(d / "named.onnx", metadata={"names": '["apple", "pear"]'}),
        "legacy": modelgen.yolox_model(d / "legacy.onnx", metadata={"preprocess": "legacy"}),
        "qdq": _qdq_model(d / "qdq.onnx"),
        "unsupported": _unsupported_model(d / "hardswish.onnx"),
    }


def _qdq_model(path: Path) -> Path:
    """The raw test model with its input quantized (explicit quantization, Q/DQ nodes)."""
    modelgen.yolox_model(path)
    model = onnx.load(str(path))
    scale = helper.make_tensor("q_scale", TensorProto.FLOAT, [], [1.0])
    zero = helper.make_tensor("q_zero", TensorProto.UINT8, [], [0])
    model.graph.initializer.extend([scale, zero])
    nodes = [
        helper.make_node("QuantizeLinear", ["images", "q_scale", "q_zero"], ["images_q"]),
        helper.make_node("DequantizeLinear", ["images_q", "q_scale", "q_zero"], ["images_dq"]),
    ]
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name == "images":
                node.input[i] = "images_dq"
    old = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes + old)
    onnx.save(model, str(path))
    return path


def _dynamic_batch(path: Path) -> Path:
    """The dynamic test model with its batch dimension dynamic too, as exports with
    dynamic axes declare it (the graph itself computes batch 1, all trt-viewer runs)."""
    model = onnx.load(str(path))
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.Clear()
    dim.dim_param = "batch"
    onnx.save(model, str(path))
    return path


def _unsupported_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 96])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 64, 96])
    graph = helper.make_graph([helper.make_node("HardSwish", ["images"], ["output"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _calibration_images(folder: Path, n: int = 3) -> Path:
    folder.mkdir()
    for i in range(n):
        cv2.imwrite(str(folder / f"{i}.png"), modelgen.square_image((120, 160), (i, 1, 16)))
    return folder


def build(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, _, err = run_cli(["build", *argv], capsys)
    return code, err


# -- precision -------------------------------------------------------------------------


@STYLE
def test_fp16_uses_the_flag_where_it_exists_else_converts_the_model(
        trt_style: str, trt: Any, models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "fp16.engine"
    code, err = build([str(models["raw"]), "-o", str(engine), "--fp16"], capsys)
    assert code == 0, err
    header = read_plan_header(engine)
    built = plan_onnx(engine)
    half = [i.name for i in built.graph.initializer if i.data_type == TensorProto.FLOAT16]
    if trt_style == "10":
        assert header["fp16_flag"] and not half and "converting" not in err
    else:
        assert not header["fp16_flag"] and half and "has no FP16 builder flag" in err
        assert [v.type.tensor_type.elem_type for v in built.graph.input] == [TensorProto.FLOAT]
        assert [v.type.tensor_type.elem_type for v in built.graph.output] == [TensorProto.FLOAT]
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(models["raw"]) as reference:
        image = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
        got, want = backend.infer(image)["output"], reference.infer(image)["output"]
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=2e-3)  # FP16 rounding where converted


@ALL_STYLES
def test_int8_calibrates_where_tensorrt_can_and_refuses_in_one_line_where_not(
        trt_style: str, trt: Any, models: dict[str, Path], gpu: FakeGpu, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    images = _calibration_images(tmp_path / "calib")
    engine = tmp_path / "int8.engine"
    code, err = build([str(models["raw"]), "-o", str(engine), "--int8", "--calib-images", str(images)], capsys)
    if trt_style == "11":
        assert code == 2 and not engine.exists()
        assert err.strip().splitlines()[-1] == (
            "trt-viewer: error: TensorRT 11.2.0.12 cannot calibrate INT8: it builds INT8 only from models "
            "quantized with Q/DQ nodes (e.g. by NVIDIA ModelOpt); quantize the model, or use TensorRT 10")
        return
    assert code == 0, err
    header = read_plan_header(engine)
    assert header["int8_flag"] and header["calibration_images"] == 3
    assert "calibration image 3/3" in err
    assert gpu.used == 0 and gpu.pinned_bytes == 0 and gpu.retained == 0  # calibration buffers freed


@STYLE
def test_a_qdq_model_builds_int8_without_calibration(trt_style: str, trt: Any, models: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "qdq.engine"
    code, err = build([str(models["qdq"]), "-o", str(engine), "--int8"], capsys)
    assert code == 0, err
    assert read_plan_header(engine)["int8_flag"] == (trt_style == "10")  # 11 has no flag: types rule
    code, err = build([str(models["qdq"]), "-o", str(engine), "--int8", "--calib-images", str(tmp_path)], capsys)
    assert code == 2 and "already quantized (Q/DQ nodes): drop --calib-images" in err


def test_int8_needs_images_or_qdq(models: dict[str, Path], trt: Any, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "m.engine")
    code, err = build([str(models["raw"]), "-o", out, "--int8"], capsys)
    assert code == 2 and "--int8 needs --calib-images DIR" in err
    code, err = build([str(models["raw"]), "-o", out, "--calib-images", str(tmp_path)], capsys)
    assert code == 2 and "--calib-images is for --int8" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = build([str(models["raw"]), "-o", out, "--int8", "--calib-images", str(empty)], capsys)
    assert code == 2 and "holds no images" in err


# -- shapes ----------------------------------------------------------------------------


def test_dynamic_model_profiles(models: dict[str, Path], trt: Any, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "dyn.engine"
    code, err = build([str(models["dynamic"]), "-o", str(engine)], capsys)
    assert code == 0, err
    assert "built for 640x640 (choose with --input-size H W)" in err
    assert read_plan_header(engine)["profile"] == {"images": [[1, 3, 640, 640]] * 3}
    code, err = build([str(models["dynamic"]), "-o", str(engine), "--input-size", "320", "416", "--max-batch", "4"],
                      capsys)
    assert code == 0, err
    assert read_plan_header(engine)["profile"] == {
        "images": [[1, 3, 320, 416], [1, 3, 320, 416], [4, 3, 320, 416]]}
    with TensorRTBackend(engine) as backend:
        assert backend.input_hw == (320, 416)
        assert backend.outputs[0].shape == (1, 40 * 52 + 20 * 26 + 10 * 13, 7)


def test_shape_options_a_model_cannot_take(models: dict[str, Path], trt: Any, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "m.engine")
    cases = [
        (["--max-batch", "4"], "fixed batch of 1; --min/--opt/--max-batch need a model exported with a dynamic batch"),
        (["--input-size", "640", "640"], "fixed 64x96 input; --input-size 640 640 needs a model exported"),
    ]
    for flags, message in cases:
        code, err = build([str(models["raw"]), "-o", out, *flags], capsys)
        assert code == 2 and message in err, err
    code, err = build([str(models["dynamic"]), "-o", out, "--min-batch", "2", "--max-batch", "4"], capsys)
    assert code == 2 and "the batch range must include 1" in err


# -- what travels with the engine ------------------------------------------------------


def test_class_names_travel_in_a_sidecar(models: dict[str, Path], trt: Any, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    named = tmp_path / "named.engine"
    code, err = build([str(models["named"]), "-o", str(named)], capsys)
    assert code == 0 and "class names (model metadata 'names')" in err
    assert (tmp_path / "named.names").read_text() == "apple\npear\n"
    with TensorRTBackend(named) as backend:
        assert Detector(backend).names == ["apple", "pear"]
    names = tmp_path / "mine.txt"
    names.write_text("cat\ndog\n")
    code, err = build([str(models["named"]), "-o", str(named), "--names", str(names)], capsys)
    assert (tmp_path / "named.names").read_text() == "cat\ndog\n"
    coco = tmp_path / "coco.engine"
    assert build([str(models["coco"]), "-o", str(coco)], capsys)[0] == 0
    assert (tmp_path / "coco.names").read_text().splitlines()[:2] == ["person", "bicycle"]
    plain = tmp_path / "raw.engine"
    assert build([str(models["raw"]), "-o", str(plain)], capsys)[0] == 0
    assert not (tmp_path / "raw.names").exists()  # nothing known: no file of made-up names


def test_embedded_metadata_round_trips(models: dict[str, Path], trt: Any, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "legacy.engine"
    code, err = build([str(models["legacy"]), "-o", str(engine)], capsys)
    assert code == 0 and "run it with --preprocess legacy, or build with --embed-metadata" in err
    code, err = build([str(models["legacy"]), "-o", str(engine), "--embed-metadata", "--names",
                       str(_write(tmp_path / "n.txt", "a\nb\n"))], capsys)
    assert code == 0, err
    (tmp_path / "legacy.names").unlink()  # the prefix alone must carry them
    with TensorRTBackend(engine) as backend:
        assert backend.metadata["preprocess"] == "legacy"
        assert json.loads(backend.metadata["imgsz"]) == [64, 96]
        detector = Detector(backend)
        assert detector.names == ["a", "b"] and detector.preset.name == "legacy"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_timing_cache_is_reused_and_updated(models: dict[str, Path], trt: Any, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "timing.cache"
    for expected in (1, 2):
        code, err = build([str(models["raw"]), "-o", str(tmp_path / "m.engine"), "--timing-cache", str(cache)], capsys)
        assert code == 0, err
        assert json.loads(cache.read_bytes()[len(b"FAKECACHE"):]) == {"builds": expected}
    cache.write_bytes(b"not a cache")
    code, err = build([str(models["raw"]), "-o", str(tmp_path / "m.engine"), "--timing-cache", str(cache)], capsys)
    assert code == 2 and "not one this TensorRT can use" in err


# -- progress --------------------------------------------------------------------------


@ALL_STYLES
def test_progress_is_shown_where_tensorrt_reports_it(trt_style: str, trt: Any, models: dict[str, Path], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, err = build([str(models["raw"]), "-o", str(tmp_path / "m.engine")], capsys)
    assert code == 0, err
    if trt_style == "8.6":
        assert "TensorRT 8.6.1.6 reports no progress" in err and "Building engine" not in err
    else:
        assert "  Building engine..." in err
    assert err.splitlines()[-1].startswith(f"wrote {tmp_path / 'm.engine'} (")


def test_a_tty_gets_one_redrawn_line() -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    progress = BuildProgress(out, min_interval=0)
    progress.phase_start("Building engine", None, 2)
    progress.phase_start("Tactic selection", "Building engine", 10)
    assert progress.step_complete("Tactic selection", 4)
    assert "Building engine 0/2 > Tactic selection 5/10" in out.getvalue().split("\r")[-1]
    assert "\n" not in out.getvalue()
    progress.phase_finish("Tactic selection")
    progress.finish()


def test_ctrl_c_asks_tensorrt_to_stop(models: dict[str, Path], trt: Any, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    progress = BuildProgress(sys.stderr)
    with _cancel_on_interrupt(progress, True):
        signal.raise_signal(signal.SIGINT)  # first Ctrl+C: a polite request
        assert progress.cancelled.is_set()
        assert not progress.step_complete("Building engine", 0)  # what TensorRT is told
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)  # second: now
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    from trt_viewer.backends.trt.builder import BuildOptions, build_engine
    from trt_viewer.errors import RunError

    progress = BuildProgress(sys.stderr)
    progress.cancelled.set()
    engine = tmp_path / "m.engine"
    with pytest.raises(RunError, match=r"^build cancelled$"):
        build_engine(BuildOptions(models["raw"], engine), progress)
    assert not engine.exists()


# -- failures --------------------------------------------------------------------------


@ALL_STYLES
def test_unsupported_op_is_one_line_naming_the_node(models: dict[str, Path], trt: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "m.engine"
    code, err = build([str(models["unsupported"]), "-o", str(engine)], capsys)
    assert code == 2 and not engine.exists()
    assert err.strip().splitlines()[-1] == (
        "trt-viewer: error: TensorRT cannot parse hardswish.onnx: node 0 (HardSwish): "
        "No importer registered for op: HardSwish")


def test_a_failed_build_reports_tensorrts_reason_and_writes_nothing(
        models: dict[str, Path], trt: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "m.engine"
    code, err = build([str(models["raw"]), "-o", str(engine), "--workspace", "0.0001"], capsys)
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("trt-viewer: error: TensorRT could not build the engine: Error Code 10")
    assert "Could not find any implementation for node /backbone/Conv" in last
    assert "TensorRT error" not in err  # the reason is said once, in the error line
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_and_missing_tensorrt(models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        ([str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "m.engine")], "does not exist"),
        ([str(models["raw"]), "-o", str(tmp_path / "m.onnx")], "must end in .engine, .plan, .trt"),
        ([str(models["raw"]), "-o", str(tmp_path / "no" / "m.engine")], "does not exist"),
    ]
    for argv, message in cases:
        code, err = build(argv, capsys)
        assert code == 2 and message in err, err
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code, err = build([str(models["raw"]), "-o", str(tmp_path / "m.engine")], capsys)
    assert code == 2
    assert err.strip() == "trt-viewer: error: TensorRT is not installed: pip install 'trt-viewer[tensorrt]'"


@pytest.mark.parametrize("trt_style", ["11"], indirect=True)
def test_fp16_conversion_without_onnx_says_so(models: dict[str, Path], trt: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, err = build([str(models["raw"]), "-o", str(tmp_path / "m.engine"), "--fp16"], capsys)
    assert code == 2 and "converting the model to FP16 needs the onnx package: pip install onnx" in err
