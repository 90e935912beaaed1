"""Every kind of source opens, reads in order, and fails with one clear line."""

import os
import struct
import threading
import zlib

import cv2
import numpy as np
import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.core import sources
from trt_viewer.core.sources import open_source
from trt_viewer.errors import InputError


def read_all(source):
    frames = []
    while (f := source.read()) is not None:
        frames.append(f)
    return frames


def test_video_file_reads_every_frame_in_order(square_video):
    with open_source(str(square_video)) as src:
        assert not src.live and src.length == 24 and src.fps == pytest.approx(10)
        frames = read_all(src)
    assert [f.index for f in frames] == list(range(24))
    assert frames[0].image.shape == (64, 96, 3) and frames[0].name == str(square_video)
    assert frames[3].timestamp == pytest.approx(0.3)
    assert src.shortfall == 0 and src.end_reason == "ended" and src.skipped == 0


def test_single_image_and_folder_use_file_names(tmp_path):
    for i, img in enumerate(moving_square_frames(3)):
        cv2.imwrite(str(tmp_path / f"img{10 - i * 5}.png"), img)  # img10, img5, img0
    (tmp_path / "notes.txt").write_text("not an image")
    with open_source(str(tmp_path)) as src:
        names = [f.name for f in read_all(src)]
    assert names == ["img0.png", "img5.png", "img10.png"]  # natural order, text files skipped
    with open_source(str(tmp_path / "img5.png")) as src:
        frames = read_all(src)
    assert len(frames) == 1 and frames[0].name == "img5.png" and src.length == 1


def test_grey_and_alpha_images_become_bgr(tmp_path):
    cv2.imwrite(str(tmp_path / "g.png"), np.zeros((10, 12), np.uint8))
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((10, 12, 4), np.uint8))
    for name in ("g.png", "a.png"):
        with open_source(str(tmp_path / name)) as src:
            assert src.read().image.shape == (10, 12, 3)


def test_header_longer_than_the_video_stops_at_last_good_frame(tmp_path):
    full = write_video(tmp_path / "full.avi", moving_square_frames(40))
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with open_source(str(cut)) as src:
        frames = read_all(src)
        assert src.length == 40
        assert 0 < len(frames) < 40
        assert src.shortfall == 40 - len(frames)
        assert src.end_reason == "ended"  # a file ends; shortfall says it ended early


