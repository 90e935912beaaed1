"""SourceInfo.decoder: what really decodes a run's source, told by the source opened (the
viewer's Statistics panel shows it; gui/decoding.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fakes.fake_nvc import make_nvc
from fakes.fake_pycuda import FakeGpu
from modelgen import moving_square_frames, write_video

from trt_viewer.core.sources import open_source
from trt_viewer.run.decode_process import ProcessSource
from trt_viewer.run.nvdec import NvdecSource
from trt_viewer.run.session import source_info


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "squares.mp4", moving_square_frames(10, size=(96, 128)))


@pytest.fixture
def device(gpu: FakeGpu, fake_device: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fake GPU's context with the fake PyNvVideoCodec (as tests/test_nvdec.py)."""
    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu))
    return fake_device


def test_each_decoder_is_named_by_the_source_it_opened(video: Path, device: Any) -> None:
    with NvdecSource(str(video), device) as source:
        assert source_info(source).decoder == "nvdec"
    with ProcessSource(str(video)) as source:
        assert source_info(source).decoder == "cpu (process)"
    with open_source(str(video)) as source:
        assert source_info(source).decoder == "cpu (thread)"
