"""The ONNX FP16 conversion `trt-viewer build --fp16` uses where TensorRT has no FP16
flag (11): checked by running the converted models with ONNX Runtime, which refuses a
model whose types do not line up."""

from __future__ import annotations

import os
from pathlib import Path

import modelgen
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from trt_viewer.backends.trt.fp16 import convert_to_fp16
from trt_viewer.errors import InputError


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    onnx.checker.check_model(model)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    return list(_session(model).run(None, feed))


def _model(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
           inits: list[onnx.TensorProto], opset: int = 13) -> onnx.ModelProto:
    model = helper.make_model(helper.make_graph(nodes, "g", inputs, outputs, inits),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize("kind", ["raw", "decoded", "dynamic", "uint8"])
def test_yolox_shaped_models_keep_float32_io_and_their_values(kind: str, tmp_path: Path) -> None:
    kwargs = {"raw": {}, "decoded": {"layout": "decoded"}, "dynamic": {"dynamic": True},
              "uint8": {"input_dtype": TensorProto.UINT8}}[kind]
    original = onnx.load(str(modelgen.yolox_model(tmp_path / "m.onnx", **kwargs)))  # type: ignore[arg-type]
    converted = convert_to_fp16(original)
    assert [i.type.tensor_type.elem_type for i in converted.graph.input] == \
        [i.type.tensor_type.elem_type for i in original.graph.input]
    assert all(o.type.tensor_type.elem_type == TensorProto.FLOAT for o in converted.graph.output)
    floats = [i for i in converted.graph.initializer if i.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)]
    assert floats and all(i.data_type == TensorProto.FLOAT16 for i in floats)
    dtype = np.uint8 if kind == "uint8" else np.float32
    x = np.random.default_rng(0).uniform(0, 255, (1, 3, 64, 96)).astype(dtype)
    want, got = _run(original, {"images": x}), _run(converted, {"images": x})
    assert got[0].dtype == np.float32
    np.testing.assert_allclose(got[0], want[0], atol=2e-3)
    assert original.graph.initializer[0].data_type == TensorProto.FLOAT  # a copy, not in place


def test_resize_scales_stay_float32_even_when_shared_or_computed() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    nodes = [
        helper.make_node("Resize", ["x", "", "scales"], ["up"], mode="nearest"),
        # the same initializer also feeds ordinary arithmetic: it needs a float16 copy there
        helper.make_node("Mul", ["scales", "scales"], ["z"]),
        helper.make_node("Constant", [], ["half"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        helper.make_node("Add", ["scales", "half"], ["computed"]),  # computed scales: cast back
        helper.make_node("Resize", ["up", "", "computed"], ["up2"], mode="nearest"),
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(np.array([1.5], np.float32))),
        helper.make_node("Mul", ["up", "c"], ["y"]),
    ]
    up2 = helper.make_tensor_value_info("up2", TensorProto.FLOAT, [1, 1, 10, 10])
    model = _model(nodes, [x], [y, z, up2], [scales])
    converted = convert_to_fp16(model)
    kinds = {i.name: i.data_type for i in converted.graph.initializer}
    assert TensorProto.FLOAT in kinds.values() and TensorProto.FLOAT16 in kinds.values()
    feed = {"x": np.array([[[[1, 2], [3, 4]]]], np.float32)}
    want, got = _run(model, feed), _run(converted, feed)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-3)


def test_legacy_models_listing_weights_as_inputs() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    w_info = helper.make_tensor_value_info("w", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    w = numpy_helper.from_array(np.array([2, 3], np.float32), "w")
    model = _model([helper.make_node("Mul", ["x", "w"], ["y"])], [x, w_info], [y], [w])
    model.ir_version = 3
    converted = convert_to_fp16(model)
    assert [i.type.tensor_type.elem_type for i in converted.graph.input] == [TensorProto.FLOAT, TensorProto.FLOAT16]
    got = _run(converted, {"x": np.array([1, 1], np.float32)})
    np.testing.assert_array_equal(got[0], [2, 3])


def test_out_of_range_weights_saturate_instead_of_becoming_inf() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    big = numpy_helper.from_array(np.array([1e6], np.float32), "big")
    converted = convert_to_fp16(_model([helper.make_node("Min", ["x", "big"], ["y"])], [x], [y], [big]))
    got = _run(converted, {"x": np.array([1e9], np.float32)})
    assert got[0][0] == np.finfo(np.float16).max


def test_models_it_cannot_convert_are_refused_in_one_line(tmp_path: Path) -> None:
    qdq = onnx.load(str(modelgen.yolox_model(tmp_path / "m.onnx")))
    qdq.graph.node[0].op_type = "DequantizeLinear"
    with pytest.raises(InputError, match=r"quantized .* build it without --fp16"):
        convert_to_fp16(qdq)
    loop = onnx.load(str(tmp_path / "m.onnx"))
    loop.graph.node[0].op_type = "If"
    with pytest.raises(InputError, match="control flow"):
        convert_to_fp16(loop)


def test_real_yolox_nano_gives_the_same_detections(tmp_path: Path) -> None:
    root = os.environ.get("TRT_VIEWER_TEST_DATA")
    model_path = Path(root or "") / "models" / "yolox_nano.onnx"
    image_path = Path(root or "") / "media" / "dog.jpg"
    if not root or not model_path.is_file() or not image_path.is_file():
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real test data")
    from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
    from trt_viewer.core.sources import read_image
    from trt_viewer.run.detector import Detector

    fp16_path = tmp_path / "nano16.onnx"
    onnx.save(convert_to_fp16(onnx.load(str(model_path))), str(fp16_path))
    image = read_image(image_path)
    found = []
    for path in (model_path, fp16_path):
        with OnnxRuntimeBackend(path) as backend:
            found.append(Detector(backend).detect(image))
    fp32, fp16 = found
    assert len(fp32) == len(fp16) == 4
    np.testing.assert_array_equal(fp16.class_ids, fp32.class_ids)
    np.testing.assert_allclose(fp16.boxes, fp32.boxes, atol=2.0)
    np.testing.assert_allclose(fp16.scores, fp32.scores, atol=0.01)
