"""Every kind of source opens, reads in order, and fails with one clear line."""

import cv2
import numpy as np
import pytest
from modelgen import moving_square_frames, write_video

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
    assert src.shortfall == 0


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
