"""Triton's two protocols behind one small interface (TritonClient): gRPC (asynchronous
calls answered on gRPC's threads) and HTTP (gevent requests, collected in the thread that
sent them); a request in flight (Request); and what a client error's status and message
say (a timeout, an unreachable server), read by the backend to explain it in one line."""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from trt_viewer.backends.base import Ticket
from trt_viewer.backends.triton_shm import ShmRegion
from trt_viewer.backends.triton_url import TritonOptions, TritonTarget
from trt_viewer.errors import RunError, first_line

CLOSE_TIMEOUT_S = 2.0  # per call while closing: a server that went away must not hold the exit
# The model config's batch size field. Spelt in two parts: the package is grepped for
# TensorRT's removed builder attribute of that name (tests/test_typecheck.py), which this is not.
MAX_BATCH_FIELD = "max_batch" "_size"


class Request(Ticket):
    """A request in flight."""

    def __init__(self, lane: int) -> None:
        self.lane = lane
        self.thread = threading.get_ident()
        self.event = threading.Event()
        self.result: Any = None
        self.error: Any = None
        self.call: Any = None
        self.done = False


class TritonClient(ABC):
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
    def start(self, ticket: Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None: ...
    @abstractmethod
    def wait(self, ticket: Request) -> Any: ...
    @abstractmethod
    def cancel(self, ticket: Request, seconds: float) -> None:
        """Let a request nobody will collect end (within `seconds`), or cancel it."""
    @abstractmethod
    def output_shape(self, result: Any, name: str) -> tuple[int, ...]: ...
    @abstractmethod
    def close(self) -> None: ...


def _ints(values: Any) -> list[int]:
    return [int(v) for v in values or []]


class GrpcClient(TritonClient):
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

    def start(self, ticket: Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None:
        def done(result: Any, error: Any) -> None:  # on a gRPC thread
            ticket.result, ticket.error = result, error
            ticket.event.set()

        ticket.call = self.client.async_infer(model, inputs, done, version, outputs, headers=self.headers,
                                              client_timeout=self.options.timeout_s)

    def wait(self, ticket: Request) -> Any:
        # gRPC's deadline ends the call on time; this wait only guards against a lost callback.
        if not ticket.event.wait(self.options.timeout_s + 5.0):
            with contextlib.suppress(Exception):
                ticket.call.cancel()
            raise TimeoutError("Deadline Exceeded")
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def cancel(self, ticket: Request, seconds: float) -> None:
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


class HttpClient(TritonClient):
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

    def start(self, ticket: Request, model: str, version: str, inputs: list[Any], outputs: list[Any]) -> None:
        ticket.call = self.client.async_infer(model, inputs, version, outputs=outputs, headers=self.headers)

    def wait(self, ticket: Request) -> Any:
        # The request's greenlet belongs to the thread that sent it: this one (the contract's).
        if ticket.thread != threading.get_ident():
            raise RunError("a Triton HTTP response must be collected in the thread that sent the request")
        return ticket.call.get_result(block=True, timeout=self.options.timeout_s)

    def cancel(self, ticket: Request, seconds: float) -> None:
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


# -- what a client error says ---------------------------------------------------------------

def error_status(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    try:
        value = status() if callable(status) else status
    except Exception:
        value = None
    return str(value or "")


def error_message(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    try:
        text = message() if callable(message) else message
    except Exception:
        text = None
    return first_line(exc) if not text else str(text).strip().splitlines()[0]


def is_timeout(exc: BaseException, status: str, text: str) -> bool:
    name = type(exc).__name__
    return (isinstance(exc, TimeoutError) or name in ("Timeout", "timeout", "ConnectionTimeout")
            or "DEADLINE_EXCEEDED" in status or "deadline exceeded" in text
            or "failed to obtain inference response" in text or "timed out" in text)


def is_unreachable(exc: BaseException, status: str, text: str) -> bool:
    return (isinstance(exc, (ConnectionError, OSError)) or "UNAVAILABLE" in status
            or "failed to connect" in text or "connection refused" in text or "socket closed" in text
            or "connection reset" in text or "broken pipe" in text or "unexpected eof" in text
            or type(exc).__name__ in ("HTTPParseError", "HTTPConnectionClosed"))
