"""`trt-viewer inspect`: engines through the TensorRT double, ONNX models without TensorRT."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import modelgen
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, Device, fake_plan
from fakes.fixtures import run_cli


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inspect")
    return {
        "coco": modelgen.yolox_model(d / "coco.onnx", num_classes=80, size=(64, 64)),
        "end2end": modelgen.yolox_model(d / "end2end.onnx", layout="end2end"),
        "dynamic": modelgen.yolox_model(d / "dynamic.onnx", dynamic=True, metadata={"names": "a,b"}),
        "plugin": modelgen.trt_plugin_model(d / "plugin.onnx"),
    }


def inspect(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run_cli(["inspect", *argv], capsys)


def test_onnx_needs_no_tensorrt(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code, out, err = inspect([str(models["coco"])], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{models['coco']}: onnx, ")
    assert "  opset:          13" in lines
    assert "  TensorRT:       not installed (not needed to inspect ONNX)" in lines
    assert "    images  [1, 3, 64, 64]  float32" in lines
    assert "    output  [1, 84, 85]  float32" in lines
    assert "  input size:     64x64" in lines
    assert "  layout:         raw or decoded (settled from the first frame's values)" in lines
    assert any(line.startswith("  classes:        80 (COCO): person, bicycle, car") for line in lines)


def test_onnx_with_a_tensorrt_plugin_and_dynamic_sizes(models: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = inspect([str(models["plugin"]), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["layout"] == "end2end"  # ONNX Runtime cannot open it; the onnx package can
    assert [o["name"] for o in report["outputs"]] == ["num_dets", "det_boxes", "det_scores", "det_classes"]
    code, out, err = inspect([str(models["dynamic"]), "--json", "--input-size", "320", "320"], capsys)
    report = json.loads(out)
    assert report["inputs"][0]["shape"] == [1, 3, "height", "width"]
    assert report["input_size"] == [320, 320]
    assert report["classes"] == {"count": 2, "source": "model metadata 'names'", "names": ["a", "b"]}


def test_onnx_without_the_onnx_package_asks_onnxruntime(models: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    code, out, _ = inspect([str(models["end2end"]), "--json"], capsys)
    assert code == 0 and json.loads(out)["layout"] == "end2end"
    code, _, err = inspect([str(models["plugin"])], capsys)
    assert code == 2 and "TensorRT plugin op (EfficientNMS_TRT)" in err


def test_engine_report(models: dict[str, Path], build: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = build(models["dynamic"], tmp_path / "dyn.engine", "--input-size", "64", "96")
    code, out, err = inspect([str(engine)], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"{engine}: tensorrt engine, ")
    assert "  TensorRT:       10.13.0.35" in lines
    assert "  device memory:  1.0 MiB (activations per context)" in lines
    assert "    images  [1, 3, ?, ?]  float32" in lines
    assert "      profile 0: min [1, 3, 64, 96]  opt [1, 3, 64, 96]  max [1, 3, 64, 96]" in lines
    assert "    output  [1, ?, 7]  float32  ([1, 126, 7] at the input size)" in lines
    assert "  input size:     64x96" in lines
    assert "  layout:         raw or decoded (settled from the first frame's values)" in lines
    assert f"  classes:        2 ({tmp_path / 'dyn.names'}): a, b" in lines  # the sidecar build wrote


@pytest.mark.parametrize("trt_style", ["11"], indirect=True)
def test_engine_report_json(models: dict[str, Path], build: Any, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    engine = build(models["end2end"], tmp_path / "e2e.engine")
    code, out, err = inspect([str(engine), "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["tensorrt"] == "11.2.0.12" and report["layout"] == "end2end"
    assert report["device_memory_bytes"] == 1 << 20 and report["profiles"] == 1
    assert [t["dtype"] for t in report["outputs"]] == ["int32", "float32", "float32", "int32"]


def test_engine_errors_are_one_line(models: dict[str, Path], trt: Any, gpu: FakeGpu, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "x.engine"
    garbage.write_bytes(b"definitely not a plan")
    code, _, err = inspect([str(garbage)], capsys)
    assert code == 2 and err.count("\n") == 1 and "x.engine is not a TensorRT engine" in err
    other = tmp_path / "old.engine"
    other.write_bytes(fake_plan({"version": "10.0.1.6"}, models["end2end"], STYLES["11"], Device(gpu)))
    code, _, err = inspect([str(other)], capsys)
    assert code == 2 and "built by another TensorRT version" in err
    code, _, err = inspect([str(tmp_path / "missing.onnx")], capsys)
    assert code == 2 and "does not exist" in err
    unknown = tmp_path / "model.bin"
    unknown.write_bytes(b"x")
    code, _, err = inspect([str(unknown)], capsys)
    assert code == 2 and "unknown model type" in err


def test_engine_without_tensorrt_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"plan")
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code, _, err = inspect([str(engine)], capsys)
    assert (code, err) == (2, "trt-viewer: error: TensorRT is not installed: pip install 'trt-viewer[tensorrt]'\n")


def test_an_end2end_onnx_gets_its_class_count_from_the_nms_node(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    model = modelgen.nms_model(tmp_path / "nms.onnx")
    code, out, err = inspect([str(model)], capsys)
    assert code == 0, err
    assert any(line.startswith("  classes:        80 (COCO): person, bicycle, car") for line in out.splitlines()), out
    assert "class names are unknown" not in err
