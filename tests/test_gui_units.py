"""The GUI's small parts on their own: mailbox, image conversion, paths, cameras, settings."""

from __future__ import annotations

import gc
import os
import sys
import threading

import numpy as np
import pytest

from trt_viewer.core.detections import Detections
from trt_viewer.core.drawing import class_colour
from trt_viewer.gui import files
from trt_viewer.gui.cameras import linux_cameras
from trt_viewer.gui.frames import FramePacket, LatestSlot, fit_size, render
from trt_viewer.gui.saving import output_path
from trt_viewer.gui.transport import format_time
from trt_viewer.run.opening import open_cancellable


def test_latest_slot_keeps_only_the_newest_and_says_when_to_signal():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.put(1) is True  # was empty: signal the consumer
    assert slot.put(2) is False  # a signal is already on its way
    assert slot.put(3) is False
    assert slot.replaced == 2
    assert slot.take() == 3
    assert slot.take() is None
    assert slot.put(4) is True


def test_latest_slot_under_two_threads_loses_no_wakeup():
    slot: LatestSlot[int] = LatestSlot()
    signals = []
    taken = []

    def produce():
        for i in range(20000):
            if slot.put(i):
                signals.append(i)

    thread = threading.Thread(target=produce)
    thread.start()
    while thread.is_alive() or signals:
        if signals:
            signals.pop()
            item = slot.take()
            if item is not None:
                taken.append(item)
    thread.join()
    final = slot.take()
    # Whatever was put last was either taken after a signal or is still waiting with one.
    assert final is None and taken[-1] == 19999
    assert taken == sorted(taken)


@pytest.mark.parametrize(("image", "box", "expected"), [
    ((1920, 1080), (960, 960), (960, 540)),
    ((640, 480), (1280, 720), (960, 720)),
    ((100, 100), (0, 0), (100, 100)),
])
def test_fit_size_keeps_the_aspect(image, box, expected):
    assert fit_size(image, box) == expected


def test_qimage_owns_its_pixels_and_has_the_right_colours(qapp):
    bgr = np.zeros((40, 60, 3), np.uint8)
    bgr[:, :30] = (255, 0, 0)  # blue left half
    bgr[:, 30:] = (0, 0, 255)  # red right half
    image = render(bgr, Detections.empty(), [], (120, 120), 2.0)
    del bgr
    gc.collect()
    assert (image.width(), image.height()) == (120, 80)
    assert image.devicePixelRatio() == 2.0
    assert image.pixelColor(5, 40).name() == "#0000ff"
    assert image.pixelColor(115, 40).name() == "#ff0000"
    copy = image.copy()  # implicit sharing must not alias a freed numpy buffer
    assert copy.pixelColor(115, 40).name() == "#ff0000"


def test_boxes_are_drawn_after_scaling_and_the_frame_is_left_alone(qapp):
    frame = np.full((100, 200, 3), 60, np.uint8)
    found = Detections(np.array([[100, 20, 180, 80]], np.float32), np.array([0.9], np.float32), np.array([2]))
    image = render(frame, found, ["a", "b", "c"], (100, 100))
    assert (image.width(), image.height()) == (100, 50)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(50, image.bytesPerLine())[:, :400].reshape(50, 100, 4)
    colour = np.array(class_colour(2))

    def near(row: np.ndarray) -> bool:  # the anti-aliased line is within a few levels of the colour
        return bool(np.abs(row[:, :3].astype(int) - colour).max(axis=1).min() <= 40)

    assert near(pixels[30, 49:52]) and near(pixels[30, 89:92])  # edges at x = 100 / 2 and 180 / 2
    assert not near(pixels[30, 40:47]) and not near(pixels[30, 93:100])
    assert (pixels[30, 60:80, :3] == 60).all()  # inside the box: the frame
    assert (pixels[..., 3] == 255).all()  # RGB32 stays opaque where the boxes were drawn
    assert (frame == 60).all()
    packet = FramePacket(image, frame, ["a", "b", "c"], 0, "f", 0.0, found)
    full = packet.annotated()
    assert full.shape == frame.shape and near(full[50, 99:102]) and not near(full[50, 90:97])
    assert (frame == 60).all()


