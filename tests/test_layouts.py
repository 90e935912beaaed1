"""Layouts are told apart from a model's outputs; mismatches say what was found."""

import numpy as np
import pytest
from modelgen import square_image

from trt_viewer.backends import open_backend
from trt_viewer.core.layouts import Postprocessor, end2end_roles, nms_class_count, num_classes
from trt_viewer.core.spec import TensorSpec
from trt_viewer.errors import InputError
from trt_viewer.run.detector import Detector

F32, I32 = np.dtype(np.float32), np.dtype(np.int32)


@pytest.mark.parametrize("kind", ["raw", "decoded", "end2end", "fp16", "dynamic", "p6"])
def test_every_layout_finds_the_square_where_it_was_drawn(models, kind):
    with open_backend(models[kind], input_size=(64, 96) if kind == "dynamic" else None) as backend:
        det = Detector(backend)
        h, w = backend.input_hw
        cell = (1, 1, 64) if kind == "p6" else (3, 2, 8)
        frame = square_image((h, w), cell)
        dets = det.detect(frame)
        gx, gy, s = cell
        expected = [gx * s, gy * s, (gx + 1) * s, (gy + 1) * s]
        assert any(np.allclose(b, expected, atol=0.5) for b in dets.boxes), dets
        assert det.postprocessor.layout == (kind if kind in ("end2end", "decoded") else "raw")
        assert set(dets.class_ids.tolist()) == {0}


def test_boxes_map_back_through_the_letterbox(models):
    """A frame twice the model's size: boxes come back in frame pixels."""
    with open_backend(models["raw"]) as backend:
        det = Detector(backend)
        frame = square_image((128, 192), (3, 2, 16))  # a 16 px cell of the big frame
        dets = det.detect(frame)
        np.testing.assert_allclose(dets.boxes[0], [48, 32, 64, 48], atol=0.5)


def test_forcing_the_layout_overrides_detection(models):
    with open_backend(models["decoded"]) as backend:
        forced = Detector(backend, layout="raw")
        dets = forced.detect(square_image((64, 96), (3, 2, 8)))
        # decoded values read as raw put the box far from the square: the user's choice wins
        assert not any(np.allclose(b, [24, 16, 32, 24], atol=0.5) for b in dets.boxes)


def test_unknown_outputs_name_what_was_found():
    outputs = [TensorSpec("output0", (1, 84, 8400), F32), TensorSpec("proto", (1, 32, 160, 160), F32)]
    with pytest.raises(InputError, match=r"output0 \[1, 84, 8400\] float32.*proto"):
        Postprocessor(outputs, (640, 640))


def test_forced_raw_with_wrong_anchor_count_is_explained():
    post = Postprocessor([TensorSpec("output", (1, 100, 85), F32)], (416, 416), "raw")
    with pytest.raises(InputError, match="3549 anchors"):
        post({"output": np.zeros((1, 100, 85), np.float32)}, 1.0, (416, 416), post_cfg())


def test_anchor_count_off_grid_means_decoded():
    post = Postprocessor([TensorSpec("output", (1, 100, 85), F32)], (416, 416))
    assert post.layout == "decoded"


def test_forced_end2end_without_those_outputs_is_refused():
    with pytest.raises(InputError, match="end2end"):
        Postprocessor([TensorSpec("output", (1, 3549, 85), F32)], (416, 416), "end2end")


def test_end2end_outputs_found_by_shape_when_names_differ():
    outputs = [
        TensorSpec("a", (1, 1), I32),
        TensorSpec("b", (1, 100, 4), F32),
        TensorSpec("c", (1, 100), F32),
        TensorSpec("d", (1, 100), I32),
    ]
    assert end2end_roles(outputs) == {"num_dets": "a", "det_boxes": "b", "det_scores": "c", "det_classes": "d"}


def test_end2end_respects_num_dets_and_thresholds():
    roles = [
        TensorSpec("num_dets", (1, 1), I32),
        TensorSpec("det_boxes", (1, 4, 4), F32),
        TensorSpec("det_scores", (1, 4), F32),
        TensorSpec("det_classes", (1, 4), I32),
    ]
    post = Postprocessor(roles, (100, 100))
    outputs = {
        "num_dets": np.array([[3]], np.int32),
        "det_boxes": np.array([[[0, 0, 10, 10], [50, 50, 60, 60], [1, 1, 10, 10], [5, 5, 9, 9]]], np.float32),
        "det_scores": np.array([[0.9, 0.2, 0.8, 0.99]], np.float32),
        "det_classes": np.array([[1, 1, 2, 1]], np.int32),
    }
    dets = post(outputs, 0.5, (200, 200), post_cfg())
    assert dets.scores.tolist() == pytest.approx([0.9, 0.8])  # the 4th slot is past num_dets
    np.testing.assert_allclose(dets.boxes[0], [0, 0, 20, 20])  # divided by the ratio
    agnostic = post(outputs, 0.5, (200, 200), post_cfg(agnostic=True))
    assert agnostic.scores.tolist() == pytest.approx([0.9])


def post_cfg(**kw):
    from trt_viewer.core.yolox import PostprocessConfig

    return PostprocessConfig(**kw)


@pytest.mark.parametrize(
    "op, shape, expected",
    [
        ("NonMaxSuppression", (1, 80, 3549), 80),  # ONNX: scores [batch, classes, boxes]
        ("EfficientNMS_TRT", (1, 3549, 80), 80),  # TensorRT plugins: [batch, boxes, classes]
        ("BatchedNMSDynamic_TRT", (1, 3549, 3), 3),
        ("BatchedNMS_TRT", (1, 8400, 1), 1),
        ("NonMaxSuppression", (1, None, 3549), None),  # not fixed in the graph
        ("NonMaxSuppression", (1, "classes", 3549), None),
        ("EfficientNMS_TRT", (1, 3549, 80, 1), None),
        ("EfficientNMS_TRT", None, None),
        ("TopK", (1, 80, 3549), None),
    ],
)
def test_nms_class_count(op, shape, expected):
    assert nms_class_count(op, shape) == expected


def test_end2end_outputs_do_not_give_the_class_count(models):
    with open_backend(models["end2end"]) as backend:
        assert num_classes(backend.outputs) is None
    with open_backend(models["raw"]) as backend:
        assert num_classes(backend.outputs) == 2
