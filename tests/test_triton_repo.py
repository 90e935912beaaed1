"""`trt-viewer triton-repo`: the repository it writes for ONNX models and engines (the
TensorRT doubles), its config.pbtxt parsed with Triton's own model-config protobuf, and a
Python-backend repository served by the bundled tritonserver binary itself."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import onnx
import pytest
from fakes.fixtures import run_cli
from onnx import TensorProto, helper

text_format = pytest.importorskip("google.protobuf.text_format")
model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")


def parse_config(folder: Path) -> Any:
    config = model_config_pb2.ModelConfig()
    text_format.Parse((folder / "config.pbtxt").read_text(encoding="utf-8"), config)
    return config


def dims(tensor: Any) -> list[int]:
    return [int(d) for d in tensor.dims]


def parameters(config: Any) -> dict[str, str]:
    return {key: value.string_value for key, value in config.parameters.items()}


def batched_model(path: Path) -> Path:
    """A dynamic batch on every input and output: images [N, 3, 64, 96] -> means [N, 96, 3]
    (each 8x8 patch's mean colour), of ops the TensorRT double parses."""
    pool = helper.make_node("AveragePool", ["images"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8])
    flat = helper.make_node("Reshape", ["pooled", "shape"], ["flat"])
    means = helper.make_node("Transpose", ["flat"], ["means"], perm=[0, 2, 1])
    graph = helper.make_graph(
        [pool, flat, means], "batched",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 64, 96])],
        [helper.make_tensor_value_info("means", TensorProto.FLOAT, ["batch", 96, 3])],
        [onnx.numpy_helper.from_array(np.array([0, 3, -1], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def repo(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run_cli(["triton-repo", *argv], capsys)


def test_an_onnx_model_of_a_fixed_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = modelgen.yolox_model(tmp_path / "coco.onnx", num_classes=80, metadata={"preprocess": "legacy"})
    code, out, err = repo([str(model), "-o", str(tmp_path / "repo")], capsys)
    assert code == 0, err
    folder = tmp_path / "repo" / "coco"
    assert out.split() == [str(folder / "1" / "model.onnx"), str(folder / "config.pbtxt"), str(folder / "labels.txt")]
    assert err.startswith("trt-viewer: coco: no batching: images has a fixed first dimension")
    assert err.rstrip().endswith("80 class names (COCO)")
    assert (folder / "1" / "model.onnx").read_bytes() == model.read_bytes()
    config = parse_config(folder)
    assert config.name == "coco" and config.platform == "onnxruntime_onnx" and config.max_batch_size == 0
    assert not config.HasField("dynamic_batching")
    [image] = config.input
    assert (image.name, image.data_type, dims(image)) == ("images", model_config_pb2.TYPE_FP32, [1, 3, 64, 96])
    [output] = config.output
    assert (output.name, output.data_type, dims(output)) == ("output", model_config_pb2.TYPE_FP32, [1, 126, 85])
    [group] = config.instance_group
    assert (group.count, group.kind) == (1, model_config_pb2.ModelInstanceGroup.KIND_AUTO)
    params = parameters(config)
    assert params["preprocess"] == "legacy"
    names = json.loads(params["names"])
    assert len(names) == 80 and names[:3] == ["person", "bicycle", "car"]
    assert (folder / "labels.txt").read_text().splitlines() == names


def test_a_dynamic_batch_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = batched_model(tmp_path / "batched.onnx")
    names = tmp_path / "names.txt"
    names.write_text("blue\ngreen\nred\n")
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--name", "means", "--instances", "2",
                         "--kind", "gpu", "--names", str(names)], capsys)
    assert code == 0, err
    config = parse_config(tmp_path / "repo" / "means")
    assert config.max_batch_size == 8 and config.HasField("dynamic_batching")
    assert dims(config.input[0]) == [3, 64, 96] and dims(config.output[0]) == [96, 3]
    assert [(g.count, g.kind) for g in config.instance_group] == [(2, model_config_pb2.ModelInstanceGroup.KIND_GPU)]
    assert json.loads(parameters(config)["names"]) == ["blue", "green", "red"]
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--name", "means", "--max-batch-size", "4"],
                        capsys)
    assert code == 2 and "means exists; choose another --name, or --force to replace it" in err
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--name", "means", "--max-batch-size", "4",
                         "--force"], capsys)
    assert code == 0, err
    assert parse_config(tmp_path / "repo" / "means").max_batch_size == 4
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--name", "unbatched", "--max-batch-size", "0"],
                        capsys)
    config = parse_config(tmp_path / "repo" / "unbatched")
    assert config.max_batch_size == 0 and dims(config.input[0]) == [-1, 3, 64, 96]


def test_an_end_to_end_model_states_its_class_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = modelgen.nms_model(tmp_path / "nms.onnx")
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo")], capsys)
    assert code == 0, err
    config = parse_config(tmp_path / "repo" / "nms")
    params = parameters(config)
    assert int(params["num_classes"]) == len(json.loads(params["names"])) == 80


