"""Track ids on Detections, the MOTChallenge writer, and the demo generator's ground truth."""

from __future__ import annotations

import io

import numpy as np
import pytest

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.demo.scenes import SceneVideo, mot_ground_truth_lines
from trt_viewer.track import MotWriter, mot_lines, read_mot


def tracked() -> Detections:
    return Detections.from_arrays([[10, 20, 50, 80], [100, 100, 130.5, 160.25], [0, 0, 5, 5]],
                                  [0.9, 0.75, 0.2], [0, 2, 1], [3, 12, NO_TRACK])


def test_detections_carry_track_ids_through_indexing_and_records():
    d = tracked()
    assert d.tracked and not Detections.empty().tracked
    assert d[1].track_ids.tolist() == [12] and d[d.scores > 0.5].track_ids.tolist() == [3, 12]
    assert d[np.array([2, 0])].track_ids.tolist() == [NO_TRACK, 3]
    recs = d.to_records(["a", "b", "c"])
    assert [r["track_id"] for r in recs] == [3, 12, None]
    assert recs[0] == {"box": [10.0, 20.0, 50.0, 80.0], "score": 0.9, "class_id": 0, "label": "a", "track_id": 3}
    plain = d.with_track_ids(None)
    assert plain.track_ids is None and "track_id" not in plain.to_records([])[0]
    with pytest.raises(ValueError, match="track_ids"):
        Detections(d.boxes, d.scores, d.class_ids, np.array([1, 2]))


def test_mot_lines_are_one_based_and_skip_untracked(tmp_path):
    assert mot_lines(0, tracked()) == ["1,3,10.00,20.00,40.00,60.00,0.9000,-1,-1,-1\n",
                                       "1,12,100.00,100.00,30.50,60.25,0.7500,-1,-1,-1\n"]
    assert mot_lines(5, Detections.empty()) == [] and mot_lines(0, tracked().with_track_ids(None)) == []
    path = tmp_path / "out.txt"
    with MotWriter(path) as writer:
        assert writer.write(0, tracked()) == 2
        writer.write(1, Detections.empty().with_track_ids([]))
        writer.write(2, tracked()[:1])
    assert writer.lines == 3
    back = read_mot(path)
    assert sorted(back) == [1, 3]
    ids, boxes, scores = back[1]
    assert ids.tolist() == [3, 12] and boxes[1].tolist() == [100.0, 100.0, 130.5, 160.25]
    assert scores.tolist() == pytest.approx([0.9, 0.75])
    stream = io.StringIO()
    MotWriter(stream).write(9, tracked()[:1])
    assert stream.getvalue().startswith("10,3,")


def test_clip_ground_truth_names_each_object_for_the_whole_clip(tmp_path):
    clip = SceneVideo(5, 320, 240, n_frames=40)
    seen: dict[int, int] = {}
    for i in (0, 13, 39):
        scene, gt = clip.frame_and_truth(i)
        plain = clip.frame(i)
        assert np.array_equal(scene.image, plain.image) and np.array_equal(gt.boxes, plain.boxes)
        assert np.array_equal(gt.class_ids, plain.class_ids) and len(gt) == len(plain.boxes)
        assert len(set(gt.object_ids.tolist())) == len(gt)
        for oid, cls in zip(gt.object_ids.tolist(), gt.class_ids.tolist()):
            assert clip.tracks[oid - 1].cls == cls
            assert seen.setdefault(oid, cls) == cls
        only = clip.ground_truth(i)
        assert np.array_equal(only.object_ids, gt.object_ids)
    n = clip.write_mot_ground_truth(tmp_path / "gt.txt", frames=3)
    lines = (tmp_path / "gt.txt").read_text().splitlines()
    assert n == len(lines) > 0 and lines[0].startswith("1,") and lines[0].endswith(",1,1,1")
    first = clip.ground_truth(0)
    x1, y1, x2, y2 = first.boxes[0].tolist()
    assert lines[0] == f"1,{first.object_ids[0]},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,1,1"
    with_classes = mot_ground_truth_lines([first], classes=True)
    assert with_classes[0].rstrip().endswith(f",{first.class_ids[0] + 1},1")
