import numpy as np
import pytest

from trt_viewer.core.detections import Detections, label_for


def sample() -> Detections:
    return Detections.from_arrays(
        [[0, 0, 10, 10], [5, 5, 20, 20], [1, 2, 3, 4]], [0.9, 0.4, 0.7], [0, 2, 1]
    )


def test_empty_is_a_value_not_none():
    e = Detections.empty()
    assert len(e) == 0 and e.boxes.shape == (0, 4) and e.boxes.dtype == np.float32
    assert e.to_records(["a"]) == []


def test_mask_and_index_keep_arrays_parallel():
    d = sample()
    high = d[d.scores > 0.5]
    assert len(high) == 2
    assert high.class_ids.tolist() == [0, 1]
    assert high.boxes[1].tolist() == [1, 2, 3, 4]
    one = d[1]
    assert isinstance(one, Detections) and one.class_ids.tolist() == [2]
    assert d[-1].class_ids.tolist() == [1]
    assert len(d[np.array([2, 0])]) == 2


def test_inconsistent_arrays_are_refused():
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4), np.float32), np.zeros(3, np.float32), np.zeros(2, np.int64))


def test_records_carry_labels_and_fallback_names():
    recs = sample().to_records(["cat", "dog"])
    assert recs[0] == {"box": [0.0, 0.0, 10.0, 10.0], "score": 0.9, "class_id": 0, "label": "cat"}
    assert recs[1]["label"] == "class_2"
    assert label_for([], 5) == "class_5"
