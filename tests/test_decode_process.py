"""Video files decoded in a process of their own (run/decode_process.py): the same frames
as decoding in this process, seeking, frames lent and given back, nothing left behind, and
one clear line when the child fails."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.backends import open_backend
from trt_viewer.core.sources import NO_PIXELS, open_source
from trt_viewer.errors import InputError
from trt_viewer.run import decode_process
from trt_viewer.run.decode_process import ProcessSource, decodes_in_process
from trt_viewer.run.decoding import source_opener
from trt_viewer.run.detector import Detector
from trt_viewer.run.player import Listener, Player, PlayOptions
from trt_viewer.run.reader import InlineReader, make_reader


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "squares.avi", moving_square_frames(30, size=(96, 128)))


def frames_of(source):
    out = []
    while (frame := source.read()) is not None:
        out.append((frame.index, frame.timestamp, np.array(frame.image)))
        frame.settle(False)
    return out


def test_the_child_decodes_the_same_frames_as_this_process(video: Path) -> None:
    with open_source(str(video)) as here, ProcessSource(str(video)) as there:
        assert (there.length, there.fps, there.seekable) == (here.length, here.fps, here.seekable) == (30, 10.0, True)
        assert there.decoded_elsewhere and not here.decoded_elsewhere
        mine, theirs = frames_of(here), frames_of(there)
    assert [(i, t) for i, t, _ in theirs] == [(i, t) for i, t, _ in mine] and len(mine) == 30
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(mine, theirs, strict=True))
    assert there.end_reason == "ended" and there.shortfall == 0 and there.read() is None


def test_a_frame_lends_its_slot_until_settled(video: Path) -> None:
    with ProcessSource(str(video)) as source:
        first = source.read()
        assert first is not None and first.lender is not None
        kept = np.array(first.image)
        first.settle(keep_pixels=True)
        assert first.lender is None and np.array_equal(first.image, kept)
        # Every slot is reused many times over: the kept pixels are the frame's own.
        rest = frames_of(source)
        assert len(rest) == 29 and np.array_equal(first.image, kept)
        dropped = ProcessSource(str(video))
        with dropped:
            frame = dropped.read()
            assert frame is not None
            frame.settle(keep_pixels=False)
            assert frame.image is NO_PIXELS and frame.hw == (96, 128)


def test_a_frame_held_does_not_lose_its_pixels_while_others_decode(video: Path) -> None:
    with ProcessSource(str(video)) as source:
        held = source.read()
        assert held is not None
        expected = np.array(held.image)
        later = [source.read() for _ in range(3)]  # the child goes on into the other slots
        assert all(f is not None for f in later)
        assert np.array_equal(held.image, expected)
        for f in [held, *later]:
            assert f is not None
            f.settle(False)


def test_seek_reads_on_from_the_frame_asked_for(video: Path) -> None:
    with open_source(str(video)) as here:
        reference = frames_of(here)
    with ProcessSource(str(video)) as source:
        for _ in range(5):  # frames of before the seek are still in the ring
            frame = source.read()
            assert frame is not None
            frame.settle(False)
        source.seek(12)
        after = frames_of(source)
    assert [i for i, _, _ in after] == list(range(12, 30))
    assert np.array_equal(after[0][2], reference[12][2])


def test_holding_every_slot_is_an_error_not_a_hang(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode_process, "HELD_TIMEOUT_S", 0.2)
    with ProcessSource(str(video)) as source:
        assert source._ring is not None
        held = [source.read() for _ in range(source._ring.slots)]
        with pytest.raises(RuntimeError, match="frame slots are held: frames read were never settled"):
            source.read()
        for frame in held:
            assert frame is not None
            frame.settle(False)
        assert source.read() is not None


def test_a_slot_given_back_by_another_thread_wakes_the_reader(video: Path) -> None:
    with ProcessSource(str(video)) as source:
        assert source._ring is not None
        held = [source.read() for _ in range(source._ring.slots)]
        timer = threading.Timer(0.3, lambda: held[0].settle(False))  # type: ignore[union-attr]
        timer.start()
        frame = source.read()  # waits for the slot, does not fail
        timer.join()
        assert frame is not None and frame.index == len(held)
        for f in [*held, frame]:
            assert f is not None
            f.settle(False)


def test_nothing_is_left_in_shared_memory(video: Path) -> None:
    source = ProcessSource(str(video))
    ring = source._ring
    assert ring is not None and not os.path.exists(ring.path)  # deleted once both had it mapped
    source.close()
    assert source._process.poll() is not None  # the child ended with the source


def test_a_file_that_is_no_video_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    with pytest.raises(InputError, match=r"cannot decode video .*notes\.mp4") as info:
        ProcessSource(str(bad))
    assert "\n" not in str(info.value)


def test_a_child_that_dies_is_one_line_not_a_hang(video: Path) -> None:
    with ProcessSource(str(video)) as source:
        frame = source.read()
        assert frame is not None
        frame.settle(False)
        os.kill(source._process.pid, signal.SIGKILL)
        source._process.wait()
        with pytest.raises(InputError, match=r"decoder process for .* stopped"):
            while (frame := source.read()) is not None:
                frame.settle(False)


def test_only_local_video_files_go_to_a_process(video: Path, tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    image.write_bytes(b"")
    assert decodes_in_process(str(video))
    assert not decodes_in_process(str(image)) and not decodes_in_process(str(tmp_path))
    assert not decodes_in_process("rtsp://camera/1") and not decodes_in_process("0")
    assert not decodes_in_process(str(tmp_path / "missing.mp4"))


def test_the_opener_falls_back_to_a_thread_with_one_line(video: Path, monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(source_opener("auto")(str(video)), ProcessSource)
    assert not isinstance(source_opener("thread")(str(video)), ProcessSource)

    def refuse(fd: int) -> None:
        raise decode_process.DecoderProcessUnavailable("no fork here")

    monkeypatch.setattr(decode_process, "_start", refuse)
    with caplog.at_level("WARNING"):
        source = source_opener("cpu")(str(video))
    assert not isinstance(source, ProcessSource) and source.length == 30
    source.close()
    assert [r.getMessage() for r in caplog.records if "no decoder process" in r.getMessage()] == [
        f"decoding {video} in a thread: no decoder process could be started (no fork here)"]
    with caplog.at_level("INFO"):
        source_opener("auto")(str(video)).close()  # not asked for: an info line, not a warning
    assert [r.levelname for r in caplog.records if "no decoder process" in r.getMessage()] == ["WARNING", "INFO"]
    with pytest.raises(ValueError, match="decode must be one of"):
        source_opener("gpu")


class Results(Listener):
    def __init__(self) -> None:
        self.results: list = []

    def result(self, result):  # type: ignore[no-untyped-def]
        self.results.append(result)


def run_headless(models: dict[str, Path], video: Path, decode: str, pixels: str = "keep") -> tuple[list, Player]:
    got = Results()
    player = Player(got, PlayOptions(interactive=False, decode=decode, pixels=pixels))
    with open_backend(models["raw"]) as backend:
        detector = Detector(backend)
        player.run(lambda: nullcontext(detector), str(video))
    return got.results, player


def test_the_player_gives_the_same_results_from_a_decoder_process(models: dict[str, Path], video: Path) -> None:
    threaded, _ = run_headless(models, video, "thread")
    inline, player = run_headless(models, video, "cpu")
    assert player.end == "ended" and len(inline) == len(threaded) == 30
    for a, b in zip(threaded, inline, strict=True):
        assert a.frame.index == b.frame.index and np.array_equal(a.frame.image, b.frame.image)
        assert np.allclose(a.detections.boxes, b.detections.boxes) and np.array_equal(a.detections.class_ids,
                                                                                        b.detections.class_ids)
    assert all(r.frame.lender is None for r in inline)  # every slot went back


def test_a_run_without_pixels_copies_no_frame(models: dict[str, Path], video: Path) -> None:
    results, _ = run_headless(models, video, "cpu", pixels="drop")
    assert len(results) == 30 and all(r.frame.image is NO_PIXELS and r.frame.hw == (96, 128) for r in results)
    kept, _ = run_headless(models, video, "cpu")
    assert [len(r.detections) for r in results] == [len(r.detections) for r in kept]
    assert any(len(r.detections) for r in results)
    assert all(np.array_equal(a.detections.boxes, b.detections.boxes) for a, b in zip(results, kept, strict=True))


def test_the_inline_reader_is_chosen_for_sources_decoded_elsewhere(models: dict[str, Path], video: Path) -> None:
    with open_backend(models["raw"]) as backend:
        detector = Detector(backend)
        source = ProcessSource(str(video))
        reader = make_reader(source, detector)
        assert isinstance(reader, InlineReader)
        item = reader.get()
        assert item is not None and item.frame.index == 0 and 0 < item.ratio <= 1
        reader.release(item.buffer)
        item.frame.settle(False)
        reader.close()
        assert reader.get() is None


def test_run_writes_the_same_detections_with_either_decoder(models: dict[str, Path], video: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from fakes.fixtures import run_cli

    outputs = {}
    for decode in ("thread", "cpu", "auto"):
        out = tmp_path / f"{decode}.jsonl"
        code, _, err = run_cli(["run", "--model", str(models["raw"]), "--source", str(video), "--decode", decode,
                                "--detections", str(out), "-q"], capsys)
        assert code == 0, err
        outputs[decode] = out.read_text()
    assert outputs["thread"] == outputs["cpu"] == outputs["auto"] and len(outputs["cpu"].splitlines()) == 30
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["run", "--model", str(models["raw"]), "--source", str(video), "--decode", "gpu"], capsys)
    assert exit_info.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err


def test_an_annotated_video_from_lent_frames_equals_one_from_copies(models: dict[str, Path], video: Path,
                                                                    tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import cv2
    from fakes.fixtures import run_cli

    frames = {}
    for decode in ("thread", "cpu"):  # the writer draws on the decoder's slot, then gives it back
        out = tmp_path / f"{decode}.avi"
        code, _, err = run_cli(["run", "--model", str(models["raw"]), "--source", str(video), "--decode", decode,
                                "-o", str(out), "-q"], capsys)
        assert code == 0, err
        cap = cv2.VideoCapture(str(out))
        got = []
        while (ok_image := cap.read())[0]:
            got.append(ok_image[1])
        cap.release()
        frames[decode] = got
    assert len(frames["cpu"]) == len(frames["thread"]) == 30
    assert all(np.array_equal(a, b) for a, b in zip(frames["thread"], frames["cpu"], strict=True))


def test_a_full_dev_shm_falls_back_to_the_temporary_folder(video: Path, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
    import errno
    import tempfile

    real = os.posix_fallocate
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def full(fd: int, offset: int, length: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith("/dev/shm/"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, offset, length)

    monkeypatch.setattr(os, "posix_fallocate", full)
    with ProcessSource(str(video)) as source:
        assert source._ring is not None and source._ring.path.startswith(str(tmp_path))
        assert len(frames_of(source)) == 30
    assert not any(p.name.startswith("trt-viewer-frames-") for p in tmp_path.iterdir())
    assert not any(p.startswith("trt-viewer-frames-") for p in os.listdir("/dev/shm"))


def test_a_child_that_cannot_start_falls_back_to_a_thread(video: Path, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(decode_process.sys, "executable", "/bin/false")  # a Python that exits at once
    with pytest.raises(decode_process.DecoderProcessUnavailable, match="it exited at start, code 1"):
        ProcessSource(str(video))
    with caplog.at_level("WARNING"):
        source = source_opener("cpu")(str(video))
    assert not isinstance(source, ProcessSource) and source.read() is not None
    source.close()
    assert [r.getMessage() for r in caplog.records] == [
        f"decoding {video} in a thread: no decoder process could be started (it exited at start, code 1)"]



def test_a_truncated_file_ends_where_its_frames_end_as_in_a_thread(video: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.avi"
    data = video.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])  # the header still promises 30 frames
    with open_source(str(cut)) as here:
        mine = frames_of(here)
        shortfall = here.shortfall
    with ProcessSource(str(cut)) as there:
        theirs = frames_of(there)
        assert (there.shortfall, there.end_reason) == (shortfall, "ended")
    assert 0 < len(theirs) == len(mine) < 30 and shortfall == 30 - len(mine)
    assert all(np.array_equal(a, b) for (_, _, a), (_, _, b) in zip(mine, theirs, strict=True))


def test_the_child_leaves_cores_to_the_pipeline_on_a_large_machine(video: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """FFmpeg's threads in the child: all but four on 12 cores or more, OpenCV's choice
    below; what a run states is sent as it is."""
    assert [decode_process.default_decode_threads(n) for n in (4, 8, 11, 12, 16, 64)] == [
        None, None, None, 8, 12, 60]
    sent: list[Any] = []
    real_send = decode_process.Connection.send

    def send(self: Any, message: Any) -> None:
        if message[0] == "open":
            sent.append(message[2])
        real_send(self, message)

    monkeypatch.setattr(decode_process.Connection, "send", send)
    monkeypatch.setattr(decode_process.os, "cpu_count", lambda: 16)
    for stated in (None, 3):
        with ProcessSource(str(video), stated) as source:
            assert source.read() is not None
    assert sent == [12, 3]
