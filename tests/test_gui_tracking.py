"""Tracking in the viewer: the Tracking menu reaches the run (on, off, while paused or
playing), lines and zones drawn with the mouse land in the frame's pixels and are counted
by the run, the counts are shown, and each source keeps its own lines and zones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_fixtures import make_window
from PySide6.QtCore import QPoint, Qt

from trt_viewer.core.drawing import DrawStyle, mark_colour
from trt_viewer.gui.tracking import Mark, marks_from_json, marks_to_json
from trt_viewer.run.tracking import TrackingOptions

pytest.importorskip("onnxruntime")

CLIP_SIZE = (640, 360)


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 frames of the demo's generated scenes; seed 304 has objects crossing both middle
    lines."""
    from trt_viewer.demo import write_video

    path = tmp_path_factory.mktemp("tracking_clip") / "scene.mp4"
    write_video(path, 304, CLIP_SIZE, 30, 120)
    return path


@pytest.fixture
def demo_model() -> Path:
    from trt_viewer.demo import demo_model_path

    return demo_model_path()


def open_paused(qtbot, win, model: Path, source: Path) -> None:
    """The run started paused on its first frame, shown."""
    win.set_model(str(model))
    win.set_source(str(source))
    win.start(paused=True)
    qtbot.waitUntil(lambda: win.packet is not None and win.state == "paused", timeout=20000)
    qtbot.waitUntil(lambda: win.shell.view.frame_size is not None, timeout=5000)


def view_point(view, x: float, y: float) -> QPoint:
    """Where the frame's pixel (x, y) is on the view."""
    rect = view.image_rect()
    w, h = view.frame_size
    return QPoint(round(rect.left() + x / w * rect.width()), round(rect.top() + y / h * rect.height()))


def track_ids(win) -> np.ndarray | None:
    return win.packet.detections.track_ids if win.packet is not None else None


def test_a_line_drawn_with_the_mouse_is_in_frame_pixels_and_counted_by_the_run(qtbot, window, demo_model,
                                                                              scene_clip):
    win = window
    open_paused(qtbot, win, demo_model, scene_clip)
    view = win.shell.view
    assert view.frame_size == CLIP_SIZE and not win.actions_.track.isChecked()
    reports: list[dict] = []
    win.run.statsReady.connect(reports.append)

    win.actions_.draw_line.trigger()
    assert view.sketch.mode == "line" and win.actions_.draw_line.isChecked()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=view_point(view, 320, 4))
    qtbot.mouseMove(view, view_point(view, 320, 180))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=view_point(view, 320, 356))
    assert view.sketch.mode == "" and not win.actions_.draw_line.isChecked()
    (line,) = win.tracking.marks
    assert line.kind == "line" and line.name == "line1"
    one_view_pixel = CLIP_SIZE[0] / view.image_rect().width()
    (x1, y1), (x2, y2) = line.points
    assert abs(x1 - 320) <= one_view_pixel and abs(x2 - 320) <= one_view_pixel, line.points
    assert abs(y1 - 4) <= one_view_pixel and abs(y2 - 356) <= one_view_pixel, line.points
    # Drawing it switched tracking on and sent it to the run; the counts start at zero.
    assert win.actions_.track.isChecked()
    assert win.tracking.options() == TrackingOptions(lines=(line.spec(),), trail_length=60)
    assert win.shell.stats.count_rows() == {"line1": ("0", "0", "")}
    assert win.shell.stats.counts_box.isVisibleTo(win.shell.stats)
    # The paused frame shows it at once, and so would a snapshot.
    assert win.packet.overlay is not None and [m.name for m in win.packet.overlay.lines] == ["line1"]
    snapshot = win.packet.annotated()
    column = snapshot[100:250, round(x1) - 2: round(x1) + 3]
    assert (np.abs(column.astype(int) - mark_colour(0)).max(axis=2) <= 40).any(axis=1).mean() > 0.8  # labels cover bits

    win.play()
    qtbot.waitUntil(lambda: win.state == "ended", timeout=120000)
    qtbot.waitUntil(lambda: bool(reports) and reports[-1]["frames"] >= 119, timeout=10000)
    counts = reports[-1]["counts"]
    assert list(counts["lines"]) == ["line1"]
    crossed = counts["lines"]["line1"]["in_total"] + counts["lines"]["line1"]["out_total"]
    assert crossed > 0, counts
    shown = win.shell.stats.count_rows()["line1"]
    assert int(shown[0]) + int(shown[1]) == crossed
    assert track_ids(win) is not None and (track_ids(win) >= 1).any()
    overlay = win.packet.overlay
    assert overlay is not None and overlay.trails and overlay.lines[0].in_count + overlay.lines[0].out_count == crossed


