"""A real Triton Inference Server for the tests, serving ONNX models through PyTriton.

Two halves in one file:

- `TritonServer` (the project's venv, stdlib only) starts the server process on free
  127.0.0.1 ports, waits until it is ready, and stops it with SIGINT, then checks that
  nothing is left: no process of its group, no PyTriton workspace, no shared memory it
  made. `server_python()` makes (once, through tools/triton_env.sh) and finds the server's
  own environment.
- `serve()` (run as `python tests/triton_server.py ...` with the server environment's
  python: PyTriton needs numpy<2) binds each model to an ONNX Runtime function with
  dynamic batching and serves it until SIGINT or SIGTERM, both turned into
  KeyboardInterrupt so that PyTriton stops Triton and cleans its workspace.

The bundled tritonserver (2.51) has only the Python backend: the ONNX model runs in the
bound function, not in Triton's onnxruntime backend. Models whose batch is fixed at 1 run
a batch one image at a time. A `labels` parameter in the model config carries the class
names where given, as a real repository's config.pbtxt would.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ENV_SCRIPT = ROOT / "tools" / "triton_env.sh"
READY = "TRITON-READY"
START_TIMEOUT_S = 60.0  # ready in 3 s with one model, 13 s with eight, on 2 cores
START_ATTEMPTS = 2
STOP_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 10  # how long Triton waits at exit for requests and HTTP connections still open
SHM_DIR = Path("/dev/shm")
PYTHON_BACKEND_TMP = Path("/tmp")  # where the Python backend copies its models, whatever TMPDIR says


# -- the test side ------------------------------------------------------------------------

@dataclass(frozen=True)
class Served:
    """One model the server serves: an ONNX file under a name."""

    name: str
    path: Path
    labels: tuple[str, ...] = ()  # config parameter `labels`, one name per line
    delay_s: float = 0.0  # each batch sleeps this long first (timeouts, frames in flight)
    max_batch_size: int = 8  # 0: no batching (the config's dims carry the batch dim)
    # How long the dynamic batcher holds the first request of a batch for more: long enough
    # and requests of different clients (streams) meet in one batch.
    queue_delay_us: int = 500

    def arg(self) -> str:
        # Absolute: the server runs in its own folder, and TRT_VIEWER_TEST_DATA may be relative (../shared).
        return json.dumps({"name": self.name, "path": str(self.path.resolve()), "labels": list(self.labels),
                           "delay_s": self.delay_s, "max_batch_size": self.max_batch_size,
                           "queue_delay_us": self.queue_delay_us})


_env_lock = threading.Lock()
_env_result: tuple[Path | None, str] | None = None



def _serve_until_stopped(alive: Callable[[], bool]) -> int:
    """Says the server is ready, then waits for it: 1 if it stops by itself (a Ctrl+C, the
    test ending it, returns 0 from the caller's `except KeyboardInterrupt`)."""
    print(READY, flush=True)
    while alive():
        time.sleep(0.2)
    print("the server stopped by itself", flush=True)
    return 1

def server_python() -> tuple[Path | None, str]:
    """The server environment's python (made by tools/triton_env.sh where missing), or
    None and why it cannot be had (no registry to install from, no /usr/bin/python3)."""
    global _env_result
    with _env_lock:
        if _env_result is None:
            stated = os.environ.get("TRT_VIEWER_TRITON_SERVER_PYTHON")
            if stated:
                _env_result = (Path(stated), "") if Path(stated).is_file() else (
                    None, f"TRT_VIEWER_TRITON_SERVER_PYTHON={stated} does not exist")
            else:
                try:
                    done = subprocess.run(["bash", str(ENV_SCRIPT)], capture_output=True, text=True,
                                          timeout=900, cwd=ROOT)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    _env_result = (None, f"tools/triton_env.sh failed: {exc}")
                else:
                    lines = done.stdout.strip().splitlines()
                    if done.returncode == 0 and lines and Path(lines[-1]).is_file():
                        _env_result = (Path(lines[-1]), "")
                    else:
                        why = [line for line in done.stderr.splitlines() if "is ignored" not in line]
                        _env_result = (None, "the Triton server environment cannot be made (tools/triton_env.sh: "
                                       + (why[-1] if why else f"exit {done.returncode}") + ")")
        return _env_result


def server_or_skip() -> Path:
    """The server environment's python; where it is missing the test skips, or fails where
    TRT_VIEWER_REQUIRE_TRITON is set (CI, which makes the environment)."""
    import pytest

    python, why = server_python()
    if python is None:
        if os.environ.get("TRT_VIEWER_REQUIRE_TRITON"):
            pytest.fail(f"TRT_VIEWER_REQUIRE_TRITON is set but {why}")
        pytest.skip(why)
    return python


def free_ports(n: int) -> list[int]:
    """n distinct ports free on 127.0.0.1 now (held together while chosen)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(n):
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
        return ports


def _shm_names() -> set[str]:
    try:
        return {p.name for p in SHM_DIR.iterdir()}
    except OSError:
        return set()


def _python_envs() -> set[Path]:
    return set(PYTHON_BACKEND_TMP.glob("python_env_*"))


def _in_use(path: Path) -> bool:
    """Whether a live process maps `path`, holds it open, or works in it."""
    text = str(path)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if text in (entry / "maps").read_text(errors="replace") or os.readlink(entry / "cwd") == text:
                return True
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd).startswith(text):
                    return True
        except OSError:
            continue
    return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


@dataclass
class TritonServer:
    """One server process (and its children, in a process group of their own)."""

    models: Sequence[Served]
    token: str | None = None  # restrict every endpoint to this access token
    tls: tuple[Path, Path] | None = None  # (certificate, key): gRPC speaks TLS only
    python: Path | None = None
    workdir: Path | None = None  # default: a temporary folder, removed at stop()
    ignore_sigint: bool = False  # start it as a non-interactive shell's background job is: SIGINT ignored
    repository: Path | None = None  # serve this model repository with the bundled tritonserver itself
    log: list[str] = field(default_factory=list)
    http_port: int = 0
    grpc_port: int = 0
    started_s: float = 0.0  # seconds from the start until ready

    def __post_init__(self) -> None:
        self.process: subprocess.Popen[str] | None = None
        self._own_workdir = self.workdir is None
        self._shm_before: set[str] = set()
        self._envs_before: set[Path] = set()
        self._envs_mine: set[Path] = set()
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"grpc{'s' if self.tls else ''}://127.0.0.1:{self.grpc_port}"

    @property
    def workspace(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "workspace"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = START_TIMEOUT_S) -> TritonServer:
        python = self.python
        if python is None:
            python, why = server_python()
            if python is None:
                raise RuntimeError(why)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="trt-viewer-triton-"))
        failures = []
        for _ in range(START_ATTEMPTS):  # a port taken between choosing and binding, a start that hung
            self.http_port, self.grpc_port = free_ports(2)
            if self._launch(python, timeout):
                return self
            failures.append("\n".join(self.log[-30:]))
            self._reap()
        self.stop()
        raise RuntimeError(f"the Triton test server did not start in {START_ATTEMPTS} attempts; the last said:\n"
                           + failures[-1])

    def _launch(self, python: Path, timeout: float) -> bool:
        self.log.clear()
        self._ready.clear()
        self._shm_before = _shm_names()
        self._envs_before = _python_envs()
        argv = [str(python), str(Path(__file__).resolve()), "--http-port", str(self.http_port),
                "--grpc-port", str(self.grpc_port), "--workspace", str(self.workspace)]
        argv += [item for m in self.models for item in ("--model", m.arg())]
        if self.tls is not None:
            argv += ["--grpc-cert", str(self.tls[0]), "--grpc-key", str(self.tls[1])]
        if self.repository is not None:
            argv += ["--repository", str(self.repository)]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PYTHONUNBUFFERED"] = "1"
        if self.token is not None:
            env["TRITON_TEST_TOKEN"] = self.token  # not on the command line, where ps shows it
        started = time.monotonic()
        ignoring = self.ignore_sigint

        def child() -> None:
            if ignoring:
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, env=env, cwd=self.workdir,
                                        start_new_session=True, preexec_fn=child)
        self._reader = threading.Thread(target=self._read_log, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.1):
                self.started_s = time.monotonic() - started
                # The Python backend's stubs make theirs while the models load: these are
                # ours (unless another server started in the same seconds).
                self._envs_mine = _python_envs() - self._envs_before
                return True
            if self.process.poll() is not None:
                self._reader.join(5)
                return False
        self.log.append(f"not ready after {timeout:.0f} s")
        return False

    def _read_log(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip("\n")
            if line == READY:
                self._ready.set()
            self.log.append(line)
            del self.log[:-400]

    def kill(self) -> None:
        """The server goes away at once, as a crashed or unplugged one does (SIGKILL to the
        whole group); stop() then cleans what it left."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, signum: int = signal.SIGINT) -> list[str]:
        """Stop the server with SIGINT (or SIGTERM: serve() turns both into the
        KeyboardInterrupt PyTriton handles) and clean up; returns what the stop left behind
        before the cleaning (empty: a clean stop)."""
        left = self._reap(signum)
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return left

    def _reap(self, signum: int = signal.SIGINT) -> list[str]:
        left: list[str] = []
        process = self.process
        if process is None:
            return left
        pgid = process.pid
        if process.poll() is None:
            process.send_signal(signum)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                left.append(f"the server did not stop within {STOP_TIMEOUT_S:.0f} s of {signal.Signals(signum).name}")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                process.wait(10)
        deadline = time.monotonic() + 10
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(pgid):
            left.append(f"processes {_group_pids(pgid)} of the server's group outlived it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        if self._reader is not None:
            self._reader.join(5)
        if self.workdir is not None and self.workspace.exists():
            left.append(f"the workspace {self.workspace} is left")
            shutil.rmtree(self.workspace, ignore_errors=True)
        # What the server's processes made in /dev/shm and left: PyTriton's own (pytrtion<pid>-...)
        # by name; multiprocessing's (psm_...) and the Python backend's only where no live
        # process maps them, since another test run's server may hold such objects right now.
        new_shm = sorted(_shm_names() - self._shm_before)
        ours = [n for n in new_shm if n.startswith(f"pytrtion{pgid}-")
                or (n.startswith(("psm_", "triton_python_backend")) and not _in_use(SHM_DIR / n))]
        if ours:
            left.append(f"shared memory {ours} is left")
            for name in ours:
                with contextlib.suppress(OSError):
                    (SHM_DIR / name).unlink()
        # The Python backend copies each model to /tmp/folderXXXXXX (not $TMPDIR) and
        # removes it when the model unloads; a killed server leaves it. Ours name our workspace.
        for folder in PYTHON_BACKEND_TMP.glob("folder*"):
            try:
                copied = str(self.workspace) in (folder / "config.pbtxt").read_text(errors="replace")
            except OSError:
                continue
            if copied:
                left.append(f"the Python backend's copy {folder} is left")
                shutil.rmtree(folder, ignore_errors=True)
        # ... and makes an empty /tmp/python_env_XXXXXX that a stop cut short leaves.
        for folder in sorted(self._envs_mine & _python_envs()):
            with contextlib.suppress(OSError):
                if not any(folder.iterdir()) and not _in_use(folder):
                    left.append(f"the Python backend's folder {folder} is left")
                    folder.rmdir()
        self.process = None
        return left

    def __enter__(self) -> TritonServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A certificate for 127.0.0.1 and localhost and its key, made with the openssl
    command; None where there is no openssl."""
    cert, key = folder / "server.pem", folder / "server.key"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return cert, key


@contextlib.contextmanager
def running(models: Sequence[Served], **kwargs: Any) -> Iterator[TritonServer]:
    server = TritonServer(models, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()


# -- the server side (the server environment's python) ----------------------------------

def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _bind(triton: Any, spec: dict[str, Any]) -> None:
    import numpy as np
    import onnxruntime as ort
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(spec["path"], options, providers=["CPUExecutionProvider"])
    dtypes = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
              "tensor(int8)": np.int8, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
              "tensor(double)": np.float64, "tensor(bool)": np.bool_}
    max_batch = int(spec["max_batch_size"])

    def dims(shape: Sequence[Any]) -> tuple[int, ...]:
        full = tuple(d if isinstance(d, int) and d > 0 else -1 for d in shape)
        return full[1:] if max_batch else full

    inputs = [Tensor(name=a.name, dtype=dtypes[a.type], shape=dims(a.shape)) for a in session.get_inputs()]
    outputs = [Tensor(name=a.name, dtype=dtypes[a.type], shape=dims(a.shape)) for a in session.get_outputs()]
    one_at_a_time = session.get_inputs()[0].shape[0] == 1
    names = [o.name for o in session.get_outputs()]
    delay = float(spec["delay_s"])

    def run(feeds: dict[str, Any]) -> dict[str, Any]:
        if delay:
            time.sleep(delay)
        if not one_at_a_time or not max_batch:
            return dict(zip(names, session.run(None, feeds)))
        n = len(next(iter(feeds.values())))
        results = [session.run(None, {k: v[i : i + 1] for k, v in feeds.items()}) for i in range(n)]
        return {name: np.concatenate([r[j] for r in results]) for j, name in enumerate(names)}

    if max_batch:
        infer = batch(lambda **feeds: run(feeds))
    else:
        def infer(requests: list[Any]) -> list[dict[str, Any]]:
            return [run({k: request[k] for k in request}) for request in requests]
    config = ModelConfig(batching=bool(max_batch), max_batch_size=max_batch or 4,
                         batcher=DynamicBatcher(max_queue_delay_microseconds=int(spec.get("queue_delay_us", 500))))
    triton.bind(model_name=spec["name"], infer_func=infer, inputs=inputs, outputs=outputs, config=config,
                strict=False)
    if spec["labels"]:  # a parameter of the model config, as a hand-written config.pbtxt has
        model = list(triton._model_manager.models)[-1]
        model._get_triton_model_config().backend_parameters["labels"] = "\n".join(spec["labels"])


def serve(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="serve ONNX models on Triton through PyTriton (tests)")
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--model", action="append", default=[], help="JSON: name, path, labels, delay_s...")
    parser.add_argument("--grpc-cert", help="gRPC over TLS with this certificate (PEM)")
    parser.add_argument("--grpc-key", help="... and this key (PEM)")
    parser.add_argument("--repository", help="serve this model repository with the bundled tritonserver binary")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, _interrupt)  # also where a non-interactive shell ignored it
    signal.signal(signal.SIGTERM, _interrupt)  # PyTriton stops cleanly on KeyboardInterrupt only
    if args.repository:
        return serve_repository(args)
    from pytriton.triton import Triton, TritonConfig, TritonSecurityConfig

    token = os.environ.pop("TRITON_TEST_TOKEN", None)
    tls = {"grpc_use_ssl": True, "grpc_server_cert": args.grpc_cert, "grpc_server_key": args.grpc_key} \
        if args.grpc_cert else {}
    config = TritonConfig(http_address="127.0.0.1", http_port=args.http_port, grpc_address="127.0.0.1",
                          grpc_port=args.grpc_port, allow_metrics=False, exit_on_error=True, log_verbose=0,
                          exit_timeout_secs=EXIT_TIMEOUT_S, **tls)
    if token is None:  # system shared memory is a restricted endpoint by default
        security = TritonSecurityConfig(restricted_endpoints=[])
    else:  # every endpoint but health needs the token
        security = TritonSecurityConfig(access_token=token, restricted_endpoints=[
            "metadata", "inference", "shared-memory", "model-config", "model-repository", "statistics"])
    triton = None
    try:
        triton = Triton(config=config, workspace=args.workspace, security_config=security)
        for spec in args.model:
            _bind(triton, json.loads(spec))
        triton.run()
        return _serve_until_stopped(triton.is_alive)
    except KeyboardInterrupt:
        return 0
    finally:
        if triton is not None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the cleaning short
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            triton.stop()


def serve_repository(args: argparse.Namespace) -> int:
    """The bundled tritonserver binary on a plain model repository (Python-backend models
    only: it has no other backend), its files copied into the workspace as PyTriton does."""
    import urllib.request

    import pytriton
    from pytriton.utils.distribution import get_libs_path, get_stub_path

    workspace = Path(args.workspace)
    dist = workspace / "tritonserver"
    process = None
    try:
        shutil.copytree(Path(pytriton.__file__).parent / "tritonserver", dist,
                        ignore=shutil.ignore_patterns("python_backend_stubs"))
        shutil.copy(get_stub_path(f"{sys.version_info[0]}.{sys.version_info[1]}"),
                    dist / "backends" / "python" / "triton_python_backend_stub")
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(get_libs_path()), env.get("LD_LIBRARY_PATH")]))
        # The Python backend's stub embeds the python first on PATH, and so imports numpy and
        # onnxruntime from this environment (PyTriton puts it first too).
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        process = subprocess.Popen([
            str(dist / "bin" / "tritonserver"), f"--model-repository={args.repository}",
            f"--backend-directory={dist / 'backends'}", f"--cache-directory={dist / 'caches'}",
            "--http-address=127.0.0.1", f"--http-port={args.http_port}", "--grpc-address=127.0.0.1",
            f"--grpc-port={args.grpc_port}", "--allow-metrics=false", f"--exit-timeout-secs={EXIT_TIMEOUT_S}",
            "--strict-readiness=true", "--exit-on-error=true",
        ], env=env, stdin=subprocess.DEVNULL)
        ready = f"http://127.0.0.1:{args.http_port}/v2/health/ready"
        while process.poll() is None:
            try:
                with urllib.request.urlopen(ready, timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            return 1
        return _serve_until_stopped(lambda: process.poll() is None)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(EXIT_TIMEOUT_S + 10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(serve())
