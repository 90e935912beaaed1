"""`trt-viewer run` never destroys or loses the user's data: outputs that would overwrite
inputs are refused, signals end a run like Ctrl+C (outputs closed, summary, 128+signal),
a closed stdout and bad arguments are one line each."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.cli import main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: object) -> int:
    return main(["run", *map(str, args)])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- outputs that would overwrite inputs ----------------------------------------------------
@pytest.fixture
def inputs(models: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    video = write_video(tmp_path / "v.avi", moving_square_frames(12))
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), moving_square_frames(1)[0])
    folder = tmp_path / "pics"
    folder.mkdir()
    for i, img in enumerate(moving_square_frames(3)):
        cv2.imwrite(str(folder / f"p{i}.png"), img)
    model = tmp_path / "m.onnx"
    model.write_bytes(models["raw"].read_bytes())
    return {"video": video, "photo": photo, "folder": folder, "model": model}


@pytest.mark.parametrize(("source", "flag", "target", "says"), [
    ("video", "-o", "video", "is the source"),
    ("photo", "-o", "photo", "is the source"),
    ("video", "--detections", "video", "is the source"),
    ("video", "--detections", "model", "is the model"),
    ("video", "-o", "model", "is the model"),
    ("folder", "-o", "folder/p1.png", "inside the source folder"),
])
def test_an_output_that_is_an_input_is_refused_and_nothing_is_touched(
        inputs: dict[str, Path], capsys: pytest.CaptureFixture[str], source: str, flag: str, target: str,
        says: str) -> None:
    base, _, rest = target.partition("/")
    path = inputs[base] / rest if rest else inputs[base]
    before = {name: digest(p) for name, p in inputs.items() if p.is_file()}
    folder_before = {p.name: digest(p) for p in inputs["folder"].iterdir()}
    code = run("--model", inputs["model"], "--source", inputs[source], flag, path)
    err = capsys.readouterr().err.strip()
    assert code == 2 and says in err and len(err.splitlines()) == 1, err
    assert {name: digest(p) for name, p in inputs.items() if p.is_file()} == before
    assert {p.name: digest(p) for p in inputs["folder"].iterdir()} == folder_before


def test_a_link_to_the_source_is_the_source(inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    link = inputs["video"].with_name("link.avi")
    link.symlink_to(inputs["video"])
    before = digest(inputs["video"])
    assert run("--model", inputs["model"], "--source", inputs["video"], "-o", link) == 2
    assert "is the source" in capsys.readouterr().err and digest(inputs["video"]) == before


def test_the_two_outputs_cannot_be_one_file(inputs: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    same = tmp_path / "same.mkv"
    assert run("--model", inputs["model"], "--source", inputs["video"], "-o", same, "--detections", same) == 2
    assert "are the same file" in capsys.readouterr().err and not same.exists()


def test_a_run_that_fails_before_writing_leaves_an_existing_file_as_it_was(
        inputs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = tmp_path / "old.jsonl"
    old.write_text("".join(json.dumps({"frame": i}) + "\n" for i in range(1000)))
    before = digest(old)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (bad / "ok.png").write_bytes(b"")  # empty: unreadable too
    code = run("--model", inputs["model"], "--source", bad, "--detections", old)
    assert code != 0
    assert digest(old) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("old")) == ["old.jsonl"]
    capsys.readouterr()


# -- arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "says"), [
    (["--input-size", "abc", "64"], "'abc' is not a whole number"),
    (["--conf", "high"], "'high' is not a number between 0 and 1"),
    (["--conf", "nan"], "'nan' is not a number between 0 and 1"),
    (["--max-frames", "-3"], "-3 is not a positive whole number"),
])
def test_bad_arguments_say_what_was_expected(args: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--model", "m.onnx", "--source", "v.mp4", *args])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and says in err and "_size" not in err and "_fraction" not in err


# -- signals and pipes, in a process of their own ---------------------------------------------
@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = moving_square_frames(24)
    return write_video(tmp_path_factory.mktemp("long") / "long.avi", frames * 400)  # 9600 frames, a few seconds


def start_run(models: dict[str, Path], source: Path, tmp_path: Path, *extra: str,
              stdout: int = subprocess.PIPE, python: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *python, "-m", "trt_viewer", "run", "--model", str(models["raw"]), "--source", str(source),
         *extra],
        cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_progress(proc: subprocess.Popen[str], percent: int = 10, timeout: float = 60) -> list[str]:
    """stderr lines until the progress passed `percent` (the run is writing by then)."""
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("progress") and int(line.split()[1].rstrip("%")) >= percent:
            return lines
    raise AssertionError(f"no progress: {lines}")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_run_closes_the_outputs_and_prints_the_summary(
        sig: signal.Signals, models: dict[str, Path], long_video: Path, tmp_path: Path) -> None:
    out, dets = tmp_path / "o.mp4", tmp_path / "o.jsonl"
    proc = start_run(models, long_video, tmp_path, "-o", str(out), "--detections", str(dets), "--json-summary")
    wait_for_progress(proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr and "trt-viewer: interrupted" in stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    records = [json.loads(line) for line in dets.read_text().splitlines()]  # whole lines only
    assert 0 < summary["frames"] == len(records) < 9600
    assert [r["frame"] for r in records] == list(range(len(records)))
    cap = cv2.VideoCapture(str(out))  # finalised: it opens and holds the frames written
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(records)


def test_ctrl_c_at_any_moment_exits_130_without_a_traceback(models: dict[str, Path], long_video: Path,
                                                           tmp_path: Path) -> None:
    for delay in (0.0, 0.3, 0.8):  # loading, opening, running (the run takes about 2 s here)
        if delay:
            proc = start_run(models, long_video, tmp_path, "--detections", "d.jsonl", "-q")
            time.sleep(delay)
        else:
            # Loading: once a first module of the command line's is imported (-X importtime
            # says when), while the rest load. Earlier, the interpreter and runpy are still
            # starting and no code of ours can catch a Ctrl+C yet (a fixed 0.05 s landed
            # there on a loaded 2-core CI machine).
            proc = start_run(models, long_video, tmp_path, "--detections", "d.jsonl", "-q", python=("-X", "importtime"))
            assert proc.stderr is not None
            while not (line := proc.stderr.readline()).rsplit("|", 1)[-1].strip().startswith("trt_viewer."):
                assert line, "no module of trt_viewer's was imported"
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 130, (delay, stderr)
        assert "Traceback" not in stderr and "is not installed" not in stderr, (delay, stderr)
        assert time.monotonic() - start < 5, delay


def test_a_closed_stdout_is_one_line(models: dict[str, Path], square_video: Path, tmp_path: Path) -> None:
    proc = start_run(models, square_video, tmp_path, "--json-summary", "-q")
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head -c 0` would
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (
        "trt-viewer: error: standard output was closed before everything was written")


def test_detections_to_standard_output(models: dict[str, Path], square_video: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--model", models["raw"], "--source", square_video, "--detections", "-", "-q") == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in records] == list(range(24)) and not Path("-").exists()


def test_detections_and_summary_cannot_share_standard_output(models: dict[str, Path], square_video: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--model", models["raw"], "--source", square_video, "--detections", "-", "--json-summary") == 2
    assert "both write to standard output" in capsys.readouterr().err


def test_sigterm_while_the_demo_renders_leaves_no_part_file(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trt_viewer", "run", "--demo", "--detections", str(tmp_path / "d.jsonl")],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "XDG_CACHE_HOME": str(cache)},
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the render shows its progress from the start
    assert first.startswith("rendering the demo clip (first run only)"), first
    assert list(cache.rglob("*.part.mp4")), "the render writes a part file first"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    assert list(cache.rglob("*.mp4")) == []  # neither a part file nor a half clip


def _small_file_limit() -> None:  # in the child: files stop growing past 4 KiB, as on a full disk
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_full_disk_ends_the_run_with_one_line_and_the_summary(models: dict[str, Path], long_video: Path,
                                                               tmp_path: Path) -> None:
    dets = tmp_path / "d.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "trt_viewer", "run", "--model", str(models["raw"]), "--source", str(long_video),
         "--detections", str(dets), "--json-summary", "-q"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=_small_file_limit,
    )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("trt-viewer: error:")]
    assert len(errors) == 1 and f"cannot write {dets}" in errors[0] and "Traceback" not in proc.stderr
    records = [json.loads(line) for line in dets.read_text().splitlines()]  # whole lines only
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 0 < len(records) < 9600 and summary["frames"] == len(records)


def _decoder_children(parent: int) -> list[int]:
    """The decoder processes `parent` started (run/decode_process.py), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and b"trt_viewer.run.decode_process" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_decoder_process_killed_mid_run_is_one_line_and_the_detections_stay_whole(
        models: dict[str, Path], long_video: Path, tmp_path: Path) -> None:
    dets = tmp_path / "d.jsonl"
    proc = start_run(models, long_video, tmp_path, "--detections", str(dets), "--decode", "cpu")
    wait_for_progress(proc)
    children = _decoder_children(proc.pid)
    assert len(children) == 1
    os.kill(children[0], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("trt-viewer: error:")]
    assert "Traceback" not in stderr and len(errors) == 1
    assert "the decoder process for" in errors[0] and "stopped" in errors[0]
    records = [json.loads(line) for line in dets.read_text().splitlines()]  # whole lines only
    assert 0 < len(records) < 9600 and [r["frame"] for r in records] == list(range(len(records)))
    assert f"{len(records)} frames were written before the failure" in stderr