def test_seek_in_a_video(square_video):
    with open_source(str(square_video)) as src:
        src.seek(10)
        assert src.read().index == 10


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: (d / "empty_dir").mkdir() or d / "empty_dir", "holds no images"),
        (lambda d: _write(d / "junk.mp4", b"\0junk" * 100), "cannot decode video"),
        (lambda d: _write(d / "bad.jpg", b"not a jpeg"), "cannot decode image"),
    ],
)
def test_unusable_sources_say_why(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        open_source(str(make(tmp_path)))


def test_camera_index_without_a_camera():
    with pytest.raises(InputError, match=r"no camera at index 7|camera 7"):
        open_source("7")


def test_unreachable_stream_fails_cleanly():
    # A closed loopback port: refused at once, not hung.
    with pytest.raises(InputError, match="stream"):
        open_source("rtsp://127.0.0.1:9/none")


# -- a folder with bad images ------------------------------------------------------------

def _jpeg(image):
    return cv2.imencode(".jpg", image)[1].tobytes()


def _huge_png(w=100_000, h=100_000):
    """A valid PNG header for an image over OpenCV's pixel limit: cv2.imdecode raises."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def mixed_folder(tmp_path):
    """img0..img5: good, corrupt, good, truncated JPEG, over OpenCV's size limit, good."""
    images = moving_square_frames(6)
    folder = tmp_path / "shots"
    folder.mkdir()
    cv2.imwrite(str(folder / "img0.png"), images[0])
    (folder / "img1.jpg").write_bytes(b"\xff\xd8 this is no jpeg")
    cv2.imwrite(str(folder / "img2.jpg"), images[2])
    good = _jpeg(images[3])
    (folder / "img3.jpg").write_bytes(good[: len(good) // 2])
    (folder / "img4.png").write_bytes(_huge_png())
    cv2.imwrite(str(folder / "img5.png"), images[5])
    return folder


def test_folder_skips_unreadable_images_and_keeps_going(mixed_folder, caplog):
    with caplog.at_level("WARNING", logger="trt_viewer.core.sources"), open_source(str(mixed_folder)) as src:
        assert src.length == 6 and src.end_reason == ""
        frames = read_all(src)
    assert [f.index for f in frames] == [0, 2, 5]  # the image's place in the folder
    assert [f.name for f in frames] == ["img0.png", "img2.jpg", "img5.png"]
    assert src.skipped == 3 and src.skipped_names == ["img1.jpg", "img3.jpg", "img4.png"]
    assert src.frames_read == 3 and src.end_reason == "ended"
    warnings = [r for r in caplog.records if r.name == "trt_viewer.core.sources"]
    assert len(warnings) == 3 and all(r.levelname == "WARNING" for r in warnings)
    for record, name in zip(warnings, src.skipped_names):
        line = record.getMessage()
        assert name in line and "skipped" in line and "\n" not in line


def test_seeking_a_folder_maps_index_to_file_and_warns_once(mixed_folder, caplog):
    with caplog.at_level("WARNING", logger="trt_viewer.core.sources"), open_source(str(mixed_folder)) as src:
        src.seek(2)
        assert src.read().index == 2
        assert src.read().index == 5  # 3 and 4 skipped
        src.seek(1)
        assert src.read().index == 2  # 1 skipped again, not warned again
        src.seek(5)
        assert src.read().name == "img5.png" and src.read() is None
    assert src.skipped_names == ["img3.jpg", "img4.png", "img1.jpg"]
    assert len([r for r in caplog.records if r.name == "trt_viewer.core.sources"]) == 3


def test_folder_where_no_image_can_be_read_fails_at_the_end(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"junk")
    (tmp_path / "b.png").write_bytes(b"")
    src = open_source(str(tmp_path))
    with pytest.raises(InputError, match=r"no image in folder .* could be read"):
        src.read()
    assert src.skipped == 2


def test_a_single_image_that_cannot_be_decoded_is_refused_at_open(tmp_path):
    (tmp_path / "big.png").write_bytes(_huge_png())  # cv2.error from imdecode today
    with pytest.raises(InputError, match="cannot decode image"):
        open_source(str(tmp_path / "big.png"))


# -- names, numbers and things that are no file ------------------------------------------

def test_an_all_digit_folder_or_file_name_is_a_path_not_a_camera(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "20240501"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), moving_square_frames(1)[0])
    video = write_video(tmp_path / "clip.avi", moving_square_frames(5))
    video.rename(tmp_path / "31337")
    with open_source("20240501") as src:
        assert not src.live and [f.name for f in read_all(src)] == ["a.png"]
    with open_source("31337") as src:
        assert not src.live and src.length == 5 and len(read_all(src)) == 5


@pytest.mark.parametrize("index", ["99999999999", "100", "700", "12345"])
def test_camera_index_beyond_the_limit_is_refused_without_opencv(index, monkeypatch):
    def no_opencv(*args):
        raise AssertionError("OpenCV was asked to open a camera")

    monkeypatch.setattr(cv2, "VideoCapture", no_opencv)
    with pytest.raises(InputError, match=f"^no camera at index {int(index)}$"):
        open_source(index)


def test_a_named_pipe_is_refused_at_once(tmp_path):
    """FFmpeg's open of a FIFO with no writer blocks forever."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    outcome = []

    def attempt():
        try:
            open_source(str(fifo)).close()
            outcome.append("opened")
        except InputError as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():  # unblock the open so the thread ends
        with open(fifo, "wb"):
            pass
        pytest.fail("open_source blocked on a FIFO")
    assert outcome and "named pipe" in outcome[0] and "\n" not in outcome[0]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_a_device_that_is_no_camera_is_refused():
    with pytest.raises(InputError, match="/dev/null is a device"):
        open_source("/dev/null")


def test_a_name_too_long_is_one_line():
    with pytest.raises(InputError) as info:
        open_source("x" * 5000)
    line = str(info.value)
    assert "\n" not in line and len(line) < 300


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_a_folder_that_cannot_be_listed_is_one_line(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        with pytest.raises(InputError, match="cannot read folder"):
            open_source(str(locked))
    finally:
        locked.chmod(0o755)


def test_url_schemes_that_can_name_a_file():
    assert sources.URL_PATTERN.match("ftp://host/clip.mp4")
    for url in ("http://h/a.mp4", "HTTPS://h/a.mp4", "ftp://h/a.mp4"):
        assert sources.FILE_URL_PATTERN.match(url)
    for url in ("rtsp://h/s", "rtmp://h/s", "udp://127.0.0.1:5000", "srt://h:1", "tcp://h:1"):
        assert sources.URL_PATTERN.match(url) and not sources.FILE_URL_PATTERN.match(url)
