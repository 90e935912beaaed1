"""What the picture shows and how it is framed: boxes and labels (core.drawing), the rate
and count overlay (HUD), "this frame" figures that match the frame on screen, the REC
badge's time, the F1 list, and fullscreen giving the layout back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_fixtures import make_window
from PySide6.QtCore import QRectF

from trt_viewer.core.detections import Detections
from trt_viewer.core.drawing import DEFAULT_STYLE, FONT, DrawStyle, class_colour, draw_detections, layout_detections
from trt_viewer.core.sources import Frame
from trt_viewer.gui import actions as actions_module
from trt_viewer.gui.frames import FramePacket, render_annotated
from trt_viewer.gui.view import VideoView
from trt_viewer.gui.worker import Worker

NAMES = ["box", "tv", "person"]


def found(*rows: tuple[float, float, float, float, float, int]) -> Detections:
    """Detections from (x1, y1, x2, y2, score, class_id) rows."""
    array = np.array(rows, np.float32).reshape(-1, 6)
    return Detections.from_arrays(array[:, :4], array[:, 4], array[:, 5])


def label_block(image: np.ndarray, class_id: int) -> tuple[int, int, int, int] | None:
    """The solid block of the class's colour (its label) in a drawn BGR image: x1, y1, x2, y2.

    The box's own lines, one or two pixels thin, go with a morphological opening; the
    label's filled rectangle, with its text in it, stays."""
    mask = np.all(image[..., :3] == np.array(class_colour(class_id)), axis=2).astype(np.uint8)
    # The text's strokes cut the block: close them first, then drop the thin lines.
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((1, 9), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 1), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def label_size(text: str, height: int, width: int, style: DrawStyle | None = None) -> tuple[int, int]:
    """The label's filled rectangle for `text` on an image of this size: width, height."""
    scale = max(0.4, min(height, width) / 1100) * (style.font_size if style else 1.0)
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    return tw + 5, th + base + 3


# ============================================================================ labels
def test_a_label_at_the_right_edge_stays_whole_inside_the_frame():
    image = np.zeros((300, 400, 3), np.uint8)
    draw_detections(image, found((370, 120, 399, 200, 0.5, 0)), NAMES)
    block = label_block(image, 0)
    assert block is not None
    x1, y1, x2, y2 = block
    width, height = label_size("box 0.50", 300, 400)
    assert x2 <= 399 and x2 - x1 + 1 >= width - 1, (block, width)  # whole: "box 0.50", not "box 0."
    assert y2 - y1 + 1 >= height - 1


def test_a_label_with_no_room_above_goes_inside_its_box_and_stays_in_the_frame():
    image = np.zeros((300, 400, 3), np.uint8)
    draw_detections(image, found((60, -30, 200, 120, 0.9, 0)), NAMES)  # the box starts above the frame
    x1, y1, _, y2 = label_block(image, 0) or (0, -1, 0, 0)
    _, height = label_size("box 0.90", 300, 400)
    assert y1 == 0 and y2 - y1 + 1 >= height - 1 and x1 >= 60


def test_labels_of_overlapping_boxes_do_not_cover_each_other():
    image = np.zeros((300, 400, 3), np.uint8)
    draw_detections(image, found((40, 100, 200, 250, 0.9, 0), (45, 106, 210, 260, 0.8, 1)), NAMES)
    first, second = label_block(image, 0), label_block(image, 1)
    assert first is not None and second is not None
    _, height = label_size("box 0.90", 300, 400)
    for _, y1, _, y2 in (first, second):
        assert y2 - y1 + 1 >= height - 1, (first, second)  # each whole: none hides the other
    overlap = (min(first[2], second[2]) >= max(first[0], second[0])
               and min(first[3], second[3]) >= max(first[1], second[1]))
    assert not overlap, (first, second)


def test_stacked_labels_at_the_bottom_move_up_and_all_stay_readable():
    image = np.zeros((200, 400, 3), np.uint8)
    rows = [(10 + 60 * i, 185, 390, 199, 0.9, i) for i in range(3)]  # three labels want the same rows
    placed = layout_detections(image.shape, found(*rows), NAMES)
    labels = [p.label for p in placed]
    for i, a in enumerate(labels):
        assert a[0] >= 0 and a[1] >= 0 and a[2] <= 399 and a[3] <= 199
        for b in labels[i + 1:]:
            assert not (a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]), labels


