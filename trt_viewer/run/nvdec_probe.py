"""Whether NVDEC can decode a file, asked of a short-lived child process first.

Why: PyNvVideoCodec's ThreadedDecoder meets some streams' limits in its own C++ thread,
where its exception cannot reach Python, and std::terminate aborts the whole process. On
the H200 machine H.264 4:4:4 did that ("Codec not supported on this GPU", error 801): a
`trt-viewer run --decode nvdec` died with SIGABRT, the viewer would have closed. So the
first frame of each file is decoded once by a child made as the real decoder will be; a
child that aborts, fails or hangs gives one line of why, and the file is decoded on the
CPU (run.decoding). The answer is kept per file (path, size, modification time) for the
life of the process, so a file reopened in the viewer is not asked about twice.

The child is `python -m trt_viewer.run.nvdec_probe FILE GPU`: exit 0 when it decoded a
frame, else 1 with the reason on stdout; a signal means the decoder aborted, and the
decoder's own "Error Type" line on stderr says why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

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
            [sys.executable, "-m", "trt_viewer.run.nvdec_probe", spec, str(gpu)],
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


def first_frame(nvc: Any, spec: str, gpu: int) -> str:
    """In the child: '' once a ThreadedDecoder, made as run/nvdec.py makes it, has given
    the first frame; else why not. On pycuda's primary context where pycuda is there (as
    the backend's), else on the one PyNvVideoCodec makes."""
    extra: dict[str, Any] = {}
    context = stream = None
    try:
        import pycuda.driver as cuda
    except ImportError:
        cuda = None
    try:
        if cuda is not None:
            cuda.init()
            context = cuda.Device(gpu).retain_primary_context()
            context.push()
            stream = cuda.Stream(1)  # non-blocking, as backends.base.DeviceContext.stream()
            extra = {"cuda_context": context.handle, "cuda_stream": stream.handle}
        decoder = nvc.ThreadedDecoder(spec, buffer_size=2, gpu_id=gpu, use_device_memory=True,
                                      output_color_type=nvc.OutputColorType.NATIVE, **extra)
        try:
            if not decoder.get_batch_frames(1):
                return "NVDEC decoded no frame of it"
        finally:
            decoder.end()
            del decoder  # its memory goes while its context is still there
    except Exception as exc:
        return first_line(exc)
    finally:
        del stream
        if context is not None:
            cuda.Context.pop()
            context.detach()
    return ""


def main(argv: list[str]) -> int:
    spec, gpu = argv[0], int(argv[1])
    try:
        import PyNvVideoCodec as nvc
    except Exception as exc:
        print(f"PyNvVideoCodec does not load: {first_line(exc)}")
        return 1
    why = first_frame(nvc, spec, gpu)
    if why:
        print(why)
    return 1 if why else 0


if __name__ == "__main__":
    answer = main(sys.argv[1:])
    sys.stdout.flush()
    # The answer is given: no interpreter teardown, where the decoder's C++ objects and
    # threads may go after the CUDA context they used (a SIGSEGV on the H200 that turned
    # files NVDEC decodes into "no").
    os._exit(answer)
