"""What tracking adds to the picture (core.drawing): the track id in each label, trails,
colours per track, the counting lines and zones with their names and counts; scaled to the
view like the boxes; handed from the run's tracking to the recorder. Without tracking the
picture is as before (tests/test_gui_view_labels.py keeps the default look's pixels)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.core.drawing import (
    DEFAULT_STYLE,
    FONT,
    DrawStyle,
    LineMark,
    TrackOverlay,
    ZoneMark,
    class_colour,
    draw_detections,
    layout_detections,
    layout_tags,
    mark_colour,
    track_colour,
)
from trt_viewer.core.sources import Frame
from trt_viewer.errors import InputError
from trt_viewer.run.flight import Result
from trt_viewer.run.tracking import Tracking, TrackingOptions

NAMES = ["person", "car"]


def tracked(*rows: tuple[float, float, float, float, float, int, int]) -> Detections:
    """Detections from (x1, y1, x2, y2, score, class_id, track_id) rows."""
    a = np.array(rows, np.float64).reshape(-1, 7)
    return Detections.from_arrays(a[:, :4], a[:, 4], a[:, 5], a[:, 6])


def blank(h: int = 300, w: int = 400) -> np.ndarray:
    return np.full((h, w, 3), 40, np.uint8)


def pixels_of(image: np.ndarray, colour: tuple[int, ...], tolerance: int = 0) -> np.ndarray:
    """A mask of the pixels of (nearly) this BGR colour."""
    return np.all(np.abs(image[..., :3].astype(int) - np.array(colour)) <= tolerance, axis=2)


def label_width(text: str, h: int = 300, w: int = 400, style: DrawStyle | None = None) -> int:
    scale = max(0.4, min(h, w) / 1100) * (style.font_size if style else 1.0)
    (tw, _), _ = cv2.getTextSize(text, FONT, scale, 1)
    return tw + 5


# ============================================================================ ids and colours
def test_the_label_starts_with_the_track_id_where_there_is_one():
    dets = tracked((100, 120, 300, 260, 0.91, 0, 12), (20, 40, 80, 100, 0.5, 1, NO_TRACK))
    first, second = layout_detections((300, 400, 3), dets, NAMES)
    assert first.text == "#12 person 0.91" and first.track_id == 12
    assert second.text == "car 0.50"  # on no confirmed track: no id
    assert first.label[2] - first.label[0] + 1 == label_width("#12 person 0.91")
    no_score = layout_detections((300, 400, 3), dets, NAMES, DrawStyle(show_confidence=False))
    assert [p.text for p in no_score] == ["#12 person", "car"]
    image = draw_detections(blank(), dets, NAMES)
    # The label's block, in the class's colour, is as wide as its text with the id.
    x1, y1, x2, y2 = first.label
    assert pixels_of(image[y1:y2 + 1, x1:x2 + 1], class_colour(0)).mean() > 0.5


def test_colours_per_track_or_per_class():
    dets = tracked((100, 120, 300, 260, 0.9, 0, 7), (320, 120, 380, 260, 0.9, 0, NO_TRACK))
    by_class = draw_detections(blank(), dets, NAMES)
    by_track = draw_detections(blank(), dets, NAMES, DrawStyle(colour_by="track"))
    assert track_colour(7) != class_colour(0)
    assert pixels_of(by_class[:, :310], class_colour(0)).any() and not pixels_of(by_class, track_colour(7)).any()
    assert pixels_of(by_track[:, :310], track_colour(7)).any()  # the tracked box and its label
    assert not pixels_of(by_track[:, :310], class_colour(0)).any()
    assert pixels_of(by_track[:, 310:], class_colour(0)).any()  # the untracked one keeps its class's


# ============================================================================ trails
def test_a_trail_is_drawn_through_its_points_and_cut_to_the_styles_length():
    points = np.array([[20 + 10 * i, 280.0] for i in range(30)])  # along y = 280, x 20..310
    overlay = TrackOverlay({5: points}, {5: 1})
    style = DrawStyle(trail_length=10)
    image = draw_detections(blank(), Detections.empty(), NAMES, style, overlay)
    row = pixels_of(image[278:283], class_colour(1), 40).any(axis=0)  # coloured by its class
    xs = np.flatnonzero(row)
    assert len(xs) and xs.min() >= 220 - 2 and xs.max() <= 310 + 2  # the newest 10 points only
    assert row[222:308].all()  # a line through them, no gaps
    full = draw_detections(blank(), Detections.empty(), NAMES, DrawStyle(trail_length=30), overlay)
    assert pixels_of(full[278:283, 15:40], class_colour(1), 40).any()
    by_track = draw_detections(blank(), Detections.empty(), NAMES, DrawStyle(colour_by="track"), overlay)
    assert pixels_of(by_track[278:283], track_colour(5), 40).any()
    off = draw_detections(blank(), Detections.empty(), NAMES, DrawStyle(trails=False), overlay)
    assert np.array_equal(off, blank())


# ============================================================================ lines and zones
def test_lines_and_zones_are_drawn_with_their_names_and_counts():
    line = LineMark("door", (200, 20), (200, 280), in_count=3, out_count=2)
    zone = ZoneMark("queue", ((250, 150), (380, 150), (380, 280), (250, 280)), occupancy=4)
    overlay = TrackOverlay(lines=(line,), zones=(zone,))
    assert line.text == "door  in 3  out 2" and zone.text == "queue  4 inside"
    image = draw_detections(blank(), Detections.empty(), NAMES, DrawStyle(), overlay)
    assert pixels_of(image[100:200, 199:202], mark_colour(0)).any(axis=1).all()  # the line, all along
    assert pixels_of(image[160:270, 378:383], mark_colour(1), 40).any(axis=1).all()  # the zone's right edge
    inside = image[200, 300].astype(int)
    assert (inside != 40).any() and not pixels_of(image[200:201, 300:301], mark_colour(1)).any()  # tinted
    tags = layout_tags(image.shape, overlay, DrawStyle())
    (lx1, ly1, lx2, ly2), (zx1, _, zx2, zy2) = (t.rect for t in tags)
    assert lx2 - lx1 + 1 == label_width(line.text) and zx2 - zx1 + 1 == label_width(zone.text)
    # From (200, 20) down to (200, 280), "in" is the left side (the arrow's): the label is
    # on the right, the "out" side, near the first end.
    assert lx1 > 200 and ly2 < 150
    assert zy2 < 150 and zx1 >= 0 and zx2 < 400  # above the zone, in the frame
    assert pixels_of(image[ly1:ly2 + 1, lx1:lx2 + 1], mark_colour(0)).mean() > 0.5
    # Detection labels keep clear of them.
    dets = tracked((lx1, ly2 + 3, lx1 + 50, ly2 + 80, 0.9, 0, 1))
    (placed,) = layout_detections(image.shape, dets, NAMES, DrawStyle(), [t.rect for t in tags])
    assert placed.label[1] > ly2 or placed.label[3] < ly1


def test_labels_of_lines_crossing_in_the_middle_do_not_cover_each_other():
    overlay = TrackOverlay(lines=(LineMark("a", (200, 0), (200, 300)), LineMark("b", (0, 150), (400, 150))))
    first, second = (t.rect for t in layout_tags((300, 400, 3), overlay, DrawStyle()))
    assert first[2] < second[0] or second[2] < first[0] or first[3] < second[1] or second[3] < first[1]


def test_the_view_scales_trails_lines_and_zones_like_the_boxes(qapp):
    from trt_viewer.gui.frames import render_annotated

    frame = np.full((200, 400, 3), 40, np.uint8)
    overlay = TrackOverlay({1: np.array([[20.0, 180.0], [380.0, 180.0]])}, {1: 0},
                           (LineMark("l", (200, 0), (200, 200)),))
    image, regions = render_annotated(frame, Detections.empty(), NAMES, (200, 100), 1.0, DrawStyle(), overlay)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(100, image.bytesPerLine())[:, :800]
    pixels = pixels.reshape(100, 200, 4)
    assert pixels_of(pixels[30:60, 99:102], mark_colour(0)).any(axis=1).all()  # x 200 -> 100
    assert pixels_of(pixels[88:92, 20:180], class_colour(0), 60).any(axis=0).mean() > 0.9  # y 180 -> 90
    assert len(regions) == 1 and regions[0][2] < 200  # the line's label, for the HUD to avoid


# ============================================================================ from the run
def _frame(i: int, x: float) -> Result:
    image = np.zeros((120, 200, 3), np.uint8)
    dets = Detections.from_arrays([[x, 40, x + 20, 80]], [0.9], [1])
    return Result(Frame(i, image, "f", i / 30), dets)


def test_tracking_hands_its_trails_lines_and_zones_to_drawing():
    options = TrackingOptions(lines=("100,0,100,120,gate",),
                              zones=(("pen", ((120.0, 0.0), (200.0, 0.0), (200.0, 120.0), (120.0, 120.0))),))
    tracking = Tracking(options, frame_rate=30)
    results = [tracking.apply(_frame(i, 30 + 8 * i)) for i in range(16)]  # right, across x = 100, into the pen
    overlay = results[-1].overlay
    assert overlay is not None
    assert [m.name for m in overlay.lines] == ["gate"] and overlay.lines[0].start == (100.0, 0.0)
    assert overlay.lines[0].in_count + overlay.lines[0].out_count == 1
    assert [z.name for z in overlay.zones] == ["pen"] and overlay.zones[0].occupancy == 1
    ((tid, trail),) = overlay.trails.items()
    assert overlay.trail_classes == {tid: 1}
    assert trail[-1].tolist() == [30 + 8 * 15 + 10, 80]  # bottom-centre anchors, where lines count
    assert np.all(np.diff(trail[:, 0]) == 8)
    assert results[-1].detections.track_ids is not None
    assert tracking.counts(NAMES)["zones"]["pen"]["occupancy"] == {"car": 1}
    assert results[0].overlay is not None and results[0].overlay is not overlay  # a snapshot per frame


def test_zones_given_in_memory_are_checked_like_a_zones_file():
    with pytest.raises(InputError, match="zone bow"):
        TrackingOptions(zones=(("bow", ((0.0, 0.0), (10.0, 10.0), (10.0, 0.0), (0.0, 10.0))),)).check()
    lines, zones = TrackingOptions(zones=(("z", ((0.0, 0.0), (10.0, 0.0), (0.0, 10.0))),)).check()
    assert lines == [] and [z.name for z in zones] == ["z"]


def test_recordings_and_run_o_draw_the_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import trt_viewer.run.recording as recording

    seen: list[TrackOverlay | None] = []
    real = recording.draw_detections

    def spy(image, detections, names, style=DEFAULT_STYLE, overlay=None):  # type: ignore[no-untyped-def]
        seen.append(overlay)
        return real(image, detections, names, style, overlay)

    monkeypatch.setattr(recording, "draw_detections", spy)
    tracking = Tracking(TrackingOptions(lines=("100,0,100,120,gate",)), frame_rate=30)
    recorder = recording.Recorder(NAMES, video=tmp_path / "out.mp4", fps=30)
    for i in range(3):
        recorder.write(tracking.apply(_frame(i, 30 + 8 * i)))
    recorder.write(_frame(3, 60))  # an untracked result: drawn as before
    recorder.close()
    assert len(seen) == 4 and seen[3] is None
    assert all(o is not None and o.lines[0].name == "gate" for o in seen[:3])
