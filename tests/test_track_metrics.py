"""CLEAR MOT, IDF1 and HOTA (trt_viewer.track.metrics) on hand-made cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from trt_viewer.track.metrics import ALPHAS, Frame, evaluate, pooled


def b(x: float, y: float = 0.0, w: float = 10.0, h: float = 10.0) -> list[float]:
    return [x, y, x + w, y + h]


def frame(gt: dict[int, list[float]], tr: dict[int, list[float]]) -> Frame:
    return Frame(np.array(list(gt), np.int64), np.array(list(gt.values()), float).reshape(-1, 4),
                 np.array(list(tr), np.int64), np.array(list(tr.values()), float).reshape(-1, 4))


def test_perfect_tracking_scores_one():
    frames = [frame({1: b(i), 2: b(50 + i)}, {7: b(i), 9: b(50 + i)}) for i in range(10)]
    s = evaluate(frames).summary()
    assert s["MOTA"] == 1.0 and s["IDF1"] == 1.0 and s["HOTA"] == pytest.approx(1.0)
    assert s["IDSW"] == 0 and s["MT"] == 2 and s["CLR_TP"] == 20 and s["MOTP"] == 1.0 and s["Frag"] == 0


def test_one_id_switch_halfway():
    frames = [frame({1: b(i)}, {5 if i < 5 else 6: b(i)}) for i in range(10)]
    s = evaluate(frames).summary()
    assert s["IDSW"] == 1
    assert s["MOTA"] == pytest.approx(0.9)  # (10 - 0 - 1) / 10
    assert s["IDTP"] == 5 and s["IDFN"] == 5 and s["IDFP"] == 5 and s["IDF1"] == pytest.approx(0.5)
    # every detection is right at every threshold, each association half right
    assert s["DetA"] == pytest.approx(1.0) and s["AssA"] == pytest.approx(0.5)
    assert s["HOTA"] == pytest.approx(np.sqrt(0.5))


def test_misses_and_false_positives():
    frames = [frame({1: b(0), 2: b(50)}, {3: b(0), 4: b(200)}) for _ in range(4)]
    s = evaluate(frames).summary()
    assert (s["CLR_TP"], s["CLR_FN"], s["CLR_FP"]) == (4, 4, 4)
    assert s["MOTA"] == pytest.approx((4 - 4) / 8)
    assert s["IDF1"] == pytest.approx(4 / (4 + 2 + 2))
    assert s["DetA"] == pytest.approx(4 / 12) and s["AssA"] == pytest.approx(1.0)
    assert s["MT"] == 1 and s["ML"] == 1


def test_a_loose_box_counts_for_hota_below_its_iou_only():
    # IoU of [0,10]x[0,10] with [0,10]x[0,4.2]: 0.42
    frames = [frame({1: b(0)}, {2: [0, 0, 10, 4.2]})]
    s = evaluate(frames).summary()
    assert s["CLR_TP"] == 0 and s["MOTA"] == -1.0 and s["IDF1"] == 0.0  # below 0.5: a miss and a false positive
    matched = int(np.sum(ALPHAS <= 0.42))
    assert matched == 8
    assert s["HOTA"] == pytest.approx(matched / len(ALPHAS))
    assert s["LocA"] == pytest.approx((0.42 * matched + (len(ALPHAS) - matched)) / len(ALPHAS))  # 1 where none


def test_a_detection_switching_between_objects_costs_association():
    # Two objects; the tracker swaps their ids in the second half.
    frames = [frame({1: b(0), 2: b(50)}, {8: b(0), 9: b(50)} if i < 6 else {9: b(0), 8: b(50)}) for i in range(12)]
    s = evaluate(frames).summary()
    assert s["IDSW"] == 2 and s["MOTA"] == pytest.approx((24 - 2) / 24)
    assert s["IDF1"] == pytest.approx(0.5)


def test_empty_frames_and_sequences():
    s = evaluate([frame({}, {}), frame({1: b(0)}, {}), frame({}, {4: b(0)})]).summary()
    assert (s["CLR_TP"], s["CLR_FN"], s["CLR_FP"]) == (0, 1, 1) and s["IDF1"] == 0.0 and s["HOTA"] == 0.0
    s = evaluate([frame({1: b(0)}, {})]).summary()
    assert s["IDFN"] == 1 and s["ML"] == 1
    with pytest.raises(ValueError, match="twice"):
        evaluate([Frame(np.array([1, 1]), np.array([b(0), b(1)]), np.zeros(0, int), np.zeros((0, 4)))])


def test_pooling_sums_the_counts():
    a = evaluate([frame({1: b(i)}, {5 if i < 5 else 6: b(i)}) for i in range(10)])
    c = evaluate([frame({1: b(i)}, {1: b(i)}) for i in range(30)])
    s = pooled([a, c]).summary()
    assert s["IDSW"] == 1 and s["CLR_TP"] == 40 and s["MOTA"] == pytest.approx(39 / 40)
    assert s["IDF1"] == pytest.approx(35 / (35 + 2.5 + 2.5))
    # association is weighted by true positives: (10 * 0.5 + 30 * 1) / 40
    assert s["AssA"] == pytest.approx(35 / 40) and s["HOTA"] == pytest.approx(np.sqrt(35 / 40))