def test_tracking_switched_on_while_paused_and_off_and_on_while_playing(qtbot, window, demo_model, scene_clip):
    win = window
    win.actions_.loop.setChecked(True)
    open_paused(qtbot, win, demo_model, scene_clip)
    assert track_ids(win) is None
    sent: list[TrackingOptions | None] = []
    real = win.worker.set_tracking
    win.worker.set_tracking = lambda options: (sent.append(options), real(options))  # type: ignore[method-assign]

    qtbot.keyClick(win, Qt.Key.Key_T)  # Tracking > Track Objects
    assert win.actions_.track.isChecked() and sent == [TrackingOptions(trail_length=60)]
    for _ in range(3):
        index = win.packet.index
        win.step()
        qtbot.waitUntil(lambda i=index: win.packet.index > i, timeout=10000)
    ids = track_ids(win)
    assert ids is not None and (ids >= 1).any()

    # A pause keeps the tracks: the objects on screen keep their ids over it.
    win.play()
    qtbot.waitUntil(lambda: win.packet.index >= 20, timeout=30000)
    win.pause()
    qtbot.waitUntil(lambda: win.state == "paused", timeout=5000)
    qtbot.wait(200)
    before = {int(i) for i in track_ids(win) if i >= 1}
    index = win.packet.index
    win.step()
    qtbot.waitUntil(lambda: win.packet.index > index, timeout=10000)
    after = {int(i) for i in track_ids(win) if i >= 1}
    assert before and len(before & after) >= len(before) - 1, (before, after)

    win.play()
    win.actions_.track.trigger()  # off while playing
    assert sent[-1] is None
    mark = win.packet.index
    qtbot.waitUntil(lambda: win.packet.index > mark + 3 and track_ids(win) is None, timeout=30000)
    win.actions_.track.trigger()  # and on again
    mark = win.packet.index
    qtbot.waitUntil(lambda: win.packet.index > mark + 3 and track_ids(win) is not None, timeout=30000)
    assert win.worker.player.tracking is not None


def test_zones_are_clicked_corner_by_corner_and_escape_cancels(qtbot, window, gui_model, gui_video):
    win = window
    open_paused(qtbot, win, gui_model, gui_video)
    view = win.shell.view
    w, _ = view.frame_size
    corners = [(10, 10), (80, 12), (70, 55), (15, 50)]

    win.actions_.draw_zone.trigger()
    assert view.sketch.mode == "zone"
    for x, y in corners[:2]:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view_point(view, x, y))
    qtbot.keyClick(view, Qt.Key.Key_Escape)  # cancels, and does not leave (or enter) fullscreen
    assert view.sketch.mode == "" and win.tracking.marks == () and not win.actions_.draw_zone.isChecked()

    win.actions_.draw_zone.trigger()
    for x, y in corners[:-1]:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view_point(view, x, y))
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=view_point(view, *corners[-1]))
    assert not win.actions_.fullscreen.isChecked()  # the double-click closed the zone instead
    (zone,) = win.tracking.marks
    assert zone.kind == "zone" and zone.name == "zone1" and len(zone.points) == 4
    step = w / view.image_rect().width()
    assert all(abs(px - x) <= step and abs(py - y) <= step for (px, py), (x, y) in zip(zone.points, corners))

    # Enter closes one too; a line beside it gets its own name.
    win.actions_.draw_zone.trigger()
    for x, y in [(5, 5), (30, 5), (5, 30)]:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=view_point(view, x, y))
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert [m.name for m in win.tracking.marks] == ["zone1", "zone2"]
    options = win.tracking.options()
    assert options is not None and [name for name, _ in options.zones] == ["zone1", "zone2"]
    assert win.shell.stats.count_rows() == {"zone1": ("0", "", "0"), "zone2": ("0", "", "0")}
    win.actions_.remove_mark.trigger()  # Ctrl+Z
    assert [m.name for m in win.tracking.marks] == ["zone1"]
    win.actions_.clear_marks.trigger()
    assert win.tracking.marks == () and not win.actions_.remove_mark.isEnabled()
    assert not win.shell.stats.counts_box.isVisibleTo(win.shell.stats)


