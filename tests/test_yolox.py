"""Decode and NMS against YOLOX's reference post-processing, written out here."""

import numpy as np
import pytest

from trt_viewer.core import yolox
from trt_viewer.core.layouts import Postprocessor
from trt_viewer.core.spec import TensorSpec
from trt_viewer.core.yolox import PostprocessConfig


def reference_decode(outputs, img_size, p6=False):
    """YOLOX demo_postprocess (yolox/utils/demo_utils.py)."""
    grids, expanded_strides = [], []
    strides = [8, 16, 32] if not p6 else [8, 16, 32, 64]
    hsizes = [img_size[0] // s for s in strides]
    wsizes = [img_size[1] // s for s in strides]
    for hsize, wsize, stride in zip(hsizes, wsizes, strides):
        xv, yv = np.meshgrid(np.arange(wsize), np.arange(hsize))
        grid = np.stack((xv, yv), 2).reshape(1, -1, 2)
        grids.append(grid)
        expanded_strides.append(np.full((*grid.shape[:2], 1), stride))
    grids = np.concatenate(grids, 1)
    expanded_strides = np.concatenate(expanded_strides, 1)
    outputs = outputs.copy()
    outputs[..., :2] = (outputs[..., :2] + grids) * expanded_strides
    outputs[..., 2:4] = np.exp(outputs[..., 2:4]) * expanded_strides
    return outputs


def reference_nms(boxes, scores, thr):
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1) * np.maximum(0.0, yy2 - yy1)
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= thr)[0] + 1]
    return keep


def reference_postprocess(pred, conf, nms_thr, ratio, agnostic=False):
    """YOLOX postprocess: best class per anchor, score = obj * cls, NMS per class."""
    boxes = np.empty_like(pred[:, :4])
    boxes[:, 0] = pred[:, 0] - pred[:, 2] / 2
    boxes[:, 1] = pred[:, 1] - pred[:, 3] / 2
    boxes[:, 2] = pred[:, 0] + pred[:, 2] / 2
    boxes[:, 3] = pred[:, 1] + pred[:, 3] / 2
    cls = pred[:, 5:].argmax(1)
    score = pred[:, 4] * pred[np.arange(len(pred)), 5 + cls]
    m = score > conf
    boxes, score, cls = boxes[m], score[m], cls[m]
    out = []
    groups = [np.ones(len(cls), bool)] if agnostic else [cls == c for c in np.unique(cls)]
    for g in groups:
        idx = np.flatnonzero(g)
        for k in reference_nms(boxes[idx], score[idx], nms_thr):
            out.append((*(boxes[idx][k] / ratio), score[idx][k], cls[idx][k]))
    return sorted(out, key=lambda t: -t[4])


def fake_raw(input_hw, num_classes=5, strides=yolox.P5_STRIDES, seed=0, objects=6):
    """Raw predictions with clusters of confident anchors around a few objects."""
    rng = np.random.default_rng(seed)
    grid, stride = yolox.make_grids(input_hw, strides)
    n = len(grid)
    pred = np.zeros((n, 5 + num_classes), np.float32)
    pred[:, :2] = rng.uniform(-0.5, 1.5, (n, 2))
    pred[:, 2:4] = rng.normal(0.5, 0.7, (n, 2))
    pred[:, 4] = rng.beta(0.3, 8, n)
    pred[:, 5:] = rng.beta(0.5, 4, (n, num_classes))
    for _ in range(objects):
        centre = rng.uniform(0, 1, 2) * (input_hw[1], input_hw[0])
        near = np.flatnonzero(np.abs((grid + 0.5) * stride - centre).max(1) < 3 * stride[:, 0])
        pred[near, 4] = rng.uniform(0.4, 0.99, near.size)
        pred[near, 5 + rng.integers(num_classes)] = rng.uniform(0.5, 1.0, near.size)
    return pred


def run_ours(pred, input_hw, frame_hw, cfg, layout="raw"):
    spec = TensorSpec("output", (1, pred.shape[0], pred.shape[1]), np.dtype(np.float32))
    post = Postprocessor([spec], input_hw, layout)
    ratio = min(input_hw[0] / frame_hw[0], input_hw[1] / frame_hw[1])
    return post({"output": pred[None]}, ratio, frame_hw, cfg), ratio


