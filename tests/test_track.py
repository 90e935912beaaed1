"""The trackers of trt_viewer.track: ids through misses, per class, reset, timestamps."""

from __future__ import annotations

import numpy as np
import pytest

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.errors import InputError
from trt_viewer.track import ByteTrack, Sort, make_tracker
from trt_viewer.track.assignment import hungarian, match

FPS = 30.0


def box(x: float, y: float, w: float = 40, h: float = 60) -> list[float]:
    return [x, y, x + w, y + h]


def dets(*items: tuple[list[float], float, int]) -> Detections:
    if not items:
        return Detections.empty()
    return Detections.from_arrays([b for b, _, _ in items], [s for _, s, _ in items], [c for _, _, c in items])


def ids_by_class(out: Detections) -> dict[int, int]:
    assert out.track_ids is not None
    return dict(zip(out.class_ids.tolist(), out.track_ids.tolist()))


def run(tracker: ByteTrack, frames: list[Detections], start: int = 0) -> list[Detections]:
    return [tracker.update(d, (start + i) / FPS) for i, d in enumerate(frames)]


def test_a_moving_object_keeps_its_id_through_a_short_miss():
    tracker = ByteTrack()
    seen = []
    for i in range(40):
        x = 100 + 8 * i
        frame = dets() if 15 <= i < 22 else dets((box(x, 200), 0.9, 0))
        out = tracker.update(frame, i / FPS)
        seen.append(out.track_ids.tolist())
    assert seen[0] == [1]  # the first frame after a reset confirms at once
    assert all(s == [] for s in seen[15:22])  # lost tracks are not reported
    assert all(s == [1] for s in seen[22:]), seen[22:]


def test_a_track_lost_longer_than_the_buffer_ends():
    tracker = ByteTrack(track_buffer=10)  # a third of a second
    run(tracker, [dets((box(100, 100), 0.9, 0))] * 5)
    assert tracker.lost_seconds == pytest.approx(10 / 30)
    run(tracker, [dets()] * 12, start=5)
    out = run(tracker, [dets((box(100, 100), 0.9, 0))] * 3, start=17)
    assert [o.track_ids.tolist() for o in out] == [[], [2], [2]]  # new, confirmed on its 2nd frame


def test_tracks_are_per_class_and_ids_unique_across_classes():
    tracker = ByteTrack()
    # Two objects of different classes on top of one another, moving together.
    outs = run(tracker, [dets((box(100 + 5 * i, 100), 0.9, 0), (box(102 + 5 * i, 101), 0.85, 1)) for i in range(10)])
    assert all(ids_by_class(o) == {0: 1, 1: 2} for o in outs)
    # The ball is seen as a star for one frame: a star never takes the ball's id.
    out = tracker.update(dets((box(150, 100), 0.9, 3), (box(152, 101), 0.85, 1)), 10 / FPS)
    assert ids_by_class(out) == {1: 2}  # the star is a new, unconfirmed track
    out = tracker.update(dets((box(155, 100), 0.9, 0), (box(157, 101), 0.85, 1)), 11 / FPS)
    assert ids_by_class(out) == {0: 1, 1: 2}  # the ball's track was kept while lost


def test_class_agnostic_tracking_keeps_the_id_when_the_class_flips():
    tracker = ByteTrack(class_agnostic=True)
    run(tracker, [dets((box(100 + 5 * i, 100), 0.9, 0)) for i in range(5)])
    out = tracker.update(dets((box(125, 100), 0.9, 3)), 5 / FPS)
    assert out.track_ids.tolist() == [1] and out.class_ids.tolist() == [3]


def test_a_one_frame_false_positive_gets_no_id_and_ids_stay_dense():
    tracker = ByteTrack()
    tracker.update(dets((box(100, 100), 0.9, 0)), 0.0)
    out = tracker.update(dets((box(105, 100), 0.9, 0), (box(600, 400), 0.95, 2)), 1 / FPS)
    assert out.track_ids.tolist() == [1]  # the stranger is unconfirmed
    out = tracker.update(dets((box(110, 100), 0.9, 0), (box(900, 50), 0.95, 1)), 2 / FPS)
    assert out.track_ids.tolist() == [1]
    out = tracker.update(dets((box(115, 100), 0.9, 0), (box(902, 50), 0.95, 1)), 3 / FPS)
    assert sorted(out.track_ids.tolist()) == [1, 2]  # the one seen twice is confirmed, as id 2


def test_low_score_detections_keep_a_track_bytetrack_only():
    frames = [dets((box(100 + 6 * i, 100), 0.9 if i < 5 or i >= 9 else 0.35, 0)) for i in range(12)]
    byte = [o.track_ids.tolist() for o in run(ByteTrack(), frames)]
    assert byte == [[1]] * 12  # held through the low-score frames by the second stage
    sort = [o.track_ids.tolist() for o in run(Sort(score_threshold=0.5), frames)]
    assert sort[5:9] == [[]] * 4 and sort[9] == [1]  # SORT never sees them, the track coasts


def test_new_tracks_need_a_high_score():
    tracker = ByteTrack()
    tracker.update(dets(), 0.0)
    outs = run(tracker, [dets((box(300, 300), 0.65, 1))] * 5, start=1)
    assert all(len(o) == 0 for o in outs)  # below new_track_threshold (0.7)


