"""Line counts, zones and dwell (trt_viewer.track.counting), and the zone file checks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.errors import InputError
from trt_viewer.track import Counter, LineZone, PolygonZone, Trails, check_in_frame, load_zones

FPS = 30.0
LINE = ((0.0, 300.0), (1000.0, 300.0))  # left to right: "in" is downwards on screen


def at(*tracks: tuple[int, float, float, int]) -> Detections:
    """Tracked detections whose anchor (bottom-centre) is at (x, y): (id, x, y, class)."""
    if not tracks:
        return Detections.empty().with_track_ids([])
    boxes = [[x - 20, y - 50, x + 20, y] for _, x, y, _ in tracks]
    return Detections.from_arrays(boxes, [0.9] * len(tracks), [c for *_, c in tracks], [t for t, *_ in tracks])


def feed(counter: Counter, frames: list[Detections], start: int = 0) -> list:
    events = []
    for i, d in enumerate(frames, start):
        events += counter.update(d, i, i / FPS)
    return events


def line_counter(**kw) -> tuple[Counter, LineZone]:
    line = LineZone(*LINE, name="gate")
    return Counter([line], **kw), line


def test_a_crossing_counts_once_in_the_right_direction_and_class():
    counter, line = line_counter()
    events = feed(counter, [at((7, 500, 250 + 10 * i, 2)) for i in range(12)])  # downwards across y=300
    assert [(e.kind, e.zone, e.track_id, e.class_id) for e in events] == [("in", "gate", 7, 2)]
    assert events[0].frame == 7  # on the line at frame 5 (no side), past it at 6 and 7
    assert line.in_counts == {2: 1} and line.out_counts == {}
    record = events[0].to_record(["ball", "box", "ring", "star"])
    assert record == {"event": "in", "line": "gate", "track_id": 7, "class_id": 2, "label": "ring",
                      "frame": 7, "time": round(7 / FPS, 4)}
    counter, line = line_counter()
    feed(counter, [at((1, 500, 350 - 10 * i, 0)) for i in range(12)])  # upwards
    assert line.out_counts == {0: 1} and line.in_counts == {}


def test_flicker_across_the_line_is_not_a_crossing():
    counter, line = line_counter()
    ys = [280, 290, 295, 305, 295, 290, 296, 304, 296, 292]  # one frame over the line, twice
    assert feed(counter, [at((1, 500, y, 0)) for y in ys]) == []
    assert line.total_in == line.total_out == 0
    counter, line = line_counter(min_frames=1)
    feed(counter, [at((1, 500, y, 0)) for y in ys])
    assert line.total_in == 1 and line.total_out == 1  # counted once per direction at most


def test_a_track_is_counted_once_per_direction():
    counter, line = line_counter()
    ys = [280, 320, 330, 280, 270, 320, 330, 280, 270]
    feed(counter, [at((1, 500, y, 0)) for y in ys])
    assert line.in_counts == {0: 1} and line.out_counts == {0: 1}


def test_going_round_the_end_of_the_line_is_not_a_crossing():
    counter, line = line_counter()
    path = [(900, 250), (1050, 250), (1100, 300), (1050, 350), (900, 350), (880, 360)]
    feed(counter, [at((1, x, y, 0)) for x, y in path for _ in range(2)])
    assert line.total_in == line.total_out == 0


def test_an_id_switch_on_the_line_is_not_counted_twice():
    """Track 1 crosses and is counted; it is lost, and the object comes back as track 2,
    its box back on the side it came from (as at an occlusion), then crosses again."""
    counter, line = line_counter()
    frames = [at((1, 500, y, 0)) for y in (270, 280, 290, 310, 320, 330)]
    frames += [at()] * 3
    frames += [at((2, 500, y, 3)) for y in (290, 295, 310, 320, 330, 340)]  # and its class flipped
    events = feed(counter, frames)
    assert [(e.kind, e.track_id) for e in events] == [("in", 1)]
    assert line.in_counts == {0: 1} and line.out_counts == {}
    assert counter.switches == 1


def test_an_id_switch_just_before_the_line_still_counts():
    counter, line = line_counter()
    frames = [at((1, 500, y, 0)) for y in (250, 260, 270, 280)]
    frames += [at()] * 4  # crosses while unseen
    frames += [at((2, 500, y, 0)) for y in (330, 340, 350)]
    events = feed(counter, frames)
    assert [(e.kind, e.track_id) for e in events] == [("in", 2)]
    assert line.in_counts == {0: 1}


def test_two_objects_side_by_side_are_two_crossings():
    counter, line = line_counter()
    feed(counter, [at((1, 500, 260 + 10 * i, 0), (2, 540, 262 + 10 * i, 0)) for i in range(10)])
    assert line.in_counts == {0: 2}
    # A new id where another one ended long ago is a new object too.
    counter, line = line_counter(lost_seconds=0.2)
    frames = [at((1, 500, 260 + 10 * i, 0)) for i in range(10)] + [at()] * 10
    frames += [at((2, 500, 260 + 10 * i, 0)) for i in range(10)]
    feed(counter, frames)
    assert line.in_counts == {0: 2} and counter.switches == 0


def test_a_new_id_far_away_does_not_continue_a_track():
    counter, line = line_counter()
    frames = [at((1, 100, 260 + 10 * i, 0)) for i in range(8)] + [at((2, 800, 260 + 10 * i, 0)) for i in range(8)]
    feed(counter, frames)
    assert line.in_counts == {0: 2} and counter.switches == 0


def test_untracked_detections_are_ignored():
    counter, _ = line_counter()
    frames = [at((1, 500, 260 + 10 * i, 0)) for i in range(10)]
    frames = [d.with_track_ids([NO_TRACK]) for d in frames]
    assert feed(counter, frames) == []
    assert feed(counter, [Detections.from_arrays([[0, 0, 5, 5]], [0.9], [0])], start=10) == []


def test_zone_occupancy_dwell_and_events():
    zone = PolygonZone([[100, 100], [400, 100], [400, 400], [100, 400]], "dock")
    counter = Counter(zones=[zone])
    events = []
    for i in range(55):
        tracks = [(1, 50 + 10 * i, 200, 1)] if i < 40 else []  # through the zone (inside at frames 5 to 34)
        if i < 20:
            tracks.append((2, 200, 300, 3))  # stands in it, then is gone
        events += counter.update(at(*tracks), i, i / FPS)
        if i == 10:
            assert zone.occupancy == {1: 1, 3: 1}
            assert counter.dwell(2) == {"dock": pytest.approx(10 / FPS)}
            assert counter.dwell(1) == {"dock": pytest.approx(4 / FPS)}  # entered at frame 6
    kinds = [(e.kind, e.track_id, e.frame) for e in events]
    assert kinds == [("enter", 2, 0), ("enter", 1, 6), ("exit", 1, 36), ("exit", 2, 50)]
    # track 2 was last seen at frame 19 and ended once unseen for more than 1 s
    assert [e.dwell for e in events[2:]] == [pytest.approx(30 / FPS), pytest.approx(19 / FPS)]
    assert events[2].to_record()["zone"] == "dock" and events[2].to_record()["dwell"] == 1.0
    assert zone.entered == {1: 1, 3: 1} and zone.occupancy == {}
    summary = counter.summary(["ball", "box", "ring", "star"])
    assert summary["zones"]["dock"] == {"occupancy": {}, "entered": {"box": 1, "star": 1}}


def test_reset_zeroes_counts_unless_asked_to_keep_them():
    counter, line = line_counter()
    feed(counter, [at((1, 500, 260 + 10 * i, 0)) for i in range(10)])
    counter.reset(keep_counts=True)
    assert line.in_counts == {0: 1}
    counter.reset()
    assert line.in_counts == {} and counter.summary()["lines"]["gate"]["in_total"] == 0
    feed(counter, [at((1, 500, 260 + 10 * i, 0)) for i in range(10)])  # the same id again, after a seek
    assert line.in_counts == {0: 1}


def test_many_tracks_grow_the_state_arrays():
    counter, line = line_counter()
    for i in range(12):
        counter.update(at(*[(k + 1, 5 + 7 * k, 250 + 10 * i, k % 4) for k in range(140)]), i, i / FPS)
    assert line.total_in == 140


# --- parsing and checks --------------------------------------------------------------


def test_line_specs():
    line = LineZone.parse("10, 20, 300, 20, door")
    assert line.name == "door" and line.start == (10.0, 20.0) and line.end == (300.0, 20.0)
    assert LineZone.parse("0,0,5,5").name == "line"
    for bad in ("1,2,3", "a,b,c,d", "1,2,3,4,5,6", "5,5,5,5", "1,2,inf,4"):
        with pytest.raises(InputError) as e:
            LineZone.parse(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="outside the 640x480 frame"):
        check_in_frame([LineZone.parse("0,0,700,10,wide")], (640, 480))


def write(tmp_path, content: str):
    path = tmp_path / "zones.json"
    path.write_text(content)
    return path


def test_zone_files(tmp_path):
    path = write(tmp_path, json.dumps({"zones": [{"name": "a", "points": [[0, 0], [100, 0], [100, 100]]},
                                                 {"points": [[10, 10], [50, 10], [50, 50], [10, 50], [10, 10]]}]}))
    zones = load_zones(path, (640, 480))
    assert [z.name for z in zones] == ["a", "zone2"] and len(zones[1].points) == 4
    assert zones[1].contains(np.array([[30.0, 30.0], [60.0, 30.0]])).tolist() == [True, False]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ('[1, 2]', 'expected {"zones"'),
    ('{"zones": []}', "no zones"),
    ('{"zones": [{"name": "a"}]}', 'must be an object with "points"'),
    ('{"zones": [{"points": [[0, 0], [10, 0]]}]}', "at least 3 points, not 2"),
    ('{"zones": [{"points": [[0, 0], [10, 0], [0, 0]]}]}', "at least 3 points"),
    ('{"zones": [{"points": [[0, 0], [10, 10], [20, 20]]}]}', "not a polygon"),
    ('{"zones": [{"points": [[0, 0], [10, 10], [10, 0], [0, 10]]}]}', "edges 1 and 3 cross"),
    ('{"zones": [{"points": [[0, 0], [10, "x"], [10, 0]]}]}', "two numbers"),
    ('{"zones": [{"points": [[0, 0], [10], [10, 0]]}]}', "two numbers"),
    ('{"zones": [{"points": "abc"}]}', "list of [x, y] pairs"),
    ('{"zones": [{"name": 3, "points": [[0, 0], [10, 0], [0, 10]]}]}', "name must be"),
    ('{"zones": [{"name": "a", "points": [[0, 0], [10, 0], [0, 10]]}, '
     '{"name": "a", "points": [[0, 0], [10, 0], [0, 10]]}]}', "two zones are named 'a'"),
    ('{"zones": [{"name": "big", "points": [[0, 0], [700, 0], [0, 10]]}]}', "zone big: point (700, 0) is outside"),
])
def test_bad_zone_files_give_one_line(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(InputError) as e:
        load_zones(path, (640, 480))
    text = str(e.value)
    assert message in text and "\n" not in text and str(path) in text


def test_a_missing_zone_file(tmp_path):
    with pytest.raises(InputError, match=r"zones file .*nope\.json"):
        load_zones(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not JSON"):
        load_zones(tmp_path / "bin.json")


def test_names_must_differ():
    with pytest.raises(InputError, match="distinct names"):
        Counter([LineZone.parse("0,0,5,5,a")], [PolygonZone([[0, 0], [5, 0], [0, 5]], "a")])


def test_trails_keep_recent_points_per_track():
    trails = Trails(length=3, max_age=0.5)
    for i in range(5):
        trails.update(at((1, 10 * i, 100, 0), (2, 0, 10 * i, 1)), i / FPS)
    pts = trails.points()
    assert sorted(pts) == [1, 2] and pts[1][:, 0].tolist() == [20, 30, 40] and pts[1].shape == (3, 2)
    trails.update(at((2, 0, 50, 1)), 1.0)
    assert sorted(trails.points()) == [2]  # track 1 unseen for more than 0.5 s
    trails.reset()
    assert trails.points() == {}


def test_a_box_cut_by_the_frame_edge_does_not_cross_lines():
    """An object leaving along the bottom edge: what is left of its box slides right and
    its anchor crosses a vertical line, the object does not."""
    frames = [at((1, 500 + 15 * i, 480, 0)) for i in range(12)]  # bottom of a 1000x480 frame
    vertical = ((600.0, 0.0), (600.0, 480.0))
    counter = Counter([LineZone(*vertical, name="v")], frame_size=(1000, 480))
    assert feed(counter, frames) == []
    counter = Counter([LineZone(*vertical, name="v")])
    assert [e.kind for e in feed(counter, frames)] == ["out"]  # without frame_size it would count
