"""The viewer with NVDEC (fake GPU, fake PyNvVideoCodec): a frame decoded on the GPU is
scaled there to the view and only that picture comes to the host; the full frame stays in
the decoder's pool while a packet holds it, and comes over only for what needs it (a
snapshot, a paused frame drawn again), also after the run closed its source."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fakes.fake_nvc import bgr_to_nv12, make_nvc
from fakes.fake_pycuda import FakeGpu
from modelgen import moving_square_frames, write_video

from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.gui.frames import FramePacket, fit_size, render_annotated
from trt_viewer.gui.worker import Worker
from trt_viewer.run.nvdec import POOL, NvdecSource
from trt_viewer.run.session import RunSpec

SIZE = (96, 128)  # (H, W) of the video
FULL = SIZE[0] * SIZE[1] * 3 // 2  # bytes of an NV12 frame


@pytest.fixture
def nvc(gpu: FakeGpu, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = make_nvc(gpu)
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", module)
    return module


def decoded(video: Path) -> list[np.ndarray]:
    """The video's frames as NVDEC hands them over (NV12), in BGR."""
    out = []
    capture = cv2.VideoCapture(str(video))
    while True:
        ok, image = capture.read()
        if not ok:
            return out
        y, uv = bgr_to_nv12(image)
        out.append(cv2.cvtColor(np.concatenate([y, uv.reshape(SIZE[0] // 2, SIZE[1])]), cv2.COLOR_YUV2BGR_NV12))


class View:
    """What the window does with the worker's packets: takes the newest, keeps it on screen,
    and releases the one it replaces."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.packet: FramePacket | None = None
        self.shown: list[FramePacket] = []
        self.states: list[str] = []
        self.errors: list[str] = []
        worker.frameReady.connect(self.take)
        worker.stateChanged.connect(self.states.append)
        worker.error.connect(self.errors.append)

    def take(self) -> None:
        packet = self.worker.slot.take()
        if packet is None:
            return
        if self.packet is not None:
            self.packet.release()
        self.packet = packet
        self.shown.append(packet)


def started(engine: Path, video: Path, view_wh: tuple[int, int] = (80, 50), **spec: Any) -> tuple[Worker, View]:
    """A run of the video decoded by NVDEC, for a view of view_wh, and what the window saw."""
    worker = Worker(RunSpec(model=str(engine), source=str(video), decode="nvdec", **spec))
    worker.set_view(*view_wh, 1.0)
    view = View(worker)
    worker.start()
    return worker, view


def assert_pictures_as_the_cpu_draws_them(view: View, expected: list[np.ndarray]) -> None:
    for packet in view.shown:  # the same picture the CPU path draws from the whole frame
        cpu, _ = render_annotated(expected[packet.index], packet.detections, packet.names, (80, 50))
        assert packet.image == cpu


def downloads(gpu: FakeGpu, since: int, nbytes: int) -> int:
    return sum(1 for c in gpu.calls[since:] if c.name.startswith("memcpy_dtoh") and c.nbytes == nbytes)


def test_the_viewer_gets_nvdec_frames_scaled_on_the_gpu_and_the_full_frame_only_when_asked(
        qtbot: Any, nvc: Any, gpu: FakeGpu, build: Any, models: dict[str, Path], tmp_path: Path) -> None:
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    video = write_video(tmp_path / "squares.mp4", moving_square_frames(POOL + 18, size=SIZE))
    expected = decoded(video)
    view_wh = fit_size((SIZE[1], SIZE[0]), (80, 50))  # a window smaller than the frame: (67, 50)
    before = len(gpu.calls)
    worker, view = started(engine, video)
    try:
        # More frames than the pool holds: a packet that never gave its frame back would
        # leave the decoder waiting for a free slot.
        qtbot.waitUntil(lambda: "ended" in view.states, timeout=20000)
        assert view.errors == []
        assert worker.processed == len(expected) and view.shown
        assert "scale_nv12_bgr" in gpu.launches
        assert downloads(gpu, before, FULL) == 0  # no frame came whole to the host while playing
        assert downloads(gpu, before, view_wh[0] * view_wh[1] * 3) >= len(view.shown)
        assert all((p.image.width(), p.image.height()) == view_wh and p.frame_size == (128, 96) for p in view.shown)
        assert_pictures_as_the_cpu_draws_them(view, expected)
        last = view.packet
        assert last is not None and last.index == len(expected) - 1 and last.lent is not None
        calls = len(gpu.calls)
        assert np.array_equal(last.full(), expected[last.index])  # a snapshot: the frame comes now, once
        last.annotated()
        last.redraw((200, 150))
        assert downloads(gpu, calls, FULL) == 1
    finally:
        worker.stop()
        assert worker.wait(10000)
    assert gpu.used == 0  # the pool, the scaling buffers and the engine: all freed


def test_a_frame_on_screen_when_the_run_ends_keeps_its_pixels(qtbot: Any, nvc: Any, gpu: FakeGpu, build: Any,
                                                              models: dict[str, Path], tmp_path: Path) -> None:
    """Stopped while a frame is on screen and never fetched: the source, closing, fetches
    it before its pool goes, so a snapshot or a resize after the run still has it."""
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    video = write_video(tmp_path / "squares.mp4", moving_square_frames(10, size=SIZE))
    expected = decoded(video)
    worker, view = started(engine, video, (64, 48), start_paused=True)
    qtbot.waitUntil(lambda: view.packet is not None and "paused" in view.states, timeout=20000)
    worker.stop()
    assert worker.wait(10000)
    packet = view.packet
    assert packet is not None and packet.lent is not None and not packet.lent.lent
    assert np.array_equal(packet.full(), expected[packet.index]) and gpu.used == 0


def test_a_frame_that_cannot_be_fetched_at_the_end_leaves_the_picture_and_one_line(
        qtbot: Any, nvc: Any, gpu: FakeGpu, build: Any, models: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A CUDA error while the closing source fetches the frame on screen: the source still
    closes and frees everything, the window keeps the picture it shows (a resize or a new
    style leaves it as it is) and a snapshot has nothing to save instead of a traceback."""
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    video = write_video(tmp_path / "squares.mp4", moving_square_frames(10, size=SIZE))

    def fails(self: NvdecSource, k: int) -> np.ndarray:
        raise gpu.driver.LaunchError("cuMemcpyDtoHAsync failed: unspecified launch failure")

    monkeypatch.setattr(NvdecSource, "download", fails)
    worker, view = started(engine, video, (64, 48), start_paused=True)
    qtbot.waitUntil(lambda: view.packet is not None and "paused" in view.states, timeout=20000)
    worker.stop()
    assert worker.wait(10000)
    packet = view.packet
    assert packet is not None and gpu.used == 0
    picture = packet.image
    assert packet.redraw((200, 150)) is picture and packet.annotated().size == 0
    assert "could not be fetched from the GPU: cuMemcpyDtoHAsync failed" in caplog.text


def test_without_nvcc_the_view_is_scaled_on_the_cpu_from_the_whole_frame(
        qtbot: Any, nvc: Any, gpu: FakeGpu, build: Any, models: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No CUDA toolkit: the letterbox and the scaling kernel cannot be compiled. The viewer
    still shows NVDEC's frames, each downloaded whole and scaled on the CPU."""
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})  # nothing compiled earlier in this process
    engine = build(models["raw"], tmp_path / "raw.engine")
    video = write_video(tmp_path / "squares.mp4", moving_square_frames(6, size=SIZE))
    expected = decoded(video)
    worker, view = started(engine, video)
    try:
        qtbot.waitUntil(lambda: "ended" in view.states, timeout=20000)
        assert view.errors == [] and view.shown and gpu.launches == []
        assert downloads(gpu, 0, FULL) >= len(view.shown)
        assert_pictures_as_the_cpu_draws_them(view, expected)
    finally:
        worker.stop()
        assert worker.wait(10000)


def test_a_snapshot_of_a_frame_whose_pixels_are_gone_is_one_line(qtbot: Any, window: Any) -> None:
    from PySide6.QtGui import QImage

    from trt_viewer.core.detections import Detections
    from trt_viewer.core.sources import NO_PIXELS

    picture = QImage(64, 48, QImage.Format.Format_RGB32)
    window.run.packet = FramePacket(picture, NO_PIXELS, [], 3, "clip.mp4", 0.1, Detections.empty(), hw=SIZE)
    assert window.snapshot() is None
    assert window.last_error == "cannot save a snapshot: the frame on screen could not be fetched from the GPU"