def test_output_carries_ids_explicitly_in_input_order():
    tracker = ByteTrack()
    a, b, c = box(100, 100), box(400, 100), box(700, 100)
    tracker.update(dets((a, 0.9, 0), (b, 0.9, 1), (c, 0.9, 2)), 0.0)
    # Same objects, listed in another order, one of them missing.
    out = tracker.update(dets((c, 0.8, 2), (a, 0.95, 0)), 1 / FPS)
    assert out.track_ids.tolist() == [3, 1]
    assert out.boxes.tolist() == [c, a] and out.scores.tolist() == pytest.approx([0.8, 0.95])
    everything = ByteTrack(keep_untracked=True)
    everything.update(dets((a, 0.9, 0)), 0.0)
    out = everything.update(dets((box(900, 500), 0.3, 1), (a, 0.9, 0)), 1 / FPS)
    assert out.track_ids.tolist() == [NO_TRACK, 1] and len(out) == 2


def test_reset_forgets_tracks_and_restarts_ids():
    tracker = ByteTrack()
    run(tracker, [dets((box(100, 100), 0.9, 0), (box(500, 100), 0.9, 1))] * 3)
    assert len(tracker) == 2
    tracker.reset()
    assert len(tracker) == 0
    out = tracker.update(dets((box(800, 300), 0.9, 2)), 100.0)
    assert out.track_ids.tolist() == [1]


def test_timestamps_drive_the_motion_model():
    """Frames dropped (a live source): the box jumps further than its width, and only a
    prediction over the elapsed time still overlaps it."""
    def track(times: list[float]) -> list[list[int]]:
        tracker = ByteTrack(low_match_iou=0.5)
        return [tracker.update(dets((box(100 + 450 * t, 100, w=30), 0.9, 0)), t).track_ids.tolist() for t in times]

    steady = [i / FPS for i in range(10)]
    assert track(steady) == [[1]] * 10
    gaps = steady + [steady[-1] + k * 4 / FPS for k in range(1, 5)]  # 60 px per update, box 30 wide
    assert track(gaps) == [[1]] * 14
    tracker = ByteTrack(low_match_iou=0.5)  # the same boxes with frame-by-frame timestamps: lost
    out = [tracker.update(dets((box(100 + 450 * t, 100, w=30), 0.9, 0)), i / FPS).track_ids.tolist()
           for i, t in enumerate(gaps)]
    assert out[10:] != [[1]] * 4


def test_non_increasing_timestamps_count_as_one_frame_each():
    tracker = ByteTrack(track_buffer=3)
    tracker.update(dets((box(100, 100), 0.9, 0)), 0.0)
    for _ in range(5):  # a folder of images: every frame at 0
        tracker.update(dets(), 0.0)
    assert len(tracker) == 0  # lost for more than 3 frames


def test_make_tracker_names():
    assert isinstance(make_tracker("bytetrack"), ByteTrack)
    assert isinstance(make_tracker("SORT"), Sort)
    assert make_tracker("none") is None
    with pytest.raises(InputError, match="unknown tracker 'ocsort'"):
        make_tracker("ocsort")
    t = make_tracker("bytetrack", frame_rate=60.0)
    assert isinstance(t, ByteTrack) and t.frame_rate == 60.0 and t.lost_seconds == 1.0


def test_crossing_objects_of_one_class_keep_their_ids():
    tracker = ByteTrack()
    outs = []
    for i in range(40):
        a = box(100 + 10 * i, 200)  # left to right
        b = box(500 - 10 * i, 210)  # right to left, passing over it
        outs.append(tracker.update(dets((a, 0.9, 0), (b, 0.9, 0)), i / FPS))
    for i, o in enumerate(outs):
        by_xy = dict(zip(map(tuple, np.round(o.boxes[:, :2]).tolist()), o.track_ids.tolist()))
        assert by_xy == {(100 + 10 * i, 200): 1, (500 - 10 * i, 210): 2}, i


def test_fifty_objects_are_tracked_without_switches():
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 1200, (50, 2))
    vel = rng.uniform(-3, 3, (50, 2))
    tracker = ByteTrack()
    first = None
    for i in range(60):
        p = pos + vel * i
        found = Detections.from_arrays(np.concatenate([p, p + 30], 1), np.full(50, 0.9), np.arange(50) % 4)
        out = tracker.update(found, i / FPS)
        if first is None:
            first = out.track_ids.copy()
        assert out.track_ids.tolist() == first.tolist()


# --- the assignment ------------------------------------------------------------------


def brute_best(cost: np.ndarray) -> float:
    import itertools

    n, m = cost.shape
    if n > m:
        return brute_best(cost.T)
    return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))


@pytest.mark.parametrize("seed", range(3))
def test_hungarian_finds_the_least_total_cost(seed):
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n, m = rng.integers(1, 6, 2)
        cost = rng.random((n, m)) if rng.random() < 0.5 else np.round(rng.random((n, m)) * 3)
        rows, cols = hungarian(cost)
        assert len(rows) == min(n, m) == len(set(rows.tolist())) == len(set(cols.tolist()))
        assert cost[rows, cols].sum() == pytest.approx(brute_best(cost))
    big = rng.random((40, 45))  # the numpy path
    rows, cols = hungarian(big)
    assert len(set(cols.tolist())) == 40


def test_match_uses_only_pairs_below_the_limit_and_maximises_the_gain():
    cost = np.array([[0.1, 0.5, 1.0], [0.3, 0.9, 1.0], [1.0, 1.0, 0.2]])
    rows, cols = match(cost, 0.8)
    # (0,1) + (1,0) gains 0.3 + 0.5 = 0.8 > (0,0) alone 0.7; (2,2) stands apart.
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 1), (1, 0), (2, 2)]
    rows, cols = match(np.full((2, 3), 0.95), 0.8)
    assert len(rows) == 0
    rows, cols = match(np.zeros((0, 4)), 0.8)
    assert len(rows) == 0
