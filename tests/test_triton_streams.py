"""Several streams in one run (`trt-viewer run --source a --source b`, cli/streams.py): their
outputs, the checks made before anything opens, a stream that fails alone; on ONNX Runtime,
and against the real Triton test server (tests/triton_server.py), whose statistics show
frames of different streams batched together.

The server tests skip, with the reason, where the server's environment cannot be made; CI
sets TRT_VIEWER_REQUIRE_TRITON=1, which turns that skip into a failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import modelgen
import pytest
from fakes.fixtures import run_cli
from triton_server import Served, TritonServer, free_ports, server_or_skip

from trt_viewer.cli.streams import stem


@pytest.fixture(scope="module")
def raw_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return modelgen.yolox_model(tmp_path_factory.mktemp("streams") / "raw.onnx")


@pytest.fixture
def short_video(tmp_path: Path) -> Path:
    return modelgen.write_video(tmp_path / "short.avi", modelgen.moving_square_frames(12))


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line.removeprefix("trt-viewer: error: ") for line in err.splitlines()
            if line.startswith("trt-viewer: error: ")]


# -- on ONNX Runtime ---------------------------------------------------------------------------

def test_two_streams_write_a_file_each_and_sum_up(raw_model: Path, square_video: Path, short_video: Path,
                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["run", "--model", str(raw_model), "--source", str(square_video), "--source",
                              str(short_video), "--detections", str(tmp_path / "d_{stream}.jsonl"),
                              "--mot", str(tmp_path / "{stem}.mot.txt"), "--json-summary", "-q"], capsys)
    assert code == 0, err
    first, second = records(tmp_path / "d_0.jsonl"), records(tmp_path / "d_1.jsonl")
    assert [r["frame"] for r in first] == list(range(24)) and [r["frame"] for r in second] == list(range(12))
    assert {r["stream"] for r in first} == {0} and {r["stream"] for r in second} == {1}
    assert all(len(r["detections"]) == 1 for r in first + second)
    code, _, alone_err = run_cli(["run", "--model", str(raw_model), "--source", str(square_video), "--mot",
                                  str(tmp_path / "alone.txt"), "-q"], capsys)
    assert code == 0, alone_err
    assert (tmp_path / "squares.mot.txt").read_text() == (tmp_path / "alone.txt").read_text() != ""
    assert (tmp_path / "short.mot.txt").is_file()
    summary = json.loads(out)
    assert [(s["stream"], s["source"], s["frames"], s["error"]) for s in summary["streams"]] == \
        [(0, str(square_video), 24, None), (1, str(short_video), 12, None)]
    assert summary["frames"] == 36 and summary["failed"] == 0 and summary["backend"] == "onnxruntime"
    assert summary["fps"] > 0 and all(s["fps"] > 0 and s["stages"]["infer"] for s in summary["streams"])
    assert f"stream 0 {square_video}: 24 frames in " in err and f"stream 1 {short_video}: 12 frames in " in err
    assert "total: 36 frames of 2 streams in " in err


def test_jsonl_of_every_stream_on_standard_output(raw_model: Path, square_video: Path, short_video: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(["run", "--model", str(raw_model), "--source", str(square_video), "--source",
                              str(short_video), "--source", str(square_video), "--detections", "-", "-q"], capsys)
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]  # every line whole
    for stream, frames in ((0, 24), (1, 12), (2, 24)):
        assert [r["frame"] for r in got if r["stream"] == stream] == list(range(frames))
    assert len(got) == 60


def test_one_source_fills_the_placeholders_in(raw_model: Path, square_video: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "--model", str(raw_model), "--source", str(square_video), "--detections",
                            str(tmp_path / "{stem}_{stream}.jsonl"), "-q"], capsys)
    assert code == 0, err
    assert len(records(tmp_path / "squares_0.jsonl")) == 24 and "stream" not in records(tmp_path / "squares_0.jsonl")[0]


@pytest.mark.parametrize(("outputs", "message"), [
    (["--detections", "{dir}/d.jsonl"], "--detections {dir}/d.jsonl would be written by each of the 2 streams: put "
                                        "{{stream}} (the stream's number) or {{stem}} (its source's name) in it, e.g. "
                                        "{dir}/d_{{stream}}.jsonl"),
    (["-o", "{dir}/{{stream}}.avi", "--mot", "{dir}/mot.txt"], "--mot {dir}/mot.txt would be written by each of the "
                                                               "2 streams"),
])
def test_an_output_without_a_placeholder_is_refused(raw_model: Path, square_video: Path, tmp_path: Path,
                                                    outputs: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--model", str(raw_model), "--source", str(square_video), "--source", str(square_video)]
    code, _, err = run_cli(argv + [o.format(dir=tmp_path) for o in outputs], capsys)
    assert code == 2
    assert error_lines(err)[0].startswith(message.format(dir=tmp_path)) and len(error_lines(err)) == 1
    assert list(tmp_path.iterdir()) == [square_video]


def test_outputs_never_collide_nor_overwrite_another_streams_source(raw_model: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    frames = modelgen.moving_square_frames(4)
    a = modelgen.write_video(tmp_path / "v_1.avi", frames)
    other = tmp_path / "other"
    other.mkdir()
    b = modelgen.write_video(other / "v_1.avi", frames)  # the same stem as a
    code, _, err = run_cli(["run", "--model", str(raw_model), "--source", str(a), "--source", str(b),
                            "--detections", str(tmp_path / "{stem}.jsonl")], capsys)
    assert code == 2
    assert error_lines(err) == [f"stream 0 ({a}) and stream 1 ({b}) would both write {tmp_path / 'v_1.jsonl'}: "
                                "use {stream} in the name, which differs for every stream"]
    c = modelgen.write_video(tmp_path / "c.avi", frames)
    code, _, err = run_cli(["run", "--model", str(raw_model), "--source", str(a), "--source", str(c),
                            "-o", str(tmp_path / "v_{stream}.avi")], capsys)  # stream 1 would write over a
    assert code == 2
    assert error_lines(err) == [f"output of stream 1 ({c}) {a} is the source: it would be overwritten; "
                                "choose another file name"]
    code, _, err = run_cli(["run", "--model", str(raw_model), "--source", str(a), "--source", str(c),
                            "--detections", str(tmp_path / "x_{stream}.jsonl"), "--mot",
                            str(tmp_path / "x_{stream}.jsonl")], capsys)
    assert code == 2 and error_lines(err)[0].endswith(f"are the same file {tmp_path / 'x_0.jsonl'}; give each its own")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.avi", "other", "v_1.avi"]


def test_a_failing_stream_ends_alone(raw_model: Path, square_video: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 100)
    missing = tmp_path / "missing.mp4"
    code, out, err = run_cli(["run", "--model", str(raw_model), "--source", str(missing), "--source",
                              str(square_video), "--source", str(broken), "--detections",
                              str(tmp_path / "d{stream}.jsonl"), "--json-summary", "-q"], capsys)
    assert code == 1, err
    lines = error_lines(err)
    assert len(lines) == 2
    assert lines[0].startswith(f"stream 0 ({missing}): ") and "does not exist" in lines[0]
    assert lines[1].startswith(f"stream 2 ({broken}): ")
    assert "trt-viewer: 2 of 3 streams failed" in err
    assert len(records(tmp_path / "d1.jsonl")) == 24
    assert not (tmp_path / "d0.jsonl").exists() and not (tmp_path / "d2.jsonl").exists()
    summary = json.loads(out)
    assert [s["frames"] for s in summary["streams"]] == [0, 24, 0] and summary["failed"] == 2
    assert summary["streams"][1]["error"] is None and "does not exist" in summary["streams"][0]["error"]


def test_every_stream_failing_on_bad_input_exits_2(raw_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "--model", str(raw_model), "--source", str(tmp_path / "a.mp4"), "--source",
                            str(tmp_path / "b.mp4")], capsys)
    assert code == 2
    assert len(error_lines(err)) == 2 and "trt-viewer: 2 of 2 streams failed" in err


def test_an_unreachable_server_is_one_line_for_all_streams(square_video: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = f"grpc://127.0.0.1:{free_ports(1)[0]}/raw"
    code, _, err = run_cli(["run", "--model", url, "--source", str(square_video), "--source", str(square_video)],
                           capsys)
    assert code == 2
    assert error_lines(err) == [f"cannot reach Triton server {url.rsplit('/', 1)[0]}: connection refused"]


def test_an_engine_runs_one_stream(square_video: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["run", "--model", str(tmp_path / "m.engine"), "--source", str(square_video),
                            "--source", str(square_video)], capsys)
    assert code == 2
    assert error_lines(err) == ["several --source need an ONNX model or a model on a Triton server; a TensorRT "
                                "engine runs one stream per run (to serve it to several, see trt-viewer triton-repo)"]


def test_stems() -> None:
    assert stem("/a/b/clip.final.mp4") == "clip.final" and stem("3") == "camera3"
    assert stem("rtsp://user:pw@cam.local:554/live/main?x=1") == "main" and stem("rtsp://cam.local:554") == "cam.local"
    assert stem("http://h/a b&c.mp4") == "a_b_c"


# -- against the Triton test server ------------------------------------------------------------

@pytest.fixture(scope="module")
def server(raw_model: Path) -> Iterator[TritonServer]:
    """`held`: the batcher holds a batch's first request up to 50 ms for more."""
    python = server_or_skip()
    srv = TritonServer([Served("raw", raw_model), Served("held", raw_model, queue_delay_us=50_000)],
                       python=python).start()
    yield srv
    left = srv.stop()
    assert left == [], left


