"""NVDEC on a real GPU (marked gpu; skipped without pycuda, PyNvVideoCodec or the real
data): the double in fakes/fake_nvc.py names only what the real module has, frames
decoded on the GPU match OpenCV's decoding within the NV12 conversion's levels, the NV12
letterbox kernel equals its emulation, and the real YOLOX-Nano finds the same objects on
NVDEC frames letterboxed on the GPU as on OpenCV frames letterboxed on the CPU.
Run with benchmarks/gpu_video_run.sh (GPU_TESTS=1)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
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


def test_the_view_is_scaled_on_the_gpu_as_opencv_scales_the_whole_frame(nvc: Any, device: DeviceContext,
                                                                         video: Path) -> None:
    """The viewer's picture, scaled from NV12 on the GPU, equals the whole frame downloaded,
    converted and scaled by OpenCV (the CPU path the viewer took before), at window sizes
    below and above the frame's."""
    from trt_viewer.run.nvdec import NvdecSource

    sizes = [(960, 540), (1280, 720), (737, 415), (301, 169), (2560, 1440)]
    differing: dict[tuple[int, int], int] = {}
    with NvdecSource(str(video), device) as source:
        for _ in range(3):
            frame = source.read()
            assert frame is not None
            try:
                scaled = [frame.scaled(wh) for wh in sizes]  # the frame still only on the GPU
                whole = frame.host_image()
            finally:
                frame.settle(False)
            for wh, got in zip(sizes, scaled, strict=True):
                want = cv2.resize(whole, wh, interpolation=cv2.INTER_LINEAR)
                assert got.shape == want.shape
                differing[wh] = differing.get(wh, 0) + int((got != want).sum())
        assert source.view_downloads == 3 * len(sizes) and source.downloads == 3
    print(f"values differing from OpenCV per size: {differing}")
    assert all(n == 0 for n in differing.values())


@pytest.fixture
def memory(cuda: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealCudaMemory]:
    dev = cuda.Device(0)
    real = RealCudaMemory(cuda)
    major, minor = dev.compute_capability()
    monkeypatch.setitem(sys.modules, "tensorrt", make_tensorrt(STYLES["10"], Device(real, dev.name(),
                                                                                    f"{major}.{minor}")))
    yield real


def run_both(video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], conf: str) -> list[tuple[Any, Any]]:
    """`trt-viewer run` on `video` with the real YOLOX-Nano twice: OpenCV decoding and the CPU
    letterbox, then NVDEC and the NV12 kernel; each frame's detections side by side."""
    import json

    onnx_path = video.parent.parent / "models" / "yolox_nano.onnx"
    engine = tmp_path / "nano.engine"
    code, _, err = run_cli(["build", str(onnx_path), "-o", str(engine)], capsys)
    assert code == 0, err
    runs = {}
    for decode, extra in (("cpu", ["--no-gpu-preprocess"]), ("nvdec", [])):
        out = tmp_path / f"{decode}.jsonl"
        code, _, err = run_cli(["run", "--model", str(engine), "--source", str(video), "--decode", decode,
                                "--max-frames", "120", "--conf", conf, "--detections", str(out), "-q", *extra],
                               capsys)
        assert code == 0, err
        assert "decoding" not in err  # no fallback
        runs[decode] = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(runs["cpu"]) == len(runs["nvdec"]) > 0
    return list(zip(runs["cpu"], runs["nvdec"], strict=True))


def matches(pairs: list[tuple[Any, Any]], above: float) -> tuple[list[float], list[float]]:
    """Every detection scored `above` or more on one side has its match on the other: same
    class, the nearest box (one a hair above the threshold on one side may fall a hair below
    it on the other, so `above` stays clear of it). The box and score differences of each."""
    boxes, scores = [], []
    for a, b in pairs:
        for mine, theirs in ((a, b), (b, a)):
            for d in (d for d in mine["detections"] if d["score"] >= above):
                same = [e for e in theirs["detections"] if e["class_id"] == d["class_id"]]
                assert same, (a["frame"], d)
                e = min(same, key=lambda e: max(abs(x - y) for x, y in zip(d["box"], e["box"], strict=True)))
                boxes.append(max(abs(x - y) for x, y in zip(d["box"], e["box"], strict=True)))
                scores.append(abs(d["score"] - e["score"]))
    return boxes, scores


