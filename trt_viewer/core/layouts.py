"""Which YOLOX output layout a model has, and turning its outputs into Detections.

- raw:     one [1, N, 5+C] output, boxes still to be grid-decoded (official export)
- decoded: one [1, N, 5+C] output, decode done in the graph
- end2end: num_dets [1, 1], det_boxes [1, K, 4], det_scores [1, K], det_classes [1, K]
           (EfficientNMS_TRT-style)
Raw and decoded have the same shape; when the anchor count fits a stride grid the choice
is made from the values of the first output (see yolox.looks_decoded).

The class count C shows in raw and decoded outputs only. An end-to-end model's graph says
it where its NMS node takes the scores (nms_class_count): backends that can read the graph
give it as Backend.class_count_hint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from trt_viewer.core import yolox
from trt_viewer.core.detections import Detections
from trt_viewer.core.spec import TensorSpec, describe_all
from trt_viewer.errors import InputError

LAYOUTS = ("auto", "raw", "decoded", "end2end")
END2END_ROLES = ("num_dets", "det_boxes", "det_scores", "det_classes")
# The class axis of the scores (input 1) of the NMS ops end-to-end exports end in: ONNX's
# NonMaxSuppression takes [batch, classes, boxes], TensorRT's NMS plugins [batch, boxes, classes].
NMS_SCORES_CLASS_AXIS = {
    "NonMaxSuppression": 1,
    "EfficientNMS_TRT": 2,
    "EfficientNMSCustom_TRT": 2,
    "BatchedNMS_TRT": 2,
    "BatchedNMSDynamic_TRT": 2,
}
_ROLE_WORDS = {
    "num_dets": ("num",),
    "det_boxes": ("box",),
    "det_scores": ("score",),
    "det_classes": ("class", "label"),
}


def _end2end_by_name(outputs: Sequence[TensorSpec]) -> dict[str, str] | None:
    roles: dict[str, str] = {}
    for role in END2END_ROLES:
        hits = [o.name for o in outputs if any(w in o.name.lower() for w in _ROLE_WORDS[role])]
        if len(hits) != 1:
            return None
        roles[role] = hits[0]
    return roles if len(set(roles.values())) == 4 else None


def _end2end_by_shape(outputs: Sequence[TensorSpec]) -> dict[str, str] | None:
    if len(outputs) != 4:
        return None
    rank = {o.name: len(o.shape) for o in outputs}
    boxes = [o for o in outputs if rank[o.name] == 3 and o.shape[-1] == 4]
    pairs = [o for o in outputs if rank[o.name] == 2 and o.shape[-1] != 1]
    nums = [o for o in outputs if rank[o.name] == 2 and o.shape[-1] == 1]
    if len(boxes) != 1 or len(pairs) != 2 or len(nums) != 1:
        return None
    floats = [o for o in pairs if np.dtype(o.dtype).kind == "f"]
    ints = [o for o in pairs if np.dtype(o.dtype).kind in "iu"]
    if len(floats) != 1 or len(ints) != 1:
        return None
    return {
        "num_dets": nums[0].name,
        "det_boxes": boxes[0].name,
        "det_scores": floats[0].name,
        "det_classes": ints[0].name,
    }


def end2end_roles(outputs: Sequence[TensorSpec]) -> dict[str, str] | None:
    return _end2end_by_name(outputs) or _end2end_by_shape(outputs)


def prediction_output(outputs: Sequence[TensorSpec]) -> TensorSpec | None:
    """The single [1, N, 5+C] (or [N, 5+C]) output of a raw or decoded model."""
    found = [
        o
        for o in outputs
        if len(o.shape) in (2, 3)
        and np.dtype(o.dtype).kind == "f"
        and (not isinstance(o.shape[-1], int) or o.shape[-1] >= 6)
        and (len(o.shape) == 2 or o.shape[0] in (1, None) or isinstance(o.shape[0], str))
    ]
    return found[0] if len(found) == 1 else None


def num_classes(outputs: Sequence[TensorSpec]) -> int | None:
    """C of a [1, N, 5+C] output when the model states it, else None."""
    pred = prediction_output(outputs)
    if pred is None or end2end_roles(outputs) or not isinstance(pred.shape[-1], int):
        return None
    return pred.shape[-1] - 5


def nms_class_count(op_type: str, scores_shape: Sequence[object] | None) -> int | None:
    """C from the shape of the scores an NMS node of `op_type` takes, where it is fixed."""
    axis = NMS_SCORES_CLASS_AXIS.get(op_type)
    if axis is None or scores_shape is None or len(scores_shape) != 3:
        return None
    dim = scores_shape[axis]
    return dim if isinstance(dim, int) and not isinstance(dim, bool) and dim > 0 else None


def _no_layout(outputs: Sequence[TensorSpec], why: str = "") -> InputError:
    return InputError(
        f"the model's outputs match no YOLOX layout{why}: found {describe_all(outputs)}; "
        "expected one [1, N, 5+C] output or num_dets/det_boxes/det_scores/det_classes"
    )


def _transposed(pred: TensorSpec, input_hw: tuple[int, int]) -> bool:
    """[1, 4+C, N] rather than [1, N, 5+C]: more columns than rows, rows off the grid."""
    rows, cols = pred.shape[-2], pred.shape[-1]
    if not (isinstance(rows, int) and isinstance(cols, int)):
        return False
    return cols > rows and yolox.strides_for(input_hw, rows) is None


class Postprocessor:
    """Turns one inference's outputs into Detections for one layout.

    Raw-versus-decoded is settled on the first call when the model's shape cannot tell.
    """

    def __init__(
        self, outputs: Sequence[TensorSpec], input_hw: tuple[int, int], layout: str = "auto"
    ) -> None:
        if layout not in LAYOUTS:
            raise InputError(f"unknown layout {layout!r} (choose from {', '.join(LAYOUTS)})")
        self.input_hw = input_hw
        self.outputs = tuple(outputs)
        self.roles = end2end_roles(outputs)
        pred = prediction_output(outputs)
        if layout == "end2end" and self.roles is None:
            raise _no_layout(outputs, " for end2end")
        if layout in ("raw", "decoded") and pred is None:
            raise _no_layout(outputs, f" for {layout}")
        if layout == "auto":
            if self.roles is not None:
                layout = "end2end"
            elif pred is None:
                raise _no_layout(outputs)
        if pred is not None and self.roles is None and _transposed(pred, input_hw):
            raise _no_layout(outputs, " (anchors last, as YOLOv5/v8 export them)")
        self.pred_name = pred.name if pred is not None else ""
        self.requested = layout
        # Settled now where the shape tells, else on the first call.
        self.layout: str | None = layout if layout != "auto" else None
        rows = pred.shape[-2] if pred is not None else None
        if self.layout is None and isinstance(rows, int) and yolox.strides_for(input_hw, rows) is None:
            self.layout = "decoded"

    def __call__(
        self,
        outputs: Mapping[str, np.ndarray],
        ratio: float,
        frame_hw: tuple[int, int],
        cfg: yolox.PostprocessConfig,
    ) -> Detections:
        if self.layout == "end2end":
            return self._end2end(outputs, ratio, frame_hw, cfg)
        pred = outputs[self.pred_name]
        pred = pred.reshape(pred.shape[-2], pred.shape[-1])
        if pred.dtype != np.float32:
            pred = pred.astype(np.float32)
        grids = self._grids(pred.shape[0])
        if self.layout is None:
            self.layout = "raw" if grids and not yolox.looks_decoded(pred, *grids) else "decoded"
        idx, scores, ids = yolox.best_class(pred, cfg.conf)
        rows = pred[idx]
        if self.layout == "raw":
            assert grids is not None
            centre = yolox.decode_raw(rows, grids[0][idx], grids[1][idx])
        else:
            centre = rows[:, :4]
        return yolox.finish(yolox.cxcywh_to_xyxy(centre), scores, ids, cfg, ratio, frame_hw)

    def _grids(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        strides = yolox.strides_for(self.input_hw, n)
        if strides is None:
            if self.layout == "raw":
                expected = yolox.anchor_count(self.input_hw, yolox.P5_STRIDES)
                raise InputError(
                    f"layout raw needs {expected} anchors for a "
                    f"{self.input_hw[0]}x{self.input_hw[1]} input (strides 8/16/32, or P6 with 64); "
                    f"the model gives {n}"
                )
            return None
        return yolox.make_grids(self.input_hw, strides)

    def _end2end(
        self,
        outputs: Mapping[str, np.ndarray],
        ratio: float,
        frame_hw: tuple[int, int],
        cfg: yolox.PostprocessConfig,
    ) -> Detections:
        assert self.roles is not None
        n = int(np.asarray(outputs[self.roles["num_dets"]]).reshape(-1)[0])
        boxes = np.asarray(outputs[self.roles["det_boxes"]], np.float32).reshape(-1, 4)[:n]
        scores = np.asarray(outputs[self.roles["det_scores"]], np.float32).reshape(-1)[:n]
        ids = np.asarray(outputs[self.roles["det_classes"]]).reshape(-1)[:n].astype(np.int64)
        keep = scores > cfg.conf
        # The engine has done its own NMS; ours on top only bites when the user asks for a
        # stricter IoU or class-agnostic suppression, so the sliders work for every layout.
        return yolox.finish(boxes[keep], scores[keep], ids[keep], cfg, ratio, frame_hw)
