"""Triton model URLs: `grpc://HOST:8001/MODEL[/VERSION][?OPTIONS]` (grpcs, http, https) into
where the model is (TritonTarget) and how to reach it (TritonOptions: the query's options,
the secrets from the environment). The options and variables are listed in triton.py's
docstring and docs/triton.md."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from trt_viewer.errors import InputError

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
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
SECRET_QUERY_KEYS = {"token", "password", "access-token", "access_token", "auth", "authorization"}


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