def test_yolox_nano_on_the_nv12_kernel_equals_the_cpu_letterbox_of_the_same_frames(
        nvc: Any, cuda: Any, memory: RealCudaMemory, primary_context: Any, video: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The GPU path alone, on the same decoded pixels: each NVDEC frame letterboxed by the
    NV12 kernel against the same frame downloaded (NV12 to BGR as the kernel converts) and
    letterboxed on the CPU. The issue's tolerance: same classes, 1 px, 0.01."""
    from trt_viewer.backends import open_backend
    from trt_viewer.run.detector import Detector
    from trt_viewer.run.nvdec import NvdecSource

    still = video.parent / "dog.mp4"
    if not still.is_file():
        pytest.skip("no dog.mp4 beside the video (tools/gpu_check.sh --prepare makes it)")
    engine = tmp_path / "nano.engine"
    code, _, err = run_cli(["build", str(video.parent.parent / "models" / "yolox_nano.onnx"), "-o", str(engine)],
                           capsys)
    assert code == 0, err
    pairs = []
    with open_backend(engine) as backend:
        on_gpu, on_cpu = Detector(backend), Detector(backend, gpu_preprocess=False)
        gpu_buffer, cpu_buffer = on_gpu.allocate_input(), on_cpu.allocate_input()
        assert gpu_buffer.takes_device and not cpu_buffer.on_gpu
        device = backend.device_context()
        assert device is not None
        for path in (still, video):
            with NvdecSource(str(path), device) as source:
                for _ in range(30):
                    frame = source.read()
                    assert frame is not None
                    ratio = on_gpu.preprocess_frame(frame, gpu_buffer)
                    a = on_gpu.postprocess(on_gpu.infer(gpu_buffer), ratio, frame.hw)
                    image = frame.host_image()
                    b = on_cpu.detect(image, cpu_buffer)
                    frame.settle(False)
                    pairs.append((a.to_records(on_gpu.names), b.to_records(on_cpu.names)))
    boxes, scores = matches([({"frame": i, "detections": a}, {"detections": b}) for i, (a, b) in enumerate(pairs)],
                            0.4)
    print(f"NV12 kernel vs CPU letterbox on the same NVDEC frames: {len(boxes)} detections compared, worst box "
          f"{max(boxes):.3f} px, worst score {max(scores):.5f}")
    assert len(boxes) >= 3 * 30 * 2 and max(boxes) <= 1.0 and max(scores) <= 0.01


def test_yolox_nano_finds_the_same_objects_on_nvdec_frames(nvc: Any, cuda: Any, memory: RealCudaMemory,
                                                          primary_context: Any, video: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """NVDEC and the NV12 kernel against OpenCV's decoding and the CPU letterbox, on dog.jpg
    as H.264 (tools/make_still_video.py): strong detections. The decoders' pixels differ by a
    level or so (FFmpeg's own YUV to BGR): the CPU alone, converting the same file's planes
    as the kernel does, moves the bicycle's box 4.2 px (docs/performance.md), so boxes are
    held to 5 px here and scores to the issue's 0.01."""
    still = video.parent / "dog.mp4"
    if not still.is_file():
        pytest.skip("no dog.mp4 beside the video (tools/gpu_check.sh --prepare makes it)")
    boxes, scores = matches(run_both(still, tmp_path, capsys, "0.3"), 0.4)
    print(f"NVDEC vs CPU on YOLOX-Nano, dog.mp4: {len(boxes)} detections compared, worst box {max(boxes):.2f} px, "
          f"worst score {max(scores):.4f}")
    assert len(boxes) >= 3 * 60 * 2 and max(boxes) <= 5.0 and max(scores) <= 0.01


def test_weak_detections_on_people_keep_their_classes(nvc: Any, cuda: Any, memory: RealCudaMemory,
                                                      primary_context: Any, video: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """people_1080p.mp4: YOLOX-Nano at 416 scores its people low (at most 0.38 in 60 frames),
    so at --conf 0.1. Low scores are where a level of difference in the pixels moves a box
    most (the first GPU run: up to 8.55 px and 0.055): each keeps its class; the spread is
    printed for docs/performance.md, not held to the 1 px of strong detections."""
    boxes, scores = matches(run_both(video, tmp_path, capsys, "0.1"), 0.15)
    b, s = np.array(boxes), np.array(scores)
    print(f"NVDEC vs CPU on YOLOX-Nano, {video.name}: {len(b)} detections compared; box difference p50 "
          f"{np.median(b):.2f}, p95 {np.percentile(b, 95):.2f}, max {b.max():.2f} px, "
          f"within 1 px {np.mean(b <= 1):.3f}; "
          f"score difference p50 {np.median(s):.4f}, max {s.max():.4f}, within 0.01 {np.mean(s <= 0.01):.3f}")
    assert len(b) > 0


def test_seeking_lands_on_the_frame_asked_for(nvc: Any, device: DeviceContext, video: Path) -> None:
    """reconfigure_decoder(path, k) and then a read: frame k itself (a file with B-frames,
    a keyframe every few seconds), not the keyframe before it, checked against OpenCV's
    frames read in order: frame k is nearer NVDEC's picture than frames k-1 and k+1 are."""
    import cv2

    from trt_viewer.run.nvdec import NvdecSource

    capture = cv2.VideoCapture(str(video))
    frames = []
    while len(frames) < 260 and (ok_image := capture.read())[0]:
        frames.append(ok_image[1])
    capture.release()
    with NvdecSource(str(video), device) as source:
        for k in (100, 37, 250, 1):
            source.seek(k)
            frame = source.read()
            assert frame is not None and frame.index == k
            got = frame.host_image().astype(np.int16)
            frame.settle(False)
            diff = {j: float(np.abs(got - frames[j]).mean()) for j in (k - 1, k, k + 1)}
            print(f"seek {k}: mean difference to OpenCV's frames {k - 1}, {k}, {k + 1}: "
                  + ", ".join(f"{d:.2f}" for d in diff.values()))
            assert diff[k] <= 2.5 and diff[k] < min(diff[k - 1], diff[k + 1])


CASES = ("h264.mp4", "h264_444.mp4", "h264_10bit.mp4", "hevc.mp4", "vp9.webm", "av1.mp4", "mpeg4.avi", "mjpeg.avi",
         "cut.mp4", "not_video.mp4")


@pytest.mark.parametrize("name", CASES)
def test_a_file_nvdec_cannot_take_falls_back_in_one_line(name: str, nvc: Any, cuda: Any, memory: RealCudaMemory,
                                                         primary_context: Any, video: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """tools/make_nvdec_cases.py's files through `trt-viewer run --decode nvdec` on the real
    decoder: what NVDEC takes gives as many frames as the CPU; what it refuses is decoded on the CPU
    with one line saying why; what nothing can decode is one error line, exit 1, as on the
    CPU. Never a traceback."""
    import json

    source = video.parent / "nvdec_cases" / name
    if not source.is_file():
        pytest.skip("no nvdec_cases beside the video (tools/gpu_check.sh --prepare makes them)")
    engine = tmp_path / "nano.engine"
    code, _, err = run_cli(["build", str(video.parent.parent / "models" / "yolox_nano.onnx"), "-o", str(engine)],
                           capsys)
    assert code == 0, err
    runs = {}
    for decode in ("cpu", "nvdec"):
        out = tmp_path / f"{decode}.jsonl"
        code, _, err = run_cli(["run", "--model", str(engine), "--source", str(source), "--decode", decode,
                                "--detections", str(out), "-q"], capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        rows = [json.loads(line) for line in out.read_text().splitlines()] if out.is_file() else []
        runs[decode] = (code, lines, rows)
        assert "Traceback" not in err
    (cpu_code, cpu_lines, cpu_rows), (code, lines, rows) = runs["cpu"], runs["nvdec"]
    fell_back = [line for line in lines if "on the CPU" in line]
    print(f"{name}: cpu exit {cpu_code}, {len(cpu_rows)} frames; nvdec exit {code}, {len(rows)} frames, "
          f"{'fell back: ' + fell_back[0] if fell_back else 'decoded by NVDEC'}; lines: {lines}")
    assert code == cpu_code and len(fell_back) <= 1
    assert len(lines) - len(fell_back) == len(cpu_lines)  # an error is one line, as on the CPU
    assert len(rows) == len(cpu_rows)
    if rows and not fell_back:
        per_frame = []
        for pair in zip(cpu_rows, rows, strict=True):
            with contextlib.suppress(AssertionError):  # a class found on one side only: printed as -1
                per_frame.append(round(max(matches([pair], 0.4)[0], default=0.0), 2))
                continue
            per_frame.append(-1.0)
        # Printed, not held to a tolerance: weak detections on this small panned crop move
        # with a level of colour. What NVDEC decodes is held to FFmpeg's planes
        # (test_nvdec_decodes_the_planes_ffmpeg_decodes); detections to the CPU's on dog.mp4.
        print(f"{name}: worst box difference per frame: {per_frame}")
    # Motion JPEG is full-range: refused before any decoder (run/nvdec.py FULL_RANGE_CODECS)
    refused = ("h264_444.mp4", "h264_10bit.mp4", "av1.mp4", "mjpeg.avi", "cut.mp4", "not_video.mp4")
    assert bool(fell_back) == (name in refused), fell_back


def nv12_planes(cuda: Any, decoded: Any, hw: tuple[int, int], stream: Any) -> tuple[np.ndarray, np.ndarray]:
    """A decoder frame's Y and interleaved UV planes on the host, rows packed."""
    h, w = hw
    out = []
    for plane, rows in zip(decoded.cuda(), (h, h // 2), strict=True):
        face = plane.__cuda_array_interface__
        host = np.empty((rows, w), np.uint8)
        copy = cuda.Memcpy2D()
        copy.set_src_device(int(face["data"][0]))
        copy.src_pitch = int(face["strides"][0])
        copy.set_dst_host(host)
        copy.dst_pitch = copy.width_in_bytes = w
        copy.height = rows
        copy(stream)
        stream.synchronize()
        out.append(host)
    return out[0], out[1]


# Decoders the standards make bit-exact: NVDEC's planes must be FFmpeg's, byte for byte.
# MPEG-4 Part 2 and JPEG leave the inverse DCT's rounding to the decoder.
BIT_EXACT = ("h264.mp4", "hevc.mp4", "vp9.webm", "av1.mp4")


def test_nvdec_decodes_the_planes_ffmpeg_decodes(nvc: Any, device: DeviceContext, video: Path) -> None:
    """Each case NVDEC takes, decoded by NVDEC, against FFmpeg's decoding of the same file
    before any colour conversion (tools/make_nvdec_cases.py's reference.npz): the codecs
    whose decoding is bit-exact give the same bytes; for the others, each frame is nearest
    its own reference frame (not one before or after) and how far they drift is printed."""
    import hashlib

    from trt_viewer.run import nvdec, nvdec_probe

    folder = video.parent / "nvdec_cases"
    if not (folder / "reference.npz").is_file():
        pytest.skip("no nvdec_cases/reference.npz (tools/gpu_check.sh --prepare makes it)")
    reference = np.load(folder / "reference.npz")
    names = sorted({key.split(":")[0] for key in reference.files})
    cuda, seen = device.cuda, {}
    for name in names:
        spec = str(folder / name)
        why = nvdec_probe.why_not(spec, device.device)
        if why:
            seen[name] = f"refused: {why}"
            continue
        y_sums, uv_sums, blocks = (reference[f"{name}:{key}"] for key in ("y", "uv", "blocks"))
        exact, nearest, drift, n = 0, [], 0.0, 0
        with device.current():
            stream = device.stream()
            decoder = nvdec.threaded_decoder(nvc, spec, device.device, 4, cuda_context=device.context.handle,
                                             cuda_stream=stream.handle)
            try:
                meta = decoder.get_stream_metadata()
                hw = (int(meta.height), int(meta.width))
                while n < len(y_sums) + 5 and (batch := decoder.get_batch_frames(1)):
                    y, uv = nv12_planes(cuda, batch[0], hw, stream)
                    if n < len(y_sums):
                        exact += (hashlib.sha256(y.tobytes()).digest() == y_sums[n].tobytes()
                                  and hashlib.sha256(uv.tobytes()).digest() == uv_sums[n].tobytes())
                        mine = cv2.resize(y.astype(np.float32), (hw[1] // 16, hw[0] // 16),
                                          interpolation=cv2.INTER_AREA)
                        gaps = [float(np.abs(mine - theirs).max()) for theirs in blocks]
                        nearest.append(int(np.argmin(gaps)))
                        drift = max(drift, gaps[n])
                    n += 1
            finally:  # a decoder left running would take the next test down with it
                decoder.end()
                del decoder
        seen[name] = f"{n} frames, {exact} byte-identical, block drift {drift:.2f} levels, nearest {nearest}"
        print(f"{name}: {seen[name]}", flush=True)
    print(seen)
    assert "h264.mp4" in seen and not seen["h264.mp4"].startswith("refused")
    for name, line in seen.items():
        if line.startswith("refused"):
            continue
        frames = len(reference[f"{name}:y"])
        assert line.startswith(f"{frames} frames, "), f"{name}: {line}"
        assert line.endswith(f"nearest {list(range(frames))}"), f"{name}: NVDEC's frames out of order: {line}"
        if name in BIT_EXACT:
            assert line.startswith(f"{frames} frames, {frames} byte-identical"), f"{name}: {line}"