def test_the_default_style_looks_as_before():
    """One detection with room around it: the pixels the original drawing code gave."""
    image = np.full((300, 400, 3), 40, np.uint8)
    draw_detections(image, found((100, 120, 300, 260, 0.87, 2)), NAMES)
    before = np.full((300, 400, 3), 40, np.uint8)
    colour = class_colour(2)
    thickness, scale = max(1, round(300 / 360)), max(0.4, 300 / 1100)
    cv2.rectangle(before, (100, 120), (300, 260), colour, thickness, cv2.LINE_AA)
    (tw, th), base = cv2.getTextSize("person 0.87", FONT, scale, 1)
    top = 120 - th - base - 2
    cv2.rectangle(before, (100, top), (100 + tw + 4, top + th + base + 2), colour, -1)
    cv2.putText(before, "person 0.87", (102, top + th + 1), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    assert np.array_equal(image, before)


def test_the_style_sets_line_width_label_size_and_confidence():
    boxes = found((100, 120, 300, 260, 0.87, 0))
    plain = draw_detections(np.zeros((300, 400, 3), np.uint8), boxes, NAMES)
    styled = DrawStyle(line_width=2.0, font_size=1.5, show_confidence=False)
    drawn = draw_detections(np.zeros((300, 400, 3), np.uint8), boxes, NAMES, styled)
    colour = np.array(class_colour(0))
    # A vertical edge of the box at x = 100: how many columns of it, at mid-height.
    def line_width(image: np.ndarray) -> int:
        return int(np.all(np.abs(image[190, 90:110].astype(int) - colour) <= 60, axis=1).sum())
    assert line_width(drawn) > line_width(plain)
    block = label_block(drawn, 0)
    assert block is not None
    width, height = label_size("box", 300, 400, styled)  # no score, larger
    assert block[2] - block[0] + 1 == width and block[3] - block[1] + 1 >= height - 1
    assert height > label_size("box 0.87", 300, 400)[1]


def test_render_reports_what_it_drew_and_snapshots_use_the_packets_style(qapp):
    frame = np.zeros((200, 400, 3), np.uint8)
    boxes = found((0, 0, 120, 100, 0.9, 0))
    style = DrawStyle(show_confidence=False)
    image, regions = render_annotated(frame, boxes, NAMES, (200, 100), 1.0, style)
    assert (image.width(), image.height()) == (200, 100)
    assert regions[0] == (0, 0, 60, 50)  # the box, scaled to the view
    label = regions[1]
    assert label[0] == 0 and label[1] == 0 and label[2] - label[0] + 1 == label_size("box", 100, 200)[0]
    packet = FramePacket(image, frame, NAMES, 0, "f", 0.0, boxes, ["box"], style, regions)
    full = packet.annotated()
    block = label_block(full, 0)
    assert block is not None and block[2] - block[0] + 1 == label_size("box", 200, 400)[0]  # no score


# ============================================================================ the HUD
def _view_with_box(qtbot, size: tuple[int, int], frame_wh: tuple[int, int]) -> VideoView:
    """A view showing a frame with a "tv 0.32" box in its top-left corner, and the HUD on."""
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    w, h = frame_wh
    frame = np.full((h, w, 3), 90, np.uint8)
    image, regions = render_annotated(frame, found((4, 4, w // 3, h // 3, 0.32, 1)), NAMES, size, 1.0)
    view.set_image(image)
    view.set_hud(["123.4 FPS", "1 detection"], regions)
    return view


def test_the_hud_covers_no_box_or_label_on_the_picture(qtbot):
    view = _view_with_box(qtbot, (640, 360), (1280, 720))  # the picture fills the view: no bars
    hud = view.hud_rect()
    assert not hud.isEmpty()
    assert view.image_rect() == QRectF(0, 0, 640, 360)
    drawn = view.hud_regions()
    assert len(drawn) == 2  # the box and its label
    assert not any(hud.intersects(r) for r in drawn), (hud, drawn)
    # And on screen: every pixel of the box and its label is the picture's, none the HUD's.
    image = view.image
    assert image is not None and image.size() == view.size()  # painted 1:1
    grabbed = view.grab().toImage().convertToFormat(image.format())
    for rect in drawn:
        r = rect.toAlignedRect()
        assert grabbed.copy(r) == image.copy(r), f"the HUD covers the picture at {rect}"


def test_the_hud_goes_in_the_letterbox_bar_when_there_is_room(qtbot):
    view = _view_with_box(qtbot, (640, 480), (1280, 720))  # 60 px bars above and below
    hud = view.hud_rect()
    assert not hud.isEmpty() and not hud.intersects(view.image_rect())
    assert view.rect().toRectF().contains(hud)


def test_the_hud_follows_the_boxes_to_a_clear_corner(qtbot):
    view = _view_with_box(qtbot, (640, 360), (1280, 720))
    first = view.hud_rect()
    everywhere_but_bottom_right = found((4, 4, 1270, 500, 0.9, 0), (4, 4, 600, 710, 0.9, 0))
    image, regions = render_annotated(np.zeros((720, 1280, 3), np.uint8), everywhere_but_bottom_right, NAMES,
                                      (640, 360), 1.0)
    view.set_image(image)
    view.set_hud(["123.4 FPS", "1 detection"], regions)
    moved = view.hud_rect()
    assert moved != first and not any(moved.intersects(r) for r in view.hud_regions())
    assert moved.right() > 320 and moved.bottom() > 250  # the bottom-right corner


# ============================================================================ this frame
def _packet(labels: list[str], window) -> FramePacket:
    ids = [NAMES.index(label) for label in labels]
    boxes = found(*[(10 + 20 * i, 10, 30 + 20 * i, 40, 0.9, c) for i, c in enumerate(ids)])
    frame = np.zeros((64, 96, 3), np.uint8)
    width, height, ratio = window.shell.view.device_size()
    return FramePacket.of(Frame(7, frame, "f", 0.0), boxes, NAMES, labels, (width, height, ratio))


def _stats(frame_counts: dict[str, int], totals: dict[str, int]) -> dict:
    return {"fps": 30.0, "frames": 10, "dropped": 0, "not_shown": 0, "stages": {},
            "frame_counts": frame_counts, "totals": totals}


def _column(table, col: int) -> dict[str, str]:
    return {table.item(r, 0).text(): table.item(r, col).text() for r in range(table.rowCount())}


def test_this_frames_figures_describe_the_frame_on_screen(qtbot, window):
    run, table = window.run, window.shell.stats.classes

    def show(labels: list[str]) -> None:
        packet = _packet(labels, window)
        run.packet = packet
        run.frameReady.emit(packet)

    show(["person", "tv"])
    # The report's own frame_counts describe the newest frame *processed*: one with nothing.
    run.statsReady.emit(_stats({}, {"person": 5, "tv": 3}))
    assert _column(table, 1) == {"person": "1", "tv": "1"}
    assert _column(table, 2) == {"person": "5", "tv": "3"}  # the run's totals stay the report's
    assert window.shell.view.hud_lines[-1] == "2 detections"
    show([])
    assert _column(table, 1) == {"person": "0", "tv": "0"}
    assert window.shell.view.hud_lines[-1] == "0 detections"
    show(["tv"])
    run.statsReady.emit(_stats({"person": 2}, {"person": 7, "tv": 4}))
    assert _column(table, 1) == {"person": "0", "tv": "1"}
    assert window.shell.view.hud_lines[-1] == "1 detection"


# ============================================================================ labels' style
def test_the_labels_style_is_kept_and_sent(qtbot, gui_settings):
    first = make_window(qtbot, gui_settings)
    sent: list[DrawStyle] = []
    first.shell.labels.changed.connect(sent.append)
    a = first.actions_
    assert a.show_confidence.isChecked() and a.line_widths[1.0].isChecked() and a.font_sizes[1.0].isChecked()
    a.line_widths[2.0].trigger()
    a.font_sizes[1.5].trigger()
    a.show_confidence.trigger()
    assert sent[-1] == DrawStyle(line_width=2.0, font_size=1.5, show_confidence=False)
    assert first.close()
    second = make_window(qtbot, gui_settings)
    assert second.shell.labels.style == DrawStyle(line_width=2.0, font_size=1.5, show_confidence=False)
    assert second.actions_.line_widths[2.0].isChecked() and not second.actions_.show_confidence.isChecked()
    assert second.close()


def test_a_new_style_redraws_the_paused_frame_and_its_snapshot(qtbot, window):
    packet = _packet(["tv"], window)
    window.run.packet = packet
    window.run.frameReady.emit(packet)
    style = DrawStyle(font_size=1.5, show_confidence=False)
    window.display.set_style(style)
    assert window.packet is packet and packet.style == style
    assert window.shell.view.image is packet.image
    block = label_block(packet.annotated(), 1)
    assert block is not None and block[2] - block[0] + 1 == label_size("tv", 64, 96, style)[0]


@pytest.mark.skipif(not hasattr(Worker, "set_style"), reason="needs Worker.set_style (the worker's side)")
def test_the_style_reaches_the_runs_frames_snapshots_and_recordings(qtbot, window, gui_model, gui_video,
                                                                     monkeypatch):
    import trt_viewer.run.recording as recording

    drawn_with: list[DrawStyle] = []
    real = recording.draw_detections

    def spy(image, detections, names, style=DEFAULT_STYLE):
        drawn_with.append(style)
        return real(image, detections, names, style)

    monkeypatch.setattr(recording, "draw_detections", spy)
    style = DrawStyle(line_width=2.0, font_size=1.5, show_confidence=False)
    a = window.actions_
    for action in (a.show_confidence, a.line_widths[2.0], a.font_sizes[1.5]):
        action.trigger()
    a.loop.setChecked(True)
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    qtbot.waitUntil(lambda: window.packet is not None and window.packet.style == style, timeout=15000)
    block = label_block(window.packet.annotated(), 0)  # the snapshot's picture
    # The label of the larger style, without its score; its block may take in the box's
    # edge next to it on some frames (one pixel wider).
    assert block is not None and block[2] - block[0] + 1 - label_size("class_0", 64, 96, style)[0] in (0, 1)
    a.record.trigger()
    qtbot.waitUntil(lambda: len(drawn_with) >= 3, timeout=15000)
    a.record.trigger()
    assert set(drawn_with) == {style}


# ============================================================================ REC, F1
def test_the_rec_badge_shows_the_time_since_recording_started(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    now = [1000.0]
    view._clock = lambda: now[0]
    view.set_recording(True)
    assert view.recording_text() == "REC 00:00"
    now[0] += 75.4
    assert view.recording_text() == "REC 01:15"
    now[0] += 3600
    assert view.recording_text() == "REC 1:01:15"
    view.set_recording(False)
    view.set_recording(True)  # a new recording starts from zero
    assert view.recording_text() == "REC 00:00"


def test_f1_lists_every_shortcut_and_the_double_click(qtbot, window, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr("trt_viewer.gui.messages.QMessageBox.information",
                        lambda parent, title, text: shown.append(text))
    window.messages.show_shortcuts()
    listed = {key.strip() for keys, _ in actions_module.SHORTCUTS for key in keys.split(",")}
    for action in window.actions():
        key = action.shortcut().toString()
        if key:
            assert key in listed, f"{action.text()} ({key}) is not in the F1 list"
            assert key in shown[0]
    assert {"Ctrl+M", "F1", "double-click"} <= listed


# ============================================================================ fullscreen
def _layout(window) -> dict:
    shell = window.shell
    return {
        "docks": {d.objectName(): (d.isVisible(), d.geometry().getRect()) for d in shell.docks()},
        "toolbar": shell.toolbar.isVisible(), "menu": window.menuBar().isVisible(),
        "status": window.statusBar().isVisible(), "transport": shell.transport.isVisible(),
        "size": window.size().toTuple(), "table": shell.stats.classes.height(),
    }


def _settled(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.isVisible() and window.shell.detection_dock.width() > 0)
    qtbot.wait(100)  # the first layout pass and the default dock sizes


def test_leaving_fullscreen_gives_back_the_layout_from_before(qtbot, window):
    _settled(qtbot, window)
    before, state = _layout(window), window.saveState()
    window.actions_.fullscreen.trigger()  # F
    qtbot.waitUntil(lambda: not window.shell.detection_dock.isVisible())
    qtbot.wait(50)
    window.actions_.leave_fullscreen.trigger()  # Esc
    try:
        qtbot.waitUntil(lambda: _layout(window) == before and window.saveState() == state, timeout=3000)
    except AssertionError:
        assert _layout(window) == before
        raise
    qtbot.wait(100)
    assert _layout(window) == before  # and it stays so


@pytest.mark.parametrize("twice", [False, True])
def test_a_window_closed_in_fullscreen_opens_with_the_layout_from_before(qtbot, gui_settings, twice):
    first = make_window(qtbot, gui_settings)
    _settled(qtbot, first)
    before, state = _layout(first), first.saveState()
    first.set_fullscreen(True)
    if twice:  # F, Esc and F again before the window manager has answered
        first.set_fullscreen(False)
        first.set_fullscreen(True)
    qtbot.wait(50)
    assert first.close()
    second = make_window(qtbot, gui_settings)
    _settled(qtbot, second)
    assert _layout(second) == before
    assert second.saveState() == state
    assert second.close()
