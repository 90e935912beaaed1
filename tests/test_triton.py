"""The Triton backend against a real Triton server (tests/triton_server.py: tritonserver 2.51
through PyTriton, each model in ONNX Runtime inside a bound function, dynamic batching).

Skipped, with the reason, where the server's environment cannot be made (no package
registry); CI makes it first (.ci/run) and sets TRT_VIEWER_REQUIRE_TRITON=1, which turns
that skip into a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import onnx
import pytest
from fakes.fixtures import run_cli
from onnx import TensorProto, helper
from triton_server import Served, TritonServer, free_ports, server_or_skip

from trt_viewer.backends import open_backend
from trt_viewer.backends.base import HostInput
from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.triton import SharedInput, TritonBackend, parse_url
from trt_viewer.core.sources import read_image
from trt_viewer.errors import InputError, RunError
from trt_viewer.run.detector import Detector

pytest.importorskip("tritonclient.grpc")

# ../shared/REFERENCE.md: yolox_nano.onnx on dog.jpg, class-aware NMS 0.45, score > 0.3
REFERENCE = [
    ("dog", 16, 0.855, [133, 207, 326, 543]),
    ("bicycle", 1, 0.803, [52, 137, 572, 424]),
    ("car", 2, 0.798, [466, 78, 692, 171]),
    ("truck", 7, 0.306, [464, 78, 683, 173]),
]
TOKEN = "s3cret-token-for-tests"


def real_files() -> Path | None:
    root = os.environ.get("TRT_VIEWER_TEST_DATA")
    if not root:
        return None
    path = Path(root)
    return path if (path / "models/yolox_nano.onnx").is_file() and (path / "media/dog.jpg").is_file() else None


def no_layout_model(path: Path) -> Path:
    """One image in, three numbers out: no YOLOX layout fits."""
    node = helper.make_node("GlobalAveragePool", ["images"], ["pooled"])
    shape = helper.make_node("Reshape", ["pooled", "shape"], ["scores"])
    graph = helper.make_graph(
        [node, shape], "no_layout", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 96])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
        [onnx.numpy_helper.from_array(np.array([1, 3], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path



@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("triton-models")
    return {
        "raw": modelgen.yolox_model(d / "raw.onnx"),
        "end2end": modelgen.yolox_model(d / "end2end.onnx", layout="end2end"),
        "dynamic": modelgen.yolox_model(d / "dynamic.onnx", dynamic=True),
        "uint8": modelgen.yolox_model(d / "uint8.onnx", input_dtype=TensorProto.UINT8),
        "no_layout": no_layout_model(d / "no_layout.onnx"),
    }


@pytest.fixture(scope="module")
def server(local: dict[str, Path]) -> Iterator[TritonServer]:
    """One server for the module: restricted endpoints off, so shared memory is open."""
    python = server_or_skip()
    served = [
        Served("raw", local["raw"], labels=("alpha", "beta")),
        Served("end2end", local["end2end"]),
        Served("dynamic", local["dynamic"]),
        Served("uint8", local["uint8"]),
        Served("unbatched", local["raw"], max_batch_size=0),
        Served("no_layout", local["no_layout"]),
        Served("slow", local["raw"], delay_s=2.0),
    ]
    data = real_files()
    if data is not None:
        served.append(Served("yolox_nano", data / "models/yolox_nano.onnx"))
    srv = TritonServer(served, python=python).start()
    print(f"\nTriton test server ready in {srv.started_s:.1f} s ({len(served)} models)")
    yield srv
    left = srv.stop()
    assert left == [], left


@pytest.fixture(scope="module")
def token_server(local: dict[str, Path]) -> Iterator[TritonServer]:
    """A server whose every endpoint but health needs the access token."""
    python = server_or_skip()
    srv = TritonServer([Served("raw", local["raw"])], token=TOKEN, python=python).start()
    yield srv
    left = srv.stop()
    assert left == [], left


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (64, 96, 3), dtype=np.uint8) for _ in range(n)]


def our_shm() -> list[str]:
    return sorted(p.name for p in Path("/dev/shm").glob(f"trt_viewer_{os.getpid()}_*"))


# -- results ------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("shm", ["on", "off"])
def test_outputs_equal_onnxruntime_with_frames_in_flight(server: TritonServer, local: dict[str, Path],
                                                         protocol: str, shm: str) -> None:
    base = server.grpc_url if protocol == "grpc" else server.http_url
    images = frames(12)
    with OnnxRuntimeBackend(local["raw"], workers=1) as ort:
        reference = Detector(ort)
        expected = []
        for image in images:
            buffer = reference.allocate_input()
            reference.preprocess(image, buffer)
            expected.append(ort.infer(buffer)["output"])
    with open_backend(f"{base}/raw?shm={shm}&lanes=3") as backend:
        assert isinstance(backend, TritonBackend)
        assert backend.lanes == 3 and backend.shm == (shm == "on")
        detector = Detector(backend)
        buffers = [detector.allocate_input() for _ in range(backend.lanes + 1)]
        assert all(isinstance(b, SharedInput) == (shm == "on") for b in buffers)
        pending: list[Any] = []
        got = []
        for i, image in enumerate(images):
            buffer = buffers[i % len(buffers)]
            detector.preprocess(image, buffer)
            pending.append(detector.submit(buffer))
            if len(pending) == backend.lanes:
                got.append(detector.collect(pending.pop(0), copy=True)["output"])
        got += [detector.collect(t)["output"] for t in pending]
        assert shm == "off" or our_shm()
    assert our_shm() == []  # closed: every region unlinked
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.shape == b.shape == (1, 126, 7)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_uncopied_outputs_stay_valid_for_lanes_more_frames(server: TritonServer) -> None:
    images = frames(6, seed=1)
    with open_backend(f"{server.grpc_url}/raw?lanes=2") as backend:
        detector = Detector(backend)
        buffers = [detector.allocate_input() for _ in range(3)]
        for image, buffer in zip(images, buffers):
            detector.preprocess(image, buffer)
        first = detector.collect(detector.submit(buffers[0]), copy=False)["output"]
        kept = first.copy()
        second = detector.submit(buffers[1])  # lanes - 1 more frames: the first's arrays are untouched
        detector.collect(second)
        np.testing.assert_array_equal(first, kept)


@pytest.mark.parametrize("url", ["grpc", "http", "grpc-noshm", "http-noshm"])
def test_dog_gives_the_reference_detections(server: TritonServer, url: str) -> None:
    data = real_files()
    if data is None:
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real model and dog.jpg")
    base = server.grpc_url if url.startswith("grpc") else server.http_url
    spec = f"{base}/yolox_nano" + ("?shm=off" if url.endswith("noshm") else "")
    image = read_image(data / "media/dog.jpg")
    with open_backend(data / "models/yolox_nano.onnx") as ort:
        local_detector = Detector(ort)
        buffer = local_detector.allocate_input()
        local_detector.preprocess(image, buffer)
        local_outputs = ort.infer(buffer)
        local_dets = local_detector.detect(image)
    with open_backend(spec) as backend:
        detector = Detector(backend)
        assert detector.input_hw == (416, 416) and backend.input.shape == (1, 3, 416, 416)
        assert backend.outputs[0].shape == (1, 3549, 85) and backend.max_batch == 8
        outputs = backend.infer(buffer)
        dets = detector.detect(image)
    np.testing.assert_allclose(outputs["output"], local_outputs["output"], rtol=1e-5, atol=1e-5)
    assert detector.layout == "raw" and detector.names_source == "COCO"
    assert len(dets) == len(REFERENCE) == len(local_dets)
    for (label, cid, score, box), b, s, c in zip(REFERENCE, dets.boxes, dets.scores, dets.class_ids):
        assert detector.label(int(c)) == label and c == cid
        assert abs(float(s) - score) <= 0.002
        assert max(abs(float(v) - r) for v, r in zip(b, box)) <= 1.0
    np.testing.assert_allclose(dets.boxes, local_dets.boxes, atol=1e-3)


def test_class_names_come_from_the_config_parameters(server: TritonServer) -> None:
    with open_backend(f"{server.grpc_url}/raw") as backend:
        detector = Detector(backend)
        assert detector.names == ["alpha", "beta"]
        assert detector.names_source == "model metadata 'labels'"


@pytest.mark.parametrize("name", ["end2end", "uint8", "unbatched", "dynamic"])
def test_every_layout_and_input_type_detects_as_locally(server: TritonServer, local: dict[str, Path],
                                                        name: str) -> None:
    size = (64, 96) if name == "dynamic" else None
    image = modelgen.square_image((64, 96), (3, 2, 8))
    with open_backend(local["raw" if name == "unbatched" else name], input_size=size) as ort:
        expected_detector = Detector(ort)
        expected = expected_detector.detect(image)
    with open_backend(f"{server.http_url}/{name}", input_size=size) as backend:
        detector = Detector(backend)
        got = detector.detect(image)
        assert detector.layout == expected_detector.layout
        assert backend.max_batch == (0 if name == "unbatched" else 8)
        assert backend.input.dtype == ort.input.dtype
    assert len(got) == len(expected) >= 1
    np.testing.assert_allclose(got.boxes, expected.boxes, atol=1e-4)
    np.testing.assert_allclose(got.scores, expected.scores, atol=1e-6)


def test_describe_says_where_and_how(server: TritonServer) -> None:
    with open_backend(f"{server.grpc_url}/raw") as backend:
        info = backend.describe()
    assert info["backend"] == "triton" and info["model"] == f"{server.grpc_url}/raw"
    assert info["server"] == server.grpc_url and info["protocol"] == "grpc"
    assert info["platform"] == "python" and info["max_batch_size"] == 8 and info["dynamic_batching"]
    assert info["shared_memory"] is True and info["shared_memory_note"] == "inputs and outputs"
    assert info["device"] == f"Triton 2.51.0 at 127.0.0.1:{server.grpc_port}"
    assert info["lanes"] == 4 and info["input_size"] == [64, 96]
    assert info["precision"] == "float32 (Triton python)"


def test_closing_unregisters_its_regions(server: TritonServer) -> None:
    import tritonclient.grpc as grpcclient

    with open_backend(f"{server.grpc_url}/raw") as backend:
        detector = Detector(backend)
        detector.detect(frames(1)[0])
        with grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
            status = client.get_system_shared_memory_status(as_json=True)
            assert len(status.get("regions", {})) >= 1 + backend.lanes  # an input, the output ring
    with grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
        assert client.get_system_shared_memory_status(as_json=True).get("regions", {}) == {}
    assert our_shm() == []


# -- the command line -----------------------------------------------------------------------

def test_run_over_grpc_on_the_dog(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = real_files()
    if data is None:
        pytest.skip("TRT_VIEWER_TEST_DATA does not point at the real model and dog.jpg")
    out = tmp_path / "dog.jsonl"
    code, stdout, err = run_cli(["run", "--model", f"{server.grpc_url}/yolox_nano", "--source",
                                 str(data / "media/dog.jpg"), "--detections", str(out), "--json-summary", "-q"],
                                capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["backend"] == "triton" and summary["frames"] == 1 and summary["layout"] == "raw"
    record = json.loads(out.read_text())
    got = [(d["label"], d["class_id"], round(d["score"], 3), [round(v) for v in d["box"]])
           for d in record["detections"]]
    assert len(got) == len(REFERENCE)
    for (label, cid, score, box), (g_label, g_cid, g_score, g_box) in zip(REFERENCE, got):
        assert (g_label, g_cid) == (label, cid) and abs(g_score - score) <= 0.002
        assert max(abs(a - b) for a, b in zip(g_box, box)) <= 1


def test_run_over_http_writes_what_the_local_model_writes(server: TritonServer, local: dict[str, Path],
                                                          square_video: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    remote, here = tmp_path / "remote.jsonl", tmp_path / "local.jsonl"
    code, _, err = run_cli(["run", "--model", f"{server.http_url}/raw", "--source", str(square_video),
                            "--detections", str(remote), "-q"], capsys)
    assert code == 0, err
    code, _, err = run_cli(["run", "--model", str(local["raw"]), "--names", str(write_names(tmp_path)), "--source",
                            str(square_video), "--detections", str(here), "-q"], capsys)
    assert code == 0, err
    a = [json.loads(line) for line in remote.read_text().splitlines()]
    b = [json.loads(line) for line in here.read_text().splitlines()]
    assert len(a) == len(b) == 24
    for x, y in zip(a, b):
        assert x["frame"] == y["frame"] and len(x["detections"]) == len(y["detections"])
        for dx, dy in zip(x["detections"], y["detections"]):
            assert dx["label"] == dy["label"] and dx["label"] in ("alpha", "beta")
            assert dx["box"] == pytest.approx(dy["box"], abs=0.02) and dx["score"] == pytest.approx(dy["score"])


def write_names(folder: Path) -> Path:
    path = folder / "names.txt"
    path.write_text("alpha\nbeta\n")
    return path


def test_inspect_a_triton_url(server: TritonServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["inspect", f"{server.grpc_url}/raw"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{server.grpc_url}/raw: model on a Triton 2.51.0 server"
    assert "  platform:       python" in lines
    assert "  batching:       up to 8 per batch, dynamic batching" in lines
    assert "    images  [?, 3, 64, 96]  float32" in lines
    assert "    output  [?, 126, 7]  float32" in lines
    assert "  input size:     64x96" in lines
    assert "  layout:         raw or decoded (settled from the first frame's values)" in lines
    assert "  classes:        2 (model config parameter 'labels'): alpha, beta" in lines
    code, out, err = run_cli(["inspect", f"{server.http_url}/end2end", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["kind"] == "triton" and report["layout"] == "end2end" and report["max_batch_size"] == 8
    assert [o["name"] for o in report["outputs"]] == ["num_dets", "det_boxes", "det_scores", "det_classes"]
    assert report["instance_groups"] == [{"kind": "KIND_CPU", "count": 1}]
    assert "workspace-path" not in report["metadata"]


def test_bench_takes_a_url(server: TritonServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "square.png"
    import cv2

    cv2.imwrite(str(image), modelgen.square_image((64, 96), (3, 2, 8)))
    code, out, err = run_cli(["bench", "--model", f"{server.grpc_url}/raw", "--source", str(image), "--frames", "8",
                              "--rounds", "1", "--warmup", "2", "--modes", "model,sequential,pipeline", "--no-draw",
                              "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["setup"]["backend"] == "triton" and report["setup"]["lanes"] == 4


# -- errors: one line each, no traceback, no hang ---------------------------------------------

def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], code: int = 2) -> str:
    got, _, err = run_cli(argv, capsys)
    assert got == code, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("trt-viewer: error: ")]
    assert len(lines) == 1, err
    return lines[0].removeprefix("trt-viewer: error: ")


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_an_unreachable_server(scheme: str, square_video: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_ports(1)[0]
    started = time.monotonic()
    line = one_line_error(["run", "--model", f"{scheme}://127.0.0.1:{port}/raw", "--source", str(square_video)],
                          capsys)
    assert line == f"cannot reach Triton server {scheme}://127.0.0.1:{port}: connection refused"
    assert time.monotonic() - started < 10


def test_an_unknown_model_or_version(server: TritonServer, square_video: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(["run", "--model", f"{server.grpc_url}/nope", "--source", str(square_video)], capsys)
    assert line == f"model nope is not on Triton server {server.grpc_url}"
    line = one_line_error(["run", "--model", f"{server.http_url}/raw/7", "--source", str(square_video)], capsys)
    assert line == f"model raw has no version 7 on Triton server {server.http_url}"


def test_outputs_that_match_no_layout(server: TritonServer, square_video: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line_error(["run", "--model", f"{server.grpc_url}/no_layout", "--source", str(square_video)], capsys)
    assert "scores [1, 3] float32" in line and "YOLOX" in line


def test_a_request_that_times_out(server: TritonServer, square_video: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    for base in (server.grpc_url, server.http_url):
        started = time.monotonic()
        line = one_line_error(["run", "--model", f"{base}/slow?timeout=1", "--source", str(square_video)], capsys,
                              code=1)
        assert line == f"the Triton server at {base} did not answer within 1 s when asked to get a result " \
                       "from slow (raise it with ?timeout=SECONDS in the URL)"
        assert time.monotonic() - started < 8  # the timeout, and closing (which waits 2 s at most)


@pytest.mark.parametrize("scheme", ["grpc", "http"])
def test_an_access_token(token_server: TritonServer, square_video: Path, tmp_path: Path, scheme: str,
                         monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    base = token_server.grpc_url if scheme == "grpc" else token_server.http_url
    argv = ["run", "--model", f"{base}/raw", "--source", str(square_video), "--detections",
            str(tmp_path / "d.jsonl"), "--json-summary", "-q"]
    monkeypatch.delenv("TRT_VIEWER_TRITON_TOKEN", raising=False)
    line = one_line_error(argv, capsys)
    header = "triton-grpc-protocol-triton-access-token" if scheme == "grpc" else "triton-access-token"
    assert line == (f"the Triton server at {base} needs an access token to read the metadata of raw "
                    f"(header '{header}'): set TRT_VIEWER_TRITON_TOKEN")
    monkeypatch.setenv("TRT_VIEWER_TRITON_TOKEN", "not-" + TOKEN)
    line = one_line_error(argv, capsys)
    assert line.startswith(f"the Triton server at {base} refused the access token (TRT_VIEWER_TRITON_TOKEN)")
    assert TOKEN not in line
    monkeypatch.setenv("TRT_VIEWER_TRITON_TOKEN", TOKEN)
    code, out, err = run_cli(argv, capsys)
    assert code == 0, err
    assert TOKEN not in out + err and json.loads(out)["frames"] == 24
    with open_backend(f"{base}/raw") as backend:  # shared memory goes through with the token too
        assert backend.shm
        info = json.dumps(backend.describe())
        assert TOKEN not in info and header in info


def test_the_server_going_away_mid_run(local: dict[str, Path], tmp_path: Path) -> None:
    """Killed while frames are in flight: `run` exits 1 with one line, and the JSONL holds
    every frame up to the last one collected, each line whole."""
    python = server_or_skip()
    video = modelgen.write_video(tmp_path / "long.avi", modelgen.moving_square_frames(3000))
    out = tmp_path / "d.jsonl"
    with TritonServer([Served("raw", local["raw"], delay_s=0.02)], python=python) as srv:
        proc = subprocess.Popen(
            [sys.executable, "-m", "trt_viewer", "run", "--model", f"{srv.grpc_url}/raw", "--source", str(video),
             "--detections", str(out), "-q"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                if out.exists() and out.read_text().count("\n") >= 20:
                    break
                time.sleep(0.05)
            assert proc.poll() is None, proc.communicate()
            srv.kill()
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        left = srv.stop()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("trt-viewer: error: ")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"trt-viewer: error: the Triton server at {srv.grpc_url} went away while running raw")
    text = out.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert [r["frame"] for r in records] == list(range(len(records))) and 20 <= len(records) < 3000
    assert f"trt-viewer: {len(records)} frames were written before the failure" in err
    assert any("is left" in item for item in left)  # a killed server leaves its workspace: stop() cleaned it


# -- URLs --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "message"), [
    ("grpc://127.0.0.1:8001", "model grpc://127.0.0.1:8001: the Triton URL names no model; "
                              "expected grpc://HOST:PORT/MODEL[/VERSION]"),
    ("grpc://127.0.0.1:8001/m/latest", "model grpc://127.0.0.1:8001/m/latest: expected "
                                       "grpc://HOST:PORT/MODEL[/VERSION] with a numeric version"),
    ("grpc://127.0.0.1:8001/m?shm=maybe", "Triton URL option shm=maybe: choose auto, on or off"),
    ("grpc://127.0.0.1:8001/m?timeout=0", "Triton URL option timeout=0: give a number of seconds above 0"),
    ("grpc://127.0.0.1:8001/m?colour=red", "model grpc://127.0.0.1:8001/m: unknown Triton URL option 'colour'; "
                                           "known: shm, timeout, connect-timeout, lanes, ca, cert, key, insecure"),
    ("grpc://127.0.0.1:8001/m?token=abc123", "model grpc://127.0.0.1:8001/m: a token does not go in the URL (it shows "
                                             "in logs and summaries); put an access token in TRT_VIEWER_TRITON_TOKEN "
                                             "or headers in TRT_VIEWER_TRITON_HEADERS"),
    ("http://user:pa55word@127.0.0.1:8000/m", "model http://…@127.0.0.1: credentials do not go in the URL (it shows in "
                                              "logs and summaries); put an access token in TRT_VIEWER_TRITON_TOKEN or "
                                              "headers in TRT_VIEWER_TRITON_HEADERS"),
    ("grpc://127.0.0.1:8001/m?ca=/nonexistent.pem", "model grpc://127.0.0.1:8001/m: ca, cert, key and insecure are "
                                                    "TLS options; use grpcs:// for a server that speaks TLS"),
])
def test_malformed_urls_are_one_line(spec: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError) as info:
        parse_url(spec, {})
    assert str(info.value) == message
    assert "abc123" not in message and "pa55word" not in message


def test_urls_and_the_environment() -> None:
    target, options = parse_url("grpcs://[::1]/yolox_nano/3?shm=off&timeout=2.5&lanes=2",
                                {"TRT_VIEWER_TRITON_TOKEN": "tok", "TRT_VIEWER_TRITON_HEADERS": "X-A: 1; X-B: two"})
    assert (target.protocol, target.tls, target.host, target.port, target.model, target.version) == \
        ("grpc", True, "::1", 8001, "yolox_nano", "3")
    assert target.address == "[::1]:8001" and target.on_this_host and target.url == "grpcs://[::1]:8001/yolox_nano/3"
    assert (options.shm, options.timeout_s, options.lanes, options.token) == ("off", 2.5, 2, "tok")
    assert options.headers == {"X-A": "1", "X-B": "two"}
    target, options = parse_url("http://triton.example:9000/v2/models/m/versions/2", {})
    assert (target.host, target.port, target.model, target.version) == ("triton.example", 9000, "m", "2")
    assert not target.on_this_host
    _, options = parse_url("https://h/m", {"TRT_VIEWER_TRITON_HEADERS": '{"Authorization": "Bearer x"}'})
    assert options.headers == {"Authorization": "Bearer x"} and options.shm == "auto"


def test_a_triton_url_is_no_file(tmp_path: Path) -> None:
    from trt_viewer.backends import check_model_path, is_model_url

    assert is_model_url("grpc://h:1/m") and is_model_url(" HTTPS://h/m") and not is_model_url(str(tmp_path))
    with pytest.raises(InputError, match="is on a Triton server, not a file"):
        check_model_path("grpc://h:1/m?shm=off")


def test_a_host_input_is_sent_in_the_request(server: TritonServer) -> None:
    """A plain HostInput (a caller's own buffer) goes in the request even where shared memory is on."""
    with open_backend(f"{server.grpc_url}/raw") as backend:
        assert backend.shm
        tensor = np.zeros((1, 3, 64, 96), np.float32)
        outputs = backend.infer(HostInput(tensor))
        assert outputs["output"].shape == (1, 126, 7)
        with pytest.raises(RunError, match="does not fit"):
            backend.infer(np.zeros((1, 3, 32, 32), np.float32))


def test_grpc_over_tls(local: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """grpcs:// with the server's CA (?ca=FILE) runs; without it the certificate is refused
    in one line. The server stops with SIGTERM, as cleanly as with SIGINT."""
    python = server_or_skip()
    from triton_server import self_signed_certificate

    pair = self_signed_certificate(tmp_path)
    if pair is None:
        pytest.skip("no openssl command to make a certificate with")
    srv = TritonServer([Served("raw", local["raw"])], tls=pair, python=python).start()
    try:
        assert srv.grpc_url.startswith("grpcs://")
        with open_backend(f"{srv.grpc_url}/raw?ca={pair[0]}") as backend:
            assert backend.describe()["tls"] is True
            assert len(Detector(backend).detect(modelgen.square_image((64, 96), (3, 2, 8)))) == 1
        with pytest.raises(InputError) as refused:
            parse_and_open(f"{srv.grpc_url}/raw?connect-timeout=3")
        assert str(refused.value) == (f"Triton server {srv.grpc_url} presented a certificate this client does not "
                                      "trust (give its CA with ?ca=FILE in the URL)")
        with pytest.raises(InputError, match=r"Socket closed \(does it speak TLS\? then use grpcs://\)$"):
            parse_and_open(f"grpc://127.0.0.1:{srv.grpc_port}/raw?connect-timeout=3")
        with pytest.raises(InputError, match="use grpcs:// for a server that speaks TLS"):
            parse_and_open(f"grpc://127.0.0.1:{srv.grpc_port}/raw?ca={pair[0]}")
    finally:
        left = srv.stop(signal.SIGTERM)
    assert left == []


def parse_and_open(spec: str) -> None:
    target, options = parse_url(spec, {})
    TritonBackend(target, options).close()


def test_headers_from_the_environment_carry_a_token(token_server: TritonServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """TRT_VIEWER_TRITON_HEADERS: any header (here the token's own), never shown."""
    monkeypatch.delenv("TRT_VIEWER_TRITON_TOKEN", raising=False)
    monkeypatch.setenv("TRT_VIEWER_TRITON_HEADERS", json.dumps({"triton-access-token": TOKEN}))
    with open_backend(f"{token_server.http_url}/raw") as backend:
        assert len(Detector(backend).detect(frames(1)[0])) >= 0
        info = json.dumps(backend.describe())
    assert TOKEN not in info and "triton-access-token" in info
