"""Video decoded on the GPU (run/nvdec.py) with PyNvVideoCodec's double over the fake GPU:
frames stay in device memory and are letterboxed there, pixels reach the host only when
asked for, frames held survive the decoder reusing its memory, and where NVDEC cannot
decode a run falls back to the CPU with one line saying why."""

from __future__ import annotations

import logging
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fakes.fake_nvc import bgr_to_nv12, make_nvc
from fakes.fake_pycuda import FakeGpu
from modelgen import moving_square_frames, write_video

from trt_viewer.backends import open_backend
from trt_viewer.backends.base import STREAM_NON_BLOCKING
from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.core.sources import NO_PIXELS, open_source
from trt_viewer.run import nvdec, nvdec_probe
from trt_viewer.run.decode_process import ProcessSource
from trt_viewer.run.detector import Detector
from trt_viewer.run.nvdec import AHEAD, NvdecSource, NvdecUnavailable
from trt_viewer.run.player import Listener, Player, PlayOptions, State


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "squares.mp4", moving_square_frames(30, size=(96, 128)))


@pytest.fixture
def nvc(gpu: FakeGpu, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = make_nvc(gpu)
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", module)
    return module


@pytest.fixture
def device(fake_device: Any) -> Any:
    return fake_device


def reference(video: Path) -> list[np.ndarray]:
    """Each frame as OpenCV decodes it, through NV12 and back as the host download does."""
    out = []
    with open_source(str(video)) as source:
        while (frame := source.read()) is not None:
            y, uv = bgr_to_nv12(frame.image)
            h, w = y.shape
            out.append(cv2.cvtColor(np.concatenate([y, uv.reshape(h // 2, w)]), cv2.COLOR_YUV2BGR_NV12))
    return out


def test_close_fetches_the_frames_still_lent_and_never_waits_for_a_holder(nvc: Any, device: Any, gpu: FakeGpu,
                                                                          video: Path) -> None:
    """A frame lent to a writer's queue, or held by the viewer's frame on screen, still has
    its pixels once the source closed first: close() fetches them from the pool before
    freeing it, instead of waiting for holders that may never come back."""
    expected = reference(video)
    source = NvdecSource(str(video), device)
    written, shown, unseen = source.read(), source.read(), source.read()
    assert written is not None and shown is not None and unseen is not None
    shown.hold()  # the viewer's packet and the player both hold it
    unseen.settle(False)  # settled before close: nothing to fetch
    with ThreadPoolExecutor(1) as writer:
        late = writer.submit(lambda: (time.sleep(0.3), written.settle(True)))
        t0 = time.perf_counter()
        source.close()
        took = time.perf_counter() - t0
        late.result()
    assert took < 0.25  # it did not wait for the writer
    assert np.array_equal(written.image, expected[0]) and np.array_equal(shown.image, expected[1])
    assert source.downloads == 2 and gpu.used == 0 and not written.lent and not shown.lent
    shown.settle(False)  # the holders settle afterwards: nothing left to give back
    assert np.array_equal(shown.host_image(), expected[1])


def test_frames_stay_on_the_gpu_until_their_pixels_are_asked_for(nvc: Any, device: Any, gpu: FakeGpu,
                                                                 video: Path) -> None:
    expected = reference(video)
    with NvdecSource(str(video), device) as source:
        assert (source.length, source.fps, source.seekable, source.decoded_elsewhere) == (30, 10.0, True, True)
        frame = source.read()
        assert frame is not None and frame.image is NO_PIXELS and frame.hw == (96, 128)
        assert frame.device.hw == (96, 128) and frame.device.y_pitch == 128 and source.downloads == 0
        frame.settle(keep_pixels=False)
        assert source.downloads == 0 and frame.device is None
        kept = source.read()
        assert kept is not None
        kept.settle(keep_pixels=True)
        assert source.downloads == 1 and np.array_equal(kept.image, expected[1])
        rest = []
        while (f := source.read()) is not None:
            rest.append(f.index)
            f.settle(False)
        assert rest == list(range(2, 30)) and source.end_reason == "ended" and source.read() is None


def test_a_view_sized_picture_is_scaled_on_the_gpu_unless_it_is_larger_than_the_frame(
        nvc: Any, device: Any, gpu: FakeGpu, video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gpu.nvcc = True
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})
    expected = reference(video)
    with NvdecSource(str(video), device) as source:
        frame = source.read()
        assert frame is not None
        small = frame.scaled((67, 50))  # a window smaller than the frame: the kernel, then 67x50x3 bytes
        assert gpu.launches == ["scale_nv12_bgr"] and (source.view_downloads, source.downloads) == (1, 0)
        assert np.array_equal(small, cv2.resize(expected[0], (67, 50), interpolation=cv2.INTER_LINEAR))
        used = gpu.used
        resized = frame.scaled((80, 60))  # a window being resized: the same buffers, nothing freed or made
        assert gpu.used == used and source.view_downloads == 2
        assert np.array_equal(resized, cv2.resize(expected[0], (80, 60), interpolation=cv2.INTER_LINEAR))
        large = frame.scaled((256, 192))  # larger: its BGR is more than the frame's NV12, so the frame comes
        assert gpu.launches == ["scale_nv12_bgr"] * 2 and (source.view_downloads, source.downloads) == (2, 1)
        assert np.array_equal(large, cv2.resize(expected[0], (256, 192), interpolation=cv2.INTER_LINEAR))
        assert frame.image is NO_PIXELS  # neither left the whole frame with it
        frame.settle(False)
    assert gpu.used == 0  # the scaling buffers too


def test_a_frame_held_keeps_its_pixels_while_the_decoder_reuses_its_memory(nvc: Any, device: Any,
                                                                          video: Path) -> None:
    expected = reference(video)
    with NvdecSource(str(video), device) as source:
        held = source.read()
        assert held is not None
        later = []
        for _ in range(AHEAD + 3):  # past the decoder's own ring: it has written over frame 0 by now
            f = source.read()
            assert f is not None
            later.append(f)
            f.settle(False)
        assert np.array_equal(held.host_image(), expected[0])
        held.settle()


def test_a_pitched_decoder_frame_is_copied_row_by_row(gpu: FakeGpu, device: Any, video: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu, pitch_pad=64))
    expected = reference(video)
    with NvdecSource(str(video), device) as source:
        frames = [source.read() for _ in range(3)]
        assert all(f is not None and np.array_equal(f.host_image(), expected[i]) for i, f in enumerate(frames))
        for f in frames:
            f.settle()  # type: ignore[union-attr]


def test_seek_then_read_from_there(nvc: Any, device: Any, video: Path) -> None:
    expected = reference(video)
    with NvdecSource(str(video), device) as source:
        source.seek(17)
        frame = source.read()
        assert frame is not None and frame.index == 17 and np.array_equal(frame.host_image(), expected[17])
        frame.settle()


def test_what_nvdec_cannot_decode_is_one_line(gpu: FakeGpu, device: Any, video: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu, codecs={"h264", "hevc"}))
    with pytest.raises(NvdecUnavailable, match=r"^NVDEC cannot decode squares.mp4: Codec fmp4 not supported"):
        NvdecSource(str(video), device)  # refused by the first-frame check
    # A decoder that refuses only once made in this process (the check passed it): the same
    # line, and nothing left allocated.
    monkeypatch.setattr(nvdec_probe, "why_not", lambda spec, gpu: "")
    with pytest.raises(NvdecUnavailable, match=r"^NVDEC cannot decode squares.mp4: Codec fmp4 not supported"):
        NvdecSource(str(video), device)
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", None)  # not installed
    with pytest.raises(NvdecUnavailable, match=r"PyNvVideoCodec is not installed \(pip install 'trt-viewer\[nvdec"):
        NvdecSource(str(video), device)
    assert gpu.used == 0  # nothing left allocated by the failed opens


class Results(Listener):
    """Keeps each result; frames lent (pixels="lend") are settled in a thread of their own,
    keeping their pixels, as a video writer's thread settles them."""

    def __init__(self, lent: bool = False) -> None:
        self.results: list = []
        self.writer = ThreadPoolExecutor(1) if lent else None

    def result(self, result):  # type: ignore[no-untyped-def]
        self.results.append(result)
        if self.writer is not None:
            self.writer.submit(result.frame.settle, True)


def play(model: Path, video: Path, decode: str, pixels: str = "drop") -> list:
    got = Results(lent=pixels == "lend")
    with open_backend(model) as backend:
        detector = Detector(backend)
        Player(got, PlayOptions(interactive=False, decode=decode, pixels=pixels)).run(
            lambda: nullcontext(detector), str(video))
    if got.writer is not None:
        got.writer.shutdown()
    return got.results


def test_a_detections_only_run_never_copies_a_frame_to_the_host(nvc: Any, gpu: FakeGpu, build: Any,
                                                                models: dict[str, Path], video: Path,
                                                                tmp_path: Path) -> None:
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    cpu = play(engine, video, "thread")
    frame_bytes = 96 * 128 * 3
    uploads = sum(1 for c in gpu.calls if c.name.startswith("memcpy_htod") and c.nbytes == frame_bytes)
    assert uploads == 30  # the CPU path uploads every raw frame
    calls_before, launches_before = len(gpu.calls), len(gpu.launches)
    on_gpu = play(engine, video, "nvdec")
    calls = gpu.calls[calls_before:]
    assert nvc.decoded == 31 and len(on_gpu) == 30  # one more: the first-frame check (run/nvdec_probe.py)
    assert [c for c in calls if c.name in ("memcpy_dtoh", "memcpy_dtoh_async", "memcpy_htod", "memcpy_htod_async")
            and c.nbytes >= 96 * 128] == []  # no frame crossed either way
    assert gpu.launches[launches_before:] == ["letterbox_nv12_f32"] * 30
    assert all(r.frame.image is NO_PIXELS for r in on_gpu)
    for a, b in zip(cpu, on_gpu, strict=True):  # NV12 is a level or two off OpenCV's BGR: same detections
        assert a.frame.index == b.frame.index and np.array_equal(a.detections.class_ids, b.detections.class_ids)
        assert np.abs(a.detections.boxes - b.detections.boxes).max(initial=0) <= 1.0
        assert np.abs(a.detections.scores - b.detections.scores).max(initial=0) <= 0.01


def test_a_run_that_draws_gets_the_pixels_once_per_frame(nvc: Any, gpu: FakeGpu, build: Any,
                                                         models: dict[str, Path], video: Path,
                                                         tmp_path: Path) -> None:
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    expected = reference(video)
    before = len(gpu.calls)
    results = play(engine, video, "nvdec", pixels="lend")
    downloads = [c for c in gpu.calls[before:] if c.name.startswith("memcpy_dtoh") and c.nbytes == 96 * 128 * 3 // 2]
    # Fetched in the writer's thread (the context pushed there), not in the Player's, which
    # has the next frame to submit; only frames still queued when the source closes are
    # fetched by the closing thread (at most the pool).
    in_player = sum(1 for c in downloads if c.thread == threading.get_ident())
    assert len(downloads) == 30 and len({c.thread for c in downloads}) <= 2 and in_player <= nvdec.POOL
    assert in_player < 30
    # Into page-locked memory, asynchronously on a non-blocking stream: a synchronous copy
    # would run on the legacy stream and wait for the engine's work in flight.
    assert all(c.name == "memcpy_dtoh_async" and c.pinned for c in downloads)
    assert gpu.streams and all(s.flags == STREAM_NON_BLOCKING for s in gpu.streams.values())
    assert all(np.array_equal(r.frame.image, expected[r.frame.index]) and r.frame.lender is None for r in results)


def test_the_fallbacks_say_why_in_one_line(nvc: Any, gpu: FakeGpu, build: Any, models: dict[str, Path],
                                           video: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with caplog.at_level(logging.INFO, logger="trt_viewer.run.decoding"):
        assert len(play(models["raw"], video, "nvdec")) == 30  # ONNX Runtime: frames in host memory
    assert [r.getMessage() for r in caplog.records] == [
        f"decoding {video} on the CPU: this backend takes frames in host memory, not on the GPU"]
    assert caplog.records[0].levelno == logging.WARNING and nvc.decoded == 0
    caplog.clear()
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu, codecs={"h264"}))
    with caplog.at_level(logging.INFO, logger="trt_viewer.run.decoding"):
        assert len(play(engine, video, "nvdec")) == 30
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, f"decoding {video} on the CPU: NVDEC cannot decode squares.mp4: Codec fmp4 not "
                          "supported on this GPU")]


def test_the_viewer_seeks_a_file_decoded_on_the_gpu_in_place(nvc: Any, gpu: FakeGpu, build: Any,
                                                             models: dict[str, Path], video: Path,
                                                             tmp_path: Path) -> None:
    import threading
    import time

    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    got = Results()
    player = Player(got, PlayOptions(paused=True, decode="nvdec"))
    done = threading.Event()

    def run() -> None:
        with open_backend(engine) as backend:
            detector = Detector(backend)
            player.run(lambda: nullcontext(detector), str(video))
        done.set()

    thread = threading.Thread(target=run)
    thread.start()

    def until(check: Any) -> None:
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline
            time.sleep(0.01)

    until(lambda: len(got.results) == 1)
    player.seek(20)
    until(lambda: [r.frame.index for r in got.results][-1:] == [20])
    player.step_back()
    until(lambda: [r.frame.index for r in got.results][-1:] == [19])
    assert player.state == State.PAUSED and all(r.frame.image.shape == (96, 128, 3) for r in got.results)
    assert nvc.decoded < 30  # a seek does not decode its way there from the start
    player.stop()
    thread.join(10)
    assert done.is_set() and gpu.used == 0  # the decoder's memory and ours went with the run


def test_decoding_on_the_cpu_is_unchanged_without_pynvvideocodec(gpu: FakeGpu, build: Any,
                                                                 models: dict[str, Path], video: Path,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", None)
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    opened: list[Any] = []
    from trt_viewer.run import decoding

    real = decoding.source_opener

    def spy(*args: Any, **kwargs: Any) -> Any:
        opener = real(*args, **kwargs)

        def opened_source(spec: str) -> Any:
            opened.append(opener(spec))
            return opened[-1]

        return opened_source

    monkeypatch.setattr("trt_viewer.run.player.make_opener", spy)
    assert len(play(engine, video, "auto")) == 30
    assert [type(s) for s in opened] == [ProcessSource]


def test_automatic_decoding_gives_nvdec_the_codecs_checked_on_a_gpu_only(nvc: Any, gpu: FakeGpu, build: Any,
                                                                        models: dict[str, Path], video: Path,
                                                                        tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    """The double decodes this Motion JPEG file; under auto it goes to the CPU with one info
    line (only H.264 was checked against the CPU on a real GPU), with nvdec to NVDEC."""
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    with caplog.at_level(logging.INFO, logger="trt_viewer.run.decoding"):
        assert len(play(engine, video, "auto")) == 30
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, f"decoding {video} on the CPU: squares.mp4 is mpeg4, and automatic decoding gives NVDEC "
                       "h264, hevc, vp9 only (--decode nvdec tries it)")]
    assert nvc.decoded == 0  # the container named the codec: no decoder made, no check run
    assert len(play(engine, video, "nvdec")) == 30 and nvc.decoded == 31  # the check's frame, then 30


def test_a_ctrl_c_while_close_fetches_lent_frames_still_frees_everything(nvc: Any, device: Any, gpu: FakeGpu,
                                                                         video: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    source = NvdecSource(str(video), device)
    lent = source.read()
    assert lent is not None and gpu.used > 0

    def interrupted(k: int) -> np.ndarray:  # the download of the lent frame, cut short by a second Ctrl+C
        raise KeyboardInterrupt

    monkeypatch.setattr(source, "download", interrupted)
    with pytest.raises(KeyboardInterrupt):
        source.close()
    assert gpu.used == 0  # the pool, the page-locked buffers and the decoder are gone all the same
    assert not lent.lent and lent.image is NO_PIXELS  # given back, with no pixels: nothing to read freed memory


def test_the_container_names_the_codec_without_a_decoder(tmp_path: Path, video: Path) -> None:
    import av

    h264 = tmp_path / "h264.mp4"
    with av.open(str(h264), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.height, stream.width, stream.pix_fmt = 64, 96, "yuv420p"
        for image in moving_square_frames(3, size=(64, 96)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert nvdec.container_codec(str(h264)) == "h264"
    assert nvdec.container_codec(str(video)) == "mpeg4"
    mjpeg = write_video(tmp_path / "squares.avi", moving_square_frames(3, size=(64, 96)))
    assert nvdec.container_codec(str(mjpeg)) == "mjpg"
    assert nvdec.container_codec(str(tmp_path / "missing.mp4")) == ""


def test_motion_jpeg_is_refused_for_its_full_range(gpu: FakeGpu, device: Any, nvc: Any, tmp_path: Path) -> None:
    """NVDEC hands over Motion JPEG's full-range YUV as it is; the kernel converts video
    range (on the H200 the CPU's detections were not all found): one line, before any
    decoder, also under --decode nvdec."""
    mjpeg = write_video(tmp_path / "squares.avi", moving_square_frames(3, size=(64, 96)))
    with pytest.raises(NvdecUnavailable, match=r"^squares.avi is mjpg: its YUV is full-range \(JPEG\), and the "
                                               r"GPU letterbox converts video-range NV12$"):
        NvdecSource(str(mjpeg), device)
    assert gpu.used == 0


def full_range_h264(path: Path, flagged: bool) -> Path:
    """H.264 whose headers say full range (video_full_range_flag) or video range."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.height, stream.width, stream.pix_fmt = 64, 96, "yuv420p"
        stream.codec_context.color_range = 2 if flagged else 1
        for image in moving_square_frames(3, size=(64, 96)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24").reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_h264_flagged_full_range_is_refused(gpu: FakeGpu, device: Any, nvc: Any, tmp_path: Path) -> None:
    """A phone's H.264 may say its YUV is full-range: FFmpeg on the CPU honours it, the NV12
    kernel would not. One line, before any decoder; the same codec in video range goes on."""
    full = full_range_h264(tmp_path / "phone.mp4", flagged=True)
    assert nvdec.flagged_full_range(str(full)) and not nvdec.flagged_full_range(str(tmp_path / "missing.mp4"))
    with pytest.raises(NvdecUnavailable, match=r"^phone.mp4 is h264 flagged full-range \(JPEG levels, as some phones "
                                               r"write\), and the GPU letterbox converts video-range NV12$"):
        NvdecSource(str(full), device)
    assert gpu.used == 0 and nvc.decoded == 0
    plain = full_range_h264(tmp_path / "plain.mp4", flagged=False)
    assert not nvdec.flagged_full_range(str(plain))
    with NvdecSource(str(plain), device) as source:
        frame = source.read()
        assert frame is not None
        frame.settle(False)


def test_a_decoder_message_that_breaks_after_its_colon_keeps_its_reason() -> None:
    """PyNvVideoCodec's errors put the reason on the line after "CreateFormatContext :"
    (the H200's message for a cut file); the one line shown keeps both."""
    from trt_viewer.errors import first_line

    exc = RuntimeError('CreateFormatContext :\n  avformat_open_input returned error "Invalid data"\nmore')
    assert first_line(exc) == 'CreateFormatContext : avformat_open_input returned error "Invalid data"'
    assert first_line(RuntimeError("one\ntwo")) == "one" and first_line(RuntimeError("")) == "RuntimeError"
