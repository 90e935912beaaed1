"""Streams over the network and how sources end: a video served over HTTP is a file, a
live stream that closes "ended", one that stalls or breaks "lost".

Servers here listen on 127.0.0.1 only, on a free port."""

import functools
import http.server
import threading
import time
from typing import ClassVar

import cv2
import numpy as np
import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.core import sources
from trt_viewer.core.sources import CaptureSource, open_source


def read_all(source):
    frames = []
    while (f := source.read()) is not None:
        frames.append(f)
    return frames


class _Quiet:
    def log_message(self, *args):
        pass


class _Files(_Quiet, http.server.SimpleHTTPRequestHandler):
    pass


class _Mjpeg(_Quiet, http.server.BaseHTTPRequestHandler):
    """A live MJPEG feed, as IP cameras serve it: /end closes after the frames, /stall
    holds the connection open and sends nothing more."""

    frames: ClassVar[list[bytes]] = []
    release: ClassVar[threading.Event] = threading.Event()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            for jpg in self.frames:
                head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                self.wfile.write(head + jpg + b"\r\n")
                self.wfile.flush()
                time.sleep(0.01)
            if self.path == "/stall":
                self.release.wait(30)
        except OSError:
            pass  # the client went away


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def http_files(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server, thread = _serve(functools.partial(_Files, directory=str(root)))
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def mjpeg_feed():
    _Mjpeg.frames = [cv2.imencode(".jpg", f)[1].tobytes() for f in moving_square_frames(6)]
    _Mjpeg.release.clear()
    server, thread = _serve(_Mjpeg)
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Mjpeg.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("name", ["clip.mp4", "clip.avi"])
def test_a_video_served_over_http_is_a_file(http_files, name):
    root, base = http_files
    write_video(root / name, moving_square_frames(40))
    with open_source(f"{base}/{name}") as src:
        assert not src.live and src.length == 40 and src.seekable
        assert src.fps == pytest.approx(10)
        frames = read_all(src)
        assert [f.index for f in frames] == list(range(40))  # none dropped as stale
        assert frames[3].timestamp == pytest.approx(0.3)
        assert src.end_reason == "ended" and src.shortfall == 0
        src.seek(25)
        assert src.read().index == 25


def test_a_missing_file_over_http_fails_in_one_line(http_files):
    _, base = http_files
    with pytest.raises(sources.InputError, match="cannot open stream"):
        open_source(f"{base}/none.mp4")


def test_a_live_feed_over_http_that_closes_has_ended(mjpeg_feed):
    with open_source(f"{mjpeg_feed}/end") as src:
        assert src.live and src.length is None and not src.seekable
        frames = read_all(src)
        assert len(frames) == 6 and src.end_reason == "ended"


def test_a_live_feed_over_http_that_stalls_is_lost(mjpeg_feed, monkeypatch):
    monkeypatch.setattr(sources, "READ_TIMEOUT_MS", 1000)
    monkeypatch.setattr(CaptureSource, "stalled_s", 0.8)
    with open_source(f"{mjpeg_feed}/stall") as src:
        assert src.live
        start = time.monotonic()
        frames = read_all(src)
        assert len(frames) == 6 and src.end_reason == "lost"
        assert time.monotonic() - start < 10


# -- how a capture ends: scripted captures ------------------------------------------------

class ScriptedCapture:
    """A cv2.VideoCapture stand-in: `count` frames, then `then`: "end" (an empty read at
    once), "stall" (an empty read after `stall_s`) or "raise" (cv2.error)."""

    def __init__(self, count=3, then="end", stall_s=0.3, frame_count=0, fps=25.0):
        self.image = np.zeros((8, 8, 3), np.uint8)
        self.left, self.then, self.stall_s = count, then, stall_s
        self.props = {cv2.CAP_PROP_FRAME_COUNT: frame_count, cv2.CAP_PROP_FPS: fps}
        self.released = False

    def get(self, prop):
        return self.props.get(prop, 0.0)

    def set(self, prop, value):
        return True

    def read(self):
        if self.left > 0:
            self.left -= 1
            return True, self.image.copy()
        if self.then == "stall":
            time.sleep(self.stall_s)
        elif self.then == "raise":
            raise cv2.error("connection reset by peer")
        return False, None

    def isOpened(self):
        return True

    def release(self):
        self.released = True


def _run(then, live=True, camera=False, stalled_s=0.1):
    src = CaptureSource("rtsp://127.0.0.1/cam", ScriptedCapture(then=then), live=live, camera=camera)
    src.stalled_s = stalled_s
    frames = []
    while (f := src.read()) is not None:
        assert src.end_reason == ""
        frames.append(f)
    assert len(frames) == 3
    assert src.read() is None  # stays over
    return src.end_reason


@pytest.mark.parametrize(
    "then, live, camera, reason",
    [
        ("end", True, False, "ended"),  # the server said the stream is over
        ("stall", True, False, "lost"),  # the read timed out
        ("raise", True, False, "lost"),  # the read failed after frames came
        ("end", True, True, "lost"),  # a camera has no end of its own: it was unplugged
        ("end", False, False, "ended"),  # files end...
        ("stall", False, False, "ended"),  # ... however slowly
    ],
)
def test_end_reason(then, live, camera, reason):
    assert _run(then, live, camera) == reason


def test_end_reason_is_cleared_by_a_seek():
    src = CaptureSource("clip.mp4", ScriptedCapture(frame_count=3), live=False)
    read_all(src)
    assert src.end_reason == "ended"
    src.seek(0)
    assert src.end_reason == ""


def test_a_capture_that_breaks_before_its_first_frame_is_refused():
    with pytest.raises(sources.InputError, match="cannot decode stream"):
        CaptureSource("rtsp://127.0.0.1/cam", ScriptedCapture(count=0, then="raise"), live=True)


@pytest.mark.parametrize(
    "url, frame_count, live",
    [
        ("http://127.0.0.1/clip.mp4", 377, False),
        ("https://127.0.0.1/clip.mp4", 377, False),
        ("ftp://127.0.0.1/clip.mp4", 377, False),
        ("http://127.0.0.1/live.mjpg", -9.2e18, True),  # no count: a live feed
        ("http://127.0.0.1/live.m3u8", 0, True),
        ("rtsp://127.0.0.1/cam", 377, True),  # these schemes stay live whatever they report
        ("rtmp://127.0.0.1/app/cam", 377, True),
        ("udp://127.0.0.1:5000", 377, True),
        ("srt://127.0.0.1:5000", 377, True),
        ("tcp://127.0.0.1:5000", 377, True),
    ],
)
def test_which_urls_are_files(monkeypatch, url, frame_count, live):
    monkeypatch.setattr(sources, "_open_capture", lambda target, api: ScriptedCapture(frame_count=frame_count))
    with open_source(url) as src:
        assert src.live is live
        assert src.length == (None if live else 377) and src.seekable is (not live)
