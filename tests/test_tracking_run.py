"""run/tracking.py's carry_ids: a frame detected again while paused keeps the track ids
of what was shown, by overlap, one to one."""

from __future__ import annotations

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.run.tracking import carry_ids

SHOWN = Detections.from_arrays([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 60]], [0.9, 0.8, 0.7], [0, 1, 0],
                               track_ids=[5, 7, NO_TRACK])


def test_each_fresh_detection_takes_the_id_it_overlaps() -> None:
    fresh = Detections.from_arrays([[21, 21, 41, 41], [0, 0, 10, 11], [100, 100, 110, 110]], [0.8, 0.9, 0.2],
                                   [1, 0, 0])
    assert carry_ids(SHOWN, fresh).track_ids.tolist() == [7, 5, NO_TRACK]


def test_little_overlap_or_another_class_carries_nothing() -> None:
    fresh = Detections.from_arrays([[6, 6, 16, 16], [20, 20, 40, 40]], [0.9, 0.8], [0, 0])  # IoU 0.16; class 0
    assert carry_ids(SHOWN, fresh).track_ids.tolist() == [NO_TRACK, NO_TRACK]
    assert carry_ids(SHOWN, fresh, same_class=False).track_ids.tolist() == [NO_TRACK, 7]


def test_one_id_goes_to_one_detection() -> None:
    fresh = Detections.from_arrays([[0, 0, 10, 10], [0, 0, 10, 9]], [0.9, 0.85], [0, 0])  # both overlap id 5
    ids = carry_ids(SHOWN, fresh).track_ids.tolist()
    assert sorted(ids) == [NO_TRACK, 5] and ids[0] == 5  # the better overlap keeps it


def test_nothing_shown_or_nothing_found() -> None:
    empty = Detections.from_arrays(np.zeros((0, 4)), [], [])
    assert carry_ids(SHOWN, empty).track_ids.tolist() == []
    fresh = Detections.from_arrays([[0, 0, 10, 10]], [0.9], [0])
    assert carry_ids(empty.with_track_ids([]), fresh).track_ids.tolist() == [NO_TRACK]
