"""NVDEC on a real GPU (marked gpu; skipped without pycuda, PyNvVideoCodec or the real
data): the double in fakes/fake_nvc.py names only what the real module has, frames
decoded on the GPU match OpenCV's decoding within the NV12 conversion's levels, the NV12
letterbox kernel equals its emulation, and the real YOLOX-Nano finds the same objects on
NVDEC frames letterboxed on the GPU as on OpenCV frames letterboxed on the CPU.
Run with benchmarks/gpu_video_run.sh (GPU_TESTS=1)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import real_data
from fakes import fake_nvc
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, Device, make_tensorrt
from fakes.fixtures import run_cli
from fakes.gpu_kernels import KERNELS
from fakes.real_cuda import RealCudaMemory

from trt_viewer.backends.base import DeviceContext

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def nvc() -> Any:
    return pytest.importorskip("PyNvVideoCodec")


@pytest.fixture
def video() -> Path:
    data = real_data(("models/yolox_nano.onnx", "media/people.mp4"))
    if data is None:
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real test data")
    hd = data / "media" / "people_1080p.mp4"
    return hd if hd.is_file() else data / "media" / "people.mp4"


@pytest.fixture
def device(cuda: Any, primary_context: Any) -> DeviceContext:
    return DeviceContext(cuda, primary_context, 0)


def public(obj: Any) -> set[str]:
    return {n for n in vars(obj) if not n.startswith("_")} if isinstance(obj, type) else set()


def test_every_name_of_the_double_is_in_the_real_module(nvc: Any, device: DeviceContext, video: Path) -> None:
    assert {"ThreadedDecoder", "OutputColorType"} <= set(dir(nvc))
    assert {"NATIVE", "RGB", "RGBP"} <= set(dir(nvc.OutputColorType))
    double = fake_nvc.make_nvc(FakeGpu())
    assert public(double.ThreadedDecoder) | {"__len__"} <= set(dir(nvc.ThreadedDecoder))
    assert {n for n in vars(double) if not n.startswith("_") and n != "decoded"} <= set(dir(nvc))
    stream = device.cuda.Stream()
    decoder = nvc.ThreadedDecoder(str(video), buffer_size=4, gpu_id=0, cuda_context=device.context.handle,
                                  cuda_stream=stream.handle, use_device_memory=True,
                                  output_color_type=nvc.OutputColorType.NATIVE)
    try:
        meta = decoder.get_stream_metadata()
        fake_meta = fake_nvc.StreamMetadata(1, 1, 1, 1.0, "h264")
        assert set(vars(fake_meta)) <= set(dir(meta))
        frame = decoder.get_batch_frames(1)[0]
        assert public(fake_nvc.DecodedFrame) | {"format", "shape", "timestamp"} <= set(dir(frame))
        assert str(frame.format).rsplit(".", 1)[-1] in {m.name for m in fake_nvc.Pixel_Format}
        planes = [p.__cuda_array_interface__ for p in frame.cuda()]
        fake = fake_nvc._Plane(0, (2, 2, 1), (2, 1, 1)).__cuda_array_interface__
        assert all(set(fake) <= set(p) for p in planes) and len(planes) == 2
    finally:
        decoder.end()


def test_frames_decoded_on_the_gpu_match_opencv(nvc: Any, device: DeviceContext, video: Path) -> None:
    from trt_viewer.core.sources import open_source
    from trt_viewer.run.nvdec import NvdecSource

    with NvdecSource(str(video), device) as gpu_source, open_source(str(video)) as cpu_source:
        assert (gpu_source.length, gpu_source.hw) == (cpu_source.length, cpu_source.first_hw)  # type: ignore[attr-defined]
        diffs = []
        for _ in range(60):
            a, b = gpu_source.read(), cpu_source.read()
            assert a is not None and b is not None and a.index == b.index
            diffs.append(float(np.abs(a.host_image().astype(np.int16) - b.image.astype(np.int16)).mean()))
            a.settle(False)
        assert gpu_source.downloads == 60
    print(f"NVDEC vs OpenCV, mean absolute difference per frame: max {max(diffs):.2f}, mean {np.mean(diffs):.2f}")
    assert max(diffs) <= 2.5  # NV12 to BGR here and in FFmpeg differ by a level or two


def test_the_nv12_kernel_equals_its_emulation(nvc: Any, device: DeviceContext, video: Path) -> None:
    from trt_viewer.backends.trt.gpu_letterbox import GpuLetterbox, geometry
    from trt_viewer.core.preprocess import CURRENT
    from trt_viewer.run.nvdec import NvdecSource

    cuda = device.cuda
    kernel = GpuLetterbox(cuda, np.dtype(np.float32), cuda.Device(0).compute_capability())
    out_hw = (416, 416)
    out = cuda.mem_alloc(3 * 416 * 416 * 4)
    with NvdecSource(str(video), device) as source:
        frame = source.read()
        assert frame is not None
        stream = cuda.Stream()
        kernel.launch_nv12(frame.device, int(out), out_hw, CURRENT, stream)
        stream.synchronize()
        got = np.empty((3, 416, 416), np.float32)
        cuda.memcpy_dtoh(got, out)

        class Memory:  # the emulation reads device memory through this
            @staticmethod
            def read(address: int, nbytes: int) -> bytes:
                host = np.empty(nbytes, np.uint8)
                cuda.memcpy_dtoh(host, address)
                return host.tobytes()

            written: bytes = b""

            @classmethod
            def write(cls, address: int, data: bytes) -> None:
                cls.written = data

        image = frame.device
        h, w = image.hw
        _, new_h, new_w = geometry((h, w), out_hw)
        args = (image.y, image.uv, 0, 1.0 / (new_w / w), 1.0 / (new_h / h), 1.0, 1.0, 1.0, 0.0, 0.0, 0.0,
                h, w, new_h, new_w, 416, 416, 0, 0, image.y_pitch, image.uv_pitch)
        KERNELS["letterbox_nv12_f32"](Memory, (13, 52, 1), (32, 8, 1), args)
        emulated = np.frombuffer(Memory.written, np.float32).reshape(3, 416, 416)
        frame.settle(False)
    out.free()
    kernel.close()
    assert np.array_equal(got, emulated)


@pytest.fixture
def memory(cuda: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealCudaMemory]:
    dev = cuda.Device(0)
    real = RealCudaMemory(cuda)
    major, minor = dev.compute_capability()
    monkeypatch.setitem(sys.modules, "tensorrt", make_tensorrt(STYLES["10"], Device(real, dev.name(),
                                                                                    f"{major}.{minor}")))
    yield real


def test_yolox_nano_finds_the_same_objects_on_nvdec_frames(nvc: Any, cuda: Any, memory: RealCudaMemory,
                                                          primary_context: Any, video: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    import json

    onnx_path = video.parent.parent / "models" / "yolox_nano.onnx"
    engine = tmp_path / "nano.engine"
    code, _, err = run_cli(["build", str(onnx_path), "-o", str(engine)], capsys)
    assert code == 0, err
    runs = {}
    for decode, extra in (("cpu", ["--no-gpu-preprocess"]), ("nvdec", [])):
        out = tmp_path / f"{decode}.jsonl"
        code, _, err = run_cli(["run", "--model", str(engine), "--source", str(video), "--decode", decode,
                                "--max-frames", "120", "--conf", "0.1", "--detections", str(out), "-q", *extra],
                               capsys)
        assert code == 0, err
        assert "decoding" not in err  # no fallback
        runs[decode] = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(runs["cpu"]) == len(runs["nvdec"]) == 120
    worst_box, worst_score, compared = 0.0, 0.0, 0
    for a, b in zip(runs["cpu"], runs["nvdec"], strict=True):
        # YOLOX-Nano at 416 scores this file's people low (at most 0.38 in 60 frames), so
        # the threshold is 0.1. Every detection well above it (0.15) on one side has its
        # match on the other: same class, the nearest box (a score a hair above the threshold
        # on one side may fall a hair below it on the other, so those are not compared).
        for mine, theirs in ((a, b), (b, a)):
            for d in (d for d in mine["detections"] if d["score"] >= 0.15):
                same = [e for e in theirs["detections"] if e["class_id"] == d["class_id"]]
                assert same, (a["frame"], d)
                e = min(same, key=lambda e: max(abs(x - y) for x, y in zip(d["box"], e["box"], strict=True)))
                worst_box = max(worst_box, *(abs(x - y) for x, y in zip(d["box"], e["box"], strict=True)))
                worst_score = max(worst_score, abs(d["score"] - e["score"]))
                compared += 1
    print(f"NVDEC vs CPU on YOLOX-Nano: {compared} detections compared, worst box {worst_box:.2f} px, "
          f"worst score {worst_score:.4f}")
    assert compared > 0 and worst_box <= 1.0 and worst_score <= 0.01