def batch_sizes(server: TritonServer, model: str) -> dict[int, int]:
    """Executions by batch size, from the server's inference statistics."""
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
        stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    sizes = {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", [])}
    assert sum(size * count for size, count in sizes.items()) == int(stats.get("inference_count", 0))
    return sizes


def delta(after: dict[int, int], before: dict[int, int]) -> dict[int, int]:
    return {size: count - before.get(size, 0) for size, count in after.items() if count - before.get(size, 0)}


def test_the_server_batches_frames_of_different_streams(server: TritonServer, square_video: Path,
                                                        short_video: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """One request in flight per stream (lanes=1): a batch of two or more can only hold
    frames of different streams. One stream alone gets batches of one."""
    url = f"{server.grpc_url}/held?lanes=1"
    before = batch_sizes(server, "held")
    code, _, err = run_cli(["run", "--model", url, "--source", str(short_video), "-q"], capsys)
    assert code == 0, err
    alone = delta(batch_sizes(server, "held"), before)
    assert alone == {1: 12}
    code, out, err = run_cli(["run", "--model", url, "--source", str(square_video), "--source", str(square_video),
                              "--detections", str(tmp_path / "d{stream}.jsonl"), "--json-summary", "-q"], capsys)
    assert code == 0, err
    together = delta(batch_sizes(server, "held"), before)
    together[1] -= 12
    assert sum(size * count for size, count in together.items()) == 48
    assert together.get(2, 0) >= 1, together
    summary = json.loads(out)
    assert summary["backend"] == "triton" and [s["frames"] for s in summary["streams"]] == [24, 24]
    for a, b in zip(records(tmp_path / "d0.jsonl"), records(tmp_path / "d1.jsonl"), strict=True):
        assert (a["stream"], b["stream"], a["frame"]) == (0, 1, b["frame"])
        assert [v for d in a["detections"] for v in d["box"]] == \
            pytest.approx([v for d in b["detections"] for v in d["box"]], abs=1e-3)


def test_streams_over_http_with_shared_memory(server: TritonServer, square_video: Path, short_video: Path,
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each stream its own connection and shared memory regions; outputs as on ONNX Runtime."""
    code, _, err = run_cli(["run", "--model", f"{server.http_url}/raw", "--source", str(square_video), "--source",
                            str(short_video), "--detections", str(tmp_path / "t{stream}.jsonl"), "-q"], capsys)
    assert code == 0, err
    assert [len(records(tmp_path / f"t{i}.jsonl")) for i in (0, 1)] == [24, 12]
    assert all(len(r["detections"]) == 1 and r["stream"] == 0 for r in records(tmp_path / "t0.jsonl"))
    assert list(Path("/dev/shm").glob(f"trt_viewer_{os.getpid()}_*")) == []  # every stream unlinked its regions