@pytest.mark.parametrize("agnostic", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_raw_decode_and_nms_match_yolox(seed, agnostic):
    input_hw, frame_hw = (416, 416), (576, 768)
    pred = fake_raw(input_hw, seed=seed)
    cfg = PostprocessConfig(conf=0.3, nms=0.45, agnostic=agnostic, max_det=1000)
    ours, ratio = run_ours(pred, input_hw, frame_hw, cfg)
    ref = reference_postprocess(reference_decode(pred[None], input_hw)[0], 0.3, 0.45, ratio, agnostic)
    assert len(ours) == len(ref) > 3
    ref_boxes = np.array([r[:4] for r in ref])
    np.clip(ref_boxes[:, 0::2], 0, frame_hw[1], out=ref_boxes[:, 0::2])
    np.clip(ref_boxes[:, 1::2], 0, frame_hw[0], out=ref_boxes[:, 1::2])
    np.testing.assert_allclose(ours.boxes, ref_boxes, atol=1e-3)
    np.testing.assert_allclose(ours.scores, [r[4] for r in ref], atol=1e-6)
    assert ours.class_ids.tolist() == [int(r[5]) for r in ref]


def test_p6_grids_decode_like_yolox():
    input_hw = (256, 320)
    pred = fake_raw(input_hw, strides=yolox.P6_STRIDES, seed=3)
    cfg = PostprocessConfig(conf=0.3, max_det=1000)
    ours, ratio = run_ours(pred, input_hw, input_hw, cfg)
    ref = reference_postprocess(reference_decode(pred[None], input_hw, p6=True)[0], 0.3, 0.45, ratio)
    assert len(ours) == len(ref) > 0
    np.testing.assert_allclose(ours.scores, [r[4] for r in ref], atol=1e-6)


def test_decoded_layout_skips_the_grid():
    input_hw = (416, 416)
    pred = fake_raw(input_hw, seed=4)
    decoded = reference_decode(pred[None], input_hw)[0]
    cfg = PostprocessConfig()
    from_raw, _ = run_ours(pred, input_hw, input_hw, cfg, "raw")
    from_decoded, _ = run_ours(decoded, input_hw, input_hw, cfg, "decoded")
    np.testing.assert_allclose(from_raw.boxes, from_decoded.boxes, atol=1e-3)
    # and "auto" tells them apart from the values alone
    auto_raw, _ = run_ours(pred, input_hw, input_hw, cfg, "auto")
    auto_dec, _ = run_ours(decoded, input_hw, input_hw, cfg, "auto")
    np.testing.assert_allclose(auto_raw.boxes, from_raw.boxes)
    np.testing.assert_allclose(auto_dec.boxes, from_raw.boxes, atol=1e-3)


def test_class_aware_keeps_overlapping_boxes_of_two_classes_agnostic_does_not():
    boxes = np.array([[0, 0, 100, 100], [2, 2, 100, 100]], np.float32)
    scores = np.array([0.9, 0.8], np.float32)
    ids = np.array([0, 1])
    aware = yolox.finish(boxes, scores, ids, PostprocessConfig(), 1.0, (200, 200))
    agnostic = yolox.finish(boxes, scores, ids, PostprocessConfig(agnostic=True), 1.0, (200, 200))
    assert len(aware) == 2 and len(agnostic) == 1 and agnostic.class_ids.tolist() == [0]


def test_max_det_keeps_the_best_and_boxes_are_clipped():
    boxes = np.array([[i * 20 - 5, -10, i * 20 + 10, 300] for i in range(10)], np.float32)
    scores = np.linspace(0.5, 0.95, 10).astype(np.float32)
    dets = yolox.finish(boxes, scores, np.zeros(10, np.int64), PostprocessConfig(max_det=3), 1.0, (100, 150))
    assert dets.scores.tolist() == pytest.approx(scores[::-1][:3].tolist())
    assert dets.boxes[:, 1].min() >= 0 and dets.boxes[:, 3].max() <= 100
    assert dets.boxes[:, 2].max() <= 150


def test_class_filter_and_threshold():
    input_hw = (416, 416)
    pred = fake_raw(input_hw, seed=5)
    everything, _ = run_ours(pred, input_hw, input_hw, PostprocessConfig())
    keep = int(everything.class_ids[0])
    only, _ = run_ours(pred, input_hw, input_hw, PostprocessConfig(classes=frozenset({keep})))
    assert set(only.class_ids.tolist()) == {keep}
    strict, _ = run_ours(pred, input_hw, input_hw, PostprocessConfig(conf=0.8))
    assert len(strict) < len(everything) and (strict.scores > 0.8).all()


def test_nothing_above_threshold_gives_empty():
    pred = fake_raw((416, 416), seed=6)
    pred[:, 4] = 0.01
    dets, _ = run_ours(pred, (416, 416), (416, 416), PostprocessConfig())
    assert len(dets) == 0 and dets.boxes.shape == (0, 4)


def test_grids_are_cached_and_read_only():
    a = yolox.make_grids((416, 416), yolox.P5_STRIDES)
    b = yolox.make_grids((416, 416), yolox.P5_STRIDES)
    assert a[0] is b[0] and not a[0].flags.writeable
    assert len(a[0]) == 3549 and len(yolox.make_grids((640, 640), yolox.P5_STRIDES)[0]) == 8400
    assert yolox.strides_for((640, 640), 8400) == yolox.P5_STRIDES
    assert yolox.strides_for((640, 640), 8500) == yolox.P6_STRIDES