def test_each_source_keeps_its_lines_and_zones_and_the_next_run_gets_them(qtbot, gui_settings, gui_model, gui_video,
                                                                          tmp_path):
    other = tmp_path / "other.avi"
    other.write_bytes(gui_video.read_bytes())
    first = make_window(qtbot, gui_settings)
    first.set_model(str(gui_model))
    first.set_source(str(gui_video))
    first.tracking.add_line((40.0, 0.0, 40.0, 64.0))
    first.tracking.add_zone([(50.0, 10.0), (90.0, 10.0), (90.0, 60.0)])
    first.actions_.colour_by["track"].trigger()
    first.actions_.trail_lengths[60].trigger()
    first.set_source(str(other))
    assert first.tracking.marks == ()
    assert first.close()

    second = make_window(qtbot, gui_settings)
    assert second.actions_.track.isChecked()  # drawing a line switched it on, and that was kept
    style = second.shell.labels.style
    assert style.colour_by == "track" and style.trail_length == 60 and style.trails
    second.set_model(str(gui_model))
    second.set_source(str(gui_video))
    assert [m.name for m in second.tracking.marks] == ["line1", "zone1"]
    spec = second._spec(False)
    assert spec is not None and spec.tracking is not None
    assert spec.tracking.lines == ("40,0,40,64,line1",)
    assert spec.tracking.zones == (("zone1", ((50.0, 10.0), (90.0, 10.0), (90.0, 60.0))),)
    second.start()
    qtbot.waitUntil(lambda: second.packet is not None and second.packet.overlay is not None, timeout=15000)
    assert [m.name for m in second.packet.overlay.lines] == ["line1"]
    assert second.packet.style == style
    qtbot.waitUntil(lambda: "line1" in second.shell.stats.count_rows(), timeout=10000)
    assert set(second.shell.stats.count_rows()) == {"line1", "zone1"}
    second.set_source(str(other), start=True)
    assert second.tracking.marks == ()
    assert second.close()


def test_nothing_is_drawn_without_a_picture_and_bad_saved_marks_are_skipped(qtbot, window):
    window.actions_.draw_line.trigger()
    assert window.shell.view.sketch.mode == "" and not window.actions_.draw_line.isChecked()
    marks = (Mark("line", "line1", ((0.0, 0.0), (5.0, 5.0))), Mark("zone", "zone1", ((0.0, 0.0), (9.0, 0.0),
                                                                                      (0.0, 9.0))))
    assert marks_from_json(marks_to_json(marks)) == marks
    assert marks_from_json('{"marks": [{"kind": "line", "name": "a", "points": [[1, 1], [1, 1]]}, {"x": 1}]}') == ()
    assert marks_from_json("not json") == ()


def test_the_style_choices_are_in_the_tracking_menu(qtbot, window):
    a = window.actions_
    menus = {m.title(): m for m in (action.menu() for action in window.menuBar().actions()) if m is not None}
    tracking = menus["&Tracking"].actions()
    for action in (a.track, a.show_trails, a.draw_line, a.draw_zone, a.remove_mark, a.colour_by["track"]):
        assert action in tracking
    assert a.track.shortcut().toString() == "T"
    styles: list[DrawStyle] = []
    window.shell.labels.changed.connect(styles.append)
    a.show_trails.trigger()
    assert styles[-1].trails is False
    a.colour_by["track"].trigger()
    assert styles[-1].colour_by == "track"
    assert window.display.style == styles[-1]