@pytest.mark.parametrize(("name", "kind"), [
    ("m.onnx", "model"), ("m.ENGINE", "model"), ("m.plan", "model"), ("v.mp4", "source"),
    ("v.MKV", "source"), ("i.jpg", "source"), ("notes.txt", "unknown"), ("noext", "unknown"),
])
def test_classify(name, kind):
    assert files.classify(name) == kind


def test_a_folder_is_a_source(tmp_path):
    assert files.classify(str(tmp_path)) == "source"


def test_names_and_stems():
    assert files.display_name("2") == "Camera 2"
    assert files.display_name("/data/clip.mp4") == "clip.mp4"
    assert files.stem_for_output("rtsp://cam.local/stream") == "stream"
    assert files.stem_for_output("/data/my clip (1).mp4") == "my_clip_1_"
    assert files.spec_exists("0") and files.spec_exists("rtsp://x/y")


def test_format_time():
    assert format_time(0) == "0:00"
    assert format_time(139.4) == "2:19"
    assert format_time(3725) == "1:02:05"


def test_output_path_never_overwrites(tmp_path):
    first = output_path(tmp_path, "clip", ".png", 7)
    first.write_bytes(b"x")
    second = output_path(tmp_path, "clip", ".png", 7)
    assert second != first and second.parent == tmp_path and second.name.endswith("_f7-1.png")


def test_linux_cameras_from_sysfs(tmp_path):
    for node, index, name in (("video0", "0", "Integrated Webcam"), ("video1", "1", "Integrated Webcam"),
                              ("video2", "0", "USB Camera")):
        (tmp_path / node).mkdir()
        (tmp_path / node / "index").write_text(index + "\n")
        (tmp_path / node / "name").write_text(name + "\n")
    assert linux_cameras(tmp_path) == [(0, "Integrated Webcam"), (2, "USB Camera")]
    assert linux_cameras(tmp_path / "absent") is None


class _Source:
    def __init__(self) -> None:
        self.closed = threading.Event()

    def close(self) -> None:
        self.closed.set()


def test_a_cancelled_open_closes_the_source_when_it_finally_opens():
    release = threading.Event()
    made: list[_Source] = []

    def slow_opener(spec):
        release.wait(5)
        made.append(_Source())
        return made[-1]

    cancelled = threading.Event()
    threading.Timer(0.1, cancelled.set).start()
    assert open_cancellable(slow_opener, "0", cancelled.is_set) is None
    release.set()
    for _ in range(100):
        if made and made[0].closed.is_set():
            break
        threading.Event().wait(0.02)
    assert made and made[0].closed.is_set()


def test_open_errors_reach_the_caller():
    from trt_viewer.errors import InputError

    def failing(spec):
        raise InputError("no camera at index 3")

    with pytest.raises(InputError, match="no camera at index 3"):
        open_cancellable(failing, "3", lambda: False)


def test_recent_files_are_deduplicated_capped_and_checked(gui_settings, tmp_path):
    paths = []
    for i in range(12):
        p = tmp_path / f"clip{i}.mp4"
        p.write_bytes(b"x")
        paths.append(str(p))
        gui_settings.add_recent_source(str(p))
    gui_settings.add_recent_source(paths[5])
    recent = gui_settings.recent_sources()
    assert recent[0] == paths[5] and len(recent) == 10 and len(set(recent)) == 10
    os.remove(paths[11])
    assert paths[11] not in gui_settings.recent_sources()
    gui_settings.add_recent_source("rtsp://cam/stream")
    assert gui_settings.recent_sources()[0] == "rtsp://cam/stream"


def test_missing_qt_libraries_are_named_by_package():
    from trt_viewer.gui.preflight import XCB_LIBRARIES, missing_packages

    everything = set(XCB_LIBRARIES)
    assert missing_packages(everything) == []
    assert missing_packages(everything - {"libxcb-cursor.so.0", "libEGL.so.1"}) == ["libxcb-cursor0", "libegl1"]


def test_no_display_is_a_one_line_error(monkeypatch):
    from trt_viewer.errors import TrtViewerError
    from trt_viewer.gui import preflight

    monkeypatch.setattr(sys, "platform", "linux")
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(TrtViewerError, match=r"no display.*trt-viewer run"):
        preflight.check_display()
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr(preflight, "installed_libraries", lambda: {"libEGL.so.1"})
    with pytest.raises(TrtViewerError, match="sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0"):
        preflight.check_display()
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    preflight.check_display()  # no X: nothing to check
