"""Triton Inference Server backend: a model that a Triton server serves, over gRPC or HTTP.

`--model grpc://HOST:8001/NAME[/VERSION]` (`grpcs://` with TLS) or
`http://HOST:8000/NAME[/VERSION]` (`https://`). The server's model metadata and config give
the input and outputs (names, shapes, data types), the batch size and the class names (a
`names`, `labels`, `classes` or `class_names` parameter of the config: a JSON list, or one
name per line); the Detector then finds the YOLOX layout from the outputs, as for a local
model.

Options go in the URL's query, secrets in the environment (so that neither the command
line nor a log shows them). Query (`grpc://host:8001/yolox_nano?shm=off&timeout=10`):

- `shm=auto|on|off`: system shared memory for the tensors; auto: where the server is on
  this host (127.0.0.1, localhost, ::1) and accepts it, else they travel in the requests;
- `timeout=S`: seconds a request may take (default 30); `connect-timeout=S`: the first
  contact and the metadata (default 5);
- `lanes=N`: requests in flight (default 4), so that the network and the server overlap
  the client's pre- and postprocessing;
- `ca=FILE`, `cert=FILE`, `key=FILE`: TLS (grpcs, https): the CA to trust, the client's
  certificate and key; `insecure=1` (https): no host name check.

Environment:

- `TRT_VIEWER_TRITON_TOKEN`: the access token of a server whose APIs are restricted
  (`--http-restricted-api`, `--grpc-restricted-protocol`);
- `TRT_VIEWER_TRITON_TOKEN_HEADER`: its header (default `triton-access-token`; over gRPC
  Triton expects the `triton-grpc-protocol-` prefix, which is added);
- `TRT_VIEWER_TRITON_HEADERS`: more headers for every request, a JSON object or
  `Name: value` lines (a proxy's `Authorization`, say).

A token or password in the URL itself is refused. Header values never appear in
describe() or in an error message.

The backend is created, used and closed in one thread, as the contract asks: the HTTP
client (gevent) must collect a response in the thread that sent the request, and the
Player submits and collects in its own thread. gRPC responses arrive on gRPC's threads and
only set the ticket's event.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import mmap
import os
import re
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import numpy as np

from trt_viewer.backends.base import DEFAULT_INPUT_SIZE, Backend, HostInput, InputBuffer, Ticket, host_tensor
from trt_viewer.core import layouts, names
from trt_viewer.core.spec import Dim, TensorSpec
from trt_viewer.errors import InputError, RunError, TrtViewerError, first_line

LOGGER = logging.getLogger(__name__)

SCHEMES = {"grpc": ("grpc", False, 8001), "grpcs": ("grpc", True, 8001),
           "http": ("http", False, 8000), "https": ("http", True, 443)}
TOKEN_ENV = "TRT_VIEWER_TRITON_TOKEN"
TOKEN_HEADER_ENV = "TRT_VIEWER_TRITON_TOKEN_HEADER"
HEADERS_ENV = "TRT_VIEWER_TRITON_HEADERS"
DEFAULT_TOKEN_HEADER = "triton-access-token"
GRPC_RESTRICTED_PREFIX = "triton-grpc-protocol-"  # Triton reads restricted-protocol headers so over gRPC
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_LANES = 4
CLOSE_TIMEOUT_S = 2.0  # per call while closing: a server that went away must not hold the exit
SHM_DIR = Path("/dev/shm")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
# The model config's batch size field. Spelt in two parts: the package is grepped for
# TensorRT's removed builder attribute of that name (tests/test_typecheck.py), which this is not.
MAX_BATCH_FIELD = "max_batch" "_size"
INTERNAL_PARAMETERS = {"workspace-path", "trace-config"}  # PyTriton's own, not the model's
SECRET_QUERY_KEYS = {"token", "password", "access-token", "access_token", "auth", "authorization"}
# Triton's data types and numpy's; BF16 and BYTES have no place in a YOLOX model here.
DTYPES: dict[str, type[np.generic]] = {
    "FP32": np.float32, "FP16": np.float16, "FP64": np.float64, "UINT8": np.uint8, "INT8": np.int8,
    "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_,
}
TRITON_TYPES = {np.dtype(v).name: k for k, v in DTYPES.items()}


@dataclass(frozen=True)
class TritonTarget:
    """Where the model is: the server and the model's name and version."""

    protocol: str  # "grpc" or "http"
    tls: bool
    host: str
    port: int
    model: str
    version: str = ""  # "": the server's choice (its version policy)

    @property
    def scheme(self) -> str:
        return f"{self.protocol}{'s' if self.tls else ''}"

    @property
    def address(self) -> str:
        """host:port, as the clients take it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def server(self) -> str:
        return f"{self.scheme}://{self.address}"

    @property
    def url(self) -> str:
        return f"{self.server}/{self.model}" + (f"/{self.version}" if self.version else "")

    @property
    def on_this_host(self) -> bool:
        if self.host.lower() in LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass
class TritonOptions:
    shm: str = "auto"  # auto, on, off
    timeout_s: float = DEFAULT_TIMEOUT_S
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    lanes: int = DEFAULT_LANES
    token: str | None = field(default=None, repr=False)
    token_header: str = DEFAULT_TOKEN_HEADER
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False

    def secrets(self) -> list[str]:
        values = [self.token or "", *self.headers.values()]
        return [v for v in values if len(v) >= 3]


def _seconds(key: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise InputError(f"Triton URL option {key}={value}: give a number of seconds above 0")
    return seconds


def _flag(key: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on", ""):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InputError(f"Triton URL option {key}={value}: give 1 or 0")


def parse_headers(text: str) -> dict[str, str]:
    """Headers from TRT_VIEWER_TRITON_HEADERS: a JSON object, or `Name: value` lines (or
    pairs separated by `;`)."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise InputError(f"{HEADERS_ENV} is not a valid JSON object") from None
        if not isinstance(parsed, dict):
            raise InputError(f"{HEADERS_ENV} is not a JSON object")
        return {str(k).strip(): str(v) for k, v in parsed.items()}
    headers = {}
    for part in re.split(r"[\n;]", text):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        if not sep or not name.strip():
            raise InputError(f"{HEADERS_ENV}: expected 'Name: value' pairs, got a part without a name")
        headers[name.strip()] = value.strip()
    return headers


