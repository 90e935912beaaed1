"""NVDEC's first-frame check in a child process (run/nvdec_probe.py), with a stand-in
PyNvVideoCodec package the child imports: a decoder that works, one that raises, one that
aborts the process from inside as the real one did on H.264 4:4:4 on the H200, and one that
never answers. The parent always gets one line, never dies."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from trt_viewer.run import nvdec_probe

STAND_IN = textwrap.dedent('''
    """A stand-in PyNvVideoCodec: what it does depends on the file's name."""
    import os
    import sys
    import time

    class OutputColorType:
        NATIVE = "native"

    class ThreadedDecoder:
        def __init__(self, path, **kwargs):
            self.path = os.path.basename(path)
            if self.path.startswith("raises"):
                raise RuntimeError("Codec not supported\\nsecond line")

        def get_batch_frames(self, n):
            if self.path.startswith("aborts"):
                sys.stderr.write("terminate called after throwing an instance of 'PyNvVCException'\\n"
                                 "Error code : 801\\nError Type : Codec not supported on this GPU\\n")
                sys.stderr.flush()
                os.abort()
            if self.path.startswith("hangs"):
                time.sleep(60)
            if self.path.startswith("crashes_at_exit"):  # as the real one did at teardown
                import atexit
                import signal
                atexit.register(lambda: os.kill(os.getpid(), signal.SIGSEGV))
            return [] if self.path.startswith("empty") else [object()]

        def end(self):
            pass
''')


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "site" / "PyNvVideoCodec"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))  # the child's path starts with this one's
    return tmp_path


def make(folder: Path, name: str) -> str:
    path = folder / name
    path.write_bytes(b"\0" * 64)
    return str(path)


def test_a_decoder_that_aborts_costs_the_child_not_the_caller(stand_in: Path) -> None:
    why = nvdec_probe.ask_child(make(stand_in, "aborts.mp4"), 0)
    assert why == "PyNvVideoCodec aborts on it (Codec not supported on this GPU, error 801)"


def test_each_answer_is_one_line(stand_in: Path) -> None:
    assert nvdec_probe.ask_child(make(stand_in, "ok.mp4"), 0) == ""
    assert nvdec_probe.ask_child(make(stand_in, "crashes_at_exit.mp4"), 0) == ""  # the answer came first
    assert nvdec_probe.ask_child(make(stand_in, "raises.mp4"), 0) == "Codec not supported"
    assert nvdec_probe.ask_child(make(stand_in, "empty.mp4"), 0) == "NVDEC decoded no frame of it"
    assert nvdec_probe.ask_child(make(stand_in, "hangs.mp4"), 0, timeout=3) == "NVDEC gave no first frame in 3 s"


def test_the_answer_is_kept_per_file_until_it_changes(stand_in: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = nvdec_probe.ask_child
    monkeypatch.setattr(nvdec_probe, "ask_child", lambda spec, gpu: asked.append(spec) or real(spec, gpu))
    spec = make(stand_in, "aborts_once.mp4")
    first = nvdec_probe.why_not(spec, 0)
    assert first.startswith("PyNvVideoCodec aborts on it") and nvdec_probe.why_not(spec, 0) == first
    assert len(asked) == 1
    Path(spec).write_bytes(b"\0" * 65)  # another file now: asked again
    nvdec_probe.why_not(spec, 0)
    assert len(asked) == 2
    assert nvdec_probe.why_not(str(stand_in / "missing.mp4"), 0).startswith("[Errno 2]")


def test_a_file_that_would_abort_the_decoder_is_decoded_on_the_cpu_with_one_line(
        stand_in: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The whole path: --decode nvdec on a file whose decoder would abort falls back."""
    from modelgen import moving_square_frames, write_video

    from trt_viewer.backends.base import DeviceContext
    from trt_viewer.run.decoding import source_opener

    video = write_video(stand_in / "aborts.mp4", moving_square_frames(5, size=(48, 64)))
    device = DeviceContext(cuda=None, context=None)  # the check comes before any CUDA call
    with caplog.at_level(logging.INFO, logger="trt_viewer.run.decoding"), \
            source_opener("nvdec", None, device)(str(video)) as source:
        assert source.decoder != "nvdec" and source.read() is not None
    assert [r.getMessage() for r in caplog.records] == [
        f"decoding {video} on the CPU: NVDEC cannot decode aborts.mp4: "
        "PyNvVideoCodec aborts on it (Codec not supported on this GPU, error 801)"]


def test_a_busy_moment_is_not_kept_as_the_answer(stand_in: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["NVDEC gave no first frame in 60 s", ""])
    monkeypatch.setattr(nvdec_probe, "ask_child", lambda spec, gpu: next(answers))
    spec = make(stand_in, "slow.mp4")
    assert nvdec_probe.why_not(spec, 0) == "NVDEC gave no first frame in 60 s"
    assert nvdec_probe.why_not(spec, 0) == ""  # asked again, and that answer is kept
    assert nvdec_probe.why_not(spec, 0) == ""
