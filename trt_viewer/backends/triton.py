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

The URL lives in triton_url.py, shared memory in triton_shm.py, the two protocols in
triton_clients.py, and `trt-viewer inspect`'s report for a URL in triton_report.py.
"""


from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.backends.base import DEFAULT_INPUT_SIZE, Backend, HostInput, InputBuffer, Ticket, host_tensor
from trt_viewer.backends.triton_clients import (
    CLOSE_TIMEOUT_S,
    MAX_BATCH_FIELD,
    GrpcClient,
    HttpClient,
    Request,
    TritonClient,
    error_message,
    error_status,
    is_timeout,
    is_unreachable,
)
from trt_viewer.backends.triton_shm import SHM_DIR, SharedInput, ShmRegion
from trt_viewer.backends.triton_url import (
    DEFAULT_TOKEN_HEADER,
    GRPC_RESTRICTED_PREFIX,
    TOKEN_ENV,
    TritonOptions,
    TritonTarget,
    parse_url,
)
from trt_viewer.core import layouts, names
from trt_viewer.core.spec import Dim, TensorSpec
from trt_viewer.errors import InputError, RunError, TrtViewerError, first_line

__all__ = [
    "DTYPES",
    "TRITON_TYPES",
    "SharedInput",
    "ShmRegion",
    "TritonBackend",
    "TritonOptions",
    "TritonTarget",
    "config_metadata",
    "open_triton",
    "parse_url",
]

LOGGER = logging.getLogger(__name__)

# Triton's data types and numpy's; BF16 and BYTES have no place in a YOLOX model here.
DTYPES: dict[str, type[np.generic]] = {
    "FP32": np.float32, "FP16": np.float16, "FP64": np.float64, "UINT8": np.uint8, "INT8": np.int8,
    "INT16": np.int16, "UINT16": np.uint16, "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_,
}
TRITON_TYPES = {np.dtype(v).name: k for k, v in DTYPES.items()}


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
        self._pending: list[Request] = []
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
        self._client: TritonClient | None = None
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

    def _connect(self) -> TritonClient:
        try:
            if self.target.protocol == "grpc":
                client: TritonClient = GrpcClient(self.target, self.options, self._headers())
            else:
                client = HttpClient(self.target, self.options, self._headers())
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
    def client(self) -> TritonClient:
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
        request = Request(self._submitted % self.lanes)
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
        if not isinstance(ticket, Request):
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
        status = error_status(exc)
        message = self._mask(error_message(exc))
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
        if is_timeout(exc, status, text):
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
        if is_unreachable(exc, status, text):
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