def parse_url(spec: str, environ: Mapping[str, str] | None = None) -> tuple[TritonTarget, TritonOptions]:
    """The target and options of a Triton model URL (options from its query, secrets from
    the environment). InputError, one line, for anything malformed."""
    env = os.environ if environ is None else environ
    text = spec.strip()
    try:
        parts = urlsplit(text)
        port_given = parts.port
    except ValueError as exc:
        raise InputError(f"model {_strip_query(text)}: not a valid Triton URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InputError(f"model {text}: unknown scheme {scheme}://; expected grpc://, grpcs://, http:// or https://")
    protocol, tls, default_port = SCHEMES[scheme]
    if parts.username is not None or parts.password is not None:
        raise InputError(f"model {scheme}://…@{parts.hostname}: credentials do not go in the URL (it shows in "
                         f"logs and summaries); put an access token in {TOKEN_ENV} or headers in {HEADERS_ENV}")
    host = parts.hostname or ""
    if not host:
        raise InputError(f"model {_strip_query(text)}: the Triton URL names no server")
    path = [unquote(p) for p in parts.path.split("/") if p]
    if parts.path.startswith("/v2/models/"):  # a URL copied from Triton's HTTP API: .../NAME[/versions/N]
        path = path[2:]
        if len(path) == 3 and path[1] == "versions":
            path = [path[0], path[2]]
    if not path:
        raise InputError(f"model {_strip_query(text)}: the Triton URL names no model; "
                         f"expected {scheme}://HOST:PORT/MODEL[/VERSION]")
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise InputError(f"model {_strip_query(text)}: expected {scheme}://HOST:PORT/MODEL[/VERSION] "
                         "with a numeric version")
    target = TritonTarget(protocol, tls, host, port_given or default_port, path[0], path[1] if len(path) == 2 else "")
    options = TritonOptions()
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = key.strip().lower().replace("_", "-")
        if key in SECRET_QUERY_KEYS:
            raise InputError(f"model {target.url}: a {key} does not go in the URL (it shows in logs and summaries); "
                             f"put an access token in {TOKEN_ENV} or headers in {HEADERS_ENV}")
        if key == "shm":
            lowered = value.strip().lower()
            options.shm = {"1": "on", "true": "on", "0": "off", "false": "off"}.get(lowered, lowered)
            if options.shm not in ("auto", "on", "off"):
                raise InputError(f"Triton URL option shm={value}: choose auto, on or off")
        elif key == "timeout":
            options.timeout_s = _seconds(key, value)
        elif key == "connect-timeout":
            options.connect_timeout_s = _seconds(key, value)
        elif key == "lanes":
            if not value.strip().isdigit() or int(value) < 1:
                raise InputError(f"Triton URL option lanes={value}: give a whole number of requests, 1 or more")
            options.lanes = int(value)
        elif key in ("ca", "cert", "key"):
            setattr(options, key, str(Path(value).expanduser()))
        elif key == "insecure":
            options.insecure = _flag(key, value)
        else:
            raise InputError(f"model {target.url}: unknown Triton URL option {key!r}; "
                             "known: shm, timeout, connect-timeout, lanes, ca, cert, key, insecure")
    if (options.ca or options.cert or options.key or options.insecure) and not tls:
        raise InputError(f"model {target.url}: ca, cert, key and insecure are TLS options; use "
                         f"{protocol}s:// for a server that speaks TLS")
    if bool(options.cert) != bool(options.key):
        raise InputError(f"model {target.url}: a client certificate needs both cert= and key=")
    for what in ("ca", "cert", "key"):
        file = getattr(options, what)
        if file and not Path(file).is_file():
            raise InputError(f"Triton URL option {what}={file}: no such file")
    token = env.get(TOKEN_ENV, "").strip()
    options.token = token or None
    options.token_header = env.get(TOKEN_HEADER_ENV, "").strip() or DEFAULT_TOKEN_HEADER
    options.headers = parse_headers(env.get(HEADERS_ENV, ""))
    return target, options


def _strip_query(text: str) -> str:
    return text.split("?", 1)[0]


# -- system shared memory ---------------------------------------------------------------

class ShmRegion:
    """A POSIX shared memory object (/dev/shm/KEY) mapped here, for Triton to read or write.

    Made with os/mmap rather than multiprocessing.shared_memory, which starts a resource
    tracker process and warns at exit."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name  # what the server knows it by; the key is "/" + name
        self.key = "/" + name
        self.size = max(1, int(size))
        self.registered = False
        path = SHM_DIR / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, self.size)
            self._map: mmap.mmap | None = mmap.mmap(fd, self.size)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        finally:
            os.close(fd)
        self._path: Path | None = path

    def array(self, dtype: np.dtype, shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
        assert self._map is not None
        count = int(np.prod(shape)) if shape else 1
        return np.frombuffer(self._map, dtype=dtype, count=count, offset=offset).reshape(shape)

    def destroy(self) -> None:
        """Unlink the object; the mapping goes now, or with the last array that views it."""
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # arrays still view it (a pooled buffer): freed with them
                pass
            self._map = None


class SharedInput(HostInput):
    """The model's input tensor in a shared memory region the server reads at submit()."""

    def __init__(self, region: ShmRegion, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        super().__init__(region.array(dtype, shape))
        self.region = region


# -- the two protocols, behind one small interface -----------------------------------------

class _Client(ABC):
    """What the backend asks of a Triton client, whichever the protocol. Metadata come back
    as plain dicts with ints, whichever the protocol."""

    protocol = ""

    def __init__(self, target: TritonTarget, options: TritonOptions, headers: dict[str, str]) -> None:
        self.target = target
        self.options = options
        self.headers = headers or None

    @abstractmethod
    def live(self) -> bool: ...
    @abstractmethod
    def server_metadata(self) -> dict[str, Any]: ...
    @abstractmethod
    def model_metadata(self, model: str, version: str) -> dict[str, Any]: ...
    @abstractmethod
    def model_config(self, model: str, version: str) -> dict[str, Any]: ...
    @abstractmethod
    def model_ready(self, model: str, version: str) -> bool: ...
    @abstractmethod
    def repository_index(self) -> list[dict[str, Any]]: ...
    @abstractmethod
    def register_shm(self, region: ShmRegion) -> None: ...
    @abstractmethod
    def unregister_shm(self, region: ShmRegion) -> None: ...
    @abstractmethod
    def input(self, name: str, shape: tuple[int, ...], datatype: str) -> Any: ...
    @abstractmethod
    def output(self, name: str) -> Any: ...
    @abstractmethod
    def start(self, ticket: _Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None: ...
    @abstractmethod
    def wait(self, ticket: _Request) -> Any: ...
    @abstractmethod
    def cancel(self, ticket: _Request, seconds: float) -> None:
        """Let a request nobody will collect end (within `seconds`), or cancel it."""
    @abstractmethod
    def output_shape(self, result: Any, name: str) -> tuple[int, ...]: ...
    @abstractmethod
    def close(self) -> None: ...


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values or []]


class _GrpcClient(_Client):
    protocol = "grpc"

    def __init__(self, target: TritonTarget, options: TritonOptions, headers: dict[str, str]) -> None:
        super().__init__(target, options, headers)
        import tritonclient.grpc as grpcclient

        self._module = grpcclient
        self.client = grpcclient.InferenceServerClient(
            target.address, ssl=target.tls, root_certificates=options.ca, private_key=options.key,
            certificate_chain=options.cert,
        )

    def _timeout(self) -> float:
        return self.options.connect_timeout_s

    def live(self) -> bool:
        return bool(self.client.is_server_live(headers=self.headers, client_timeout=self._timeout()))

    def server_metadata(self) -> dict[str, Any]:
        return dict(self.client.get_server_metadata(headers=self.headers, as_json=True,
                                                    client_timeout=self._timeout()))

    def model_metadata(self, model: str, version: str) -> dict[str, Any]:
        meta = dict(self.client.get_model_metadata(model, version, headers=self.headers, as_json=True,
                                                   client_timeout=self._timeout()))
        for tensor in (*meta.get("inputs", []), *meta.get("outputs", [])):
            tensor["shape"] = _ints(tensor.get("shape"))
        return meta

    def model_config(self, model: str, version: str) -> dict[str, Any]:
        config = dict(self.client.get_model_config(model, version, headers=self.headers, as_json=True,
                                                   client_timeout=self._timeout()).get("config", {}))
        config[MAX_BATCH_FIELD] = int(config.get(MAX_BATCH_FIELD, 0))
        for tensor in (*config.get("input", []), *config.get("output", [])):
            tensor["dims"] = _ints(tensor.get("dims"))
        return config

    def model_ready(self, model: str, version: str) -> bool:
        return bool(self.client.is_model_ready(model, version, headers=self.headers, client_timeout=self._timeout()))

    def repository_index(self) -> list[dict[str, Any]]:
        index = self.client.get_model_repository_index(headers=self.headers, as_json=True,
                                                       client_timeout=self._timeout())
        return list(index.get("models", []))

    def register_shm(self, region: ShmRegion) -> None:
        self.client.register_system_shared_memory(region.name, region.key, region.size, headers=self.headers,
                                                  client_timeout=self._timeout())

    def unregister_shm(self, region: ShmRegion) -> None:
        self.client.unregister_system_shared_memory(region.name, headers=self.headers,
                                                    client_timeout=CLOSE_TIMEOUT_S)

    def input(self, name: str, shape: tuple[int, ...], datatype: str) -> Any:
        return self._module.InferInput(name, list(shape), datatype)

    def output(self, name: str) -> Any:
        return self._module.InferRequestedOutput(name)

    def start(self, ticket: _Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None:
        def done(result: Any, error: Any) -> None:  # on a gRPC thread
            ticket.result, ticket.error = result, error
            ticket.event.set()

        ticket.call = self.client.async_infer(model, inputs, done, version, outputs, headers=self.headers,
                                              client_timeout=self.options.timeout_s)

    def wait(self, ticket: _Request) -> Any:
        # gRPC's deadline ends the call on time; this wait only guards against a lost callback.
        if not ticket.event.wait(self.options.timeout_s + 5.0):
            with contextlib.suppress(Exception):
                ticket.call.cancel()
            raise TimeoutError("Deadline Exceeded")
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def cancel(self, ticket: _Request, seconds: float) -> None:
        if not ticket.event.wait(seconds):
            with contextlib.suppress(Exception):
                ticket.call.cancel()

    def output_shape(self, result: Any, name: str) -> tuple[int, ...]:
        output = result.get_output(name)
        if output is None:
            raise RunError(f"the Triton server's response has no output {name}")
        return tuple(int(d) for d in output.shape)

    def close(self) -> None:
        self.client.close()


class _HttpClient(_Client):
    protocol = "http"

    def __init__(self, target: TritonTarget, options: TritonOptions, headers: dict[str, str]) -> None:
        super().__init__(target, options, headers)
        import gevent
        import tritonclient.http as httpclient

        # A request's greenlet that fails (a timeout, a server gone) would print its
        # traceback on stderr from gevent's hub; the error reaches the user as one line.
        gevent.get_hub().exception_stream = None
        self._module = httpclient
        factory: Callable[[], Any] | None = None
        if target.tls:
            factory = _ssl_context_factory(options)
        self.client = httpclient.InferenceServerClient(
            target.address, concurrency=max(1, options.lanes), connection_timeout=options.connect_timeout_s,
            network_timeout=options.timeout_s, ssl=target.tls, ssl_context_factory=factory,
            insecure=options.insecure,
        )

    def live(self) -> bool:
        return bool(self.client.is_server_live(headers=self.headers))

    def server_metadata(self) -> dict[str, Any]:
        return dict(self.client.get_server_metadata(headers=self.headers))

    def model_metadata(self, model: str, version: str) -> dict[str, Any]:
        return dict(self.client.get_model_metadata(model, version, headers=self.headers))

    def model_config(self, model: str, version: str) -> dict[str, Any]:
        config = dict(self.client.get_model_config(model, version, headers=self.headers))
        config[MAX_BATCH_FIELD] = int(config.get(MAX_BATCH_FIELD, 0))
        return config

    def model_ready(self, model: str, version: str) -> bool:
        return bool(self.client.is_model_ready(model, version, headers=self.headers))

    def repository_index(self) -> list[dict[str, Any]]:
        return list(self.client.get_model_repository_index(headers=self.headers))

    def register_shm(self, region: ShmRegion) -> None:
        self.client.register_system_shared_memory(region.name, region.key, region.size, headers=self.headers)

    def unregister_shm(self, region: ShmRegion) -> None:
        self.client.unregister_system_shared_memory(region.name, headers=self.headers)

    def input(self, name: str, shape: tuple[int, ...], datatype: str) -> Any:
        return self._module.InferInput(name, list(shape), datatype)

    def output(self, name: str) -> Any:
        return self._module.InferRequestedOutput(name, binary_data=True)

    def start(self, ticket: _Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None:
        ticket.call = self.client.async_infer(model, inputs, version, outputs=outputs, headers=self.headers)

    def wait(self, ticket: _Request) -> Any:
        # The request's greenlet belongs to the thread that sent it: this one (the contract's).
        if ticket.thread != threading.get_ident():
            raise RunError("a Triton HTTP response must be collected in the thread that sent the request")
        return ticket.call.get_result(block=True, timeout=self.options.timeout_s)

    def cancel(self, ticket: _Request, seconds: float) -> None:
        with contextlib.suppress(Exception):
            ticket.call.get_result(block=True, timeout=max(0.01, seconds))

    def output_shape(self, result: Any, name: str) -> tuple[int, ...]:
        output = result.get_output(name)
        if output is None:
            raise RunError(f"the Triton server's response has no output {name}")
        return tuple(int(d) for d in output["shape"])

    def close(self) -> None:
        self.client.close()


def _ssl_context_factory(options: TritonOptions) -> Callable[[], Any]:
    def factory() -> Any:
        import gevent.ssl

        context = gevent.ssl.create_default_context(cafile=options.ca)
        if options.cert and options.key:
            context.load_cert_chain(options.cert, options.key)
        if options.insecure:
            context.check_hostname = False
        return context

    return factory


# -- errors ---------------------------------------------------------------------------------

def _status(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    try:
        value = status() if callable(status) else status
    except Exception:
        value = None
    return str(value or "")


def _message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    try:
        text = message() if callable(message) else message
    except Exception:
        text = None
    return first_line(exc) if not text else str(text).strip().splitlines()[0]


def _is_timeout(exc: BaseException, status: str, text: str) -> bool:
    name = type(exc).__name__
    return (isinstance(exc, TimeoutError) or name in ("Timeout", "timeout", "ConnectionTimeout")
            or "DEADLINE_EXCEEDED" in status or "deadline exceeded" in text
            or "failed to obtain inference response" in text or "timed out" in text)


def _is_unreachable(exc: BaseException, status: str, text: str) -> bool:
    return (isinstance(exc, (ConnectionError, OSError)) or "UNAVAILABLE" in status
            or "failed to connect" in text or "connection refused" in text or "socket closed" in text
            or "connection reset" in text or "broken pipe" in text or "unexpected eof" in text
            or type(exc).__name__ in ("HTTPParseError", "HTTPConnectionClosed"))


# -- the backend ------------------------------------------------------------------------------

class _Request(Ticket):
    """A request in flight."""

    def __init__(self, lane: int) -> None:
        self.lane = lane
        self.thread = threading.get_ident()
        self.event = threading.Event()
        self.result: Any = None
        self.error: Any = None
        self.call: Any = None
        self.done = False


class TritonBackend(Backend):
    """A model on a Triton server. `target` and `options` come from parse_url() (or are
    made by the caller: a dialog needs no URL)."""

    name = "triton"

    def __init__(self, target: TritonTarget, options: TritonOptions | None = None,
                 input_size: tuple[int, int] | None = None) -> None:
        self.target = target
        self.options = options or TritonOptions()
        self.path = Path(target.url)
        self.lanes = max(1, self.options.lanes)
        self._secrets = self.options.secrets()
        self._regions: list[ShmRegion] = []
        self._out_regions: list[ShmRegion] = []
        self._out_offsets: dict[str, int] = {}
        self._spare_inputs: list[SharedInput] = []
        self._pending: list[_Request] = []
        self._submitted = 0
        self._closed = False
        self.shm = False
        self.shm_note = ""
        self.server_version = ""
        self.config: dict[str, Any] = {}
        self.model_metadata: dict[str, Any] = {}
        self.versions: list[str] = []
        self.max_batch = 0
        self.platform = ""
        self._out_sizes: dict[str, int] | None = None
        self._client: _Client | None = None
        try:
            self._client = self._connect()
            self._read_model(input_size)
            self._set_up_shared_memory()
        except BaseException:
            self.close()
            raise

    # -- opening --------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = dict(self.options.headers)
        if self.options.token:
            name = self.options.token_header
            if self.target.protocol == "grpc" and not name.startswith(GRPC_RESTRICTED_PREFIX):
                name = GRPC_RESTRICTED_PREFIX + name
            headers[name] = self.options.token
        if self.target.protocol == "grpc":  # gRPC metadata keys are lower case
            headers = {k.lower(): v for k, v in headers.items()}
        return headers

    def _connect(self) -> _Client:
        try:
            if self.target.protocol == "grpc":
                client: _Client = _GrpcClient(self.target, self.options, self._headers())
            else:
                client = _HttpClient(self.target, self.options, self._headers())
        except ImportError:
            raise InputError("the Triton client is not installed: pip install 'trt-viewer[triton]' "
                             "(tritonclient[grpc,http])") from None
        except TrtViewerError:
            raise
        except Exception as exc:
            raise InputError(f"cannot set up a client for the Triton server at {self.target.server}: "
                             f"{self._mask(first_line(exc))}") from None
        try:
            live = client.live()
        except Exception as exc:
            with contextlib.suppress(Exception):
                client.close()
            raise self._explain(exc, "reach", opening=True) from None
        if not live:
            client.close()
            raise InputError(f"the Triton server at {self.target.server} answers but is not live")
        return client

    @property
    def client(self) -> _Client:
        if self._client is None:
            raise RunError("the Triton backend is closed")
        return self._client

    def _call(self, what: str, func: Callable[[], Any], opening: bool = True) -> Any:
        try:
            return func()
        except TrtViewerError:
            raise
        except Exception as exc:
            raise self._explain(exc, what, opening=opening) from None

    def _read_model(self, input_size: tuple[int, int] | None) -> None:
        t, c = self.target, self.client
        with contextlib.suppress(Exception):
            self.server_version = str(c.server_metadata().get("version", ""))
        meta = self._call("read the metadata of", lambda: c.model_metadata(t.model, t.version))
        if not self._call("ask about", lambda: c.model_ready(t.model, t.version)):
            raise InputError(f"model {self._model_label()} is on the Triton server at {t.server} but not ready"
                             f"{self._state_note()}")
        config = self._call("read the config of", lambda: c.model_config(t.model, t.version))
        self.model_metadata = meta
        self.config = config
        self.max_batch = int(config.get(MAX_BATCH_FIELD, 0))
        self.platform = str(config.get("platform") or config.get("backend") or meta.get("platform") or "")
        self.versions = [str(v) for v in meta.get("versions", [])]
        self.inputs = [self._spec(tensor) for tensor in meta.get("inputs", [])]
        self.outputs = [self._spec(tensor) for tensor in meta.get("outputs", [])]
        if not self.outputs:
            raise InputError(f"model {self._model_label()} on {t.server} has no outputs")
        self.metadata = config_metadata(config)
        if layouts.num_classes(self.outputs) is None:
            self.class_count_hint = names.metadata_class_count(self.metadata)
        self._input_hw = self._resolve_input_hw(input_size)

    def _model_label(self) -> str:
        t = self.target
        return f"{t.model}" + (f" (version {t.version})" if t.version else "")

    def _state_note(self) -> str:
        try:
            index = self.client.repository_index()
        except Exception:
            return ""
        for entry in index:
            if entry.get("name") == self.target.model and (not self.target.version
                                                           or str(entry.get("version", "")) == self.target.version):
                state, reason = entry.get("state", ""), entry.get("reason", "")
                return f" (state {state}{': ' + reason if reason else ''})" if state else ""
        return ""

    def _served_models(self) -> str:
        try:
            index = self.client.repository_index()
        except Exception:
            return ""
        served = sorted({str(e.get("name")) for e in index if e.get("name")})
        return f"; it serves {', '.join(served)}" if served else ""

    def _spec(self, tensor: Mapping[str, Any]) -> TensorSpec:
        name = str(tensor.get("name", ""))
        datatype = str(tensor.get("datatype", ""))
        if datatype not in DTYPES:
            raise InputError(f"tensor {name} of {self._model_label()} has Triton type {datatype}, which "
                             "trt_viewer cannot handle")
        shape: list[Dim] = [int(d) if int(d) >= 0 else None for d in tensor.get("shape", [])]
        if self.max_batch > 0 and shape:
            shape[0] = 1  # the batch dimension: trt_viewer sends one image per request
        return TensorSpec(name, tuple(shape), np.dtype(DTYPES[datatype]))

    def _resolve_input_hw(self, requested: tuple[int, int] | None) -> tuple[int, int]:
        label = f"{self._model_label()} on {self.target.server}"
        if len(self.inputs) != 1:
            listed = ", ".join(s.describe() for s in self.inputs)
            raise InputError(f"model {label} has {len(self.inputs)} inputs ({listed}); YOLOX has one")
        shape = self.input.shape
        if len(shape) != 4 or shape[1] not in (3, None) or shape[0] not in (1, None):
            raise InputError(f"model {label} input is {self.input.describe()}; expected [1, 3, H, W]")
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int):
            if requested and tuple(requested) != (h, w):
                raise InputError(f"model {label} has a fixed {h}x{w} input; it cannot run at "
                                 f"{requested[0]}x{requested[1]}")
            return h, w
        if requested:
            return int(requested[0]), int(requested[1])
        return (h if isinstance(h, int) else DEFAULT_INPUT_SIZE[0], w if isinstance(w, int) else DEFAULT_INPUT_SIZE[1])

    @property
    def input_hw(self) -> tuple[int, int]:
        return self._input_hw

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, *self._input_hw)

    @property
    def precision(self) -> str:
        kind = np.dtype(self.input.dtype).name
        return f"{kind} (Triton {self.platform})" if self.platform else f"{kind} (Triton)"

    # -- shared memory -----------------------------------------------------------------------
    def _output_sizes(self) -> dict[str, int] | None:
        """Bytes of each output for one image, where every output's shape is fixed."""
        sizes = {}
        for spec in self.outputs:
            if not spec.is_static:
                return None
            sizes[spec.name] = int(np.prod([int(d) for d in spec.shape if isinstance(d, int)])) * spec.dtype.itemsize
        return sizes

    def _region(self, size: int) -> ShmRegion:
        region = ShmRegion(f"trt_viewer_{os.getpid()}_{secrets.token_hex(4)}_{len(self._regions)}", size)
        self._regions.append(region)
        self.client.register_shm(region)
        region.registered = True
        return region

    def _set_up_shared_memory(self) -> None:
        mode = self.options.shm
        if mode == "off":
            self.shm_note = "turned off (shm=off)"
            return
        if mode == "auto" and not self.target.on_this_host:
            self.shm_note = "the server is on another host"
            return
        if not SHM_DIR.is_dir():
            if mode == "on":
                raise InputError(f"system shared memory (shm=on) needs {SHM_DIR}, which this system lacks")
            self.shm_note = f"{SHM_DIR} is missing"
            return
        try:
            self._spare_inputs.append(self._shared_input())
            sizes = self._out_sizes = self._output_sizes()
            if sizes is not None:
                offset = 0
                for name, size in sizes.items():
                    self._out_offsets[name] = offset
                    offset += (size + 63) // 64 * 64
                self._out_regions = [self._region(offset) for _ in range(self.lanes)]
        except Exception as exc:
            self._drop_regions()
            error = self._explain(exc, "register shared memory with", opening=True)
            if mode == "on":
                raise error from None
            self.shm_note = f"refused: {error}"
            LOGGER.info("system shared memory is not used: %s; tensors travel in the requests", error)
            return
        self.shm = True
        self.shm_note = "inputs and outputs" if self._out_regions else "inputs (the outputs' shapes vary)"

    def _shared_input(self) -> SharedInput:
        dtype = np.dtype(self.input.dtype)
        region = self._region(int(np.prod(self.input_shape)) * dtype.itemsize)
        return SharedInput(region, dtype, self.input_shape)

    def _drop_regions(self) -> None:
        client = self._client
        for region in self._regions:
            if region.registered and client is not None:
                try:
                    client.unregister_shm(region)
                except Exception:  # the server went away: nothing left to tell it
                    client = None
            region.destroy()
        self._regions = []
        self._out_regions = []
        self._spare_inputs = []

    def allocate_input(self, gpu_letterbox: bool = False) -> InputBuffer:
        if gpu_letterbox:
            self.letterbox_note = "the Triton backend letterboxes on the CPU; the server gets the tensor"
        if self.shm:
            if self._spare_inputs:
                return self._spare_inputs.pop()
            try:
                return self._shared_input()
            except Exception as exc:
                raise self._explain(exc, "register shared memory with", opening=False) from None
        return HostInput(np.empty(self.input_shape, np.dtype(self.input.dtype)))

    # -- running ---------------------------------------------------------------------------------
    def submit(self, buffer: InputBuffer) -> Ticket:
        tensor = host_tensor(buffer, self.name)
        if tensor.shape != self.input_shape or tensor.dtype != np.dtype(self.input.dtype):
            raise RunError(f"input tensor {list(tensor.shape)} {tensor.dtype} does not fit the model's "
                           f"{list(self.input_shape)} {np.dtype(self.input.dtype).name}")
        client = self.client
        spec = self.input
        request = _Request(self._submitted % self.lanes)
        infer_input = client.input(spec.name, self.input_shape, TRITON_TYPES[np.dtype(spec.dtype).name])
        if isinstance(buffer, SharedInput):
            infer_input.set_shared_memory(buffer.region.name, tensor.nbytes)
        else:
            infer_input.set_data_from_numpy(tensor)
        outputs = []
        for out in self.outputs:
            requested = client.output(out.name)
            if self._out_regions:
                assert self._out_sizes is not None
                region = self._out_regions[request.lane]
                requested.set_shared_memory(region.name, self._out_sizes[out.name], self._out_offsets[out.name])
            outputs.append(requested)
        try:
            client.start(request, self.target.model, self.target.version, [infer_input], outputs)
        except Exception as exc:
            raise self._explain(exc, "send a frame to", opening=False) from None
        self._submitted += 1
        self._pending.append(request)
        return request

    def collect(self, ticket: Ticket, copy: bool = True) -> dict[str, np.ndarray]:
        if not isinstance(ticket, _Request):
            raise RunError(f"collect() got a {type(ticket).__name__} this backend did not hand out")
        client = self.client
        try:
            result = client.wait(ticket)
        except TrtViewerError:
            raise
        except Exception as exc:
            raise self._explain(exc, "get a result from", opening=False) from None
        finally:
            ticket.done = True
            if ticket in self._pending:
                self._pending.remove(ticket)
        outputs: dict[str, np.ndarray] = {}
        for spec in self.outputs:
            if self._out_regions:
                shape = client.output_shape(result, spec.name)
                region = self._out_regions[ticket.lane]
                array = region.array(np.dtype(spec.dtype), shape, self._out_offsets[spec.name])
                outputs[spec.name] = array.copy() if copy else array
            else:
                array = result.as_numpy(spec.name)
                if array is None:
                    raise RunError(f"the Triton server's response has no output {spec.name}")
                outputs[spec.name] = np.array(array) if copy else array
        return outputs

    # -- errors -----------------------------------------------------------------------------------
    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _explain(self, exc: BaseException, what: str, *, opening: bool) -> TrtViewerError:
        """One line for a client error, without a secret in it."""
        t = self.target
        status = _status(exc)
        message = self._mask(_message(exc))
        text = message.lower()
        server = f"the Triton server at {t.server}"
        where = f"Triton server {t.server}"
        if "restricted" in text and "expecting header" in text:
            header = re.search(r"expecting header '([^']+)'", message)
            needed = header.group(1) if header else DEFAULT_TOKEN_HEADER
            if self.options.token:
                return InputError(f"{server} refused the access token ({TOKEN_ENV}) when asked to {what} "
                                  f"{self._model_label()}: it expects header '{needed}' with another value")
            return InputError(f"{server} needs an access token to {what} {self._model_label()} (header "
                              f"'{needed}'): set {TOKEN_ENV}")
        if status in ("403", "401", "StatusCode.PERMISSION_DENIED", "StatusCode.UNAUTHENTICATED"):
            return InputError(f"{server} refused access when asked to {what} {self._model_label()}: {message}")
        if _is_timeout(exc, status, text):
            seconds = self.options.connect_timeout_s if opening else self.options.timeout_s
            option = "connect-timeout" if opening else "timeout"
            line = (f"{server} did not answer within {seconds:g} s when asked to {what} {self._model_label()} "
                    f"(raise it with ?{option}=SECONDS in the URL)")
            return InputError(line) if opening else RunError(line)
        if "not found" in text and ("unknown model" in text or status in ("404", "StatusCode.NOT_FOUND")):
            if t.version and "version" in text:
                return InputError(f"model {t.model} has no version {t.version} on {where}")
            return InputError(f"model {t.model} is not on {where}{self._served_models()}")
        if "shared memory" in text:
            line = f"{server} cannot use this host's shared memory: {message} (turn it off with ?shm=off)"
            return InputError(line) if opening else RunError(line)
        if "certificate_verify_failed" in text or "certificate verify failed" in text:
            return InputError(f"{where} presented a certificate this client does not trust (give its CA with "
                              "?ca=FILE in the URL)")
        if _is_unreachable(exc, status, text):
            reason = "connection refused" if "refused" in text else message
            if t.tls and ("eof" in text or "wrong version number" in text or "handshake" in text):
                reason += f" (does it speak TLS? for a plain server use {t.protocol}://)"
            elif not t.tls and "socket closed" in text:
                reason += f" (does it speak TLS? then use {t.protocol}s://)"
            if opening:
                return InputError(f"cannot reach {where}: {reason}")
            return RunError(f"{server} went away while running {self._model_label()}: {reason}")
        line = f"{server} could not {what} {self._model_label()}: {message}"
        return InputError(line) if opening else RunError(line)

    # -- the rest ---------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        info = super().describe()
        dynamic = "dynamic_batching" in self.config
        info.update(
            model=self.target.url,
            device=f"Triton {self.server_version} at {self.target.address}".replace("Triton  at", "Triton at"),
            server=self.target.server,
            protocol=self.target.protocol,
            tls=self.target.tls,
            model_name=self.target.model,
            model_version=self.target.version or (self.versions[-1] if self.versions else ""),
            platform=self.platform,
            **{MAX_BATCH_FIELD: self.max_batch},
            dynamic_batching=dynamic,
            shared_memory=self.shm,
            shared_memory_note=self.shm_note,
            timeout_s=self.options.timeout_s,
            headers=sorted(self._headers()),  # names only: the values are secrets
        )
        return info

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        client = self._client
        if client is not None:
            deadline = time.monotonic() + CLOSE_TIMEOUT_S
            for request in self._pending:  # requests nobody collected: let them end first
                client.cancel(request, max(0.0, deadline - time.monotonic()))
            self._pending = []
        self._drop_regions()
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        self._client = None


def config_metadata(config: Mapping[str, Any]) -> dict[str, str]:
    """The model config's parameters as Backend.metadata strings; class names given one per
    line (as a labels.txt holds them) become the JSON list names.parse_names reads."""
    metadata: dict[str, str] = {}
    parameters = config.get("parameters") or {}
    for key, value in parameters.items():
        text = value.get("string_value", "") if isinstance(value, Mapping) else str(value)
        metadata[str(key)] = str(text)
    for key in names.METADATA_KEYS:
        value = metadata.get(key, "")
        if "\n" in value.strip():
            metadata[key] = json.dumps(names.parse_names_text(value))
    return metadata


def open_triton(spec: str, input_size: tuple[int, int] | None = None) -> TritonBackend:
    target, options = parse_url(spec)
    return TritonBackend(target, options, input_size=input_size)


# -- `trt-viewer inspect grpc://...` ---------------------------------------------------------

def _tensor_info(tensor: Mapping[str, Any], mode: str) -> dict[str, Any]:
    datatype = str(tensor.get("datatype", ""))
    dtype = np.dtype(DTYPES[datatype]).name if datatype in DTYPES else datatype
    return {"name": str(tensor.get("name", "")), "mode": mode, "shape": [int(d) for d in tensor.get("shape", [])],
            "dtype": dtype}


def inspect_url(spec: str, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """What `trt-viewer inspect` shows for a model on a Triton server: the server's metadata
    and config, and what trt_viewer makes of them (input size, layout, classes)."""
    target, options = parse_url(spec)
    options.shm = "off"  # inspecting runs nothing
    backend = TritonBackend(target, options, input_size=input_size)
    try:
        config = backend.config
        report: dict[str, Any] = {
            "file": target.url,
            "kind": "triton",
            "server": target.server,
            "server_version": backend.server_version,
            "platform": backend.platform,
            "versions": backend.versions,
            MAX_BATCH_FIELD: backend.max_batch,
            "dynamic_batching": "dynamic_batching" in config,
            "instance_groups": [{"kind": str(g.get("kind", "")), "count": int(g.get("count", 1))}
                                for g in config.get("instance_group", [])],
            "inputs": [_tensor_info(t, "input") for t in backend.model_metadata.get("inputs", [])],
            "outputs": [_tensor_info(t, "output") for t in backend.model_metadata.get("outputs", [])],
            "input_size": list(backend.input_hw),
            "metadata": {k: v for k, v in backend.metadata.items() if k not in INTERNAL_PARAMETERS},
        }
        try:
            post = layouts.Postprocessor(backend.outputs, backend.input_hw)
            report["layout"] = post.layout or "raw or decoded (settled from the first frame's values)"
        except TrtViewerError as exc:
            report["layout"] = f"none: {exc}"
        count = layouts.num_classes(backend.outputs)
        class_names, source = names.resolve_names(None, backend.metadata,
                                                  backend.class_count_hint if count is None else count)
        if source.startswith("model metadata"):
            source = source.replace("model metadata", "model config parameter")
        report["classes"] = {"count": len(class_names), "source": source, "names": class_names}
    finally:
        backend.close()
    return report


def format_report(r: Mapping[str, Any]) -> str:
    def shape(dims: list[int]) -> str:
        return "[" + ", ".join("?" if d < 0 else str(d) for d in dims) + "]"

    server = f"Triton {r['server_version']}" if r.get("server_version") else "Triton"
    lines = [f"{r['file']}: model on a {server} server"]
    lines.append(f"  platform:       {r['platform'] or 'unknown'}")
    lines.append(f"  versions:       {', '.join(r['versions']) or 'unknown'}")
    if r[MAX_BATCH_FIELD]:
        batching = f"up to {r[MAX_BATCH_FIELD]} per batch" + (", dynamic batching" if r["dynamic_batching"] else "")
    else:
        batching = f"none ({MAX_BATCH_FIELD} 0)"
    lines.append(f"  batching:       {batching}")
    groups = ", ".join(f"{g['count']} x {g['kind']}" for g in r.get("instance_groups", []))
    if groups:
        lines.append(f"  instances:      {groups}")
    lines.append("  inputs:")
    lines += [f"    {t['name']}  {shape(t['shape'])}  {t['dtype']}" for t in r["inputs"]]
    lines.append("  outputs:")
    lines += [f"    {t['name']}  {shape(t['shape'])}  {t['dtype']}" for t in r["outputs"]]
    lines.append(f"  input size:     {r['input_size'][0]}x{r['input_size'][1]}")
    lines.append(f"  layout:         {r['layout']}")
    classes = r.get("classes")
    if classes:
        lines.append(f"  classes:        {names.describe_classes(classes)}")
    for key, value in sorted(r.get("metadata", {}).items()):
        if key in names.METADATA_KEYS:
            continue
        lines.append(f"  parameter {key}: {value if len(value) <= 80 else value[:77] + '...'}")
    return "\n".join(lines)
