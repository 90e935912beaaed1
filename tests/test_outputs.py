"""core.outputs: nothing lost or destroyed. Existing files are replaced only by a kept
writer, write errors are one line and leave whole lines, H.264 recordings (fragmented
MP4 that survives SIGKILL), detections to a stream, names that are not UTF-8."""

from __future__ import annotations

import csv
import errno
import io
import itertools
import json
import logging
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from trt_viewer.core import outputs, video
from trt_viewer.core.detections import Detections
from trt_viewer.core.outputs import CSV_FIELDS, AnnotatedOutput, DetectionsWriter, check_output_path, frame_record
from trt_viewer.errors import InputError, RunError

ROOT = Path(__file__).resolve().parents[1]
OLD = b"the old file\n"
SURROGATE_NAME = os.fsdecode(b"caf\xe9.png")  # a Latin-1 file name on a UTF-8 system


def record(i: int, source: str = "a.png") -> dict:
    dets = Detections.from_arrays([[1, 2, 30, 40], [5, 6, 7, 8]], [0.9, 0.5], [0, 1])
    return frame_record(i, source, (64, 96), dets, ["cat", "dog"])


def frames(n: int, size: tuple[int, int] = (96, 64), seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    w, h = size
    return [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def decoded_frames(path: Path) -> int:
    """Frames PyAV decodes, up to the first damaged packet."""
    n = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                n += 1
        except av.FFmpegError:
            pass
    return n


def write_some(kind: str, path: Path) -> DetectionsWriter | AnnotatedOutput:
    if kind == "video":
        out: DetectionsWriter | AnnotatedOutput = AnnotatedOutput(path, 10.0)
        for img in frames(3):
            out.write(img)
    elif kind == "image":
        out = AnnotatedOutput(path, None)
        out.write(frames(1)[0])
    else:
        out = DetectionsWriter(path)
        for i in range(3):
            out.write(record(i))
    return out


KINDS = [("jsonl", "d.jsonl"), ("csv", "d.csv"), ("video", "clip.mp4"), ("image", "shot.png")]


# --- staging: a failed start never touches an existing file ---------------------------


@pytest.mark.parametrize("kind, name", KINDS)
def test_discarded_writer_leaves_the_existing_file_and_no_temp(tmp_path, kind, name):
    target = tmp_path / name
    target.write_bytes(OLD)
    out = write_some(kind, target)
    assert target.read_bytes() == OLD  # untouched while writing
    out.close(keep=False)
    assert target.read_bytes() == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("kind, name", KINDS)
def test_kept_writer_replaces_the_existing_file_by_a_rename(tmp_path, kind, name):
    target = tmp_path / name
    target.write_bytes(OLD)
    target.chmod(0o640)
    out = write_some(kind, target)
    part = tmp_path / f"{target.stem}.part{target.suffix}"
    assert part.is_file() and target.read_bytes() == OLD
    staged_inode = part.stat().st_ino
    out.close(keep=True)
    out.close()  # idempotent
    assert target.stat().st_ino == staged_inode  # renamed, not copied
    assert target.read_bytes() != OLD and not part.exists()
    assert (target.stat().st_mode & 0o777) == 0o640  # the replaced file's permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("cls", [DetectionsWriter, AnnotatedOutput])
def test_exception_before_any_write_leaves_the_existing_file(tmp_path, cls):
    target = tmp_path / ("d.csv" if cls is DetectionsWriter else "clip.mp4")
    target.write_bytes(OLD)
    with pytest.raises(KeyboardInterrupt), (
        DetectionsWriter(target) if cls is DetectionsWriter else AnnotatedOutput(target, 25.0)
    ):
        raise KeyboardInterrupt
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_exception_after_a_write_keeps_what_was_written(tmp_path):
    target = tmp_path / "d.jsonl"
    target.write_bytes(OLD)
    with pytest.raises(RuntimeError), DetectionsWriter(target) as writer:
        writer.write(record(0))
        raise RuntimeError("the source failed")
    assert [json.loads(line)["frame"] for line in target.read_text().splitlines()] == [0]


def test_new_file_is_written_in_place_and_removed_when_discarded(tmp_path):
    target = tmp_path / "d.jsonl"
    writer = DetectionsWriter(target)
    writer.write(record(0))
    assert target.read_text().count("\n") == 1  # readable while the run goes on
    writer.close(keep=False)
    writer.close(keep=True)  # idempotent: a second close changes nothing
    assert list(tmp_path.iterdir()) == []


def test_video_with_no_frame_is_never_kept(tmp_path):
    new, old = tmp_path / "new.mp4", tmp_path / "old.mp4"
    old.write_bytes(OLD)
    for target in (new, old):
        AnnotatedOutput(target, 25.0).close(keep=True)
    assert old.read_bytes() == OLD and not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["old.mp4"]


def test_a_part_file_left_by_a_killed_run_is_kept(tmp_path):
    target, leftover = tmp_path / "d.jsonl", tmp_path / "d.part.jsonl"
    target.write_bytes(OLD)
    leftover.write_bytes(b"a killed run's frames\n")
    writer = DetectionsWriter(target)
    assert (tmp_path / "d.part2.jsonl").is_file()
    writer.write(record(0))
    writer.close()
    assert leftover.read_bytes() == b"a killed run's frames\n"
    assert json.loads(target.read_text())["frame"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.jsonl", "d.part.jsonl"]


def test_a_link_keeps_pointing_at_the_replaced_file(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_bytes(OLD)
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    writer = DetectionsWriter(link)
    writer.write(record(7))
    writer.close()
    assert link.is_symlink() and json.loads(real.read_text())["frame"] == 7


def test_a_device_is_written_in_place_and_never_removed(tmp_path):
    writer = DetectionsWriter(Path(os.devnull))
    writer.write(record(0))
    writer.close(keep=False)
    assert Path(os.devnull).exists()


# --- check_output_path --------------------------------------------------------------


def test_check_output_path_refuses_a_folder_that_is_not_writable(tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    real_access = os.access
    # The tests may run as root, for whom everything is writable: os.access says no.
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != folder and real_access(p, mode, **kw))
    with pytest.raises(InputError, match=r"detections file .*d\.jsonl: folder .*ro is not writable"):
        check_output_path(folder / "d.jsonl", "detections file")
    assert check_output_path(tmp_path / "d.jsonl", "detections file") == tmp_path / "d.jsonl"


def test_check_output_path_refuses_a_read_only_file(tmp_path, monkeypatch):
    target = tmp_path / "d.jsonl"
    target.write_bytes(OLD)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != target and real_access(p, mode, **kw))
    with pytest.raises(InputError, match="exists and is read-only"):
        check_output_path(target, "detections file")
    with pytest.raises(InputError, match="read-only"):
        outputs.StagedFile(target, "detections file")
    assert target.read_bytes() == OLD


def test_check_output_path_still_refuses_missing_folders_and_folders(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_output_path(tmp_path / "no" / "d.jsonl", "detections file")
    with pytest.raises(InputError, match="is a folder"):
        check_output_path(tmp_path, "output")


# --- write errors: one line, whole lines ----------------------------------------------


class FullDisk:
    """The writer's file, full after `room` more writes: the next write stores part of
    its bytes, the one after fails with ENOSPC, as a real write(2) does."""

    def __init__(self, real, room: int) -> None:
        self.real = real
        self.room = room
        self.partial = False

    def write(self, data) -> int:
        if self.room > 0:
            self.room -= 1
            return self.real.write(data)
        if not self.partial:
            self.partial = True
            return self.real.write(bytes(data)[: max(1, len(data) // 2)])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv"])
def test_full_disk_is_one_line_and_leaves_whole_lines(tmp_path, name):
    target = tmp_path / name
    writer = DetectionsWriter(target)
    writer._staged.file = FullDisk(writer._staged.file, room=3)
    for i in range(3):
        writer.write(record(i))
    with pytest.raises(RunError) as failed:
        writer.write(record(3))
    assert str(failed.value) == f"cannot write {target}: No space left on device"
    assert writer.frames == 3
    writer.close()
    if name.endswith(".jsonl"):
        assert [json.loads(line)["frame"] for line in target.read_text().splitlines()] == [0, 1, 2]
    else:
        rows = list(csv.DictReader(target.open(newline="")))
        assert [r["frame"] for r in rows] == ["0", "0", "1", "1", "2", "2"]
        assert target.read_bytes().endswith(b"\r\n")


LIMITED = """
import resource, signal, sys
from pathlib import Path
import numpy as np
from trt_viewer.core.detections import Detections
from trt_viewer.core.outputs import AnnotatedOutput, DetectionsWriter, frame_record
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write(2) fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), resource.RLIM_INFINITY))
path = Path(sys.argv[1])
if path.suffix == ".mp4":
    out = AnnotatedOutput(path, 10.0)
    rng = np.random.default_rng(0)
    item = lambda i: rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
else:
    out = DetectionsWriter(path)
    dets = Detections.from_arrays([[1, 2, 30, 40]] * 5, [0.9] * 5, [0] * 5)
    item = lambda i: frame_record(i, "a.png", (64, 96), dets, ["cat"])
for i in range(100000):
    try:
        out.write(item(i))
    except Exception as exc:
        print(f"write {type(exc).__name__}: {exc}")
        break
else:
    print("no error")
print(f"frames {out.frames}")
try:
    out.close(keep=True)
    print("closed")
except Exception as exc:
    print(f"close {type(exc).__name__}: {exc}")
"""


def run_limited(path: Path, limit: int) -> list[str]:
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(path), str(limit)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_a_real_file_size_limit_is_an_error_and_leaves_whole_lines(tmp_path):
    target = tmp_path / "d.jsonl"
    lines = run_limited(target, 20000)
    assert lines[0] == f"write RunError: cannot write {target}: File too large"
    frames_done = int(lines[1].split()[1])
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(frames_done)) and frames_done > 10
    assert target.read_bytes().endswith(b"\n")


def test_a_real_file_size_limit_stops_a_video_with_an_error(tmp_path):
    target = tmp_path / "clip.mp4"
    lines = run_limited(target, 400_000)
    assert lines[0] == f"write RunError: cannot write {target}: File too large", lines
    assert lines[-1].startswith(f"close RunError: cannot write {target}"), lines  # never "closed"
    assert decoded_frames(target) > 0  # the fragments written before play


def test_a_failed_video_kept_over_an_old_one_stays_in_its_part_file(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(OLD)
    lines = run_limited(target, 400_000)
    part = tmp_path / "clip.part.mp4"
    assert lines[-1] == f"close RunError: cannot write {target}: File too large; what was written is in {part}"
    assert target.read_bytes() == OLD and decoded_frames(part) > 0


# --- H.264 -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".m4v"])
def test_h264_recording(tmp_path, suffix):
    target = tmp_path / f"clip{suffix}"
    out = AnnotatedOutput(target, 30000 / 1001)
    for img in frames(30, size=(97, 65)):
        out.write(img)
    out.close()
    assert out.codec == "h264" and out.frames == 30
    with av.open(str(target)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert stream.average_rate == Fraction(30000, 1001)
        decoded = list(container.decode(stream))
    assert len(decoded) == 30
    assert (decoded[0].width, decoded[0].height) == (98, 66)  # padded by a pixel to even sizes
    cap = cv2.VideoCapture(str(target))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30


def test_h264_colours_come_back(tmp_path):
    target = tmp_path / "clip.mp4"
    colours = [(255, 0, 0), (0, 0, 255), (40, 200, 90)]  # BGR
    with AnnotatedOutput(target, 10.0) as out:
        for c in colours:
            out.write(np.full((64, 96, 3), c, np.uint8))
    with av.open(str(target)) as container:
        back = [f.to_ndarray(format="bgr24")[32, 48].astype(int) for f in container.decode(video=0)]
    for c, b in zip(colours, back):
        assert np.abs(b - c).max() <= 8, (c, b)


def test_h264_frames_of_other_sizes_are_fitted_to_the_first(tmp_path):
    target = tmp_path / "clip.mp4"
    out = AnnotatedOutput(target, 5.0)
    for img in [*frames(2, (96, 64)), *frames(2, (50, 41)), *frames(1, (200, 120))]:
        out.write(img)
    out.close()
    with av.open(str(target)) as container:
        sizes = {(f.width, f.height) for f in container.decode(video=0)}
        assert container.streams.video[0].average_rate == 5
    assert sizes == {(96, 64)}


def test_h264_keyframes_come_about_every_second(tmp_path):
    target = tmp_path / "clip.mp4"
    out = AnnotatedOutput(target, 10.0)
    for img in frames(45):
        out.write(img)
    out.close()
    with av.open(str(target)) as container:
        keys = [i for i, f in enumerate(container.decode(video=0)) if f.key_frame]
    gaps = [b - a for a, b in itertools.pairwise(keys)]
    assert keys[0] == 0 and len(gaps) >= 4 and max(gaps) <= 10, keys  # fragments of a second at most


def test_avi_is_mjpeg_through_pyav(tmp_path):
    target = tmp_path / "clip.avi"
    out = AnnotatedOutput(target, 25.0)
    for img in frames(12, size=(97, 65)):
        out.write(img)
    out.close()
    assert out.codec == "mjpeg"
    cap = cv2.VideoCapture(str(target))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12 and cap.get(cv2.CAP_PROP_FPS) == pytest.approx(25)
    ok, first = cap.read()
    assert ok and first.shape == (65, 97, 3)


KILLED = """
import os, sys, time
from pathlib import Path
import numpy as np
from trt_viewer.core.outputs import AnnotatedOutput
out = AnnotatedOutput(Path(sys.argv[1]), 10.0)
rng = np.random.default_rng(0)
for i in range(60):
    out.write(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8))
print(out.frames, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="no SIGKILL here")
def test_fragmented_mp4_survives_sigkill(tmp_path):
    target = tmp_path / "killed.mp4"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "60", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    n = decoded_frames(target)
    assert 0 < n <= 60
    assert n >= 30  # fragments of 10 frames; the encoder holds back at most a few


# --- fallback where PyAV cannot encode H.264 --------------------------------------------


def no_pyav():
    raise ImportError("No module named 'av'")


class _NoX264:
    codecs_available = frozenset({"mjpeg"})


@pytest.mark.parametrize("importer, why", [(no_pyav, "PyAV is not available"),
                                           (lambda: _NoX264, "no libx264 encoder")])
def test_without_pyav_h264_mp4_is_mp4v_with_one_warning(tmp_path, monkeypatch, caplog, importer, why):
    monkeypatch.setattr(video, "_import_av", importer)
    target = tmp_path / "clip.mp4"
    target.write_bytes(OLD)
    caplog.set_level(logging.WARNING, logger="trt_viewer.core.video")
    out = AnnotatedOutput(target, 10.0)
    for img in frames(8, size=(97, 65)):
        out.write(img)
    out.close()
    assert out.codec == "mp4v"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "MPEG-4 Part 2" in warnings[0] and why in warnings[0], warnings
    cap = cv2.VideoCapture(str(target))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_without_pyav_avi_is_opencv_mjpeg_without_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(video, "_import_av", no_pyav)
    caplog.set_level(logging.WARNING)
    out = AnnotatedOutput(tmp_path / "clip.avi", 10.0)
    for img in frames(4):
        out.write(img)
    out.close()
    assert out.codec == "mjpeg" and not caplog.records
    assert int(cv2.VideoCapture(str(tmp_path / "clip.avi")).get(cv2.CAP_PROP_FRAME_COUNT)) == 4


# --- images ----------------------------------------------------------------------------


def test_image_output_takes_one_frame(tmp_path):
    target = tmp_path / "shot.jpg"
    out = AnnotatedOutput(target, None)
    img = frames(1)[0]
    out.write(img)
    with pytest.raises(RunError, match="more than one frame"):
        out.write(img)
    out.close()
    assert out.is_image and cv2.imread(str(target)).shape == (64, 96, 3)


# --- detections to a stream ----------------------------------------------------------


def test_detections_to_a_stream_are_flushed_frame_by_frame():
    class Stream(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Stream.flushes += 1
            super().flush()

    stream = Stream()
    writer = DetectionsWriter.to_stream(stream)
    assert writer.format == "jsonl"
    writer.write(record(0, SURROGATE_NAME))
    writer.write(record(1))
    assert Stream.flushes == 2
    writer.close()
    writer.close()
    assert not stream.closed  # the stream is the caller's
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == [0, 1]
    assert json.loads(lines[0])["source"] == SURROGATE_NAME


def test_a_broken_pipe_reaches_the_caller_as_it_is():
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    writer = DetectionsWriter.to_stream(Closed())
    with pytest.raises(BrokenPipeError):
        writer.write(record(0))


def test_other_stream_errors_are_one_line():
    class Full(io.StringIO):
        def flush(self) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    writer = DetectionsWriter.to_stream(Full())
    with pytest.raises(RunError, match=r"^cannot write standard output: No space left on device$"):
        writer.write(record(0))


def test_csv_to_a_stream():
    stream = io.StringIO()
    writer = DetectionsWriter.to_stream(stream, format="csv")
    writer.write(record(0, SURROGATE_NAME))
    rows = list(csv.reader(io.StringIO(stream.getvalue())))
    assert rows[0] == list(CSV_FIELDS) and rows[1][1] == "caf\\udce9.png"


# --- names that are not UTF-8 -------------------------------------------------------------


def test_csv_writes_a_name_that_is_not_utf8(tmp_path):
    target = tmp_path / "d.csv"
    writer = DetectionsWriter(target)
    writer.write(record(0, SURROGATE_NAME))
    writer.close()
    rows = list(csv.DictReader(target.open(encoding="utf-8", newline="")))
    assert len(rows) == 2 and rows[0]["source"] == "caf\\udce9.png" and rows[0]["label"] == "cat"


def test_jsonl_writes_a_name_that_is_not_utf8(tmp_path):
    target = tmp_path / "d.jsonl"
    writer = DetectionsWriter(target)
    writer.write(record(0, SURROGATE_NAME))
    writer.close()
    assert json.loads(target.read_bytes().decode("utf-8"))["source"] == SURROGATE_NAME


def test_an_output_path_that_is_not_utf8(tmp_path):
    target = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.mp4"))
    out = AnnotatedOutput(target, 10.0)
    for img in frames(3):
        out.write(img)
    out.close()
    assert decoded_frames(target) == 3


def test_without_pyav_a_name_that_is_not_utf8_is_an_error_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr(video, "_import_av", no_pyav)  # OpenCV's writer crashes on such a name
    target = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.avi"))
    out = AnnotatedOutput(target, 10.0)
    with pytest.raises(RunError, match="not UTF-8"):
        out.write(frames(1)[0])
    out.close(keep=False)
    assert list(tmp_path.iterdir()) == []
