"""ONNX float32 to float16, inputs and outputs kept float32.

TensorRT 11 builds strongly typed networks only: no FP16 builder flag, the precision is
the model's own. So `trt-viewer build --fp16` converts the model first: float weights and
constants become float16, a Cast after each float input and before each float output keeps
the engine's I/O float32 (the letterbox and decoding stay as they are), and the inputs
ONNX defines as float32-only (Resize scales, NonMaxSuppression's) get a Cast back to float32.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trt_viewer.errors import InputError

if TYPE_CHECKING:
    import onnx

FP16_MAX = float(np.finfo(np.float16).max)
# Inputs that ONNX types as float32 whatever the data's type: (op type, input index).
FLOAT32_ONLY = {
    "Resize": {1, 2},  # roi, scales
    "Upsample": {1},  # scales
    "NonMaxSuppression": {0, 1, 3, 4},
}


def _import_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise InputError("converting the model to FP16 needs the onnx package: pip install onnx") from None


def _fp16_tensor(tensor: onnx.TensorProto, name: str | None = None) -> onnx.TensorProto:
    from onnx import numpy_helper

    values = numpy_helper.to_array(tensor)
    # Out-of-range weights would become inf; saturate as TensorRT's own FP16 mode does.
    half = np.clip(values, -FP16_MAX, FP16_MAX).astype(np.float16)
    return numpy_helper.from_array(half, name if name is not None else tensor.name)


def convert_to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float16 copy of `model` with float32 inputs and outputs."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    ops = {n.op_type for n in graph.node}
    if ops & {"QuantizeLinear", "DequantizeLinear"}:
        raise InputError("the model is quantized (it has Q/DQ nodes): build it without --fp16")
    if ops & {"If", "Loop", "Scan"}:
        raise InputError("the model has control flow (If/Loop/Scan), which the FP16 conversion does not handle")

    taken = {n for node in graph.node for n in (*node.input, *node.output)}
    taken |= {v.name for v in (*graph.input, *graph.output)} | {i.name for i in graph.initializer}

    def fresh(base: str) -> str:
        name, k = base, 0
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        return name

    def float32_only(node: onnx.NodeProto, index: int) -> bool:
        return index in FLOAT32_ONLY.get(node.op_type, ())

    uses: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name:
                uses[name].append((node, i))

    # Weights: float16, except where only float32 is allowed (a float32 copy serves there).
    fp32_inits: set[str] = set()
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT:
            continue
        strict = [(n, i) for n, i in uses.get(init.name, []) if float32_only(n, i)]
        if strict and len(strict) == len(uses[init.name]):
            fp32_inits.add(init.name)
            continue
        if strict:
            kept = graph.initializer.add()
            kept.CopyFrom(init)
            kept.name = fresh(f"{init.name}_fp32")
            fp32_inits.add(kept.name)
            for n, i in strict:
                n.input[i] = kept.name
        init.CopyFrom(_fp16_tensor(init))
    for value in graph.input:  # models of IR < 4 list their weights as inputs too
        is_weight = value.name in {i.name for i in graph.initializer} and value.name not in fp32_inits
        if is_weight and value.type.tensor_type.elem_type == TensorProto.FLOAT:
            value.type.tensor_type.elem_type = TensorProto.FLOAT16

    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
            # Constant's and ConstantOfShape's value, and any other float tensor attribute.
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(_fp16_tensor(attr.t, attr.t.name))

    # Computed values reaching float32-only inputs are cast back, just before their reader.
    before: dict[int, list[onnx.NodeProto]] = defaultdict(list)
    for node in graph.node:
        for i in sorted(FLOAT32_ONLY.get(node.op_type, ())):
            if i < len(node.input) and node.input[i] and node.input[i] not in fp32_inits:
                cast = fresh(f"{node.input[i]}_fp32")
                before[id(node)].append(helper.make_node("Cast", [node.input[i]], [cast], to=TensorProto.FLOAT))
                node.input[i] = cast
    body: list[onnx.NodeProto] = []
    for node in graph.node:
        body.extend(before.get(id(node), ()))
        body.append(node)

    def rename_reads(old: str, new: str) -> None:
        for node in body:
            for i, name in enumerate(node.input):
                if name == old:
                    node.input[i] = new

    # Float inputs stay float32 for the caller; the graph reads a float16 copy.
    head: list[onnx.NodeProto] = []
    initializer_names = {i.name for i in graph.initializer}
    for value in graph.input:
        if value.name in initializer_names or value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        half = fresh(f"{value.name}_fp16")
        rename_reads(value.name, half)
        head.append(helper.make_node("Cast", [value.name], [half], to=TensorProto.FLOAT16))

    # Float outputs are computed in float16 and cast back to float32 at the end.
    tail: list[onnx.NodeProto] = []
    for value in graph.output:
        if value.type.tensor_type.elem_type != TensorProto.FLOAT:
            continue
        if any(value.name == v.name for v in graph.input):
            raise InputError(f"model output {value.name} is also an input; cannot convert it")
        half = fresh(f"{value.name}_fp16")
        for node in body:
            for i, name in enumerate(node.output):
                if name == value.name:
                    node.output[i] = half
        rename_reads(value.name, half)  # an output that is also read inside the graph
        tail.append(helper.make_node("Cast", [half], [value.name], to=TensorProto.FLOAT))

    del graph.node[:]
    graph.node.extend(head + body + tail)
    # Intermediate types changed; TensorRT and ONNX Runtime infer them again.
    del graph.value_info[:]
    return model


def write_fp16_copy(src: Path, dst: Path) -> None:
    _import_onnx()
    import onnx

    try:
        model = onnx.load(str(src))
    except Exception:
        raise InputError(f"model {src.name} is not an ONNX model (it cannot be parsed)") from None
    onnx.save(convert_to_fp16(model), str(dst))
