"""Whether NVDEC can decode a file, asked of a short-lived child process first.

Why: PyNvVideoCodec's ThreadedDecoder meets some streams' limits in its own C++ thread,
where its exception cannot reach Python, and std::terminate aborts the whole process. On
the H200 machine H.264 4:4:4 did that ("Codec not supported on this GPU", error 801): a
`trt-viewer run --decode nvdec` died with SIGABRT, the viewer would have closed. So the
first frame of each file is decoded once by a child made as the real decoder will be; a
child that aborts, fails or hangs gives one line of why, and the file is decoded on the
CPU (run.decoding). The answer is kept per file (path, size, modification time) for the
life of the process, so a file reopened in the viewer is not asked about twice.

The child is `python -m trt_viewer.backends.trt.nvdec_check FILE GPU` (the device side
lives with the backend's CUDA code): exit 0 when it decoded a frame, else 1 with the
reason on stdout; a signal means the decoder aborted, and the decoder's own "Error Type"
line on stderr says why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

from trt_viewer.errors import first_line

TIMEOUT_S = 60.0  # the first frame of a file on a busy GPU; a hang beyond this is a "no"
_answers: dict[tuple[str, int, int, int], str] = {}
TRANSIENT = ("NVDEC gave no first frame in", "the NVDEC check could not start")
_lock = threading.Lock()


def why_not(spec: str, gpu: int) -> str:
    """'' where NVDEC decodes `spec` on GPU `gpu` without harm, else one line of why not."""
    try:
        st = os.stat(spec)
        key = (os.path.realpath(spec), st.st_size, st.st_mtime_ns, gpu)
    except OSError as exc:
        return first_line(exc)
    with _lock:
        if key in _answers:
            return _answers[key]
    answer = ask_child(spec, gpu)
    if not answer.startswith(TRANSIENT):  # a busy moment is asked about again next time
        with _lock:
            _answers[key] = answer
    return answer


def ask_child(spec: str, gpu: int, timeout: float = TIMEOUT_S) -> str:
    # The child imports trt_viewer from where this process does (as run/decode_process.py).
    path = os.pathsep.join(p for p in [*sys.path, os.environ.get("PYTHONPATH", "")] if p)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "trt_viewer.backends.trt.nvdec_check", spec, str(gpu)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", timeout=timeout,
            start_new_session=True,  # Ctrl+C in the terminal is the parent's to handle
            env={**os.environ, "PYTHONPATH": path},
        )
    except subprocess.TimeoutExpired:
        return f"NVDEC gave no first frame in {timeout:.0f} s"
    except OSError as exc:
        return f"the NVDEC check could not start: {first_line(exc)}"
    if done.returncode == 0:
        return ""
    if done.returncode > 0:
        said = done.stdout.strip().splitlines()
        return said[-1] if said else f"the NVDEC check failed (exit {done.returncode})"
    return _aborted(done.stderr, -done.returncode)


def _aborted(stderr: str, signum: int) -> str:
    """The decoder's own words where it printed them before aborting."""
    fields = {}
    for line in stderr.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("Error Type", "Error code"):
            fields[name.strip()] = value.strip()
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if "Error Type" in fields:
        code = f", error {fields['Error code']}" if "Error code" in fields else ""
        return f"PyNvVideoCodec aborts on it ({fields['Error Type']}{code})"
    return f"PyNvVideoCodec aborts on it ({name})"
