"""YOLOX post-processing in small numpy functions: grids, decode, scoring, NMS.

Prediction rows are [x, y, w, h, objectness, class scores...] with objectness and class
scores already through a sigmoid (YOLOX's head applies it before export).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from trt_viewer.core.detections import Detections

P5_STRIDES = (8, 16, 32)
P6_STRIDES = (8, 16, 32, 64)


@dataclass(frozen=True)
class PostprocessConfig:
    conf: float = 0.3
    nms: float = 0.45
    agnostic: bool = False
    max_det: int = 300
    classes: frozenset[int] | None = None  # keep only these class ids; None keeps all


def anchor_count(input_hw: tuple[int, int], strides: tuple[int, ...]) -> int:
    return sum((input_hw[0] // s) * (input_hw[1] // s) for s in strides)


def strides_for(input_hw: tuple[int, int], num_anchors: int) -> tuple[int, ...] | None:
    """The stride set whose grids give exactly num_anchors rows, if any."""
    for strides in (P5_STRIDES, P6_STRIDES):
        if anchor_count(input_hw, strides) == num_anchors:
            return strides
    return None


@lru_cache(maxsize=16)
def make_grids(input_hw: tuple[int, int], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-anchor cell offsets [N, 2] (x, y) and strides [N, 1]; level by level, row-major."""
    grids, expanded = [], []
    for s in strides:
        h, w = input_hw[0] // s, input_hw[1] // s
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grids.append(np.stack((xs, ys), axis=-1).reshape(-1, 2))
        expanded.append(np.full((h * w, 1), s))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(expanded).astype(np.float32)
    grid.flags.writeable = False
    stride.flags.writeable = False
    return grid, stride


def decode_raw(rows: np.ndarray, grid: np.ndarray, stride: np.ndarray) -> np.ndarray:
    """Grid-decode raw [K, 4] regressions (tx, ty, tw, th) to centre boxes in input pixels."""
    out = np.empty((len(rows), 4), np.float32)
    out[:, :2] = (rows[:, :2] + grid) * stride
    out[:, 2:] = np.exp(rows[:, 2:4]) * stride
    return out


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    half = b[:, 2:4] * 0.5
    return np.concatenate((b[:, :2] - half, b[:, :2] + half), axis=1)


def looks_decoded(pred: np.ndarray, grid: np.ndarray, stride: np.ndarray) -> bool:
    """Tell an already-decoded output from a raw one by its values.

    Decoded widths are exp(.) * stride, so never <= 0, and decoded centres sit near their
    own cell (x / stride - cell is the small learnt offset); raw centres are that small
    offset itself, far from most cells.
    """
    if (pred[:, 2:4] <= 0).any():
        return False
    offset = np.abs(pred[:, :2] / stride - grid).sum(axis=1)
    return float(np.median(offset)) < 2.5


def best_class(pred: np.ndarray, conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows whose objectness x best class probability beats conf: (indices, scores, class ids)."""
    # score <= objectness, so objectness alone rules out most rows cheaply.
    idx = np.flatnonzero(pred[:, 4] > conf)
    if idx.size == 0:
        return idx, np.zeros(0, np.float32), np.zeros(0, np.int64)
    cls = pred[idx, 5:]
    ids = cls.argmax(axis=1)
    scores = pred[idx, 4] * cls[np.arange(idx.size), ids]
    keep = scores > conf
    return idx[keep], scores[keep].astype(np.float32), ids[keep].astype(np.int64)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int) -> np.ndarray:
    """Greedy NMS (IoU > threshold suppresses, areas without +1); indices by falling score."""
    order = np.argsort(-scores, kind="stable")
    b = boxes.astype(np.float64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    keep: list[int] = []
    while order.size and len(keep) < max_keep:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])
        h = np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])
        inter = np.clip(w, 0, None) * np.clip(h, 0, None)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(
    boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, cfg: PostprocessConfig
) -> np.ndarray:
    """Per-class NMS (or class-agnostic) by shifting each class into its own region."""
    if boxes.shape[0] == 0:
        return np.zeros(0, np.int64)
    if cfg.agnostic:
        return nms(boxes, scores, cfg.nms, cfg.max_det)
    span = float(np.abs(boxes).max()) + 1.0
    shifted = boxes.astype(np.float64) + (class_ids.astype(np.float64) * 2.0 * span)[:, None]
    return nms(shifted, scores, cfg.nms, cfg.max_det)


def class_mask(class_ids: np.ndarray, classes: frozenset[int] | None) -> np.ndarray | None:
    if classes is None:
        return None
    return np.isin(class_ids, np.fromiter(classes, np.int64, len(classes)))


def finish(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    cfg: PostprocessConfig,
    ratio: float,
    frame_hw: tuple[int, int],
) -> Detections:
    """Class filter, NMS, cap, then map input-pixel boxes back to the frame and clip."""
    mask = class_mask(class_ids, cfg.classes)
    if mask is not None:
        boxes_xyxy, scores, class_ids = boxes_xyxy[mask], scores[mask], class_ids[mask]
    keep = batched_nms(boxes_xyxy, scores, class_ids, cfg)
    if keep.size == 0:
        return Detections.empty()
    boxes = boxes_xyxy[keep].astype(np.float32) / np.float32(ratio)
    np.clip(boxes[:, 0::2], 0, frame_hw[1], out=boxes[:, 0::2])
    np.clip(boxes[:, 1::2], 0, frame_hw[0], out=boxes[:, 1::2])
    return Detections(boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64))
