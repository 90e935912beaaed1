"""Small YOLOX-shaped ONNX models whose outputs follow the input image, for tests.

Every cell of every stride level "sees" the mean colour of its patch (AveragePool):
objectness is the patch's mean blue / 255, class k's probability the mean of channel
CLASS_CHANNELS[k] / 255, and the box is the cell itself (raw: tx = ty = 0.5, tw = th = 0).
So a pure-blue+green square covering a stride-s cell yields a detection of class 0 whose
box is that cell, and tests can predict every output from the picture they draw.
square_image, moving_square_frames and write_video draw those pictures and videos.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

P5 = (8, 16, 32)
P6 = (8, 16, 32, 64)
CLASS_CHANNELS = (1, 2)  # class 0 follows green, class 1 red; further classes stay at 0


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def const(self, value: np.ndarray, base: str = "c") -> str:
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, np.int64))

    def op(self, op_type: str, inputs: list[str], base: str | None = None, **attrs: object) -> str:
        out = self.name(base or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def _level(g: _Graph, x: str, s: int, h: int | None, w: int | None, num_classes: int,
           decoded: bool) -> str:
    """[1, cells, 5+C] for one stride."""
    pooled = g.op("AveragePool", [x], kernel_shape=[s, s], strides=[s, s])
    scaled = g.op("Mul", [pooled, g.const(np.float32(1 / 255))])
    chans = [
        g.op("Slice", [scaled, g.const(np.array([c], np.int64)), g.const(np.array([c + 1], np.int64)),
                       g.const(np.array([1], np.int64))])
        for c in range(3)
    ]
    zero = g.op("Mul", [chans[0], g.const(np.float32(0))])
    half = g.op("Add", [zero, g.const(np.float32(0.5))])
    if decoded:
        assert h is not None and w is not None
        gy, gx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        cx = g.op("Add", [zero, g.const(((gx + 0.5) * s)[None, None])])
        cy = g.op("Add", [zero, g.const(((gy + 0.5) * s)[None, None])])
        size = g.op("Add", [zero, g.const(np.float32(s))])
        reg = [cx, cy, size, size]
    else:
        reg = [half, half, zero, zero]
    cls = [chans[CLASS_CHANNELS[k]] if k < len(CLASS_CHANNELS) else zero for k in range(num_classes)]
    cat = g.op("Concat", [*reg, chans[0], *cls], axis=1)  # [1, 5+C, h, w]
    flat = g.op("Reshape", [cat, g.const(np.array([1, 5 + num_classes, -1], np.int64))])
    return g.op("Transpose", [flat], perm=[0, 2, 1])


def yolox_model(
    path: Path,
    *,
    size: tuple[int, int] = (64, 96),
    num_classes: int = 2,
    layout: str = "raw",
    strides: tuple[int, ...] = P5,
    dynamic: bool = False,
    input_dtype: int = TensorProto.FLOAT,
    output_name: str = "output",
    metadata: dict[str, str] | None = None,
    end2end_slots: int = 20,
) -> Path:
    """Write a model of the given layout ('raw', 'decoded', 'end2end') and return its path."""
    g = _Graph()
    h, w = size
    in_shape: list[object] = [1, 3, "height", "width"] if dynamic else [1, 3, h, w]
    x = "images"
    if input_dtype != TensorProto.FLOAT:
        x = g.op("Cast", ["images"], to=TensorProto.FLOAT)
    levels = [
        _level(g, x, s, None if dynamic else h // s, None if dynamic else w // s, num_classes,
               layout == "decoded")
        for s in strides
    ]
    pred = g.op("Concat", levels, axis=1)
    outputs: list[onnx.ValueInfoProto]
    if layout in ("raw", "decoded"):
        g.nodes.append(helper.make_node("Identity", [pred], [output_name]))
        n = None if dynamic else sum((h // s) * (w // s) for s in strides)
        outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [1, n, 5 + num_classes])]
    elif layout == "end2end":
        outputs = _end2end_tail(g, pred, strides, h, w, end2end_slots)
    else:
        raise ValueError(layout)
    graph = helper.make_graph(
        g.nodes, "yolox_test", [helper.make_tensor_value_info("images", input_dtype, in_shape)],
        outputs, g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _end2end_tail(g: _Graph, pred: str, strides: tuple[int, ...], h: int, w: int,
                  slots: int) -> list[onnx.ValueInfoProto]:
    """num_dets/det_boxes/det_scores/det_classes from the top-scoring cells (class 0 only)."""
    grid_xy, grid_s = [], []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        grid_xy.append(np.stack([gx, gy], -1).reshape(-1, 2))
        grid_s.append(np.full((gx.size, 1), s))
    gxy = np.concatenate(grid_xy).astype(np.float32)
    gs = np.concatenate(grid_s).astype(np.float32)
    x1y1 = (gxy * gs)[None]
    boxes_all = g.const(np.concatenate([x1y1, x1y1 + gs[None]], -1))  # [1, N, 4] cell boxes
    obj = g.op("Slice", [pred, g.ints(4), g.ints(5), g.ints(2)])  # [..., 4:5] along axis 2
    cls0 = g.op("Slice", [pred, g.ints(5), g.ints(6), g.ints(2)])  # [..., 5:6] along axis 2
    score = g.op("Squeeze", [g.op("Mul", [obj, cls0]), g.const(np.array([2], np.int64))])  # [1, N]
    top, idx = g.name("top"), g.name("idx")
    g.nodes.append(helper.make_node("TopK", [score, g.const(np.array([slots], np.int64))], [top, idx], axis=1))
    g.nodes.append(helper.make_node("Identity", [top], ["det_scores"]))
    gathered = g.op("Gather", [boxes_all, g.op("Squeeze", [idx, g.const(np.array([0], np.int64))])], axis=1)
    g.nodes.append(helper.make_node("Identity", [gathered], ["det_boxes"]))
    above = g.op("Cast", [g.op("Greater", [top, g.const(np.float32(0.05))])], to=TensorProto.INT32)
    g.nodes.append(helper.make_node("ReduceSum", [above, g.const(np.array([1], np.int64))], ["num_dets"], keepdims=1))
    zeros = g.op("Cast", [g.op("Mul", [top, g.const(np.float32(0))])], to=TensorProto.INT32)
    g.nodes.append(helper.make_node("Identity", [zeros], ["det_classes"]))
    return [
        helper.make_tensor_value_info("num_dets", TensorProto.INT32, [1, 1]),
        helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [1, slots, 4]),
        helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [1, slots]),
        helper.make_tensor_value_info("det_classes", TensorProto.INT32, [1, slots]),
    ]


def trt_plugin_model(path: Path) -> Path:
    """A model ending in an EfficientNMS_TRT node, which only TensorRT can run."""
    yolox_model(path, layout="raw")
    model = onnx.load(str(path))
    node = helper.make_node(
        "EfficientNMS_TRT", ["output", "output"], ["num_dets", "det_boxes", "det_scores", "det_classes"],
        domain="", plugin_version="1", score_threshold=0.25, iou_threshold=0.45, max_output_boxes=100,
    )
    model.graph.node.append(node)
    del model.graph.output[:]
    model.graph.output.extend([
        helper.make_tensor_value_info("num_dets", TensorProto.INT32, [1, 1]),
        helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [1, 100, 4]),
        helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [1, 100]),
        helper.make_tensor_value_info("det_classes", TensorProto.INT32, [1, 100]),
    ])
    onnx.save(model, str(path))
    return path


def square_image(size: tuple[int, int], cell: tuple[int, int, int],
                 colour: tuple[int, int, int] = (255, 255, 0)) -> np.ndarray:
    """A black BGR image with one filled stride cell (x index, y index, stride) in `colour`."""
    img = np.zeros((*size, 3), np.uint8)
    gx, gy, s = cell
    img[gy * s:(gy + 1) * s, gx * s:(gx + 1) * s] = colour
    return img


def moving_square_frames(n: int, size: tuple[int, int] = (64, 96), stride: int = 8) -> list[np.ndarray]:
    """Frame i holds one blue+green square on stride cell (i mod columns, 2)."""
    cols = size[1] // stride
    return [square_image(size, (i % cols, 2, stride)) for i in range(n)]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix == ".avi" else "mp4v"))
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def _cell_boxes(strides: tuple[int, ...], h: int, w: int) -> np.ndarray:
    """[1, N, 4] x1, y1, x2, y2 of every stride cell, in the order of the anchors."""
    boxes = []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        x1y1 = np.stack([gx, gy], -1).reshape(-1, 2) * s
        boxes.append(np.concatenate([x1y1, x1y1 + s], -1))
    return np.concatenate(boxes)[None].astype(np.float32)


def _class_scores(g: _Graph, pred: str, num_classes: int, green_class: int) -> str:
    """[1, N, C] objectness x class probability, class `green_class` following green
    (it swaps places with class 0)."""
    obj = g.op("Slice", [pred, g.ints(4), g.ints(5), g.ints(2)])
    cls = g.op("Slice", [pred, g.ints(5), g.ints(5 + num_classes), g.ints(2)])
    order = np.arange(num_classes)
    order[[0, green_class]] = order[[green_class, 0]]
    return g.op("Mul", [obj, g.op("Gather", [cls, g.const(order.astype(np.int64))], axis=2)])


def nms_model(
    path: Path,
    *,
    size: tuple[int, int] = (64, 96),
    num_classes: int = 80,
    green_class: int = 16,
    strides: tuple[int, ...] = P5,
    max_per_class: int = 10,
    metadata: dict[str, str] | None = None,
) -> Path:
    """An end-to-end model ending in ONNX's NonMaxSuppression, which ONNX Runtime runs:
    the raw model's cells scored for `num_classes` classes (scores [1, C, N] into the
    NMS node), class `green_class` following green (16, COCO's dog, by default), boxes the
    cells themselves; outputs num_dets [1, 1], det_boxes [1, K, 4], det_scores [1, K] and
    det_classes [1, K] with K the detections kept."""
    g = _Graph()
    h, w = size
    levels = [_level(g, "images", s, h // s, w // s, num_classes, False) for s in strides]
    pred = g.op("Concat", levels, axis=1)
    scores = g.op("Transpose", [_class_scores(g, pred, num_classes, green_class)], perm=[0, 2, 1])  # [1, C, N]
    boxes = g.const(_cell_boxes(strides, h, w))
    limits = [g.ints(max_per_class), g.const(np.array([0.45], np.float32)), g.const(np.array([0.05], np.float32))]
    selected = g.op("NonMaxSuppression", [boxes, scores, *limits])  # [K, 3]: batch, class, box
    class_ids = g.op("Gather", [selected, g.const(np.int64(1))], axis=1)  # [K]
    box_ids = g.op("Gather", [selected, g.const(np.int64(2))], axis=1)
    first = g.ints(0)
    g.nodes += [
        helper.make_node("Gather", [boxes, box_ids], ["det_boxes"], axis=1),
        helper.make_node("Unsqueeze", [g.op("GatherND", [scores, selected]), first], ["det_scores"]),
        helper.make_node("Unsqueeze", [g.op("Cast", [class_ids], to=TensorProto.INT32), first], ["det_classes"]),
    ]
    count = g.op("Slice", [g.op("Shape", [selected]), g.ints(0), g.ints(1)])
    g.nodes.append(helper.make_node("Cast", [g.op("Reshape", [count, g.ints(1, 1)])], ["num_dets"],
                                    to=TensorProto.INT32))
    graph = helper.make_graph(
        g.nodes, "yolox_nms_test", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [
            helper.make_tensor_value_info("num_dets", TensorProto.INT32, [1, 1]),
            helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [1, "detections", 4]),
            helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [1, "detections"]),
            helper.make_tensor_value_info("det_classes", TensorProto.INT32, [1, "detections"]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def efficient_nms_model(path: Path, *, size: tuple[int, int] = (64, 96), num_classes: int = 80,
                        strides: tuple[int, ...] = P5, max_boxes: int = 100) -> Path:
    """An end-to-end model ending in TensorRT's EfficientNMS_TRT plugin (which only
    TensorRT runs) over boxes [1, N, 4] and scores [1, N, C]."""
    g = _Graph()
    h, w = size
    levels = [_level(g, "images", s, h // s, w // s, num_classes, False) for s in strides]
    pred = g.op("Concat", levels, axis=1)
    scores = _class_scores(g, pred, num_classes, 0)
    boxes = g.const(_cell_boxes(strides, h, w))
    g.nodes.append(helper.make_node(
        "EfficientNMS_TRT", [boxes, scores], ["num_dets", "det_boxes", "det_scores", "det_classes"],
        plugin_version="1", score_threshold=0.25, iou_threshold=0.45, max_output_boxes=max_boxes,
        background_class=-1, score_activation=0, box_coding=0,
    ))
    graph = helper.make_graph(
        g.nodes, "yolox_efficient_nms_test",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, h, w])],
        [
            helper.make_tensor_value_info("num_dets", TensorProto.INT32, [1, 1]),
            helper.make_tensor_value_info("det_boxes", TensorProto.FLOAT, [1, max_boxes, 4]),
            helper.make_tensor_value_info("det_scores", TensorProto.FLOAT, [1, max_boxes]),
            helper.make_tensor_value_info("det_classes", TensorProto.INT32, [1, max_boxes]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