def test_an_engine_through_the_tensorrt_double(build: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    onnx_model = modelgen.yolox_model(tmp_path / "m.onnx", metadata={"names": "a,b"})
    engine = build(onnx_model, tmp_path / "m.engine", "--embed-metadata")
    code, _, err = repo([str(engine), "-o", str(tmp_path / "repo"), "--name", "yolox"], capsys)
    assert code == 0, err
    folder = tmp_path / "repo" / "yolox"
    config = parse_config(folder)
    assert config.platform == "tensorrt_plan" and config.max_batch_size == 0
    assert dims(config.input[0]) == [1, 3, 64, 96] and dims(config.output[0]) == [1, 126, 7]
    assert json.loads(parameters(config)["names"]) == ["a", "b"]
    plan = (folder / "1" / "model.plan").read_bytes()
    from trt_viewer.backends.trt.plan import read_engine_file

    assert plan == read_engine_file(engine).plan and plan != engine.read_bytes()  # the metadata prefix left out
    batched = build(batched_model(tmp_path / "b.onnx"), tmp_path / "b.engine", "--max-batch", "4")
    code, _, err = repo([str(batched), "-o", str(tmp_path / "repo")], capsys)
    assert code == 0, err
    config = parse_config(tmp_path / "repo" / "b")
    assert config.max_batch_size == 4 and config.HasField("dynamic_batching") and dims(config.input[0]) == [3, 64, 96]
    code, _, err = repo([str(batched), "-o", str(tmp_path / "repo"), "--name", "b8", "--max-batch-size", "8"], capsys)
    assert code == 2 and "the engine's optimisation profile allows batches of at most 4" in err
    code, _, err = repo([str(batched), "-o", str(tmp_path / "repo"), "--name", "b9", "--backend", "python"], capsys)
    assert code == 2 and "--backend python runs ONNX models only" in err


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = modelgen.yolox_model(tmp_path / "m.onnx")
    for argv, message in [
        ([str(tmp_path / "missing.onnx")], "does not exist"),
        ([str(model), "--max-batch-size", "4"], "--max-batch-size 4: images has a fixed first dimension"),
        ([str(model), "--name", "a/b"], "a model name is one folder name"),
    ]:
        code, _, err = repo([*argv, "-o", str(tmp_path / "repo")], capsys)
        assert code == 2 and err.count("\n") == 1 and message in err, err
    (tmp_path / "repo" / "other").mkdir(parents=True)
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--name", "other", "--force"], capsys)
    assert code == 2 and "holds no config.pbtxt; it is not replaced" in err


def test_a_python_backend_repository_serves_in_tritonserver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled tritonserver binary (Python backend only) loads what triton-repo wrote,
    and `trt-viewer run` on it gives what the model gives locally."""
    from test_triton import REFERENCE, real_files
    from triton_server import TritonServer, server_or_skip

    python = server_or_skip()
    model = modelgen.yolox_model(tmp_path / "raw.onnx", metadata={"names": "alpha,beta"})
    code, _, err = repo([str(model), "-o", str(tmp_path / "repo"), "--backend", "python"], capsys)
    assert code == 0, err
    config = parse_config(tmp_path / "repo" / "raw")
    assert config.backend == "python" and config.max_batch_size == 8  # model.py splits a batch
    data = real_files()
    if data is not None:
        code, _, err = repo([str(data / "models/yolox_nano.onnx"), "-o", str(tmp_path / "repo"), "--backend", "python",
                             "--name", "nano"], capsys)
        assert code == 0, err
    video = modelgen.write_video(tmp_path / "squares.avi", modelgen.moving_square_frames(12))
    with TritonServer([], repository=tmp_path / "repo", python=python) as server:
        remote, here = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
        code, _, err = run_cli(["run", "--model", f"{server.grpc_url}/raw", "--source", str(video), "--detections",
                                str(remote), "-q"], capsys)
        assert code == 0, err
        code, _, err = run_cli(["run", "--model", str(model), "--source", str(video), "--detections", str(here), "-q"],
                               capsys)
        assert code == 0, err
        a = [json.loads(line) for line in remote.read_text().splitlines()]
        b = [json.loads(line) for line in here.read_text().splitlines()]
        assert len(a) == 12 and [r["detections"] for r in a] == [r["detections"] for r in b]
        assert {d["label"] for r in a for d in r["detections"]} <= {"alpha", "beta"}
        if data is not None:
            code, out, err = run_cli(["run", "--model", f"{server.http_url}/nano", "--source",
                                      str(data / "media/dog.jpg"), "--detections", "-", "-q"], capsys)
            assert code == 0, err
            got = [(d["label"], d["score"]) for d in json.loads(out)["detections"]]
            assert [label for label, _ in got] == [label for label, *_ in REFERENCE]
            assert all(abs(score - ref[2]) <= 0.002 for (_, score), ref in zip(got, REFERENCE))
        left = server.stop()
    assert left == [], left
    assert not any(p.name.startswith("trt_viewer_") for p in Path("/dev/shm").iterdir() if str(os.getpid()) in p.name)
    assert np.all(np.isfinite([d["score"] for r in a for d in r["detections"]]))
